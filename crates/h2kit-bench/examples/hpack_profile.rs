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

use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};

type Headers = Vec<(Vec<u8>, Vec<u8>)>;
/// One story: each case's wire bytes (if any) and headers.
type Story = Vec<(Option<Bytes>, Headers)>;

fn corpus() -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/hpack-test-case"
    ))
    .to_path_buf()
}

fn unhex(s: &str) -> Bytes {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect::<Vec<u8>>()
        .into()
}

/// Every story of `folder`, in name order: each case's wire bytes (if any) and headers.
fn load(folder: &str) -> Vec<Story> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus().join(folder))
        .expect("corpus folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let json: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(p).expect("read")).expect("json");
            json["cases"]
                .as_array()
                .expect("cases")
                .iter()
                .map(|c| {
                    let headers = c["headers"]
                        .as_array()
                        .expect("headers")
                        .iter()
                        .flat_map(|h| h.as_object().expect("object").iter())
                        .map(|(k, v)| {
                            let v = v.as_str().expect("str");
                            (k.as_bytes().to_vec(), v.as_bytes().to_vec())
                        })
                        .collect();
                    (c["wire"].as_str().map(unhex), headers)
                })
                .collect()
        })
        .collect()
}

#[inline(never)]
fn run_encode(stories: &[Story], n: usize) -> usize {
    let mut total = 0;
    let mut dst = BytesMut::with_capacity(64 * 1024);
    for _ in 0..n {
        total = 0;
        for story in stories {
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
        for story in stories {
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
        let plain = 1_162_372.0;
        let (folder, run): (_, fn(&[Story], usize) -> usize) = if mode == "encode" {
            ("raw-data", run_encode)
        } else {
            ("nghttp2", run_decode)
        };
        let stories = load(folder);
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
