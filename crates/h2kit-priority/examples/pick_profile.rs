//! A repeatable workload for instruction-count profiling (`valgrind --tool=callgrind`) of the
//! schedulers' hot paths, with the same setup as `benches/priority.rs` in h2kit-bench.
//!
//! ```text
//! cargo build --release -p h2kit-priority --example pick_profile
//! valgrind --tool=callgrind target/release/examples/pick_profile tree 1000 100000
//! target/release/examples/pick_profile trace 0 0   # digest of pick sequences
//! ```
//!
//! Workloads: `vecdeque`, `binaryheap`, `rr`, `rfc9218`, `tree`, `tree_nested` (one `next()`
//! per iteration) and `rr_bu`, `rfc9218_bu`, `tree_bu` (`next()`, then `block` and `unblock`
//! of the stream picked). `trace` runs a fixed pseudo-random sequence of operations on every
//! scheduler and prints a digest of the results, to check that an optimisation changed no
//! pick.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::hint::black_box;

use h2kit_priority::{
    ExtensiblePriority, ExtensibleScheduler, PrioritySignal, PriorityTree, RoundRobin, Scheduler,
    TreePriority, Urgency,
};

fn weight(i: u32) -> u16 {
    (i * 37 % 256 + 1) as u16
}

fn stream_id(i: u32) -> u32 {
    2 * i + 1
}

fn tree(n: u32) -> PriorityTree {
    let mut t = PriorityTree::with_max_streams(n as usize);
    for i in 0..n {
        t.insert_stream(stream_id(i), None, weight(i), false)
            .expect("insert");
    }
    t
}

fn tree_nested(n: u32) -> PriorityTree {
    let groups = ((n as f64).sqrt() as u32).max(1);
    let mut t = PriorityTree::with_max_streams((n + groups) as usize);
    for g in 0..groups {
        let gid = 100_000 + 2 * g + 1;
        t.insert_stream(gid, None, weight(g), false)
            .expect("insert");
        t.block(gid).expect("block");
    }
    for i in 0..n {
        let gid = 100_000 + 2 * (i % groups) + 1;
        t.insert_stream(stream_id(i), Some(gid), weight(i), false)
            .expect("insert");
    }
    t
}

fn extensible(n: u32) -> ExtensibleScheduler {
    let mut s = ExtensibleScheduler::with_max_streams(n as usize);
    let p = PrioritySignal::extensible(ExtensiblePriority {
        urgency: Urgency::DEFAULT,
        incremental: true,
    });
    for i in 0..n {
        s.insert(stream_id(i), p).expect("insert");
    }
    s
}

fn round_robin(n: u32) -> RoundRobin {
    let mut s = RoundRobin::with_max_streams(n as usize);
    for i in 0..n {
        s.insert(stream_id(i), PrioritySignal::NONE)
            .expect("insert");
    }
    s
}

#[inline(never)]
fn loop_next<S: Scheduler>(s: &mut S, iters: u64) -> u64 {
    let mut acc = 0u64;
    for _ in 0..iters {
        acc = acc.wrapping_add(u64::from(black_box(s.next().unwrap_or(0))));
    }
    acc
}

#[inline(never)]
fn loop_block_unblock<S: Scheduler>(s: &mut S, iters: u64) -> u64 {
    let mut acc = 0u64;
    for _ in 0..iters {
        let id = s.next().unwrap_or(1);
        s.block(id).expect("block");
        s.unblock(id).expect("unblock");
        acc = acc.wrapping_add(u64::from(black_box(id)));
    }
    acc
}

#[inline(never)]
fn loop_vecdeque(q: &mut VecDeque<u32>, iters: u64) -> u64 {
    let mut acc = 0u64;
    for _ in 0..iters {
        let id = q.pop_front().unwrap_or(0);
        q.push_back(id);
        acc = acc.wrapping_add(u64::from(black_box(id)));
    }
    acc
}

