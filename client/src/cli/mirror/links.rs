//! Links in a page: HTML through a WHATWG tokenizer (`html5gum`), CSS through a small
//! scanner of its own (comments and strings skipped, `url()` and `@import`). What comes out
//! are references as written (entities decoded); the crawl resolves them against the page's
//! URL, or its `<base href>`.

use html5gum::{DefaultEmitter, Readable, Token, Tokenizer};

use super::tags::{self, Unsure, scan};

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
                start_tag(&mut links, name, &|n: &str| {
                    tag.attributes
                        .get(n.as_bytes())
                        .map(|v| String::from_utf8_lossy(&v.value).trim().to_string())
                        .filter(|v| !v.is_empty())
                });
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

/// The largest page read whole for the narrow pass; a larger one is tokenized as it is read.
pub const MAX_PAGE: u64 = 16 << 20;

/// The links of the HTML page `f`, of `size` bytes: read whole and walked by the narrow pass
/// ([`html_narrow`]), or, when that cannot tell or the page is larger than [`MAX_PAGE`],
/// through the tokenizer ([`html`]). The two give the same links (measured: the narrow pass
/// is several times faster; BENCHMARKS.md).
pub fn page(mut f: std::fs::File, size: u64) -> Links {
    use std::io::Read;
    if size > MAX_PAGE {
        return html(f);
    }
    let mut bytes = Vec::with_capacity(size as usize + 1);
    if (&mut f).take(MAX_PAGE + 1).read_to_end(&mut bytes).is_err() {
        return Links::default();
    }
    page_in(&bytes)
}

/// The links of the HTML page `bytes` (at most [`MAX_PAGE`] of them), as [`page`] finds them.
pub fn page_in(bytes: &[u8]) -> Links {
    html_narrow(bytes).unwrap_or_else(|_| html(bytes))
}

/// The links of an HTML page by the narrow pass (`tags.rs`): the same as [`html`]'s, or
/// [`Unsure`] where it cannot tell.
pub fn html_narrow(page: &[u8]) -> Result<Links, Unsure> {
    let links = std::cell::RefCell::new(Links::default());
    let lossy = |v: Vec<u8>| match String::from_utf8(v) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    scan(
        page,
        |tag| {
            let mut links = links.borrow_mut();
            if links.refs.len() >= MAX_REFS {
                // Where the tokenizer stops counts: left to it.
                return Err(Unsure);
            }
            let unsure = std::cell::Cell::new(false);
            start_tag(&mut links, &tag.name, &|n: &str| match tag.attr(n) {
                Ok(v) => v
                    .map(|v| lossy(v).trim().to_string())
                    .filter(|v| !v.is_empty()),
                Err(Unsure) => {
                    unsure.set(true);
                    None
                }
            });
            if unsure.get() { Err(Unsure) } else { Ok(()) }
        },
        |tag, text| {
            let mut links = links.borrow_mut();
            if tag.name == b"style" && !tag.self_closing {
                if links.refs.len() >= MAX_REFS {
                    return Err(Unsure);
                }
                links.add_all(css(&tags::text(text)), true);
            }
            Ok(())
        },
    )?;
    let links = links.into_inner();
    if links.refs.len() >= MAX_REFS {
        return Err(Unsure);
    }
    Ok(links)
}

