//! The frontier: the URLs still to visit, in the order found, and the set of every URL seen
//! (a hash of its normalized spelling), so that each is visited once.
//!
//! Memory, whatever the site's size: at most [`IN_MEMORY`] queued links are held; past
//! that, new links are appended to an unnamed file (in DIR's state folder, gone when the
//! crawl ends) and read back in order, a batch at a time. What grows with the site is the
//! set of hashes: 8 bytes per URL seen, in a hash table at most half empty after it grows,
//! so at most 18 bytes per URL (about 18 MiB for a million URLs, 72 MiB at the
//! [`MAX_URLS`] cap); the same again per file saved, for the paths claimed.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use shared::{Endpoint, Target};

use super::listing::Stamp;

/// The most URLs one crawl keeps track of; beyond, new links are not followed (said once).
pub const MAX_URLS: usize = 1 << 22;

/// What the crawl's threads share under one lock.
#[derive(Default)]
pub struct Queue {
    pub frontier: Frontier,
    pub seen: HashSet<u64>,
    /// Local paths already written or kept in this run.
    pub claimed: HashSet<u64>,
    /// URLs being visited now: the crawl ends when none are and the frontier is empty.
    pub busy: usize,
    pub full_said: bool,
}

/// Queued links held in memory; the rest wait on disk.
pub const IN_MEMORY: usize = 4096;
/// How much of the file is read back at once.
const BATCH: usize = 256 * 1024;

/// The queue of links to visit, first in first out, spilling to disk past [`IN_MEMORY`].
#[derive(Default)]
pub struct Frontier {
    /// The first links, in memory.
    head: VecDeque<Link>,
    /// The links after them, once the head was full: on disk.
    spill: Option<Spill>,
    /// The folder for the spill file (DIR's state folder); none: the system's.
    dir: Option<std::path::PathBuf>,
    /// Hosts by number, as the links on disk name them.
    /// Each origin: where, and whether over TLS.
    hosts: Vec<(Endpoint, bool)>,
    host_numbers: HashMap<(Endpoint, bool), u32>,
}

/// The links that did not fit in memory, encoded one after another in an unnamed file.
struct Spill {
    file: File,
    /// Encoded links not yet written (written a batch at a time).
    pending: Vec<u8>,
    /// Where the next batch is written.
    end: u64,
    /// Where the next link is read from.
    read: u64,
}

impl Spill {
    fn is_empty(&self) -> bool {
        self.read == self.end && self.pending.is_empty()
    }
}

impl Frontier {
    /// A frontier whose spill file, if needed, goes in `dir`.
    pub fn in_dir(dir: &Path) -> Frontier {
        Frontier {
            dir: Some(dir.to_path_buf()),
            ..Frontier::default()
        }
    }

    /// Queues `link` last.
    pub fn push(&mut self, link: Link) {
        let spilling = self.spill.as_ref().is_some_and(|s| !s.is_empty());
        if !spilling && self.head.len() < IN_MEMORY {
            self.head.push_back(link);
            return;
        }
        if self.spill.is_none() {
            let file = match &self.dir {
                Some(dir) => tempfile::tempfile_in(dir),
                None => tempfile::tempfile(),
            };
            match file {
                Ok(file) => {
                    self.spill = Some(Spill {
                        file,
                        pending: Vec::new(),
                        end: 0,
                        read: 0,
                    });
                }
                // No file to spill to: memory it is (the URL cap still bounds it).
                Err(_) => {
                    self.head.push_back(link);
                    return;
                }
            }
        }
        let host = self.host_number(&link.target.endpoint, link.target.tls);
        let Some(spill) = self.spill.as_mut() else {
            return;
        };
        encode(&mut spill.pending, host, &link);
        if spill.pending.len() >= BATCH
            && let Err(_) = flush(spill)
        {
            // The disk refuses: what is pending stays in memory and is tried again.
        }
    }

    /// Whether no link is queued.
    pub fn is_empty(&self) -> bool {
        self.head.is_empty() && self.spill.as_ref().is_none_or(Spill::is_empty)
    }

