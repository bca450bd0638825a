#![no_main]
// The first byte picks the split size, the rest is an HTTP/1.1 response (head, chunked body).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some((&split, rest)) = data.split_first() {
        h2kit_client::fuzzing::h1_response(rest, usize::from(split));
    }
});
