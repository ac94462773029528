//! Uploads, the file side (`--upload`): where a PUT or a form's file may go, and writing it
//! so that nothing half-written is ever visible.
//!
//! The bytes go to an unnamed file in the target folder (`O_TMPFILE`), or where the file
//! system lacks that, to a hidden temporary name there; the file gets its real name only
//! once the whole body is in ([`Upload::commit`]). An upload dropped before that — a cut
//! connection, an error, a panic — leaves nothing behind, and with `O_TMPFILE` not even a
//! `kill -9` does. Without `--overwrite` the name is taken atomically (`linkat`, or
//! `renameat2(RENAME_NOREPLACE)`): of two uploads of one new name, exactly one wins, whole.
//!
//! Paths pass the same jail as reads ([`jail::segments`], [`jail::canonical_under`]):
//! no `..`, no NUL, hidden names only with `--hidden`, nothing outside the root, symlinks
//! included. Once the folder is found it is opened, and everything after happens relative
//! to that descriptor, so a folder renamed meanwhile cannot redirect the write.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{AtFlags, Mode, OFlags, RenameFlags};
use rustix::io::Errno;

use crate::jail::{self, Jail, Refused, Root};

/// What uploads may do (all off by default but the jail's own defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Rules {
    /// Replace an existing file (`--overwrite`); without it, an existing name is 409.
    pub overwrite: bool,
    /// Create missing folders on the way (`--upload-mkdir`); without it, 409.
    pub mkdir: bool,
    /// Only under this folder, relative to the root (`--upload-dir`); `None`: anywhere.
    pub subtree: Option<PathBuf>,
    /// The read jail: hidden names and symlinks out of the root.
    pub jail: Jail,
}

/// Why an upload is refused.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum Refusal {
    /// The path or name breaks the jail's rules, or names no file (`PUT /dir/`): 400, or
    /// 404 for what reads would call missing.
    Path(Refused),
    /// Outside `--upload-dir`: 403.
    OutsideUploadDir,
    /// The name exists and `--overwrite` is off, or a folder (or another kind of file)
    /// holds it: 409.
    Exists,
    /// A folder on the way is missing and `--upload-mkdir` is off, or a file stands where
    /// a folder should: 409.
    NoFolder,
    /// The disk is full or the file too large for it (ENOSPC, EDQUOT, EFBIG): 507.
    Full(io::Error),
    /// Any other I/O failure: 500.
    Io(io::Error),
}

impl Refusal {
    /// The HTTP status for this refusal.
    pub(crate) fn status(&self) -> u16 {
        match self {
            Refusal::Path(r) => r.status(),
            Refusal::OutsideUploadDir => 403,
            Refusal::Exists | Refusal::NoFolder => 409,
            Refusal::Full(_) => 507,
            Refusal::Io(_) => 500,
        }
    }

    /// A short text for the response body and the log.
    pub(crate) fn reason(&self) -> String {
        match self {
            Refusal::Path(Refused::BadRequest) => "bad upload path".into(),
            Refusal::Path(_) => "not a name uploads may use".into(),
            Refusal::OutsideUploadDir => "uploads go under --upload-dir only".into(),
            Refusal::Exists => "the file exists (serve --overwrite replaces it)".into(),
            Refusal::NoFolder => {
                "the folder does not exist (serve --upload-mkdir creates it)".into()
            }
            Refusal::Full(e) | Refusal::Io(e) => shared::io_words(e),
        }
    }
}

impl From<io::Error> for Refusal {
    fn from(e: io::Error) -> Refusal {
        match e.raw_os_error() {
            Some(libc::ENOSPC | libc::EDQUOT | libc::EFBIG) => Refusal::Full(e),
            _ => Refusal::Io(e),
        }
    }
}

impl From<Errno> for Refusal {
    fn from(e: Errno) -> Refusal {
        io::Error::from(e).into()
    }
}

/// How a committed upload ended: the status to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A new file: 201 Created, with a Location.
    Created,
    /// An existing file replaced (`--overwrite`): 204 No Content.
    Replaced,
}

