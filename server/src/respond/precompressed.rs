//! Precompressed files: a `FILE.br` or `FILE.gz` beside `FILE`, accepted by the client, is
//! sent instead of it, with its own validators (`Content-Encoding` set, `Vary` said). They
//! win over `--compress`, which makes an encoding only when no such file is there.

use std::fs::{self, Metadata};
use std::path::{Path, PathBuf};

use crate::http::request::Request;
use crate::jail::{self, Jail};
use crate::site::Site;

/// The variant to send instead of `path`, with its `Content-Encoding` and metadata.
pub(super) fn choose(
    req: &Request,
    site: &Site,
    path: &Path,
) -> Option<(PathBuf, &'static str, Metadata)> {
    let ae = req.fields.accept_encoding.as_deref()?;
    sibling(site.root.path(), path, ae, site.settings.jail)
}

/// Could a variant answer this request? Such requests are answered from the small-file
/// cache only while the entry's folder is unchanged since no sibling was there
/// (`crate::cache`), so a `.gz` added beside a cached file is never missed.
pub(super) fn may_apply(req: &Request) -> bool {
    req.fields
        .accept_encoding
        .as_deref()
        .is_some_and(|ae| accepts(ae, "br") || accepts(ae, "gzip"))
}

/// True when no name a sibling of `path` would have (`FILE.br`, `FILE.gz`) is there at all,
/// whatever the client accepts: not even a dangling symlink, whose target could appear
/// without the folder changing.
pub(super) fn absent(path: &Path) -> bool {
    EXTENSIONS.iter().all(|(ext, _)| {
        fs::symlink_metadata(with_extension(path, ext))
            .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
    })
}

/// The precompressed siblings, in the order they are preferred, with their codings.
const EXTENSIONS: [(&str, &str); 2] = [("br", "br"), ("gz", "gzip")];

/// `path` with `.ext` appended (`a.txt` → `a.txt.gz`).
fn with_extension(path: &Path, ext: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

/// A precompressed sibling of `path` (`FILE.br`, then `FILE.gz`) that the client accepts,
/// with its `Content-Encoding` and metadata. It must be a regular file that passes the same
/// jail as the original.
fn sibling(
    root: &Path,
    path: &Path,
    accept_encoding: &str,
    jail: Jail,
) -> Option<(PathBuf, &'static str, Metadata)> {
    for (ext, coding) in EXTENSIONS {
        if !accepts(accept_encoding, coding) {
            continue;
        }
        let candidate = with_extension(path, ext);
        if let Ok(real) = jail::canonical_under(root, &candidate, jail)
            && let Ok(meta) = fs::metadata(&real)
            && meta.is_file()
        {
            return Some((real, coding, meta));
        }
    }
    None
}

/// Does an `Accept-Encoding` value accept `coding`? A coding listed with `q=0` is refused;
/// `*` stands for codings not listed.
fn accepts(accept_encoding: &str, coding: &str) -> bool {
    let mut star = None;
    for item in accept_encoding.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim();
        let q = parts
            .filter_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .or_else(|| p.trim().strip_prefix("Q="))
            })
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if name.eq_ignore_ascii_case(coding)
            || (coding == "gzip" && name.eq_ignore_ascii_case("x-gzip"))
        {
            return q > 0.0;
        }
        if name == "*" {
            star = Some(q > 0.0);
        }
    }
    star.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_negotiation() {
        let cases = [
            ("gzip", "gzip", true),
            ("gzip;q=0", "gzip", false),
            ("br, gzip;q=0.5", "br", true),
            ("deflate", "gzip", false),
            ("*", "br", true),
            ("*;q=0, gzip", "br", false),
            ("x-gzip", "gzip", true),
            ("identity", "gzip", false),
        ];
        for (header, coding, want) in cases {
            assert_eq!(accepts(header, coding), want, "{header} / {coding}");
        }
    }
}
