//! serve's JSON folder listing, asked for with `Accept: application/json` on a folder URL:
//! `{"path", "entries": [{"name", "type", "size", "modified"}], "truncated"}`. A folder is
//! then walked without scraping HTML; anything else in JSON is not a listing.
//!
//! Each listing is kept for the next run (`DIR/.fetch-mirror/listings/`, one file per
//! folder URL: its ETag, the URL, the body), so that run can ask with `If-None-Match` and,
//! on a 304, walk the folder from the copy: an unchanged folder costs one small answer.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::local::{self, STATE_DIR};

/// The largest listing read, in bytes (about 100,000 entries).
pub const MAX_LISTING: u64 = 16 << 20;
/// The folder under the state folder where listings are kept. (Where records are files
/// beside, under the same state folder, a site's own `listings/` folder could share a name
/// with a kept listing only by holding a file named as its hash; each side checks what it
/// reads, so the worst is one more full request.)
const KEPT: &str = "listings";
/// The longest first two lines (ETag, URL) of a kept listing.
const MAX_HEAD: u64 = 16 * 1024;

/// A file's size and modification time as a listing shows them: a copy on disk with the
/// same two (and its record from the run that saved it) is unchanged, and needs no request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub size: u64,
    /// Whole seconds since the epoch.
    pub modified: u64,
}

/// What a listing says besides its entries.
#[derive(Debug, PartialEq, Eq)]
pub struct Walked {
    /// Entries the server did not list (its `truncated`).
    pub truncated: u64,
}

/// Reads serve's JSON listing from `input` as it arrives, giving each entry to `entry` as a
/// reference relative to the folder (`a%20b.txt`, `sub/`) with the file's listed size and
/// time (none for a folder, or when the fields are not as serve writes them). Nothing but
/// one entry is held, however large the folder. `None` when the JSON does not have serve's
/// shape (the entries before the fault have been given); an error when reading failed.
pub fn read(
    input: impl Read,
    mut entry: impl FnMut(String, Option<Stamp>),
) -> io::Result<Option<Walked>> {
    use serde::Deserializer as _;
    let input = BufReader::new(input.take(MAX_LISTING));
    let mut de = serde_json::Deserializer::from_reader(input);
    let walked = (&mut de)
        .deserialize_map(Top { entry: &mut entry })
        .and_then(|w| de.end().map(|()| w));
    match walked {
        Ok(w) => Ok(Some(w)),
        // The connection failed: not the listing's fault.
        Err(e) if e.is_io() => Err(e.into()),
        Err(_) => Ok(None),
    }
}

/// The listing's object: `path` (a string), `entries`, `truncated`; other keys ignored.
struct Top<'f, F> {
    entry: &'f mut F,
}

impl<'de, F: FnMut(String, Option<Stamp>)> Visitor<'de> for Top<'_, F> {
    type Value = Walked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("serve's folder listing")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Walked, A::Error> {
        let (mut path, mut entries, mut truncated) = (false, false, 0);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "path" => path = map.next_value::<serde_json::Value>()?.is_string(),
                "entries" => {
                    map.next_value_seed(Entries {
                        entry: &mut *self.entry,
                    })?;
                    entries = true;
                }
                "truncated" => {
                    truncated = map.next_value::<serde_json::Value>()?.as_u64().unwrap_or(0);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if path && entries {
            Ok(Walked { truncated })
        } else {
            Err(de::Error::custom("not a listing"))
        }
    }
}

/// The `entries` array, read one entry at a time.
struct Entries<'f, F> {
    entry: &'f mut F,
}

impl<'de, F: FnMut(String, Option<Stamp>)> DeserializeSeed<'de> for Entries<'_, F> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(String, Option<Stamp>)> Visitor<'de> for Entries<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(e) = seq.next_element::<serde_json::Value>()? {
            match reference(&e) {
                Err(()) => return Err(de::Error::custom("not an entry")),
                Ok(None) => {}
                Ok(Some((r, stamp))) => (self.entry)(r, stamp),
            }
        }
        Ok(())
    }
}

