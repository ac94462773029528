//! `fetch --mirror`'s narrow pass over HTML (`tags.rs`) against the html5gum tokenizer:
//! never panics, and whenever it does not leave a page to the tokenizer, it finds the same
//! links, in the same order, with the same `<base>`.
#![no_main]
use client::cli::mirror_fuzz;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    mirror_fuzz::html_links(data);
});
