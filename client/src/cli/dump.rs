//! `-D`/`--dump-header`: the response heads, redirects included, as received, to a file
//! (created, or emptied, when fetch starts, as curl does, and shared by every target) or to
//! stdout.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::Error;

/// Where `-D` writes.
#[derive(Debug)]
pub enum HeaderDump {
    /// `-D -`: stdout, before the body.
    Stdout,
    /// `-D FILE`.
    File {
        /// The name, for errors.
        path: PathBuf,
        /// The open file (targets running at once take turns).
        file: Mutex<File>,
    },
}

impl HeaderDump {
    /// Opens (creates or empties) `path`; `-` is stdout. A file that cannot be created is a
    /// write error (exit 23).
    pub fn open(path: &Path) -> Result<HeaderDump, Error> {
        if path.as_os_str() == "-" {
            return Ok(HeaderDump::Stdout);
        }
        let file = File::create(path).map_err(|e| Error::Write {
            what: path.display().to_string(),
            reason: shared::io_words(&e),
        })?;
        Ok(HeaderDump::File {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    /// Appends `heads` to the file (for `-D -` the caller writes them to stdout).
    pub(crate) fn write_file(&self, heads: &[&[u8]]) -> Result<(), Error> {
        let HeaderDump::File { path, file } = self else {
            return Ok(());
        };
        let mut file = file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        heads
            .iter()
            .try_for_each(|h| file.write_all(h))
            .map_err(|e| Error::Write {
                what: path.display().to_string(),
                reason: shared::io_words(&e),
            })
    }
}
