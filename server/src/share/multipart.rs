//! A streaming `multipart/form-data` parser (RFC 7578, RFC 2046 §5.1) for uploads: feed it
//! the body in pieces of any size, and it hands each part's head and then its bytes to a
//! [`Sink`] as they arrive. Memory is bounded whatever the body: a part's head is capped at
//! [`Limits::max_head`] and the only other bytes held back are those that could still be the
//! start of a delimiter (fewer than 75). Hand-written rather than a crate so that every cap
//! is ours; fuzzed by `fuzz/fuzz_targets/multipart.rs`.

use std::fmt;
use std::io;

/// Caps on what one body may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// The longest a part's head (its header lines) may be, in bytes.
    pub max_head: usize,
    /// The most parts one body may hold.
    pub max_parts: usize,
}

impl Default for Limits {
    /// 8 KiB of head per part, 1000 parts.
    fn default() -> Limits {
        Limits {
            max_head: 8 * 1024,
            max_parts: 1000,
        }
    }
}

/// The head of one part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    /// The form field's name (`name="..."`).
    pub name: String,
    /// The file's name as the client sent it (`filename="..."`), unchecked: see
    /// [`check_filename`]. `None` for a plain form field.
    pub filename: Option<String>,
    /// The part's `Content-Type`, if any.
    pub content_type: Option<String>,
}

/// Where the parts go.
pub(crate) trait Sink {
    /// A part begins.
    fn part(&mut self, part: &Part) -> io::Result<()>;
    /// More bytes of the current part's body (never empty).
    fn data(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// The current part's body is complete.
    fn end(&mut self) -> io::Result<()>;
}

/// Why a body was refused.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum Error {
    /// A part's head is longer than [`Limits::max_head`] (431).
    HeadTooLong,
    /// More parts than [`Limits::max_parts`] (413).
    TooManyParts,
    /// A malformed part head or delimiter line (400); the text says what.
    Malformed(&'static str),
    /// The body ended before the closing delimiter (400).
    Truncated,
    /// The sink failed (a full disk, a name refused); the status is the sink's to decide.
    Sink(io::Error),
}

impl Error {
    /// The HTTP status for this error (a sink error is 500 unless the caller knows better).
    pub(crate) fn status(&self) -> u16 {
        match self {
            Error::Malformed(_) | Error::Truncated => 400,
            Error::HeadTooLong => 431,
            Error::TooManyParts => 413,
            Error::Sink(_) => 500,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::HeadTooLong => f.write_str("multipart part head too long"),
            Error::TooManyParts => f.write_str("too many multipart parts"),
            Error::Malformed(what) => write!(f, "malformed multipart body: {what}"),
            Error::Truncated => f.write_str("multipart body cut short"),
            Error::Sink(e) => write!(f, "multipart part: {}", shared::io_words(e)),
        }
    }
}

/// The boundary of a `multipart/form-data` Content-Type, if it is one and the boundary is
/// valid: 1 to 70 characters from RFC 2046's set, quoted or not, not ending in a space.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let kind = params.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    for param in params {
        let Some((name, value)) = param.split_once('=') else {
            continue;
        };
        if !name.trim().eq_ignore_ascii_case("boundary") {
            continue;
        }
        let value = value.trim();
        let value = match value.strip_prefix('"') {
            Some(rest) => rest.strip_suffix('"')?,
            None => value,
        };
        let bchar = |c: char| c.is_ascii_alphanumeric() || "'()+_,-./:=? ".contains(c);
        let ok = (1..=70).contains(&value.len()) && value.chars().all(bchar);
        return (ok && !value.ends_with(' ')).then(|| value.to_string());
    }
    None
}

/// Why a file name from a form is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadName {
    /// Empty, `.` or `..`.
    Empty,
    /// Contains `/`, `\`, NUL or another control character.
    Separator,
    /// Starts with a dot, and hidden files are not allowed.
    Hidden,
    /// Longer than 255 bytes.
    TooLong,
}

