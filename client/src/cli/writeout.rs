//! `-w`/`--write-out`: curl's format, rendered after each transfer. `%{name}` is a variable
//! (names compared without regard to case), `%header{name}` a header of the final
//! response, `%%` a percent sign, `\n`, `\r` and `\t` what they say; `%{stdout}` and
//! `%{stderr}` switch where the rest goes, and `%{onerror}` drops the rest unless the
//! transfer failed. Anything else is written as it stands; an unknown variable writes
//! nothing and a warning on stderr, as in curl. Times are seconds with six decimals.

use std::net::SocketAddr;
use std::time::Duration;

use super::transfer::Outcome;
use crate::head::Head;
use crate::trace::{Hop, TlsHop};

/// What one transfer's `-w` writes: to stdout, then to stderr.
#[derive(Debug, Default)]
pub(crate) struct Written {
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
}

/// What the variables are read from, beside the transfer.
pub(crate) struct Context<'a> {
    /// The transfer.
    pub(crate) outcome: &'a Outcome,
    /// Its exit code.
    pub(crate) code: i32,
    /// Its error message (empty on success).
    pub(crate) error: &'a str,
    /// The file the body went to, if any.
    pub(crate) filename: &'a str,
    /// The index of the target (0 for the first).
    pub(crate) index: usize,
    /// The bytes of request body sent with the final request.
    pub(crate) uploaded: u64,
}

/// Renders `format` for one transfer.
pub(crate) fn render(format: &str, cx: &Context<'_>) -> Written {
    let mut w = Written::default();
    let mut to_stderr = false;
    let mut rest = format;
    while !rest.is_empty() {
        let out = if to_stderr {
            &mut w.stderr
        } else {
            &mut w.stdout
        };
        if let Some(after) = rest.strip_prefix("%%") {
            out.push(b'%');
            rest = after;
        } else if let Some(after) = rest.strip_prefix("%{")
            && let Some(end) = after.find('}')
        {
            let name = after[..end].to_ascii_lowercase();
            rest = &after[end + 1..];
            match name.as_str() {
                "stdout" => to_stderr = false,
                "stderr" => to_stderr = true,
                "onerror" if cx.code == 0 => break,
                "onerror" => {}
                "json" => out.extend_from_slice(json(cx).as_bytes()),
                "header_json" => out.extend_from_slice(header_json(cx).as_bytes()),
                _ => match variable(&name, cx) {
                    Some(value) => out.extend_from_slice(value.as_bytes()),
                    None => w.stderr.extend_from_slice(
                        format!("fetch: unknown --write-out variable: '{name}'\n").as_bytes(),
                    ),
                },
            }
        } else if let Some(after) = rest.strip_prefix("%header{")
            && let Some(end) = after.find('}')
        {
            let values: Vec<String> = cx
                .outcome
                .head
                .iter()
                .flat_map(|h| h.all(&after[..end]))
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect();
            out.extend_from_slice(values.join(", ").as_bytes());
            rest = &after[end + 1..];
        } else if let Some(after) = rest.strip_prefix('\\')
            && let Some(c) = after.chars().next()
        {
            match c {
                'n' => out.push(b'\n'),
                'r' => out.push(b'\r'),
                't' => out.push(b'\t'),
                _ => {
                    out.push(b'\\');
                    out.extend_from_slice(c.to_string().as_bytes());
                }
            }
            rest = &after[c.len_utf8()..];
        } else {
            let c = rest.chars().next().expect("not empty");
            out.extend_from_slice(c.to_string().as_bytes());
            rest = &rest[c.len_utf8()..];
        }
    }
    w
}

