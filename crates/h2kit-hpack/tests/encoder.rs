//! Encoder behaviour: representations, sensitive defaults, size updates, Huffman policy.

use bytes::{Bytes, BytesMut};
use h2kit_hpack::{Decoder, Encoder, HeaderField, HuffmanPolicy, Representation};

fn round(
    encoder: &mut Encoder,
    decoder: &mut Decoder,
    fields: &[HeaderField],
) -> (Bytes, Vec<HeaderField>) {
    let mut dst = BytesMut::new();
    encoder.encode(fields, &mut dst);
    let wire = dst.freeze();
    let mut out = Vec::new();
    decoder.decode(&wire, &mut out).expect("decodes");
    (wire, out)
}

#[test]
fn never_indexed_survives_an_intermediary() {
    let (mut e1, mut d1, mut e2, mut d2) = (
        Encoder::new(),
        Decoder::new(),
        Encoder::new(),
        Decoder::new(),
    );
    let fields = [
        HeaderField::sensitive("x-token", "secret"),
        HeaderField::new("accept", "*/*"),
    ];
    let (_, hop1) = round(&mut e1, &mut d1, &fields);
    assert_eq!(hop1[0].repr, Representation::NeverIndexed);
    // The intermediary re-encodes what it decoded.
    let (_, hop2) = round(&mut e2, &mut d2, &hop1);
    assert_eq!(hop2[0].repr, Representation::NeverIndexed);
    assert_eq!(hop2[0].value, "secret");
    assert_ne!(hop2[1].repr, Representation::NeverIndexed);
    // Never-indexed fields never enter either table, even when repeated.
    let (_, again) = round(&mut e2, &mut d2, &hop1);
    assert_eq!(again[0].repr, Representation::NeverIndexed);
    assert_eq!(e2.table_len(), 1);
}

#[test]
fn authorization_and_short_cookies_are_not_indexed_by_default() {
    let mut e = Encoder::new();
    let mut d = Decoder::new();
    let fields = [
        HeaderField::new("authorization", "Basic dXNlcjpwYXNz"),
        HeaderField::new("cookie", "sid=12345"),
    ];
    let (_, out) = round(&mut e, &mut d, &fields);
    assert!(out.iter().all(|f| f.repr == Representation::NeverIndexed));
    assert_eq!(e.table_len(), 0);
    // A long cookie is indexed and then sent as one byte.
    let long = [HeaderField::new(
        "cookie",
        "preferences=dark-mode; lang=en-GB; tz=Europe/London",
    )];
    round(&mut e, &mut d, &long);
    assert_eq!(e.table_len(), 1);
    let (wire, _) = round(&mut e, &mut d, &long);
    assert_eq!(&wire[..], &[0xbe]);
}

#[test]
fn a_field_larger_than_the_table_is_not_indexed() {
    let mut e = Encoder::new();
    let mut d = Decoder::new();
    round(&mut e, &mut d, &[HeaderField::new("a", "b")]);
    assert_eq!(e.table_len(), 1);
    let big = HeaderField::new("x-big", "v".repeat(5000));
    let (_, out) = round(&mut e, &mut d, &[big]);
    assert_eq!(out[0].repr, Representation::WithoutIndexing);
    assert_eq!(
        (e.table_len(), d.table_len()),
        (1, 1),
        "the table was not flushed"
    );
}

#[test]
fn without_indexing_is_honoured() {
    let mut e = Encoder::new();
    let mut d = Decoder::new();
    let f = HeaderField::new("x-once", "value").with_repr(Representation::WithoutIndexing);
    let (_, out) = round(&mut e, &mut d, &[f]);
    assert_eq!(out[0].repr, Representation::WithoutIndexing);
    assert_eq!(e.table_len(), 0);
}

