//! Every story of hpack-test-case: decode the other implementations' wire bytes, and
//! encode the raw data with our encoder and decode it back.

mod common;

use common::{pairs, stories};
use h2kit_hpack::Decoder;

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
