//! The narrow pass over an HTML page: only what the links live in, its start tags (name,
//! attributes, whether self-closing) and the text of `<style>`, found by the WHATWG
//! tokenizer's rules for where a tag, a comment, a doctype and raw text begin and end, with
//! the same naive raw-text switch as `html5gum`'s (`<script>`, `<style>`, `<title>`...),
//! so that it finds what the tokenizer finds. It does not build text, comments or end tags,
//! and decodes an attribute's character references only when that attribute is read.
//!
//! Where the rules get long and pages rarely go (a named character reference other than
//! the five of XML and `&nbsp;`, a numeric one to a control or a noncharacter, a script
//! that holds `<!--` and `<script`, a tag of more than [`MAX_ATTRIBUTES`] attributes), it says
//! [`Unsure`] and the caller asks the tokenizer instead. A test checks both against each
//! other on every page of a real documentation site; `fuzz/fuzz_targets/html_links.rs` on
//! anything.

use std::ops::Range;

/// The pass cannot tell for sure: ask the tokenizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsure;

/// The most attributes read from one tag (a page's are a handful).
pub const MAX_ATTRIBUTES: usize = 64;

/// A start tag: its name (lower case, as the page spells it otherwise) and attributes.
pub struct Tag<'s> {
    src: &'s [u8],
    pub name: Vec<u8>,
    pub self_closing: bool,
    /// Each attribute's name (its range in `src`; compared without case) and raw value.
    attrs: Vec<(Range<usize>, Range<usize>)>,
}

impl Tag<'_> {
    /// The value of the first attribute called `name` (lower case), character references
    /// decoded, carriage returns made line feeds and NUL the replacement character, as the
    /// tokenizer gives it.
    pub fn attr(&self, name: &str) -> Result<Option<Vec<u8>>, Unsure> {
        let Some((_, v)) = self
            .attrs
            .iter()
            .find(|(n, _)| lower_eq(&self.src[n.clone()], name.as_bytes()))
        else {
            return Ok(None);
        };
        decode(&self.src[v.clone()]).map(Some)
    }
}

/// Compares `a` (as written) with `lower` (lower case): the same bytes but for ASCII case.
/// A NUL in a name is the replacement character to the tokenizer: never equal.
fn lower_eq(a: &[u8], lower: &[u8]) -> bool {
    a.len() == lower.len()
        && a.iter()
            .zip(lower)
            .all(|(x, y)| x.to_ascii_lowercase() == *y)
}

fn space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0C | b'\r' | b' ')
}

