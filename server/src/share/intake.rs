//! Taking in an upload's body, push-style: a connection loop feeds it whatever bytes have
//! arrived and goes to serve someone else until more come, so a slow upload never holds a
//! worker. The framing ([`Dechunk`] for `Transfer-Encoding: chunked`, or a
//! `Content-Length`) is undone here, and the bytes go either straight into one file (PUT)
//! or through the multipart parser into one file per form part (POST), each written by
//! [`Upload`] and named only once whole.
//!
//! Nothing here reads a socket: the caller feeds bytes and learns how many were the body's
//! (the rest is the next pipelined request).

use std::fmt;
use std::io::{self, Write};
use std::path::PathBuf;

use crate::share::multipart::{self, Part, Sink};
use crate::share::upload::{Outcome, Refusal, Upload};

/// The longest chunk-size line (with extensions) accepted.
pub(crate) const MAX_CHUNK_LINE: usize = 4096;
/// The most bytes of trailer fields after the last chunk.
pub(crate) const MAX_TRAILERS: usize = 8192;

/// Why an upload failed while its body was coming in.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum Failure {
    /// Malformed framing (400; the connection must close: where the next request starts
    /// is unknown).
    BadFraming(&'static str),
    /// More bytes than `--max-upload` (413, then close).
    TooLarge,
    /// The form body was refused (400, 413 or 431).
    Form(multipart::Error),
    /// Writing a file was refused or failed (409, 507, 500...).
    Upload(Refusal),
}

impl Failure {
    /// The HTTP status to answer.
    pub(crate) fn status(&self) -> u16 {
        match self {
            Failure::BadFraming(_) => 400,
            Failure::TooLarge => 413,
            Failure::Form(e) => e.status(),
            Failure::Upload(r) => r.status(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::BadFraming(why) => write!(f, "bad chunked body: {why}"),
            Failure::TooLarge => f.write_str("upload larger than --max-upload"),
            Failure::Form(e) => e.fmt(f),
            Failure::Upload(r) => f.write_str(&r.reason()),
        }
    }
}

impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Failure {
        Failure::Upload(r)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk-size line.
    Size,
    /// This many data bytes of the current chunk still to come.
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// Trailer lines after the last chunk, until an empty line.
    Trailers,
    /// The body is complete.
    Done,
}

/// A push-style decoder of `Transfer-Encoding: chunked` (RFC 9112 §7.1), strict: sizes in
/// hex without overflow, lines ended by CRLF (a bare LF is refused: a smuggling shape),
/// extensions skipped, trailers read and dropped. Holds at most one line.
#[derive(Debug)]
pub(crate) struct Dechunk {
    state: Chunk,
    line: Vec<u8>,
    trailer_bytes: usize,
}

impl Default for Dechunk {
    fn default() -> Dechunk {
        Dechunk {
            state: Chunk::Size,
            line: Vec::new(),
            trailer_bytes: 0,
        }
    }
}

impl Dechunk {
    /// True once the last chunk and the trailers are in.
    pub(crate) fn is_done(&self) -> bool {
        self.state == Chunk::Done
    }

