//! Directory listings: an HTML page for people and JSON for scripts, listing every visible
//! entry (memory grows with the entries, a few dozen bytes each, never with a cap that hides
//! some). Sorted by name ([`natural`]: as a file manager does, `file 2` before `file 10`),
//! size or modification time, either way (`?sort=size&order=desc`), folders always first,
//! ties broken by name, then the exact bytes, so the same query always gives the same bytes.
//! The page has a breadcrumb, a parent link, clickable column headers, an icon for each
//! entry's kind (inline SVG drawn once, [`ICONS`]: no font needed), a dark theme that follows
//! `prefers-color-scheme`, and fits a phone; it uses no external asset. Its ETag ([`etag`])
//! is derived from what it lists.
//! The body depends only on the folder's contents and the query (no clock).

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::UNIX_EPOCH;

use sha2::{Digest, Sha256};
use shared::{Keep, bytes_words, json_string, percent_encode};

use crate::http::clock;
use crate::jail::Jail;

/// One entry of a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name as bytes (Unix names need not be UTF-8).
    pub name: Vec<u8>,
    /// True for a folder (or a link to one).
    pub dir: bool,
    /// Size in bytes (0 for folders).
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub modified: u64,
    /// A file's version, to look its digest up (`None` for folders).
    pub key: Option<crate::digest::Key>,
    /// Its SHA-256, when known (the JSON listing's `sha256`); never computed for a listing.
    pub sha256: Option<Vec<u8>>,
}

/// The visible entries of `dir` (canonical, under the canonical `root`), all of them, in
/// no particular order. Hidden names are skipped unless `jail.hidden`; links are followed,
/// and those that lead outside the root (unless `jail.follow_symlinks`) or nowhere are
/// skipped, since following them would answer 404; so are FIFOs, sockets and devices.
/// These are browsing's rules, which folder downloads follow too.
pub fn entries(root: &Path, dir: &Path, jail: Jail) -> io::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for item in fs::read_dir(dir)? {
        let Ok(item) = item else { continue };
        let name = item.file_name().as_bytes().to_vec();
        if !jail.hidden && name.first() == Some(&b'.') && name != b".well-known" {
            continue;
        }
        let path = item.path();
        let Ok(file_type) = item.file_type() else {
            continue;
        };
        if file_type.is_symlink() && !jail.follow_symlinks {
            match fs::canonicalize(&path) {
                Ok(real) if real.starts_with(root) => {}
                _ => continue,
            }
        }
        let Ok(meta) = fs::metadata(&path) else {
            continue;
        };
        if !meta.is_dir() && !meta.is_file() {
            continue;
        }
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        entries.push(Entry {
            name,
            dir: meta.is_dir(),
            size: if meta.is_dir() { 0 } else { meta.len() },
            modified,
            key: (!meta.is_dir()).then(|| crate::digest::Key::of(&meta)),
            sha256: None,
        });
    }
    Ok(entries)
}

/// What a listing is sorted by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Key {
    /// By name in [`natural`] order (the default).
    #[default]
    Name,
    /// By size.
    Size,
    /// By modification time.
    Modified,
}

/// A listing's order: a key and a direction. Folders come first either way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sort {
    /// The key.
    pub key: Key,
    /// Descending (`order=desc`).
    pub desc: bool,
}

impl Sort {
    /// Reads `sort=name|size|mtime` and `order=asc|desc` from a query string (without the
    /// `?`); anything else, or nothing, is the default (by name, ascending).
    pub fn from_query(query: Option<&str>) -> Sort {
        let mut sort = Sort::default();
        for pair in query.unwrap_or("").split('&') {
            match pair.split_once('=') {
                Some(("sort", "name")) => sort.key = Key::Name,
                Some(("sort", "size")) => sort.key = Key::Size,
                Some(("sort", "mtime" | "modified" | "time")) => sort.key = Key::Modified,
                Some(("order", "asc")) => sort.desc = false,
                Some(("order", "desc")) => sort.desc = true,
                _ => {}
            }
        }
        sort
    }

    /// The query that asks for this order (empty for the default), for links.
    pub fn query(self) -> String {
        if self == Sort::default() {
            return String::new();
        }
        let key = match self.key {
            Key::Name => "name",
            Key::Size => "size",
            Key::Modified => "mtime",
        };
        let order = if self.desc { "desc" } else { "asc" };
        format!("?sort={key}&order={order}")
    }
}

/// Sorts `entries`: folders first, then by the key (either way), then by name in
/// [`natural`] order, which is total: the same entries always come in the same order,
/// whatever order the file system gave them in.
pub fn sort(entries: &mut [Entry], sort: Sort) {
    let by_name = |a: &Entry, b: &Entry| natural(&a.name, &b.name);
    entries.sort_by(|a, b| {
        let key = match sort.key {
            Key::Name => by_name(a, b),
            Key::Size => a.size.cmp(&b.size).then_with(|| by_name(a, b)),
            Key::Modified => a.modified.cmp(&b.modified).then_with(|| by_name(a, b)),
        };
        b.dir
            .cmp(&a.dir)
            .then(if sort.desc { key.reverse() } else { key })
    });
}

/// Compares two names as a file manager orders them, the same on every machine (no
/// locale): `file 2.txt` before `file 10.txt`, `apple` before `Banana`.
///
/// Three levels, each deciding only when the one before ties:
/// 1. The names as units: a run of ASCII digits is one unit, compared with another run by
///    its value (any length: `99…9` before `100…0`) and placed where the digit `0` is among
///    other characters; any other character is folded ([`fold`]: lower case, a Latin letter
///    with a diacritic as its base letter, `ß` as `ss`, combining marks ignored) and
///    compared by code point; bytes that are not UTF-8 come after every character.
/// 2. Leading zeros: at the first run whose value ties but whose length does not, the
///    shorter first (`a1`, `a01`, `a001`). Deciding this after the whole name keeps equal
///    numbers together: `x01.txt` before `x1.zip`.
/// 3. The bytes, so only equal names tie (`A.txt` before `a.txt`).
pub fn natural(a: &[u8], b: &[u8]) -> Ordering {
    // Equal bytes make equal units, so the comparison starts where the names differ, backed
    // up to where a unit starts for sure: after an ASCII byte that is not a digit (a run of
    // digits or a character cut there would compare as something else). Names in one folder
    // often share a long prefix; this keeps sorting them as fast as comparing bytes.
    let mut start = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    while start > 0 && (a[start - 1].is_ascii_digit() || !a[start - 1].is_ascii()) {
        start -= 1;
    }
    let (a, b) = (&a[start..], &b[start..]);
    let (mut x, mut y) = (Units::new(a), Units::new(b));
    let mut zeros = Ordering::Equal;
    loop {
        let order = match (x.next(), y.next()) {
            (None, None) => return zeros.then_with(|| a.cmp(b)),
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(Unit::Digits(m)), Some(Unit::Digits(n))) => {
                let (mv, nv) = (trim_zeros(m), trim_zeros(n));
                let value = mv.len().cmp(&nv.len()).then_with(|| mv.cmp(nv));
                if zeros.is_eq() {
                    zeros = m.len().cmp(&n.len());
                }
                value
            }
            (Some(p), Some(q)) => p.rank().cmp(&q.rank()),
        };
        if order.is_ne() {
            return order;
        }
    }
}

