//! `--trace FILE` and `--trace-ascii FILE` (with `--trace-time`): every transfer written
//! down in curl's trace format: `== Info:` lines for what happened, `=> Send header`,
//! `<= Recv header` (one entry per received line, as curl makes them) and `<= Recv data`
//! entries with their bytes, in hex and text (`--trace`) or as text cut at each CRLF
//! (`--trace-ascii`).

use std::fs::File;
use std::io::{self, Write};
use std::sync::Mutex;
use std::time::SystemTime;

use crate::error::Error;
use crate::event::Event;

/// Where a trace goes, and how it is written.
pub(crate) struct TraceFile {
    out: Mutex<Box<dyn Write + Send>>,
    hex: bool,
    time: bool,
}

impl std::fmt::Debug for TraceFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceFile")
            .field("hex", &self.hex)
            .field("time", &self.time)
            .finish_non_exhaustive()
    }
}

impl TraceFile {
    /// Opens `name` (`-`: stdout, `%`: stderr, as in curl), truncating a file; `hex` for
    /// `--trace`, `time` for `--trace-time`.
    pub(crate) fn open(name: &str, hex: bool, time: bool) -> Result<TraceFile, Error> {
        let out: Box<dyn Write + Send> = match name {
            "-" => Box::new(io::stdout()),
            "%" => Box::new(io::stderr()),
            path => Box::new(File::create(path).map_err(|e| Error::Write {
                what: path.to_string(),
                reason: shared::io_words(&e),
            })?),
        };
        Ok(TraceFile {
            out: Mutex::new(out),
            hex,
            time,
        })
    }

    /// Writes the entry for `event`.
    pub(crate) fn event(&self, event: &Event<'_>) {
        match event {
            Event::RequestHead(bytes) => self.dump("=> Send header", bytes),
            Event::RequestBody(bytes) => self.dump("=> Send data", bytes),
            Event::ResponseHead(bytes) => {
                // curl hands its debug callback each received header line on its own.
                for line in bytes.split_inclusive(|&b| b == b'\n') {
                    self.dump("<= Recv header", line);
                }
            }
            Event::Resolved { host, addrs } => {
                let list: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
                self.info(&format!("resolved {host} to {}", list.join(", ")));
            }
            Event::Connected { peer, failed, .. } => {
                for a in *failed {
                    self.info(&format!("trying {}: {}", a.addr, a.reason));
                }
                self.info(&format!("Connected to {peer}"));
            }
            Event::Reused { peer } => self.info(&format!("Re-using existing connection to {peer}")),
            Event::Retry { peer, reason } => self.info(&format!(
                "the kept-alive connection to {peer} failed ({reason}); sending again"
            )),
            Event::Redirect { status, to } => {
                self.info(&format!("Following the {status} to '{to}'"));
            }
            #[cfg(feature = "tls")]
            Event::Tls(info) => self.info(&format!(
                "SSL connection using {} / {}",
                info.version, info.cipher
            )),
        }
    }

    /// A `<= Recv data` entry for body bytes.
    pub(crate) fn received(&self, bytes: &[u8]) {
        self.dump("<= Recv data", bytes);
    }

    fn info(&self, text: &str) {
        let line = format!("{}== Info: {text}\n", self.stamp());
        self.write(line.as_bytes());
    }

    fn dump(&self, what: &str, bytes: &[u8]) {
        let text = format_dump(&self.stamp(), what, bytes, self.hex);
        self.write(text.as_bytes());
    }

    fn write(&self, bytes: &[u8]) {
        let mut out = self
            .out
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A trace must never stop a transfer: a full disk only loses trace lines.
        let _ = out.write_all(bytes).and_then(|()| out.flush());
    }

    /// `HH:MM:SS.micros ` (UTC) with `--trace-time`, else nothing.
    fn stamp(&self) -> String {
        if !self.time {
            return String::new();
        }
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let secs = now.as_secs() % 86_400;
        format!(
            "{:02}:{:02}:{:02}.{:06} ",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            now.subsec_micros()
        )
    }
}

/// curl's dump (tool_cb_dbg.c): a title line with the size, then rows of 16 bytes in hex
/// and text (`hex`), or of up to 64 bytes of text, a new row after each CRLF.
fn format_dump(stamp: &str, what: &str, bytes: &[u8], hex: bool) -> String {
    let size = bytes.len();
    let mut out = format!("{stamp}{what}, {size} bytes ({size:#x})\n");
    let width = if hex { 0x10 } else { 0x40 };
    let shown = |b: u8| {
        if (0x20..0x80).contains(&b) {
            char::from(b)
        } else {
            '.'
        }
    };
    let mut i = 0;
    while i < size {
        out.push_str(&format!("{i:04x}: "));
        let mut next = i + width;
        if hex {
            for c in 0..width {
                match bytes.get(i + c) {
                    Some(b) => out.push_str(&format!("{b:02x} ")),
                    None => out.push_str("   "),
                }
            }
            for &b in &bytes[i..size.min(i + width)] {
                out.push(shown(b));
            }
        } else {
            let mut c = 0;
            while c < width && i + c < size {
                if bytes[i + c] == b'\r' && bytes.get(i + c + 1) == Some(&b'\n') {
                    next = i + c + 2;
                    break;
                }
                out.push(shown(bytes[i + c]));
                if bytes.get(i + c + 1) == Some(&b'\r') && bytes.get(i + c + 2) == Some(&b'\n') {
                    next = i + c + 3;
                    break;
                }
                c += 1;
            }
        }
        out.push('\n');
        i = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dumps_look_like_curls() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(
            format_dump("", "=> Send header", head, false),
            "=> Send header, 27 bytes (0x1b)\n0000: GET / HTTP/1.1\n0010: Host: a\n0019: \n"
        );
        assert_eq!(
            format_dump("", "<= Recv data", b"hi\n", true),
            format!(
                "<= Recv data, 3 bytes (0x3)\n0000: 68 69 0a {}hi.\n",
                "   ".repeat(13)
            )
        );
    }
}
