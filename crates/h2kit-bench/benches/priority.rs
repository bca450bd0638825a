//! Cost of picking the next stream, for h2kit-priority's schedulers and two baselines.
//!
//! `pick/*`: one `next()` with N active streams. Baselines: a `VecDeque` pop and push (plain
//! round robin) and a `BinaryHeap` weighted pick (pop the lowest pass, advance it by
//! `256 / weight`, push). Targets (issue 4): the RFC 9218 scheduler within 2x the `VecDeque`
//! per pick; the tree no slower than the `BinaryHeap` pick at every size.
//!
//! `pick_block_unblock/*`: `next()`, then `block` and `unblock` of the stream picked, as the
//! connection core does when a stream runs out of data or window and gets more.
//!
//! Every routine does the same bookkeeping around the pick and hands criterion one `u32`
//! through `black_box` (a stream id, 0 for none), so the baselines and the schedulers pay
//! the same measurement overhead. Black-boxing an `Option<u32>` or a `Result` instead goes
//! through the stack as two narrow stores and one wide load, a store-forwarding stall that
//! cost about 4 ns per pick here and dwarfed `next` itself. The headline `pick/*` figures
//! compare concrete types (everything inlined, like the `VecDeque`); `*_dyn` rows call the
//! same schedulers through `Box<dyn Scheduler>`, as the connection core does.
//!
//! Run: `cargo bench -p h2kit-bench --bench priority`.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use h2kit_priority::{
    ExtensiblePriority, ExtensibleScheduler, PrioritySignal, PriorityTree, RoundRobin, Scheduler,
    TreePriority, Urgency,
};

type MakeDyn = fn(u32) -> Box<dyn Scheduler>;

const SIZES: [u32; 3] = [10, 100, 1000];

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
            .unwrap();
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
        s.insert(stream_id(i), p).unwrap();
    }
    s
}

fn round_robin(n: u32) -> RoundRobin {
    let mut s = RoundRobin::with_max_streams(n as usize);
    for i in 0..n {
        s.insert(stream_id(i), PrioritySignal::NONE).unwrap();
    }
    s
}

fn vecdeque(n: u32) -> VecDeque<u32> {
    (0..n).map(stream_id).collect()
}

fn binary_heap(n: u32) -> BinaryHeap<Reverse<(u64, u32, u16)>> {
    (0..n)
        .map(|i| Reverse((0, stream_id(i), weight(i))))
        .collect()
}

fn pick(c: &mut Criterion) {
    let mut g = c.benchmark_group("pick");
    for n in SIZES {
        g.bench_with_input(BenchmarkId::new("vecdeque_baseline", n), &n, |b, &n| {
            let mut q = vecdeque(n);
            b.iter(|| {
                let id = q.pop_front().unwrap_or(0);
                q.push_back(id);
                black_box(id)
            })
        });
        g.bench_with_input(BenchmarkId::new("binaryheap_baseline", n), &n, |b, &n| {
            let mut h = binary_heap(n);
            b.iter(|| {
                let Some(Reverse((pass, id, w))) = h.pop() else {
                    return 0;
                };
                h.push(Reverse((pass + 256 / u64::from(w), id, w)));
                black_box(id)
            })
        });
        g.bench_with_input(BenchmarkId::new("round_robin", n), &n, |b, &n| {
            let mut s = round_robin(n);
            b.iter(|| black_box(s.next().unwrap_or(0)))
        });
        g.bench_with_input(BenchmarkId::new("rfc9218", n), &n, |b, &n| {
            let mut s = extensible(n);
            b.iter(|| black_box(s.next().unwrap_or(0)))
        });
        g.bench_with_input(BenchmarkId::new("tree", n), &n, |b, &n| {
            let mut t = tree(n);
            b.iter(|| black_box(t.next().unwrap_or(0)))
        });
        g.bench_with_input(BenchmarkId::new("tree_nested", n), &n, |b, &n| {
            // Two levels: sqrt(n) blocked groups, each with its share of the streams.
            let groups = (n as f64).sqrt() as u32;
            let mut t = PriorityTree::with_max_streams((n + groups) as usize);
            for g in 0..groups {
                let gid = 100_000 + 2 * g + 1;
                t.insert_stream(gid, None, weight(g), false).unwrap();
                t.block(gid).unwrap();
            }
            for i in 0..n {
                let gid = 100_000 + 2 * (i % groups) + 1;
                t.insert_stream(stream_id(i), Some(gid), weight(i), false)
                    .unwrap();
            }
            b.iter(|| black_box(t.next().unwrap_or(0)))
        });
        for (name, make) in dyn_schedulers() {
            g.bench_with_input(BenchmarkId::new(format!("{name}_dyn"), n), &n, |b, &n| {
                let mut s = make(n);
                b.iter(|| black_box(s.next().unwrap_or(0)))
            });
        }
    }
    g.finish();
}

fn dyn_schedulers() -> [(&'static str, MakeDyn); 3] {
    [
        ("round_robin", |n| Box::new(round_robin(n))),
        ("rfc9218", |n| Box::new(extensible(n))),
        ("tree", |n| Box::new(tree(n))),
    ]
}

/// `next()`, then `block` and `unblock` of the stream picked.
fn next_block_unblock<S: Scheduler + ?Sized>(s: &mut S) -> u32 {
    let id = s.next().unwrap_or(1);
    s.block(id).unwrap();
    s.unblock(id).unwrap();
    id
}

fn pick_block_unblock(c: &mut Criterion) {
    let mut g = c.benchmark_group("pick_block_unblock");
    for n in SIZES {
        g.bench_with_input(BenchmarkId::new("round_robin", n), &n, |b, &n| {
            let mut s = round_robin(n);
            b.iter(|| black_box(next_block_unblock(&mut s)))
        });
        g.bench_with_input(BenchmarkId::new("rfc9218", n), &n, |b, &n| {
            let mut s = extensible(n);
            b.iter(|| black_box(next_block_unblock(&mut s)))
        });
        g.bench_with_input(BenchmarkId::new("tree", n), &n, |b, &n| {
            let mut t = tree(n);
            b.iter(|| black_box(next_block_unblock(&mut t)))
        });
        for (name, make) in dyn_schedulers() {
            g.bench_with_input(BenchmarkId::new(format!("{name}_dyn"), n), &n, |b, &n| {
                let mut s = make(n);
                b.iter(|| black_box(next_block_unblock(&mut *s)))
            });
        }
        g.bench_with_input(BenchmarkId::new("tree_reprioritize", n), &n, |b, &n| {
            let mut t = tree(n);
            let mut i = 0u32;
            b.iter(|| {
                i = (i + 1) % n;
                let p = TreePriority::from_wire(0, (i % 256) as u8, false);
                t.reprioritize(stream_id(i), None, p.weight, false).unwrap();
                black_box(t.next().unwrap_or(0))
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(800));
    targets = pick, pick_block_unblock
}
criterion_main!(benches);