/// `%{header_json}` as curl 7.88 writes it: the final response's fields, names in
/// lowercase in the order first seen, each with the array of its values, one name a line.
fn header_json(cx: &Context<'_>) -> String {
    let mut names: Vec<(String, Vec<String>)> = Vec::new();
    for (name, value) in cx.outcome.head.iter().flat_map(|h| h.headers()) {
        let name = name.to_ascii_lowercase();
        let value = String::from_utf8_lossy(value).into_owned();
        match names.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value),
            None => names.push((name, vec![value])),
        }
    }
    let entries: Vec<String> = names
        .iter()
        .map(|(name, values)| {
            let mut e = String::new();
            shared::json_string(&mut e, name);
            e.push_str(":[");
            for (i, v) in values.iter().enumerate() {
                if i > 0 {
                    e.push(',');
                }
                shared::json_string(&mut e, v);
            }
            e.push(']');
            e
        })
        .collect();
    format!("{{{}\n}}", entries.join(",\n"))
}

/// curl's time format: seconds, six decimals.
fn secs(d: Duration) -> String {
    format!("{:.6}", d.as_secs_f64())
}

/// The value of variable `name` (lowercase), or `None` if there is no such variable.
fn variable(name: &str, cx: &Context<'_>) -> Option<String> {
    let i = VARIABLES.binary_search_by(|(n, _)| n.cmp(&name)).ok()?;
    let o = cx.outcome;
    let facts = Facts {
        cx,
        o,
        head: o.head.as_ref(),
        hop: o.trace.hops.last(),
    };
    Some(VARIABLES[i].1(&facts))
}

/// How a variable's value is made from what the transfer did.
type Value = fn(&Facts<'_>) -> String;

/// Every variable, sorted by name (for `variable`'s binary search), with what it writes.
const VARIABLES: &[(&str, Value)] = &[
    ("content_type", |f| {
        f.head
            .and_then(|h| h.header("content-type"))
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default()
    }),
    ("errormsg", |f| f.cx.error.to_string()),
    ("exitcode", |f| f.cx.code.to_string()),
    ("filename_effective", |f| f.cx.filename.to_string()),
    ("http_code", |f| f.status()),
    ("http_version", |f| {
        f.head
            .map(|h| {
                h.version()
                    .to_string()
                    .trim_start_matches("HTTP/")
                    .to_string()
            })
            .unwrap_or_else(|| "0".into())
    }),
    ("local_ip", |f| {
        f.hop
            .and_then(|h| h.local)
            .map(|a| a.ip().to_string())
            .unwrap_or_default()
    }),
    ("local_port", |f| {
        f.hop
            .and_then(|h| h.local)
            .map_or(0, |a| a.port())
            .to_string()
    }),
    ("method", |f| {
        f.hop.map(|h| h.method.clone()).unwrap_or_default()
    }),
    ("num_certs", |f| f.tls().map_or(0, |t| t.certs).to_string()),
    ("num_connects", |f| {
        f.hops()
            .filter(|h| h.peer.is_some() && !h.reused)
            .count()
            .to_string()
    }),
    ("num_headers", |f| {
        f.head.map_or(0, |h| h.headers().len()).to_string()
    }),
    ("num_redirects", |f| f.redirects().to_string()),
    ("redirect_url", |f| redirect_url(f.o).unwrap_or_default()),
    ("remote_ip", |f| {
        f.peer().map(|p| p.ip().to_string()).unwrap_or_default()
    }),
    ("remote_port", |f| {
        f.peer().map_or(0, |p| p.port()).to_string()
    }),
    ("response_code", |f| f.status()),
    // curl names the scheme once it has connected.
    ("scheme", |f| match f.hop.filter(|h| h.peer.is_some()) {
        Some(h) if h.url.starts_with("https://") => "HTTPS".into(),
        Some(_) => "HTTP".into(),
        None => String::new(),
    }),
    ("size_download", |f| f.o.received.to_string()),
    ("size_header", |f| {
        f.o.history
            .iter()
            .chain(f.head)
            .map(|h| h.raw().len())
            .sum::<usize>()
            .to_string()
    }),
    ("size_request", |f| {
        f.hops()
            // Only what went out: a request never sent counts nothing.
            .filter(|h| h.sent.is_some())
            .map(|h| h.request_bytes)
            .sum::<u64>()
            .saturating_add(f.cx.uploaded)
            .to_string()
    }),
    ("size_upload", |f| f.cx.uploaded.to_string()),
    ("speed_download", |f| f.rate(f.o.received)),
    ("speed_upload", |f| f.rate(f.cx.uploaded)),
    // A failed check is an exit code, never a transfer: what is reported is 0 (and -k
    // checks nothing).
    ("ssl_verify_result", |_| "0".into()),
    ("time_appconnect", |f| secs(f.appconnect())),
    ("time_connect", |f| secs(f.connected())),
    ("time_namelookup", |f| secs(f.looked_up())),
    ("time_pretransfer", |f| {
        secs(f.connected().max(f.appconnect()))
    }),
    ("time_redirect", |f| {
        secs(if f.o.history.is_empty() {
            Duration::ZERO
        } else {
            f.began()
        })
    }),
    ("time_starttransfer", |f| {
        secs(f.hop.and_then(|h| h.first_byte).unwrap_or_default())
    }),
    ("time_total", |f| secs(f.o.trace.end())),
    ("url", |f| f.url()),
    ("url_effective", |f| {
        f.o.url.clone().unwrap_or_else(|| f.url())
    }),
    ("urlnum", |f| f.cx.index.to_string()),
];

/// What the variables are read from: the transfer, its final head and its last hop. What
/// costs a parse or a walk over the hops is a method, paid only by the variable that needs
/// it: -w runs once per transfer (a 1000-file -Z run), for one variable or two.
struct Facts<'a> {
    cx: &'a Context<'a>,
    o: &'a Outcome,
    head: Option<&'a Head>,
    hop: Option<&'a Hop>,
}

