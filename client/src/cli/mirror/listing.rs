//! serve's JSON folder listing, asked for with `Accept: application/json` on a folder URL:
//! `{"path", "entries": [{"name", "type", "size", "modified"}], "truncated"}`. A folder is
//! then walked without scraping HTML; anything else in JSON is not a listing.
//!
//! Each listing is kept for the next run (`DIR/.fetch-mirror/listings/`, one file per
//! folder URL: its ETag, the URL, the body), so that run can ask with `If-None-Match` and,
//! on a 304, walk the folder from the copy: an unchanged folder costs one small answer.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use super::local::{self, STATE_DIR};
use crate::cli::output::part_path;

/// The largest listing read, in bytes (about 100,000 entries).
pub const MAX_LISTING: u64 = 16 << 20;
/// The folder under the state folder where listings are kept. (Where records are files
/// beside, under the same state folder, a site's own `listings/` folder could share a name
/// with a kept listing only by holding a file named as its hash; each side checks what it
/// reads, so the worst is one more full request.)
const KEPT: &str = "listings";
/// The longest first two lines (ETag, URL) of a kept listing.
const MAX_HEAD: u64 = 16 * 1024;

/// A folder's entries as links relative to the folder (`a%20b.txt`, `sub/`), and how many
/// the server left out.
#[derive(Debug, PartialEq, Eq)]
pub struct Listing {
    /// One reference per entry; a folder's ends in `/`.
    pub refs: Vec<String>,
    /// For each reference, the file's size and time as listed (none for a folder, or when
    /// the entry's fields are not as serve writes them).
    pub stamps: Vec<Option<Stamp>>,
    /// Entries the server did not list (its `truncated`).
    pub truncated: u64,
}

/// A file's size and modification time as a listing shows them: a copy on disk with the
/// same two (and its record from the run that saved it) is unchanged, and needs no request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub size: u64,
    /// Whole seconds since the epoch.
    pub modified: u64,
}

/// The listing in `body`, or `None` when the JSON does not have serve's shape.
pub fn parse(body: &[u8]) -> Option<Listing> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let entries = v.get("entries")?.as_array()?;
    v.get("path")?.as_str()?;
    let mut refs = Vec::with_capacity(entries.len());
    let mut stamps = Vec::with_capacity(entries.len());
    for e in entries {
        let name = e.get("name")?.as_str()?;
        let dir = match e.get("type")?.as_str()? {
            "dir" => true,
            "file" => false,
            // A symlink or anything else: fetched as a file, as a browser would.
            _ => false,
        };
        // A name is one segment: its bytes percent-encoded, so `/`, `?` and `#` stay in it.
        if name.is_empty() || name == "." || name == ".." {
            continue;
        }
        let mut r = shared::percent_encode(name.as_bytes(), shared::Keep::Segment);
        if dir {
            r.push('/');
        }
        refs.push(r);
        let size = e.get("size").and_then(|s| s.as_u64());
        let modified = e.get("modified").and_then(|m| m.as_str()).and_then(seconds);
        stamps.push(match (dir, size, modified) {
            (false, Some(size), Some(modified)) => Some(Stamp { size, modified }),
            _ => None,
        });
    }
    let truncated = v.get("truncated").and_then(|t| t.as_u64()).unwrap_or(0);
    Some(Listing {
        refs,
        stamps,
        truncated,
    })
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
    /// The kept body.
    pub fn body(self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        self.file.take(MAX_LISTING).read_to_end(&mut body)?;
        Ok(body)
    }
}

/// Keeps `body`, the listing of `url` with its `etag`, for the next run (replaced
/// atomically: `.part`, then renamed).
pub fn keep(root: &Path, url: &str, etag: &str, body: &[u8]) -> io::Result<()> {
    let rel = kept_path(url);
    let file = local::make_parents(root, &rel)?;
    let part = part_path(&file);
    let _ = std::fs::remove_file(&part);
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&part)?;
    let written = out
        .write_all(format!("{etag}\n{url}\n").as_bytes())
        .and_then(|()| out.write_all(body))
        .and_then(|()| std::fs::rename(&part, &file));
    if written.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    written
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

    #[test]
    fn serve_listings_become_references() {
        let body = br#"{"path":"/x/","entries":[{"name":"sub","type":"dir","size":0,"modified":"1970-01-02T00:00:00Z"},{"name":"a b#?%.txt","type":"file","size":3,"modified":"1970-01-01T00:00:00Z"},{"name":"caf\u00e9","type":"file","size":1,"modified":"x"},{"name":"..","type":"dir","size":0,"modified":"x"}],"truncated":2}"#;
        assert_eq!(
            parse(body),
            Some(Listing {
                refs: vec![
                    "sub/".into(),
                    "a%20b%23%3F%25.txt".into(),
                    "caf%C3%A9".into()
                ],
                stamps: vec![
                    None,
                    Some(Stamp {
                        size: 3,
                        modified: 0
                    }),
                    None
                ],
                truncated: 2
            })
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
        keep(root, url, "\"e1\"", b"{\"path\":\"/a b/\"}").unwrap();
        let k = kept(root, url).unwrap();
        assert_eq!(k.etag, "\"e1\"");
        assert_eq!(k.body().unwrap(), b"{\"path\":\"/a b/\"}");
        assert!(kept(root, "http://127.0.0.1:8080/other/").is_none());
        // A file in its place for another URL (a hash collision) is not taken.
        std::fs::rename(root.join(kept_path(url)), root.join(kept_path("http://x/"))).unwrap();
        assert!(kept(root, "http://x/").is_none());
    }
}
