//! Where a URL is saved: its path, percent-decoded once, as names under the mirror's
//! folder, or a refusal that says why. Nothing a link says can lead outside the folder:
//! every name is one normal component (no `.`, `..`, `/`, NUL, nor longer than the file
//! system takes), and the folders on the way are created one at a time, refusing any that
//! is a symlink or a file.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use shared::{Endpoint, Target};

use super::settings::MirrorSettings;
use crate::cli::output::part_path;

/// The folder inside the mirror where fetch keeps what it knows (ETags); no URL maps there.
pub const STATE_DIR: &str = ".fetch-mirror";

/// The longest name most file systems take (NAME_MAX), in bytes.
const MAX_NAME: usize = 255;
/// The longest relative path fetch writes, well under PATH_MAX (4096) with the folder in
/// front.
const MAX_PATH: usize = 3000;

/// Why a URL is not saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A name that decodes to `.` or `..` (`%2e%2e`).
    DotSegment,
    /// A name holding a slash once decoded (`%2F`), or a backslash.
    EncodedSlash,
    /// A name holding NUL (`%00`).
    Nul,
    /// A `%` not followed by two hex digits.
    BadEscape,
    /// A name longer than 255 bytes, or a path longer than fetch writes.
    TooLong,
    /// A name fetch keeps for itself.
    Reserved,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::DotSegment => "a name decodes to . or ..",
            Refusal::EncodedSlash => "a name holds an encoded slash or a backslash",
            Refusal::Nul => "a name holds NUL",
            Refusal::BadEscape => "a bad %-escape",
            Refusal::TooLong => "a name or the path is too long for the file system",
            Refusal::Reserved => "the name .fetch-mirror is fetch's own",
        })
    }
}

/// The relative path for a request target (`/a%20b/c.html?x=1` → `a b/c.html?x=1`): a
/// folder URL (ending in `/`) is saved as its `index.html`; the query stays in the name,
/// with any `/` in it written `%2F`; empty segments (`//`) are dropped.
pub fn path_for(target_path: &str) -> Result<PathBuf, Refusal> {
    use std::os::unix::ffi::OsStrExt;
    let (path, query) = match target_path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target_path, None),
    };
    let mut segments: Vec<&str> = path.split('/').skip(1).collect();
    if segments.last().is_none_or(|s| s.is_empty()) {
        segments.pop();
        segments.push("index.html");
    }
    let count = segments.len();
    let mut out = PathBuf::new();
    for (i, seg) in segments.into_iter().enumerate() {
        if seg.is_empty() {
            continue;
        }
        let mut name = shared::percent_decode(seg).ok_or(Refusal::BadEscape)?;
        if name == b"." || name == b".." {
            return Err(Refusal::DotSegment);
        }
        if name.contains(&b'/') || name.contains(&b'\\') {
            return Err(Refusal::EncodedSlash);
        }
        if name.contains(&0) {
            return Err(Refusal::Nul);
        }
        if let Some(q) = query.filter(|_| i + 1 == count) {
            name.push(b'?');
            name.extend_from_slice(q.replace('/', "%2F").as_bytes());
        }
        if name.len() > MAX_NAME {
            return Err(Refusal::TooLong);
        }
        out.push(std::ffi::OsStr::from_bytes(&name));
    }
    if out.as_os_str().len() > MAX_PATH {
        return Err(Refusal::TooLong);
    }
    Ok(out)
}

/// Whether a relative path would land in fetch's own folder (only possible without a
/// HOST folder in front).
pub fn reserved(rel: &Path) -> bool {
    rel.components()
        .next()
        .is_some_and(|c| c.as_os_str() == STATE_DIR)
}