/// One entry (`{"name", "type", "size", "modified"}`) as a reference and its stamp;
/// `Ok(None)` for a name that is no file's (`.`, `..`, empty); `Err` when it is not an
/// entry of serve's.
fn reference(e: &serde_json::Value) -> Result<Option<(String, Option<Stamp>)>, ()> {
    let name = e.get("name").and_then(|n| n.as_str()).ok_or(())?;
    let dir = match e.get("type").and_then(|t| t.as_str()).ok_or(())? {
        "dir" => true,
        // A file, a symlink or anything else: fetched as a file, as a browser would.
        _ => false,
    };
    if name.is_empty() || name == "." || name == ".." {
        return Ok(None);
    }
    // A name is one segment: its bytes percent-encoded, so `/`, `?` and `#` stay in it.
    let mut r = shared::percent_encode(name.as_bytes(), shared::Keep::Segment);
    if dir {
        r.push('/');
    }
    // A name with a colon would read as a scheme (`a:b.txt`, `mailto:x`): `./` first.
    if r.contains(':') {
        r.insert_str(0, "./");
    }
    let size = e.get("size").and_then(|s| s.as_u64());
    let modified = e.get("modified").and_then(|m| m.as_str()).and_then(seconds);
    let stamp = match (dir, size, modified) {
        (false, Some(size), Some(modified)) => Some(Stamp { size, modified }),
        _ => None,
    };
    Ok(Some((r, stamp)))
}

/// Copies what is read from the inner reader into a kept listing's `.part` as it passes;
/// a write that fails only stops the copy.
struct Tee<'k, R> {
    inner: R,
    keeper: Option<&'k mut Keeper>,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(k) = self.keeper.as_deref_mut() {
            k.write(&buf[..n]);
        }
        Ok(n)
    }
}

/// Reads a listing of the folder URL `url` that came with `etag` through `read`, keeping
/// it for the next run as it passes (kept only when `read` found serve's listing whole).
pub fn read_keeping<T>(
    root: &Path,
    url: &str,
    etag: &str,
    input: impl Read,
    read: impl FnOnce(&mut dyn Read) -> io::Result<Option<T>>,
) -> io::Result<Option<T>> {
    let mut keeper = Some(etag)
        .filter(|e| !e.is_empty())
        .and_then(|e| Keeper::start(root, url, e).ok());
    let mut tee = Tee {
        inner: input,
        keeper: keeper.as_mut(),
    };
    let got = read(&mut tee);
    if let Some(k) = keeper {
        k.finish(matches!(got, Ok(Some(_))));
    }
    got
}

/// A listing kept by an earlier run, for the folder URL `url`.
pub struct Kept {
    pub etag: String,
    file: BufReader<File>,
}

/// The name of `url`'s kept listing, relative to DIR: a stable hash (64-bit FNV-1a) of the
/// URL, since a URL can be longer than a name may be; the URL inside the file settles a
/// collision.
pub fn kept_path(url: &str) -> PathBuf {
    let hash = url.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    Path::new(STATE_DIR).join(KEPT).join(format!("{hash:016x}"))
}

/// The listing an earlier run kept for `url`, if any (its ETag read; the body left for
/// [`Kept::body`], needed only when the server answers 304).
pub fn kept(root: &Path, url: &str) -> Option<Kept> {
    let file = File::open(root.join(kept_path(url))).ok()?;
    let mut file = BufReader::new(file);
    let mut head = String::new();
    for _ in 0..2 {
        (&mut file).take(MAX_HEAD).read_line(&mut head).ok()?;
    }
    let (etag, rest) = head.split_once('\n')?;
    (rest.strip_suffix('\n')? == url && !etag.is_empty()).then(|| Kept {
        etag: etag.to_string(),
        file,
    })
}

impl Kept {
    /// The kept body, to read.
    pub fn body(self) -> impl Read {
        self.file
    }
}

/// A listing being kept for the next run, written as it is read: `.part`, renamed when
/// the listing was read whole and was serve's.
pub struct Keeper {
    part: PathBuf,
    file: PathBuf,
    out: Option<File>,
}

impl Keeper {
    /// Starts keeping the listing of `url`, which came with `etag`.
    pub fn start(root: &Path, url: &str, etag: &str) -> io::Result<Keeper> {
        let file = local::make_parents(root, &kept_path(url))?;
        let (part, mut out) = local::new_part(&file)?;
        out.write_all(format!("{etag}\n{url}\n").as_bytes())?;
        Ok(Keeper {
            part,
            file,
            out: Some(out),
        })
    }

    fn write(&mut self, bytes: &[u8]) {
        if let Some(out) = &mut self.out
            && out.write_all(bytes).is_err()
        {
            self.out = None;
        }
    }

    /// Gives the kept listing its name if all of it was written and `whole`; else drops it.
    pub fn finish(mut self, whole: bool) {
        let written = self.out.take().is_some();
        if !(whole && written && std::fs::rename(&self.part, &self.file).is_ok()) {
            let _ = std::fs::remove_file(&self.part);
        }
    }
}