/// A run of digits without its leading zeros (empty for zero).
fn trim_zeros(run: &[u8]) -> &[u8] {
    let start = run.iter().position(|&d| d != b'0').unwrap_or(run.len());
    &run[start..]
}

/// One unit of a name, as [`natural`] compares them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit<'a> {
    /// A whole run of ASCII digits.
    Digits(&'a [u8]),
    /// A folded character, or [`NOT_UTF8`] plus a byte that is not UTF-8.
    Char(u32),
}

/// Where bytes that are not UTF-8 rank: after every character.
const NOT_UTF8: u32 = 0x11_0000;

impl Unit<'_> {
    /// The rank against a unit of the other kind: a run of digits ranks where `0` does
    /// (no character ranks there: every digit is in a run).
    fn rank(self) -> u32 {
        match self {
            Unit::Digits(_) => u32::from(b'0'),
            Unit::Char(c) => c,
        }
    }
}

/// The units of a name, in order, made as they are compared (no allocation).
struct Units<'a> {
    rest: &'a [u8],
    /// What the last character folded to (at most 3 lower-case characters, each to at most
    /// 2), given out before reading on.
    queue: [u32; 6],
    head: usize,
    len: usize,
}

impl<'a> Units<'a> {
    fn new(name: &'a [u8]) -> Units<'a> {
        Units {
            rest: name,
            queue: [0; 6],
            head: 0,
            len: 0,
        }
    }
}

impl<'a> Iterator for Units<'a> {
    type Item = Unit<'a>;

    fn next(&mut self) -> Option<Unit<'a>> {
        // A loop because a combining mark folds to nothing.
        loop {
            if self.head < self.len {
                self.head += 1;
                return Some(Unit::Char(self.queue[self.head - 1]));
            }
            let &first = self.rest.first()?;
            if first.is_ascii_digit() {
                let end = self
                    .rest
                    .iter()
                    .position(|b| !b.is_ascii_digit())
                    .unwrap_or(self.rest.len());
                let (run, rest) = self.rest.split_at(end);
                self.rest = rest;
                return Some(Unit::Digits(run));
            }
            if first.is_ascii() {
                self.rest = &self.rest[1..];
                return Some(Unit::Char(u32::from(first.to_ascii_lowercase())));
            }
            // At most 4 bytes make one character; the first is the one to decode.
            let head = &self.rest[..self.rest.len().min(4)];
            let valid = match std::str::from_utf8(head) {
                Ok(s) => s,
                Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or(""),
            };
            let Some(c) = valid.chars().next() else {
                self.rest = &self.rest[1..];
                return Some(Unit::Char(NOT_UTF8 + u32::from(first)));
            };
            self.rest = &self.rest[c.len_utf8()..];
            (self.head, self.len) = (0, 0);
            for lower in c.to_lowercase() {
                for &f in fold(lower).iter().flatten() {
                    self.queue[self.len] = u32::from(f);
                    self.len += 1;
                }
            }
        }
    }
}

/// Base letters of U+00E0..=U+017F (lower case), `.` where a letter stays itself: the
/// Latin-1 and Latin Extended-A letters, which cover the languages of western, central and
/// northern Europe.
const LATIN_BASE: &[u8; 160] = b"\
aaaaaa.ceeeeiiiidnooooo.ouuuuy.y.a.a.a.c.c.c.c.d.d.e.e.e.e.e.g.g\
.g.g.h.h.i.i.i.i.i...j.kk.l.l.l.l.l.n.n.nn.n.o.o.o...r.r.r.s.s.s\
.s.t.t.t.u.u.u.u.u.u.w.y..z.z.zs";

/// What a lower-case character counts as when names are compared: a Latin letter with a
/// diacritic is its base letter (`é` is `e`, `ł` is `l`), a ligature its two letters
/// (`ß` is `ss`, `æ` is `ae`), a combining mark nothing (so `é` written as `e` and U+0301
/// ties with `é`); anything else itself.
fn fold(c: char) -> [Option<char>; 2] {
    match c {
        '\u{300}'..='\u{36f}' => [None, None],
        '\u{df}' => [Some('s'), Some('s')],
        '\u{e6}' => [Some('a'), Some('e')],
        '\u{153}' => [Some('o'), Some('e')],
        '\u{133}' => [Some('i'), Some('j')],
        '\u{e0}'..='\u{17f}' => match LATIN_BASE[c as usize - 0xe0] {
            b'.' => [Some(c), None],
            base => [Some(char::from(base)), None],
        },
        c => [Some(c), None],
    }
}

/// Everything about a listing page besides its entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// The folder's URL path, decoded, ending in `/`.
    pub url_path: String,
    /// The order.
    pub sort: Sort,
    /// Show the upload form (`--upload`).
    pub upload: bool,
    /// Link the folder's archives (`--archive`).
    pub archive: bool,
    /// The column headers are links that sort.
    pub sortable: bool,
    /// `--watch`: the live-reload script goes before `</body>` (`crate::reload`).
    pub live: bool,
}

