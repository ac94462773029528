//! What a user types to name a page: `host`, `host:port/path`, `http://host/path?q`,
//! `[::1]:8080/x`, `unix:/run/app.sock`, `http+unix://%2Frun%2Fapp.sock/path`.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;

use crate::error::Error;
use crate::text::{Keep, percent_encode};

/// The default port when a target names none.
pub const DEFAULT_PORT: u16 = 80;
/// The default port of an `https://` target.
pub const DEFAULT_TLS_PORT: u16 = 443;

/// A host: a name to resolve, or an IP literal that skips the resolver.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A DNS name, lowercased (`example.com`, `localhost`).
    Name(String),
    /// An IPv4 or IPv6 literal.
    Ip(IpAddr),
}

impl fmt::Display for Host {
    /// The host as it appears in a URL or a `Host` header: IPv6 literals in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ip(IpAddr::V4(a)) => {
                let (buf, n) = dotted(a.octets());
                f.write_str(std::str::from_utf8(&buf[..n]).map_err(|_| fmt::Error)?)
            }
            Host::Ip(IpAddr::V6(a)) => write!(f, "[{a}]"),
        }
    }
}

/// An IPv4 address in dotted decimal, written without std's `Ipv4Addr` Display, which
/// goes through the formatter's padding for each octet (about 1,400 instructions): fetch
/// writes the host five times per request (Host, the URL, cookies), 9% of the instructions
/// of a 1000-file `-Z` run to `127.0.0.1`. Returns a buffer and the length used.
fn dotted(octets: [u8; 4]) -> ([u8; 15], usize) {
    let mut buf = [0u8; 15];
    let mut n = 0;
    for (i, o) in octets.into_iter().enumerate() {
        if i > 0 {
            buf[n] = b'.';
            n += 1;
        }
        if o >= 100 {
            buf[n] = b'0' + o / 100;
            n += 1;
        }
        if o >= 10 {
            buf[n] = b'0' + o / 10 % 10;
            n += 1;
        }
        buf[n] = b'0' + o % 10;
        n += 1;
    }
    (buf, n)
}

/// Where to connect: a TCP host and port, or a Unix-domain socket path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A host (name or IP literal) and a port.
    Tcp {
        /// The host.
        host: Host,
        /// The port (never 0).
        port: u16,
    },
    /// A socket file in the local namespace.
    Unix(PathBuf),
}

impl fmt::Display for Endpoint {
    /// `example.com:80`, `[::1]:8080`, `unix:/run/app.sock`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { host, port } => write!(f, "{host}:{port}"),
            Endpoint::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// A parsed target: where to connect and what to ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Where to connect.
    pub endpoint: Endpoint,
    /// The request target: path and query, always starting with `/`, with spaces, non-ASCII
    /// and other bytes that may not appear on a request line percent-encoded. The fragment
    /// (`#...`) is dropped: it is never sent.
    pub path: String,
    /// True for `https://`: the connection is wrapped in TLS, and the certificate is
    /// checked against the host of `endpoint` (whatever `--resolve` or `--connect-to` say).
    pub tls: bool,
}