impl Facts<'_> {
    /// The hops of the last try (a retry starts its hops afresh).
    fn hops(&self) -> impl DoubleEndedIterator<Item = &Hop> {
        let attempt = self.hop.map_or(0, |h| h.attempt);
        self.o
            .trace
            .hops
            .iter()
            .filter(move |h| h.attempt == attempt)
    }

    /// The status, three digits (`000`: none). Without a final response (too many
    /// redirects, a redirect to nowhere), curl reports the last status received: read it
    /// from the trace.
    fn status(&self) -> String {
        self.head
            .map(|h| h.status())
            .or_else(|| self.hops().filter_map(|h| h.status).next_back())
            .map_or("000".into(), |s| format!("{s:03}"))
    }

    /// The redirects followed; without a final response, as the trace counts them.
    fn redirects(&self) -> usize {
        match self.head {
            Some(_) => self.o.history.len(),
            None => self.hops().count().saturating_sub(1),
        }
    }

    fn peer(&self) -> Option<SocketAddr> {
        self.hop.and_then(|h| h.peer.as_deref()?.parse().ok())
    }

    /// The target as given, as a URL.
    fn url(&self) -> String {
        let o = self.o;
        shared::Target::parse(&o.target).map_or(o.target.clone(), |t| t.to_string())
    }

    /// Bytes per second over the whole transfer.
    fn rate(&self, bytes: u64) -> String {
        let s = self.o.trace.end().as_secs_f64();
        if s > 0.0 {
            format!("{:.0}", bytes as f64 / s)
        } else {
            "0".into()
        }
    }

    // The phases of the last request, from the start of the transfer (curl's times add up).

    fn began(&self) -> Duration {
        self.hop.map_or(Duration::ZERO, |h| h.began)
    }

    fn looked_up(&self) -> Duration {
        self.hop
            .and_then(|h| h.resolve.map(|r| r.1))
            .unwrap_or(self.began())
    }

    fn connected(&self) -> Duration {
        self.hop
            .and_then(|h| h.addrs.iter().find(|a| a.error.is_none()))
            .map_or(self.looked_up(), |a| a.start + a.took)
    }

    fn tls(&self) -> Option<&TlsHop> {
        self.hop.and_then(|h| h.tls.as_ref())
    }

    /// The TLS handshake's end (curl's appconnect; 0 for plain HTTP or a reused
    /// connection).
    fn appconnect(&self) -> Duration {
        self.tls().map_or(Duration::ZERO, |t| t.end)
    }
}

