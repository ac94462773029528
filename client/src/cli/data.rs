//! The request body of `-d`, `--data-ascii`, `--data-raw`, `--data-binary` and
//! `--data-urlencode`, read and joined as curl does, and `-G`, which moves it into the
//! query.

use std::io::{self, Read, Write};

use super::args::{DataKind, DataPart};

/// The body made of `parts`, in the order typed, joined with `&`. A file that cannot be
/// read makes that part empty with a warning on stderr (unless `silent`), as in curl.
pub(crate) fn body(parts: &[DataPart], silent: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        // curl joins with `&`, except that --json data follows what came before directly.
        if i > 0 && part.kind != DataKind::Json {
            out.push(b'&');
        }
        out.extend_from_slice(&one(part, silent));
    }
    out
}

fn one(part: &DataPart, silent: bool) -> Vec<u8> {
    let value = part.value.as_str();
    match part.kind {
        DataKind::Raw => value.as_bytes().to_vec(),
        DataKind::Ascii => match value.strip_prefix('@') {
            // curl drops every CR and LF of a file given to -d: it reads a form, not lines.
            Some(file) => {
                let mut bytes = read(file, silent);
                bytes.retain(|b| !matches!(b, b'\r' | b'\n'));
                bytes
            }
            None => value.as_bytes().to_vec(),
        },
        DataKind::Binary | DataKind::Json => match value.strip_prefix('@') {
            Some(file) => read(file, silent),
            None => value.as_bytes().to_vec(),
        },
        DataKind::UrlEncode => urlencode_part(value, silent),
    }
}

/// curl's `--data-urlencode` forms: the first `=` (or, without one, the first `@`) splits
/// a name, sent as typed, from the content (or a file's), which is encoded; an empty name
/// means no `name=`.
fn urlencode_part(value: &str, silent: bool) -> Vec<u8> {
    let split = value.find('=').or_else(|| value.find('@'));
    let (name, content) = match split {
        Some(i) => {
            let content = if value.as_bytes()[i] == b'@' {
                read(&value[i + 1..], silent)
            } else {
                value.as_bytes()[i + 1..].to_vec()
            };
            (&value[..i], content)
        }
        None => ("", value.as_bytes().to_vec()),
    };
    let mut out = Vec::new();
    if !name.is_empty() {
        out.extend_from_slice(name.as_bytes());
        out.push(b'=');
    }
    out.extend_from_slice(form_encode(&content).as_bytes());
    out
}

/// Percent-encodes all but RFC 3986's unreserved characters, a space as `+` (what curl
/// sends for `--data-urlencode`).
pub(crate) fn form_encode(bytes: &[u8]) -> String {
    escape(bytes).replace("%20", "+")
}

/// Percent-encodes all but RFC 3986's unreserved characters (curl_easy_escape).
pub(crate) fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The bytes of `file` (`-`: stdin). On failure: a warning, and nothing, as in curl.
fn read(file: &str, silent: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    let result = if file == "-" {
        io::stdin().lock().read_to_end(&mut bytes).map(drop)
    } else {
        std::fs::read(file).map(|b| bytes = b)
    };
    if let Err(e) = result {
        if !silent {
            let _ = writeln!(
                io::stderr(),
                "fetch: warning: cannot read {file:?} ({}): sending an empty part",
                shared::io_words(&e)
            );
        }
        bytes.clear();
    }
    bytes
}

/// `url` with `data` added to its query (`-G`): after `?`, or after `&` when it has a
/// query already. A fragment stays at the end (it is never sent).
pub(crate) fn with_query(url: &str, data: &[u8]) -> String {
    // curl (7.88) appends with CURLU_APPENDQUERY, which writes every `%XX` it passes in
    // lowercase; servers read both, and the bytes on the wire stay the same as curl's.
    let mut data = data.to_vec();
    for i in 0..data.len() {
        if data[i] == b'%' && data.len() > i + 2 {
            data[i + 1].make_ascii_lowercase();
            data[i + 2].make_ascii_lowercase();
        }
    }
    let data = String::from_utf8_lossy(&data);
    let (base, fragment) = match url.find('#') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{data}{fragment}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(kind: DataKind, value: &str) -> DataPart {
        DataPart {
            kind,
            value: value.into(),
        }
    }

    #[test]
    fn parts_join_like_curl() {
        use DataKind::*;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f.txt");
        std::fs::write(&file, "a\r\nb\nc\n").unwrap();
        let at = format!("@{}", file.display());
        let named = format!("n{at}");
        let cases: Vec<(Vec<DataPart>, &[u8])> = vec![
            (vec![part(Ascii, "a=1"), part(Ascii, "b=2")], b"a=1&b=2"),
            (vec![part(Ascii, &at)], b"abc"),
            (vec![part(Binary, &at)], b"a\r\nb\nc\n"),
            (vec![part(Raw, &at)], at.as_bytes()),
            (vec![part(UrlEncode, "k=a b&c")], b"k=a+b%26c"),
            (vec![part(UrlEncode, "=x y")], b"x+y"),
            (vec![part(UrlEncode, "plain~._-")], b"plain~._-"),
            (vec![part(UrlEncode, &named)], b"n=a%0D%0Ab%0Ac%0A"),
            (vec![part(UrlEncode, "a@b=c")], b"a@b=c"),
            (vec![], b""),
            (vec![part(Json, "{}"), part(Ascii, "a=1")], b"{}&a=1"),
            (
                vec![part(Ascii, "a=1"), part(Json, "[1]"), part(Json, "{}")],
                b"a=1[1]{}",
            ),
        ];
        for (parts, want) in cases {
            assert_eq!(
                String::from_utf8_lossy(&body(&parts, true)),
                String::from_utf8_lossy(want),
                "{parts:?}"
            );
        }
    }

    #[test]
    fn get_moves_data_into_the_query() {
        let cases = [
            ("h/x", "h/x?a=1"),
            ("h/x?y", "h/x?y&a=1"),
            ("h/x#f", "h/x?a=1#f"),
        ];
        for (url, want) in cases {
            assert_eq!(with_query(url, b"a=1"), want);
        }
    }
}
