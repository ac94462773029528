//! URL path → file under the root, or a refusal. The root is a jail (ARCHITECTURE.md,
//! decision 5): percent-decode once, keep only normal components, refuse NUL and dotfiles
//! (except `.well-known`), and check that the canonical result is still under the root.

use std::ffi::OsStr;
use std::fs::{self, File, Metadata};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use shared::percent_decode;

/// What a URL path maps to.
#[derive(Debug)]
pub enum Mapped {
    /// A regular file under the root (a directory's `index.html` included).
    File {
        /// Its path under the root (canonical when symlinks were involved).
        path: PathBuf,
        /// Its metadata at mapping time.
        meta: Metadata,
        /// The file, already open, when the fast path found it.
        file: Option<File>,
    },
    /// A directory with no `index.html`, asked with its trailing slash: list it (or 404).
    Dir {
        /// Its canonical path.
        path: PathBuf,
    },
    /// A directory asked without its trailing slash: redirect here (always a path starting
    /// with exactly one `/`, never `//host`).
    Redirect(String),
}

/// Why a URL path is not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Missing, hidden, outside the root, or not a regular file: 404, revealing nothing.
    NotFound,
    /// Exists but may not be read: 403.
    Forbidden,
    /// Malformed percent-encoding: 400.
    BadRequest,
}

impl Refused {
    /// The HTTP status for this refusal.
    pub fn status(self) -> u16 {
        match self {
            Refused::NotFound => 404,
            Refused::Forbidden => 403,
            Refused::BadRequest => 400,
        }
    }
}

/// What the jail lets through beyond the safe default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Jail {
    /// Serve names starting with a dot (`--hidden`). `..` is refused regardless.
    pub hidden: bool,
    /// Follow symlinks that lead outside the root (`--follow-symlinks`).
    pub follow_symlinks: bool,
}

/// The folder being served: its canonical path, and the folder itself opened once so that
/// lookups beneath it can be confined by the kernel.
#[derive(Debug)]
pub struct Root {
    path: PathBuf,
    dir: Option<OwnedFd>,
}

impl Root {
    /// Opens `path`, which must be canonical. Without the descriptor (should opening fail)
    /// every lookup takes the slow path, which is just as safe.
    pub fn open(path: PathBuf) -> Root {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let dir = rustix::fs::open(&path, flags, Mode::empty()).ok();
        Root { path, dir }
    }

