//! `--watch`, the file side: one inotify descriptor watching every folder under the root
//! (recursively: a folder that appears gets its own watch, and so does everything in it),
//! and the rule for which names count as a change. The hub (`hub.rs`) reads it from its own
//! epoll set and debounces what it reports.
//!
//! inotify through rustix (already a dependency, and the crate the `inotify` crate's own
//! maintainers recommend for raw access), so `--watch` adds no crate.
//!
//! Bounded: at most [`MAX_WATCHES`] folders are watched (the kernel's own per-user limit,
//! `fs.inotify.max_user_watches`, may stop us earlier). Past the limit, one stderr line says
//! so and changes in the folders left out are not seen; the ones already watched go on.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};

/// The most folders watched at once.
pub(crate) const MAX_WATCHES: usize = 8192;

/// What a batch of file events amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Change {
    /// Nothing a page cares about (hidden files, editor temp files).
    None,
    /// Only style sheets: they can be swapped without reloading the page.
    Css,
    /// Anything else: reload the page.
    Page,
}

/// The watched tree.
#[derive(Debug)]
pub(crate) struct Tree {
    fd: OwnedFd,
    root: PathBuf,
    /// Each watch's folder, relative to the root.
    dirs: HashMap<i32, PathBuf>,
    /// Said once that the limit was reached.
    warned: bool,
}

/// The events that change what is served: a file written and closed, created, removed or
/// renamed (editors that save by renaming a temp file over the original give a move).
fn mask() -> WatchFlags {
    WatchFlags::CLOSE_WRITE
        | WatchFlags::CREATE
        | WatchFlags::DELETE
        | WatchFlags::MOVED_FROM
        | WatchFlags::MOVED_TO
        | WatchFlags::ONLYDIR
        | WatchFlags::DONT_FOLLOW
}

impl AsFd for Tree {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Tree {
    /// Watches `root` and every visible folder under it (non-blocking descriptor).
    pub(crate) fn new(root: &Path) -> io::Result<Tree> {
        let fd = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)?;
        let mut tree = Tree {
            fd,
            root: root.to_path_buf(),
            dirs: HashMap::new(),
            warned: false,
        };
        tree.add(PathBuf::new())?;
        Ok(tree)
    }

    /// How many folders are watched.
    #[cfg(test)]
    pub(crate) fn watched(&self) -> usize {
        self.dirs.len()
    }

    /// Watches the folder `rel` (relative to the root) and the visible folders under it,
    /// breadth first and without following symlinks, up to the limit.
    fn add(&mut self, rel: PathBuf) -> io::Result<()> {
        let mut queue = vec![rel];
        while let Some(rel) = queue.pop() {
            if self.dirs.len() >= MAX_WATCHES {
                self.limit_reached(&format!("over {MAX_WATCHES} folders"));
                return Ok(());
            }
            let full = self.root.join(&rel);
            let wd = match inotify::add_watch(&self.fd, &full, mask()) {
                Ok(wd) => wd,
                Err(rustix::io::Errno::NOSPC) => {
                    self.limit_reached("the kernel's fs.inotify.max_user_watches");
                    return Ok(());
                }
                // The root must be watchable; a folder that vanished or is unreadable is
                // just not watched.
                Err(e) if rel.as_os_str().is_empty() => return Err(e.into()),
                Err(_) => continue,
            };
            self.dirs.insert(wd, rel.clone());
            let Ok(entries) = std::fs::read_dir(&full) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                // file_type() does not follow symlinks: a link to a folder is not walked.
                if !hidden(&name) && entry.file_type().is_ok_and(|t| t.is_dir()) {
                    queue.push(rel.join(name));
                }
            }
        }
        Ok(())
    }

    fn limit_reached(&mut self, why: &str) {
        if !self.warned {
            self.warned = true;
            eprintln!(
                "serve: --watch: watching {} folders ({why}); changes in the others are not seen",
                self.dirs.len()
            );
        }
    }

    /// Reads every pending event (the descriptor is non-blocking), watching folders that
    /// appeared, and says what they amount to.
    pub(crate) fn read(&mut self) -> Change {
        let mut change = Change::None;
        let mut new_dirs = Vec::new();
        let mut gone = Vec::new();
        // An error other than "nothing more" leaves what was read: the next event reads on.
        let _ = read_events(self.fd.as_fd(), |wd, flags, name| {
            if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
                // Events were lost: whatever they were, a reload covers them.
                change = Change::Page;
                return;
            }
            if flags.contains(ReadFlags::IGNORED) {
                gone.push(wd);
                return;
            }
            let Some(name) = name else {
                return;
            };
            let this = of_name(name);
            if this == Change::None {
                return;
            }
            if flags.contains(ReadFlags::ISDIR)
                && flags.intersects(ReadFlags::CREATE | ReadFlags::MOVED_TO)
                && let Some(parent) = self.dirs.get(&wd)
            {
                new_dirs.push(parent.join(name));
            }
            change = change.max(this);
        });
        for wd in gone {
            self.dirs.remove(&wd);
        }
        for dir in new_dirs {
            let _ = self.add(dir);
        }
        change
    }
}