impl Target {
    /// Parses what a user typed. Defaults: port 80 (443 for `https://`), path `/`.
    ///
    /// Accepted forms: `host`, `host:port`, `host/path`, `1.2.3.4:8080`, `[::1]:8080/x`, a bare
    /// IPv6 literal (`::1`), `http://host[:port]/path?query`, `https://...` (the same, over
    /// TLS), `unix:/path/to.sock` (path `/`) and `http+unix://%2Fpath%2Fto.sock/path`. Other
    /// schemes are refused with an error naming the scheme; credentials (`user@host`) are
    /// refused.
    pub fn parse(input: &str) -> Result<Target, Error> {
        let bad = |reason: &str| Error::BadTarget {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        if input.is_empty() {
            return Err(bad("empty target"));
        }
        if let Some(c) = input.chars().find(|c| c.is_whitespace() || c.is_control()) {
            let what = if c == ' ' {
                "a space".to_string()
            } else {
                format!("{c:?}")
            };
            return Err(bad(&format!("contains {what}")));
        }
        if let Some(sock) = input.strip_prefix("unix:") {
            if sock.is_empty() || sock.starts_with("//") {
                return Err(bad("expected unix:/path/to/socket"));
            }
            return Ok(Target {
                endpoint: Endpoint::Unix(PathBuf::from(sock)),
                path: "/".into(),
                tls: false,
            });
        }
        let (scheme, rest) = match input.find("://") {
            Some(i) => (Some(input[..i].to_ascii_lowercase()), &input[i + 3..]),
            None => (None, input),
        };
        let tls = scheme.as_deref() == Some("https");
        let unix = match scheme.as_deref() {
            None | Some("http") | Some("https") => false,
            Some("http+unix") => true,
            Some(s) if is_scheme(s) => return Err(Error::UnsupportedScheme { scheme: s.into() }),
            Some(_) => return Err(bad("malformed scheme")),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let path = request_path(tail);
        if authority.is_empty() {
            return Err(bad("empty host"));
        }
        if authority.contains('@') {
            return Err(bad(
                "credentials in the target (user@host) are not supported",
            ));
        }
        let endpoint = if unix {
            let decoded = percent_decode(authority).ok_or_else(|| bad("bad %-encoding"))?;
            let sock = String::from_utf8(decoded).map_err(|_| bad("socket path is not UTF-8"))?;
            Endpoint::Unix(PathBuf::from(sock))
        } else {
            let default = if tls { DEFAULT_TLS_PORT } else { DEFAULT_PORT };
            let (host, port) = split_authority(authority, default).map_err(|r| bad(&r))?;
            Endpoint::Tcp { host, port }
        };
        Ok(Target {
            endpoint,
            path,
            tls,
        })
    }

    /// The `Host` header value: the host, with `:port` when it is not the scheme's default
    /// (80, or 443 for `https`); `localhost` for a Unix socket.
    pub fn host_header(&self) -> String {
        match &self.endpoint {
            Endpoint::Tcp { host, port } if *port == self.default_port() => host.to_string(),
            Endpoint::Tcp { host, port } => format!("{host}:{port}"),
            Endpoint::Unix(_) => "localhost".into(),
        }
    }

    /// The scheme's default port: 80, or 443 for `https`.
    pub fn default_port(&self) -> u16 {
        if self.tls {
            DEFAULT_TLS_PORT
        } else {
            DEFAULT_PORT
        }
    }

    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }
}

impl fmt::Display for Target {
    /// The target as a URL: `http://example.com:8080/path`, `http://[::1]/`,
    /// `https://example.com/`, `http+unix://%2Frun%2Fapp.sock/path` (TLS over a Unix socket
    /// has no URL of its own: it is written as that too).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.endpoint {
            // Piece by piece, without host_header's String: fetch writes a target's URL a
            // few times per request (the trace, the report's URL, the progress line).
            Endpoint::Tcp { host, port } => {
                f.write_str(self.scheme())?;
                f.write_str("://")?;
                fmt::Display::fmt(host, f)?;
                if *port != self.default_port() {
                    write!(f, ":{port}")?;
                }
                f.write_str(&self.path)
            }
            Endpoint::Unix(p) => {
                let enc = p.to_string_lossy().replace('%', "%25").replace('/', "%2F");
                write!(f, "http+unix://{enc}{}", self.path)
            }
        }
    }
}

// RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

