//! The fuzz entry points under proptest: arbitrary bytes and arbitrary command sequences
//! never panic and never grow memory past the configured limits.

use bytes::Bytes;
use h2kit::ErrorCode;
use h2kit_test::frames;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        h2kit::fuzzing::connection_bytes(&data);
    }

    #[test]
    fn arbitrary_commands_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        h2kit::fuzzing::connection_ops(&data);
    }
}

/// Valid frames make the byte fuzzer reach deep states: a preface, SETTINGS, a request and
/// assorted frames, mutated.
#[test]
fn mutated_valid_exchanges_never_panic() {
    let base: Vec<u8> = [
        // Even first byte: the server gets a valid preface.
        Bytes::from_static(&[0]),
        frames::settings().to_bytes(),
        // GET https, path /, an empty :authority: a five-octet block, hand-encoded so that a
        // mutation lands on each representation.
        frames::headers(1)
            .block(Bytes::from_static(&[0x82, 0x87, 0x84, 0x41, 0x00]))
            .end_stream()
            .to_bytes(),
        frames::data(1, b"abc").end_stream().to_bytes(),
        frames::ping([1, 2, 3, 4, 5, 6, 7, 8]).to_bytes(),
        frames::window_update(1, 9).to_bytes(),
        frames::rst_stream(1, ErrorCode::CANCEL).to_bytes(),
    ]
    .concat();
    for i in 0..base.len() {
        for v in [0u8, 1, 0x7f, 0x80, 0xff] {
            let mut m = base.clone();
            m[i] = v;
            h2kit::fuzzing::connection_bytes(&m);
        }
    }
}

/// Command sequences biased towards transfers and stream commands reach deep states (data,
/// trailers, pushes, resets crossing data) that uniform bytes rarely do.
#[test]
fn biased_command_sequences() {
    let mut x: u64 = 0x5eed_0f00_1234;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..3_000 {
        let len = (next() % 60) as usize;
        let mut data = Vec::with_capacity(2 * len);
        for _ in 0..len {
            let op = match next() % 13 {
                0..=3 => 8,
                4 => 0,
                5 => 1,
                6 => 2,
                7 => 3,
                8 => 4,
                9 => 5,
                10 => 13,
                _ => (next() % 15) as u8,
            };
            data.push(op);
            data.push(next() as u8);
        }
        h2kit::fuzzing::connection_ops(&data);
    }
}
