//! Fuzz logic, run by `fuzz/` targets and by proptest in `cargo test`. Not a stable API.

use bytes::{Bytes, BytesMut};

use crate::{Decoder, Encoder, HeaderField, HuffmanPolicy, Representation};

/// Feeds `data` to a decoder as two header blocks (split where the first byte says) and,
/// when they decode, checks that re-encoding and decoding the fields gives them back.
/// Must never panic except on a real bug.
pub fn hpack_decode(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let split = usize::from(first).min(rest.len());
    let mut decoder = Decoder::new();
    decoder.set_max_header_list_size(1 << 12);
    let mut encoder = Encoder::new();
    let mut check = Decoder::new();
    for block in [&rest[..split], &rest[split..]] {
        let mut out = Vec::new();
        let result = decoder.decode(&Bytes::copy_from_slice(block), &mut out);
        assert!(decoder.table_size() <= decoder.table_capacity());
        match result {
            Ok(()) => {
                let mut dst = BytesMut::new();
                encoder.encode(&out, &mut dst);
                let mut again = Vec::new();
                check
                    .decode(&dst.freeze(), &mut again)
                    .expect("our own encoding decodes");
                assert_eq!(again.len(), out.len());
                for (a, b) in again.iter().zip(&out) {
                    assert_eq!((&a.name, &a.value), (&b.name, &b.value));
                    if b.repr == Representation::NeverIndexed {
                        assert_eq!(a.repr, Representation::NeverIndexed);
                    }
                }
            }
            Err(e) if e.is_limit() => assert!(out.is_empty()),
            Err(_) => return,
        }
    }
}

const NAMES: [&[u8]; 8] = [
    b":path",
    b"cookie",
    b"authorization",
    b"x-custom",
    b"user-agent",
    b"date",
    b"",
    b"content-length",
];

/// Builds header lists from `data`, encodes them with one encoder (table size and Huffman
/// policy from the first byte, a table size change in the middle), decodes them with one
/// decoder, and checks fields, never-indexed representations and table sizes.
pub fn hpack_roundtrip(data: &[u8]) {
    let Some((&first, mut rest)) = data.split_first() else {
        return;
    };
    let table_size = [0usize, 64, 256, 4096][usize::from(first & 3)];
    let policy = [
        HuffmanPolicy::OnlyIfShorter,
        HuffmanPolicy::Always,
        HuffmanPolicy::Never,
        HuffmanPolicy::OnlyIfShorter,
    ][usize::from((first >> 2) & 3)];
    let mut encoder = Encoder::new();
    encoder.set_huffman(policy);
    let mut decoder = Decoder::new();
    // The lists built here are unbounded in count (a 4 KiB input holds thousands of empty
    // fields at 32 bytes of RFC 7541 overhead each); this target checks the codec round trip,
    // not the header list limit, which `hpack_decode` and the error tests cover.
    decoder.set_max_header_list_size(usize::MAX);
    let mut lists: Vec<Vec<HeaderField>> = vec![Vec::new()];
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        if b == 0xff {
            lists.push(Vec::new());
            continue;
        }
        let len = usize::from(b >> 3).min(rest.len());
        let (value, tail) = rest.split_at(len);
        rest = tail;
        let name = NAMES[usize::from(b & 7)];
        let repr = match b % 5 {
            0 => Representation::NeverIndexed,
            1 => Representation::WithoutIndexing,
            _ => Representation::IncrementalIndexing,
        };
        if let Some(list) = lists.last_mut() {
            list.push(HeaderField::new(name, Bytes::copy_from_slice(value)).with_repr(repr));
        }
    }
    for (i, list) in lists.iter().enumerate() {
        if i == 1 {
            // The peer changes its SETTINGS_HEADER_TABLE_SIZE; we apply it on both sides.
            decoder.set_max_table_size(table_size);
            encoder.set_max_table_size(table_size);
        }
        let mut dst = BytesMut::new();
        encoder.encode(list, &mut dst);
        let mut out = Vec::new();
        decoder
            .decode(&dst.freeze(), &mut out)
            .expect("our own encoding decodes");
        assert_eq!(out.len(), list.len());
        for (got, want) in out.iter().zip(list) {
            assert_eq!((&got.name, &got.value), (&want.name, &want.value));
            if want.repr == Representation::NeverIndexed {
                assert_eq!(got.repr, Representation::NeverIndexed);
            }
        }
        assert_eq!(decoder.table_size(), encoder.table_size());
        assert_eq!(decoder.table_capacity(), encoder.table_capacity());
    }
}
