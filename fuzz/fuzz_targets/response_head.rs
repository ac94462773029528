//! fetch's response-head parser and body-length rules: never panic; a parsed head's length
//! is within the input; framing is decided or refused in words.
#![no_main]
use client::wire;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((head, n))) = wire::parse_head(data) {
        assert!(n > 0 && n <= data.len());
        assert_eq!(head.raw(), &data[..n]);
        for to_head in [false, true] {
            if let Ok((framing, _)) = wire::framing(&head, to_head) {
                if to_head {
                    assert_eq!(framing, wire::Framing::None);
                }
            }
        }
    }
});
