//! `--retry`: which failures are worth another try, and how long to wait before it (a
//! doubling backoff, or what the server's `Retry-After` asks for).

use std::time::{Duration, SystemTime};

use crate::error::Error;

/// The longest wait between two tries, whatever the backoff says: 10 minutes (curl's).
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// The longest `Retry-After` honoured: 60 s (a longer one is cut to this).
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// How a try failed: for good, or in a way worth trying again.
pub(crate) enum Failure {
    Final(Error),
    Transient {
        error: Error,
        /// The server's `Retry-After`, if it sent one.
        after: Option<Duration>,
    },
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Final(e)
    }
}

/// Errors worth another try: any timeout, a name that did not resolve (as in curl), and a
/// connection that went away (fetch resumes those). A connection that could not be made
/// is one too here; whether to retry it is `--retry-connrefused`'s call. (A bad reply or a
/// refused write would fail the same way again.)
pub(crate) fn transient(e: Error) -> Failure {
    match e.exit_code() {
        6 | 7 | 18 | 28 | 52 | 55 | 56 => Failure::Transient {
            error: e,
            after: None,
        },
        _ => Failure::Final(e),
    }
}

/// The wait before try number `retry` (1 for the first retry): `base` doubling each time,
/// at most [`MAX_BACKOFF`] (or `base` itself when that is longer).
pub(crate) fn backoff(base: Duration, retry: u32) -> Duration {
    let factor = 1u32 << retry.saturating_sub(1).min(16);
    base.saturating_mul(factor).min(MAX_BACKOFF.max(base))
}

/// The wait a `Retry-After` asks for: delay-seconds or an HTTP date, at most
/// [`MAX_RETRY_AFTER`]; a date in the past is no wait. A date may come in any of the three
/// forms RFC 9110 §5.6.7 says a recipient must accept (IMF-fixdate, RFC 850, asctime).
pub(crate) fn retry_after(value: &[u8], now: SystemTime) -> Option<Duration> {
    let text = std::str::from_utf8(value).ok()?.trim();
    let wait = if let Ok(secs) = text.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = httpdate::parse_http_date(text).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let s = Duration::from_secs;
        let got: Vec<Duration> = (1..=12).map(|r| backoff(s(1), r)).collect();
        assert_eq!(
            got,
            [
                s(1),
                s(2),
                s(4),
                s(8),
                s(16),
                s(32),
                s(64),
                s(128),
                s(256),
                s(512),
                s(600),
                s(600)
            ]
        );
        assert_eq!(
            backoff(Duration::from_millis(10), 3),
            Duration::from_millis(40)
        );
        assert_eq!(backoff(s(1), 1000), s(600));
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        let cases: &[(&str, Option<Duration>)] = &[
            ("1", Some(Duration::from_secs(1))),
            (" 0 ", Some(Duration::ZERO)),
            ("3600", Some(MAX_RETRY_AFTER)),
            // 1994-11-06 08:49:37 is 784111777: 10 s later.
            (
                "Sun, 06 Nov 1994 08:49:47 GMT",
                Some(Duration::from_secs(10)),
            ),
            ("Sun, 06 Nov 1994 08:49:00 GMT", Some(Duration::ZERO)),
            ("soon", None),
            ("-1", None),
            ("Sun, 06 Nov 1994 08:49:47 PST", None),
        ];
        for (value, want) in cases {
            assert_eq!(retry_after(value.as_bytes(), now), *want, "{value}");
        }
    }

    #[test]
    fn retry_after_dates_in_all_three_forms() {
        // RFC 9110 §5.6.7: IMF-fixdate, the obsolete RFC 850 form and asctime() all name
        // the same instant, 1994-11-06 08:49:37 UTC (784111777), and must all be accepted.
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_767);
        let cases: &[(&str, Option<u64>)] = &[
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some(10)),
            ("Sunday, 06-Nov-94 08:49:37 GMT", Some(10)),
            ("Sun Nov  6 08:49:37 1994", Some(10)),
            ("Thu, 01 Jan 1970 00:00:00 GMT", Some(0)),
            // A leap day far ahead: cut to the longest wait honoured.
            ("Tue, 29 Feb 2028 12:00:00 GMT", Some(60)),
            ("Sun, 06 Foo 1994 08:49:37 GMT", None),
            ("Sun, 06 Nov 1994 25:49:37 GMT", None),
            ("Sun Nov  6 08:49:37", None),
        ];
        for (value, want) in cases {
            let got = retry_after(value.as_bytes(), now).map(|d| d.as_secs());
            assert_eq!(got, *want, "{value}");
        }
    }
}