/// Checks a file name from a form as one path component: not empty, `.` or `..`; no `/`,
/// `\`, NUL or control characters (a browser never sends a folder, and a `\` is a Windows
/// path); at most 255 bytes; no leading dot unless `hidden`.
pub(crate) fn check_filename(name: &str, hidden: bool) -> Result<&str, BadName> {
    if name.is_empty() || name == "." || name == ".." {
        return Err(BadName::Empty);
    }
    if name
        .chars()
        .any(|c| c == '/' || c == '\\' || c.is_control())
    {
        return Err(BadName::Separator);
    }
    if name.len() > 255 {
        return Err(BadName::TooLong);
    }
    if name.starts_with('.') && !hidden {
        return Err(BadName::Hidden);
    }
    Ok(name)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first delimiter: bytes are skipped.
    Preamble,
    /// Just past a delimiter: `--` ends the body, else blanks and CRLF start a part.
    AfterDelimiter,
    /// Reading a part's head.
    Head,
    /// Passing a part's body to the sink.
    Body,
    /// Past the closing delimiter: the epilogue is skipped.
    Done,
    /// An error was returned; every later call fails.
    Failed,
}

/// The parser. Build with [`Parser::new`], [`feed`](Parser::feed) it the body, then call
/// [`finish`](Parser::finish).
#[derive(Debug)]
pub(crate) struct Parser {
    /// `CRLF--boundary`.
    delimiter: Vec<u8>,
    limits: Limits,
    state: State,
    /// Bytes not yet consumed: at most a head, or a possible delimiter's start, plus the
    /// latest input.
    buf: Vec<u8>,
    parts: usize,
}

/// The most bytes allowed between a delimiter and its line end (transport padding).
const MAX_PADDING: usize = 64;

impl Parser {
    /// A parser for a body with this boundary (from [`boundary`]).
    pub(crate) fn new(boundary: &str, limits: Limits) -> Parser {
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        Parser {
            delimiter,
            limits,
            state: State::Preamble,
            // The first delimiter may open the body without a CRLF before it: pretend one.
            buf: b"\r\n".to_vec(),
            parts: 0,
        }
    }

    /// How many parts have begun so far.
    pub(crate) fn parts(&self) -> usize {
        self.parts
    }

    /// True once the closing delimiter has been seen (the rest is epilogue).
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Parses the next piece of the body, passing what it completes to `sink`. The pieces
    /// handed to [`Sink::data`] are no longer than `input` plus a delimiter's length.
    pub(crate) fn feed(&mut self, input: &[u8], sink: &mut dyn Sink) -> Result<(), Error> {
        if self.state == State::Failed {
            return Err(Error::Malformed("body already refused"));
        }
        if self.state == State::Done {
            return Ok(());
        }
        self.buf.extend_from_slice(input);
        let result = self.run(sink);
        if result.is_err() {
            self.state = State::Failed;
            self.buf = Vec::new();
        }
        result
    }

    /// The body has ended: fails unless the closing delimiter was seen.
    pub(crate) fn finish(self) -> Result<(), Error> {
        match self.state {
            State::Done => Ok(()),
            State::Failed => Err(Error::Malformed("body already refused")),
            _ => Err(Error::Truncated),
        }
    }

