//! What each page and style sheet linked to when it was last read, with the validator of the
//! copy it was read from, so that an unchanged page (a 304, or its folder's listing showing
//! the copy's size and time) costs no parsing: its links come back from here.
//!
//! Where: one file, `DIR/.fetch-mirror/links`, written afresh by each run (`links.new`,
//! appended to as pages are read, renamed over the old one when the crawl ends), and read by
//! the next: at its start, only an index of where each page's entry starts is built (a hash
//! of the page's path, 8 bytes, and the entry's place, 12: about 40 bytes a page in the
//! table); an entry is read back when its page is visited. One file rather than one per
//! page: creating files is most of what a first run spends in the kernel.
//!
//! An entry names the page's path, its ETag, size and time: it counts only while the copy
//! on disk still has those (else the page is parsed again, as it is when the file is lost,
//! cut short or of another version). Bounded: an entry of more than [`MAX_ENTRY`] bytes is
//! not kept (that page is parsed each time), nor anything past [`MAX_FILE`] in all.

use std::collections::HashMap;
use std::fs::File;
use std::hash::{BuildHasher, RandomState};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use super::links::Links;

/// The file's first bytes (and its format's version).
const MAGIC: &[u8] = b"fetch-mirror-links 1\n";
/// The largest entry kept: about 10,000 links of 100 bytes.
pub const MAX_ENTRY: usize = 1 << 20;
/// The largest file written; past it, pages are parsed again next time.
pub const MAX_FILE: u64 = 256 << 20;
/// The file's name under the state folder.
const NAME: &str = "links";

/// The copy a page's links were read from: its ETag (empty when none), size, and time
/// (whole seconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validator {
    pub etag: String,
    pub size: u64,
    pub mtime: u64,
}

/// The last run's entries (read on demand) and this run's (being written).
pub struct Journal {
    dir: PathBuf,
    old: Option<File>,
    /// Where each page's entry starts in `old`, by a hash of its path: (offset, length).
    index: HashMap<u64, (u64, u32)>,
    hasher: RandomState,
    new: Mutex<Option<Writer>>,
}

struct Writer {
    out: BufWriter<File>,
    written: u64,
}

impl Journal {
    /// Opens the last run's file in the state folder `dir` (none, or not ours: an empty
    /// journal) and starts this run's.
    pub fn open(dir: &Path) -> Journal {
        let hasher = RandomState::new();
        let mut index = HashMap::new();
        let old = File::open(dir.join(NAME))
            .ok()
            .filter(|f| build_index(f, &hasher, &mut index).is_ok());
        if old.is_none() {
            index.clear();
        }
        let new = File::create(dir.join(format!("{NAME}.new")))
            .and_then(|f| {
                let mut out = BufWriter::with_capacity(64 * 1024, f);
                out.write_all(MAGIC)?;
                Ok(Writer {
                    out,
                    written: MAGIC.len() as u64,
                })
            })
            .ok();
        Journal {
            dir: dir.to_path_buf(),
            old,
            index,
            hasher,
            new: Mutex::new(new),
        }
    }

    /// The links recorded for the page `rel` when its copy was `v`; `None` when there is no
    /// such entry (never recorded, lost, or of another copy).
    pub fn get(&self, rel: &Path, v: &Validator) -> Option<Links> {
        let path = rel.to_string_lossy();
        let &(at, len) = self.index.get(&self.hasher.hash_one(&*path))?;
        let mut buf = vec![0; len as usize];
        self.old.as_ref()?.read_exact_at(&mut buf, at).ok()?;
        let (p, got, links) = decode(&buf)?;
        (p == path.as_bytes() && got == *v).then_some(links)
    }

    /// Records the links of the page `rel`, read from the copy `v`, for the next run.
    pub fn put(&self, rel: &Path, v: &Validator, links: &Links) {
        let Some(entry) = encode(rel.to_string_lossy().as_bytes(), v, links) else {
            return;
        };
        let mut new = self.new.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(w) = new.as_mut() else {
            return;
        };
        if w.written + entry.len() as u64 > MAX_FILE {
            return;
        }
        if w.out.write_all(&entry).is_err() {
            // A disk that refuses: the next run parses the pages again.
            *new = None;
            return;
        }
        w.written += entry.len() as u64;
    }

