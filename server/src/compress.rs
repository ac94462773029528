//! Compression on the fly (`--compress`): which encoding a client gets
//! ([`negotiate`], by `Accept-Encoding` q-values), which files are worth it ([`worth`]:
//! compressible types, between a size floor and a ceiling, never for a range request), each
//! encoding's own strong ETag ([`etag`]), and a bounded cache of compressed bodies
//! ([`Cache`]) so a repeated request costs no CPU. A precompressed `FILE.br`/`FILE.gz` on
//! disk wins over all this (the caller looks for it first).
//!
//! zstd is left out: its only mature crate binds the C library, which is not lean to build.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A content coding we produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Coding {
    /// Brotli (`br`): smaller than gzip for text, what browsers ask for first.
    Br,
    /// gzip.
    Gzip,
}

impl Coding {
    /// The `Content-Encoding` token.
    pub(crate) fn token(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Gzip => "gzip",
        }
    }
}

/// Every coding, in the server's order of preference on a tie.
pub(crate) const ALL: [Coding; 2] = [Coding::Br, Coding::Gzip];

/// Files smaller than this are sent as they are: the saving is less than a packet.
pub(crate) const MIN_SIZE: u64 = 1024;
/// Files larger than this are sent as they are: compressing them on the fly would hold a
/// worker and the cache too long. Precompress them (`FILE.br`, `FILE.gz`) instead.
pub(crate) const MAX_SIZE: u64 = 8 * 1024 * 1024;

/// The coding to send, among `offered` (in the server's preference order), for a request
/// with this `Accept-Encoding`; `None` means identity. The client's highest q-value wins;
/// on a tie, the server's order. `*` stands for codings not listed; `q=0` refuses; an item
/// with a malformed q-value is ignored; `x-gzip` is gzip.
pub(crate) fn negotiate(accept_encoding: Option<&str>, offered: &[Coding]) -> Option<Coding> {
    let header = accept_encoding?;
    let mut best: Option<(Coding, u16)> = None;
    for &coding in offered {
        let Some(q) = weight(header, coding.token()) else {
            continue;
        };
        if q > 0 && best.is_none_or(|(_, bq)| q > bq) {
            best = Some((coding, q));
        }
    }
    best.map(|(c, _)| c)
}

/// The q-value (in thousandths) the header gives `token`, directly or through `*`.
fn weight(header: &str, token: &str) -> Option<u16> {
    let mut star = None;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let mut q = Some(1000);
        for param in parts {
            let param = param.trim();
            if let Some(v) = param
                .strip_prefix("q=")
                .or_else(|| param.strip_prefix("Q="))
            {
                q = qvalue(v.trim());
            }
        }
        let Some(q) = q else { continue };
        if name.eq_ignore_ascii_case(token)
            || (token == "gzip" && name.eq_ignore_ascii_case("x-gzip"))
        {
            return Some(q);
        }
        if name == "*" {
            star = Some(q);
        }
    }
    star
}

/// RFC 9110 §12.4.2: `0`, `0.` and up to three digits, or `1`, `1.` and up to three zeros.
fn qvalue(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{frac:0<3}").parse::<u16>().ok()?;
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// True for a type worth compressing: text, and the textual or uncompressed formats
/// (JSON, JavaScript, XML, SVG, WebAssembly, TrueType/OpenType fonts). Images, audio,
/// video, archives and WOFF fonts are compressed already.
pub(crate) fn compressible(content_type: &str) -> bool {
    let mime = content_type.split(';').next().unwrap_or("").trim();
    let mime = mime.to_ascii_lowercase();
    mime.starts_with("text/")
        || mime.ends_with("+json")
        || mime.ends_with("+xml")
        || matches!(
            mime.as_str(),
            "application/json"
                | "application/javascript"
                | "application/xml"
                | "application/wasm"
                | "application/manifest+json"
                | "application/x-ndjson"
                | "image/svg+xml"
                | "image/x-icon"
                | "image/bmp"
                | "font/ttf"
                | "font/otf"
                | "application/x-font-ttf"
        )
}

/// Should a response be compressed on the fly? Only whole bodies (a range of a compressed
/// body would be a range of other bytes), of compressible types, between [`MIN_SIZE`] and
/// [`MAX_SIZE`].
pub(crate) fn worth(content_type: &str, size: u64, range_requested: bool) -> bool {
    !range_requested && (MIN_SIZE..=MAX_SIZE).contains(&size) && compressible(content_type)
}

/// The strong ETag of the encoded representation: the file's tag with the coding inside
/// the quotes (`"abc-5"` → `"abc-5-br"`), so each encoding validates on its own.
pub(crate) fn etag(file_etag: &str, coding: Coding) -> String {
    let inner = file_etag.strip_suffix('"').unwrap_or(file_etag);
    let suffix = match coding {
        Coding::Br => "-br",
        Coding::Gzip => "-gz",
    };
    format!("{inner}{suffix}\"")
}

/// Compresses `data`.
pub(crate) fn encode(coding: Coding, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 3 + 64);
    match coding {
        Coding::Gzip => {
            let mut gz = flate2::write::GzEncoder::new(&mut out, flate2::Compression::new(6));
            // Writing into a Vec cannot fail.
            let _ = gz.write_all(data).and_then(|()| gz.finish().map(drop));
        }
        Coding::Br => {
            // Quality 5 with a 4 MiB window: most of the saving of 11 at a tenth of the
            // time, and the result is cached.
            let mut br = brotli::CompressorWriter::new(&mut out, 64 * 1024, 5, 22);
            let _ = br.write_all(data);
            drop(br);
        }
    }
    out
}