    fn run(&mut self, sink: &mut dyn Sink) -> Result<(), Error> {
        let mut pos = 0;
        loop {
            let avail = &self.buf[pos..];
            match self.state {
                State::Preamble | State::Body => {
                    let body = self.state == State::Body;
                    match find(avail, &self.delimiter) {
                        Some(at) => {
                            if body {
                                if at > 0 {
                                    sink.data(&avail[..at]).map_err(Error::Sink)?;
                                }
                                sink.end().map_err(Error::Sink)?;
                            }
                            pos += at + self.delimiter.len();
                            self.state = State::AfterDelimiter;
                        }
                        None => {
                            // Hold back what could still be the start of a delimiter.
                            let keep = held_back(avail, &self.delimiter);
                            let ready = avail.len() - keep;
                            if body && ready > 0 {
                                sink.data(&avail[..ready]).map_err(Error::Sink)?;
                            }
                            pos += ready;
                            break;
                        }
                    }
                }
                State::AfterDelimiter => {
                    if avail.len() < 2 {
                        break;
                    }
                    if avail.starts_with(b"--") {
                        self.state = State::Done;
                        pos = self.buf.len();
                        break;
                    }
                    let line = &avail[..avail.len().min(MAX_PADDING + 2)];
                    match line.windows(2).position(|w| w == b"\r\n") {
                        Some(end) => {
                            if !line[..end].iter().all(|&b| b == b' ' || b == b'\t') {
                                return Err(Error::Malformed("text after a delimiter"));
                            }
                            if self.parts >= self.limits.max_parts {
                                return Err(Error::TooManyParts);
                            }
                            self.parts += 1;
                            pos += end + 2;
                            self.state = State::Head;
                        }
                        None if line.len() > MAX_PADDING => {
                            return Err(Error::Malformed("text after a delimiter"));
                        }
                        None => break,
                    }
                }
                State::Head => {
                    let mut headers = [httparse::EMPTY_HEADER; 16];
                    let window = &avail[..avail.len().min(self.limits.max_head)];
                    match httparse::parse_headers(window, &mut headers) {
                        Ok(httparse::Status::Complete((len, headers))) => {
                            let part = part_head(headers)?;
                            sink.part(&part).map_err(Error::Sink)?;
                            pos += len;
                            // The body starts here; the CRLF that ends it belongs to the
                            // next delimiter, so an empty body is that delimiter at once.
                            self.state = State::Body;
                        }
                        Ok(httparse::Status::Partial) if window.len() >= self.limits.max_head => {
                            return Err(Error::HeadTooLong);
                        }
                        Ok(httparse::Status::Partial) => break,
                        Err(httparse::Error::TooManyHeaders) => {
                            return Err(Error::Malformed("too many header lines in a part"));
                        }
                        Err(_) => return Err(Error::Malformed("bad header line in a part")),
                    }
                }
                State::Done | State::Failed => {
                    pos = self.buf.len();
                    break;
                }
            }
        }
        self.buf.drain(..pos);
        Ok(())
    }
}

/// The first position of `needle` (which starts with `\r` and has no other `\r`) in `hay`.
/// Linear: a partial match starting at one `\r` cannot contain the next.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = hay[from..].iter().position(|&b| b == b'\r') {
        let at = from + i;
        if hay[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// How many bytes at the end of `hay` could be the start of `needle`: from the last `\r`
/// among the final `needle.len() - 1` bytes, if what follows it matches so far.
fn held_back(hay: &[u8], needle: &[u8]) -> usize {
    let tail = hay.len().saturating_sub(needle.len() - 1);
    match hay[tail..].iter().position(|&b| b == b'\r') {
        Some(i) if needle.starts_with(&hay[tail + i..]) => hay.len() - tail - i,
        Some(i) => {
            // A later `\r` in the tail may still start one.
            let rest = &hay[tail + i + 1..];
            match rest.iter().position(|&b| b == b'\r') {
                Some(j) => held_back(&rest[j..], needle),
                None => 0,
            }
        }
        None => 0,
    }
}

/// The part's head: Content-Disposition (required, `form-data` with a `name`) and
/// Content-Type.
fn part_head(headers: &[httparse::Header<'_>]) -> Result<Part, Error> {
    let mut disposition = None;
    let mut content_type = None;
    for h in headers {
        let value = std::str::from_utf8(h.value)
            .map_err(|_| Error::Malformed("a part header is not UTF-8"))?;
        if h.name.eq_ignore_ascii_case("content-disposition") {
            if disposition.is_some() {
                return Err(Error::Malformed("two Content-Disposition headers"));
            }
            disposition = Some(value);
        } else if h.name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.trim().to_string());
        }
    }
    let disposition = disposition.ok_or(Error::Malformed("a part without Content-Disposition"))?;
    let (kind, params) = match disposition.split_once(';') {
        Some((k, p)) => (k, p),
        None => (disposition, ""),
    };
    if !kind.trim().eq_ignore_ascii_case("form-data") {
        return Err(Error::Malformed("a part that is not form-data"));
    }
    let mut name = None;
    let mut filename = None;
    for (key, value) in disposition_params(params)? {
        if key.eq_ignore_ascii_case("name") {
            name = Some(value);
        } else if key.eq_ignore_ascii_case("filename") {
            filename = Some(value);
        }
        // `filename*` (RFC 5987) is not to be used in forms (RFC 7578 §4.2): ignored.
    }
    Ok(Part {
        name: name.ok_or(Error::Malformed("a part without a name"))?,
        filename,
        content_type,
    })
}

