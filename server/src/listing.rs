//! Directory listings: an HTML page for people and JSON for scripts. Folders first, then
//! files, each group by name; hidden names left out; sizes in KiB/MiB; modification times in
//! UTC. The body depends only on the folder's contents (no clock), so it can be cached and
//! compared.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::UNIX_EPOCH;

use shared::{Keep, bytes_words, json_string, percent_encode};

use crate::clock;

/// The most entries a listing shows; a note says how many more there are.
pub const MAX_ENTRIES: usize = 10_000;

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
}

/// The visible entries of `dir` (canonical, under the canonical `root`), sorted, and how
/// many were left out beyond [`MAX_ENTRIES`]. Hidden names are skipped unless `hidden`;
/// links are followed, and those that lead outside the root (unless `follow_symlinks`) or
/// nowhere are skipped, since following them would answer 404.
pub fn read(
    root: &Path,
    dir: &Path,
    hidden: bool,
    follow_symlinks: bool,
) -> io::Result<(Vec<Entry>, usize)> {
    let mut entries = Vec::new();
    let mut more = 0;
    for item in fs::read_dir(dir)? {
        let Ok(item) = item else { continue };
        let name = item.file_name().as_bytes().to_vec();
        if !hidden && name.first() == Some(&b'.') && name != b".well-known" {
            continue;
        }
        let path = item.path();
        let Ok(file_type) = item.file_type() else {
            continue;
        };
        if file_type.is_symlink() && !follow_symlinks {
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
        if entries.len() >= MAX_ENTRIES {
            more += 1;
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
        });
    }
    // Folders first; then by name ignoring case, ties broken by the exact bytes: stable
    // whatever order the file system returned.
    entries.sort_by(|a, b| {
        b.dir
            .cmp(&a.dir)
            .then_with(|| {
                a.name
                    .to_ascii_lowercase()
                    .cmp(&b.name.to_ascii_lowercase())
            })
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok((entries, more))
}

/// The HTML page for the folder at URL path `url_path` (decoded, ending in `/`).
pub fn html(url_path: &str, entries: &[Entry], more: usize) -> String {
    let title = escape_html(url_path);
    let mut out = String::with_capacity(1024 + entries.len() * 160);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Index of {title}</title>\n<style>\n\
         body{{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:56rem;padding:0 1rem;color:#0f172a}}\n\
         table{{border-collapse:collapse;width:100%}}th,td{{padding:.25rem .75rem;text-align:left}}\n\
         td.size,th.size{{text-align:right;font-variant-numeric:tabular-nums}}\n\
         tr:nth-child(even){{background:#f1f5f9}}a{{color:#2563eb;text-decoration:none}}\n\
         </style>\n</head>\n<body>\n<h1>Index of {title}</h1>\n<table>\n\
         <thead><tr><th>Name</th><th class=\"size\">Size</th><th>Modified (UTC)</th></tr></thead>\n<tbody>\n"
    );
    if url_path != "/" {
        out.push_str(
            "<tr><td><a href=\"../\">../</a></td><td class=\"size\">-</td><td>-</td></tr>\n",
        );
    }
    for e in entries {
        let shown = escape_html(&String::from_utf8_lossy(&e.name));
        let slash = if e.dir { "/" } else { "" };
        let size = if e.dir {
            "-".to_string()
        } else {
            bytes_words(e.size)
        };
        // `./` first, so a name with a colon is never read as a URL scheme.
        let _ = writeln!(
            out,
            "<tr><td><a href=\"./{}{slash}\">{shown}{slash}</a></td><td class=\"size\">{size}</td><td>{}</td></tr>",
            percent_encode(&e.name, Keep::Segment),
            clock::date_time(e.modified, ' ')
        );
    }
    out.push_str("</tbody>\n</table>\n");
    if more > 0 {
        let _ = writeln!(out, "<p>{more} more entries not shown.</p>");
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// The JSON listing: `{"path": "/x/", "entries": [{"name", "type", "size", "modified"}], "truncated": N}`.
pub fn json(url_path: &str, entries: &[Entry], more: usize) -> String {
    let mut out = String::with_capacity(64 + entries.len() * 96);
    out.push_str("{\"path\":");
    json_string(&mut out, url_path);
    out.push_str(",\"entries\":[");
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"name\":");
        json_string(&mut out, &String::from_utf8_lossy(&e.name));
        let kind = if e.dir { "dir" } else { "file" };
        let _ = write!(
            out,
            ",\"type\":\"{kind}\",\"size\":{},\"modified\":\"{}Z\"}}",
            e.size,
            clock::date_time(e.modified, 'T')
        );
    }
    let _ = writeln!(out, "],\"truncated\":{more}}}");
    out
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

    #[test]
    fn names_are_escaped_and_links_encoded() {
        let e = Entry {
            name: b"<script>&\"'.txt".to_vec(),
            dir: false,
            size: 5,
            modified: 0,
        };
        let page = html("/a&b/", &[e], 0);
        assert!(
            page.contains("&lt;script&gt;&amp;&quot;&#39;.txt"),
            "{page}"
        );
        assert!(page.contains("href=\"./%3Cscript%3E&%22'.txt\""), "{page}");
        assert!(page.contains("Index of /a&amp;b/"));
        assert!(!page.contains("<script>"));
        assert!(page.contains("href=\"../\""));
        assert!(page.contains("1970-01-01 00:00:00"));
    }

    #[test]
    fn json_is_valid_and_escaped() {
        let entries = [
            Entry {
                name: b"sub".to_vec(),
                dir: true,
                size: 0,
                modified: 86_400,
            },
            Entry {
                name: b"q\"\\\n.txt".to_vec(),
                dir: false,
                size: 3,
                modified: 0,
            },
        ];
        let text = json("/", &entries, 2);
        assert_eq!(
            text,
            "{\"path\":\"/\",\"entries\":[{\"name\":\"sub\",\"type\":\"dir\",\"size\":0,\"modified\":\"1970-01-02T00:00:00Z\"},\
             {\"name\":\"q\\\"\\\\\\u000a.txt\",\"type\":\"file\",\"size\":3,\"modified\":\"1970-01-01T00:00:00Z\"}],\"truncated\":2}\n"
        );
    }

    #[test]
    fn accept_negotiation() {
        assert!(wants_json(Some("application/json")));
        assert!(!wants_json(Some("text/html,application/json;q=0.9")));
        assert!(!wants_json(Some("*/*")));
        assert!(!wants_json(None));
    }
}
