//! A plain-HTTP request that reached the HTTPS port (`--tls-cert`): sent to the same URL
//! over `https://` (301 for GET and HEAD, 308 for the rest, which keeps the method and
//! body), then the connection closes. Without a usable `Host` there is no URL to send it
//! to: 400.

use crate::http::request::{Method, Request};
use crate::http::response_head::{self, Persist};
use crate::respond::reply::{Body, Reply, begin, error};
use crate::site::Site;

/// The redirect to `https://HOST/TARGET`, or 400.
pub(crate) fn to_https(req: &Request, site: &Site, out: &mut Vec<u8>) -> Reply {
    let Some(host) = req.fields.host.as_deref().filter(|h| plausible_host(h)) else {
        return error(400, site, Persist::Close, out);
    };
    let target = if req.target.starts_with('/') {
        req.target.as_str()
    } else {
        "/"
    };
    let location = format!("https://{host}{target}");
    let status = match req.method {
        Method::Get | Method::Head => 301,
        _ => 308,
    };
    let body = format!("This port speaks HTTPS: {location}\n").into_bytes();
    begin(out, status, site);
    response_head::content_type(out, "text/plain; charset=utf-8");
    response_head::header(out, "Location", &location);
    response_head::end(out, status, Some(body.len() as u64), Persist::Close);
    Reply {
        status,
        body: if req.method == Method::Head {
            Body::Empty
        } else {
            Body::Bytes(body)
        },
    }
}

/// A host and port as a URL may carry them: letters, digits, `.-_:[]` (IPv6 literals),
/// nothing that could end the `Location` field or change the URL's meaning.
fn plausible_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:[]".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_host_a_url_can_carry_is_redirected_to() {
        for (host, ok) in [
            ("localhost:8443", true),
            ("[::1]:8443", true),
            ("example.com", true),
            ("", false),
            ("a/b", false),
            ("a@b", false),
            ("a b", false),
            ("evil.com/x?", false),
        ] {
            assert_eq!(plausible_host(host), ok, "{host:?}");
        }
    }
}