    /// Decodes from `input`, passing data to `out` as it goes; returns how many bytes of
    /// `input` belonged to the body (fewer than all only once it is done).
    pub(crate) fn feed(
        &mut self,
        input: &[u8],
        out: &mut dyn FnMut(&[u8]) -> Result<(), Failure>,
    ) -> Result<usize, Failure> {
        let mut pos = 0;
        while pos < input.len() {
            match self.state {
                Chunk::Done => break,
                Chunk::Data(left) => {
                    let n = (input.len() - pos).min(usize::try_from(left).unwrap_or(usize::MAX));
                    out(&input[pos..pos + n])?;
                    pos += n;
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left)
                    };
                }
                Chunk::Size | Chunk::DataEnd | Chunk::Trailers => {
                    let end = input[pos..].iter().position(|&b| b == b'\n');
                    let take = end.map_or(input.len() - pos, |e| e + 1);
                    self.line.extend_from_slice(&input[pos..pos + take]);
                    pos += take;
                    if self.state == Chunk::Trailers {
                        self.trailer_bytes += take;
                        if self.trailer_bytes > MAX_TRAILERS {
                            return Err(Failure::BadFraming("trailers too long"));
                        }
                    } else if self.line.len() > MAX_CHUNK_LINE {
                        return Err(Failure::BadFraming("chunk-size line too long"));
                    }
                    if end.is_none() {
                        break;
                    }
                    let line = std::mem::take(&mut self.line);
                    let Some(text) = line.strip_suffix(b"\r\n") else {
                        return Err(Failure::BadFraming("a line not ended by CRLF"));
                    };
                    self.state = self.after_line(text)?;
                }
            }
        }
        Ok(pos)
    }

    fn after_line(&self, text: &[u8]) -> Result<Chunk, Failure> {
        match self.state {
            Chunk::DataEnd if text.is_empty() => Ok(Chunk::Size),
            Chunk::DataEnd => Err(Failure::BadFraming("chunk data longer than its size")),
            Chunk::Trailers if text.is_empty() => Ok(Chunk::Done),
            Chunk::Trailers if text.iter().any(|&b| b.is_ascii_control() && b != b'\t') => {
                Err(Failure::BadFraming("a control character in a trailer"))
            }
            Chunk::Trailers => Ok(Chunk::Trailers),
            _ => {
                let size_end = text.iter().position(|&b| b == b';').unwrap_or(text.len());
                let (digits, ext) = text.split_at(size_end);
                if ext.iter().any(|&b| b.is_ascii_control() && b != b'\t') {
                    return Err(Failure::BadFraming(
                        "a control character in a chunk extension",
                    ));
                }
                if digits.is_empty()
                    || digits.len() > 15
                    || !digits.iter().all(u8::is_ascii_hexdigit)
                {
                    return Err(Failure::BadFraming("a bad chunk size"));
                }
                // At most 15 hex digits: below 2^60, no overflow.
                let size = digits.iter().fold(0u64, |n, &d| {
                    (n << 4) | u64::from((d as char).to_digit(16).unwrap_or(0))
                });
                Ok(if size == 0 {
                    Chunk::Trailers
                } else {
                    Chunk::Data(size)
                })
            }
        }
    }
}

/// What to do with an upload's head before reading its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Read the body; first send `100 Continue` when the client waits for it.
    Read {
        /// The client sent `Expect: 100-continue`.
        send_continue: bool,
    },
    /// The announced length is over `--max-upload`: 413 before reading (and close).
    TooLarge,
    /// Neither Content-Length nor chunked: 411 Length Required.
    LengthRequired,
    /// An `Expect` other than `100-continue`: 417.
    ExpectationFailed,
}

impl Admit {
    /// Decides from the head: its Content-Length, whether it is chunked, its `Expect`, and
    /// `--max-upload`. The errors go out instead of the 100, so a client that waits for it
    /// never sends a body that would be refused.
    pub(crate) fn decide(
        content_length: Option<u64>,
        chunked: bool,
        expect: Option<&str>,
        max: Option<u64>,
    ) -> Admit {
        let send_continue = match expect.map(str::trim) {
            None => false,
            Some(e) if e.eq_ignore_ascii_case("100-continue") => true,
            Some(_) => return Admit::ExpectationFailed,
        };
        match (content_length, chunked) {
            (Some(n), false) if max.is_some_and(|m| n > m) => Admit::TooLarge,
            (Some(_), false) | (None, true) => Admit::Read { send_continue },
            // Both is refused by the request parser already; neither has no body to take.
            _ => Admit::LengthRequired,
        }
    }