    /// The next link, first in first out.
    pub fn pop(&mut self) -> Option<Link> {
        if self.head.is_empty() {
            self.refill();
        }
        self.head.pop_front()
    }

    /// Reads the next batch of links back from disk into the head.
    fn refill(&mut self) {
        let Some(spill) = self.spill.as_mut() else {
            return;
        };
        if spill.read == spill.end {
            // Nothing on disk: whatever is pending is the rest of the queue.
            let pending = std::mem::take(&mut spill.pending);
            spill.read = 0;
            spill.end = 0;
            let _ = spill.file.set_len(0);
            decode_all(&pending, &self.hosts, &mut self.head);
            return;
        }
        let want = (spill.end - spill.read).min(BATCH as u64) as usize;
        let mut buf = vec![0u8; want];
        if spill.file.read_exact_at(&mut buf, spill.read).is_err() {
            // Unreadable: those links are lost, and the crawl goes on without them.
            spill.read = spill.end;
            return;
        }
        // A link longer than the batch: read as much as it needs.
        if let Some(need) = record_len(&buf).filter(|&n| n > buf.len()) {
            let need = need.min((spill.end - spill.read) as usize);
            buf.resize(need, 0);
            if spill.file.read_exact_at(&mut buf, spill.read).is_err() {
                spill.read = spill.end;
                return;
            }
        }
        match decode_all(&buf, &self.hosts, &mut self.head) {
            // Not a link where one should start (the file was damaged): the rest is lost.
            0 => spill.read = spill.end,
            used => spill.read += used as u64,
        }
    }

    fn host_number(&mut self, endpoint: &Endpoint, tls: bool) -> u32 {
        let key = (endpoint.clone(), tls);
        if let Some(&n) = self.host_numbers.get(&key) {
            return n;
        }
        let n = self.hosts.len() as u32;
        self.hosts.push(key.clone());
        self.host_numbers.insert(key, n);
        n
    }
}

/// Writes what is pending at the end of the file.
fn flush(spill: &mut Spill) -> io::Result<()> {
    spill.file.write_all_at(&spill.pending, spill.end)?;
    spill.end += spill.pending.len() as u64;
    spill.pending.clear();
    Ok(())
}

/// The fixed part of an encoded link: its length, host number, depth, inline, whether
/// listed, the listed size and time.
const FIXED: usize = 4 + 4 + 4 + 1 + 1 + 8 + 8;

/// Appends `link` to `out`: the fixed part, then the path's bytes.
fn encode(out: &mut Vec<u8>, host: u32, link: &Link) {
    let path = link.target.path.as_bytes();
    out.extend_from_slice(&((FIXED + path.len()) as u32).to_le_bytes());
    out.extend_from_slice(&host.to_le_bytes());
    out.extend_from_slice(&link.depth.to_le_bytes());
    out.push(u8::from(link.inline));
    out.push(u8::from(link.listed.is_some()));
    let stamp = link.listed.unwrap_or(Stamp {
        size: 0,
        modified: 0,
    });
    out.extend_from_slice(&stamp.size.to_le_bytes());
    out.extend_from_slice(&stamp.modified.to_le_bytes());
    out.extend_from_slice(path);
}

/// The length of the encoded link at the start of `buf`, when its length field is there.
fn record_len(buf: &[u8]) -> Option<usize> {
    Some(u32::from_le_bytes(buf.get(..4)?.try_into().ok()?) as usize)
}