/// Reads every event queued on the non-blocking inotify descriptor `fd`, calling `each`
/// with its watch, its flags and the name it is about (`None`: the watched object itself).
/// `Ok` once the queue is empty; an error says events may be left unread. Used by `--watch`
/// and by the cache (`crate::cache`).
pub(crate) fn read_events(
    fd: BorrowedFd<'_>,
    mut each: impl FnMut(i32, ReadFlags, Option<&OsStr>),
) -> io::Result<()> {
    let mut buf = [MaybeUninit::<u8>::uninit(); 8192];
    let mut reader = inotify::Reader::new(fd, &mut buf);
    loop {
        match reader.next() {
            Ok(event) => {
                let name = event
                    .file_name()
                    .map(|n| OsStr::from_bytes(n.to_bytes()))
                    .filter(|n| !n.is_empty());
                each(event.wd(), event.events(), name);
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Hidden: a dotfile or dot-folder (served only with `--hidden`, never a trigger).
fn hidden(name: &OsStr) -> bool {
    name.as_bytes().first() == Some(&b'.')
}

/// What a change to a file named `name` means: nothing for hidden files and editor temp
/// files (vim's `*.swp`/`*.swx`/`*.swo` and its `4913` probe, `name~` backups, emacs'
/// `#name#`), a style sheet swap for `*.css`, else a page reload.
pub(crate) fn of_name(name: &OsStr) -> Change {
    let b = name.as_bytes();
    let temp = b == b"4913"
        || b.ends_with(b"~")
        || (b.starts_with(b"#") && b.ends_with(b"#"))
        || [&b".swp"[..], b".swx", b".swo"]
            .iter()
            .any(|ext| b.ends_with(ext));
    if b.is_empty() || hidden(name) || temp {
        Change::None
    } else if b.len() > 4 && b[b.len() - 4..].eq_ignore_ascii_case(b".css") {
        Change::Css
    } else {
        Change::Page
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_trigger_and_names_that_do_not() {
        let cases = [
            ("index.html", Change::Page),
            ("app.js", Change::Page),
            ("style.css", Change::Css),
            ("STYLE.CSS", Change::Css),
            (".css", Change::None),
            (".hidden", Change::None),
            (".index.html.swp", Change::None),
            ("index.html.swx", Change::None),
            ("index.html~", Change::None),
            ("4913", Change::None),
            ("#index.html#", Change::None),
            ("49130", Change::Page),
        ];
        for (name, want) in cases {
            assert_eq!(of_name(OsStr::new(name)), want, "{name}");
        }
    }

    #[test]
    fn a_new_folder_is_watched_and_changes_in_it_are_seen() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::create_dir_all(dir.path().join(".git/objects")).unwrap();
        let mut tree = Tree::new(dir.path()).unwrap();
        assert_eq!(tree.watched(), 3, "root, a, a/b; not .git");
        std::fs::create_dir(dir.path().join("a/new")).unwrap();
        assert_eq!(tree.read(), Change::Page);
        assert_eq!(tree.watched(), 4);
        std::fs::write(dir.path().join("a/new/x.css"), "x").unwrap();
        assert_eq!(tree.read(), Change::Css);
        std::fs::write(dir.path().join(".git/objects/x"), "x").unwrap();
        std::fs::write(dir.path().join("a/b/.x.swp"), "x").unwrap();
        assert_eq!(tree.read(), Change::None);
    }
}