/// Walks `s`, giving each start tag to `on_tag` and the text of each raw-text element (with
/// the name of the tag that opened it) to `on_text`.
pub fn scan(
    s: &[u8],
    mut on_tag: impl FnMut(&Tag<'_>) -> Result<(), Unsure>,
    mut on_text: impl FnMut(&Tag<'_>, &[u8]) -> Result<(), Unsure>,
) -> Result<(), Unsure> {
    let mut i = 0;
    // One tag's buffers, used again for each.
    let mut t = Tag {
        src: s,
        name: Vec::new(),
        self_closing: false,
        attrs: Vec::new(),
    };
    while let Some(lt) = memchr::memchr(b'<', &s[i..]) {
        i += lt + 1;
        let Some(&c) = s.get(i) else {
            return Ok(());
        };
        if c.is_ascii_alphabetic() {
            let Some(end) = tag(s, i, &mut t)? else {
                return Ok(()); // cut off inside the tag: the tokenizer drops it
            };
            on_tag(&t)?;
            i = end;
            let Some(raw) = raw_kind(&t.name) else {
                continue;
            };
            let (text, next) = raw_text(s, i, &t.name, raw)?;
            if !text.is_empty() {
                on_text(&t, text)?;
            }
            i = match next {
                // The end tag, whose attributes are read (and dropped) as a tag's.
                Some(at) => match tag(s, at, &mut t)? {
                    Some(end) => end,
                    None => return Ok(()),
                },
                None => return Ok(()),
            };
        } else if c == b'/' {
            match s.get(i + 1) {
                Some(c) if c.is_ascii_alphabetic() => match tag(s, i + 1, &mut t)? {
                    Some(end) => i = end,
                    None => return Ok(()),
                },
                Some(b'>') => i += 2,
                Some(_) => i = past(s, i + 1, b">"),
                None => return Ok(()),
            }
        } else if c == b'!' {
            if s[i + 1..].starts_with(b"--") {
                i = comment(s, i + 3);
            } else {
                // A doctype, CDATA outside foreign content, anything else: to the first `>`.
                i = past(s, i + 1, b">");
            }
        } else if c == b'?' {
            i = past(s, i, b">");
        }
        // Anything else: the `<` was text.
    }
    Ok(())
}

/// How the text after a start tag is read (`html5gum::naive_next_state`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Raw {
    /// Up to the matching end tag.
    Text,
    /// The same, unless it holds an escaped `<script>` (then: unsure).
    Script,
    /// To the end of the page.
    Plain,
}

fn raw_kind(name: &[u8]) -> Option<Raw> {
    match name {
        b"textarea" | b"title" | b"style" | b"iframe" | b"xmp" | b"noembed" | b"noframe"
        | b"noscript" => Some(Raw::Text),
        b"script" => Some(Raw::Script),
        b"plaintext" => Some(Raw::Plain),
        _ => None,
    }
}

/// The raw text from `from` up to `</NAME` followed by white space, `/` or `>` (any case),
/// and where that end tag's name starts (none: the text runs to the end).
fn raw_text<'s>(
    s: &'s [u8],
    from: usize,
    name: &[u8],
    raw: Raw,
) -> Result<(&'s [u8], Option<usize>), Unsure> {
    if raw == Raw::Plain {
        return Ok((&s[from..], None));
    }
    let mut i = from;
    let end = loop {
        let Some(at) = memchr::memmem::find(&s[i..], b"</") else {
            break None;
        };
        let n = i + at + 2;
        let after = n + name.len();
        if s.get(n..after).is_some_and(|t| lower_eq(t, name))
            && s.get(after)
                .is_some_and(|&b| space(b) || b == b'/' || b == b'>')
        {
            break Some(n);
        }
        i = n;
    };
    let text = &s[from..end.map_or(s.len(), |n| n - 2)];
    // In a script, `<!--` then `<script` is the "double escaped" state, where a
    // `</script>` does not end it: rare enough to leave to the tokenizer.
    if raw == Raw::Script
        && let Some(c) = memchr::memmem::find(text, b"<!--")
        && text[c..]
            .windows(7)
            .any(|w| w.eq_ignore_ascii_case(b"<script"))
    {
        return Err(Unsure);
    }
    Ok((text, end))
}

/// Past a comment whose text starts at `from` (after `<!--`): `>` or `->` at once ends
/// it, else the first `-->` or `--!>`; to the end of the page when there is none.
fn comment(s: &[u8], from: usize) -> usize {
    let rest = &s[from.min(s.len())..];
    if rest.starts_with(b">") {
        return from + 1;
    }
    if rest.starts_with(b"->") {
        return from + 2;
    }
    let mut i = from;
    while let Some(at) = memchr::memmem::find(&s[i..], b"--") {
        let d = i + at + 2;
        if s.get(d) == Some(&b'>') {
            return d + 1;
        }
        if s.get(d..d + 2) == Some(b"!>") {
            return d + 2;
        }
        i = d - 1;
    }
    s.len()
}

/// Just past the first `what` at or after `from` (the end of the page if none).
fn past(s: &[u8], from: usize, what: &[u8]) -> usize {
    let from = from.min(s.len());
    memchr::memmem::find(&s[from..], what).map_or(s.len(), |at| from + at + what.len())
}

