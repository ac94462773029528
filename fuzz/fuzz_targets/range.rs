//! Range parsing: every span lies inside the representation, several spans never overlap,
//! and never more than MAX_RANGES.
#![no_main]
use libfuzzer_sys::fuzz_target;
use server::fuzz::range::{self, Ranges};

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let len = u64::from_le_bytes(data[..8].try_into().unwrap()) >> (data[0] % 64);
    let Ok(value) = std::str::from_utf8(&data[8..]) else { return };
    match range::parse(value, len) {
        Ranges::One(s) => assert!(s.len >= 1 && s.start.checked_add(s.len).is_some_and(|e| e <= len)),
        Ranges::Many(spans) => {
            assert!(spans.len() >= 2 && spans.len() <= range::MAX_RANGES);
            let mut sorted = spans.clone();
            sorted.sort_by_key(|s| s.start);
            for s in &spans {
                assert!(s.len >= 1 && s.start + s.len <= len);
            }
            assert!(sorted.windows(2).all(|w| w[0].end() < w[1].start));
        }
        Ranges::Full | Ranges::Unsatisfiable => {}
    }
});