    /// The status of a refusal (`None` for [`Admit::Read`]).
    pub(crate) fn status(self) -> Option<u16> {
        match self {
            Admit::Read { .. } => None,
            Admit::TooLarge => Some(413),
            Admit::LengthRequired => Some(411),
            Admit::ExpectationFailed => Some(417),
        }
    }
}

/// How the body is framed.
#[derive(Debug)]
pub(crate) enum Framing {
    /// `Content-Length`: this many bytes still to come.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked(Dechunk),
}

/// Where the body's bytes go.
#[derive(Debug)]
enum Into {
    /// One file (PUT).
    File(Option<Upload>),
    /// A form's files (POST).
    Form(multipart::Parser, Form),
}

/// One upload's body on its way in. Build with [`Intake::put`] or [`Intake::form`], feed
/// it, then [`finish`](Intake::finish). Dropped before that, it leaves nothing behind but
/// the form's files already complete.
#[derive(Debug)]
pub(crate) struct Intake {
    framing: Framing,
    into: Into,
    received: u64,
    max: Option<u64>,
}

impl Intake {
    /// A PUT's body into `upload`, at most `max` bytes.
    pub(crate) fn put(framing: Framing, upload: Upload, max: Option<u64>) -> Intake {
        Intake {
            framing,
            into: Into::File(Some(upload)),
            received: 0,
            max,
        }
    }

    /// A multipart form's files into the canonical folder `dir`, at most `max` bytes in all.
    /// `hidden` allows file names starting with a dot; `overwrite` replaces existing files.
    pub(crate) fn form(
        framing: Framing,
        boundary: &str,
        dir: PathBuf,
        hidden: bool,
        overwrite: bool,
        max: Option<u64>,
    ) -> Intake {
        Intake {
            framing,
            into: Into::Form(
                multipart::Parser::new(boundary, multipart::Limits::default()),
                Form {
                    dir,
                    hidden,
                    overwrite,
                    current: None,
                    done: Vec::new(),
                    failed: None,
                },
            ),
            received: 0,
            max,
        }
    }

    /// Body bytes received so far (after de-chunking).
    #[cfg(test)]
    pub(crate) fn received(&self) -> u64 {
        self.received
    }

    /// Bytes of a Content-Length body still to come (`None` when chunked).
    pub(crate) fn remaining(&self) -> Option<u64> {
        match &self.framing {
            Framing::Length(left) => Some(*left),
            Framing::Chunked(_) => None,
        }
    }

    /// True once the whole body is in: call [`finish`](Intake::finish).
    pub(crate) fn is_complete(&self) -> bool {
        match &self.framing {
            Framing::Length(left) => *left == 0,
            Framing::Chunked(d) => d.is_done(),
        }
    }

    /// Takes what `input` holds of the body; returns how many bytes were the body's (the
    /// rest belongs to the next request). After an error, drop the intake and close.
    pub(crate) fn feed(&mut self, input: &[u8]) -> Result<usize, Failure> {
        let Intake {
            framing,
            into,
            received,
            max,
        } = self;
        let mut out = |data: &[u8]| -> Result<(), Failure> {
            *received += data.len() as u64;
            if max.is_some_and(|m| *received > m) {
                return Err(Failure::TooLarge);
            }
            match into {
                Into::File(up) => {
                    let up = up.as_mut().expect("fed after finishing");
                    up.write_all(data).map_err(|e| Failure::Upload(e.into()))
                }
                Into::Form(parser, form) => parser.feed(data, form).map_err(|e| form.failure(e)),
            }
        };
        match framing {
            Framing::Length(left) => {
                let n = (input.len() as u64).min(*left) as usize;
                if n > 0 {
                    out(&input[..n])?;
                }
                *left -= n as u64;
                Ok(n)
            }
            Framing::Chunked(d) => d.feed(input, &mut out),
        }
    }