/// Checks the folders of `rel`'s parent that exist under `root`: each must be a real
/// folder, not a symlink (which could lead out) nor a file. Nothing is created. Returns
/// whether they all exist.
pub fn check_parents(root: &Path, rel: &Path) -> io::Result<bool> {
    let mut at = root.to_path_buf();
    for c in rel.parent().unwrap_or(Path::new("")).components() {
        at.push(c);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(in_the_way(&at)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn in_the_way(at: &Path) -> io::Error {
    let what = if std::fs::symlink_metadata(at).is_ok_and(|m| m.file_type().is_symlink()) {
        "a symlink"
    } else {
        "a file"
    };
    io::Error::other(format!("{what} is in the way: {}", at.display()))
}

/// Creates the folders of `rel`'s parent under `root`, one at a time: an existing one must
/// be a real folder, not a symlink (which could lead out) nor a file.
pub fn make_parents(root: &Path, rel: &Path) -> io::Result<PathBuf> {
    let mut at = root.to_path_buf();
    let parent = rel.parent().unwrap_or(Path::new(""));
    for c in parent.components() {
        at.push(c);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(in_the_way(&at)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => match std::fs::create_dir(&at) {
                Ok(()) => {}
                // Another transfer made it meanwhile: check it as above next time round.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if !std::fs::symlink_metadata(&at)?.is_dir() {
                        return Err(in_the_way(&at));
                    }
                }
                Err(e) => return Err(e),
            },
            Err(e) => return Err(e),
        }
    }
    Ok(root.join(rel))
}

/// A relative reference from the folder `from` to `to` (both relative to DIR), each name
/// percent-encoded; `folder`: `to` is a folder, and the reference ends in `/`.
pub fn relative(from: &Path, to: &Path, folder: bool) -> String {
    let a: Vec<_> = from.components().collect();
    let b: Vec<_> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_string(); a.len() - common];
    for c in &b[common..] {
        let name = c.as_os_str().as_encoded_bytes();
        parts.push(shared::percent_encode(name, shared::Keep::Segment));
    }
    let mut out = parts.join("/");
    if folder {
        out.push('/');
    }
    if out.is_empty() || out == "/" {
        return "./".to_string();
    }
    // A first name with a colon would read as a scheme (`localhost:8080/x`).
    if !out.starts_with("..") && out.split('/').next().is_some_and(|f| f.contains(':')) {
        out.insert_str(0, "./");
    }
    out
}

/// The folder a host's files go in: `HOST[:PORT]` (the port when not the scheme's default,
/// 80 or 443, as wget names it; `localhost` for a Unix socket), or none with
/// `--no-host-directories`.
pub fn host_dir(settings: &MirrorSettings, target: &Target) -> PathBuf {
    if !settings.host_dirs {
        return PathBuf::new();
    }
    PathBuf::from(match &target.endpoint {
        Endpoint::Tcp { host, port } if *port == target.default_port() => host.to_string(),
        Endpoint::Tcp { host, port } => format!("{host}:{port}"),
        Endpoint::Unix(_) => "localhost".to_string(),
    })
}

/// `rel` without its first `n` folders (`--cut-dirs`); the file name always stays.
pub fn cut_dirs(rel: &Path, n: usize) -> PathBuf {
    let count = rel.components().count();
    rel.components()
        .enumerate()
        .filter(|&(i, _)| i >= n || i + 1 == count)
        .map(|(_, c)| c)
        .collect()
}

/// Whether the file system at `dir` folds case (macOS, Windows shares): then `A.html` and
/// `a.html` are one file, and the second of them is not saved over the first.
pub fn folds_case(dir: &Path) -> bool {
    let probe = dir.join(format!("Case-Probe-{}", std::process::id()));
    if std::fs::write(&probe, b"").is_err() {
        return false;
    }
    let folds =
        std::fs::symlink_metadata(dir.join(format!("case-probe-{}", std::process::id()))).is_ok();
    let _ = std::fs::remove_file(&probe);
    folds
}
/// A new, empty `NAME.part` beside `file`, for writing: one an earlier run left is removed
/// first, and `create_new` never follows a symlink someone put in its place.
pub fn new_part(file: &Path) -> io::Result<(PathBuf, File)> {
    let part = part_path(file);
    let create = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&part)
    };
    let out = match create() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(&part).and_then(|()| create())
        }
        opened => opened,
    }?;
    Ok((part, out))
}

/// The folders made or found to be real folders in this run (hashes of their relative
/// paths, each with whether this run made it): a site's files share a few folders, and each
/// check is a stat per folder on the way, so a file in a known folder needs no new check.
#[derive(Default)]
pub struct Folders {
    known: Mutex<HashMap<u64, bool>>,
    hasher: RandomState,
}

impl Folders {
    /// [`check_parents`], once per folder in this run; `Ok(true)` when the file's folder
    /// holds nothing from before this run (it is not there yet, or this run made it).
    pub fn check_parents(&self, root: &Path, rel: &Path) -> io::Result<bool> {
        if let Some(fresh) = self.known(rel) {
            return Ok(fresh);
        }
        if check_parents(root, rel)? {
            self.remember(rel, false);
            return Ok(false);
        }
        Ok(true)
    }

    /// [`make_parents`], once per folder in this run.
    pub fn make_parents(&self, root: &Path, rel: &Path) -> io::Result<PathBuf> {
        if self.known(rel).is_some() {
            return Ok(root.join(rel));
        }
        // Made by this run if it is not there now (or made by another thread meanwhile).
        let made = rel
            .parent()
            .is_some_and(|p| std::fs::symlink_metadata(root.join(p)).is_err());
        let file = make_parents(root, rel)?;
        self.remember(rel, made);
        Ok(file)
    }

    /// The mirror's folder itself holds nothing from before this run (it was not there,
    /// or was empty): the files saved straight in it need no look for earlier copies.
    pub fn root_is_new(&self) {
        self.remember(Path::new("file"), true);
    }

