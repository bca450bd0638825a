//! The fuzz targets' logic under proptest, plus round trips of arbitrary header lists.

use bytes::{Bytes, BytesMut};
use h2kit_hpack::{Decoder, Encoder, HeaderField, HuffmanPolicy, Representation, fuzzing};
use proptest::prelude::*;

fn field() -> impl Strategy<Value = HeaderField> {
    let name = prop_oneof![
        Just(Bytes::from_static(b":path")),
        Just(Bytes::from_static(b"cookie")),
        Just(Bytes::from_static(b"accept")),
        proptest::collection::vec(any::<u8>(), 0..12).prop_map(Bytes::from),
    ];
    let value = prop_oneof![
        Just(Bytes::from_static(b"/")),
        Just(Bytes::from_static(b"gzip, deflate")),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from),
    ];
    let repr = prop_oneof![
        3 => Just(Representation::IncrementalIndexing),
        1 => Just(Representation::WithoutIndexing),
        1 => Just(Representation::NeverIndexed),
    ];
    (name, value, repr).prop_map(|(n, v, r)| HeaderField::new(n, v).with_repr(r))
}

/// Found by `cargo fuzz run hpack_roundtrip`: thousands of tiny fields make a header list over
/// the default 64 KiB limit (32 bytes of overhead each), which the round trip target must not
/// mistake for a codec failure.
#[test]
fn fuzz_roundtrip_accepts_lists_over_the_default_limit() {
    let mut data = vec![0u8];
    data.extend(std::iter::repeat_n(0x01u8, 2100));
    fuzzing::hpack_roundtrip(&data);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        fuzzing::hpack_decode(&data);
    }

    #[test]
    fn fuzz_roundtrip_logic_holds(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        fuzzing::hpack_roundtrip(&data);
    }

    /// A sequence of blocks decoded by one decoder gives back exactly what one encoder
    /// was given, whatever the table size, Huffman policy and size changes between blocks.
    #[test]
    fn header_lists_round_trip(
        lists in proptest::collection::vec(proptest::collection::vec(field(), 0..12), 1..8),
        sizes in proptest::collection::vec(prop_oneof![Just(None), (0usize..5000).prop_map(Some)], 8),
        policy in prop_oneof![Just(HuffmanPolicy::OnlyIfShorter), Just(HuffmanPolicy::Always), Just(HuffmanPolicy::Never)],
    ) {
        let mut encoder = Encoder::new();
        encoder.set_huffman(policy);
        let mut decoder = Decoder::new();
        decoder.set_max_table_size(8192);
        for (list, size) in lists.iter().zip(&sizes) {
            if let Some(size) = *size {
                encoder.set_max_table_size(size);
            }
            let mut dst = BytesMut::new();
            encoder.encode(list, &mut dst);
            let mut out = Vec::new();
            decoder.decode(&dst.freeze(), &mut out).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(out.len(), list.len());
            for (got, want) in out.iter().zip(list) {
                prop_assert_eq!(&got.name, &want.name);
                prop_assert_eq!(&got.value, &want.value);
                if want.repr == Representation::NeverIndexed {
                    prop_assert_eq!(got.repr, Representation::NeverIndexed);
                }
            }
            prop_assert_eq!(decoder.table_size(), encoder.table_size());
        }
    }
}
