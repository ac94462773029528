//! Links in a page: HTML through a WHATWG tokenizer (`html5gum`), CSS through a small
//! scanner of its own (comments and strings skipped, `url()` and `@import`). What comes out
//! are references as written (entities decoded); the crawl resolves them against the page's
//! URL, or its `<base href>`.

use html5gum::{DefaultEmitter, Readable, Token, Tokenizer};

/// The most references kept from one page or style sheet; a page with more (a generated
/// index of a million links) gives its first ones and says so through [`Links::cut`].
pub const MAX_REFS: usize = 100_000;

/// What a page links to.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Links {
    /// The first `<base href>`, which relative references resolve against.
    pub base: Option<String>,
    /// Every reference, in document order, as written (HTML entities decoded), up to
    /// [`MAX_REFS`].
    pub refs: Vec<String>,
    /// For each of `refs`, whether it is part of showing the page (an image, a style
    /// sheet, a script, a frame: what `--page-requisites` fetches) rather than a link to
    /// another page.
    pub inline: Vec<bool>,
    /// Whether references were left out past [`MAX_REFS`].
    pub cut: bool,
}

impl Links {
    fn add(&mut self, url: String, inline: bool) {
        self.refs.push(url);
        self.inline.push(inline);
    }

    fn add_all(&mut self, urls: Vec<String>, inline: bool) {
        for u in urls {
            self.add(u, inline);
        }
    }

    fn cut_at(&mut self, n: usize) {
        if self.refs.len() > n {
            self.refs.truncate(n);
            self.inline.truncate(n);
            self.cut = true;
        }
    }
}

/// The links of an HTML page: `href` of `a`, `area`, `link`; `src` of `img`, `script`,
/// `source`, `iframe`, `frame`, `embed`, `audio`, `video`, `track`, `input`; `srcset` of
/// `img` and `source`; `poster`, `data` of `object`, `background`; the URL of a meta
/// refresh; CSS in `<style>` and in `style` attributes. `input` is read as it is
/// tokenized (a file, say), so memory does not grow with the page, only with its links.
pub fn html<'a>(input: impl Readable<'a>) -> Links {
    let mut emitter = DefaultEmitter::default();
    // <style> and <script> hold text, not tags: the tokenizer must be told, as a tree
    // builder would tell it.
    emitter.naively_switch_states(true);
    let mut links = Links::default();
    let mut in_style = false;
    for token in Tokenizer::new_with_emitter(input, emitter).flatten() {
        if links.refs.len() >= MAX_REFS {
            links.cut_at(MAX_REFS);
            links.cut = true;
            break;
        }
        match token {
            Token::StartTag(tag) => {
                let name = tag.name.as_slice();
                in_style = name == b"style" && !tag.self_closing;
                let attr = |n: &str| {
                    tag.attributes
                        .get(n.as_bytes())
                        .map(|v| String::from_utf8_lossy(&v.value).trim().to_string())
                        .filter(|v| !v.is_empty())
                };
                if name == b"base" {
                    if links.base.is_none() {
                        links.base = attr("href");
                    }
                    continue;
                }
                if name == b"meta" {
                    let refresh =
                        attr("http-equiv").is_some_and(|v| v.eq_ignore_ascii_case("refresh"));
                    if let Some(url) = attr("content")
                        .filter(|_| refresh)
                        .and_then(|c| refresh_url(&c).map(str::to_string))
                    {
                        links.add(url, false);
                    }
                    continue;
                }
                for a in ["href", "src", "poster", "background", "data"] {
                    let wanted = match a {
                        "data" => name == b"object",
                        "href" => matches!(name, b"a" | b"area" | b"link"),
                        _ => true,
                    };
                    // A link to another page: `a`, `area`, and a `link` that is not needed
                    // to show this one (a style sheet, an icon, a preload is needed).
                    let inline = match (a, name) {
                        ("href", b"a" | b"area") => false,
                        ("href", _) => attr("rel").is_some_and(|rel| {
                            rel.to_ascii_lowercase().split_ascii_whitespace().any(|r| {
                                matches!(r, "stylesheet" | "preload" | "modulepreload" | "manifest")
                                    || r.contains("icon")
                            })
                        }),
                        _ => true,
                    };
                    if let Some(v) = attr(a).filter(|_| wanted) {
                        links.add(v, inline);
                    }
                }
                if let Some(set) = attr("srcset").or_else(|| attr("imagesrcset")) {
                    links.add_all(srcset(&set), true);
                }
                if let Some(style) = attr("style") {
                    links.add_all(css(style.as_bytes()), true);
                }
            }
            Token::EndTag(tag) if tag.name.as_slice() == b"style" => in_style = false,
            Token::String(text) if in_style => links.add_all(css(&text.value), true),
            _ => {}
        }
    }
    // The last tag may have brought several (a srcset).
    links.cut_at(MAX_REFS);
    links
}