/// Reads a whole file (at most [`MAX_SIZE`] bytes) and compresses it. `None` when the file
/// changed while it was read (its size or time differ from `expected_etag`'s file), so a
/// body is never cached under another version's tag.
pub(crate) fn encode_file(
    file: &mut File,
    coding: Coding,
    expected_etag: &str,
) -> io::Result<Option<Vec<u8>>> {
    let mut data = Vec::new();
    file.take(MAX_SIZE + 1).read_to_end(&mut data)?;
    let now = crate::http::conditional::Validators::of(&file.metadata()?);
    if now.etag != expected_etag || data.len() as u64 > MAX_SIZE {
        return Ok(None);
    }
    Ok(Some(encode(coding, &data)))
}

/// A compressed representation chosen for one request.
#[derive(Debug, Clone)]
pub(crate) struct Encoded {
    /// Its `Content-Encoding`.
    pub coding: Coding,
    /// The compressed bytes (shared with the cache).
    pub body: Arc<Vec<u8>>,
    /// Its own strong ETag ([`etag`]).
    pub etag: String,
}

/// The step a responder calls for a file with `--compress`: the compressed body for this
/// request, from the cache or made now, or `None` to send the file as it is (not worth it,
/// a range asked, the client takes no coding we make, or the file changed while read).
/// Whatever the answer, a compressible file's response says `Vary: Accept-Encoding`
/// ([`worth`] with `range_requested = false` tells).
/// `make` encodes the file when the cache does not hold it ([`encode_file`] from disk, or
/// [`encode`] from a copy in memory).
#[allow(clippy::too_many_arguments)] // Each is one fact about the request or the file.
pub(crate) fn encoded(
    cache: &Cache,
    path: &Path,
    file_etag: &str,
    content_type: &str,
    size: u64,
    accept_encoding: Option<&str>,
    range_requested: bool,
    make: impl FnOnce(Coding) -> io::Result<Option<Vec<u8>>>,
) -> io::Result<Option<Encoded>> {
    if !worth(content_type, size, range_requested) {
        return Ok(None);
    }
    let Some(coding) = negotiate(accept_encoding, &ALL) else {
        return Ok(None);
    };
    let body = cache.get_or_insert(path, file_etag, coding, || make(coding))?;
    Ok(body.map(|body| Encoded {
        coding,
        body,
        etag: etag(file_etag, coding),
    }))
}

/// The default cap on the bytes the cache holds.
pub(crate) const CACHE_BYTES: usize = 32 * 1024 * 1024;
/// The default cap on the bodies the cache holds.
pub(crate) const CACHE_ENTRIES: usize = 1024;

type Key = (PathBuf, String, Coding);

/// A bounded cache of compressed bodies, keyed by file path, the file's ETag and the
/// coding: a file changed on disk has a new tag, so it is never served stale. When full,
/// the least recently used bodies go first.
#[derive(Debug)]
pub(crate) struct Cache {
    inner: Mutex<Inner>,
    max_bytes: usize,
    max_entries: usize,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<Key, (Arc<Vec<u8>>, u64)>,
    bytes: usize,
    tick: u64,
}

impl Cache {
    /// An empty cache holding at most `max_bytes` in at most `max_entries` bodies.
    pub(crate) fn new(max_bytes: usize, max_entries: usize) -> Cache {
        Cache {
            inner: Mutex::new(Inner::default()),
            max_bytes,
            max_entries: max_entries.max(1),
        }
    }

