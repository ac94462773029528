//! `--watch`, the page side: the script put into HTML files, where it goes, the injected
//! representation's ETag, and the reserved path of the Server-Sent Events endpoint the
//! script listens to. Pure functions; `respond/live.rs` calls them, the hub (`hub.rs`) sends the
//! events.
//!
//! The endpoint is [`ENDPOINT`], `/%00serve-reload`: its only segment decodes to a name
//! starting with NUL, which no file can have on any Unix file system (and which the jail
//! refuses, decision 5). So it can never hide a file, with or without `--hidden`, whatever
//! the folder holds.

/// The reserved path of the event stream (see the module's comment for why `%00`).
pub(crate) const ENDPOINT: &str = "/%00serve-reload";

/// The event stream's type.
pub(crate) const EVENT_STREAM: &str = "text/event-stream";

/// HTML files larger than this are sent as they are, without the script: the injected copy
/// is made in memory.
pub(crate) const MAX_INJECT: u64 = 8 * 1024 * 1024;

/// The script. On `css`, each same-origin style sheet is fetched again with a cache-busting
/// query (the new `<link>` replaces the old one once loaded, so nothing flashes unstyled);
/// on `reload`, the page reloads. Listings carry it too (`listing.rs`).
pub(crate) const SCRIPT: &str = concat!(
    "<script data-serve-reload>(function(){",
    "var es=new EventSource(\"/%00serve-reload\");",
    "es.addEventListener(\"css\",function(){",
    "document.querySelectorAll('link[rel~=\"stylesheet\"]').forEach(function(l){",
    "var u=new URL(l.href);if(u.origin!==location.origin)return;",
    "u.searchParams.set(\"serve-reload\",Date.now());",
    "var n=l.cloneNode();n.href=u.href;",
    "n.onload=n.onerror=function(){l.remove();};l.after(n);});});",
    "es.addEventListener(\"reload\",function(){location.reload();});",
    "})();</script>\n"
);

/// True when `target` (path and query) is the event stream.
pub(crate) fn is_endpoint(target: &str) -> bool {
    target.split('?').next() == Some(ENDPOINT)
}

/// True for a type the script goes into: HTML only.
pub(crate) fn injects(content_type: &str, len: u64) -> bool {
    let mime = content_type.split(';').next().unwrap_or("").trim();
    mime.eq_ignore_ascii_case("text/html") && len <= MAX_INJECT
}

/// `html` with the script before its last `</body` (any case), or at the end when it has
/// none.
pub(crate) fn inject(html: &[u8]) -> Vec<u8> {
    let at = html
        .windows(6)
        .rposition(|w| w.eq_ignore_ascii_case(b"</body"))
        .unwrap_or(html.len());
    let mut out = Vec::with_capacity(html.len() + SCRIPT.len());
    out.extend_from_slice(&html[..at]);
    out.extend_from_slice(SCRIPT.as_bytes());
    out.extend_from_slice(&html[at..]);
    out
}

/// The injected representation's ETag: the file's with `-live` inside the quotes, so a
/// cache never takes one for the other (and the file's own ETag never validates it).
pub(crate) fn etag(file_etag: &str) -> String {
    match file_etag.strip_suffix('"') {
        Some(open) => format!("{open}-live\""),
        None => format!("{file_etag}-live"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_goes_before_the_last_body_end_tag_or_at_the_end() {
        let cases: [(&str, &str); 4] = [
            ("<p>a</body></html>", "<p>a@</body></html>"),
            ("<p>a</BODY>", "<p>a@</BODY>"),
            ("<p>a", "<p>a@"),
            ("x</body>y</body>z", "x</body>y@</body>z"),
        ];
        for (html, want) in cases {
            let got = String::from_utf8(inject(html.as_bytes())).unwrap();
            assert_eq!(got, want.replace('@', SCRIPT), "{html}");
        }
    }

    #[test]
    fn etags_change_inside_the_quotes() {
        assert_eq!(etag("\"5-abc\""), "\"5-abc-live\"");
        assert_eq!(etag("W/\"x\""), "W/\"x-live\"");
    }

    #[test]
    fn only_html_gets_the_script_and_only_the_endpoint_is_reserved() {
        assert!(injects("text/html; charset=utf-8", 10));
        assert!(!injects("text/html", MAX_INJECT + 1));
        assert!(!injects("text/css", 10));
        assert!(is_endpoint("/%00serve-reload") && is_endpoint("/%00serve-reload?x"));
        assert!(!is_endpoint("/serve-reload") && !is_endpoint("/%00serve-reload/x"));
    }
}