/// A strong ETag for a listing: a digest of everything the body is made of (the page's
/// settings, the format, and each entry's name, kind, size and time), so it changes exactly
/// when the bytes would.
pub fn etag(page: &Page, json: bool, entries: &[Entry]) -> String {
    let mut h = Sha256::new();
    h.update(if json { b"json\0" } else { b"html\0" });
    h.update(page.url_path.as_bytes());
    h.update([
        0,
        page.upload as u8,
        page.archive as u8,
        page.sortable as u8,
        // The script is in HTML listings only.
        (page.live && !json) as u8,
    ]);
    h.update(page.sort.query().as_bytes());
    for e in entries {
        h.update((e.name.len() as u64).to_le_bytes());
        h.update(&e.name);
        h.update([e.dir as u8]);
        h.update(e.size.to_le_bytes());
        h.update(e.modified.to_le_bytes());
        if let (true, Some(d)) = (json, &e.sha256) {
            // The JSON carries it: a digest that became known changes the bytes.
            h.update(b"\x01");
            h.update(d);
        }
    }
    let digest = h.finalize();
    let mut tag = String::from("\"L");
    for b in &digest[..16] {
        let _ = write!(tag, "{b:02x}");
    }
    tag.push('"');
    tag
}

const STYLE: &str = "\
:root{color-scheme:light dark;--fg:#0f172a;--bg:#fff;--alt:#f1f5f9;--link:#2563eb;--dim:#64748b;
--folder:#d97706;--text:#2563eb;--image:#059669;--archive:#9333ea;--audio:#db2777;--video:#dc2626}
@media (prefers-color-scheme:dark){:root{--fg:#e2e8f0;--bg:#0f172a;--alt:#1e293b;--link:#93c5fd;--dim:#94a3b8;
--folder:#fbbf24;--text:#93c5fd;--image:#34d399;--archive:#c084fc;--audio:#f472b6;--video:#f87171}}
body{font:15px/1.5 system-ui,sans-serif;margin:1.5rem auto;max-width:56rem;padding:0 1rem;color:var(--fg);background:var(--bg)}
h1{font-size:1.25rem;word-break:break-all}h1 a{color:inherit}
table{border-collapse:collapse;width:100%}th,td{padding:.3rem .6rem;text-align:left}
td.n{word-break:break-all}td.s,th.s{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.m{white-space:nowrap;color:var(--dim)}tr:nth-child(even){background:var(--alt)}
a{color:var(--link);text-decoration:none}a:hover{text-decoration:underline}
th button,form.dl button{background:none;border:0;padding:0;font:inherit;color:var(--link);cursor:pointer}
th button{color:inherit;font-weight:bold}th form{margin:0}.sprite{display:none}
.n svg{width:1.2em;height:1.2em;vertical-align:-.25em;margin-right:.45em;color:var(--dim)}
nav,form{margin:.75rem 0}progress{width:12rem;vertical-align:middle}
@media (max-width:40rem){body{margin:.5rem auto;padding:0 .5rem}.m{display:none}}
";

const UPLOAD_SCRIPT: &str = "\
<script>
document.getElementById('up').addEventListener('submit', function (ev) {
  ev.preventDefault();
  var form = ev.target, bar = document.getElementById('bar'), msg = document.getElementById('msg');
  var xhr = new XMLHttpRequest();
  xhr.open('POST', location.pathname);
  xhr.upload.onprogress = function (e) {
    if (e.lengthComputable) { bar.hidden = false; bar.value = e.loaded / e.total; }
  };
  xhr.onload = function () {
    if (xhr.status < 300) { location.reload(); } else { msg.textContent = xhr.status + ' ' + xhr.responseText; }
  };
  xhr.onerror = function () { msg.textContent = 'upload failed'; };
  msg.textContent = '';
  xhr.send(new FormData(form));
});
</script>
";

/// The icons, each drawn once as an SVG `<symbol>` that a row's `<use>` shows: no font and
/// no image to fetch. Lines and fills are `currentColor`, each symbol's colour a variable
/// of the style sheet, so the dark scheme recolours them all.
const ICONS: &str = "\
<svg class=\"sprite\" aria-hidden=\"true\">\
<symbol id=\"k-up\" viewBox=\"0 0 16 16\" fill=\"none\" stroke=\"currentColor\" stroke-width=\"1.5\" \
stroke-linecap=\"round\" stroke-linejoin=\"round\"><path d=\"M8 13.5V3M3.5 7.5 8 3l4.5 4.5\"/></symbol>\
<symbol id=\"k-folder\" viewBox=\"0 0 16 16\" style=\"color:var(--folder)\" fill=\"none\" \
stroke=\"currentColor\" stroke-width=\"1.25\" stroke-linejoin=\"round\"><path d=\"M1.5 3.5a1 1 0 0 1 1-1h3.8\
l1.5 2h5.7a1 1 0 0 1 1 1v7a1 1 0 0 1-1 1h-11a1 1 0 0 1-1-1z\" fill=\"currentColor\" fill-opacity=\".35\"/>\
</symbol>\
<symbol id=\"k-file\" viewBox=\"0 0 16 16\" fill=\"none\" stroke=\"currentColor\" stroke-width=\"1.25\" \
stroke-linejoin=\"round\"><path d=\"M3.5 1.5h6l3 3v10h-9z\" fill=\"currentColor\" fill-opacity=\".15\"/>\
<path d=\"M9.5 1.5v3h3\"/></symbol>\
<symbol id=\"k-text\" viewBox=\"0 0 16 16\" style=\"color:var(--text)\" fill=\"none\" stroke=\"currentColor\" \
stroke-width=\"1.25\" stroke-linejoin=\"round\" stroke-linecap=\"round\"><path d=\"M3.5 1.5h6l3 3v10h-9z\" \
fill=\"currentColor\" fill-opacity=\".15\"/><path d=\"M9.5 1.5v3h3M5.5 7.5h5M5.5 10h5M5.5 12.5h3\"/></symbol>\
<symbol id=\"k-image\" viewBox=\"0 0 16 16\" style=\"color:var(--image)\" fill=\"none\" stroke=\"currentColor\" \
stroke-width=\"1.25\" stroke-linejoin=\"round\"><rect x=\"1.5\" y=\"2.5\" width=\"13\" height=\"11\" rx=\"1.5\" \
fill=\"currentColor\" fill-opacity=\".15\"/><circle cx=\"5.5\" cy=\"6.5\" r=\"1.5\" fill=\"currentColor\"/>\
<path d=\"M1.5 12 5.5 8l3 3 2-2 4 4\"/></symbol>\
<symbol id=\"k-archive\" viewBox=\"0 0 16 16\" style=\"color:var(--archive)\" fill=\"none\" stroke=\"currentColor\" \
stroke-width=\"1.25\" stroke-linejoin=\"round\" stroke-linecap=\"round\"><rect x=\"1.5\" y=\"2\" width=\"13\" \
height=\"3.5\" rx=\".75\" fill=\"currentColor\" fill-opacity=\".35\"/><path d=\"M2.5 5.5v8h11v-8M6.5 8.5h3\"/>\
</symbol>\
<symbol id=\"k-audio\" viewBox=\"0 0 16 16\" style=\"color:var(--audio)\" fill=\"currentColor\" \
stroke=\"currentColor\" stroke-width=\"1.25\"><path d=\"M6 12.5V4l7.5-2v8.5\" fill=\"none\"/>\
<circle cx=\"4\" cy=\"12.5\" r=\"2\"/><circle cx=\"11.5\" cy=\"10.5\" r=\"2\"/></symbol>\
<symbol id=\"k-video\" viewBox=\"0 0 16 16\" style=\"color:var(--video)\" fill=\"none\" stroke=\"currentColor\" \
stroke-width=\"1.25\" stroke-linejoin=\"round\"><rect x=\"1.5\" y=\"3\" width=\"13\" height=\"10\" rx=\"1.5\" \
fill=\"currentColor\" fill-opacity=\".15\"/><path d=\"M6.5 5.5v5L10.5 8z\" fill=\"currentColor\"/></symbol>\
</svg>
";

/// The icon for an entry's kind (by extension for files, ignoring case): its symbol in
/// [`ICONS`] is `k-` and this name.
fn kind(e: &Entry) -> &'static str {
    if e.dir {
        return "folder";
    }
    let name = &e.name;
    let Some(dot) = name.iter().rposition(|&b| b == b'.') else {
        return "file";
    };
    let ext = name[dot + 1..].to_ascii_lowercase();
    match &ext[..] {
        b"png" | b"jpg" | b"jpeg" | b"gif" | b"webp" | b"svg" | b"avif" | b"bmp" | b"ico"
        | b"tif" | b"tiff" | b"heic" => "image",
        b"mp3" | b"ogg" | b"oga" | b"flac" | b"wav" | b"m4a" | b"opus" | b"aac" => "audio",
        b"mp4" | b"m4v" | b"mkv" | b"webm" | b"mov" | b"avi" | b"ogv" => "video",
        b"zip" | b"tar" | b"gz" | b"tgz" | b"xz" | b"bz2" | b"zst" | b"7z" | b"br" | b"rar" => {
            "archive"
        }
        b"txt" | b"md" | b"rst" | b"csv" | b"tsv" | b"log" | b"json" | b"xml" | b"yaml"
        | b"yml" | b"toml" | b"ini" | b"conf" | b"html" | b"htm" | b"css" | b"js" | b"pdf" => {
            "text"
        }
        _ => "file",
    }
}

/// The HTML page's head: up to the table's first row.
fn html_head(page: &Page) -> String {
    let title = escape_html(&page.url_path);
    let mut s = String::with_capacity(4096);
    let _ = write!(
        s,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n\
         <title>Index of {title}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n{ICONS}<h1>Index of "
    );
    // The breadcrumb: each folder on the way is a link.
    s.push_str("<a href=\"/\">/</a>");
    let mut href = String::from("/");
    for part in page.url_path.split('/').filter(|p| !p.is_empty()) {
        href.push_str(&percent_encode(part.as_bytes(), Keep::Segment));
        href.push('/');
        let _ = write!(
            s,
            "<a href=\"{}\">{}/</a>",
            escape_html(&href),
            escape_html(part)
        );
    }
    s.push_str("</h1>\n");
    if page.archive {
        s.push_str(
            "<form class=\"dl\">Download this folder: \
             <button name=\"download\" value=\"tar\">tar</button> \
             <button name=\"download\" value=\"tar.gz\">tar.gz</button> \
             <button name=\"download\" value=\"zip\">zip</button></form>\n",
        );
    }
    if page.upload {
        s.push_str(
            "<form id=\"up\" method=\"post\" enctype=\"multipart/form-data\">\
             <input type=\"file\" name=\"file\" multiple required> \
             <button>Upload</button> <progress id=\"bar\" max=\"1\" value=\"0\" hidden></progress> \
             <span id=\"msg\" role=\"status\"></span></form>\n",
        );
    }
    s.push_str("<table>\n<thead><tr>");
    for (key, label, class) in [
        (Key::Name, "Name", "n"),
        (Key::Size, "Size", "s"),
        (Key::Modified, "Modified (UTC)", "m"),
    ] {
        // A header sorts by its column; clicked again, the other way.
        let current = page.sort.key == key;
        let next = Sort {
            key,
            desc: current && !page.sort.desc,
        };
        let key_name = match key {
            Key::Name => "name",
            Key::Size => "size",
            Key::Modified => "mtime",
        };
        let order = if next.desc { "desc" } else { "asc" };
        let arrow = match (current, page.sort.desc) {
            (false, _) => "",
            (true, false) => " \u{2191}",
            (true, true) => " \u{2193}",
        };
        let sorted = match (current, page.sort.desc) {
            (false, _) => "none",
            (true, false) => "ascending",
            (true, true) => "descending",
        };
        if page.sortable {
            // A form rather than a link: people click it, crawlers and mirrors (wget -r,
            // fetch --mirror) do not fetch the same folder six more times.
            let _ = write!(
                s,
                "<th class=\"{class}\" aria-sort=\"{sorted}\"><form><input type=\"hidden\" \
                 name=\"order\" value=\"{order}\"><button name=\"sort\" value=\"{key_name}\">\
                 {label}{arrow}</button></form></th>"
            );
        } else {
            let _ = write!(s, "<th class=\"{class}\">{label}</th>");
        }
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    let keep = escape_html(&page.sort.query());
    if page.url_path != "/" {
        let _ = writeln!(
            s,
            "<tr><td class=\"n\"><svg><use href=\"#k-up\"/></svg><a href=\"../{keep}\">../</a> (parent)</td>\
             <td class=\"s\">-</td><td class=\"m\">-</td></tr>"
        );
    }
    s
}

/// One row of the HTML table.
fn html_row(s: &mut String, keep: &str, e: &Entry) {
    let shown = escape_html(&String::from_utf8_lossy(&e.name));
    let (slash, size, q) = if e.dir {
        ("/", "-".to_string(), keep)
    } else {
        ("", bytes_words(e.size), "")
    };
    let icon = kind(e);
    // `./` first, so a name with a colon is never read as a URL scheme.
    let _ = writeln!(
        s,
        "<tr><td class=\"n\"><svg><use href=\"#k-{icon}\"/></svg><a href=\"./{}{slash}{q}\">{shown}{slash}</a></td>\
         <td class=\"s\">{size}</td><td class=\"m\">{}</td></tr>",
        percent_encode(&e.name, Keep::Segment),
        clock::date_time(e.modified, ' ')
    );
}

/// The HTML page's end, after the rows.
fn html_tail(page: &Page, count: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "</tbody>\n</table>\n<p>{count} entries</p>");
    if page.upload {
        s.push_str(UPLOAD_SCRIPT);
    }
    if page.live {
        s.push_str(crate::reload::SCRIPT);
    }
    s.push_str("</body>\n</html>\n");
    s
}

/// The JSON listing's head, up to the first entry.
fn json_head(page: &Page) -> String {
    let mut s = String::with_capacity(256);
    s.push_str("{\"path\":");
    json_string(&mut s, &page.url_path);
    s.push_str(",\"entries\":[");
    s
}

/// One entry of the JSON listing (`first`: no comma before it).
fn json_row(s: &mut String, first: bool, e: &Entry) {
    if !first {
        s.push(',');
    }
    s.push_str("{\"name\":");
    json_string(s, &String::from_utf8_lossy(&e.name));
    let kind = if e.dir { "dir" } else { "file" };
    let _ = write!(
        s,
        ",\"type\":\"{kind}\",\"size\":{},\"modified\":\"{}Z\"",
        e.size,
        clock::date_time(e.modified, 'T')
    );
    if let Some(d) = &e.sha256 {
        let _ = write!(s, ",\"sha256\":\"{}\"", shared::hex(d));
    }
    s.push('}');
}

/// The JSON listing's end: `truncated` stays for older readers (nothing is left out any
/// more), then the order.
fn json_tail(page: &Page) -> String {
    let key = match page.sort.key {
        Key::Name => "name",
        Key::Size => "size",
        Key::Modified => "mtime",
    };
    let order = if page.sort.desc { "desc" } else { "asc" };
    format!("],\"truncated\":0,\"sort\":\"{key}\",\"order\":\"{order}\"}}\n")
}

/// A listing body made piece by piece as the client takes it: memory holds the entries
/// and one piece, never the whole page. Its length is known before the first byte (one
/// counting pass), so it goes out with a Content-Length and the connection stays open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendering {
    page: Page,
    entries: Vec<Entry>,
    json: bool,
    /// The sort order's query, HTML-escaped, for folder links.
    keep: String,
    /// Where the next piece starts: 0 the head, 1..=n the rows, n+1 the tail, past: done.
    next: usize,
    len: u64,
}

impl Rendering {
    /// The listing of `entries` (already sorted by `page.sort`), as JSON or HTML.
    pub fn new(page: Page, entries: Vec<Entry>, json: bool) -> Rendering {
        let keep = escape_html(&page.sort.query());
        let mut r = Rendering {
            page,
            entries,
            json,
            keep,
            next: 0,
            len: 0,
        };
        let mut count = Counter(0);
        // Rendering into a counter cannot fail.
        let _ = r.clone().write_all(&mut count);
        r.len = count.0;
        r
    }

    /// The body's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Appends the next pieces to `out` until it holds at least `want` bytes or the body
    /// is done; false when it appended nothing and nothing is left.
    pub fn fill(&mut self, out: &mut Vec<u8>, want: usize) -> bool {
        let n = self.entries.len();
        let before = out.len();
        let mut row = String::new();
        while out.len() < want && self.next <= n + 1 {
            match self.next {
                0 if self.json => out.extend_from_slice(json_head(&self.page).as_bytes()),
                0 => out.extend_from_slice(html_head(&self.page).as_bytes()),
                i if i <= n => {
                    row.clear();
                    let e = &self.entries[i - 1];
                    if self.json {
                        json_row(&mut row, i == 1, e);
                    } else {
                        html_row(&mut row, &self.keep, e);
                    }
                    out.extend_from_slice(row.as_bytes());
                }
                _ if self.json => out.extend_from_slice(json_tail(&self.page).as_bytes()),
                _ => out.extend_from_slice(html_tail(&self.page, n).as_bytes()),
            }
            self.next += 1;
        }
        out.len() > before || self.next <= n + 1
    }

    /// Writes the whole rest into `out`.
    pub fn write_all(mut self, out: &mut dyn Write) -> io::Result<()> {
        let mut buf = Vec::with_capacity(64 * 1024);
        loop {
            buf.clear();
            let more = self.fill(&mut buf, 64 * 1024);
            out.write_all(&buf)?;
            if !more || buf.is_empty() {
                return Ok(());
            }
        }
    }
}

/// Counts what is written.
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes the HTML page for `entries` (already sorted by `page.sort`) into `out`.
#[cfg(test)]
pub fn write_html(out: &mut dyn Write, page: &Page, entries: &[Entry]) -> io::Result<()> {
    Rendering::new(page.clone(), entries.to_vec(), false).write_all(out)
}

/// Writes the JSON listing: `{"path", "entries": [{"name", "type", "size", "modified"}],
/// "truncated": 0, "sort", "order"}`.
#[cfg(test)]
pub fn write_json(out: &mut dyn Write, page: &Page, entries: &[Entry]) -> io::Result<()> {
    Rendering::new(page.clone(), entries.to_vec(), true).write_all(out)
}

/// A listing made for one request: its body (made as it is sent), type and validator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The page or the JSON, to be made as it is sent.
    pub body: Rendering,
    /// `text/html; charset=utf-8` or `application/json`.
    pub content_type: &'static str,
    /// The strong ETag ([`etag`]).
    pub etag: String,
}

