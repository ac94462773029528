//! `--convert-links`, after the crawl: the pages and style sheets of this run rewritten so
//! the copy works from `file://` (`convert.rs` splices; this decides where each link leads).

use std::path::{Path, PathBuf};

use shared::Target;

use super::settings::MirrorSettings;
use super::{convert, links, local, save};

/// A page or style sheet to convert: the file relative to DIR, its URL, whether HTML.
pub type Page = (PathBuf, Target, bool);

/// `--convert-links`: rewrites the links of every page and style sheet of this run so
/// the copy works from `file://`: to a file on disk, a relative path; to a folder on
/// disk without its index.html, the folder; anything else, its absolute URL. Each file
/// keeps its time, and its record the server's ETag (so the next run's 304 keeps it).
pub fn convert_links(settings: &MirrorSettings, pages: Vec<Page>, say: impl Fn(&str)) {
    let root = &settings.dir;
    let mut converted = 0u64;
    for (rel, url, is_html) in pages {
        let file = root.join(&rel);
        let Ok(meta) = std::fs::symlink_metadata(&file) else {
            continue;
        };
        if !meta.is_file() || meta.len() > 16 << 20 {
            continue;
        }
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        let base = if is_html {
            links::html(&bytes[..])
                .base
                .and_then(|b| crate::redirect::resolve(&url, b.as_bytes()).ok())
        } else {
            None
        };
        let base = base.unwrap_or_else(|| url.clone());
        let from = rel.parent().unwrap_or(Path::new(""));
        let mut map = |r: &str| convert_one(settings, &base, from, r);
        let out = if is_html {
            convert::html(&bytes, &mut map)
        } else {
            convert::css(&bytes, &mut map)
        };
        if out == bytes {
            continue;
        }
        match save::rewrite(root, &rel, &meta, &out) {
            Ok(()) => converted += 1,
            Err(e) => say(&format!(
                "fetch: cannot convert the links of {}: {}",
                rel.display(),
                shared::io_words(&e)
            )),
        }
    }
    say(&format!("fetch: converted the links of {converted} files"));
}

/// Where the reference `r` (on a page whose links resolve against `base`, saved in the
/// folder `from`) leads in the copy; `None` leaves it as it is.
fn convert_one(settings: &MirrorSettings, base: &Target, from: &Path, r: &str) -> Option<String> {
    let lower = r.get(..11).unwrap_or(r).to_ascii_lowercase();
    if r.is_empty()
        || r.starts_with('#')
        || ["data:", "javascript:", "mailto:", "tel:"]
            .iter()
            .any(|s| lower.starts_with(s))
    {
        return None;
    }
    let (reference, fragment) = match r.split_once('#') {
        Some((a, f)) => (a, format!("#{f}")),
        None => (r, String::new()),
    };
    let target = crate::redirect::resolve(base, reference.as_bytes()).ok()?;
    let root = &settings.dir;
    let local = local::path_for(&target.path)
        .ok()
        .map(|p| local::host_dir(settings, &target).join(local::cut_dirs(&p, settings.cut_dirs)));
    if let Some(local) = local {
        let file = std::fs::symlink_metadata(root.join(&local)).is_ok_and(|m| m.is_file());
        if file {
            return Some(local::relative(from, &local, false) + &fragment);
        }
        // A folder walked through its listing has no index.html: link the folder.
        let folder = local
            .parent()
            .filter(|_| target.path.split('?').next().unwrap_or("").ends_with('/'));
        if let Some(folder) = folder.filter(|f| root.join(f).is_dir()) {
            return Some(local::relative(from, folder, true) + &fragment);
        }
    }
    Some(format!("{target}{fragment}"))
}