/// What a start tag named `name` (lower case) links to, its attributes read through `attr`
/// (the first of that name, entities decoded, trimmed; none when empty): the same for the
/// tokenizer and for the narrow pass.
fn start_tag(links: &mut Links, name: &[u8], attr: &dyn Fn(&str) -> Option<String>) {
    if name == b"base" {
        if links.base.is_none() {
            links.base = attr("href");
        }
        return;
    }
    if name == b"meta" {
        let refresh = attr("http-equiv").is_some_and(|v| v.eq_ignore_ascii_case("refresh"));
        if let Some(url) = attr("content")
            .filter(|_| refresh)
            .and_then(|c| refresh_url(&c).map(str::to_string))
        {
            links.add(url, false);
        }
        return;
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

#[cfg(test)]
mod narrow {
    use super::*;
    use std::path::{Path, PathBuf};

    /// Both passes over `page`: the narrow one must give the tokenizer's links, or say it
    /// cannot tell.
    fn same(page: &[u8], what: &dyn std::fmt::Display) -> bool {
        let want = html(page);
        match html_narrow(page) {
            Ok(got) => {
                assert_eq!(
                    got, want,
                    "the narrow pass differs from the tokenizer on {what}"
                );
                true
            }
            Err(Unsure) => false,
        }
    }

    #[test]
    fn the_narrow_pass_finds_what_the_tokenizer_finds() {
        let cases = [
            "<a href=a.html>x</a><A HREF='b.html' href=c.html>",
            "<link rel='Stylesheet' href=s.css><link rel=next href=n.html>",
            "<img src=i.png srcset='a.png 1x, b.png 2x'><source srcset=c.png>",
            "<style>a{background:url(bg.png)}</style><style/>x{b:url(no.png)}</style>",
            "<style>\r\na{b:url('x\r.png')}</style>",
            "<p style='background:url(\"p.png\")'><meta http-equiv=REFRESH content='1;url=r.html'>",
            "<base href=/d/><base href=/e/><a href=x>",
            "<script>document.write('<a href=no.html>')</script><a href=yes.html>",
            "<script><!-- x --></script><a href=yes.html>",
            "<title><a href=no.html></title><textarea><img src=no.png></textarea>",
            "<noscript><img src=no.png></noscript><iframe src=f.html><a href=no></iframe>",
            "<!-- <a href=no.html> --><!--><a href=y1><!---><a href=y2><!-- --!><a href=y3>",
            "<!doctype html><![CDATA[<a href=no>]]><a href=y><?pi <a href=no>?>",
            "</p href='>'><a href=y></><a href=z></ x><a href=w>",
            "<a href='x&amp;y&lt;&#65;&#x42;&b=1&lang=en&anything-else'>",
            "<a href=\"a\0b\"><a\0 href=no><a href = ' sp.html '><a href=''>",
            "<a href=x/><a/href=y><a =z href=w><a href=v =u>",
            "<plaintext><a href=no.html>",
            "<object data=o.svg><div data=no><video poster=p.jpg src=v.mp4>",
            "<a href='unclosed.html",
            "<a href=unterminated",
            "<style>a{b:url(u.png)",
            "<xmp><a href=no></xmp ><noframe><a href=no></noframe><a href=y>",
            "<a href=\"\u{e9}t\u{e9}.html\"><a href=\"\u{ff}\">",
            "<a href=\"&#128;\"><a href=\"&copy\">",
        ];
        for page in cases {
            same(page.as_bytes(), &page);
        }
        // Unsure ones are fine; but not all of them.
        let sure = cases.iter().filter(|p| same(p.as_bytes(), p)).count();
        assert!(
            sure >= cases.len() - 3,
            "only {sure} of {} were read by the narrow pass",
            cases.len()
        );
    }

    /// Every page of `dir`: the same links both ways; how many the narrow pass read.
    fn every_page(dir: &Path) -> (usize, usize) {
        let (mut pages, mut sure) = (0, 0);
        let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "html" || e == "htm"))
            .collect();
        names.sort();
        for p in names {
            let page = std::fs::read(&p).unwrap();
            pages += 1;
            sure += usize::from(same(&page, &p.display()));
        }
        (pages, sure)
    }

    /// Real pages no one here wrote (PostgreSQL's documentation, under the PostgreSQL
    /// Licence): a few kept in the repository, so that this runs everywhere.
    #[test]
    fn the_narrow_pass_matches_the_tokenizer_on_real_pages() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/postgresql-doc-15");
        let (pages, sure) = every_page(&dir);
        assert!(pages >= 4, "{pages} pages in {}", dir.display());
        assert_eq!(sure, pages, "the narrow pass left pages to the tokenizer");
    }

    /// Every page of the whole site, where the Debian package `postgresql-doc-15` is
    /// installed (`bench/mirror.sh` installs it); skipped, with the reason, where it is not.
    #[test]
    fn the_narrow_pass_matches_the_tokenizer_on_a_whole_real_site() {
        let dir = std::env::var_os("FETCH_REAL_SITE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/share/doc/postgresql-doc-15/html"));
        if !dir.is_dir() {
            eprintln!(
                "skipped: {} is not here (apt-get install postgresql-doc-15, or set FETCH_REAL_SITE)",
                dir.display()
            );
            return;
        }
        let (pages, sure) = every_page(&dir);
        eprintln!(
            "{sure} of {pages} pages read by the narrow pass, all as the tokenizer reads them"
        );
        // How long each takes over the whole site (in memory): `cargo test --release`.
        let all: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "html"))
            .map(|p| std::fs::read(p).unwrap())
            .collect();
        let mb = all.iter().map(Vec::len).sum::<usize>() as f64 / 1e6;
        let t = std::time::Instant::now();
        let n: usize = all.iter().map(|p| html(p.as_slice()).refs.len()).sum();
        let tokenizer = t.elapsed();
        let t = std::time::Instant::now();
        let m: usize = all
            .iter()
            .map(|p| html_narrow(p).map_or(0, |l| l.refs.len()))
            .sum();
        let narrow = t.elapsed();
        eprintln!(
            "{mb:.1} MB, {n} links: tokenizer {tokenizer:?} ({:.0} MB/s), narrow pass {narrow:?} ({:.0} MB/s, {m} links)",
            mb / tokenizer.as_secs_f64(),
            mb / narrow.as_secs_f64()
        );
        assert!(pages > 1000 || std::env::var_os("FETCH_REAL_SITE").is_some());
        assert!(
            sure * 100 >= pages * 99,
            "only {sure} of {pages} read by the narrow pass"
        );
    }
}
