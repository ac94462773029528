//! serve's request-head parser: never panics, and what it accepts is self-consistent.
#![no_main]
use libfuzzer_sys::fuzz_target;
use server::fuzz::request::{self, Parsed};

fuzz_target!(|data: &[u8]| {
    match request::parse(data) {
        Parsed::Complete(req) => {
            assert!(req.len > 0 && req.len <= data.len(), "len {} of {}", req.len, data.len());
            assert!(req.target.starts_with('/') || req.target == "*", "{:?}", req.target);
            assert!(!req.line.bytes().any(|b| b.is_ascii_control()), "log line unescaped");
        }
        Parsed::Invalid(r) => {
            assert!(matches!(r.status, 400 | 405 | 413 | 414 | 431 | 505), "{}", r.status);
            assert!(!r.line.bytes().any(|b| b.is_ascii_control()), "log line unescaped");
        }
        Parsed::Partial => assert!(data.len() <= request::HEAD_CAP + request::BODY_CAP),
    }
});
