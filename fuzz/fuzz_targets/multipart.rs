//! serve's multipart/form-data parser, fed in pieces of every size: never panics, never
//! holds more than a part head plus a piece, never passes on more bytes than it was given,
//! and refuses only with 400, 413 or 431 (the checks live in `multipart::fuzz_one`, shared
//! with the corpus replay in `cargo test`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| server::fuzz::multipart(data));