/// Decodes the whole links at the start of `buf` into `into`; returns the bytes used.
fn decode_all(buf: &[u8], hosts: &[(Endpoint, bool)], into: &mut VecDeque<Link>) -> usize {
    let mut at = 0;
    while let Some(len) = record_len(&buf[at..]) {
        let Some(rec) = buf.get(at..at + len).filter(|_| len >= FIXED) else {
            break;
        };
        at += len;
        let u32_at = |i: usize| u32::from_le_bytes(rec[i..i + 4].try_into().unwrap_or_default());
        let u64_at = |i: usize| u64::from_le_bytes(rec[i..i + 8].try_into().unwrap_or_default());
        let (Some((endpoint, tls)), Ok(path)) = (
            hosts.get(u32_at(4) as usize),
            std::str::from_utf8(&rec[FIXED..]),
        ) else {
            continue;
        };
        into.push_back(Link {
            target: Target {
                endpoint: endpoint.clone(),
                path: path.to_string(),
                tls: *tls,
            },
            depth: u32_at(8),
            inline: rec[12] != 0,
            listed: (rec[13] != 0).then(|| Stamp {
                size: u64_at(14),
                modified: u64_at(22),
            }),
        });
    }
    at
}

/// A link found on a page, for the frontier.
pub struct Link {
    pub target: Target,
    /// Links away from the start URL.
    pub depth: u32,
    /// Needed to show the page it is on (`--page-requisites` takes it past `--level`).
    pub inline: bool,
    /// The size and time a JSON listing shows for it.
    pub listed: Option<Stamp>,
}

/// A request path in one spelling: `%xx` in upper case, and unreserved bytes
/// (RFC 3986 §2.3) decoded, so `/%7euser/a%2fb` and `/~user/a%2Fb` are the same URL.
pub fn normalize(path: &str) -> String {
    let b = path.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        let escape = (b[i] == b'%')
            .then(|| {
                let h = b.get(i + 1).copied().and_then(hex)?;
                Some((h, b.get(i + 2).copied().and_then(hex)?))
            })
            .flatten();
        if let Some((h, l)) = escape {
            let v = (h * 16 + l) as u8;
            if v.is_ascii_alphanumeric() || b"-._~".contains(&v) {
                out.push(v as char);
            } else {
                out.push_str(&format!("%{v:02X}"));
            }
            i += 3;
            continue;
        }
        // The target is ASCII: Target::parse encodes everything else.
        out.push(b[i] as char);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(host: &str, i: usize) -> Link {
        let target = Target::parse(&format!("http://{host}/{}/{i}", "x".repeat(i % 700))).unwrap();
        Link {
            target,
            depth: i as u32,
            inline: i.is_multiple_of(3),
            listed: i.is_multiple_of(2).then_some(Stamp {
                size: i as u64,
                modified: 1_000_000 + i as u64,
            }),
        }
    }

    #[test]
    fn the_frontier_keeps_its_order_when_it_spills_to_disk() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = Frontier::in_dir(dir.path());
        let n = IN_MEMORY * 3 + 17;
        let hosts = ["a.test", "b.test:81", "c.test"];
        let mut want = VecDeque::new();
        // Pushes and pops interleaved, as a crawl does.
        let mut got = Vec::new();
        for i in 0..n {
            let l = link(hosts[i % 3], i);
            want.push_back((l.target.to_string(), l.depth, l.inline, l.listed));
            f.push(l);
            if i.is_multiple_of(5) {
                got.extend(f.pop());
            }
        }
        assert!(f.spill.is_some(), "more than IN_MEMORY links spill");
        assert!(f.head.len() <= IN_MEMORY);
        while let Some(l) = f.pop() {
            got.push(l);
        }
        let got: Vec<_> = got
            .into_iter()
            .map(|l| (l.target.to_string(), l.depth, l.inline, l.listed))
            .collect();
        assert_eq!(got, Vec::from(want));
        // Empty, then used again.
        f.push(link("a.test", 1));
        assert_eq!(f.pop().unwrap().depth, 1);
        assert!(f.pop().is_none());
    }

    #[test]
    fn urls_have_one_spelling() {
        let cases = [
            ("/a", "/a"),
            ("/%7euser/", "/~user/"),
            ("/a%2fb", "/a%2Fb"),
            ("/%41%42c", "/ABc"),
            ("/caf%c3%a9", "/caf%C3%A9"),
            ("/100%", "/100%"),
            ("/x?q=%3d", "/x?q=%3D"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input), want, "{input}");
        }
    }
}
