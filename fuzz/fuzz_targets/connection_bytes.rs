#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| h2kit::fuzzing::connection_bytes(data));
