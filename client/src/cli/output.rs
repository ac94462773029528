//! Where a body goes: stdout, byte-exact (a closed pipe is a quiet end, a binary body is
//! kept off a terminal), or a file written as `NAME.part` and renamed to `NAME` only when
//! complete.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use shared::{io_words, percent_decode};

use crate::error::Error;

/// Where the body of one target goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    /// Standard output; `explicit` when asked for with `-o -` (then even a binary body goes
    /// to a terminal).
    Stdout {
        /// Given as `-o -`.
        explicit: bool,
    },
    /// A file, written as `FILE.part` first.
    File(PathBuf),
}

/// An open destination. Dropping it without [`Sink::finish`] leaves a file's `.part`
/// behind (for a later resume) and never touches the final name.
pub struct Sink<'a> {
    kind: Kind<'a>,
}

impl std::fmt::Debug for Sink<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            Kind::Stdout { .. } => f.write_str("Sink(stdout)"),
            Kind::File { part, path, .. } => {
                write!(f, "Sink({})", part.as_deref().unwrap_or(path).display())
            }
        }
    }
}

enum Kind<'a> {
    Stdout {
        out: &'a mut (dyn Write + Send),
        terminal: bool,
        explicit: bool,
    },
    File {
        file: io::BufWriter<File>,
        // `None` for a device or FIFO, written in place.
        part: Option<PathBuf>,
        path: PathBuf,
        no_clobber: bool,
    },
}

/// How files are created: curl's `--no-clobber` and `--create-file-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileRules {
    /// Never replace an existing file: the body takes the first free name of `NAME.1` to
    /// `NAME.100` instead (curl's numbering), or fails (exit 23).
    pub no_clobber: bool,
    /// The permission bits of a new file, before the umask (curl's default 0666).
    pub mode: u32,
}

impl Default for FileRules {
    fn default() -> FileRules {
        FileRules {
            no_clobber: false,
            mode: 0o666,
        }
    }
}

/// True for an existing path that is neither a regular file nor a folder: `/dev/null`,
/// `/dev/stdout`, a FIFO. Such a destination is written in place, as curl does: renaming
/// `NAME.part` over it would replace the device node itself (as root, for the whole machine).
pub fn is_special(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// `NAME.part`, next to `NAME`.
pub fn part_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".part");
    PathBuf::from(name)
}

/// `NAME.part.meta`, next to `NAME.part`: the validator recorded when the download started,
/// for a later resume.
pub fn meta_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".part.meta");
    PathBuf::from(name)
}

/// Whether stdout is a terminal, asked once per run: it does not change, and asking is a
/// system call (two per transfer were 2000 of a 1000-file -Z run's 11,000).
pub fn stdout_is_terminal() -> bool {
    static TERMINAL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TERMINAL.get_or_init(|| io::stdout().is_terminal())
}

impl<'a> Sink<'a> {
    /// Stdout, through `out` (which may hold the bytes back until their turn); `explicit`
    /// when asked for with `-o -`.
    pub fn stdout(out: &'a mut (dyn Write + Send), explicit: bool) -> Sink<'a> {
        Sink {
            kind: Kind::Stdout {
                out,
                terminal: stdout_is_terminal(),
                explicit,
            },
        }
    }

    /// The file `path`, written as `path.part`: created (or truncated), or with `append`
    /// opened to add to what is there (a resumed download).
    pub fn file(path: &Path, append: bool) -> Result<Sink<'a>, Error> {
        Sink::file_with(path, append, FileRules::default())
    }

    /// [`Sink::file`] under `rules`.
    pub fn file_with(path: &Path, append: bool, rules: FileRules) -> Result<Sink<'a>, Error> {
        use std::os::unix::fs::OpenOptionsExt;
        let part = (!is_special(path)).then(|| part_path(path));
        let target = part.as_deref().unwrap_or(path);
        let opened = if part.is_none() {
            std::fs::OpenOptions::new().write(true).open(target)
        } else if append {
            std::fs::OpenOptions::new().append(true).open(target)
        } else {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(rules.mode)
                .open(target)
        };
        let file = opened.map_err(|e| Error::Write {
            what: target.display().to_string(),
            reason: io_words(&e),
        })?;
        Ok(Sink {
            kind: Kind::File {
                file: io::BufWriter::with_capacity(64 * 1024, file),
                part,
                path: path.to_path_buf(),
                no_clobber: rules.no_clobber,
            },
        })
    }

    /// True when `first` (the first body bytes) looks binary and would land on a terminal
    /// that nobody asked for with `-o -`.
    pub fn refuses_binary(&self, first: &[u8]) -> bool {
        match &self.kind {
            Kind::Stdout {
                terminal, explicit, ..
            } => *terminal && !*explicit && looks_binary(first),
            Kind::File { .. } => false,
        }
    }

    /// Writes all of `bytes`. A closed stdout (the reader went away, as with `| head -1`)
    /// is [`Error::StdoutClosed`], which the command treats as a quiet success.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let result = match &mut self.kind {
            Kind::Stdout { out, .. } => out.write_all(bytes),
            Kind::File { file, .. } => file.write_all(bytes),
        };
        result.map_err(|e| self.write_error(e))
    }

    fn write_error(&self, e: io::Error) -> Error {
        match &self.kind {
            Kind::Stdout { .. } if e.kind() == io::ErrorKind::BrokenPipe => Error::StdoutClosed,
            Kind::Stdout { .. } => Error::Write {
                what: "stdout".into(),
                reason: io_words(&e),
            },
            Kind::File { part, path, .. } => Error::Write {
                what: part.as_deref().unwrap_or(path).display().to_string(),
                reason: io_words(&e),
            },
        }
    }

    /// Writes what is buffered (so a file's `.part` holds every byte received).
    pub fn flush(&mut self) -> Result<(), Error> {
        let flushed = match &mut self.kind {
            Kind::Stdout { out, .. } => out.flush(),
            Kind::File { file, .. } => file.flush(),
        };
        flushed.map_err(|e| self.write_error(e))
    }

    /// The body is complete: flush, and give a file its final name (removing the resume
    /// record beside it). Returns that name when it is not the one asked for
    /// (`--no-clobber`).
    pub fn finish(mut self) -> Result<Option<PathBuf>, Error> {
        self.flush()?;
        if let Kind::File {
            part: Some(part),
            path,
            no_clobber,
            ..
        } = &self.kind
        {
            let fail = |e: io::Error| Error::Write {
                what: path.display().to_string(),
                reason: format!("cannot rename {} to it: {}", part.display(), io_words(&e)),
            };
            let mut renamed = None;
            if *no_clobber {
                renamed = Some(rename_free(part, path).map_err(fail)?);
            } else {
                std::fs::rename(part, path).map_err(fail)?;
            }
            // Only a resume would read it, and there is nothing left to resume.
            let _ = std::fs::remove_file(meta_path(path));
            return Ok(renamed.filter(|p| p != path));
        }
        Ok(None)
    }
}