#[cfg(test)]
impl Outcome {
    /// 201 or 204.
    fn status(self) -> u16 {
        match self {
            Outcome::Created => 201,
            Outcome::Replaced => 204,
        }
    }
}

/// Where a PUT to `url_path` (no query) would write: the folder's components and the name.
/// Checks the jail and `--upload-dir`, and that the path names a file.
pub(crate) fn split_target(
    url_path: &str,
    rules: &Rules,
) -> Result<(Vec<Vec<u8>>, Vec<u8>), Refusal> {
    let mut parts = jail::segments(url_path, rules.jail).map_err(Refusal::Path)?;
    if url_path.ends_with('/') {
        return Err(Refusal::Path(Refused::BadRequest));
    }
    let name = parts.pop().ok_or(Refusal::Path(Refused::BadRequest))?;
    if let Some(sub) = &rules.subtree {
        let under = sub
            .components()
            .filter_map(|c| match c {
                std::path::Component::Normal(n) => Some(n.as_bytes()),
                _ => None,
            })
            .enumerate()
            .all(|(i, c)| parts.get(i).is_some_and(|p| p.as_slice() == c));
        if !under {
            return Err(Refusal::OutsideUploadDir);
        }
    }
    Ok((parts, name))
}

/// Finds (or with `--upload-mkdir` creates) the folder `parts` under the root, and checks
/// that it is really there: its canonical path is under the root (and under `--upload-dir`).
pub(crate) fn folder(root: &Root, parts: &[Vec<u8>], rules: &Rules) -> Result<PathBuf, Refusal> {
    let base = root.path();
    let mut cur = base.to_path_buf();
    for part in parts {
        let next = cur.join(OsStr::from_bytes(part));
        cur = match jail::canonical_under(base, &next, rules.jail) {
            Ok(real) if real.is_dir() => real,
            Ok(_) => return Err(Refusal::NoFolder),
            Err(Refused::Forbidden) => return Err(Refusal::Path(Refused::Forbidden)),
            Err(_) if rules.mkdir && fs::symlink_metadata(&next).is_err() => {
                match fs::create_dir(&next) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e.into()),
                }
                jail::canonical_under(base, &next, rules.jail).map_err(Refusal::Path)?
            }
            Err(_) if fs::symlink_metadata(&next).is_err() => return Err(Refusal::NoFolder),
            // There, but hidden or leading out of the root: as a read would see it.
            Err(r) => return Err(Refusal::Path(r)),
        };
    }
    if let Some(sub) = &rules.subtree
        && !cur.starts_with(base.join(sub))
    {
        return Err(Refusal::OutsideUploadDir);
    }
    Ok(cur)
}

/// Everything a PUT to `url_path` (no query) checks before its body is read: the jail,
/// `--upload-dir`, the folder (created with `--upload-mkdir`), and the name (409 when it
/// exists without `--overwrite`). Returns the upload to write into and the `Location` of
/// the file (its path, percent-encoded) for a 201.
pub(crate) fn prepare(
    root: &Root,
    url_path: &str,
    rules: &Rules,
) -> Result<(Upload, String), Refusal> {
    let (parts, name) = split_target(url_path, rules)?;
    let dir = folder(root, &parts, rules)?;
    let upload = Upload::begin(&dir, &name, rules.overwrite)?;
    let mut location = String::new();
    for part in parts.iter().chain([&name]) {
        location.push('/');
        location.push_str(&shared::percent_encode(part, shared::Keep::Segment));
    }
    Ok((upload, location))
}

/// One upload being written. Write the body into it, then [`commit`](Upload::commit);
/// dropped uncommitted, it leaves nothing behind.
#[derive(Debug)]
pub(crate) struct Upload {
    dir: OwnedFd,
    name: OsString,
    file: File,
    /// The hidden name the bytes sit under, when `O_TMPFILE` was not available.
    temp: Option<OsString>,
    overwrite: bool,
    written: u64,
}

static TEMPS: AtomicU64 = AtomicU64::new(0);