/// The listing of `dir` (canonical, under `root`) for a request with this target (path
/// and query: `?sort=…&order=…`) and `Accept`; `page.url_path` and `page.sort` are taken
/// from the target. The step a responder calls for a folder.
pub fn render(
    root: &Path,
    dir: &Path,
    jail: Jail,
    target: &str,
    accept: Option<&str>,
    mut page: Page,
    digests: &crate::digest::Digests,
) -> io::Result<Rendered> {
    let mut list = entries(root, dir, jail)?;
    if wants_json(accept) {
        for e in &mut list {
            e.sha256 = e
                .key
                .and_then(|k| digests.known(k, shared::digest::Algorithm::Sha256));
        }
    }
    page.url_path = display_path(target);
    page.sort = Sort::from_query(target.split_once('?').map(|(_, q)| q));
    sort(&mut list, page.sort);
    let json = wants_json(accept);
    let etag = etag(&page, json, &list);
    let content_type = if json {
        "application/json"
    } else {
        "text/html; charset=utf-8"
    };
    Ok(Rendered {
        body: Rendering::new(page, list, json),
        content_type,
        etag,
    })
}

/// True when a client asking with this `Accept` header wants JSON rather than HTML.
pub fn wants_json(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| a.contains("application/json") && !a.contains("text/html"))
}