/// The URLs of a `srcset`: candidates split by commas, each a URL and an optional
/// descriptor (`2x`, `480w`). A URL may itself hold commas (HTML's rule: a URL is everything
/// up to white space; trailing commas end the candidate).
pub fn srcset(set: &str) -> Vec<String> {
    srcset_parts(set).into_iter().map(|(url, _)| url).collect()
}

/// The candidates of a `srcset`, each its URL and its descriptor (perhaps empty).
pub fn srcset_parts(set: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = set;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == ',');
        if rest.is_empty() {
            return out;
        }
        let end = rest
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(rest.len());
        let (url, after) = rest.split_at(end);
        let trimmed = url.trim_end_matches(',');
        let descriptor;
        (rest, descriptor) = if trimmed.len() < url.len() {
            (after, "")
        } else {
            // The descriptors, up to the comma that ends the candidate.
            match after.find(',') {
                Some(i) => (&after[i + 1..], after[..i].trim()),
                None => ("", after.trim()),
            }
        };
        if !trimmed.is_empty() {
            out.push((trimmed.to_string(), descriptor.to_string()));
        }
    }
}

/// The URL of a meta refresh's `content`: `5; url=next.html`, `0;URL='x'`, `3, x`.
pub fn refresh_url(content: &str) -> Option<&str> {
    let rest = content.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
    let rest = rest.trim_start();
    let rest = rest.strip_prefix([';', ','])?.trim_start();
    let rest = match rest.get(..3) {
        Some(u) if u.eq_ignore_ascii_case("url") => {
            let after = rest[3..].trim_start();
            match after.strip_prefix('=') {
                Some(v) => v.trim_start(),
                None => rest,
            }
        }
        _ => rest,
    };
    let url = match rest.chars().next() {
        Some(q @ ('"' | '\'')) => rest[1..].split(q).next().unwrap_or(""),
        _ => rest.trim_end(),
    };
    (!url.is_empty()).then_some(url)
}

/// The references in a style sheet: every `url(...)`, and `@import "..."`. Comments and
/// other strings are skipped, so a URL in a comment is not fetched.
pub fn css(bytes: &[u8]) -> Vec<String> {
    css_refs(bytes).into_iter().map(|(_, r)| r).collect()
}