    /// The whole body is in: name the file(s). Returns each file's name (as uploaded) and
    /// outcome; for a PUT, one with an empty name.
    pub(crate) fn finish(self) -> Result<Vec<(String, Outcome)>, Failure> {
        if !self.is_complete() {
            return Err(Failure::BadFraming("body cut short"));
        }
        match self.into {
            Into::File(mut up) => {
                let up = up.take().expect("finished once");
                Ok(vec![(String::new(), up.commit()?)])
            }
            Into::Form(parser, form) => {
                parser.finish().map_err(Failure::Form)?;
                Ok(form.done)
            }
        }
    }
}

/// The multipart sink that writes each file part to its own upload.
#[derive(Debug)]
struct Form {
    dir: PathBuf,
    hidden: bool,
    overwrite: bool,
    /// The file being written, with its name; `None` between parts and for plain fields.
    current: Option<(String, Upload)>,
    done: Vec<(String, Outcome)>,
    /// Why the sink failed, since the parser only carries an io::Error.
    failed: Option<Refusal>,
}

impl Form {
    fn refuse(&mut self, r: Refusal) -> io::Error {
        self.failed = Some(r);
        io::Error::other("upload refused")
    }

    fn failure(&mut self, e: multipart::Error) -> Failure {
        match (e, self.failed.take()) {
            (multipart::Error::Sink(_), Some(r)) => Failure::Upload(r),
            (multipart::Error::Sink(e), None) => Failure::Upload(e.into()),
            (e, _) => Failure::Form(e),
        }
    }
}

impl Sink for Form {
    fn part(&mut self, part: &Part) -> io::Result<()> {
        // A plain field, or a file input left empty (`filename=""`): nothing to write.
        let Some(name) = part.filename.as_deref().filter(|n| !n.is_empty()) else {
            return Ok(());
        };
        let name = multipart::check_filename(name, self.hidden)
            .map_err(|_| self.refuse(Refusal::Path(crate::jail::Refused::BadRequest)))?
            .to_string();
        match Upload::begin(&self.dir, name.as_bytes(), self.overwrite) {
            Ok(up) => {
                self.current = Some((name, up));
                Ok(())
            }
            Err(r) => Err(self.refuse(r)),
        }
    }

    fn data(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.current {
            Some((_, up)) => up.write_all(bytes),
            None => Ok(()),
        }
    }

    fn end(&mut self) -> io::Result<()> {
        if let Some((name, up)) = self.current.take() {
            match up.commit() {
                Ok(outcome) => self.done.push((name, outcome)),
                Err(r) => return Err(self.refuse(r)),
            }
        }
        Ok(())
    }
}

