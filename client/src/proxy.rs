//! [`Proxy`]: an HTTP proxy to send requests through (absolute-form request lines, RFC 9112
//! §3.2.2), and which hosts go around it (curl's `--noproxy`).

use shared::{Endpoint, Target};

use crate::auth::{Credentials, Scheme};

/// An HTTP proxy: where to connect, and the `Proxy-Authorization` to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    pub(crate) endpoint: Endpoint,
    /// Sent with every request (Basic, curl's default).
    pub(crate) authorization: Option<String>,
    /// The user's name and password; with `challenge`, kept to answer a 407 instead.
    pub(crate) login: Option<Credentials>,
    /// `--proxy-digest`, `--proxy-anyauth`: nothing is sent until the proxy's 407 says how.
    pub(crate) challenge: bool,
    /// `-p`: ask for a tunnel with `CONNECT` and speak to the origin through it.
    pub(crate) tunnel: bool,
    /// `--proxy1.0`: the `CONNECT` is an HTTP/1.0 request.
    pub(crate) http10: bool,
}

/// Port of a proxy given without one: 1080, as curl.
pub const DEFAULT_PROXY_PORT: u16 = 1080;

impl Proxy {
    /// Parses curl's `-x` forms: `host`, `host:port`, `[::1]:port`, with `http://` in front
    /// or not and `user:password@` before the host; the port defaults to 1080 (curl's).
    /// Other schemes are refused with the reason.
    pub fn parse(s: &str) -> Result<Proxy, String> {
        let rest = match s.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => {
                return Err(format!(
                    "{scheme}:// proxies are not supported: fetch speaks to HTTP proxies only"
                ));
            }
            None => s,
        };
        let authority = rest.split('/').next().unwrap_or("");
        let (credentials, hostport) = match authority.rsplit_once('@') {
            Some((c, h)) => (Some(c), h),
            None => (None, authority),
        };
        let explicit_port = match hostport.strip_prefix('[') {
            Some(v6) => v6.split_once(']').is_some_and(|(_, p)| p.starts_with(':')),
            None => hostport.contains(':'),
        };
        let with_port = if explicit_port {
            hostport.to_string()
        } else {
            format!("{hostport}:{DEFAULT_PROXY_PORT}")
        };
        let target = Target::parse(&format!("http://{with_port}/"))
            .map_err(|e| format!("bad proxy '{s}': {e}"))?;
        let mut proxy = Proxy {
            endpoint: target.endpoint,
            authorization: None,
            login: None,
            challenge: false,
            tunnel: false,
            http10: false,
        };
        if let Some(c) = credentials {
            let (user, password) = c.split_once(':').unwrap_or((c, ""));
            let decode = |v: &str| {
                shared::percent_decode(v)
                    .map_or(v.to_string(), |b| String::from_utf8_lossy(&b).into_owned())
            };
            proxy = proxy.basic_auth(&decode(user), &decode(password));
        }
        Ok(proxy)
    }

    /// Asks the proxy for a tunnel to each origin (`CONNECT host:port`, RFC 9110 §9.3.6)
    /// and sends the requests through it as to the origin itself (curl's `-p`).
    pub fn tunnel(mut self, on: bool) -> Proxy {
        self.tunnel = on;
        self
    }

    /// Sends the `CONNECT` as HTTP/1.0 (curl's `--proxy1.0`).
    pub fn connect_http10(mut self, on: bool) -> Proxy {
        self.http10 = on;
        self
    }

    /// Sends `Proxy-Authorization: Basic` with `user` and `password` (curl's `-U`), or,
    /// after [`Proxy::challenge_auth`], answers the proxy's 407 with them.
    pub fn basic_auth(mut self, user: &str, password: &str) -> Proxy {
        self.authorization = (!self.challenge).then(|| crate::auth::basic(user, password));
        // The scheme matters only once challenge_auth has set it; keep it across a second -U.
        let scheme = self.login.as_ref().map_or(Scheme::Any, |l| l.scheme);
        self.login = Some(Credentials::new(user, password, scheme));
        self
    }

    /// curl's `--proxy-digest` (`Scheme::Digest`) and `--proxy-anyauth` (`Scheme::Any`):
    /// the first request goes without credentials, and the proxy's 407 is answered once,
    /// with the same Digest (RFC 7616) or Basic answer as a server's 401 (`auth.rs`).
    pub fn challenge_auth(mut self, scheme: Scheme) -> Proxy {
        self.challenge = true;
        self.authorization = None;
        if let Some(login) = &mut self.login {
            login.scheme = scheme;
        }
        self
    }

    /// The credentials that answer a 407's `Proxy-Authenticate`, if the user asked for that.
    pub(crate) fn challenge_login(&self) -> Option<&Credentials> {
        self.login.as_ref().filter(|_| self.challenge)
    }
}

/// Whether `host` goes around the proxy by `patterns` (curl's `--noproxy` and `no_proxy`):
/// `*` for every host; otherwise a name matches itself and its subdomains (a leading dot is
/// ignored), an address matches itself.
pub(crate) fn bypass(patterns: &[String], host: &str) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    patterns.iter().any(|p| {
        let p = p
            .trim()
            .trim_start_matches('.')
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        p == "*" || !p.is_empty() && (host == p || host.ends_with(&format!(".{p}")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxies_parse_like_curl() {
        let tcp = |h: &str, port: u16| Target::parse(&format!("{h}:{port}")).unwrap().endpoint;
        let cases = [
            ("proxy.test", tcp("proxy.test", 1080), None),
            ("proxy.test:3128", tcp("proxy.test", 3128), None),
            ("http://proxy.test:3128/", tcp("proxy.test", 3128), None),
            ("[::1]:8888", tcp("[::1]", 8888), None),
            ("[::1]", tcp("[::1]", 1080), None),
            (
                "http://al:p%40w@127.0.0.1:3128",
                tcp("127.0.0.1", 3128),
                Some("Basic YWw6cEB3"),
            ),
        ];
        for (input, endpoint, auth) in cases {
            let p = Proxy::parse(input).unwrap();
            assert_eq!(p.endpoint, endpoint, "{input}");
            assert_eq!(p.authorization.as_deref(), auth, "{input}");
        }
        for bad in ["https://proxy.test", "socks5://proxy.test", "http://"] {
            assert!(Proxy::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn no_proxy_patterns() {
        let p = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(bypass(&p(&["*"]), "any.test"));
        assert!(bypass(&p(&["example.test"]), "www.example.test"));
        assert!(bypass(&p(&[".example.test"]), "example.test"));
        assert!(!bypass(&p(&["example.test"]), "badexample.test"));
        assert!(bypass(&p(&["127.0.0.1", "::1"]), "[::1]"));
        assert!(!bypass(&p(&[""]), "x.test"));
    }
}