/// The same, each with the byte range of its text in `s` (inside the quotes, if any), for
/// `--convert-links` to put another there.
pub fn css_refs(s: &[u8]) -> Vec<(std::ops::Range<usize>, String)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() && out.len() < MAX_REFS {
        match s[i] {
            b'/' if s.get(i + 1) == Some(&b'*') => {
                i = find(s, i + 2, b"*/").map_or(s.len(), |e| e + 2);
            }
            q @ (b'"' | b'\'') => i = string(s, i, q).1,
            b'@' if starts_with_ci(&s[i..], b"@import") => {
                i += 7;
                while i < s.len() && s[i].is_ascii_whitespace() {
                    i += 1;
                }
                if let Some(&q @ (b'"' | b'\'')) = s.get(i) {
                    let (value, end) = string(s, i, q);
                    push(&mut out, s, value);
                    i = end;
                }
            }
            b'u' | b'U' if starts_with_ci(&s[i..], b"url(") && !ident_before(s, i) => {
                i += 4;
                while i < s.len() && s[i].is_ascii_whitespace() {
                    i += 1;
                }
                match s.get(i) {
                    Some(&q @ (b'"' | b'\'')) => {
                        let (value, end) = string(s, i, q);
                        push(&mut out, s, value);
                        i = end;
                    }
                    _ => {
                        let end = s[i..]
                            .iter()
                            .position(|&b| b == b')')
                            .map_or(s.len(), |e| i + e);
                        let mut stop = end;
                        while stop > i && s[stop - 1].is_ascii_whitespace() {
                            stop -= 1;
                        }
                        push(&mut out, s, i..stop);
                        i = end;
                    }
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// Keeps the reference in `s[range]` unless it is blank; the range shrinks to the text
/// without surrounding white space.
fn push(out: &mut Vec<(std::ops::Range<usize>, String)>, s: &[u8], range: std::ops::Range<usize>) {
    let (mut a, mut b) = (range.start, range.end);
    while a < b && s[a].is_ascii_whitespace() {
        a += 1;
    }
    while b > a && s[b - 1].is_ascii_whitespace() {
        b -= 1;
    }
    if a < b {
        out.push((a..b, String::from_utf8_lossy(&s[a..b]).into_owned()));
    }
}

/// A quoted string starting at `start` (the quote): the range of its content, and where
/// scanning goes on. A backslash escapes the next byte.
fn string(s: &[u8], start: usize, quote: u8) -> (std::ops::Range<usize>, usize) {
    let mut i = start + 1;
    while i < s.len() {
        match s[i] {
            b'\\' => i += 2,
            b if b == quote => return (start + 1..i, i + 1),
            b'\n' => break,
            _ => i += 1,
        }
    }
    let end = i.min(s.len());
    (start + 1..end, end)
}

fn find(s: &[u8], from: usize, what: &[u8]) -> Option<usize> {
    s.get(from..)?
        .windows(what.len())
        .position(|w| w == what)
        .map(|p| from + p)
}

fn starts_with_ci(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Whether `url(` at `i` is the tail of a longer name (`myurl(`), which is not a URL.
fn ident_before(s: &[u8], i: usize) -> bool {
    i > 0 && (s[i - 1].is_ascii_alphanumeric() || matches!(s[i - 1], b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_links_of_every_kind() {
        let cases: &[(&str, &[&str])] = &[
            ("<a href='a.html'>x</a>", &["a.html"]),
            ("<A HREF=\"b%20c.html\">x</A>", &["b%20c.html"]),
            ("<a href=' spaced.html '>", &["spaced.html"]),
            ("<a href='x?a=1&amp;b=2'>", &["x?a=1&b=2"]),
            ("<a name='anchor'>", &[]),
            ("<a href=''>", &[]),
            ("<link rel=stylesheet href=s.css>", &["s.css"]),
            (
                "<img src=i.png srcset='i2.png 2x, i3.png 3x'>",
                &["i.png", "i2.png", "i3.png"],
            ),
            ("<script src=app.js></script>", &["app.js"]),
            ("<script>var s = '<a href=\"no.html\">';</script>", &[]),
            (
                "<source src=v.webm><source srcset='w.png 480w'>",
                &["v.webm", "w.png"],
            ),
            ("<iframe src=f.html></iframe>", &["f.html"]),
            ("<video poster=p.jpg src=v.mp4>", &["v.mp4", "p.jpg"]),
            ("<object data=o.svg></object>", &["o.svg"]),
            ("<div data='not-a-link'>", &[]),
            (
                "<meta http-equiv=refresh content='0; url=next.html'>",
                &["next.html"],
            ),
            (
                "<meta http-equiv=Refresh content=\"5;URL='q.html'\">",
                &["q.html"],
            ),
            ("<meta name=refresh content='0; url=no.html'>", &[]),
            ("<style>body{background:url(bg.png)}</style>", &["bg.png"]),
            ("<p style=\"background: url('p.png')\">", &["p.png"]),
            ("<!-- <a href=comment.html> -->", &[]),
            ("<textarea><a href=t.html></textarea>", &[]),
        ];
        for (input, want) in cases {
            let got = html(input.as_bytes());
            assert_eq!(got.refs, *want, "in {input}");
        }
    }

    #[test]
    fn page_requisites_are_told_from_links() {
        let page = "<a href=a.html><link rel=stylesheet href=s.css><link rel=next href=n.html>\
                    <link rel='shortcut icon' href=f.ico><img src=i.png srcset='j.png 2x'>\
                    <iframe src=f.html></iframe><meta http-equiv=refresh content='0;url=r.html'>\
                    <p style='background:url(b.png)'>";
        let l = html(page);
        let inline: Vec<(&str, bool)> = l
            .refs
            .iter()
            .map(String::as_str)
            .zip(l.inline.iter().copied())
            .collect();
        assert_eq!(
            inline,
            [
                ("a.html", false),
                ("s.css", true),
                ("n.html", false),
                ("f.ico", true),
                ("i.png", true),
                ("j.png", true),
                ("f.html", true),
                ("r.html", false),
                ("b.png", true),
            ]
        );
    }

    #[test]
    fn the_first_base_counts() {
        let l = html(&b"<base href='/docs/'><base href='/other/'><a href=x>"[..]);
        assert_eq!(l.base.as_deref(), Some("/docs/"));
        assert_eq!(l.refs, ["x"]);
    }

    #[test]
    fn a_page_of_too_many_links_gives_the_first_ones() {
        let page = "<a href=x>".repeat(MAX_REFS + 10);
        let l = html(page.as_str());
        assert_eq!((l.refs.len(), l.cut), (MAX_REFS, true));
        let l = html("<a href=x>".repeat(10).as_str());
        assert_eq!((l.refs.len(), l.cut), (10, false));
    }

    #[test]
    fn srcset_candidates() {
        let cases: &[(&str, &[&str])] = &[
            ("a.png", &["a.png"]),
            ("a.png 1x, b.png 2x", &["a.png", "b.png"]),
            // HTML's rule: no white space, one URL.
            ("a.png,b.png", &["a.png,b.png"]),
            ("a,b.png 1x, c.png 2x", &["a,b.png", "c.png"]),
            ("  a.png   480w ,  b.png  800w  ", &["a.png", "b.png"]),
            ("", &[]),
        ];
        for (input, want) in cases {
            assert_eq!(srcset(input), *want, "srcset {input:?}");
        }
    }

    #[test]
    fn refresh_urls() {
        let cases = [
            ("0; url=a.html", Some("a.html")),
            ("0;URL=a.html", Some("a.html")),
            ("5 ; url = 'b c.html' ", Some("b c.html")),
            ("3, next", Some("next")),
            ("10", None),
            ("0; url=", None),
        ];
        for (input, want) in cases {
            assert_eq!(refresh_url(input), want, "refresh {input:?}");
        }
    }

    #[test]
    fn css_references() {
        let cases: &[(&str, &[&str])] = &[
            ("a{background:url(a.png)}", &["a.png"]),
            ("a{background:URL( 'b c.png' )}", &["b c.png"]),
            ("a{background:url(\"q\\\".png\")}", &["q\\\".png"]),
            ("@import 'base.css';", &["base.css"]),
            ("@import url(more.css) screen;", &["more.css"]),
            ("@IMPORT \"x.css\";", &["x.css"]),
            ("/* url(no.png) */ a{}", &["no.png"][..0]),
            ("a::after{content:'url(no.png)'}", &[]),
            ("a{b:myurl(no.png)}", &[]),
            (
                "@font-face{src:url(f.woff2) format('woff2'),url(f.woff)}",
                &["f.woff2", "f.woff"],
            ),
            ("a{background:url(unclosed.png", &["unclosed.png"]),
        ];
        for (input, want) in cases {
            assert_eq!(css(input.as_bytes()), *want, "css {input:?}");
        }
    }
}
