//! Redirects: which statuses are followed, with which method, and where a `Location` leads
//! (RFC 3986 §5 reference resolution against the current URL).

use shared::Target;

use crate::head::Head;
use crate::request::Method;

/// The `Location` of a redirect that `-L` follows (301, 302, 303, 307, 308), if it has one.
pub(crate) fn location(head: &Head) -> Option<&[u8]> {
    if !matches!(head.status(), 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    head.header("location")
        .filter(|l| !l.trim_ascii().is_empty())
}

/// The method for the request after a redirect, as curl decides it: 301 and 302 turn POST
/// into GET, 303 turns everything but HEAD into GET, unless `keep_post` names the status
/// and the method is POST; 307 and 308 keep the method. When the method changes, the body
/// is dropped.
pub(crate) fn method_after(status: u16, method: Method, keep_post: &[u16]) -> Method {
    let kept = method == Method::Post && keep_post.contains(&status);
    match (status, method) {
        (_, Method::Head) => Method::Head,
        _ if kept => method,
        (301 | 302, Method::Post) => Method::Get,
        (303, _) => Method::Get,
        _ => method,
    }
}

/// Where `location` leads from `base`. Bytes that may not appear in a URL (spaces,
/// non-ASCII) are percent-encoded first, as browsers do. A scheme other than `http` or
/// `https` is an error (`UnsupportedScheme`); so is a result [`Target::parse`] refuses.
pub fn resolve(base: &Target, location: &[u8]) -> Result<Target, shared::Error> {
    resolve_from(&base.to_string(), location)
}

/// [`resolve`] against `base` as text (`Target`'s `Display`): for many references against
/// one page, the page's URL is written out once, not once per link.
pub fn resolve_from(base: &str, location: &[u8]) -> Result<Target, shared::Error> {
    let reference = shared::percent_encode(location.trim_ascii(), shared::Keep::Graphic);
    let resolved = match scheme(&reference) {
        Some(s)
            if ["http", "https", "http+unix"]
                .iter()
                .any(|k| s.eq_ignore_ascii_case(k)) =>
        {
            reference
        }
        Some(s) => {
            return Err(shared::Error::UnsupportedScheme {
                scheme: s.to_ascii_lowercase(),
            });
        }
        None => resolve_reference(base, &reference),
    };
    Target::parse(&resolved)
}

/// The scheme of an absolute reference (`https` in `https://x`), or `None` for a relative
/// one. RFC 3986 §3.1: a letter, then letters, digits, `+`, `-`, `.`, up to a `:` that comes
/// before any `/`, `?` or `#`.
fn scheme(reference: &str) -> Option<&str> {
    let end = reference.find(':')?;
    let s = &reference[..end];
    let mut bytes = s.bytes();
    let first = bytes.next()?;
    (first.is_ascii_alphabetic()
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
    .then_some(s)
}

/// Resolves a relative reference (no scheme) against an absolute `base` URL without a
/// fragment, per RFC 3986 §5.2.2. Fragments of the reference are dropped: they are never
/// sent.
pub(crate) fn resolve_reference(base: &str, reference: &str) -> String {
    let reference = reference.split('#').next().unwrap_or("");
    // base = scheme "://" authority path ["?" query]
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    let path_start = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, base_pq) = rest.split_at(path_start);
    let (base_path, base_query) = match base_pq.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (base_pq, None),
    };
    if let Some(net) = reference.strip_prefix("//") {
        // Network-path reference: a new authority, the rest from the reference.
        let end = net.find(['/', '?']).unwrap_or(net.len());
        let (auth, pq) = net.split_at(end);
        let (path, query) = split_query(pq);
        return join(scheme, auth, &remove_dot_segments(path), query);
    }
    let (ref_path, ref_query) = split_query(reference);
    let (path, query) = if ref_path.is_empty() {
        (base_path.to_string(), ref_query.or(base_query))
    } else if ref_path.starts_with('/') {
        (remove_dot_segments(ref_path), ref_query)
    } else {
        // §5.2.3 merge: the base path up to its last '/', then the reference.
        let merged = match base_path.rfind('/') {
            Some(i) => format!("{}{ref_path}", &base_path[..=i]),
            None => format!("/{ref_path}"),
        };
        (remove_dot_segments(&merged), ref_query)
    };
    join(scheme, authority, &path, query)
}

fn split_query(s: &str) -> (&str, Option<&str>) {
    match s.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (s, None),
    }
}

fn join(scheme: &str, authority: &str, path: &str, query: Option<&str>) -> String {
    let path = if path.is_empty() { "/" } else { path };
    match query {
        Some(q) => format!("{scheme}://{authority}{path}?{q}"),
        None => format!("{scheme}://{authority}{path}"),
    }
}

