//! fetch's chunked decoder, through the real reader: never panics, never yields more data
//! than the input held, and fails with exit 18 (cut short) or 56 (malformed) only.
#![no_main]
use client::wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match wire::decode_chunked(data, 1 << 20) {
        Ok(body) => assert!(body.len() <= data.len()),
        Err(e) => assert!(matches!(e.exit_code(), 18 | 56), "{e} -> {}", e.exit_code()),
    }
});
