//! Time as the server writes it: calendar dates from Unix seconds (no time-zone database:
//! always UTC), and a per-thread cache that formats the current second only once, for the
//! `Date` header and the access log's timestamps. A leaf: it uses nothing else in the crate.

use std::cell::RefCell;
use std::thread::LocalKey;
use std::time::{SystemTime, UNIX_EPOCH};

/// A thread's cached text for one second: the second (since the epoch) it was made for,
/// and the text. Start it at `(u64::MAX, String::new())` so the first call formats.
pub(crate) type SecondCache = RefCell<(u64, String)>;

/// Calls `f` with `format(now, seconds since the epoch)`, formatted at most once per second
/// on each thread: within the same second, `cache` already holds the text.
pub(crate) fn per_second<R>(
    cache: &'static LocalKey<SecondCache>,
    format: impl FnOnce(SystemTime, u64) -> String,
    f: impl FnOnce(&str) -> R,
) -> R {
    let now = SystemTime::now();
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    cache.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != secs {
            *cached = (secs, format(now, secs));
        }
        f(&cached.1)
    })
}

/// `2026-11-22 19:14:35` for `sep` = `' '`, `2026-11-22T19:14:35` for `'T'`: the UTC date
/// and time of `secs` since the epoch.
pub(crate) fn date_time(secs: u64, sep: char) -> String {
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}{sep}{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`: shift the year to start in March so the leap day
/// falls last, then count 400-year eras of 146 097 days).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era, 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the March-based year
    let mp = (5 * doy + 2) / 153; // March = 0
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_from_unix_seconds() {
        let cases: &[(u64, &str)] = &[
            (0, "1970-01-01T00:00:00"),
            (951_782_400, "2000-02-29T00:00:00"),
            (1_795_374_875, "2026-11-22T19:14:35"),
            (4_133_980_799, "2100-12-31T23:59:59"),
        ];
        for (secs, want) in cases {
            assert_eq!(date_time(*secs, 'T'), *want, "{secs}");
        }
        assert_eq!(date_time(86_399, ' '), "1970-01-01 23:59:59");
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    thread_local! {
        static TEST_CACHE: SecondCache = const { RefCell::new((u64::MAX, String::new())) };
    }

    #[test]
    fn formats_once_per_second() {
        let mut calls = 0;
        let mut seen = Vec::new();
        // Two calls in a row fall in the same second unless a second boundary passes
        // between them; three calls make sure at least one pair shares a second.
        for _ in 0..3 {
            per_second(
                &TEST_CACHE,
                |_, secs| {
                    calls += 1;
                    secs.to_string()
                },
                |text| seen.push(text.to_string()),
            );
        }
        assert!(calls < 3, "formatted {calls} times");
        assert!(seen.iter().all(|s| s.parse::<u64>().is_ok()), "{seen:?}");
    }
}