/// `%{json}`'s keys, curl 7.88's in its order, each with how its value is written: `n` a
/// number (or time), `s` a string (`null` when empty), `q` a string always quoted, `0`,
/// `e` (`""`) and `z` (`null`) that value always.
const JSON_KEYS: &[(&str, char)] = &[
    ("certs", 'e'),
    ("content_type", 's'),
    ("errormsg", 's'),
    ("exitcode", 'n'),
    ("filename_effective", 's'),
    ("ftp_entry_path", 'z'),
    ("http_code", 'n'),
    ("http_connect", '0'),
    ("http_version", 'q'),
    ("local_ip", 'q'),
    ("local_port", 'n'),
    ("method", 'q'),
    ("num_certs", 'n'),
    ("num_connects", 'n'),
    ("num_headers", 'n'),
    ("num_redirects", 'n'),
    ("proxy_ssl_verify_result", '0'),
    ("redirect_url", 's'),
    ("referer", 'z'),
    ("remote_ip", 'q'),
    ("remote_port", 'n'),
    ("response_code", 'n'),
    ("scheme", 's'),
    ("size_download", 'n'),
    ("size_header", 'n'),
    ("size_request", 'n'),
    ("size_upload", 'n'),
    ("speed_download", 'n'),
    ("speed_upload", 'n'),
    ("ssl_verify_result", 'n'),
    ("time_appconnect", 'n'),
    ("time_connect", 'n'),
    ("time_namelookup", 'n'),
    ("time_pretransfer", 'n'),
    ("time_redirect", 'n'),
    ("time_starttransfer", 'n'),
    ("time_total", 'n'),
    ("url", 'q'),
    ("url_effective", 'q'),
    ("urlnum", 'n'),
];

/// `%{json}`: every variable in one JSON object, with curl 7.88's keys in its order;
/// numbers and times bare, strings quoted, `null` where curl has no value. The TLS and FTP
/// keys are there with the values curl gives them on plain HTTP.
fn json(cx: &Context<'_>) -> String {
    let quote = |v: &str| {
        let mut q = String::new();
        shared::json_string(&mut q, v);
        q
    };
    let mut out = String::from("{");
    for (key, kind) in JSON_KEYS {
        let value = variable(key, cx).unwrap_or_default();
        let shown = match kind {
            // 000 is how -w writes "no response"; in JSON that is the number 0.
            'n' if key.ends_with("_code") => value.parse::<u16>().unwrap_or(0).to_string(),
            'n' => (if value.is_empty() { "0" } else { &value }).to_string(),
            '0' => "0".into(),
            'e' => "\"\"".into(),
            'z' => "null".into(),
            's' if value.is_empty() => "null".into(),
            _ => quote(&value),
        };
        out.push_str(&format!("{}:{shown},", quote(key)));
    }
    out.push_str(&format!(
        "\"curl_version\":{}}}",
        quote(crate::request::USER_AGENT)
    ));
    out
}