    /// Ends this run's file and puts it in place of the last run's (whose entries for pages
    /// this run did not reach are dropped: they are parsed again when reached).
    pub fn finish(&self) {
        let new = self
            .new
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let done = new.is_some_and(|mut w| w.out.flush().is_ok());
        let fresh = self.dir.join(format!("{NAME}.new"));
        if done {
            let _ = std::fs::rename(&fresh, self.dir.join(NAME));
        } else {
            let _ = std::fs::remove_file(&fresh);
        }
    }
}

/// Reads the file `f` once, noting where each entry starts.
fn build_index(
    f: &File,
    hasher: &RandomState,
    index: &mut HashMap<u64, (u64, u32)>,
) -> io::Result<()> {
    let mut r = BufReader::with_capacity(64 * 1024, f);
    let mut magic = [0; MAGIC.len()];
    r.read_exact(&mut magic)?;
    if magic != MAGIC {
        return Err(io::ErrorKind::InvalidData.into());
    }
    let mut at = MAGIC.len() as u64;
    let mut buf = Vec::new();
    loop {
        let mut len = [0; 4];
        match r.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let len = u32::from_le_bytes(len);
        if len as usize > MAX_ENTRY {
            return Err(io::ErrorKind::InvalidData.into());
        }
        buf.resize(len as usize, 0);
        // A file cut short ends the index at its last whole entry.
        if r.read_exact(&mut buf).is_err() {
            return Ok(());
        }
        let mut d = Decoder(&buf);
        if let Some(path) = d.bytes() {
            let path = String::from_utf8_lossy(path);
            index.insert(hasher.hash_one(&*path), (at + 4, len));
        }
        at += 4 + u64::from(len);
    }
}

/// One entry: its length (4 bytes, little-endian), then the path, the validator, the base,
/// whether the links were cut, and each link with whether it is inline. `None` when it is
/// larger than [`MAX_ENTRY`].
fn encode(path: &[u8], v: &Validator, links: &Links) -> Option<Vec<u8>> {
    let mut e = vec![0; 4];
    put_bytes(&mut e, path);
    put_bytes(&mut e, v.etag.as_bytes());
    e.extend_from_slice(&v.size.to_le_bytes());
    e.extend_from_slice(&v.mtime.to_le_bytes());
    match &links.base {
        Some(b) => {
            e.push(1);
            put_bytes(&mut e, b.as_bytes());
        }
        None => e.push(0),
    }
    e.push(u8::from(links.cut));
    e.extend_from_slice(&(links.refs.len() as u32).to_le_bytes());
    for (r, inline) in links.refs.iter().zip(&links.inline) {
        e.push(u8::from(*inline));
        put_bytes(&mut e, r.as_bytes());
        if e.len() > MAX_ENTRY + 4 {
            return None;
        }
    }
    let len = u32::try_from(e.len() - 4).ok()?;
    e[..4].copy_from_slice(&len.to_le_bytes());
    Some(e)
}

fn put_bytes(e: &mut Vec<u8>, b: &[u8]) {
    e.extend_from_slice(&(b.len() as u32).to_le_bytes());
    e.extend_from_slice(b);
}

/// An entry without its length: the path, the validator, the links. `None` when it is not
/// one this module wrote.
fn decode(buf: &[u8]) -> Option<(&[u8], Validator, Links)> {
    let mut d = Decoder(buf);
    let path = d.bytes()?;
    let etag = String::from_utf8(d.bytes()?.to_vec()).ok()?;
    let size = d.u64()?;
    let mtime = d.u64()?;
    let base = match d.byte()? {
        0 => None,
        _ => Some(String::from_utf8(d.bytes()?.to_vec()).ok()?),
    };
    let cut = d.byte()? != 0;
    let n = d.u32()? as usize;
    // Each link takes at least 5 bytes: a count larger than the rest can hold is a lie.
    if n > d.0.len() / 5 {
        return None;
    }
    let mut links = Links {
        base,
        refs: Vec::with_capacity(n),
        inline: Vec::with_capacity(n),
        cut,
    };
    for _ in 0..n {
        let inline = d.byte()? != 0;
        links
            .refs
            .push(String::from_utf8(d.bytes()?.to_vec()).ok()?);
        links.inline.push(inline);
    }
    d.0.is_empty()
        .then_some((path, Validator { etag, size, mtime }, links))
}