fn split_authority(authority: &str, default: u16) -> Result<(Host, u16), String> {
    if let Some(inner) = authority.strip_prefix('[') {
        let close = inner.find(']').ok_or("missing ']' after IPv6 address")?;
        let ip: Ipv6Addr = inner[..close]
            .parse()
            .map_err(|_| format!("'{}' is not an IPv6 address", &inner[..close]))?;
        let after = &inner[close + 1..];
        let port = match after {
            "" => default,
            _ => match after.strip_prefix(':') {
                Some(p) => parse_port(p, default)?,
                None => return Err(format!("unexpected '{after}' after ']'")),
            },
        };
        return Ok((Host::Ip(IpAddr::V6(ip)), port));
    }
    if authority.matches(':').count() > 1 {
        // A bare IPv6 literal is unambiguous only without a port.
        return match authority.parse::<Ipv6Addr>() {
            Ok(ip) => Ok((Host::Ip(IpAddr::V6(ip)), default)),
            Err(_) => Err("IPv6 addresses need brackets, as in [::1]:8080".into()),
        };
    }
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, parse_port(p, default)?),
        None => (authority, default),
    };
    if host.is_empty() {
        return Err("empty host".into());
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok((Host::Ip(ip), port));
    }
    if let Some(c) = host
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
    {
        return Err(format!("invalid character '{c}' in host"));
    }
    if host.len() > 253 {
        return Err("host name longer than 253 characters".into());
    }
    Ok((Host::Name(host.to_ascii_lowercase()), port))
}

fn parse_port(p: &str, default: u16) -> Result<u16, String> {
    if p.is_empty() {
        // RFC 3986 §3.2.3: an empty port means the scheme's default.
        return Ok(default);
    }
    if !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("port must be a number, not '{p}'"));
    }
    match p.parse::<u32>() {
        Ok(n @ 1..=65535) => Ok(n as u16),
        _ => Err(format!("port out of range (1-65535): {p}")),
    }
}

/// Turns the part after the authority into a request target: `/` when empty, `?q` becomes
/// `/?q`, the fragment is dropped, and bytes that may not appear in a request target are
/// percent-encoded (existing `%XX` escapes are kept as typed).
fn request_path(tail: &str) -> String {
    let tail = tail.split('#').next().unwrap_or("");
    let mut out = String::with_capacity(tail.len() + 1);
    if !tail.starts_with('/') {
        out.push('/');
    }
    out.push_str(&percent_encode(tail.as_bytes(), Keep::Target));
    out
}