#[test]
fn table_size_updates_lead_the_next_block() {
    let mut e = Encoder::new();
    let mut d = Decoder::new();
    round(&mut e, &mut d, &[HeaderField::new("x-a", "1")]);
    // Shrink only: one update.
    e.set_max_table_size(1000);
    let (wire, _) = round(&mut e, &mut d, &[HeaderField::new(":method", "GET")]);
    assert_eq!(&wire[..4], &[0x3f, 0xc9, 0x07, 0x82]);
    assert_eq!(d.table_capacity(), 1000);
    // Shrink to zero then grow back: the minimum, then the final size.
    e.set_max_table_size(0);
    e.set_max_table_size(4096);
    let (wire, _) = round(&mut e, &mut d, &[HeaderField::new(":method", "GET")]);
    assert_eq!(&wire[..5], &[0x20, 0x3f, 0xe1, 0x1f, 0x82]);
    assert_eq!((d.table_len(), e.table_len()), (0, 0));
    // No change, no update.
    e.set_max_table_size(4096);
    let (wire, _) = round(&mut e, &mut d, &[HeaderField::new(":method", "GET")]);
    assert_eq!(&wire[..], &[0x82]);
    // The peer allows more than our cap: we stay at the cap.
    e.set_max_table_size(65536);
    assert_eq!(e.table_capacity(), 4096);
}

#[test]
fn huffman_policies() {
    let field = [HeaderField::new("x-word", "hello")];
    let mut never = Encoder::new();
    never.set_huffman(HuffmanPolicy::Never);
    let mut dst = BytesMut::new();
    never.encode(&field, &mut dst);
    assert_eq!(&dst[..], b"\x40\x06x-word\x05hello");
    let mut always = Encoder::new();
    always.set_huffman(HuffmanPolicy::Always);
    let mut dst = BytesMut::new();
    // "\x7f" has a 28-bit code, so Huffman makes it longer; Always uses it anyway.
    always.encode([("x-b", "\x7f")], &mut dst);
    assert_eq!(dst[dst.len() - 5], 0x84);
    let mut shorter = Encoder::new();
    let mut dst = BytesMut::new();
    shorter.encode([("x-b", "\x7f")], &mut dst);
    assert_eq!(&dst[dst.len() - 2..], b"\x01\x7f");
}

#[test]
fn rfc7541_c3_requests_decode_and_share_the_table() {
    let mut d = Decoder::new();
    let blocks: [&[u8]; 3] = [
        b"\x82\x86\x84\x41\x0fwww.example.com",
        b"\x82\x86\x84\xbe\x58\x08no-cache",
        b"\x82\x87\x85\xbf\x40\x0acustom-key\x0ccustom-value",
    ];
    let mut out = Vec::new();
    for b in blocks {
        out.clear();
        d.decode(&Bytes::from_static(b), &mut out).expect("decodes");
    }
    assert_eq!(out[4], HeaderField::new("custom-key", "custom-value"));
    assert_eq!(d.table_size(), 164);
}

proptest::proptest! {
    /// An all-indexed block encodes to the same octets again while the table version holds:
    /// what lets a connection reuse a block (h2kit's HEADERS memo).
    #[test]
    fn an_indexed_block_repeats_while_the_table_version_holds(
        lists in proptest::collection::vec(
            proptest::collection::vec((0usize..6, 0usize..4), 1..6),
            1..40,
        ),
        table in proptest::sample::select(vec![0usize, 64, 256, 4096]),
    ) {
        use bytes::BytesMut;
        use h2kit_hpack::{Encoder, HeaderField};
        const NAMES: [&str; 6] = [":status", "etag", "content-type", "x-a", "cookie", "date"];
        const VALUES: [&str; 4] = ["200", "\"abc\"", "text/html; charset=utf-8", ""];
        let mut enc = Encoder::new();
        enc.set_max_table_size(table);
        let mut dec = h2kit_hpack::Decoder::new();
        for list in lists {
            let fields: Vec<HeaderField> = list
                .iter()
                .map(|&(n, v)| HeaderField::new(NAMES[n], VALUES[v]))
                .collect();
            let mut first = BytesMut::new();
            enc.encode(&fields, &mut first);
            // The decoder side: a block of indexed fields only decodes to the same fields
            // again and changes nothing.
            let block = first.clone().freeze();
            let mut decoded = Vec::new();
            dec.decode(&block, &mut decoded).unwrap();
            if dec.last_block_reusable() {
                let version = dec.table_version();
                let mut again = Vec::new();
                dec.decode(&block, &mut again).unwrap();
                proptest::prop_assert_eq!(&again, &decoded);
                proptest::prop_assert_eq!(dec.table_version(), version);
            }
            if enc.last_block_indexed() {
                let version = enc.table_version();
                let mut again = BytesMut::new();
                enc.encode(&fields, &mut again);
                proptest::prop_assert_eq!(&again, &first);
                proptest::prop_assert!(enc.last_block_indexed());
                proptest::prop_assert_eq!(enc.table_version(), version);
            }
        }
    }
}
