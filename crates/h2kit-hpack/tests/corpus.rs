//! Every story of hpack-test-case: decode the other implementations' wire bytes, and
//! encode the raw data with our encoder and decode it back.

mod common;

use bytes::BytesMut;
use common::{pairs, stories};
use h2kit_hpack::{Decoder, Encoder, HuffmanPolicy};

#[test]
fn decodes_every_story_of_every_folder() {
    let mut checked = 0;
    for folder in common::folders() {
        if folder == "raw-data" {
            continue;
        }
        for story in stories(&folder) {
            let mut decoder = Decoder::new();
            let mut out = Vec::new();
            for case in &story.cases {
                if let Some(size) = case.header_table_size {
                    decoder.set_max_table_size(size);
                }
                let wire = case.wire.as_ref().expect("wire");
                out.clear();
                if let Err(e) = decoder.decode(wire, &mut out) {
                    panic!("{} seqno {}: {e}", story.name, case.seqno);
                }
                assert_eq!(
                    pairs(&out),
                    case.headers,
                    "{} seqno {}",
                    story.name,
                    case.seqno
                );
                checked += 1;
            }
        }
    }
    // Five folders of wire stories with about 3,400 cases each.
    assert!(checked > 15_000, "only {checked} cases decoded");
}

/// Encodes every raw-data story (one encoder per story, table 4096, Huffman only if
/// shorter), decodes it back with our decoder, and returns the total encoded size.
fn encode_raw_data(policy: HuffmanPolicy) -> (usize, usize) {
    let mut wire_total = 0;
    let mut plain_total = 0;
    for story in stories("raw-data") {
        let mut encoder = Encoder::new();
        encoder.set_huffman(policy);
        let mut decoder = Decoder::new();
        let mut out = Vec::new();
        for case in &story.cases {
            let mut dst = BytesMut::new();
            encoder.encode(case.headers.iter().map(|(n, v)| (n, v)), &mut dst);
            wire_total += dst.len();
            plain_total += case
                .headers
                .iter()
                .map(|(n, v)| n.len() + v.len())
                .sum::<usize>();
            out.clear();
            if let Err(e) = decoder.decode(&dst.freeze(), &mut out) {
                panic!(
                    "{} case {}: our own block fails: {e}",
                    story.name, case.seqno
                );
            }
            assert_eq!(
                pairs(&out),
                case.headers,
                "{} case {}",
                story.name,
                case.seqno
            );
            assert_eq!(decoder.table_size(), encoder.table_size());
        }
    }
    (wire_total, plain_total)
}

#[test]
fn encodes_raw_data_below_350000_bytes_and_decodes_it_back() {
    let (wire, plain) = encode_raw_data(HuffmanPolicy::OnlyIfShorter);
    eprintln!("raw-data: {plain} plain bytes -> {wire} wire bytes");
    assert!(wire < 350_000, "raw-data encoded to {wire} bytes");
}

#[test]
fn every_huffman_policy_round_trips_raw_data() {
    let (always, _) = encode_raw_data(HuffmanPolicy::Always);
    let (never, plain) = encode_raw_data(HuffmanPolicy::Never);
    let (shorter, _) = encode_raw_data(HuffmanPolicy::OnlyIfShorter);
    assert!(shorter <= always && shorter < never && never < plain);
}
