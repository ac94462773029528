//! `fetch --mirror`'s reader of serve's JSON folder listings: never panics, and no entry
//! becomes a reference that leaves its folder.
#![no_main]
use client::cli::mirror_fuzz;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mirror_fuzz::listing(data);
});