    /// The canonical path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// What a kernel-confined open found.
enum Beneath {
    File(File, Metadata),
    Dir,
    Missing,
    Forbidden,
    Other,
    /// A symlink on the way, an old kernel, anything else: ask the slow path.
    Unsure,
}

/// Opens `rel` beneath the root with openat2(2): `RESOLVE_BENEATH` keeps the lookup inside
/// the root and `RESOLVE_NO_SYMLINKS` refuses any symlink, so what opens is exactly the
/// components already checked, in one syscall instead of a canonicalisation's many.
fn open_beneath(dir: &OwnedFd, rel: &[u8]) -> Beneath {
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    match rustix::fs::openat2(dir, OsStr::from_bytes(rel), flags, Mode::empty(), resolve) {
        Ok(fd) => {
            let file = File::from(fd);
            match file.metadata() {
                Ok(meta) if meta.is_file() => Beneath::File(file, meta),
                Ok(meta) if meta.is_dir() => Beneath::Dir,
                Ok(_) => Beneath::Other,
                Err(_) => Beneath::Unsure,
            }
        }
        Err(Errno::NOENT | Errno::NOTDIR) => Beneath::Missing,
        Err(Errno::ACCESS | Errno::PERM) => Beneath::Forbidden,
        Err(_) => Beneath::Unsure,
    }
}

/// Maps an origin-form target (`/a/b.txt?q`) to a file under `root`. Symlinks are resolved
/// first; one that leads outside the root, or to a hidden name, is refused like a missing
/// file (unless `jail` allows it).
pub fn map(root: &Root, target: &str, jail: Jail) -> Result<Mapped, Refused> {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let parts = segments(path, jail)?;
    let redirect = || {
        let mut location = String::from("/");
        for part in &parts {
            location.push_str(&shared::percent_encode(part, shared::Keep::Segment));
            location.push('/');
        }
        if let Some(q) = query {
            location.push('?');
            location.push_str(q);
        }
        Mapped::Redirect(location)
    };
    if let Some(dir) = root.dir.as_ref().filter(|_| !jail.follow_symlinks) {
        let mut rel = parts.join(&b'/');
        let under = |rel: &[u8]| root.path.join(OsStr::from_bytes(rel));
        match open_beneath(dir, if rel.is_empty() { b"." } else { &rel }) {
            Beneath::File(file, meta) => {
                return Ok(Mapped::File {
                    path: under(&rel),
                    meta,
                    file: Some(file),
                });
            }
            Beneath::Missing | Beneath::Other => return Err(Refused::NotFound),
            Beneath::Forbidden => return Err(Refused::Forbidden),
            Beneath::Dir if !path.ends_with('/') => return Ok(redirect()),
            Beneath::Dir => {
                let folder = under(&rel);
                if !rel.is_empty() {
                    rel.push(b'/');
                }
                rel.extend_from_slice(b"index.html");
                match open_beneath(dir, &rel) {
                    Beneath::File(file, meta) => {
                        return Ok(Mapped::File {
                            path: under(&rel),
                            meta,
                            file: Some(file),
                        });
                    }
                    Beneath::Missing | Beneath::Dir | Beneath::Other => {
                        return Ok(Mapped::Dir { path: folder });
                    }
                    Beneath::Forbidden => return Err(Refused::Forbidden),
                    Beneath::Unsure => {}
                }
            }
            Beneath::Unsure => {}
        }
    }
    let root_path = &root.path;
    let mut joined = root_path.clone();
    for part in &parts {
        joined.push(OsStr::from_bytes(part));
    }
    let real = canonical_under(root_path, &joined, jail)?;
    let meta = fs::metadata(&real).map_err(refusal)?;
    if meta.is_dir() {
        if !path.ends_with('/') {
            return Ok(redirect());
        }
        return match canonical_under(root_path, &real.join("index.html"), jail) {
            Ok(index) => match fs::metadata(&index) {
                Ok(meta) if meta.is_file() => Ok(Mapped::File {
                    path: index,
                    meta,
                    file: None,
                }),
                _ => Ok(Mapped::Dir { path: real }),
            },
            Err(Refused::Forbidden) => Err(Refused::Forbidden),
            Err(_) => Ok(Mapped::Dir { path: real }),
        };
    }
    if meta.is_file() {
        Ok(Mapped::File {
            path: real,
            meta,
            file: None,
        })
    } else {
        // FIFOs, sockets, devices: never opened (a FIFO would block a worker).
        Err(Refused::NotFound)
    }
}

/// The components of a URL path (no query), decoded once: empty and `.` components dropped;
/// `..`, NUL and (unless `jail.hidden`) hidden names refused as not found; malformed
/// percent-encoding is a bad request. What every path that reaches the disk goes through.
pub(crate) fn segments(path: &str, jail: Jail) -> Result<Vec<Vec<u8>>, Refused> {
    let decoded = percent_decode(path).ok_or(Refused::BadRequest)?;
    if decoded.contains(&0) {
        return Err(Refused::NotFound);
    }
    let mut parts = Vec::new();
    for part in decoded.split(|&b| b == b'/') {
        match part {
            b"" | b"." => continue,
            b".." => return Err(Refused::NotFound),
            _ if hidden(part) && !jail.hidden => return Err(Refused::NotFound),
            _ => parts.push(part.to_vec()),
        }
    }
    Ok(parts)
}

/// A name that starts with a dot is hidden, except `.well-known` (RFC 8615). `..` is
/// hidden too, so traversal never gets this far.
fn hidden(name: &[u8]) -> bool {
    name.first() == Some(&b'.') && name != b".well-known"
}

/// Resolves symlinks and checks the result is still under `root` and not hidden (as far as
/// `jail` requires).
pub(crate) fn canonical_under(root: &Path, path: &Path, jail: Jail) -> Result<PathBuf, Refused> {
    let real = fs::canonicalize(path).map_err(refusal)?;
    if jail.follow_symlinks {
        return Ok(real);
    }
    let rel = real.strip_prefix(root).map_err(|_| Refused::NotFound)?;
    for c in rel.components() {
        match c {
            Component::Normal(name) if jail.hidden || !hidden(name.as_bytes()) => {}
            _ => return Err(Refused::NotFound),
        }
    }
    Ok(real)
}

fn refusal(e: io::Error) -> Refused {
    match e.kind() {
        io::ErrorKind::PermissionDenied => Refused::Forbidden,
        _ => Refused::NotFound,
    }
}

/// The `Content-Type` for a file name, from its extension; text types say `charset=utf-8`.
pub(crate) fn content_type(path: &Path) -> String {
    let mime = mime_guess::from_path(path)
        .first_raw()
        .unwrap_or("application/octet-stream");
    let textual = mime.starts_with("text/")
        || matches!(
            mime,
            "application/javascript" | "application/json" | "application/xml" | "image/svg+xml"
        );
    if textual {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    struct Site {
        _dir: tempfile::TempDir,
        root: PathBuf,
    }

    fn site() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let base = fs::canonicalize(dir.path()).unwrap();
        let root = base.join("root");
        fs::create_dir_all(root.join("sub dir")).unwrap();
        fs::create_dir_all(root.join("noindex")).unwrap();
        fs::create_dir_all(root.join(".git")).unwrap();
        fs::create_dir_all(root.join(".well-known")).unwrap();
        fs::write(root.join("index.html"), "home").unwrap();
        fs::write(root.join("sub dir/index.html"), "sub").unwrap();
        fs::write(root.join("a b.txt"), "spaces").unwrap();
        fs::write(root.join("caf\u{e9}.txt"), "unicode").unwrap();
        fs::write(root.join("100%.txt"), "percent").unwrap();
        fs::write(root.join(".env"), "SECRET").unwrap();
        fs::write(root.join(".git/config"), "SECRET").unwrap();
        fs::write(root.join(".well-known/security.txt"), "contact").unwrap();
        fs::write(base.join("outside.txt"), "SECRET").unwrap();
        symlink(base.join("outside.txt"), root.join("escape.txt")).unwrap();
        symlink(&base, root.join("updir")).unwrap();
        symlink(root.join(".env"), root.join("env-link")).unwrap();
        symlink(root.join("a b.txt"), root.join("inside-link")).unwrap();
        symlink(root.join("missing"), root.join("broken")).unwrap();
        Site { _dir: dir, root }
    }

    /// Both ways to look a path up: openat2 beneath the root, and canonicalisation (what
    /// runs on kernels without openat2). They must agree on every case.
    fn roots(site: &Site) -> [Root; 2] {
        [
            Root::open(site.root.clone()),
            Root {
                path: site.root.clone(),
                dir: None,
            },
        ]
    }

    fn body(site: &Site, target: &str) -> Result<String, Refused> {
        let [fast, slow] = roots(site);
        let a = body_with(&fast, target);
        assert_eq!(
            a,
            body_with(&slow, target),
            "fast and slow paths disagree on {target}"
        );
        a
    }

    fn body_with(root: &Root, target: &str) -> Result<String, Refused> {
        match map(root, target, Jail::default())? {
            Mapped::File { path, .. } => Ok(fs::read_to_string(path).unwrap()),
            Mapped::Redirect(to) => Ok(format!("redirect {to}")),
            Mapped::Dir { .. } => Ok("listing".into()),
        }
    }

    #[test]
    fn maps_paths_to_files() {
        let s = site();
        let cases: &[(&str, Result<&str, Refused>)] = &[
            ("/", Ok("home")),
            ("/index.html", Ok("home")),
            ("/?x=1", Ok("home")),
            ("/a%20b.txt", Ok("spaces")),
            ("/caf%C3%A9.txt", Ok("unicode")),
            ("/100%25.txt", Ok("percent")),
            ("/sub%20dir/", Ok("sub")),
            ("/sub%20dir", Ok("redirect /sub%20dir/")),
            ("/sub%20dir?q=1", Ok("redirect /sub%20dir/?q=1")),
            ("//sub%20dir", Ok("redirect /sub%20dir/")),
            ("/./sub%20dir/./", Ok("sub")),
            ("/inside-link", Ok("spaces")),
            ("/.well-known/security.txt", Ok("contact")),
            ("/noindex/", Ok("listing")),
            ("/missing", Err(Refused::NotFound)),
            ("/broken", Err(Refused::NotFound)),
            ("/index.html/x", Err(Refused::NotFound)),
            ("/100%.txt", Err(Refused::BadRequest)),
            ("/%zz", Err(Refused::BadRequest)),
        ];
        for (target, want) in cases {
            let got = body(&s, target);
            assert_eq!(got.as_deref().map_err(|e| *e), *want, "target {target}");
        }
    }

    #[test]
    fn never_leaves_the_root() {
        let s = site();
        let attacks = [
            "/../outside.txt",
            "/%2e%2e/outside.txt",
            "/%2E%2E%2Foutside.txt",
            "/sub%20dir/../../outside.txt",
            "/..%2foutside.txt",
            "/..%5coutside.txt",
            "/%00",
            "/index.html%00.txt",
            "//etc/passwd",
            "/escape.txt",
            "/updir/outside.txt",
            "/.env",
            "/%2eenv",
            "/.git/config",
            "/env-link",
            "/..",
            "/...",
        ];
        for target in attacks {
            match body(&s, target) {
                Err(Refused::NotFound | Refused::BadRequest) => {}
                other => panic!("{target} gave {other:?}"),
            }
        }
    }

    #[test]
    fn redirect_never_becomes_network_path() {
        let s = site();
        fs::create_dir_all(s.root.join("evil.com")).unwrap();
        for target in ["//evil.com", "///evil.com", "/%2fevil.com", "/./evil.com"] {
            match map(&Root::open(s.root.clone()), target, Jail::default()) {
                Ok(Mapped::Redirect(to)) => assert_eq!(to, "/evil.com/", "{target}"),
                other => panic!("{target}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_jail_can_be_opened_on_purpose() {
        let s = site();
        let open = Jail {
            hidden: true,
            follow_symlinks: true,
        };
        let root = Root::open(s.root.clone());
        let read = |target| match map(&root, target, open) {
            Ok(Mapped::File { path, .. }) => fs::read_to_string(path).unwrap(),
            other => panic!("{target}: {other:?}"),
        };
        assert_eq!(read("/.env"), "SECRET");
        assert_eq!(read("/escape.txt"), "SECRET");
        // `..` stays refused whatever the options.
        assert!(map(&root, "/../outside.txt", open).is_err());
        assert!(map(&root, "/%2e%2e/outside.txt", open).is_err());
        let hidden_only = Jail {
            hidden: true,
            follow_symlinks: false,
        };
        assert!(map(&root, "/escape.txt", hidden_only).is_err());
    }

    #[test]
    fn content_types() {
        let cases = [
            ("a.html", "text/html; charset=utf-8"),
            ("a.css", "text/css; charset=utf-8"),
            ("a.js", "text/javascript; charset=utf-8"),
            ("a.txt", "text/plain; charset=utf-8"),
            ("a.json", "application/json; charset=utf-8"),
            ("a.png", "image/png"),
            ("a.svg", "image/svg+xml; charset=utf-8"),
            ("noext", "application/octet-stream"),
        ];
        for (name, want) in cases {
            assert_eq!(content_type(Path::new(name)), want, "{name}");
        }
    }
}