/// One fuzzing input through [`Dechunk`], checking its invariants; panics if one fails.
/// The first byte picks the size of the pieces the rest is fed in. Shared by
/// `fuzz/fuzz_targets/dechunk.rs` and the corpus replay in `cargo test`.
#[doc(hidden)]
pub fn fuzz_dechunk(data: &[u8]) {
    let Some((&step, input)) = data.split_first() else {
        return;
    };
    let mut d = Dechunk::default();
    let (mut out, mut used) = (0usize, 0usize);
    for piece in input.chunks(usize::from(step).max(1)) {
        match d.feed(piece, &mut |b: &[u8]| {
            assert!(!b.is_empty());
            out += b.len();
            Ok(())
        }) {
            Ok(n) => {
                assert!(n <= piece.len());
                assert!(n == piece.len() || d.is_done(), "stopped early");
                used += n;
            }
            Err(e) => {
                assert_eq!(e.status(), 400);
                return;
            }
        }
        assert!(d.line.len() <= MAX_CHUNK_LINE.max(MAX_TRAILERS));
        if d.is_done() {
            break;
        }
    }
    assert!(out <= used && used <= input.len());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdir;
    use std::fs;

    fn dechunk(input: &[u8], step: usize) -> Result<(Vec<u8>, usize), Failure> {
        let mut d = Dechunk::default();
        let mut body = Vec::new();
        let mut used = 0;
        for piece in input.chunks(step.max(1)) {
            used += d.feed(piece, &mut |b: &[u8]| {
                body.extend_from_slice(b);
                Ok(())
            })?;
            if d.is_done() {
                break;
            }
        }
        if !d.is_done() {
            return Err(Failure::BadFraming("cut"));
        }
        Ok((body, used))
    }

    #[test]
    fn dechunks_in_pieces_of_every_size() {
        let input =
            b"5;ext=\"x\"\r\nhello\r\nA\r\n, world!!!\r\n0\r\nX-Trailer: 1\r\n\r\nGET /next";
        for step in 1..=input.len() {
            let (body, used) = dechunk(input, step).unwrap();
            assert_eq!(body, b"hello, world!!!", "step {step}");
            // Everything up to the next request was the body's, and nothing after.
            assert_eq!(&input[used..], b"GET /next", "step {step}");
        }
    }

    #[test]
    fn refuses_malformed_chunks() {
        let cases: &[&[u8]] = &[
            b"5\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloX\r\n0\r\n\r\n",
            b"g\r\n",
            b"\r\n",
            b"-1\r\n",
            b"1000000000000000\r\n",
            b"5;a\x01b\r\nhello\r\n0\r\n\r\n",
            b"0\r\nBad\x00: 1\r\n\r\n",
        ];
        for input in cases {
            assert!(
                matches!(dechunk(input, 3), Err(Failure::BadFraming(_))),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        let long = format!("1;{}\r\n", "e".repeat(MAX_CHUNK_LINE));
        assert!(dechunk(long.as_bytes(), 100).is_err());
        let trailers = format!("0\r\n{}\r\n", "X: y\r\n".repeat(2000));
        assert!(dechunk(trailers.as_bytes(), 100).is_err());
    }

    #[test]
    fn admission_before_the_body() {
        let read = |c| Admit::Read { send_continue: c };
        let cases = [
            (Some(10), false, None, None, read(false)),
            (Some(10), false, Some("100-continue"), Some(10), read(true)),
            (Some(10), false, Some("100-Continue "), None, read(true)),
            (
                Some(11),
                false,
                Some("100-continue"),
                Some(10),
                Admit::TooLarge,
            ),
            (None, true, Some("100-continue"), Some(10), read(true)),
            (None, false, None, None, Admit::LengthRequired),
            (
                Some(1),
                false,
                Some("something-else"),
                None,
                Admit::ExpectationFailed,
            ),
        ];
        for (len, chunked, expect, max, want) in cases {
            assert_eq!(
                Admit::decide(len, chunked, expect, max),
                want,
                "{len:?} {chunked} {expect:?} {max:?}"
            );
        }
        assert_eq!(Admit::TooLarge.status(), Some(413));
        assert_eq!(read(true).status(), None);
    }

    #[test]
    fn a_put_in_pieces_with_a_limit() {
        let t = testdir::new();
        let body = b"4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n";
        let up = Upload::begin(&t.root, b"f.txt", false).unwrap();
        let mut intake = Intake::put(Framing::Chunked(Dechunk::default()), up, Some(7));
        for piece in body.chunks(2) {
            intake.feed(piece).unwrap();
            if !intake.is_complete() {
                assert!(!t.root.join("f.txt").exists(), "visible before the end");
            }
        }
        assert_eq!(intake.received(), 7);
        let done = intake.finish().unwrap();
        assert_eq!(done, [(String::new(), Outcome::Created)]);
        assert_eq!(fs::read(t.root.join("f.txt")).unwrap(), b"abcdefg");

        let up = Upload::begin(&t.root, b"g.txt", false).unwrap();
        let mut intake = Intake::put(Framing::Length(10), up, Some(8));
        let e = intake.feed(b"0123456789").unwrap_err();
        assert_eq!(e.status(), 413);
        drop(intake);
        assert!(!t.root.join("g.txt").exists());

        let up = Upload::begin(&t.root, b"h.txt", false).unwrap();
        let mut intake = Intake::put(Framing::Length(10), up, None);
        assert_eq!(intake.feed(b"01234").unwrap(), 5);
        assert_eq!(intake.finish().unwrap_err().status(), 400, "cut short");
        assert!(!t.root.join("h.txt").exists());
    }

    fn form_body(parts: &[(&str, Option<&str>, &str)]) -> Vec<u8> {
        let mut b = Vec::new();
        for (name, file, data) in parts {
            b.extend_from_slice(b"--B\r\nContent-Disposition: form-data; name=\"");
            b.extend_from_slice(name.as_bytes());
            b.push(b'"');
            if let Some(f) = file {
                b.extend_from_slice(format!("; filename=\"{f}\"").as_bytes());
            }
            b.extend_from_slice(b"\r\n\r\n");
            b.extend_from_slice(data.as_bytes());
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(b"--B--\r\n");
        b
    }

    fn post(
        dir: &std::path::Path,
        body: &[u8],
        overwrite: bool,
    ) -> Result<Vec<(String, Outcome)>, Failure> {
        let framing = Framing::Length(body.len() as u64);
        let mut intake = Intake::form(framing, "B", dir.to_path_buf(), false, overwrite, None);
        for piece in body.chunks(5) {
            intake.feed(piece)?;
        }
        intake.finish()
    }

    #[test]
    fn a_form_with_several_files() {
        let t = testdir::new();
        let body = form_body(&[
            ("note", None, "ignored"),
            ("file", Some("a.txt"), "alpha"),
            ("file", Some(""), ""),
            ("file", Some("caf\u{e9}.txt"), "unicode\r\n--not"),
        ]);
        let done = post(&t.root, &body, false).unwrap();
        assert_eq!(
            done,
            [
                ("a.txt".to_string(), Outcome::Created),
                ("caf\u{e9}.txt".to_string(), Outcome::Created)
            ]
        );
        assert_eq!(fs::read(t.root.join("a.txt")).unwrap(), b"alpha");
        assert_eq!(
            fs::read(t.root.join("caf\u{e9}.txt")).unwrap(),
            b"unicode\r\n--not"
        );
        assert!(!t.root.join("note").exists());
        // Again: the names exist now.
        assert_eq!(post(&t.root, &body, false).unwrap_err().status(), 409);
        assert_eq!(post(&t.root, &body, true).unwrap()[0].1, Outcome::Replaced);
    }

    #[test]
    fn hostile_form_names_are_refused_and_leave_nothing() {
        let t = testdir::new();
        for name in ["../escape.txt", "a/b.txt", "C:\\\\x.txt", ".env", "..", "."] {
            let body = form_body(&[("file", Some(name), "x")]);
            let e = post(&t.root, &body, false).unwrap_err();
            assert_eq!(e.status(), 400, "{name}: {e}");
        }
        assert_eq!(fs::read_dir(&t.root).unwrap().count(), 0);
        assert!(!t.base.join("escape.txt").exists());
        // A cut form: the part being written is gone too.
        let body = form_body(&[("file", Some("cut.txt"), "0123456789")]);
        let framing = Framing::Length(body.len() as u64);
        let mut intake = Intake::form(framing, "B", t.root.clone(), false, false, None);
        intake.feed(&body[..body.len() - 12]).unwrap();
        drop(intake);
        assert_eq!(fs::read_dir(&t.root).unwrap().count(), 0);
    }

    /// A poor man's fuzzer, run on every `cargo test`: 20,000 deterministic mutations
    /// (byte flips, insertions of delimiter-ish bytes, cuts) of a valid input.
    #[test]
    fn mutations_keep_the_invariants() {
        let seed: Vec<u8> =
            b"\x02a;x=1\r\n0123456789\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\nrest".to_vec();
        crate::testdir::mutations(&seed, 20_000, fuzz_dechunk);
    }
}
