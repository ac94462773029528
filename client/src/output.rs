//! Where a body goes: stdout, byte-exact (a closed pipe is a quiet end, a binary body is
//! kept off a terminal), or a file written as `NAME.part` and renamed to `NAME` only when
//! complete; and the progress line shown on a terminal while saving to a file.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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
#[derive(Debug)]
pub struct Sink {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Stdout {
        out: io::StdoutLock<'static>,
        terminal: bool,
        explicit: bool,
    },
    File {
        file: io::BufWriter<File>,
        /// `FILE.part`, renamed to `path` when complete; `None` when `path` is a device or a
        /// FIFO, written in place.
        part: Option<PathBuf>,
        path: PathBuf,
    },
}

/// `NAME.part`, next to `NAME`.
pub fn part_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".part");
    PathBuf::from(name)
}

impl Sink {
    /// Opens `dest`; for a file, creates (or truncates) `FILE.part`.
    pub fn open(dest: &Dest) -> Result<Sink, Error> {
        let kind = match dest {
            Dest::Stdout { explicit } => {
                let out = io::stdout().lock();
                Kind::Stdout {
                    terminal: out.is_terminal(),
                    out,
                    explicit: *explicit,
                }
            }
            Dest::File(path) => {
                // `-o /dev/null`, `-o /dev/stdout`, a FIFO: written in place, as curl does.
                // Renaming FILE.part over them would replace the device node itself.
                let special = std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir());
                let part = (!special).then(|| part_path(path));
                let target = part.as_deref().unwrap_or(path);
                let file = File::create(target).map_err(|e| Error::Write {
                    what: target.display().to_string(),
                    reason: io_words(&e),
                })?;
                Kind::File {
                    file: io::BufWriter::with_capacity(64 * 1024, file),
                    part,
                    path: path.clone(),
                }
            }
        };
        Ok(Sink { kind })
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

    /// The body is complete: flush, and give a file its final name.
    pub fn finish(mut self) -> Result<(), Error> {
        let flushed = match &mut self.kind {
            Kind::Stdout { out, .. } => out.flush(),
            Kind::File { file, .. } => file.flush(),
        };
        flushed.map_err(|e| self.write_error(e))?;
        if let Kind::File {
            part: Some(part),
            path,
            ..
        } = &self.kind
        {
            std::fs::rename(part, path).map_err(|e| Error::Write {
                what: path.display().to_string(),
                reason: format!("cannot rename {} to it: {}", part.display(), io_words(&e)),
            })?;
        }
        Ok(())
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

/// The progress line on stderr while a body is saved to a file: shown only on a terminal
/// and never with `-s` or `-v`, redrawn at most every 200 ms.
#[derive(Debug)]
pub struct Progress {
    enabled: bool,
    total: Option<u64>,
    got: u64,
    started: Instant,
    drawn: Option<Instant>,
}

impl Progress {
    /// A progress line for a body of `total` bytes (when known); `enabled` says whether to
    /// show it at all.
    pub fn new(enabled: bool, total: Option<u64>) -> Progress {
        Progress {
            enabled: enabled && io::stderr().is_terminal(),
            total,
            got: 0,
            started: Instant::now(),
            drawn: None,
        }
    }

    /// Counts `n` more bytes, redrawing the line if it is time.
    pub fn add(&mut self, n: usize) {
        self.got += n as u64;
        if !self.enabled
            || self
                .drawn
                .is_some_and(|t| t.elapsed() < Duration::from_millis(200))
        {
            return;
        }
        self.drawn = Some(Instant::now());
        let line = progress_line(self.got, self.total, self.started.elapsed());
        // The progress line is a courtesy: a closed stderr must not stop the transfer.
        let _ = write!(io::stderr(), "\r\x1b[K{line}");
    }

    /// Clears the line.
    pub fn done(&mut self) {
        if self.enabled && self.drawn.is_some() {
            let _ = write!(io::stderr(), "\r\x1b[K");
        }
    }
}

/// `1.5 MiB of 4.0 MiB (37%), 750.0 KiB/s`.
pub fn progress_line(got: u64, total: Option<u64>, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { got as f64 / secs } else { 0.0 };
    match total {
        Some(t) if t > 0 => format!(
            "{} of {} ({}%), {}/s",
            bytes_words(got),
            bytes_words(t),
            got.saturating_mul(100) / t,
            bytes_words(rate as u64)
        ),
        _ => format!("{}, {}/s", bytes_words(got), bytes_words(rate as u64)),
    }
}

/// A byte count the way people say it: `512 B`, `1.5 KiB`, `3.0 MiB`.
pub fn bytes_words(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
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

    #[test]
    fn progress_in_words() {
        assert_eq!(bytes_words(512), "512 B");
        assert_eq!(bytes_words(1536), "1.5 KiB");
        assert_eq!(bytes_words(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(
            progress_line(1024, Some(4096), Duration::from_secs(1)),
            "1.0 KiB of 4.0 KiB (25%), 1.0 KiB/s"
        );
        assert_eq!(
            progress_line(10, None, Duration::from_secs(10)),
            "10 B, 1 B/s"
        );
    }
}