/// Decodes `%XX` escapes once. Returns `None` for a `%` not followed by two hex digits.
pub fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hi = (hex[0] as char).to_digit(16)?;
            let lo = (hex[1] as char).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn tcp(host: Host, port: u16, path: &str) -> Target {
        Target {
            endpoint: Endpoint::Tcp { host, port },
            path: path.into(),
            tls: false,
        }
    }
    fn name(n: &str) -> Host {
        Host::Name(n.into())
    }

    #[test]
    fn parses_what_users_type() {
        let v4 = Host::Ip(IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4)));
        let v6 = Host::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST));
        let cases = [
            ("example.com", tcp(name("example.com"), 80, "/")),
            ("Example.COM", tcp(name("example.com"), 80, "/")),
            ("example.com:8080", tcp(name("example.com"), 8080, "/")),
            (
                "example.com/a/b.html",
                tcp(name("example.com"), 80, "/a/b.html"),
            ),
            ("example.com?q=1", tcp(name("example.com"), 80, "/?q=1")),
            ("1.2.3.4:8080", tcp(v4.clone(), 8080, "/")),
            ("[::1]:8080/x", tcp(v6.clone(), 8080, "/x")),
            ("[::1]", tcp(v6.clone(), 80, "/")),
            ("::1", tcp(v6.clone(), 80, "/")),
            (
                "http://host:81/p?q=a%20b#frag",
                tcp(name("host"), 81, "/p?q=a%20b"),
            ),
            ("HTTP://host", tcp(name("host"), 80, "/")),
            ("http://host:/x", tcp(name("host"), 80, "/x")),
            ("host/caf\u{e9}", tcp(name("host"), 80, "/caf%C3%A9")),
            ("host/a\"b", tcp(name("host"), 80, "/a%22b")),
            ("localhost:65535", tcp(name("localhost"), 65535, "/")),
            (
                "unix:/run/app.sock",
                Target {
                    endpoint: Endpoint::Unix("/run/app.sock".into()),
                    path: "/".into(),
                    tls: false,
                },
            ),
            (
                "http+unix://%2Frun%2Fapp.sock/status",
                Target {
                    endpoint: Endpoint::Unix("/run/app.sock".into()),
                    path: "/status".into(),
                    tls: false,
                },
            ),
        ];
        for (input, want) in cases {
            assert_eq!(Target::parse(input).unwrap(), want, "input {input:?}");
        }
    }

    #[test]
    fn https_has_its_port_and_its_url() {
        let t = Target::parse("https://example.com/x").unwrap();
        assert!(t.tls);
        assert_eq!(
            t.endpoint,
            Endpoint::Tcp {
                host: name("example.com"),
                port: 443
            }
        );
        assert_eq!(t.host_header(), "example.com");
        assert_eq!(t.to_string(), "https://example.com/x");
        let t = Target::parse("HTTPS://example.com:80/").unwrap();
        assert_eq!(t.host_header(), "example.com:80");
        assert_eq!(t.to_string(), "https://example.com:80/");
        assert!(!Target::parse("http://example.com:443/").unwrap().tls);
    }

    #[test]
    fn bad_input_names_the_problem() {
        let cases = [
            ("", "empty target"),
            ("http://", "empty host"),
            (":80", "empty host"),
            ("http:///path", "empty host"),
            ("host:70000", "port out of range"),
            ("host:0", "port out of range"),
            ("host:99999999999999999999", "port out of range"),
            ("host:http", "port must be a number"),
            ("ftp://example.com", "ftp is not supported"),
            ("1http://x", "malformed scheme"),
            ("2001:db8::1:http", "IPv6 addresses need brackets"),
            ("[::1", "missing ']'"),
            ("[nope]:80", "is not an IPv6 address"),
            ("[::1]x", "unexpected 'x'"),
            ("user:pw@host", "credentials"),
            ("ho st", "contains a space"),
            ("host\n", "contains"),
            ("ex!ample.com", "invalid character '!'"),
            ("unix:", "expected unix:/path"),
            ("http+unix://%zz/x", "bad %-encoding"),
        ];
        for (input, want) in cases {
            let err = Target::parse(input).unwrap_err().to_string();
            assert!(
                err.contains(want),
                "input {input:?}: got {err:?}, want {want:?}"
            );
        }
    }

    #[test]
    fn never_panics_on_odd_bytes() {
        for input in [
            "[",
            "]",
            "[]",
            "[:",
            "::",
            "%",
            "http://[",
            "a:",
            "\u{e9}:1",
            "[\u{e9}]",
            "http+unix://",
        ] {
            let _ = Target::parse(input);
        }
    }

    #[test]
    fn ipv4_hosts_are_written_as_std_writes_them() {
        // Every octet value, in every position.
        for o in 0..=255u8 {
            let ip = std::net::Ipv4Addr::new(o, 255 - o, o / 2, o.wrapping_mul(7));
            assert_eq!(Host::Ip(IpAddr::V4(ip)).to_string(), ip.to_string());
        }
    }

    #[test]
    fn host_header_and_url() {
        let t = Target::parse("[::1]:8080/x").unwrap();
        assert_eq!(t.host_header(), "[::1]:8080");
        assert_eq!(t.to_string(), "http://[::1]:8080/x");
        assert_eq!(
            Target::parse("example.com").unwrap().host_header(),
            "example.com"
        );
        let u = Target::parse("unix:/run/a.sock").unwrap();
        assert_eq!(u.host_header(), "localhost");
        assert_eq!(Target::parse(&u.to_string()).unwrap(), u);
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b").unwrap(), b"a b");
        assert_eq!(percent_decode("%2e%2E").unwrap(), b"..");
        assert_eq!(percent_decode("%"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%g0"), None);
    }
}
