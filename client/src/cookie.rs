//! [`CookieJar`]: cookies as curl keeps them (RFC 6265, with curl's choices where it makes
//! them): taken from `Set-Cookie`, sent back in `Cookie` to the hosts and paths they match,
//! read from and written to curl's Netscape cookie file.

use std::time::{SystemTime, UNIX_EPOCH};

/// One cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cookie {
    name: String,
    value: String,
    /// Lowercase, without a leading dot.
    domain: String,
    /// True when subdomains match too (a `Domain` attribute, or `TRUE` in a file).
    tailmatch: bool,
    path: String,
    secure: bool,
    httponly: bool,
    /// Unix time it expires at; 0 for a session cookie.
    expires: u64,
    /// Order of arrival, for curl's orderings (newer is larger).
    created: u64,
}

/// The cookies of a run. Shared by every transfer of a client (put it behind a `Mutex`).
#[derive(Debug, Default, Clone)]
pub struct CookieJar {
    cookies: Vec<Cookie>,
    counter: u64,
    /// The last `Cookie` value made, kept for the next request like it.
    memo: Option<Memo>,
}

/// A `Cookie` value and what it holds for: requests to the same host for any path in the
/// same folder, until the jar changes (any change drops the memo) or a cookie expires.
/// A run of many files from one folder (`-Z`, globbing, `--mirror`) thus matches the jar
/// once, not once a file.
#[derive(Debug, Clone)]
struct Memo {
    host: String,
    /// Whether it was made for an `https://` request (which `Secure` cookies go to).
    https: bool,
    /// The request path up to and including its last `/`.
    folder: String,
    /// It holds while the time is before this (Unix seconds).
    until: u64,
    value: Option<String>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// curl counts these as secure contexts: a `Secure` cookie may come from and go to them
/// over plain HTTP.
fn secure_context(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host == "127.0.0.1" || host == "::1"
}

fn is_ip(host: &str) -> bool {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .is_ok()
}

/// Whether `host` ends with `.domain`, in any case (RFC 6265 §5.1.3's domain-match, less
/// the equal case and the IP address check).
fn subdomain_of(host: &str, domain: &str) -> bool {
    let (h, d) = (host.as_bytes(), domain.as_bytes());
    h.len() > d.len()
        && h[h.len() - d.len() - 1] == b'.'
        && h[h.len() - d.len()..].eq_ignore_ascii_case(d)
}

/// RFC 6265 §5.1.4 path-match.
fn path_matches(cookie_path: &str, request_path: &str) -> bool {
    request_path == cookie_path
        || request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/')
                || request_path.as_bytes().get(cookie_path.len()) == Some(&b'/'))
}

/// curl's default cookie path: the request path up to and including its last `/`.
fn default_path(request_path: &str) -> String {
    match request_path.rfind('/') {
        Some(i) if i > 0 => request_path[..=i].to_string(),
        _ => "/".into(),
    }
}

impl CookieJar {
    /// An empty jar.
    pub fn new() -> CookieJar {
        CookieJar::default()
    }

    /// Adds the cookies of a Netscape cookie file (curl's `-b FILE`): tab-separated domain,
    /// subdomains flag, path, secure flag, expiry, name, value; `#HttpOnly_` before the
    /// domain marks an HttpOnly cookie; other `#` lines are comments. With
    /// `junk_session`, session cookies (expiry 0) are left out (curl's `-j`).
    pub fn load(&mut self, text: &str, junk_session: bool) {
        for line in text.lines() {
            let (line, httponly) = match line.strip_prefix("#HttpOnly_") {
                Some(rest) => (rest, true),
                None if line.starts_with('#') => continue,
                None => (line, false),
            };
            let f: Vec<&str> = line.trim_end_matches('\r').split('\t').collect();
            if f.len() < 7 {
                continue;
            }
            let expires = f[4].parse().unwrap_or(0);
            if junk_session && expires == 0 {
                continue;
            }
            let cookie = Cookie {
                name: f[5].into(),
                value: f[6].into(),
                domain: f[0].trim_start_matches('.').to_ascii_lowercase(),
                tailmatch: f[1].eq_ignore_ascii_case("TRUE"),
                path: f[2].into(),
                secure: f[3].eq_ignore_ascii_case("TRUE"),
                httponly,
                expires,
                created: 0,
            };
            self.add(cookie);
        }
    }

    /// Takes a `Set-Cookie` value received from `host` for `request_path`. Refused, as
    /// curl refuses them: a `Domain` the host is not in, a `Secure` cookie from a host that
    /// is not a secure context. An expiry in the past deletes the cookie.
    pub fn store(&mut self, host: &str, request_path: &str, set_cookie: &[u8]) {
        self.store_from(host, request_path, set_cookie, false);
    }