/// Reads the tag whose name starts at `i` into `t`; returns where the text after it
/// starts, `None` when the page ends inside it.
fn tag(s: &[u8], mut i: usize, t: &mut Tag<'_>) -> Result<Option<usize>, Unsure> {
    let start = i;
    while i < s.len() && !space(s[i]) && s[i] != b'/' && s[i] != b'>' {
        i += 1;
    }
    t.name.clear();
    t.name
        .extend(s[start..i].iter().map(u8::to_ascii_lowercase));
    t.self_closing = false;
    t.attrs.clear();
    // The WHATWG states from "before attribute name" on.
    loop {
        let Some(&c) = s.get(i) else {
            return Ok(None);
        };
        match c {
            _ if space(c) => i += 1,
            b'>' => return Ok(Some(i + 1)),
            b'/' => {
                // Self-closing only when `>` follows at once; else a stray `/`.
                if s.get(i + 1) == Some(&b'>') {
                    t.self_closing = true;
                    return Ok(Some(i + 2));
                }
                i += 1;
            }
            _ => {
                // A name: its first character may be `=`.
                let n0 = i;
                i += 1;
                while i < s.len() && !space(s[i]) && !matches!(s[i], b'/' | b'>' | b'=') {
                    i += 1;
                }
                let name = n0..i;
                while i < s.len() && space(s[i]) {
                    i += 1;
                }
                let mut value = i..i;
                if s.get(i) == Some(&b'=') {
                    i += 1;
                    while i < s.len() && space(s[i]) {
                        i += 1;
                    }
                    match s.get(i) {
                        None => return Ok(None),
                        Some(&q @ (b'"' | b'\'')) => {
                            let Some(end) = memchr::memchr(q, &s[i + 1..]) else {
                                return Ok(None);
                            };
                            value = i + 1..i + 1 + end;
                            i += end + 2;
                        }
                        // No value at all: the tag ends.
                        Some(b'>') => {}
                        Some(_) => {
                            let v0 = i;
                            while i < s.len() && !space(s[i]) && s[i] != b'>' {
                                i += 1;
                            }
                            value = v0..i;
                        }
                    }
                }
                if t.attrs.len() >= MAX_ATTRIBUTES {
                    return Err(Unsure);
                }
                t.attrs.push((name, value));
            }
        }
    }
}

/// The text of a raw-text element as the tokenizer gives it: CR LF and CR made LF, NUL
/// made U+FFFD (no character references there).
pub fn text(raw: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !raw.iter().any(|&b| matches!(b, b'\r' | 0)) {
        return raw.into();
    }
    // Without references, nothing is unsure.
    clean(raw, false).unwrap_or_default().into()
}

/// An attribute's value as the tokenizer gives it: character references decoded (those
/// it can decode for sure), CR LF and CR made LF, NUL made U+FFFD.
fn decode(v: &[u8]) -> Result<Vec<u8>, Unsure> {
    if !v.iter().any(|&b| matches!(b, b'&' | b'\r' | 0)) {
        return Ok(v.to_vec());
    }
    clean(v, true)
}

