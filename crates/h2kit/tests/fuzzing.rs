//! The fuzz entry points under proptest: arbitrary bytes and arbitrary command sequences
//! never panic and never grow memory past the configured limits.

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
    let mut base = Vec::new();
    base.push(0u8); // even first byte: the server gets a valid preface
    base.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]); // SETTINGS
    base.extend_from_slice(&[0, 0, 5, 1, 5, 0, 0, 0, 1, 0x82, 0x87, 0x84, 0x41, 0x00]); // HEADERS
    base.extend_from_slice(&[0, 0, 3, 0, 1, 0, 0, 0, 1, b'a', b'b', b'c']); // DATA
    base.extend_from_slice(&[0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]); // PING
    base.extend_from_slice(&[0, 0, 4, 8, 0, 0, 0, 0, 1, 0, 0, 0, 9]); // WINDOW_UPDATE
    base.extend_from_slice(&[0, 0, 4, 3, 0, 0, 0, 0, 1, 0, 0, 0, 8]); // RST_STREAM
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