/// RFC 3986 §5.2.4: removes `.` and `..` segments; `..` never climbs above the root.
pub(crate) fn remove_dot_segments(path: &str) -> String {
    let mut input = path;
    let mut out = String::with_capacity(path.len());
    while !input.is_empty() {
        if let Some(rest) = input.strip_prefix("../") {
            input = rest;
        } else if let Some(rest) = input.strip_prefix("./") {
            input = rest;
        } else if input.starts_with("/./") {
            input = &input[2..];
        } else if input == "/." {
            input = "/";
        } else if input.starts_with("/../") || input == "/.." {
            input = if input == "/.." { "/" } else { &input[3..] };
            match out.rfind('/') {
                Some(i) => out.truncate(i),
                None => out.clear(),
            }
        } else if input == "." || input == ".." {
            input = "";
        } else {
            // Move the first segment (with its leading '/', if any) to the output.
            let skip = usize::from(input.starts_with('/'));
            let end = input[skip..].find('/').map_or(input.len(), |i| i + skip);
            out.push_str(&input[..end]);
            input = &input[end..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_3986_examples() {
        // §5.4.1 and §5.4.2, with the base made plain http (no fragments: never sent).
        let base = "http://a/b/c/d;p?q";
        let cases = [
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g/"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q"),
            ("g#s", "http://a/b/c/g"),
            (";x", "http://a/b/c/;x"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../", "http://a/"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
            ("../../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("/../g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            (".g", "http://a/b/c/.g"),
            ("g..", "http://a/b/c/g.."),
            ("..g", "http://a/b/c/..g"),
            ("./../g", "http://a/b/g"),
            ("./g/.", "http://a/b/c/g/"),
            ("g/./h", "http://a/b/c/g/h"),
            ("g/../h", "http://a/b/c/h"),
            ("g;x=1/./y", "http://a/b/c/g;x=1/y"),
            ("g;x=1/../y", "http://a/b/c/y"),
            ("g?y/./x", "http://a/b/c/g?y/./x"),
            ("//other:8080/x/../y?z", "http://other:8080/y?z"),
        ];
        for (reference, want) in cases {
            assert_eq!(resolve_reference(base, reference), want, "{reference:?}");
        }
    }

    #[test]
    fn locations_become_targets() {
        let base = Target::parse("http://host.test:8080/dir/page?x=1").unwrap();
        let cases: &[(&[u8], &str)] = &[
            (b"/abs", "http://host.test:8080/abs"),
            (b"rel", "http://host.test:8080/dir/rel"),
            (b"../up", "http://host.test:8080/up"),
            (b"?q=2", "http://host.test:8080/dir/page?q=2"),
            (b"//other.test/x", "http://other.test/x"),
            (b"http://OTHER.test:81/y", "http://other.test:81/y"),
            (b"HTTP://other.test", "http://other.test/"),
            (b"https://other.test/z", "https://other.test/z"),
            (b"HTTPS://other.test:8443", "https://other.test:8443/"),
            (b"  /trimmed  ", "http://host.test:8080/trimmed"),
            (b"/with space", "http://host.test:8080/with%20space"),
            (b"/caf\xc3\xa9", "http://host.test:8080/caf%C3%A9"),
        ];
        for (location, want) in cases {
            let got = resolve(&base, location).unwrap().to_string();
            assert_eq!(got, *want, "{:?}", String::from_utf8_lossy(location));
        }
        let refused: &[(&[u8], &str)] = &[
            (b"ftp://host.test/", "ftp is not supported"),
            (b"mailto:someone@host.test", "mailto is not supported"),
            (b"http://", "empty host"),
        ];
        for (location, want) in refused {
            let err = resolve(&base, location).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
    }

    #[test]
    fn unix_socket_targets_keep_their_socket() {
        let base = Target::parse("http+unix://%2Frun%2Fa.sock/x/y").unwrap();
        let got = resolve(&base, b"z").unwrap();
        assert_eq!(got.endpoint, base.endpoint);
        assert_eq!(got.path, "/x/z");
    }

    #[test]
    fn methods_after_redirects() {
        use Method::*;
        let none: &[u16] = &[];
        let all: &[u16] = &[301, 302, 303];
        let cases = [
            (301, Get, none, Get),
            (302, Get, none, Get),
            (303, Get, none, Get),
            (307, Get, none, Get),
            (308, Get, none, Get),
            (301, Head, none, Head),
            (303, Head, none, Head),
            (307, Head, none, Head),
            (301, Post, none, Get),
            (302, Post, none, Get),
            (303, Post, none, Get),
            (307, Post, none, Post),
            (308, Post, none, Post),
            (301, Post, all, Post),
            (302, Post, all, Post),
            (303, Post, all, Post),
            (301, Put, none, Put),
            (302, Put, all, Put),
            (303, Put, none, Get),
            (303, Put, all, Get),
            (308, Put, none, Put),
        ];
        for (status, before, keep, after) in cases {
            assert_eq!(
                method_after(status, before, keep),
                after,
                "{status} {before} {keep:?}"
            );
        }
    }
}