/// `v` with CR LF and CR made LF, NUL made U+FFFD, and with `refs`, character references
/// decoded.
fn clean(v: &[u8], refs: bool) -> Result<Vec<u8>, Unsure> {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        match v[i] {
            b'\r' => {
                out.push(b'\n');
                i += if v.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
            }
            0 => {
                out.extend_from_slice("\u{fffd}".as_bytes());
                i += 1;
            }
            b'&' if refs => i = reference(v, i, &mut out)?,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// The character reference at `v[i]` (`&`) in an attribute value, appended to `out` as the
/// tokenizer decodes it; where the text goes on.
fn reference(v: &[u8], i: usize, out: &mut Vec<u8>) -> Result<usize, Unsure> {
    let rest = &v[i + 1..];
    if rest.first() == Some(&b'#') {
        let (hex, digits) = match rest.get(1) {
            Some(b'x' | b'X') => (true, &rest[2..]),
            _ => (false, &rest[1..]),
        };
        let n = digits
            .iter()
            .take_while(|b| {
                if hex {
                    b.is_ascii_hexdigit()
                } else {
                    b.is_ascii_digit()
                }
            })
            .count();
        if n == 0 || n > 6 || digits.get(n) != Some(&b';') {
            return Err(Unsure);
        }
        let text = std::str::from_utf8(&digits[..n]).map_err(|_| Unsure)?;
        let code = u32::from_str_radix(text, if hex { 16 } else { 10 }).map_err(|_| Unsure)?;
        let plain = matches!(code, 0x09 | 0x0A | 0x0C | 0x20..=0x7E | 0xA0..=0xD7FF
            | 0xE000..=0xFDCF | 0xFDF0..=0x10FFFF)
            && code & 0xFFFE != 0xFFFE;
        let c = char::from_u32(code).filter(|_| plain).ok_or(Unsure)?;
        let mut buf = [0; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        // `&`, `#`, the `x`, the digits, the `;`.
        return Ok(i + 2 + usize::from(hex) + n + 1);
    }
    let n = rest
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    if n == 0 {
        out.push(b'&');
        return Ok(i + 1);
    }
    let name = &rest[..n];
    if rest.get(n) == Some(&b';') {
        let c = match name {
            b"amp" => "&",
            b"lt" => "<",
            b"gt" => ">",
            b"quot" => "\"",
            b"apos" => "'",
            b"nbsp" => "\u{a0}",
            // One of the 2,000 other names, or none: the tokenizer knows.
            _ => return Err(Unsure),
        };
        out.extend_from_slice(c.as_bytes());
        return Ok(i + 1 + n + 1);
    }
    // No `;`: in an attribute, a name followed by `=` is left as written (`?a=1&b=2`); so is
    // one longer than the longest of the old names that may go without `;` (6 letters,
    // `middot`), which could only match a shorter name followed by a letter, also left
    // alone. Shorter ones may be such a name (`&copy`): the tokenizer knows.
    if rest.get(n) == Some(&b'=') || n > 6 {
        out.push(b'&');
        return Ok(i + 1);
    }
    Err(Unsure)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(page: &str) -> Vec<String> {
        let mut out = Vec::new();
        scan(
            page.as_bytes(),
            |t| {
                let href = t.attr("href")?.map(|v| String::from_utf8(v).unwrap());
                out.push(format!(
                    "{}{}{}",
                    String::from_utf8_lossy(&t.name),
                    href.map(|h| format!(" {h}")).unwrap_or_default(),
                    if t.self_closing { "/" } else { "" }
                ));
                Ok(())
            },
            |_, _| Ok(()),
        )
        .unwrap();
        out
    }

    #[test]
    fn tags_as_the_tokenizer_reads_them() {
        let cases: &[(&str, &[&str])] = &[
            ("<a href=x>", &["a x"]),
            ("<A HREF='x' href=y>", &["a x"]),
            ("<a href=\"a>b\">", &["a a>b"]),
            ("<a/href=x>", &["a x"]),
            ("<br/>", &["br/"]),
            ("<a href=x/>", &["a x/"]),
            ("<a =x href=y>", &["a y"]),
            ("<!-- <a href=no> --><b>", &["b"]),
            ("<!--><a href=x>", &["a x"]),
            ("<!---><a href=x>", &["a x"]),
            ("<!-- a --!><a href=x>", &["a x"]),
            ("<!doctype html><a>", &["a"]),
            ("<?xml x><a>", &["a"]),
            ("</p foo='>'><a>", &["a"]),
            ("< a href=no><1>", &[]),
            ("<title><a href=no></title ><a>", &["title", "a"]),
            (
                "<script>if (a</script2) '<a>'</SCRIPT><a>",
                &["script", "a"],
            ),
            ("<style/><a href=no></style><b>", &["style/", "b"]),
            ("<a href='x", &[]),
            ("<a href=x", &[]),
            ("<a href=\"x&amp;y&lt;&#65;&#x42;&b=1\">", &["a x&y<AB&b=1"]),
        ];
        for (page, want) in cases {
            assert_eq!(tags(page), *want, "in {page}");
        }
    }

    #[test]
    fn what_it_cannot_tell_it_leaves_to_the_tokenizer() {
        for page in [
            "<a href='&copy'>",
            "<a href='&eacute;'>",
            "<a href='&#128;'>",
            "<a href='&#65'>",
            "<script><!--<script></script>--></script>",
        ] {
            let got = scan(page.as_bytes(), |t| t.attr("href").map(drop), |_, _| Ok(()));
            assert_eq!(got, Err(Unsure), "{page}");
        }
    }
}