struct Decoder<'a>(&'a [u8]);

impl<'a> Decoder<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }

    fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(refs: &[&str]) -> Links {
        Links {
            base: Some("/b/".into()),
            refs: refs.iter().map(|r| r.to_string()).collect(),
            inline: refs.iter().map(|r| r.ends_with(".css")).collect(),
            cut: false,
        }
    }

    fn v(etag: &str, size: u64) -> Validator {
        Validator {
            etag: etag.into(),
            size,
            mtime: 1_700_000_000,
        }
    }

    #[test]
    fn a_page_gets_its_links_back_only_for_the_copy_they_were_read_from() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path());
        j.put(
            Path::new("a b.html"),
            &v("\"1\"", 10),
            &links(&["x.html", "s.css"]),
        );
        j.put(Path::new("c.html"), &v("", 5), &links(&[]));
        j.finish();
        let j = Journal::open(dir.path());
        let got = j.get(Path::new("a b.html"), &v("\"1\"", 10)).unwrap();
        assert_eq!(got, links(&["x.html", "s.css"]));
        assert_eq!(j.get(Path::new("c.html"), &v("", 5)), Some(links(&[])));
        // Another ETag, another size: parsed again.
        assert_eq!(j.get(Path::new("a b.html"), &v("\"2\"", 10)), None);
        assert_eq!(j.get(Path::new("a b.html"), &v("\"1\"", 11)), None);
        assert_eq!(j.get(Path::new("other.html"), &v("", 5)), None);
        // Not carried over: this run put nothing, so the next has nothing.
        j.finish();
        let j = Journal::open(dir.path());
        assert_eq!(j.get(Path::new("c.html"), &v("", 5)), None);
    }

    #[test]
    fn a_damaged_file_loses_entries_never_gives_wrong_ones() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path());
        j.put(Path::new("a.html"), &v("e", 1), &links(&["one.html"]));
        j.put(Path::new("b.html"), &v("e", 2), &links(&["two.html"]));
        j.finish();
        let file = dir.path().join(NAME);
        let bytes = std::fs::read(&file).unwrap();
        // Cut short: the whole entries before the cut remain.
        std::fs::write(&file, &bytes[..bytes.len() - 3]).unwrap();
        let j = Journal::open(dir.path());
        assert!(j.get(Path::new("a.html"), &v("e", 1)).is_some());
        assert_eq!(j.get(Path::new("b.html"), &v("e", 2)), None);
        drop(j);
        // Not ours at all: nothing.
        std::fs::write(&file, b"something else").unwrap();
        let j = Journal::open(dir.path());
        assert_eq!(j.get(Path::new("a.html"), &v("e", 1)), None);
        // Every shorter prefix of an entry is refused, none read as another entry.
        let first = MAGIC.len() + 4;
        let len = u32::from_le_bytes(bytes[MAGIC.len()..first].try_into().unwrap()) as usize;
        assert!(decode(&bytes[first..first + len]).is_some());
        for cut in first..first + len {
            assert!(decode(&bytes[first..cut]).is_none(), "cut at {cut}");
        }
    }

    #[test]
    fn too_large_an_entry_is_not_kept() {
        let big = "x".repeat(1000);
        let refs: Vec<&str> = std::iter::repeat_n(big.as_str(), MAX_ENTRY / 1000 + 1).collect();
        assert!(encode(b"p", &v("", 0), &links(&refs)).is_none());
        assert!(encode(b"p", &v("", 0), &links(&refs[..10])).is_some());
    }
}
