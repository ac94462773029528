//! What to answer: one request in, a response head (written into the worker's buffer) and a
//! body to send out. Every status this server chooses is decided in this folder — including
//! the ones for connections it refuses ([`refuse`]: 403, 503, and the 408 of a head that
//! never finished) — and `engine/conn.rs` only sends. Nothing here touches a socket or a thread, so
//! the unit tests answer requests directly.
//!
//! [`respond`] is a chain of steps, one module each, in this order: auth (`authorize`) →
//! the target → method (`methods`, with `cors` for preflights) → with `--watch`, its event
//! stream (`live`) → a folder's `?download=` (`download`) → map the path: the cache
//! (`cached`), then the disk (`crate::jail::map`) → a folder (`folder`: redirect or
//! listing) or a file (`file`: with `--watch` an HTML page with the reload script (`live`),
//! else a `precompressed` sibling or an `encoding` made now; its `repr_digest`) →
//! `representation` (`conditions`, then `Range`) → the body. A
//! path that leads nowhere ends in `fallback` (`--spa`, the 404 page). Uploads take their
//! own door (`uploads`). What every step answers with is in `reply`, which imports one
//! step, `cors` (whose header goes on every response), and `cors` imports none, so the
//! steps form no cycle. A new feature is a new step module called from here.

mod authorize;
mod cached;
mod conditions;
mod cors;
mod download;
mod encoding;
mod fallback;
mod file;
mod folder;
mod https;
mod live;
mod methods;
mod precompressed;
mod reply;
mod repr_digest;
mod representation;
mod uploads;

pub(crate) use https::to_https;
pub(crate) use reply::{Body, Refusal, Reply, error, refuse};
pub(crate) use uploads::{Answer, receive, received};

use crate::http::request::{Method, Request, Version};
use crate::http::response_head::Persist;
use crate::jail::{self, Mapped, Refused};
use crate::site::Site;

/// Decides the response to `req`, writing its head into `out` (nothing for HTTP/0.9, which
/// has no head).
pub(crate) fn respond(req: &Request, site: &Site, persist: Persist, out: &mut Vec<u8>) -> Reply {
    let mut reply = decide(req, site, persist, out);
    if req.version == Version::Http09 {
        out.clear();
    }
    if req.method == Method::Head {
        reply.body = Body::Empty;
    }
    reply
}