impl Upload {
    /// Starts an upload of `name` into the canonical folder `dir` (from [`folder`]). Refuses
    /// at once (before any body is read) when the name exists and `overwrite` is off, or
    /// when a folder holds it.
    pub(crate) fn begin(dir: &Path, name: &[u8], overwrite: bool) -> Result<Upload, Refusal> {
        let dir = rustix::fs::open(
            dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let name = OsStr::from_bytes(name).to_owned();
        match rustix::fs::statat(&dir, &name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if rustix::fs::FileType::from_raw_mode(st.st_mode).is_file() => {
                if !overwrite {
                    return Err(Refusal::Exists);
                }
            }
            // A folder, a symlink, a FIFO: never replaced by an upload.
            Ok(_) => return Err(Refusal::Exists),
            Err(Errno::NOENT) => {}
            Err(e) => return Err(e.into()),
        }
        let mode = Mode::from_raw_mode(0o644);
        let write = OFlags::WRONLY | OFlags::CLOEXEC;
        let (fd, temp) = match rustix::fs::openat(&dir, ".", write | OFlags::TMPFILE, mode) {
            Ok(fd) if Path::new("/proc/self/fd").is_dir() => (fd, None),
            _ => {
                // No O_TMPFILE here (or no /proc to link it by): a hidden name, removed on drop.
                let n = TEMPS.fetch_add(1, Ordering::Relaxed);
                let temp = OsString::from(format!(".serve-upload.{}.{n}", std::process::id()));
                let fd =
                    rustix::fs::openat(&dir, &temp, write | OFlags::CREATE | OFlags::EXCL, mode)?;
                (fd, Some(temp))
            }
        };
        Ok(Upload {
            dir,
            name,
            file: File::from(fd),
            temp,
            overwrite,
            written: 0,
        })
    }

    /// Bytes written so far.
    #[cfg(test)]
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// The whole body is in: give the file its name. Without `overwrite`, a name taken
    /// meanwhile is [`Refusal::Exists`] and the upload is discarded.
    pub(crate) fn commit(mut self) -> Result<Outcome, Refusal> {
        self.file.flush()?;
        let outcome = match self.temp.take() {
            None => {
                let proc_path = format!("/proc/self/fd/{}", self.file.as_raw_fd());
                let link = |to: &OsStr| {
                    rustix::fs::linkat(
                        rustix::fs::CWD,
                        proc_path.as_str(),
                        &self.dir,
                        to,
                        AtFlags::SYMLINK_FOLLOW,
                    )
                };
                match link(&self.name) {
                    Ok(()) => Outcome::Created,
                    Err(Errno::EXIST) if self.overwrite => {
                        // Linked under a hidden name first, then renamed over the old file:
                        // readers see the old file or the new one, whole.
                        let n = TEMPS.fetch_add(1, Ordering::Relaxed);
                        let temp =
                            OsString::from(format!(".serve-upload.{}.{n}", std::process::id()));
                        link(&temp)?;
                        self.temp = Some(temp);
                        self.rename_over()?
                    }
                    Err(Errno::EXIST) => return Err(Refusal::Exists),
                    Err(e) => return Err(e.into()),
                }
            }
            Some(temp) => {
                self.temp = Some(temp);
                match self.rename_new() {
                    Ok(()) => Outcome::Created,
                    Err(Refusal::Exists) if self.overwrite => self.rename_over()?,
                    Err(e) => return Err(e),
                }
            }
        };
        Ok(outcome)
    }

    /// Renames the temporary name to the real one, if that is still free.
    fn rename_new(&mut self) -> Result<(), Refusal> {
        let temp = self.temp.as_ref().expect("a temporary name");
        match rustix::fs::renameat_with(
            &self.dir,
            temp,
            &self.dir,
            &self.name,
            RenameFlags::NOREPLACE,
        ) {
            Ok(()) => {}
            Err(Errno::EXIST) => return Err(Refusal::Exists),
            // No RENAME_NOREPLACE on this file system: a hard link fails just as atomically.
            Err(Errno::INVAL | Errno::NOSYS) => {
                match rustix::fs::linkat(&self.dir, temp, &self.dir, &self.name, AtFlags::empty()) {
                    Ok(()) => {
                        let _ = rustix::fs::unlinkat(&self.dir, temp, AtFlags::empty());
                    }
                    Err(Errno::EXIST) => return Err(Refusal::Exists),
                    Err(e) => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        }
        self.temp = None;
        Ok(())
    }

    /// Renames the temporary name over the real one (which existed a moment ago).
    fn rename_over(&mut self) -> Result<Outcome, Refusal> {
        let temp = self.temp.as_ref().expect("a temporary name");
        rustix::fs::renameat(&self.dir, temp, &self.dir, &self.name)?;
        self.temp = None;
        Ok(Outcome::Replaced)
    }
}

impl Write for Upload {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        // An O_TMPFILE file vanishes with its descriptor; a named one is removed here.
        if let Some(temp) = &self.temp {
            let _ = rustix::fs::unlinkat(self.dir.as_fd(), temp, AtFlags::empty());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use std::sync::{Arc, Barrier};

    use crate::testdir;

    struct Site {
        _dir: testdir::TestDir,
        root: Root,
        outside: PathBuf,
    }

    fn site() -> Site {
        let dir = testdir::new();
        let root = dir.root.clone();
        let outside = dir.base.join("outside");
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::create_dir_all(root.join("drop box")).unwrap();
        fs::create_dir_all(root.join(".git")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        fs::write(root.join("old.txt"), "old").unwrap();
        fs::write(root.join("afile"), "x").unwrap();
        symlink(&outside, root.join("out")).unwrap();
        symlink(root.join("sub"), root.join("sublink")).unwrap();
        Site {
            _dir: dir,
            root: Root::open(root),
            outside,
        }
    }

    /// The whole upload: prepare, write, commit.
    fn put(s: &Site, url: &str, body: &[u8], rules: &Rules) -> Result<Outcome, Refusal> {
        let (mut up, location) = prepare(&s.root, url, rules)?;
        assert!(
            location.starts_with('/') && !location.contains(".."),
            "{location}"
        );
        up.write_all(body)?;
        up.commit()
    }

    /// The names in a folder, sorted: nothing temporary may linger.
    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn statuses_by_case() {
        let s = site();
        let plain = Rules::default();
        let over = Rules {
            overwrite: true,
            ..Rules::default()
        };
        let mkdir = Rules {
            mkdir: true,
            ..Rules::default()
        };
        let limited = Rules {
            subtree: Some("drop box".into()),
            ..Rules::default()
        };
        let cases: Vec<(&str, &Rules, Result<u16, u16>)> = vec![
            ("/new.txt", &plain, Ok(201)),
            ("/sub/new.txt", &plain, Ok(201)),
            ("/sublink/viaLink.txt", &plain, Ok(201)),
            ("/caf%C3%A9%20100%25.txt", &plain, Ok(201)),
            ("/old.txt", &plain, Err(409)),
            ("/old.txt", &over, Ok(204)),
            ("/sub", &over, Err(409)),
            ("/sub/", &plain, Err(400)),
            ("/", &plain, Err(400)),
            ("/a/b/c.txt", &plain, Err(409)),
            ("/a/b/c.txt", &mkdir, Ok(201)),
            ("/afile/x.txt", &mkdir, Err(409)),
            ("/../x.txt", &plain, Err(404)),
            ("/%2e%2e/x.txt", &mkdir, Err(404)),
            ("/.env", &plain, Err(404)),
            ("/.git/x", &mkdir, Err(404)),
            ("/out/x.txt", &mkdir, Err(404)),
            ("/out/new/x.txt", &mkdir, Err(404)),
            ("/x%00.txt", &plain, Err(404)),
            ("/%zz", &plain, Err(400)),
            ("/drop%20box/ok.txt", &limited, Ok(201)),
            ("/drop%20box/../x.txt", &limited, Err(404)),
            ("/sub/x.txt", &limited, Err(403)),
            ("/x.txt", &limited, Err(403)),
        ];
        for (url, rules, want) in cases {
            let got = put(&s, url, b"data", rules)
                .map(Outcome::status)
                .map_err(|r| r.status());
            assert_eq!(got, want, "{url} with {rules:?}");
        }
        let root = s.root.path();
        let (_, location) = prepare(&s.root, "/sub/caf%C3%A9%20x.txt", &plain).unwrap();
        assert_eq!(location, "/sub/caf%C3%A9%20x.txt");
        assert_eq!(fs::read(root.join("old.txt")).unwrap(), b"data");
        assert_eq!(fs::read(root.join("a/b/c.txt")).unwrap(), b"data");
        assert_eq!(fs::read(root.join("sub/viaLink.txt")).unwrap(), b"data");
        assert!(names(&s.outside).is_empty());
        for dir in [root.to_path_buf(), root.join("sub"), root.join("drop box")] {
            assert!(
                names(&dir).iter().all(|n| !n.starts_with(".serve")),
                "{dir:?}"
            );
        }
    }

    #[test]
    fn hidden_names_with_the_jail_open() {
        let s = site();
        let rules = Rules {
            jail: Jail {
                hidden: true,
                follow_symlinks: false,
            },
            ..Rules::default()
        };
        assert_eq!(put(&s, "/.env", b"k=v", &rules).unwrap(), Outcome::Created);
        assert!(put(&s, "/out/x", b"k=v", &rules).is_err());
    }

    #[test]
    fn nothing_is_visible_before_commit_and_a_drop_leaves_nothing() {
        let s = site();
        let root = s.root.path().to_path_buf();
        let before = names(&root);
        let mut up = Upload::begin(&root, b"big.bin", false).unwrap();
        up.write_all(&[7u8; 100_000]).unwrap();
        assert_eq!(up.written(), 100_000);
        assert_eq!(names(&root), before, "a half-written upload is visible");
        drop(up);
        assert_eq!(names(&root), before);
        // The named fallback behaves the same.
        let mut up = Upload::begin(&root, b"big.bin", false).unwrap();
        up.write_all(b"partial").unwrap();
        if up.temp.is_none() {
            // Force the fallback's path: a hidden temporary name.
            let temp = OsString::from(".serve-upload.test");
            let fd = rustix::fs::openat(
                &up.dir,
                &temp,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o644),
            )
            .unwrap();
            up.file = File::from(fd);
            up.temp = Some(temp);
            up.write_all(b"whole").unwrap();
        }
        drop(up);
        assert_eq!(names(&root), before);
    }

    #[test]
    fn two_writers_of_one_new_name_one_wins_whole() {
        for overwrite in [false, true] {
            let s = site();
            let root = s.root.path().to_path_buf();
            let barrier = Arc::new(Barrier::new(2));
            let writers: Vec<_> = [b'a', b'b']
                .into_iter()
                .map(|byte| {
                    let (root, barrier) = (root.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        let mut up = Upload::begin(&root, b"same.bin", overwrite).unwrap();
                        for _ in 0..64 {
                            up.write_all(&[byte; 4096]).unwrap();
                        }
                        barrier.wait();
                        up.commit().map(Outcome::status).map_err(|r| r.status())
                    })
                })
                .collect();
            let results: Vec<_> = writers.into_iter().map(|w| w.join().unwrap()).collect();
            let body = fs::read(root.join("same.bin")).unwrap();
            assert_eq!(body.len(), 64 * 4096);
            assert!(body.iter().all(|&b| b == body[0]), "a torn file");
            if overwrite {
                let mut statuses: Vec<_> = results.iter().map(|r| *r.as_ref().unwrap()).collect();
                statuses.sort();
                assert_eq!(statuses, [201, 204]);
            } else {
                assert!(
                    results.contains(&Ok(201)) && results.contains(&Err(409)),
                    "{results:?}"
                );
            }
            assert!(names(&root).iter().all(|n| !n.starts_with(".serve")));
        }
    }

    #[test]
    fn a_full_disk_is_507() {
        let e = Refusal::from(io::Error::from_raw_os_error(libc::ENOSPC));
        assert_eq!(e.status(), 507);
        assert_eq!(
            Refusal::from(io::Error::from_raw_os_error(libc::EFBIG)).status(),
            507
        );
        assert_eq!(
            Refusal::from(io::Error::from_raw_os_error(libc::EIO)).status(),
            500
        );
    }
}