/// `1970-01-02T03:04:05Z` (the only form serve writes: UTC, whole seconds) as seconds since
/// the epoch; anything else, or a date before 1970, is `None`.
fn seconds(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let shape = b.len() == 20
        && [
            (4, b'-'),
            (7, b'-'),
            (10, b'T'),
            (13, b':'),
            (16, b':'),
            (19, b'Z'),
        ]
        .iter()
        .all(|&(i, c)| b[i] == c);
    if !shape {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u64> {
        b[from..to].iter().try_fold(0u64, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u64::from(c - b'0'))
        })
    };
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, s) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if y < 1970 || !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60
    {
        return None;
    }
    // Howard Hinnant's days_from_civil (the inverse of serve's `civil_from_days`): years
    // start in March, so the leap day falls last; 400-year eras of 146,097 days.
    let y = if mo <= 2 { y - 1 } else { y };
    let (era, yoe) = (y / 400, y % 400);
    let mp = (mo + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(days * 86_400 + h * 3600 + mi * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listing read whole: references and stamps, and what else it said.
    fn parse(body: &[u8]) -> Option<(Vec<String>, Vec<Option<Stamp>>, Walked)> {
        let (mut refs, mut stamps) = (Vec::new(), Vec::new());
        let walked = read(body, |r, s| {
            refs.push(r);
            stamps.push(s);
        })
        .unwrap()?;
        Some((refs, stamps, walked))
    }

    #[test]
    fn serve_listings_become_references() {
        let body = br#"{"path":"/x/","entries":[{"name":"sub","type":"dir","size":0,"modified":"1970-01-02T00:00:00Z"},{"name":"a b#?%.txt","type":"file","size":3,"modified":"1970-01-01T00:00:00Z"},{"name":"caf\u00e9","type":"file","size":1,"modified":"x"},{"name":"..","type":"dir","size":0,"modified":"x"},{"name":"mailto:x","type":"dir","size":0,"modified":"x"}],"truncated":2}"#;
        assert_eq!(
            parse(body),
            Some((
                vec![
                    "sub/".into(),
                    "a%20b%23%3F%25.txt".into(),
                    "caf%C3%A9".into(),
                    "./mailto:x/".into()
                ],
                vec![
                    None,
                    Some(Stamp {
                        size: 3,
                        modified: 0
                    }),
                    None,
                    None
                ],
                Walked { truncated: 2 }
            ))
        );
    }

    #[test]
    fn other_json_is_not_a_listing() {
        for body in [
            &br#"{"entries":[]}"#[..],
            br#"{"path":"/","entries":[{"name":1}]}"#,
            br#"[1,2]"#,
            b"not json",
        ] {
            assert_eq!(parse(body), None, "{}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn listed_times_in_seconds() {
        let cases = [
            ("1970-01-01T00:00:00Z", Some(0)),
            ("1970-01-02T03:04:05Z", Some(86_400 + 3 * 3600 + 4 * 60 + 5)),
            ("2000-02-29T00:00:00Z", Some(951_782_400)),
            ("2026-11-22T19:14:35Z", Some(1_795_374_875)),
            ("2100-03-01T00:00:00Z", Some(4_107_542_400)),
            ("1969-12-31T23:59:59Z", None),
            ("2026-13-01T00:00:00Z", None),
            ("2026-11-22 19:14:35Z", None),
            ("2026-11-22T19:14:35", None),
            ("+026-11-22T19:14:35Z", None),
            ("2026-11-22T19:14:\u{e9}Z", None),
            ("2026-11-22T19:1\u{e9}5Z", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(seconds(text), want, "{text}");
        }
    }

    #[test]
    fn a_kept_listing_comes_back_for_its_url_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let url = "http://127.0.0.1:8080/a%20b/";
        assert!(kept(root, url).is_none());
        let mut keeper = Keeper::start(root, url, "\"e1\"").unwrap();
        let body = br#"{"path":"/a b/","entries":[]}"#;
        let mut tee = Tee {
            inner: &body[..],
            keeper: Some(&mut keeper),
        };
        assert!(read(&mut tee, |_, _| ()).unwrap().is_some());
        keeper.finish(true);
        let k = kept(root, url).unwrap();
        assert_eq!(k.etag, "\"e1\"");
        let mut again = Vec::new();
        k.body().read_to_end(&mut again).unwrap();
        assert_eq!(again, body);
        // A listing cut short is not kept.
        let other = "http://127.0.0.1:8080/cut/";
        let keeper = Keeper::start(root, other, "\"e2\"").unwrap();
        keeper.finish(false);
        assert!(kept(root, other).is_none());
        assert!(kept(root, "http://127.0.0.1:8080/other/").is_none());
        // A file in its place for another URL (a hash collision) is not taken.
        std::fs::rename(root.join(kept_path(url)), root.join(kept_path("http://x/"))).unwrap();
        assert!(kept(root, "http://x/").is_none());
    }
}