/// `; key=value; key="quoted \" value"` → pairs. Browsers escape `"` in names as `%22`
/// (HTML's rule); a backslash escape is taken too.
fn disposition_params(mut s: &str) -> Result<Vec<(String, String)>, Error> {
    let bad = Error::Malformed("bad Content-Disposition parameters");
    let mut out = Vec::new();
    loop {
        s = s.trim_start_matches([' ', '\t', ';']);
        if s.is_empty() {
            return Ok(out);
        }
        let Some(eq) = s.find('=') else {
            return Err(bad);
        };
        let key = s[..eq].trim().to_string();
        s = s[eq + 1..].trim_start();
        let value;
        if let Some(rest) = s.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = rest.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, e)) => v.push(e),
                        None => return Err(bad),
                    },
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => v.push(c),
                }
            }
            let Some(end) = end else {
                return Err(bad);
            };
            value = v;
            s = &rest[end..];
        } else {
            let end = s.find(';').unwrap_or(s.len());
            value = s[..end].trim().to_string();
            s = &s[end..];
        }
        out.push((key, value));
    }
}

/// One fuzzing input through the parser, checking its invariants; panics if one fails.
/// The first byte picks the size of the pieces the rest is fed in; the boundary is `XyZ`.
/// Shared by `fuzz/fuzz_targets/multipart.rs` and the corpus replay in `cargo test`.
#[doc(hidden)]
pub fn fuzz_one(data: &[u8]) {
    struct Check {
        in_part: bool,
        bytes: usize,
    }
    impl Sink for Check {
        fn part(&mut self, part: &Part) -> io::Result<()> {
            assert!(!self.in_part, "a part began inside another");
            self.in_part = true;
            if let Some(name) = &part.filename
                && let Ok(ok) = check_filename(name, false)
            {
                assert!(!ok.contains(['/', '\\', '\0']) && !ok.starts_with('.'));
            }
            Ok(())
        }
        fn data(&mut self, bytes: &[u8]) -> io::Result<()> {
            assert!(self.in_part && !bytes.is_empty());
            self.bytes += bytes.len();
            Ok(())
        }
        fn end(&mut self) -> io::Result<()> {
            assert!(self.in_part, "an end outside a part");
            self.in_part = false;
            Ok(())
        }
    }
    let Some((&step, body)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_head: 512,
        max_parts: 8,
    };
    let mut parser = Parser::new("XyZ", limits);
    let mut sink = Check {
        in_part: false,
        bytes: 0,
    };
    let step = usize::from(step).max(1);
    let mut failed = false;
    for piece in body.chunks(step) {
        if parser.feed(piece, &mut sink).is_err() {
            failed = true;
            break;
        }
        assert!(
            parser.buf.len() <= limits.max_head.max(MAX_PADDING + 2),
            "held too much"
        );
    }
    assert!(sink.bytes <= body.len());
    assert!(parser.parts() <= limits.max_parts);
    let done = parser.is_done();
    match parser.finish() {
        Ok(()) => assert!(done && !failed && !sink.in_part),
        Err(e) => assert!(matches!(e.status(), 400 | 413 | 431), "{e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects the parts: (head, body).
    #[derive(Default)]
    struct Collect {
        parts: Vec<(Part, Vec<u8>, bool)>,
        biggest_piece: usize,
    }

    impl Sink for Collect {
        fn part(&mut self, part: &Part) -> io::Result<()> {
            self.parts.push((part.clone(), Vec::new(), false));
            Ok(())
        }
        fn data(&mut self, bytes: &[u8]) -> io::Result<()> {
            assert!(!bytes.is_empty());
            self.biggest_piece = self.biggest_piece.max(bytes.len());
            let last = self.parts.last_mut().unwrap();
            assert!(!last.2, "data after end");
            last.1.extend_from_slice(bytes);
            Ok(())
        }
        fn end(&mut self) -> io::Result<()> {
            self.parts.last_mut().unwrap().2 = true;
            Ok(())
        }
    }

    /// Parses `body` fed in pieces of `step` bytes.
    fn parse(body: &[u8], step: usize, limits: Limits) -> Result<Collect, Error> {
        let mut p = Parser::new("XyZ", limits);
        let mut c = Collect::default();
        for piece in body.chunks(step.max(1)) {
            p.feed(piece, &mut c)?;
        }
        p.finish()?;
        assert!(c.parts.iter().all(|p| p.2), "a part never ended");
        Ok(c)
    }

    const FORM: &[u8] = b"preamble\r\n--XyZ\r\n\
        Content-Disposition: form-data; name=\"note\"\r\n\r\n\
        hello\r\n--XyZ  \r\n\
        Content-Disposition: form-data; name=\"file\"; filename=\"a b \\\"c\\\".txt\"\r\n\
        Content-Type: text/plain\r\n\r\n\
        line1\r\n--XyYnot\r\n--Xy\r\n-- line2\r\r\n\r\n--XyZ\r\n\
        content-disposition: FORM-DATA; name=f2; filename=\"empty\"\r\n\r\n\
        \r\n--XyZ--\r\nepilogue --XyZ garbage";

    #[test]
    fn parses_a_form_in_pieces_of_every_size() {
        for step in 1..FORM.len() + 1 {
            let c = parse(FORM, step, Limits::default()).unwrap_or_else(|e| panic!("{step}: {e}"));
            let got: Vec<_> = c
                .parts
                .iter()
                .map(|(p, b, _)| (p.name.as_str(), p.filename.as_deref(), b.as_slice()))
                .collect();
            assert_eq!(
                got,
                [
                    ("note", None, &b"hello"[..]),
                    (
                        "file",
                        Some("a b \"c\".txt"),
                        b"line1\r\n--XyYnot\r\n--Xy\r\n-- line2\r\r\n"
                    ),
                    ("f2", Some("empty"), b""),
                ],
                "step {step}"
            );
            assert_eq!(c.parts[1].0.content_type.as_deref(), Some("text/plain"));
            assert!(c.biggest_piece <= step + 6, "step {step}");
        }
    }

    #[test]
    fn the_first_delimiter_may_open_the_body() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--XyZ--";
        let c = parse(body, 3, Limits::default()).unwrap();
        assert_eq!(c.parts[0].1, b"x");
        let empty = parse(b"--XyZ--\r\n", 1, Limits::default()).unwrap();
        assert!(empty.parts.is_empty());
    }

    #[test]
    fn refuses_bad_bodies() {
        let head = |h: &str| format!("--XyZ\r\n{h}\r\n\r\nbody\r\n--XyZ--").into_bytes();
        let cases: Vec<(Vec<u8>, u16)> = vec![
            (b"".to_vec(), 400),
            (b"no delimiter at all".to_vec(), 400),
            (
                b"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nbody".to_vec(),
                400,
            ),
            (
                b"--XyZ\r\nContent-Disposition: form-data; name=a\r\n".to_vec(),
                400,
            ),
            (b"--XyZjunk\r\n".to_vec(), 400),
            (head("Content-Type: text/plain"), 400),
            (head("Content-Disposition: attachment; name=a"), 400),
            (head("Content-Disposition: form-data"), 400),
            (head("Content-Disposition: form-data; name=\"a"), 400),
            (head("Content-Disposition: form-data; name"), 400),
            (
                head(
                    "Content-Disposition: form-data; name=a\r\nContent-Disposition: form-data; name=b",
                ),
                400,
            ),
            (
                {
                    let mut b = head("Content-Disposition: form-data; name=\"?\"");
                    let at = b.iter().position(|&c| c == b'?').unwrap();
                    b[at] = 0xff;
                    b
                },
                400,
            ),
            (head("no colon here"), 400),
            (head(&format!("X: {}", "a".repeat(9000))), 431),
            (head(&"X: y\r\n".repeat(20)), 400),
        ];
        for (body, status) in cases {
            for step in [1, 7, body.len().max(1)] {
                match parse(&body, step, Limits::default()) {
                    Ok(_) => panic!("accepted {:?}", String::from_utf8_lossy(&body)),
                    Err(e) => assert_eq!(
                        e.status(),
                        status,
                        "{e} for {:?}",
                        String::from_utf8_lossy(&body)
                    ),
                }
            }
        }
    }

    #[test]
    fn caps_parts_and_stays_bounded() {
        let one = "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n";
        let body = format!("{}--XyZ--", one.repeat(5));
        let limits = Limits {
            max_parts: 4,
            ..Limits::default()
        };
        assert_eq!(
            parse(body.as_bytes(), 10, limits).err().map(|e| e.status()),
            Some(413)
        );
        assert_eq!(
            parse(body.as_bytes(), 10, Limits::default())
                .unwrap()
                .parts
                .len(),
            5
        );
        // A big part fed in 64 KiB pieces: the parser holds fewer than a delimiter's bytes.
        let mut p = Parser::new("XyZ", Limits::default());
        let mut c = Collect::default();
        p.feed(
            b"--XyZ\r\nContent-Disposition: form-data; name=a; filename=b\r\n\r\n",
            &mut c,
        )
        .unwrap();
        let piece = vec![b'\r'; 64 * 1024];
        for _ in 0..32 {
            p.feed(&piece, &mut c).unwrap();
            assert!(p.buf.len() <= 8, "{}", p.buf.len());
        }
        p.feed(b"\r\n--XyZ--", &mut c).unwrap();
        p.finish().unwrap();
        assert_eq!(c.parts[0].1.len(), 32 * 64 * 1024);
    }

    #[test]
    fn a_failing_sink_stops_the_parse() {
        struct Full;
        impl Sink for Full {
            fn part(&mut self, _: &Part) -> io::Result<()> {
                Ok(())
            }
            fn data(&mut self, _: &[u8]) -> io::Result<()> {
                Err(io::Error::from_raw_os_error(libc::ENOSPC))
            }
            fn end(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut p = Parser::new("XyZ", Limits::default());
        let e = p.feed(FORM, &mut Full).unwrap_err();
        assert!(matches!(e, Error::Sink(_)), "{e}");
        assert!(p.feed(b"more", &mut Full).is_err());
        assert!(p.finish().is_err());
    }

    #[test]
    fn boundaries_from_content_types() {
        let cases = [
            ("multipart/form-data; boundary=XyZ", Some("XyZ")),
            ("Multipart/Form-Data;boundary=\"a b:c\"", Some("a b:c")),
            (
                "multipart/form-data; charset=utf-8; BOUNDARY=----WebKitFormBoundary7MA4YWxk",
                Some("----WebKitFormBoundary7MA4YWxk"),
            ),
            ("multipart/form-data", None),
            ("multipart/mixed; boundary=x", None),
            ("multipart/form-data; boundary=", None),
            ("multipart/form-data; boundary=\"x", None),
            ("multipart/form-data; boundary=\"x \"", None),
            ("multipart/form-data; boundary=a\rb", None),
        ];
        for (ct, want) in cases {
            assert_eq!(boundary(ct).as_deref(), want, "{ct}");
        }
        assert_eq!(
            boundary(&format!("multipart/form-data; boundary={}", "a".repeat(71))),
            None
        );
    }

    #[test]
    fn filenames_are_one_component() {
        let cases = [
            ("a.txt", false, Ok("a.txt")),
            ("caf\u{e9} 100%.txt", false, Ok("caf\u{e9} 100%.txt")),
            ("..", false, Err(BadName::Empty)),
            (".", false, Err(BadName::Empty)),
            ("", false, Err(BadName::Empty)),
            ("../x", false, Err(BadName::Separator)),
            ("a/b", false, Err(BadName::Separator)),
            ("C:\\x\\y.txt", false, Err(BadName::Separator)),
            ("a\0b", false, Err(BadName::Separator)),
            ("a\nb", false, Err(BadName::Separator)),
            (".env", false, Err(BadName::Hidden)),
            (".env", true, Ok(".env")),
            ("...", false, Err(BadName::Hidden)),
        ];
        for (name, hidden, want) in cases {
            assert_eq!(check_filename(name, hidden), want, "{name:?}");
        }
        assert_eq!(
            check_filename(&"a".repeat(256), false),
            Err(BadName::TooLong)
        );
    }

    /// A poor man's fuzzer, run on every `cargo test`: 20,000 deterministic mutations
    /// (byte flips, insertions of delimiter-ish bytes, cuts) of a valid input.
    #[test]
    fn mutations_keep_the_invariants() {
        let seed: Vec<u8> = {
            let mut v = vec![3u8];
            v.extend_from_slice(FORM);
            v
        };
        crate::testdir::mutations(&seed, 20_000, fuzz_one);
    }
}
