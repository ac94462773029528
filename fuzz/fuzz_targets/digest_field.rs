//! The RFC 8941 Dictionary parser behind Repr-Digest, Content-Digest (fetch) and
//! Want-Repr-Digest (serve): never panics, stays within its member cap, keys are valid and
//! unique, byte sequences round-trip (the checks live in `shared::digest::fuzz_one`, shared
//! with the corpus replay in `cargo test`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| shared::digest::fuzz_one(data));
