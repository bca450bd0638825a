#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| h2kit_hpack::fuzzing::hpack_decode(data));
