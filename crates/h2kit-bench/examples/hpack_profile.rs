//! A fixed HPACK workload for instruction counting (valgrind/callgrind), not timing.
//!
//! `hpack_profile [encode|decode|both] [N]` encodes every `raw-data` story and/or decodes
//! every `nghttp2` story's wire bytes N times (default 5) with h2kit-hpack. Only
//! `run_encode`/`run_decode` matter; count them with e.g.
//!
//! `hpack_profile [encode|decode] N min` times each of the N passes and prints the fastest
//! (MB/s of plain header bytes): on a shared machine, the least disturbed pass.
//!
//! ```text
//! valgrind --tool=callgrind --collect-atstart=no \
//!   --toggle-collect='hpack_profile::run_*' target/release/examples/hpack_profile both 5
//! ```

use bytes::BytesMut;
use h2kit_bench::corpus::{Story, load, plain_size};

#[inline(never)]
fn run_encode(stories: &[Story], n: usize) -> usize {
    let mut total = 0;
    let mut dst = BytesMut::with_capacity(64 * 1024);
    for _ in 0..n {
        total = 0;
        for story in stories.iter().map(|s| &s.cases) {
            let mut enc = h2kit_hpack::Encoder::new();
            for (_, headers) in story {
                dst.clear();
                enc.encode(headers.iter().map(|(n, v)| (n, v)), &mut dst);
                total += dst.len();
            }
        }
    }
    total
}

#[inline(never)]
fn run_decode(stories: &[Story], n: usize) -> usize {
    let mut total = 0;
    let mut out = Vec::with_capacity(64);
    for _ in 0..n {
        total = 0;
        for story in stories.iter().map(|s| &s.cases) {
            let mut dec = h2kit_hpack::Decoder::new();
            for wire in story.iter().filter_map(|(w, _)| w.as_ref()) {
                out.clear();
                dec.decode(wire, &mut out).expect("decode");
                total += out
                    .iter()
                    .map(|f| f.name.len() + f.value.len())
                    .sum::<usize>();
            }
        }
    }
    total
}

/// The fastest of `n` passes of `pass`, in seconds.
fn fastest(n: usize, mut pass: impl FnMut() -> usize) -> f64 {
    (0..n)
        .map(|_| {
            let t = std::time::Instant::now();
            std::hint::black_box(pass());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "both".into());
    let n: usize = args.next().map_or(5, |s| s.parse().expect("N"));
    if args.next().as_deref() == Some("min") {
        let (folder, run): (_, fn(&[Story], usize) -> usize) = if mode == "encode" {
            ("raw-data", run_encode)
        } else {
            ("nghttp2", run_decode)
        };
        let stories = load(folder);
        let plain = plain_size(&stories) as f64;
        let best = fastest(n, || run(&stories, 1));
        println!(
            "{mode}: fastest of {n} passes {:.3} ms, {:.0} MB/s, {:.0} MiB/s",
            best * 1e3,
            plain / best / 1e6,
            plain / best / (1024.0 * 1024.0)
        );
        return;
    }
    if mode == "encode" || mode == "both" {
        let raw = load("raw-data");
        let size = run_encode(std::hint::black_box(&raw), n);
        println!("encode: raw-data {size} bytes");
    }
    if mode == "decode" || mode == "both" {
        let wire = load("nghttp2");
        let plain = run_decode(std::hint::black_box(&wire), n);
        println!("decode: nghttp2 {plain} plain bytes");
    }
}