/// `--no-clobber`: renames `part` to `path`, else to the first of `path.1` to `path.100`
/// that does not exist, never replacing a file (RENAME_NOREPLACE, so a file created
/// meanwhile is not lost either). Returns the name used.
fn rename_free(part: &Path, path: &Path) -> io::Result<PathBuf> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    for n in 0..=100 {
        let name = if n == 0 {
            path.to_path_buf()
        } else {
            let mut s = OsString::from(path.as_os_str());
            s.push(format!(".{n}"));
            PathBuf::from(s)
        };
        match renameat_with(CWD, part, CWD, &name, RenameFlags::NOREPLACE) {
            Ok(()) => return Ok(name),
            Err(rustix::io::Errno::EXIST) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "it and every name up to .100 exist (--no-clobber)",
    ))
}

impl Sink<'_> {}

impl Drop for Sink<'_> {
    fn drop(&mut self) {
        // A failed download keeps every byte it got in the .part, for a resume.
        if let Kind::File { file, .. } = &mut self.kind {
            let _ = file.flush();
        }
    }
}

/// `--xattr`: the URL in `user.xdg.origin.url` and the type in `user.mime_type`
/// (freedesktop.org's names, as curl writes them); a file system without extended
/// attributes is no error, as in curl.
pub fn set_xattrs(path: &Path, url: Option<&str>, content_type: Option<&[u8]>) {
    use rustix::fs::{XattrFlags, setxattr};
    if let Some(url) = url {
        let _ = setxattr(
            path,
            "user.xdg.origin.url",
            url.as_bytes(),
            XattrFlags::empty(),
        );
    }
    if let Some(t) = content_type {
        let _ = setxattr(path, "user.mime_type", t, XattrFlags::empty());
    }
}

/// A body is binary if its first bytes hold a NUL (curl's test): text never does.
pub fn looks_binary(first: &[u8]) -> bool {
    first.contains(&0)
}

/// The file name `-O` saves a target under: the last segment of its path (without the
/// query), percent-decoded; `/`, `\` and control characters become `_`; leading dots are
/// removed (no hidden files, no `..`); at most 255 bytes. `index.html` when nothing is
/// left, as for a path ending in `/`.
pub fn remote_name(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let last = path.rsplit('/').next().unwrap_or("");
    let decoded = percent_decode(last).unwrap_or_else(|| last.as_bytes().to_vec());
    let text = String::from_utf8_lossy(&decoded);
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let mut name = cleaned.trim_start_matches('.').trim().to_string();
    while name.len() > 255 {
        name.pop();
    }
    if name.is_empty() {
        return "index.html".into();
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_names_are_safe() {
        let cases = [
            ("/", "index.html"),
            ("/dir/", "index.html"),
            ("/file.txt", "file.txt"),
            ("/dir/file.txt?x=1", "file.txt"),
            ("/a%20b.txt", "a b.txt"),
            ("/caf%C3%A9.html", "caf\u{e9}.html"),
            ("/..", "index.html"),
            ("/%2e%2e", "index.html"),
            ("/.hidden", "hidden"),
            ("/...x", "x"),
            ("/x%2Fy", "x_y"),
            ("/..%2F..%2Fetc%2Fpasswd", "_.._etc_passwd"),
            ("/a%5Cb", "a_b"),
            ("/nul%00x", "nul_x"),
            ("/bad%zz", "bad%zz"),
            ("/%20", "index.html"),
        ];
        for (path, want) in cases {
            assert_eq!(remote_name(path), want, "{path}");
        }
        let long = format!("/{}", "a".repeat(300));
        assert_eq!(remote_name(&long).len(), 255);
    }

    #[test]
    fn binary_means_a_nul() {
        assert!(looks_binary(b"\x89PNG\r\n\x1a\n\0\0"));
        assert!(!looks_binary("plain text, caf\u{e9}\n".as_bytes()));
        assert!(!looks_binary(b""));
    }

    #[test]
    fn part_files_sit_next_to_the_target() {
        assert_eq!(
            part_path(Path::new("dir/page.html")),
            Path::new("dir/page.html.part")
        );
    }
}