    /// The body for this file version and coding: from the cache, or made by `make` (run
    /// without the lock held) and kept. `make` returning `None` (the file changed) is
    /// passed on and nothing is kept.
    pub(crate) fn get_or_insert(
        &self,
        path: &Path,
        file_etag: &str,
        coding: Coding,
        make: impl FnOnce() -> io::Result<Option<Vec<u8>>>,
    ) -> io::Result<Option<Arc<Vec<u8>>>> {
        let key = (path.to_path_buf(), file_etag.to_string(), coding);
        {
            let mut inner = self.lock();
            inner.tick += 1;
            let tick = inner.tick;
            if let Some((body, used)) = inner.map.get_mut(&key) {
                *used = tick;
                return Ok(Some(body.clone()));
            }
        }
        let Some(body) = make()? else {
            return Ok(None);
        };
        let body = Arc::new(body);
        if body.len() <= self.max_bytes {
            let mut inner = self.lock();
            // Older versions of this file, in this coding, are dead weight now.
            let stale: Vec<Key> = inner
                .map
                .keys()
                .filter(|(p, tag, c)| p == path && *c == coding && tag != file_etag)
                .cloned()
                .collect();
            for k in stale {
                inner.remove(&k);
            }
            while !inner.map.is_empty()
                && (inner.map.len() >= self.max_entries
                    || inner.bytes + body.len() > self.max_bytes)
            {
                let oldest = inner
                    .map
                    .iter()
                    .min_by_key(|(_, (_, used))| *used)
                    .map(|(k, _)| k.clone());
                match oldest {
                    Some(k) => inner.remove(&k),
                    None => break,
                }
            }
            inner.tick += 1;
            let tick = inner.tick;
            inner.bytes += body.len();
            if let Some((old, _)) = inner.map.insert(key, (body.clone(), tick)) {
                // Another worker made the same body meanwhile.
                inner.bytes -= old.len();
            }
        }
        Ok(Some(body))
    }

