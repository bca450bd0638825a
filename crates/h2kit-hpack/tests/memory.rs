//! Heap bytes held by an encoder/decoder pair, counted with a counting global allocator.
//!
//! An idle HTTP/2 connection holds one encoder and one decoder; h2kit's target is at most
//! 7 KiB of heap per idle connection in all, so HPACK must allocate nothing until used and
//! grow with what its tables actually hold.

use std::alloc::System;

use bytes::BytesMut;
use h2kit_hpack::{Decoder, Encoder, HeaderField};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes allocated and not freed since `region` began.
fn live(region: &Region<'_, System>) -> isize {
    let s = region.change();
    s.bytes_allocated as isize - s.bytes_deallocated as isize + s.bytes_reallocated
}

fn request() -> Vec<HeaderField> {
    vec![
        HeaderField::new(":method", "GET"),
        HeaderField::new(":scheme", "https"),
        HeaderField::new(":path", "/index.html"),
        HeaderField::new(":authority", "www.example.com"),
        HeaderField::new(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        ),
        HeaderField::new("accept", "text/html,application/xhtml+xml"),
        HeaderField::new("accept-encoding", "gzip, deflate, br"),
        HeaderField::new("accept-language", "en-US,en;q=0.5"),
    ]
}

fn response() -> Vec<HeaderField> {
    vec![
        HeaderField::new(":status", "200"),
        HeaderField::new("content-type", "text/html; charset=utf-8"),
        HeaderField::new("content-length", "1234"),
        HeaderField::new("date", "Mon, 23 Nov 2026 12:00:00 GMT"),
        HeaderField::new("server", "h2kit"),
    ]
}

/// One side of a connection (its encoder and decoder) after `rounds` request/response
/// exchanges: the peer's encoder and decoder are built outside the measured region.
/// Returns the bytes held by both, by the encoder, and by the decoder.
fn held_after(rounds: usize) -> (isize, isize, isize) {
    let mut peer_enc = Encoder::new();
    let mut peer_dec = Decoder::new();
    let mut block = BytesMut::with_capacity(1024);
    let mut fields = Vec::with_capacity(16);
    let blocks: Vec<_> = (0..rounds)
        .map(|_| {
            block.clear();
            peer_enc.encode(request(), &mut block);
            block.clone().freeze()
        })
        .collect();
    let response = response();

    let mut responses = Vec::with_capacity(rounds);
    let mut out = BytesMut::with_capacity(rounds * 1024);

    let region = Region::new(GLOBAL);
    let mut enc = Encoder::new();
    let mut dec = Decoder::new();
    for wire in &blocks {
        fields.clear();
        dec.decode(wire, &mut fields).expect("decodes");
        assert_eq!(fields, request());
        enc.encode(&response, &mut out);
        responses.push(out.split().freeze());
    }
    fields.clear();
    // Each one's share is what dropping it gives back.
    let before = live(&region);
    drop(enc);
    let after_enc = live(&region);
    drop(dec);
    let (encoder, decoder) = (before - after_enc, after_enc - live(&region));

    // What the encoder wrote decodes to the response.
    for wire in &responses {
        fields.clear();
        peer_dec.decode(wire, &mut fields).expect("decodes");
        assert_eq!(fields, response);
    }
    (encoder + decoder, encoder, decoder)
}

/// The allocator's counts are global, and the test harness frees memory on its own threads
/// when a test ends (2 runs in 5 once saw "-24 bytes" here): so this binary has one test,
/// which makes the measurements one after another.
#[test]
fn heap_held_by_encoder_and_decoder() {
    fresh_pair_allocates_nothing();
    pair_after_small_requests_stays_small();
    smaller_table_gives_memory_back();
}

fn fresh_pair_allocates_nothing() {
    // Warm up anything lazy (the hash seed's thread-local) outside the region.
    drop(Encoder::new());
    let region = Region::new(GLOBAL);
    let enc = Encoder::new();
    let dec = Decoder::new();
    let held = live(&region);
    let stats = region.change();
    drop((enc, dec));
    println!(
        "fresh encoder + decoder: {held} bytes, {} allocations",
        stats.allocations
    );
    assert_eq!(held, 0, "a fresh pair holds {held} heap bytes");
}

fn pair_after_small_requests_stays_small() {
    drop(Encoder::new());
    for rounds in [1, 10] {
        let (held, enc, dec) = held_after(rounds);
        println!("after {rounds} requests: {held} bytes (encoder {enc}, decoder {dec})");
        // The tables hold 8 + 5 short entries (about 300 bytes of names and values): what
        // is held must be of that order, not a full table's worth of indexes and arenas.
        assert!(
            held <= 2048,
            "after {rounds} requests the pair holds {held} bytes"
        );
    }
}

/// Heap bytes given back by dropping an encoder and a decoder that saw 50 blocks of 20
/// fields, after a size update to 0 when `shrink`.
fn held_by_busy_pair(shrink: bool) -> isize {
    let mut enc = Encoder::new();
    let mut dec = Decoder::new();
    let mut block = BytesMut::new();
    let mut fields = Vec::new();
    let fields_of = |i: usize| {
        (0..20)
            .map(|j| HeaderField::new(format!("x-field-{j}"), format!("value {i} {j}")))
            .collect::<Vec<_>>()
    };
    for i in 0..50 {
        block.clear();
        enc.encode(fields_of(i % 5), &mut block);
        fields.clear();
        dec.decode(&block.clone().freeze(), &mut fields)
            .expect("decodes");
    }
    assert!(enc.table_len() > 20 && dec.table_len() > 20);
    if shrink {
        // The peer allows no table: both sides empty theirs.
        enc.set_max_table_size(0);
        block.clear();
        enc.encode(fields_of(0), &mut block);
        dec.decode(&block.clone().freeze(), &mut fields)
            .expect("decodes");
        assert_eq!((enc.table_len(), dec.table_len()), (0, 0));
    }
    fields.clear();
    let region = Region::new(GLOBAL);
    drop((enc, dec));
    -live(&region)
}

fn smaller_table_gives_memory_back() {
    let full = held_by_busy_pair(false);
    let empty = held_by_busy_pair(true);
    println!("full tables: {full} bytes, after a size update to 0: {empty} bytes");
    assert!(empty < full / 4, "full {full}, after shrinking {empty}");
}