    /// [`CookieJar::store`] for a response that came over `https://` when `https`: a
    /// `Secure` cookie is taken from any host then.
    pub fn store_from(&mut self, host: &str, request_path: &str, set_cookie: &[u8], https: bool) {
        let text = String::from_utf8_lossy(set_cookie);
        let mut parts = text.split(';');
        let Some((name, value)) = parts.next().and_then(|nv| nv.split_once('=')) else {
            return;
        };
        let host = host.to_ascii_lowercase();
        let path = request_path.split('?').next().unwrap_or("/");
        let mut cookie = Cookie {
            name: name.trim().into(),
            value: value.trim().into(),
            domain: host.clone(),
            tailmatch: false,
            path: default_path(path),
            secure: false,
            httponly: false,
            expires: 0,
            created: 0,
        };
        if cookie.name.is_empty() {
            return;
        }
        let mut max_age = None;
        let mut expires = None;
        for attr in parts {
            let (key, val) = match attr.split_once('=') {
                Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim()),
                None => (attr.trim().to_ascii_lowercase(), ""),
            };
            match key.as_str() {
                "domain" if !val.is_empty() => {
                    let domain = val.trim_start_matches('.').to_ascii_lowercase();
                    if domain == host {
                        // curl: the host itself; an IP address never matches others.
                        cookie.tailmatch = !is_ip(&host);
                    } else if !is_ip(&host)
                        && domain.contains('.')
                        && host.ends_with(&format!(".{domain}"))
                    {
                        cookie.domain = domain;
                        cookie.tailmatch = true;
                    } else {
                        return;
                    }
                }
                "path" if val.starts_with('/') => cookie.path = val.into(),
                "secure" => cookie.secure = true,
                "httponly" => cookie.httponly = true,
                "max-age" => max_age = val.parse::<i64>().ok(),
                "expires" => expires = parse_date(val),
                _ => {}
            }
        }
        if cookie.secure && !https && !secure_context(&host) {
            return;
        }
        let now = now();
        cookie.expires = match (max_age, expires) {
            (Some(secs), _) if secs <= 0 => 1,
            (Some(secs), _) => now.saturating_add(secs.unsigned_abs()),
            (None, Some(at)) => at.max(1),
            (None, None) => 0,
        };
        if cookie.expires != 0 && cookie.expires <= now {
            self.cookies.retain(|c| !same(c, &cookie));
            self.memo = None;
            return;
        }
        self.add(cookie);
    }

    fn add(&mut self, mut cookie: Cookie) {
        self.memo = None;
        self.counter += 1;
        cookie.created = self.counter;
        if let Some(old) = self.cookies.iter_mut().find(|c| same(c, &cookie)) {
            *old = cookie;
        } else {
            self.cookies.push(cookie);
        }
    }

    /// The `Cookie` value for a request to `host` and `request_path` (`None`: no cookie
    /// matches), in curl's order: longer paths first, then longer domains, longer names,
    /// newer cookies.
    pub fn header(&mut self, host: &str, request_path: &str) -> Option<String> {
        self.header_for(host, request_path, false)
    }

    /// [`CookieJar::header`] for an `https://` request when `https`: `Secure` cookies go
    /// to any host then.
    pub fn header_for(&mut self, host: &str, request_path: &str, https: bool) -> Option<String> {
        let path = request_path.split('?').next().unwrap_or("/");
        let now = now();
        let folder = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        if let Some(m) = &self.memo
            && m.host == host
            && m.https == https
            && m.folder == folder
            && now < m.until
        {
            return m.value.clone();
        }
        let value = self.matching(host, path, now, https);
        // Kept only when no cookie's path tells two names in this folder apart: a path
        // that is the folder or above it matches every name in it or none.
        let by_name = self
            .cookies
            .iter()
            .any(|c| c.path.len() > folder.len() && c.path.starts_with(folder));
        if !folder.is_empty() && !by_name {
            let until = self
                .cookies
                .iter()
                .filter(|c| c.expires > now)
                .map(|c| c.expires)
                .min()
                .unwrap_or(u64::MAX);
            self.memo = Some(Memo {
                host: host.to_string(),
                https,
                folder: folder.to_string(),
                until,
                value: value.clone(),
            });
        }
        value
    }

    /// The `Cookie` value for `host` and `path` (no query) at Unix time `now`, from the
    /// cookies themselves.
    fn matching(&self, host: &str, path: &str, now: u64, https: bool) -> Option<String> {
        let ip = std::cell::OnceCell::new();
        let mut matching: Vec<&Cookie> = self
            .cookies
            .iter()
            .filter(|c| c.expires == 0 || c.expires > now)
            .filter(|c| {
                host.eq_ignore_ascii_case(&c.domain)
                    || c.tailmatch
                        && subdomain_of(host, &c.domain)
                        && !*ip.get_or_init(|| is_ip(host))
            })
            .filter(|c| path_matches(&c.path, path))
            .filter(|c| !c.secure || https || secure_context(host))
            .collect();
        if matching.is_empty() {
            return None;
        }
        matching.sort_by_key(|c| {
            std::cmp::Reverse((c.path.len(), c.domain.len(), c.name.len(), c.created))
        });
        let mut header = String::new();
        for c in matching {
            if !header.is_empty() {
                header.push_str("; ");
            }
            header.push_str(&c.name);
            header.push('=');
            header.push_str(&c.value);
        }
        Some(header)
    }

    /// The jar as curl writes it (`-c FILE`): its three comment lines, a blank line, then
    /// one line per unexpired cookie, newest first.
    pub fn to_netscape(&self) -> String {
        let mut out = String::from(
            "# Netscape HTTP Cookie File\n# https://curl.se/docs/http-cookies.html\n\
             # This file was generated by libcurl! Edit at your own risk.\n\n",
        );
        let now = now();
        let mut all: Vec<&Cookie> = self
            .cookies
            .iter()
            .filter(|c| c.expires == 0 || c.expires > now)
            .collect();
        all.sort_by_key(|c| std::cmp::Reverse(c.created));
        let flag = |b: bool| if b { "TRUE" } else { "FALSE" };
        for c in all {
            out.push_str(&format!(
                "{}{}{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                if c.httponly { "#HttpOnly_" } else { "" },
                if c.tailmatch { "." } else { "" },
                c.domain,
                flag(c.tailmatch),
                c.path,
                flag(c.secure),
                c.expires,
                c.name,
                c.value
            ));
        }
        out
    }
}