/// Where the final response would have led with `-L`: its `Location`, resolved.
fn redirect_url(o: &Outcome) -> Option<String> {
    let head = o.head.as_ref()?;
    let location = crate::redirect::location(head)?;
    let base = shared::Target::parse(o.url.as_deref()?).ok()?;
    Some(crate::resolve_location(&base, location).ok()?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::test_head;
    use crate::trace::{AddrTry, Hop, TlsHop, Trace};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A POST redirected once, then answered over TLS on a new connection.
    fn redirected() -> Outcome {
        let mut trace = Trace::new();
        trace.hops.push(Hop {
            url: "https://a.test/old".into(),
            peer: Some("[::1]:443".into()),
            method: "POST".into(),
            request_bytes: 50,
            sent: Some(ms(5)),
            head: Some(ms(6)),
            status: Some(301),
            ..Hop::default()
        });
        trace.hops.push(Hop {
            url: "https://a.test/new".into(),
            began: ms(10),
            peer: Some("127.0.0.1:8443".into()),
            local: Some("127.0.0.1:5000".parse().unwrap()),
            method: "GET".into(),
            request_bytes: 40,
            resolve: Some((ms(10), ms(12))),
            addrs: vec![AddrTry {
                addr: "127.0.0.1:8443".into(),
                start: ms(12),
                took: ms(3),
                error: None,
            }],
            tls: Some(TlsHop {
                start: ms(15),
                end: ms(20),
                certs: 2,
                ..TlsHop::default()
            }),
            sent: Some(ms(21)),
            first_byte: Some(ms(25)),
            head: Some(ms(25)),
            status: Some(200),
            done: Some(ms(40)),
            ..Hop::default()
        });
        Outcome {
            url: Some("https://a.test/new".into()),
            head: Some(test_head(
                "HTTP/1.1 200 OK|Content-Type: text/plain|X-A: 1|Location: /x",
            )),
            history: vec![test_head("HTTP/1.1 301 Moved|Location: /new")],
            uploaded: 7,
            written: 4000,
            received: 4000,
            trace,
            ..Outcome::new("https://a.test/old")
        }
    }

    /// A transfer that never got an answer.
    fn unanswered() -> Outcome {
        Outcome::new("http://b.test")
    }

    /// A retried transfer whose last answer is a redirect not followed.
    fn retried() -> Outcome {
        let mut o = redirected();
        o.trace.hops[1].attempt = 1;
        o.trace.hops[1].reused = true;
        o.history.clear();
        o.head = Some(test_head("HTTP/1.0 302 Found|Location: ../next?q"));
        o
    }

    fn context(outcome: &Outcome) -> Context<'_> {
        Context {
            outcome,
            code: 0,
            error: "",
            filename: "f.txt",
            index: 3,
            uploaded: 7,
        }
    }

    #[test]
    fn the_variables_are_sorted_lowercase_and_every_json_value_is_one() {
        for pair in VARIABLES.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
        }
        for (name, _) in VARIABLES {
            assert_eq!(*name, name.to_ascii_lowercase());
        }
        for (key, kind) in JSON_KEYS {
            let known = VARIABLES.iter().any(|(n, _)| n == key);
            assert_eq!(known, "nsq".contains(*kind), "{key}");
        }
    }

    #[test]
    fn variables_read_the_last_try_and_its_last_hop() {
        let format = "%{http_code} %{num_redirects} %{num_connects} %{size_request} \
                      %{time_namelookup} %{time_connect} %{time_appconnect} %{time_redirect} \
                      %{time_total} %{speed_download} %{remote_ip}:%{remote_port} \
                      %{local_port} %{scheme} %{method} %{http_version} %{redirect_url} \
                      %{URL} %{url_effective} %{bogus}.";
        let cases = [
            (
                redirected(),
                "200 1 2 97 0.012000 0.015000 0.020000 0.010000 0.040000 100000 \
                 127.0.0.1:8443 5000 HTTPS GET 1.1  https://a.test/old https://a.test/new .",
            ),
            (
                unanswered(),
                "000 0 0 7 0.000000 0.000000 0.000000 0.000000 0.000000 0 :0 0   0  \
                 http://b.test/ http://b.test/ .",
            ),
            (
                retried(),
                "302 0 0 47 0.012000 0.015000 0.020000 0.000000 0.040000 100000 \
                 127.0.0.1:8443 5000 HTTPS GET 1.0 https://a.test/next?q https://a.test/old \
                 https://a.test/new .",
            ),
        ];
        for (o, want) in cases {
            let written = render(format, &context(&o));
            assert_eq!(String::from_utf8_lossy(&written.stdout), want);
            assert_eq!(
                String::from_utf8_lossy(&written.stderr),
                "fetch: unknown --write-out variable: 'bogus'\n"
            );
        }
    }
}