    /// Bodies and bytes held now.
    #[cfg(test)]
    pub(crate) fn usage(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.map.len(), inner.bytes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere cannot leave the map inconsistent: every update is whole.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn remove(&mut self, key: &Key) {
        if let Some((body, _)) = self.map.remove(key) {
            self.bytes -= body.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn negotiates_by_q_values() {
        let cases: &[(Option<&str>, Option<Coding>)] = &[
            (None, None),
            (Some(""), None),
            (Some("gzip"), Some(Coding::Gzip)),
            (Some("gzip, deflate, br"), Some(Coding::Br)),
            (Some("br;q=0.5, gzip"), Some(Coding::Gzip)),
            (Some("br;q=1.0, gzip;q=0.999"), Some(Coding::Br)),
            (Some("gzip;q=0.8, br;q=0.8"), Some(Coding::Br)),
            (Some("br;q=0, gzip;q=0"), None),
            (Some("*"), Some(Coding::Br)),
            (Some("*;q=0.5, br;q=0.1"), Some(Coding::Gzip)),
            (Some("*;q=0"), None),
            (Some("identity"), None),
            (Some("x-gzip"), Some(Coding::Gzip)),
            (Some("BR ; Q=0.5 , GZIP;q=0.4"), Some(Coding::Br)),
            (Some("br;q=1.5, gzip"), Some(Coding::Gzip)),
            (Some("br;q=0.1234, gzip;q=0.1"), Some(Coding::Gzip)),
            (Some("br;q=abc"), None),
            (Some("deflate, compress"), None),
        ];
        for (header, want) in cases {
            assert_eq!(negotiate(*header, &ALL), *want, "{header:?}");
        }
        assert_eq!(
            negotiate(Some("br, gzip"), &[Coding::Gzip]),
            Some(Coding::Gzip)
        );
    }

    #[test]
    fn what_is_worth_compressing() {
        let cases = [
            ("text/html; charset=utf-8", 64 * 1024, false, true),
            ("text/css", 2000, false, true),
            ("application/json", 5000, false, true),
            ("application/javascript", 5000, false, true),
            ("image/svg+xml; charset=utf-8", 5000, false, true),
            ("application/ld+json", 5000, false, true),
            ("text/plain", 1023, false, false),
            ("text/plain", MAX_SIZE + 1, false, false),
            ("text/plain", 5000, true, false),
            ("image/png", 5000, false, false),
            ("application/gzip", 5000, false, false),
            ("video/mp4", 5000, false, false),
            ("font/woff2", 5000, false, false),
            ("application/octet-stream", 5000, false, false),
        ];
        for (ct, size, range, want) in cases {
            assert_eq!(worth(ct, size, range), want, "{ct} {size} {range}");
        }
    }

    #[test]
    fn each_encoding_has_its_own_tag() {
        assert_eq!(etag("\"6650a.1f-400\"", Coding::Br), "\"6650a.1f-400-br\"");
        assert_eq!(
            etag("\"6650a.1f-400\"", Coding::Gzip),
            "\"6650a.1f-400-gz\""
        );
        assert_ne!(etag("\"x\"", Coding::Br), etag("\"x\"", Coding::Gzip));
    }

    #[test]
    fn encodings_round_trip() {
        let text = "the quick brown fox jumps over the lazy dog\n".repeat(500);
        let gz = encode(Coding::Gzip, text.as_bytes());
        let br = encode(Coding::Br, text.as_bytes());
        assert!(gz.len() < text.len() / 10 && br.len() < text.len() / 10);
        let mut back = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, text);
        let mut back = Vec::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, text.as_bytes());
    }

    #[test]
    fn the_step_for_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "compress me ".repeat(400)).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        let tag = crate::http::conditional::Validators::of(&meta).etag;
        let cache = Cache::new(CACHE_BYTES, CACHE_ENTRIES);
        let ask = |accept: Option<&str>, range: bool, ct: &str| {
            let mut f = File::open(&path).unwrap();
            let make = |coding| encode_file(&mut f, coding, &tag);
            encoded(&cache, &path, &tag, ct, meta.len(), accept, range, make).unwrap()
        };
        let text = "text/plain; charset=utf-8";
        let br = ask(Some("gzip, br"), false, text).unwrap();
        assert_eq!((br.coding, br.etag.ends_with("-br\"")), (Coding::Br, true));
        assert!(br.body.len() < 200);
        let gz = ask(Some("gzip"), false, text).unwrap();
        assert_eq!(gz.coding, Coding::Gzip);
        assert!(ask(Some("gzip"), true, text).is_none(), "a range");
        assert!(ask(None, false, text).is_none(), "no Accept-Encoding");
        assert!(ask(Some("gzip"), false, "image/png").is_none());
        assert_eq!(cache.usage().0, 2);
        assert!(
            Arc::ptr_eq(&ask(Some("br"), false, text).unwrap().body, &br.body),
            "cached"
        );
    }

    #[test]
    fn a_file_changed_while_read_is_not_encoded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "x".repeat(4000)).unwrap();
        let tag = crate::http::conditional::Validators::of(&std::fs::metadata(&path).unwrap()).etag;
        let mut f = File::open(&path).unwrap();
        assert!(encode_file(&mut f, Coding::Gzip, &tag).unwrap().is_some());
        let mut f = File::open(&path).unwrap();
        assert!(
            encode_file(&mut f, Coding::Gzip, "\"other\"")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn the_cache_is_bounded_and_never_stale() {
        let cache = Cache::new(1000, 3);
        let made = Cell::new(0);
        let get = |path: &str, tag: &str, size: usize| {
            cache
                .get_or_insert(Path::new(path), tag, Coding::Br, || {
                    made.set(made.get() + 1);
                    Ok(Some(vec![b'x'; size]))
                })
                .unwrap()
                .unwrap()
        };
        get("/a", "\"1\"", 100);
        get("/a", "\"1\"", 100);
        assert_eq!(made.get(), 1, "a repeated request costs nothing");
        // A new version replaces the old one.
        get("/a", "\"2\"", 100);
        assert_eq!(made.get(), 2);
        assert_eq!(cache.usage(), (1, 100));
        get("/b", "\"1\"", 100);
        get("/c", "\"1\"", 100);
        get("/a", "\"2\"", 100); // used again: /b is now the oldest
        get("/d", "\"1\"", 100);
        assert_eq!(cache.usage(), (3, 300));
        let before = made.get();
        get("/a", "\"2\"", 100);
        assert_eq!(made.get(), before, "the most recently used stayed");
        get("/b", "\"1\"", 100);
        assert_eq!(made.get(), before + 1, "the least recently used went");
        // Bytes bound too; a body larger than the cache is served, not kept.
        get("/big", "\"1\"", 900);
        assert!(cache.usage().1 <= 1000);
        assert_eq!(get("/huge", "\"1\"", 5000).len(), 5000);
        assert!(cache.usage().1 <= 1000);
        // A file that changed while read: nothing kept.
        let none = cache
            .get_or_insert(Path::new("/e"), "\"1\"", Coding::Gzip, || Ok(None))
            .unwrap();
        assert!(none.is_none());
    }
}
