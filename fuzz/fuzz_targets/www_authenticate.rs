//! fetch's reading of a 401's `WWW-Authenticate` (`--digest`, `--anyauth`), and of a 407's
//! `Proxy-Authenticate` (`--proxy-digest`, `--proxy-anyauth`: the same parser and answer):
//! any bytes give an answer or none, never a panic, and an answer is one header value (no
//! CR or LF that could split the request head).
#![no_main]
use client::wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(answer) = wire::answer_challenge(data) {
        assert!(answer.starts_with("Digest ") || answer.starts_with("Basic "), "{answer}");
        assert!(!answer.contains(['\r', '\n']), "{answer:?}");
    }
});