#[inline(never)]
fn loop_binaryheap(h: &mut BinaryHeap<Reverse<(u64, u32, u16)>>, iters: u64) -> u64 {
    let mut acc = 0u64;
    for _ in 0..iters {
        let Some(Reverse((pass, id, w))) = h.pop() else {
            return acc;
        };
        h.push(Reverse((pass + 256 / u64::from(w), id, w)));
        acc = acc.wrapping_add(u64::from(black_box(id)));
    }
    acc
}

/// xorshift64*, for a repeatable operation sequence without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// FNV-1a over the results of a fixed random operation sequence.
fn trace(s: &mut dyn Scheduler, seed: u64, ids: u64) -> u64 {
    let mut rng = Rng(seed);
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut mix = |v: u64| {
        for b in v.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
    };
    for _ in 0..200_000 {
        let id = rng.below(ids) as u32;
        let r = rng.below(100);
        let code = |r: Result<(), h2kit_priority::PriorityError>| match r {
            Ok(()) => 0,
            Err(e) => 1 + (format!("{e:?}").len() as u64),
        };
        let v = if r < 8 {
            let p = if rng.below(2) == 0 {
                PrioritySignal::extensible(ExtensiblePriority {
                    urgency: Urgency::new(rng.below(8) as u8).unwrap_or_default(),
                    incremental: rng.below(2) == 0,
                })
            } else {
                PrioritySignal::tree(TreePriority::from_wire(
                    rng.below(ids) as u32,
                    rng.below(256) as u8,
                    rng.below(4) == 0,
                ))
            };
            code(s.insert(id, p))
        } else if r < 11 {
            let p = PrioritySignal::tree(TreePriority::from_wire(
                rng.below(ids) as u32,
                rng.below(256) as u8,
                rng.below(4) == 0,
            ));
            let q = PrioritySignal::extensible(ExtensiblePriority {
                urgency: Urgency::new(rng.below(8) as u8).unwrap_or_default(),
                incremental: rng.below(2) == 0,
            });
            code(s.update(id, p)) * 7 + code(s.update(id, q))
        } else if r < 14 {
            code(s.remove(id))
        } else if r < 30 {
            code(s.block(id))
        } else if r < 46 {
            code(s.unblock(id))
        } else {
            u64::from(s.next().unwrap_or(u32::MAX))
        };
        mix(v);
    }
    mix(s.len() as u64);
    h
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let what = args.get(1).map(String::as_str).unwrap_or("tree");
    let n: u32 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(100);
    let iters: u64 = args
        .get(3)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let acc = match what {
        "vecdeque" => loop_vecdeque(&mut (0..n).map(stream_id).collect(), iters),
        "binaryheap" => loop_binaryheap(
            &mut (0..n)
                .map(|i| Reverse((0, stream_id(i), weight(i))))
                .collect(),
            iters,
        ),
        "rr" => loop_next(&mut round_robin(n), iters),
        "rfc9218" => loop_next(&mut extensible(n), iters),
        "tree" => loop_next(&mut tree(n), iters),
        "tree_nested" => loop_next(&mut tree_nested(n), iters),
        "rr_bu" => loop_block_unblock(&mut round_robin(n), iters),
        "rfc9218_bu" => loop_block_unblock(&mut extensible(n), iters),
        "tree_bu" => loop_block_unblock(&mut tree(n), iters),
        "trace" => {
            for ids in [8u64, 40, 300] {
                for seed in [1u64, 2, 3] {
                    let d = [
                        trace(&mut RoundRobin::with_max_streams(64), seed, ids),
                        trace(&mut ExtensibleScheduler::with_max_streams(64), seed, ids),
                        trace(&mut PriorityTree::with_max_streams(64), seed, ids),
                    ];
                    println!(
                        "ids={ids} seed={seed} rr={:016x} rfc9218={:016x} tree={:016x}",
                        d[0], d[1], d[2]
                    );
                }
            }
            0
        }
        other => {
            eprintln!("unknown workload {other}");
            std::process::exit(2);
        }
    };
    println!("{acc}");
}
