//! HPACK encode and decode, h2kit-hpack against the `hpack` and `loona-hpack` crates.
//!
//! Throughput is MB/s of *plain* header bytes (sum of name and value lengths):
//! - encode: every `raw-data` story of hpack-test-case, one encoder per story;
//! - decode: every `nghttp2` story's wire bytes (the same Huffman-coded input for every
//!   decoder), one decoder per story.
//!
//! It also prints the total encoded size of `raw-data` for each encoder.
//! Run: `cargo bench -p h2kit-bench --bench hpack`.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::borrow::Cow;
use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use h2kit_bench::corpus::{Story, load, plain_size};

fn encode_ours(stories: &[Story]) -> usize {
    let mut total = 0;
    let mut dst = BytesMut::with_capacity(64 * 1024);
    for story in stories {
        let mut enc = h2kit_hpack::Encoder::new();
        for (_, headers) in &story.cases {
            dst.clear();
            enc.encode(headers.iter().map(|(n, v)| (n, v)), &mut dst);
            total += dst.len();
        }
    }
    total
}

fn encode_hpack(stories: &[Story]) -> usize {
    let mut total = 0;
    let mut dst = Vec::with_capacity(64 * 1024);
    for story in stories {
        let mut enc = hpack::Encoder::new();
        for (_, headers) in &story.cases {
            dst.clear();
            enc.encode_into(headers.iter().map(|(n, v)| (&n[..], &v[..])), &mut dst)
                .expect("encode");
            total += dst.len();
        }
    }
    total
}

fn encode_loona(stories: &[Story]) -> usize {
    let mut total = 0;
    let mut dst = Vec::with_capacity(64 * 1024);
    for story in stories {
        let mut enc = loona_hpack::Encoder::new();
        for (_, headers) in &story.cases {
            dst.clear();
            enc.encode_into(headers.iter().map(|(n, v)| (&n[..], &v[..])), &mut dst)
                .expect("encode");
            total += dst.len();
        }
    }
    total
}

fn wires(story: &Story) -> impl Iterator<Item = &Bytes> {
    story.cases.iter().filter_map(|(w, _)| w.as_ref())
}

fn decode_ours(stories: &[Story]) -> usize {
    let mut total = 0;
    let mut out = Vec::with_capacity(64);
    for story in stories {
        let mut dec = h2kit_hpack::Decoder::new();
        for wire in wires(story) {
            out.clear();
            dec.decode(wire, &mut out).expect("decode");
            total += out
                .iter()
                .map(|f| f.name.len() + f.value.len())
                .sum::<usize>();
        }
    }
    total
}

fn decode_hpack(stories: &[Story]) -> usize {
    let mut total = 0;
    for story in stories {
        let mut dec = hpack::Decoder::new();
        for wire in wires(story) {
            dec.decode_with_cb(wire, |n: Cow<[u8]>, v: Cow<[u8]>| {
                total += n.len() + v.len()
            })
            .expect("decode");
        }
    }
    total
}

fn decode_loona(stories: &[Story]) -> usize {
    let mut total = 0;
    for story in stories {
        let mut dec = loona_hpack::Decoder::new();
        for wire in wires(story) {
            dec.decode_with_cb(wire, |n: Cow<[u8]>, v: Cow<[u8]>| {
                total += n.len() + v.len()
            })
            .expect("decode");
        }
    }
    total
}

fn benches(c: &mut Criterion) {
    let raw = load("raw-data");
    let raw_plain = plain_size(&raw);
    println!(
        "raw-data: {raw_plain} plain bytes; encoded: h2kit-hpack {}, hpack {}, loona-hpack {}",
        encode_ours(&raw),
        encode_hpack(&raw),
        encode_loona(&raw)
    );

    let mut group = c.benchmark_group("hpack-encode-raw-data");
    group.throughput(Throughput::Bytes(raw_plain));
    group.bench_function("h2kit-hpack", |b| b.iter(|| encode_ours(black_box(&raw))));
    group.bench_function("hpack", |b| b.iter(|| encode_hpack(black_box(&raw))));
    group.bench_function("loona-hpack", |b| b.iter(|| encode_loona(black_box(&raw))));
    group.finish();

    let wire = load("nghttp2");
    let wire_plain = plain_size(&wire);
    // Every decoder must decode the whole folder before its speed means anything.
    assert_eq!(decode_ours(&wire) as u64, wire_plain);
    assert_eq!(decode_hpack(&wire) as u64, wire_plain);
    assert_eq!(decode_loona(&wire) as u64, wire_plain);

    let mut group = c.benchmark_group("hpack-decode-nghttp2");
    group.throughput(Throughput::Bytes(wire_plain));
    group.bench_function("h2kit-hpack", |b| b.iter(|| decode_ours(black_box(&wire))));
    // `hpack` and `loona-hpack` rebuild their Huffman decoder for every string (about
    // 3 MB/s): few samples, so that the bench finishes.
    group.sample_size(10);
    group.sampling_mode(SamplingMode::Flat);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("loona-hpack", |b| b.iter(|| decode_loona(black_box(&wire))));
    group.bench_function("hpack", |b| b.iter(|| decode_hpack(black_box(&wire))));
    group.finish();
}

criterion_group!(hpack_benches, benches);
criterion_main!(hpack_benches);
