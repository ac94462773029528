//! `-F`/`--form` and `--form-string`: a `multipart/form-data` body (RFC 7578) laid out
//! byte for byte as curl lays it out, parts in the order typed.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::payload::{Payload, Piece};

/// One `-F` or `--form-string` value as typed; `literal` for `--form-string`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormPart {
    /// `NAME=CONTENT` with curl's `@FILE`, `<FILE` and `;type=`, `;filename=`.
    pub value: String,
    /// `--form-string`: the content as it stands.
    pub literal: bool,
}

/// The body and its `Content-Type` (with the boundary). A part without `=` is a usage
/// error (exit 2), a file that cannot be read a read error (exit 26), as in curl.
pub(crate) fn body(parts: &[FormPart], backslash: bool) -> Result<(Payload, String), Error> {
    // --form-escape: curl's older escaping, a backslash before `"` and `\`.
    let escape = |s: &str| {
        if backslash {
            s.replace('\\', r"\\").replace('"', r#"\""#)
        } else {
            escape(s)
        }
    };
    let boundary = boundary();
    let mut out = Vec::new();
    // The form as pieces: bytes, and the files of `@FILE` parts, streamed when sent.
    let mut pieces = Vec::new();
    for part in parts {
        let Some((name, rest)) = part.value.split_once('=') else {
            return Err(Error::Usage(format!(
                "-F {:?}: expected NAME=CONTENT, NAME=@FILE or NAME=<FILE",
                part.value
            )));
        };
        let (content, filename, kind) = if part.literal {
            (Content::Bytes(rest.as_bytes().to_vec()), None, None)
        } else {
            parse(rest)?
        };
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", escape(name));
        if let Some(f) = &filename {
            disposition.push_str(&format!("; filename=\"{}\"", escape(f)));
        }
        out.extend_from_slice(disposition.as_bytes());
        out.extend_from_slice(b"\r\n");
        if let Some(kind) = kind {
            out.extend_from_slice(format!("Content-Type: {kind}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        match content {
            Content::Bytes(b) => out.extend_from_slice(&b),
            Content::File(path) => {
                pieces.push(Piece::Bytes(std::mem::take(&mut out)));
                pieces.push(Piece::File(path));
            }
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let payload = if pieces.is_empty() {
        Payload::Bytes(out.into())
    } else {
        pieces.push(Piece::Bytes(out));
        Payload::Parts(pieces.into())
    };
    Ok((payload, format!("multipart/form-data; boundary={boundary}")))
}

/// A part's content: bytes, or a file sent from disk as the request goes out.
enum Content {
    Bytes(Vec<u8>),
    File(PathBuf),
}

/// A part's content, file name and type from what follows `NAME=`.
#[allow(clippy::type_complexity)] // Three results of one parse, named at the one call.
fn parse(rest: &str) -> Result<(Content, Option<String>, Option<String>), Error> {
    let (first, params) = split_params(rest);
    let mut kind = None;
    let mut filename = None;
    for (key, value) in params {
        match key.as_str() {
            "type" => kind = Some(value),
            "filename" => filename = Some(value),
            // headers=, encoder= and anything else: not sent (curl warns and goes on).
            _ => {}
        }
    }
    if let Some(file) = first.strip_prefix('@') {
        let content = content_of(file)?;
        let kind = kind.or_else(|| (file != "-").then(|| type_of(file).to_string()));
        let name = filename.or_else(|| {
            Some(
                Path::new(file)
                    .file_name()
                    .map_or(file.to_string(), |n| n.to_string_lossy().into_owned()),
            )
        });
        Ok((content, name, kind))
    } else if let Some(file) = first.strip_prefix('<') {
        Ok((content_of(file)?, filename, kind))
    } else {
        Ok((Content::Bytes(first.into_bytes()), filename, kind))
    }
}

/// The content (up to the first `;` outside double quotes; quotes and `\` escapes
/// removed) and the `;key=value` parameters after it.
fn split_params(s: &str) -> (String, Vec<(String, String)>) {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut chars = s.chars();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if current.is_empty() || quoted => quoted = !quoted,
            '\\' if quoted => current.extend(chars.next()),
            ';' if !quoted => fields.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    fields.push(current);
    let mut fields = fields.into_iter();
    let first = fields.next().unwrap_or_default();
    let params = fields
        .filter_map(|f| {
            let (k, v) = f.split_once('=')?;
            Some((k.trim().to_ascii_lowercase(), v.to_string()))
        })
        .collect();
    (first, params)
}

/// curl's table of types by file name extension; anything else is
/// `application/octet-stream`.
fn type_of(file: &str) -> &'static str {
    let lower = file.to_ascii_lowercase();
    const TYPES: &[(&str, &str)] = &[
        (".gif", "image/gif"),
        (".jpg", "image/jpeg"),
        (".jpeg", "image/jpeg"),
        (".png", "image/png"),
        (".svg", "image/svg+xml"),
        (".txt", "text/plain"),
        (".htm", "text/html"),
        (".html", "text/html"),
        (".pdf", "application/pdf"),
        (".xml", "application/xml"),
    ];
    TYPES
        .iter()
        .find(|(ext, _)| lower.ends_with(ext))
        .map_or("application/octet-stream", |(_, t)| t)
}

/// A name in a quoted header parameter, as curl writes it: `"`, CR and LF
/// percent-encoded.
fn escape(s: &str) -> String {
    s.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// What `@FILE` and `<FILE` send, as curl 7.88's tool_formparse.c decides: a file is
/// checked now (exit 26 before anything is sent) and sent from disk as the request goes
/// out; so is stdin when it is a regular file (`< FILE`), while a pipe or a terminal has no
/// length and is read now, whole, into memory (curl reads it the same way).
fn content_of(file: &str) -> Result<Content, Error> {
    if file == "-" {
        return Ok(match stdin_file() {
            Some(path) => Content::File(path),
            None => Content::Bytes(read_stdin()?),
        });
    }
    std::fs::File::open(file).map_err(|e| Error::Read {
        what: file.to_string(),
        reason: shared::io_words(&e),
    })?;
    Ok(Content::File(PathBuf::from(file)))
}

/// `/dev/stdin`, when stdin is a regular file not yet read from, and `/dev/stdin` opens
/// that same file: then it can be opened again and sent from disk like any file. (Read
/// from elsewhere than its start, it is read into memory from where it is, which sends
/// what curl sends: the rest.)
fn stdin_file() -> Option<PathBuf> {
    use std::io::Seek;
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let mut ours = std::fs::File::from(io::stdin().as_fd().try_clone_to_owned().ok()?);
    let meta = ours.metadata().ok()?;
    if !meta.is_file() || ours.stream_position().ok()? != 0 {
        return None;
    }
    let path = PathBuf::from("/dev/stdin");
    let again = std::fs::metadata(&path).ok()?;
    (again.dev() == meta.dev() && again.ino() == meta.ino()).then_some(path)
}

fn read_stdin() -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    io::stdin()
        .lock()
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Read {
            what: "-".into(),
            reason: shared::io_words(&e),
        })?;
    Ok(bytes)
}

/// curl's shape of boundary: 24 dashes and 16 hex digits, different each run.
fn boundary() -> String {
    format!("------------------------{}", crate::auth::cnonce())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_split_like_curl() {
        let s = |v: &str| v.to_string();
        let cases = [
            ("b;c", (s("b"), vec![])),
            ("y;type=text/z", (s("y"), vec![(s("type"), s("text/z"))])),
            (
                "@f.txt;type=a/b;filename=x.bin",
                (
                    s("@f.txt"),
                    vec![(s("type"), s("a/b")), (s("filename"), s("x.bin"))],
                ),
            ),
            ("\"a;b\";type=t", (s("a;b"), vec![(s("type"), s("t"))])),
        ];
        for (input, want) in cases {
            assert_eq!(split_params(input), want, "{input}");
        }
        assert_eq!(type_of("A.PNG"), "image/png");
        assert_eq!(type_of("d.json"), "application/octet-stream");
        assert_eq!(escape("n\"q\r\n"), "n%22q%0D%0A");
        assert_eq!(boundary().len(), 40);
    }
}
