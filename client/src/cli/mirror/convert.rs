//! `--convert-links` (wget's `-k`): after the crawl, the links in each saved HTML page and
//! style sheet are rewritten so the copy works from `file://`. Where each link leads is the
//! crawl's business (a closure: a relative path to the local copy, an absolute URL, or
//! nothing to change); this module finds every link's bytes, the same ones `links.rs`
//! follows, and splices the new text in. Nothing else in the page changes.

use std::ops::Range;

use html5gum::{DefaultEmitter, Token, Tokenizer};

use super::links::{css_refs, refresh_url, srcset_parts};

/// What a link becomes: `Some(new reference)`, or `None` to leave it.
pub type Map<'m> = dyn FnMut(&str) -> Option<String> + 'm;

/// The page `src` with its links rewritten by `map`; its `<base href>` is emptied (the
/// links are now relative to the file itself).
pub fn html(src: &[u8], map: &mut Map<'_>) -> Vec<u8> {
    let mut emitter = DefaultEmitter::<usize>::new_with_span();
    emitter.naively_switch_states(true);
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();
    let mut in_style = false;
    for token in Tokenizer::new_with_emitter(src, emitter).flatten() {
        match token {
            Token::StartTag(tag) => {
                let name = tag.name.as_slice();
                in_style = name == b"style" && !tag.self_closing;
                let is_refresh = name == b"meta"
                    && tag
                        .attributes
                        .get(&b"http-equiv"[..])
                        .is_some_and(|v| v.value.eq_ignore_ascii_case(b"refresh"));
                for (attr, v) in &tag.attributes {
                    let value = String::from_utf8_lossy(&v.value);
                    let new = match (name, attr.as_slice()) {
                        (b"base", b"href") => Some(String::new()),
                        (b"a" | b"area" | b"link", b"href") => link(&value, map),
                        (b"object", b"data") => link(&value, map),
                        (_, b"src" | b"poster" | b"background") => link(&value, map),
                        (_, b"srcset" | b"imagesrcset") => srcset(&value, map),
                        (_, b"style") => css_text(&value, map),
                        (b"meta", b"content") if is_refresh => refresh(&value, map),
                        _ => None,
                    };
                    let Some(new) = new else { continue };
                    if let Some(range) = value_range(src, v.span.start, v.span.end) {
                        edits.push((range, quoted(&new)));
                    }
                }
            }
            Token::EndTag(tag) if tag.name.as_slice() == b"style" => in_style = false,
            Token::String(text) if in_style => {
                let start = text.span.start;
                if src.get(start..text.span.end) == Some(&text.value[..]) {
                    for (range, r) in css_refs(&text.value) {
                        if let Some(new) = link(&r, map) {
                            edits.push((start + range.start..start + range.end, new));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    splice(src, edits)
}

/// The style sheet `src` with its `url()` and `@import` references rewritten by `map`.
pub fn css(src: &[u8], map: &mut Map<'_>) -> Vec<u8> {
    let edits = css_refs(src)
        .into_iter()
        .filter_map(|(range, r)| link(&r, map).map(|new| (range, new)))
        .collect();
    splice(src, edits)
}

/// One reference, unless `map` leaves it.
fn link(value: &str, map: &mut Map<'_>) -> Option<String> {
    map(value.trim())
}

/// A `srcset` with each URL mapped, descriptors kept.
fn srcset(value: &str, map: &mut Map<'_>) -> Option<String> {
    let parts = srcset_parts(value);
    let mut changed = false;
    let rebuilt: Vec<String> = parts
        .into_iter()
        .map(|(url, descriptor)| {
            let url = match map(&url) {
                Some(new) => {
                    changed = true;
                    new
                }
                None => url,
            };
            if descriptor.is_empty() {
                url
            } else {
                format!("{url} {descriptor}")
            }
        })
        .collect();
    changed.then(|| rebuilt.join(", "))
}

/// A `style` attribute with its `url()` references mapped.
fn css_text(value: &str, map: &mut Map<'_>) -> Option<String> {
    let out = css(value.as_bytes(), map);
    (out != value.as_bytes()).then(|| String::from_utf8_lossy(&out).into_owned())
}

/// A meta refresh `content` with its URL mapped.
fn refresh(value: &str, map: &mut Map<'_>) -> Option<String> {
    let url = refresh_url(value)?;
    let new = map(url)?;
    // `url` is a slice of `value`: put the new one in its place.
    let at = url.as_ptr() as usize - value.as_ptr() as usize;
    Some(format!("{}{new}{}", &value[..at], &value[at + url.len()..]))
}

/// The byte range of an attribute's value, quotes included, in `src`, given the span the
/// tokenizer reports for the attribute (from its name to about the end of its value).
fn value_range(src: &[u8], start: usize, end: usize) -> Option<Range<usize>> {
    let end = end.min(src.len());
    let text = src.get(start..end)?;
    let eq = text.iter().position(|&b| b == b'=')?;
    let mut i = start + eq + 1;
    while i < src.len() && src[i].is_ascii_whitespace() {
        i += 1;
    }
    match src.get(i) {
        Some(&q @ (b'"' | b'\'')) => {
            let close = src[i + 1..].iter().position(|&b| b == q)?;
            Some(i..i + 1 + close + 1)
        }
        Some(_) => {
            let len = src[i..]
                .iter()
                .position(|&b| b.is_ascii_whitespace() || b == b'>')
                .unwrap_or(src.len() - i);
            Some(i..i + len)
        }
        None => None,
    }
}

/// `value` as a double-quoted attribute value.
fn quoted(value: &str) -> String {
    format!("\"{}\"", value.replace('&', "&amp;").replace('"', "&quot;"))
}

/// `src` with each range replaced; overlapping or out-of-order edits are dropped.
fn splice(src: &[u8], mut edits: Vec<(Range<usize>, String)>) -> Vec<u8> {
    edits.sort_by_key(|(r, _)| r.start);
    let mut out = Vec::with_capacity(src.len());
    let mut at = 0;
    for (range, text) in edits {
        if range.start < at || range.end > src.len() {
            continue;
        }
        out.extend_from_slice(&src[at..range.start]);
        out.extend_from_slice(text.as_bytes());
        at = range.end;
    }
    out.extend_from_slice(&src[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Absolute paths become `local/...`; `keep` and everything else stays.
    fn map(r: &str) -> Option<String> {
        r.strip_prefix('/').map(|p| format!("local/{p}"))
    }

    #[test]
    fn html_links_are_rewritten_in_place() {
        let cases = [
            ("<a href=/a.html>x</a>", "<a href=\"local/a.html\">x</a>"),
            (
                "<a href='/a.html' class=c>",
                "<a href=\"local/a.html\" class=c>",
            ),
            (
                "<a class=c href=\"/a b\">",
                "<a class=c href=\"local/a b\">",
            ),
            ("<a href=keep.html>", "<a href=keep.html>"),
            ("<a href = '/x' >", "<a href = \"local/x\" >"),
            (
                "<img src=/i.png srcset='/j.png 2x, k.png 3x'>",
                "<img src=\"local/i.png\" srcset=\"local/j.png 2x, k.png 3x\">",
            ),
            (
                "<base href='/'><a href=/x>",
                "<base href=\"\"><a href=\"local/x\">",
            ),
            (
                "<p style='background:url(/b.png)'>",
                "<p style=\"background:url(local/b.png)\">",
            ),
            (
                "<style>a{b:url('/c.png')}</style>",
                "<style>a{b:url('local/c.png')}</style>",
            ),
            (
                "<meta http-equiv=refresh content='0; url=/n.html'>",
                "<meta http-equiv=refresh content=\"0; url=local/n.html\">",
            ),
            (
                "<a href='/q?a=1&amp;b=2'>",
                "<a href=\"local/q?a=1&amp;b=2\">",
            ),
            ("<div data=/x>", "<div data=/x>"),
            (
                "<script>var a = '<a href=/no>';</script>",
                "<script>var a = '<a href=/no>';</script>",
            ),
            (
                "caf\u{e9} <a href=/\u{e9}>",
                "caf\u{e9} <a href=\"local/\u{e9}\">",
            ),
        ];
        for (input, want) in cases {
            let got = html(input.as_bytes(), &mut map);
            assert_eq!(String::from_utf8_lossy(&got), want, "{input}");
        }
    }

    #[test]
    fn css_references_are_rewritten_in_place() {
        let cases = [
            ("a{b:url(/x.png)}", "a{b:url(local/x.png)}"),
            ("a{b:url( \"/x.png\" )}", "a{b:url( \"local/x.png\" )}"),
            ("@import '/y.css';", "@import 'local/y.css';"),
            ("/* url(/no.png) */", "/* url(/no.png) */"),
            ("a{b:url(keep.png)}", "a{b:url(keep.png)}"),
        ];
        for (input, want) in cases {
            let got = css(input.as_bytes(), &mut map);
            assert_eq!(String::from_utf8_lossy(&got), want, "{input}");
        }
    }
}