/// The name of the folder for the page title: the decoded URL path.
pub fn display_path(target: &str) -> String {
    let path = target.split('?').next().unwrap_or("/");
    let decoded = shared::percent_decode(path).unwrap_or_else(|| path.as_bytes().to_vec());
    String::from_utf8_lossy(&decoded).into_owned()
}

/// Escapes text for HTML content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, dir: bool, size: u64, modified: u64) -> Entry {
        Entry {
            name: name.as_bytes().to_vec(),
            dir,
            size,
            modified,
            key: None,
            sha256: None,
        }
    }

    fn page(url: &str, sort: Sort) -> Page {
        Page {
            url_path: url.into(),
            sort,
            sortable: true,
            ..Page::default()
        }
    }

    /// The whole of a listing body, made in small pieces (as a slow socket would take it),
    /// checked against its announced length.
    fn body_text(mut r: Rendering) -> String {
        let len = r.len();
        let mut out = Vec::new();
        let mut piece = Vec::new();
        while r.fill(&mut piece, 100) {
            out.append(&mut piece);
        }
        assert_eq!(out.len() as u64, len);
        String::from_utf8(out).unwrap()
    }

    fn page_html(p: &Page, entries: &[Entry]) -> String {
        let mut out = Vec::new();
        write_html(&mut out, p, entries).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn names_are_escaped_and_links_encoded() {
        let e = entry("<script>&\"'.txt", false, 5, 0);
        let page = page_html(
            &Page {
                url_path: "/a&b/".into(),
                ..Page::default()
            },
            &[e],
        );
        assert!(
            page.contains("&lt;script&gt;&amp;&quot;&#39;.txt"),
            "{page}"
        );
        assert!(page.contains("href=\"./%3Cscript%3E&%22'.txt\""), "{page}");
        assert!(page.contains("<title>Index of /a&amp;b/</title>"));
        assert!(!page.contains("<script>"));
        assert!(page.contains("href=\"../\""));
        assert!(page.contains("1970-01-01 00:00:00"));
        // Not sortable unless asked: no header links that would do nothing.
        assert!(page.contains("<th class=\"s\">Size</th>") && !page.contains("?sort="));
        // The breadcrumb links each folder on the way.
        assert!(page.contains("<a href=\"/\">/</a><a href=\"/a&amp;b/\">a&amp;b/</a>"));
    }

    #[test]
    fn json_is_valid_and_escaped() {
        let entries = [
            entry("sub", true, 0, 86_400),
            entry("q\"\\\n.txt", false, 3, 0),
        ];
        let mut text = Vec::new();
        write_json(&mut text, &page("/", Sort::default()), &entries).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert_eq!(
            text,
            "{\"path\":\"/\",\"entries\":[{\"name\":\"sub\",\"type\":\"dir\",\"size\":0,\"modified\":\"1970-01-02T00:00:00Z\"},\
             {\"name\":\"q\\\"\\\\\\n.txt\",\"type\":\"file\",\"size\":3,\"modified\":\"1970-01-01T00:00:00Z\"}],\"truncated\":0,\"sort\":\"name\",\"order\":\"asc\"}\n"
        );
    }

    #[test]
    fn accept_negotiation() {
        assert!(wants_json(Some("application/json")));
        assert!(!wants_json(Some("text/html,application/json;q=0.9")));
        assert!(!wants_json(Some("*/*")));
        assert!(!wants_json(None));
    }

    #[test]
    fn sorts_by_every_key_both_ways() {
        let all = vec![
            entry("b.txt", false, 10, 300),
            entry("A.txt", false, 30, 100),
            entry("a.txt", false, 30, 200),
            entry("zdir", true, 0, 50),
            entry("Cdir", true, 0, 60),
        ];
        let order = |q: &str| {
            let mut v = all.clone();
            sort(&mut v, Sort::from_query(Some(q)));
            v.iter()
                .map(|e| String::from_utf8_lossy(&e.name).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let cases = [
            ("", "Cdir zdir A.txt a.txt b.txt"),
            ("sort=name&order=desc", "zdir Cdir b.txt a.txt A.txt"),
            ("sort=size", "Cdir zdir b.txt A.txt a.txt"),
            ("sort=size&order=desc", "zdir Cdir a.txt A.txt b.txt"),
            ("order=desc&sort=size", "zdir Cdir a.txt A.txt b.txt"),
            ("sort=mtime", "zdir Cdir A.txt a.txt b.txt"),
            ("sort=modified&order=desc", "Cdir zdir b.txt a.txt A.txt"),
            ("sort=bogus&order=sideways", "Cdir zdir A.txt a.txt b.txt"),
        ];
        for (q, want) in cases {
            assert_eq!(order(q), want, "{q}");
        }
        assert_eq!(
            Sort::from_query(Some("sort=size&order=desc")).query(),
            "?sort=size&order=desc"
        );
        assert_eq!(Sort::from_query(None).query(), "");
    }

    #[test]
    fn headers_sort_and_toggle() {
        let p = page("/x/", Sort::from_query(Some("sort=size")));
        let html = page_html(&p, &[entry("d", true, 0, 0)]);
        // Each header is a small GET form: clicked, it sorts by its column (again: the
        // other way); a mirror following links does not fetch six more pages.
        let size =
            "name=\"order\" value=\"desc\"><button name=\"sort\" value=\"size\">Size \u{2191}";
        assert!(html.contains(size), "{html}");
        let name = "name=\"order\" value=\"asc\"><button name=\"sort\" value=\"name\">Name<";
        assert!(html.contains(name), "{html}");
        assert!(!html.contains("href=\"?"), "{html}");
        // Folder and parent links keep the order.
        assert!(
            html.contains("href=\"./d/?sort=size&amp;order=asc\""),
            "{html}"
        );
        assert!(
            html.contains("href=\"../?sort=size&amp;order=asc\""),
            "{html}"
        );
        assert!(html.contains("prefers-color-scheme:dark"));
        assert!(!html.contains("multipart") && !html.contains("download"));
        let with = Page {
            upload: true,
            archive: true,
            ..p
        };
        let html = page_html(&with, &[]);
        assert!(html.contains("enctype=\"multipart/form-data\"") && html.contains("<progress"));
        assert!(html.contains("<button name=\"download\" value=\"tar.gz\">"));
        assert!(
            !html.contains("src=") && !html.contains("stylesheet"),
            "no external assets"
        );
    }

    #[test]
    fn render_reads_the_query_and_accept() {
        let t = crate::testdir::new();
        fs::write(t.root.join("small"), "1").unwrap();
        fs::write(t.root.join("big"), "12345").unwrap();
        let jail = Jail::default();
        let page = Page {
            sortable: true,
            ..Page::default()
        };
        let digests = crate::digest::Digests::new();
        let html =
            |q: &str| render(&t.root, &t.root, jail, q, None, page.clone(), &digests).unwrap();
        let r = html("/?sort=size&order=desc");
        assert_eq!(r.content_type, "text/html; charset=utf-8");
        let text = body_text(r.body.clone());
        assert!(
            text.find(">big<").unwrap() < text.find(">small<").unwrap(),
            "{text}"
        );
        assert_eq!(
            html("/?sort=size&order=desc"),
            r,
            "same query, same bytes and tag"
        );
        let json = render(
            &t.root,
            &t.root,
            jail,
            "/?sort=size",
            Some("application/json"),
            page,
            &digests,
        )
        .unwrap();
        assert_eq!(json.content_type, "application/json");
        assert_ne!(json.etag, r.etag);
        let text = body_text(json.body);
        assert!(
            text.find("small").unwrap() < text.find("big").unwrap(),
            "{text}"
        );
    }

    #[test]
    fn etag_follows_what_is_listed() {
        let a = vec![entry("a", false, 1, 1), entry("b", false, 2, 2)];
        let p = page("/", Sort::default());
        let tag = etag(&p, false, &a);
        assert!(tag.starts_with("\"L") && tag.len() == 35, "{tag}");
        assert_eq!(tag, etag(&p, false, &a.clone()));
        let mut changed = a.clone();
        changed[1].modified = 3;
        let others = [
            etag(&p, true, &a),
            etag(&p, false, &changed),
            etag(&p, false, &a[..1]),
            etag(&page("/x/", Sort::default()), false, &a),
            etag(&page("/", Sort::from_query(Some("order=desc"))), false, &a),
            etag(
                &Page {
                    upload: true,
                    ..p.clone()
                },
                false,
                &a,
            ),
        ];
        for other in others {
            assert_ne!(tag, other);
        }
    }

    /// The names of `entries`, joined by ` | `.
    fn names(entries: &[Entry]) -> String {
        entries
            .iter()
            .map(|e| String::from_utf8_lossy(&e.name).into_owned())
            .collect::<Vec<_>>()
            .join(" | ")
    }

    #[test]
    fn natural_order() {
        // (names in any order, the order they must come in)
        let cases: &[(&[&str], &str)] = &[
            // Runs of digits by value, not by their first digit.
            (
                &["file 10.txt", "file 2.txt", "file 1.txt", "file 11.txt"],
                "file 1.txt | file 2.txt | file 10.txt | file 11.txt",
            ),
            // Several runs; the numbers past 64 bits still by value.
            (
                &["v1.10.0", "v1.9.2", "v1.9.10", "v10.0", "v2"],
                "v1.9.2 | v1.9.10 | v1.10.0 | v2 | v10.0",
            ),
            (
                &[
                    "n100000000000000000000",
                    "n99999999999999999999",
                    "n18446744073709551616",
                ],
                "n18446744073709551616 | n99999999999999999999 | n100000000000000000000",
            ),
            // Leading zeros: the value first, then the shorter run, then the rest of the name
            // before the zeros.
            (
                &["a010", "a2", "a001", "a01", "a1", "a0", "a00", "a"],
                "a | a0 | a00 | a1 | a01 | a001 | a2 | a010",
            ),
            (&["x1.zip", "x01.txt"], "x01.txt | x1.zip"),
            (&["x01.txt", "x1.txt"], "x1.txt | x01.txt"),
            // Case ignored, then the bytes: upper case first.
            (
                &["b.txt", "B.txt", "a.txt", "A.txt", "C"],
                "A.txt | a.txt | B.txt | b.txt | C",
            ),
            (
                &["photo 2.JPG", "Photo 1.jpg", "PHOTO 10.jpg"],
                "Photo 1.jpg | photo 2.JPG | PHOTO 10.jpg",
            ),
            // A digit run sits where `0` does: after space and `-` `.`, before `_` and letters.
            (
                &["a_1", "ab", "a1", "a.1", "a-1", "a 1"],
                "a 1 | a-1 | a.1 | a1 | a_1 | ab",
            ),
            // Letters with diacritics beside their base letter, not after `z`; ligatures as
            // two letters; other scripts by their lower case.
            (
                &[
                    "zebra",
                    "\u{c9}mile",
                    "emile",
                    "Eve",
                    "\u{c4}rger",
                    "apple",
                    "Zo\u{eb}",
                ],
                "apple | \u{c4}rger | emile | \u{c9}mile | Eve | zebra | Zo\u{eb}",
            ),
            (
                &["stra\u{df}e", "strasse", "strasser"],
                "strasse | stra\u{df}e | strasser",
            ),
            (
                &["\u{142}\u{f3}d\u{17a}", "lody", "Lodz"],
                "lody | Lodz | \u{142}\u{f3}d\u{17a}",
            ),
            (
                &[
                    "\u{3c9}mega",
                    "\u{3a9}mega",
                    "\u{3b1}lpha",
                    "\u{416}",
                    "\u{436}a",
                ],
                "\u{3b1}lpha | \u{3a9}mega | \u{3c9}mega | \u{416} | \u{436}a",
            ),
            // A combining accent (as macOS writes names) ties with the composed letter.
            (
                &["\u{e9}t\u{e9}", "e\u{301}te\u{301}", "ete", "etf"],
                "ete | e\u{301}te\u{301} | \u{e9}t\u{e9} | etf",
            ),
        ];
        for (input, want) in cases {
            let mut list: Vec<Entry> = input.iter().map(|n| entry(n, false, 0, 0)).collect();
            sort(&mut list, Sort::default());
            assert_eq!(names(&list), *want, "{input:?}");
            sort(&mut list, Sort::from_query(Some("sort=name&order=desc")));
            let mut reversed: Vec<&str> = want.split(" | ").collect();
            reversed.reverse();
            assert_eq!(names(&list), reversed.join(" | "), "desc of {input:?}");
        }
        // Names that are not UTF-8 come after every character, and still in one order.
        let odd: [&[u8]; 4] = [b"a\xff", b"a\xfe1", b"a\xe2\x82", b"a\xf0\x9f\x98\x80"];
        let mut list: Vec<Entry> = odd
            .iter()
            .map(|n| Entry {
                name: n.to_vec(),
                ..entry("", false, 0, 0)
            })
            .collect();
        sort(&mut list, Sort::default());
        let got: Vec<&[u8]> = list.iter().map(|e| &e.name[..]).collect();
        assert_eq!(
            got,
            [&b"a\xf0\x9f\x98\x80"[..], b"a\xe2\x82", b"a\xfe1", b"a\xff"]
        );
    }

    #[test]
    fn natural_order_is_total() {
        // Every pair of a mixed sample compares the same both ways, only a name with itself
        // ties, and a sorted list is in order pair by pair: sort_by needs a total order.
        let mut sample: Vec<Vec<u8>> = Vec::new();
        for stem in [
            "", "a", "A", "\u{e4}", "a ", "a0", "\u{df}", "ss", "e\u{301}",
        ] {
            for num in ["", "0", "00", "1", "01", "10", "9"] {
                for tail in ["", "a", "B", ".txt", "1", "\u{ff}"] {
                    sample.push(format!("{stem}{num}{tail}").into_bytes());
                }
            }
        }
        sample.push(b"\xff".to_vec());
        sample.push(b"0\xff".to_vec());
        sample.sort();
        sample.dedup();
        for a in &sample {
            for b in &sample {
                let (ab, ba) = (natural(a, b), natural(b, a));
                assert_eq!(ab, ba.reverse(), "{a:?} {b:?}");
                assert_eq!(ab.is_eq(), a == b, "{a:?} {b:?}");
            }
        }
        sample.sort_by(|a, b| natural(a, b));
        for (i, a) in sample.iter().enumerate() {
            for b in &sample[i + 1..] {
                assert_eq!(natural(a, b), Ordering::Less, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn icons_are_drawn_once_and_used_by_each_row() {
        let entries = [
            entry("sub", true, 0, 0),
            entry("a.PNG", false, 1, 0),
            entry("b.tar.gz", false, 1, 0),
            entry("c.md", false, 1, 0),
            entry("d.flac", false, 1, 0),
            entry("e.webm", false, 1, 0),
            entry("f.bin", false, 1, 0),
            entry("Makefile", false, 1, 0),
            entry(".png", false, 1, 0),
        ];
        let html = page_html(&page("/x/", Sort::default()), &entries);
        let uses: Vec<&str> = html
            .split("<use href=\"#")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap())
            .collect();
        assert_eq!(
            uses,
            [
                "k-up",
                "k-folder",
                "k-image",
                "k-archive",
                "k-text",
                "k-audio",
                "k-video",
                "k-file",
                "k-file",
                "k-image"
            ],
            "{html}"
        );
        for id in uses {
            let symbol = format!("<symbol id=\"{id}\"");
            assert_eq!(html.matches(&symbol).count(), 1, "{id} drawn once");
        }
        // No emoji or other character a font may lack in the markers: every character
        // outside ASCII on the page is a name's or the sort arrow's.
        assert!(!html.contains("<span class=\"k\""), "{html}");
        assert!(
            html.chars().all(|c| c.is_ascii() || c == '\u{2191}'),
            "{html}"
        );
    }

    #[test]
    fn fifty_thousand_files_are_all_listed_the_same_way_each_time() {
        let dir = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(dir.path()).unwrap();
        for i in 0..50_000 {
            fs::File::create(root.join(format!("f{i:05}"))).unwrap();
        }
        fs::File::create(root.join(".hidden")).unwrap();
        let jail = Jail::default();
        let mut list = entries(&root, &root, jail).unwrap();
        assert_eq!(list.len(), 50_000);
        let sorted = Sort::from_query(Some("sort=name&order=desc"));
        sort(&mut list, sorted);
        assert_eq!(list[0].name, b"f49999");
        assert_eq!(list[49_999].name, b"f00000");
        let p = page("/", sorted);
        let first = page_html(&p, &list);
        assert_eq!(first.matches("<tr><td class=\"n\">").count(), 50_000);
        assert!(first.contains("50000 entries"));
        let mut again = entries(&root, &root, jail).unwrap();
        sort(&mut again, sorted);
        assert_eq!(page_html(&p, &again), first, "same query, other bytes");
        let mut json = Vec::new();
        write_json(&mut json, &p, &again).unwrap();
        assert_eq!(
            String::from_utf8(json)
                .unwrap()
                .matches("\"type\":\"file\"")
                .count(),
            50_000
        );
    }
}