/// The same cookie (RFC 6265 §5.3 step 11): name, domain and path.
fn same(a: &Cookie, b: &Cookie) -> bool {
    a.name == b.name && a.domain == b.domain && a.path == b.path
}

/// RFC 6265 §5.1.1's lenient date: tokens for the time (hh:mm:ss), the day, the month
/// (its first three letters) and the year (two digits are 19xx or 20xx), in any order.
fn parse_date(s: &str) -> Option<u64> {
    parse_lenient_date(s, true)
}

/// The same, as Unix seconds; without `need_time` a missing time is midnight (as curl
/// reads `-z` dates).
pub(crate) fn parse_lenient_date(s: &str, need_time: bool) -> Option<u64> {
    let (mut time, mut day, mut month, mut year) = (None, None, None, None);
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    for token in s
        .split(|c: char| !c.is_ascii_alphanumeric() && c != ':')
        .filter(|t| !t.is_empty())
    {
        let digits = token.chars().take_while(char::is_ascii_digit).count();
        if time.is_none() && token.contains(':') {
            let hms: Vec<u64> = token.split(':').filter_map(|p| p.parse().ok()).collect();
            if hms.len() == 3 {
                time = Some((hms[0], hms[1], hms[2]));
                continue;
            }
        }
        if day.is_none() && (1..=2).contains(&digits) && digits == token.len() {
            day = token.parse::<u64>().ok();
        } else if month.is_none() && token.len() >= 3 {
            if let Some(m) = MONTHS
                .iter()
                .position(|m| token[..3].eq_ignore_ascii_case(m))
            {
                month = Some(m as u64 + 1);
            } else if year.is_none() && (2..=4).contains(&digits) {
                year = token[..digits].parse::<u64>().ok();
            }
        } else if year.is_none() && (2..=4).contains(&digits) {
            year = token[..digits].parse::<u64>().ok();
        }
    }
    let (h, mi, sec) = match time {
        Some(t) => t,
        None if !need_time => (0, 0, 0),
        None => return None,
    };
    let (d, mo, mut y) = (day?, month?, year?);
    if y < 70 {
        y += 2000;
    } else if y < 100 {
        y += 1900;
    }
    if y < 1970 || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm), then seconds.
    let (yy, mm) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = yy / 400;
    let yoe = yy - era * 400;
    let doy = (153 * mm + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomains_match_on_a_dot_in_any_case() {
        assert!(subdomain_of("www.Example.test", "example.test"));
        assert!(subdomain_of("a.b.example.test", "example.test"));
        assert!(
            !subdomain_of("example.test", "example.test"),
            "equal is not a subdomain"
        );
        assert!(!subdomain_of("badexample.test", "example.test"));
        assert!(!subdomain_of("test", "example.test"));
    }

    #[test]
    fn dates_as_rfc_6265_reads_them() {
        let cases = [
            ("Wed, 01 Jan 2098 00:00:00 GMT", Some(4_039_372_800)),
            ("Wed, 01-Jan-2098 00:00:00 GMT", Some(4_039_372_800)),
            ("Thu, 01 Jan 1970 00:00:01 GMT", Some(1)),
            ("Sun, 06 Nov 94 08:49:37 GMT", Some(784_111_777)),
            ("Wed, 21 Oct 2015 07:28:00 GMT", Some(1_445_412_480)),
            ("not a date", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_date(input), want, "{input}");
        }
    }

    #[test]
    fn cookies_kept_and_sent_as_curl_does() {
        let mut jar = CookieJar::new();
        for set in [
            "a=1",
            "b=2; Path=/; Expires=Wed, 01 Jan 2098 00:00:00 GMT; HttpOnly",
            "c=3; Path=/sub; Domain=127.0.0.1",
            "d=4; Secure",
            "e=5; Max-Age=0",
            "f=6; Domain=other.test",
            "g=7; Path=/echo",
        ] {
            jar.store("127.0.0.1", "/setc/x", set.as_bytes());
        }
        assert_eq!(
            jar.header("127.0.0.1", "/echo").as_deref(),
            Some("g=7; b=2")
        );
        assert_eq!(
            jar.header("127.0.0.1", "/setc/y?q").as_deref(),
            Some("d=4; a=1; b=2")
        );
        assert_eq!(jar.header("example.test", "/"), None);
        assert_eq!(
            jar.to_netscape()
                .lines()
                .skip(4)
                .collect::<Vec<_>>()
                .join("\n"),
            "127.0.0.1\tFALSE\t/echo\tFALSE\t0\tg\t7\n\
             127.0.0.1\tFALSE\t/setc/\tTRUE\t0\td\t4\n\
             127.0.0.1\tFALSE\t/sub\tFALSE\t0\tc\t3\n\
             #HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t4039372800\tb\t2\n\
             127.0.0.1\tFALSE\t/setc/\tFALSE\t0\ta\t1"
        );
        // Secure cookies only from a secure context; domains only upwards.
        let mut jar = CookieJar::new();
        jar.store("www.example.test", "/", b"s=1; Secure");
        jar.store("www.example.test", "/", b"t=2; Domain=.example.test");
        jar.store("www.example.test", "/", b"u=3; Domain=test");
        // Over https://, Secure cookies come and go.
        jar.store_from("www.example.test", "/", b"v=4; Secure", true);
        assert_eq!(jar.header("www.example.test", "/").as_deref(), Some("t=2"));
        assert_eq!(
            jar.header_for("www.example.test", "/", true).as_deref(),
            Some("v=4; t=2")
        );
        assert_eq!(jar.header("api.example.test", "/").as_deref(), Some("t=2"));
        assert_eq!(jar.header("www.example.test", "/").as_deref(), Some("t=2"));
    }

    /// The memo never answers differently from matching the jar afresh: requests in one
    /// folder and others, cookies whose paths tell names apart, cookies arriving, changing
    /// and being deleted between requests.
    #[test]
    fn the_memo_answers_as_the_jar_does() {
        let mut jar = CookieJar::new();
        let sets = [
            "a=1; Path=/",
            "b=2; Path=/many",
            "c=3; Path=/many/",
            "d=4; Path=/many/7.bin",
            "e=5; Path=/other/",
            "a=9; Path=/",
            "c=3; Path=/many/; Max-Age=0",
            "f=6; Path=/many/sub",
            "g=7; Domain=127.0.0.1",
            "h=8; Expires=Wed, 01 Jan 2098 00:00:00 GMT",
        ];
        let paths = [
            "/many/1.bin",
            "/many/2.bin?x=1",
            "/many/7.bin",
            "/many/sub",
            "/many/sub/x",
            "/other/y",
            "/",
            "/manyx",
        ];
        let mut seed = 7u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 16) as usize
        };
        for round in 0..400 {
            if round % 7 == 0 {
                let set = sets[next() % sets.len()];
                jar.store("127.0.0.1", "/many/", set.as_bytes());
            }
            let path = paths[next() % paths.len()];
            let host = ["127.0.0.1", "localhost"][next() % 2];
            let plain = path.split('?').next().unwrap();
            let fresh = jar.matching(host, plain, now(), false);
            assert_eq!(jar.header(host, path), fresh, "{host}{path}, round {round}");
        }
    }

    #[test]
    fn files_load_and_junk_session_cookies() {
        let file = "# comment\n127.0.0.1\tFALSE\t/\tFALSE\t0\tsess\tv1\n\
                    .127.0.0.1\tTRUE\t/echo\tFALSE\t4102444800\tlong\tv2\n\
                    #HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t0\thttponly\tv4\nbroken line\n";
        let mut jar = CookieJar::new();
        jar.load(file, false);
        assert_eq!(
            jar.header("127.0.0.1", "/echo").as_deref(),
            Some("long=v2; httponly=v4; sess=v1")
        );
        let mut jar = CookieJar::new();
        jar.load(file, true);
        assert_eq!(jar.header("127.0.0.1", "/echo").as_deref(), Some("long=v2"));
    }
}