    fn remember(&self, rel: &Path, made: bool) {
        let key = self.hasher.hash_one(rel.parent());
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_insert(made);
    }

    fn known(&self, rel: &Path) -> Option<bool> {
        let key = self.hasher.hash_one(rel.parent());
        self.known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_paths_become_names_under_the_folder() {
        let ok = [
            ("/", "index.html"),
            ("/a.html", "a.html"),
            ("/docs/", "docs/index.html"),
            ("/a%20b/c%23d.txt", "a b/c#d.txt"),
            ("/caf%C3%A9.txt", "café.txt"),
            ("/100%25.txt", "100%.txt"),
            ("/q?x=1&y=2", "q?x=1&y=2"),
            ("/q?next=/a/b", "q?next=%2Fa%2Fb"),
            ("/dir/?C=M", "dir/index.html?C=M"),
            ("//a///b", "a/b"),
            ("/%2e%2ehidden", "..hidden"),
            ("/.well-known/x", ".well-known/x"),
        ];
        for (input, want) in ok {
            assert_eq!(path_for(input), Ok(PathBuf::from(want)), "{input}");
        }
        let refused = [
            ("/%2e%2e/x", Refusal::DotSegment),
            ("/a/%2E%2E/%2E%2E/x", Refusal::DotSegment),
            ("/a/%2e", Refusal::DotSegment),
            ("/a%2Fb", Refusal::EncodedSlash),
            ("/a%2f..%2fb", Refusal::EncodedSlash),
            ("/..%5c..%5cx", Refusal::EncodedSlash),
            ("/a%00.txt", Refusal::Nul),
            ("/a%zz", Refusal::BadEscape),
            ("/a%2", Refusal::BadEscape),
        ];
        for (input, want) in refused {
            assert_eq!(path_for(input), Err(want), "{input}");
        }
        let long = format!("/{}", "x".repeat(256));
        assert_eq!(path_for(&long), Err(Refusal::TooLong));
        let fine = format!("/{}", "x".repeat(255));
        assert!(path_for(&fine).is_ok());
        let deep = "/abcdefghij".repeat(400);
        assert_eq!(path_for(&deep), Err(Refusal::TooLong));
    }

    #[test]
    fn no_mapped_path_leaves_the_folder() {
        use std::path::Component;
        for input in [
            "/../../etc/passwd",
            "/a/../../b",
            "/%2e%2e%2f%2e%2e%2fx",
            "/./x",
            "/x?../../y",
            "/x?%2F..%2F",
        ] {
            if let Ok(p) = path_for(input) {
                assert!(
                    p.components().all(|c| matches!(c, Component::Normal(_))),
                    "{input} -> {p:?}"
                );
            }
        }
    }

    #[test]
    fn the_state_folder_is_reserved() {
        assert!(reserved(Path::new(".fetch-mirror/x")));
        assert!(!reserved(Path::new("a/.fetch-mirror/x")));
    }

    #[test]
    fn folders_on_the_way_may_not_be_symlinks_or_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("link")).unwrap();
        std::fs::write(root.join("file"), "x").unwrap();
        assert!(make_parents(root, Path::new("link/x.html")).is_err());
        assert!(make_parents(root, Path::new("file/x.html")).is_err());
        let p = make_parents(root, Path::new("a/b/c.html")).unwrap();
        assert_eq!(p, root.join("a/b/c.html"));
        assert!(root.join("a/b").is_dir());
    }

    #[test]
    fn relative_references_between_files() {
        let cases = [
            ("h", "h/a.html", false, "a.html"),
            ("h/docs", "h/style.css", false, "../style.css"),
            ("h/docs/x", "h/docs/y/z.png", false, "../y/z.png"),
            ("h", "h/a b#?%.txt", false, "a%20b%23%3F%25.txt"),
            ("h/d", "other:81/x.txt", false, "../../other:81/x.txt"),
            ("", "localhost:8080/x", false, "./localhost:8080/x"),
            ("h", "h/sub", true, "sub/"),
            ("h/sub", "h/sub", true, "./"),
            ("h", "h/caf\u{e9}.txt", false, "caf%C3%A9.txt"),
        ];
        for (from, to, folder, want) in cases {
            assert_eq!(
                relative(Path::new(from), Path::new(to), folder),
                want,
                "{from} -> {to}"
            );
        }
    }

    #[test]
    fn cut_dirs_keeps_the_name() {
        let cases = [
            ("a/b/c.txt", 0, "a/b/c.txt"),
            ("a/b/c.txt", 1, "b/c.txt"),
            ("a/b/c.txt", 2, "c.txt"),
            ("a/b/c.txt", 9, "c.txt"),
            ("index.html", 3, "index.html"),
        ];
        for (rel, n, want) in cases {
            assert_eq!(
                cut_dirs(Path::new(rel), n),
                PathBuf::from(want),
                "{rel} {n}"
            );
        }
    }
}
