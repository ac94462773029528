//! serve's chunked request-body decoder (uploads), fed in pieces of every size: never
//! panics, never yields more than it consumed, never consumes past the body's end, refuses
//! only with 400 (the checks live in `intake::fuzz_dechunk`, shared with the corpus replay).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| server::fuzz::dechunk(data));