/// The chain: each step answers, or lets the request go on to the next.
fn decide(req: &Request, site: &Site, persist: Persist, out: &mut Vec<u8>) -> Reply {
    if site.settings.panic_path.as_deref() == Some(req.target.as_str()) {
        panic!("test-only panic for {} (SERVE_TEST_PANIC_PATH)", req.target);
    }
    // --auth comes first: no method, path spelling or header answers without it.
    if let Some(reply) = authorize::step(req, site, persist, out) {
        return reply;
    }
    // A fragment is the client's business and never sent (RFC 9112 §3.2 allows no `#` in a
    // request target): refuse it rather than look for a file with `#` in its name.
    if req.target.contains('#') {
        return error(400, site, persist, out);
    }
    if let Some(reply) = methods::step(req, site, persist, out) {
        return reply;
    }
    // --watch: the reserved event stream, which the hub then holds.
    if let Some(reply) = live::events(req, site, out) {
        return reply;
    }
    if let Some(reply) = download::step(req, site, out) {
        return reply;
    }
    // Map the path: the cache first (no lookup on disk beyond its one `statx`), then the
    // jail.
    let key = cached::key(req);
    if let Some(entry) = key.and_then(|k| site.cache.get(k))
        && cached::answers(req, site, &entry)
    {
        return cached::step(req, site, persist, out, entry);
    }
    match jail::map(&site.root, &req.target, site.settings.jail) {
        Ok(Mapped::File {
            path,
            file: opened,
            meta,
        }) => file::step(
            req,
            site,
            persist,
            out,
            path,
            opened.map(|f| (f, meta)),
            key,
        )
        .unwrap_or_else(|reply::Missing| fallback::step(req, site, persist, out)),
        Ok(Mapped::Redirect(location)) => folder::redirect(&location, site, persist, out),
        Ok(Mapped::Dir { path }) if site.settings.listing => {
            folder::listing(req, site, persist, out, &path)
        }
        Ok(Mapped::Dir { .. }) | Err(Refused::NotFound) => fallback::step(req, site, persist, out),
        Err(refused) => error(refused.status(), site, persist, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::request::{self, Parsed};
    use std::io::{self, Read, Seek};

    fn site() -> (tempfile::TempDir, Site) {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::write(root.join("index.html"), "<h1>home</h1>\n").unwrap();
        std::fs::write(root.join("a#b.txt"), "hash").unwrap();
        (dir, Site::new(root, Default::default()))
    }

    /// Parses `raw` with a `Host` field added after the request line.
    fn parse(raw: &str) -> Request {
        let raw = raw.replacen("\r\n", "\r\nHost: x\r\n", 1);
        match request::parse(raw.as_bytes()) {
            Parsed::Complete(req) => req,
            other => panic!("{raw:?}: {other:?}"),
        }
    }

    /// Answers `raw`: the head as text and the body's bytes.
    fn answer(site: &Site, raw: &str) -> (u16, String, Vec<u8>) {
        let mut out = Vec::new();
        let reply = respond(&parse(raw), site, Persist::KeepAlive, &mut out);
        let body = match reply.body {
            Body::Empty | Body::Watch => Vec::new(),
            Body::Stream(mut s) => {
                let mut b = Vec::new();
                s.reader.read_to_end(&mut b).unwrap();
                b
            }
            Body::Listing(r) => {
                let mut b = Vec::new();
                r.write_all(&mut b).unwrap();
                b
            }
            Body::Bytes(b) => b,
            Body::Shared(b) => b.to_vec(),
            Body::Cached { entry, start, len } => {
                entry.bytes[start as usize..(start + len) as usize].to_vec()
            }
            Body::File {
                mut file,
                start,
                len,
                ..
            } => {
                let mut b = Vec::new();
                file.seek(io::SeekFrom::Start(start)).unwrap();
                (&mut file).take(len).read_to_end(&mut b).unwrap();
                b
            }
            Body::Multipart { .. } => b"(multipart)".to_vec(),
        };
        (reply.status, String::from_utf8(out).unwrap(), body)
    }

    #[test]
    fn statuses_for_the_everyday_requests() {
        let (_dir, site) = site();
        let cases = [
            ("GET / HTTP/1.1\r\n\r\n", 200),
            ("GET /index.html HTTP/1.1\r\n\r\n", 200),
            ("HEAD /index.html HTTP/1.1\r\n\r\n", 200),
            ("GET /missing HTTP/1.1\r\n\r\n", 404),
            ("DELETE /index.html HTTP/1.1\r\n\r\n", 405),
            ("OPTIONS * HTTP/1.1\r\n\r\n", 204),
            ("GET /index.html HTTP/1.1\r\nRange: bytes=0-3\r\n\r\n", 206),
            ("GET /index.html HTTP/1.1\r\nRange: bytes=99-\r\n\r\n", 416),
            ("GET /%zz HTTP/1.1\r\n\r\n", 400),
        ];
        for (raw, want) in cases {
            assert_eq!(answer(&site, raw).0, want, "{raw:?}");
        }
    }

    #[test]
    fn a_fragment_in_the_target_is_400_even_when_a_file_has_that_name() {
        let (_dir, site) = site();
        for raw in [
            "GET /index.html#x HTTP/1.1\r\n\r\n",
            "GET /a#b.txt HTTP/1.1\r\n\r\n",
            "GET /#top HTTP/1.1\r\n\r\n",
        ] {
            let (status, head, _) = answer(&site, raw);
            assert_eq!(status, 400, "{raw:?}");
            assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        }
        // The file is there for whoever asks for it properly.
        assert_eq!(answer(&site, "GET /a%23b.txt HTTP/1.1\r\n\r\n").2, b"hash");
    }

    #[test]
    fn refusals_are_decided_here_and_close() {
        let (_dir, site) = site();
        for (why, status, line) in [
            (Refusal::NotAllowed, 403, "HTTP/1.1 403 Forbidden\r\n"),
            (Refusal::Busy, 503, "HTTP/1.1 503 Service Unavailable\r\n"),
            (
                Refusal::HeadTimeout,
                408,
                "HTTP/1.1 408 Request Timeout\r\n",
            ),
        ] {
            let mut out = Vec::new();
            let reply = refuse(why, &site, &mut out);
            let head = String::from_utf8(out).unwrap();
            assert_eq!(reply.status, status);
            assert!(head.starts_with(line), "{head}");
            assert!(head.contains("\r\nConnection: close\r\n"), "{head}");
            assert_eq!(
                head.contains("\r\nRetry-After: 1\r\n"),
                why == Refusal::Busy,
                "{head}"
            );
        }
    }

    #[test]
    fn a_cached_file_edited_on_disk_is_answered_fresh() {
        let (dir, site) = site();
        let path = dir.path().join("page.txt");
        std::fs::write(&path, "first").unwrap();
        let get = "GET /page.txt HTTP/1.1\r\n\r\n";
        assert_eq!(answer(&site, get).2, b"first");
        assert_eq!(site.cache.len(), 1, "small files are cached");
        let (_, head, body) = answer(&site, get);
        assert_eq!(body, b"first", "a hit");
        // Same length, at once: the next request sees the new bytes and a new ETag.
        std::fs::write(&path, "again").unwrap();
        let (status, head2, body) = answer(&site, get);
        assert_eq!((status, body.as_slice()), (200, &b"again"[..]));
        let etag = |h: &str| {
            h.lines()
                .find(|l| l.starts_with("ETag:"))
                .map(str::to_string)
        };
        assert_ne!(etag(&head), etag(&head2));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(answer(&site, get).0, 404, "a removed file is gone at once");
    }

    #[test]
    fn cached_answers_keep_validators_and_conditions() {
        let (_dir, site) = site();
        let (_, head, _) = answer(&site, "GET /index.html HTTP/1.1\r\n\r\n");
        let etag = head
            .lines()
            .find_map(|l| l.strip_prefix("ETag: "))
            .unwrap()
            .to_string();
        // Now from the cache: the same head, 304 on a match, HEAD without a body.
        let (_, again, _) = answer(&site, "GET /index.html HTTP/1.1\r\n\r\n");
        let without_date = |h: &str| {
            h.lines()
                .filter(|l| !l.starts_with("Date:"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(without_date(&head), without_date(&again));
        let conditional = format!("GET /index.html HTTP/1.1\r\nIf-None-Match: {etag}\r\n\r\n");
        assert_eq!(answer(&site, &conditional).0, 304);
        let (status, _, body) = answer(&site, "HEAD /index.html HTTP/1.1\r\n\r\n");
        assert_eq!((status, body.len()), (200, 0));
        // A range or an encoding that could have a variant goes to the disk.
        let (status, _, body) = answer(
            &site,
            "GET /index.html HTTP/1.1\r\nRange: bytes=1-2\r\n\r\n",
        );
        assert_eq!((status, body.as_slice()), (206, &b"h1"[..]));
    }
}
