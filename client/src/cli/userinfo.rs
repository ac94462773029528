//! What curl reads in a URL beyond what `shared::Target` takes: `user:password@` before
//! the host (sent as Basic authentication), and with `-g` the characters `{` and `}` in
//! the path, which curl sends as typed.

use shared::{Keep, Target, percent_decode, percent_encode};

/// The `user[:password]` a URL carries, percent-decoded. `user@` has no password and
/// `user:@` an empty one: `--netrc-optional` tells them apart, as curl does.
pub(crate) type Login = (String, Option<String>);

/// `url` without its `user[:password]@`, and the name and password.
pub(crate) fn split(url: &str) -> (String, Option<Login>) {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    let Some(at) = url[start..end].rfind('@').map(|i| start + i) else {
        return (url.to_string(), None);
    };
    let info = &url[start..at];
    let (user, password) = match info.split_once(':') {
        Some((user, password)) => (user, Some(password)),
        None => (info, None),
    };
    let decode = |v: &str| {
        percent_decode(v).map_or(v.to_string(), |b| String::from_utf8_lossy(&b).into_owned())
    };
    let rest = format!("{}{}", &url[..start], &url[at + 1..]);
    (rest, Some((decode(user), password.map(decode))))
}

/// Sets `target`'s path from `url` as typed with `{` and `}` left as they are (shared's
/// parser encodes them, as RFC 9112 asks; curl does not, and servers take them).
pub(crate) fn keep_braces(url: &str, target: &mut Target) {
    let start = url.find("://").map_or(0, |i| i + 3);
    let Some(tail) = url[start..].find(['/', '?']).map(|i| &url[start + i..]) else {
        return;
    };
    if !tail.contains(['{', '}']) || url.starts_with("unix:") {
        return;
    }
    let tail = tail.split('#').next().unwrap_or("");
    let mut path = String::with_capacity(tail.len() + 1);
    if !tail.starts_with('/') {
        path.push('/');
    }
    for piece in tail.split_inclusive(['{', '}']) {
        match piece.strip_suffix(['{', '}']) {
            Some(before) => {
                path.push_str(&percent_encode(before.as_bytes(), Keep::Target));
                path.push_str(&piece[before.len()..]);
            }
            None => path.push_str(&percent_encode(piece.as_bytes(), Keep::Target)),
        }
    }
    target.path = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_out_of_the_url() {
        let s = |v: &str| v.to_string();
        let cases = [
            (
                "http://u:p@h/x",
                ("http://h/x", Some((s("u"), Some(s("p"))))),
            ),
            ("u@h:8080", ("h:8080", Some((s("u"), None)))),
            ("u:@h:8080", ("h:8080", Some((s("u"), Some(s("")))))),
            (
                "http://a%40b:c%3Ad@h/",
                ("http://h/", Some((s("a@b"), Some(s("c:d"))))),
            ),
            ("http://h/x@y", ("http://h/x@y", None)),
            ("http://h?a@b", ("http://h?a@b", None)),
        ];
        for (url, (rest, creds)) in cases {
            assert_eq!(split(url), (rest.to_string(), creds), "{url}");
        }
    }

    #[test]
    fn braces_stay_as_typed() {
        let url = "http://h/a{b}%7B\"c?q={x}#{f}";
        let mut t = Target::parse(url).unwrap();
        keep_braces(url, &mut t);
        assert_eq!(t.path, "/a{b}%7B%22c?q={x}");
        let mut t = Target::parse("h?{").unwrap();
        keep_braces("h?{", &mut t);
        assert_eq!(t.path, "/?{");
    }
}
