#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| h2kit_frame::fuzzing::frame_decode(data));
