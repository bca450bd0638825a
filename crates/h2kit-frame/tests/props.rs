//! Property tests: the `fuzzing` module's checks under proptest, so `cargo test` runs what the
//! fuzz targets run.

use bytes::BytesMut;
use h2kit_frame::fuzzing::{
    arbitrary_frame, check_roundtrip, frame_decode, frame_roundtrip, headers_split,
};
use h2kit_frame::{Frame, FrameType};
use proptest::collection::vec;
use proptest::prelude::*;

/// A stream of valid frames with a few octets flipped: close enough to real traffic that
/// the decoder gets past the header, hostile enough to hit the error paths.
fn mutated_stream() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<u8>(),
        vec(vec(any::<u8>(), 0..64), 1..12),
        vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    )
        .prop_map(|(cfg, frames, flips)| {
            let mut wire = BytesMut::new();
            for f in &frames {
                arbitrary_frame(f)
                    .encode(&mut wire)
                    .expect("valid frame encodes");
            }
            for (at, x) in flips {
                if !wire.is_empty() {
                    let i = at.index(wire.len());
                    wire[i] ^= x;
                }
            }
            let mut data = vec![cfg];
            data.extend_from_slice(&wire);
            data
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Every frame type (the first octet picks it) survives encode → decode, whole and in
    /// 1-octet pieces, and re-encodes to the same bytes.
    #[test]
    fn roundtrip_every_type(kind in 0u8..16, rest in vec(any::<u8>(), 0..300)) {
        let mut data = vec![kind];
        data.extend_from_slice(&rest);
        check_roundtrip(&arbitrary_frame(&data));
    }

    /// The fuzz target `frame_roundtrip` (includes CONTINUATION splitting).
    #[test]
    fn fuzz_frame_roundtrip(data in vec(any::<u8>(), 0..400)) {
        frame_roundtrip(&data);
    }

    /// HEADERS split at small frame sizes with padding and priority reassembles.
    #[test]
    fn headers_split_reassembles(data in vec(any::<u8>(), 0..400)) {
        headers_split(&data);
    }

    /// Arbitrary bytes: never a panic, and any split gives the same frames and errors.
    #[test]
    fn arbitrary_bytes_decode_the_same_in_any_split(data in vec(any::<u8>(), 0..600)) {
        frame_decode(&data);
    }

    /// Mutated real traffic: same checks, deeper paths.
    #[test]
    fn mutated_frames_decode_the_same_in_any_split(data in mutated_stream()) {
        frame_decode(&data);
    }
}

#[test]
fn arbitrary_frame_covers_every_type() {
    let mut seen: Vec<FrameType> = (0u8..16)
        .map(|k| arbitrary_frame(&[k, 1, 2, 3, 4, 5, 6, 7, 8, 9]))
        .filter(|f| !matches!(f, Frame::Unknown(_)))
        .map(|f| f.frame_type())
        .collect();
    seen.sort();
    seen.dedup();
    // The ten RFC 9113 types plus ALTSVC, ORIGIN, PRIORITY_UPDATE.
    assert_eq!(seen.len(), 13, "{seen:?}");
}
