//! `-w`/`--write-out`: curl's format, rendered after each transfer. `%{name}` is a variable
//! (names compared without regard to case), `%header{name}` a header of the final
//! response, `%%` a percent sign, `\n`, `\r` and `\t` what they say; `%{stdout}` and
//! `%{stderr}` switch where the rest goes, and `%{onerror}` drops the rest unless the
//! transfer failed. Anything else is written as it stands; an unknown variable writes
//! nothing and a warning on stderr, as in curl. Times are seconds with six decimals.

use std::net::SocketAddr;
use std::time::Duration;

use super::transfer::Outcome;

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
    let o = cx.outcome;
    let head = o.head.as_ref();
    let hop = o.trace.hops.last();
    let total = o.trace.end();
    // Values that cost a parse or a copy are closures, made only for the variable that
    // names them: -w runs once per transfer (a 1000-file -Z run), for one variable or two.
    let peer = || -> Option<SocketAddr> { hop.and_then(|h| h.peer.as_deref()?.parse().ok()) };
    // Without a final response (too many redirects, a redirect to nowhere), curl reports
    // the last status received and the redirects followed: read them from the trace.
    let attempt = o.trace.hops.last().map_or(0, |h| h.attempt);
    let hops = o.trace.hops.iter().filter(|h| h.attempt == attempt);
    let last_status = hops.clone().filter_map(|h| h.status).next_back();
    let redirects = match head {
        Some(_) => o.history.len(),
        None => hops.count().saturating_sub(1),
    };
    let status = || {
        head.map(|h| h.status())
            .or(last_status)
            .map_or("000".into(), |s| format!("{s:03}"))
    };
    // The phases of the last request, from the start of the transfer (curl's times add up).
    let began = hop.map_or(Duration::ZERO, |h| h.began);
    let looked_up = hop.and_then(|h| h.resolve.map(|r| r.1)).unwrap_or(began);
    let connected = hop
        .and_then(|h| h.addrs.iter().find(|a| a.error.is_none()))
        .map_or(looked_up, |a| a.start + a.took);
    // The TLS handshake's end (curl's appconnect; 0 for plain HTTP or a reused connection).
    let tls = hop.and_then(|h| h.tls.as_ref());
    let appconnect = tls.map_or(Duration::ZERO, |t| t.end);
    let first_byte = hop.and_then(|h| h.first_byte).unwrap_or_default();
    let rate = |bytes: u64| {
        let s = total.as_secs_f64();
        if s > 0.0 {
            format!("{:.0}", bytes as f64 / s)
        } else {
            "0".into()
        }
    };
    let url = || {
        o.url.clone().unwrap_or_else(|| {
            shared::Target::parse(&o.target).map_or(o.target.clone(), |t| t.to_string())
        })
    };
    Some(match name {
        "http_code" | "response_code" => status(),
        "url_effective" => url(),
        "url" => shared::Target::parse(&o.target).map_or(o.target.clone(), |t| t.to_string()),
        "urlnum" => cx.index.to_string(),
        "redirect_url" => redirect_url(o).unwrap_or_default(),
        "num_redirects" => redirects.to_string(),
        "size_download" => o.received.to_string(),
        "size_upload" => cx.uploaded.to_string(),
        "size_header" => o
            .history
            .iter()
            .chain(head)
            .map(|h| h.raw().len())
            .sum::<usize>()
            .to_string(),
        "speed_download" => rate(o.received),
        "speed_upload" => rate(cx.uploaded),
        "time_namelookup" => secs(looked_up),
        "time_connect" => secs(connected),
        "time_appconnect" => secs(appconnect),
        "time_pretransfer" => secs(connected.max(appconnect)),
        "num_certs" => tls.map_or(0, |t| t.certs).to_string(),
        // A failed check is an exit code, never a transfer: what is reported is 0 (and -k
        // checks nothing).
        "ssl_verify_result" => "0".into(),
        "time_starttransfer" => secs(first_byte),
        "time_redirect" => secs(if o.history.is_empty() {
            Duration::ZERO
        } else {
            began
        }),
        "time_total" => secs(total),
        "content_type" => head
            .and_then(|h| h.header("content-type"))
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default(),
        "exitcode" => cx.code.to_string(),
        "errormsg" => cx.error.to_string(),
        "remote_ip" => peer().map(|p| p.ip().to_string()).unwrap_or_default(),
        "remote_port" => peer().map_or(0, |p| p.port()).to_string(),
        "num_headers" => head.map_or(0, |h| h.headers().len()).to_string(),
        "http_version" => head
            .map(|h| {
                h.version()
                    .to_string()
                    .trim_start_matches("HTTP/")
                    .to_string()
            })
            .unwrap_or_else(|| "0".into()),
        "filename_effective" => cx.filename.to_string(),
        "local_ip" => hop
            .and_then(|h| h.local)
            .map(|a| a.ip().to_string())
            .unwrap_or_default(),
        "local_port" => hop
            .and_then(|h| h.local)
            .map_or(0, |a| a.port())
            .to_string(),
        "method" => hop.map(|h| h.method.clone()).unwrap_or_default(),
        "num_connects" => o
            .trace
            .hops
            .iter()
            .filter(|h| h.attempt == attempt && h.peer.is_some() && !h.reused)
            .count()
            .to_string(),
        "size_request" => o
            .trace
            .hops
            .iter()
            // Only what went out: a request never sent counts nothing.
            .filter(|h| h.attempt == attempt && h.sent.is_some())
            .map(|h| h.request_bytes)
            .sum::<u64>()
            .saturating_add(cx.uploaded)
            .to_string(),
        // curl names the scheme once it has connected.
        "scheme" if peer().is_some() || hop.is_some_and(|h| h.peer.is_some()) => {
            let https = hop.is_some_and(|h| h.url.starts_with("https://"));
            if https { "HTTPS" } else { "HTTP" }.into()
        }
        "scheme" => String::new(),
        _ => return None,
    })
}

/// `%{json}`: every variable in one JSON object, with curl 7.88's keys in its order;
/// numbers and times bare, strings quoted, `null` where curl has no value. The TLS and FTP
/// keys are there with the values curl gives them on plain HTTP.
fn json(cx: &Context<'_>) -> String {
    const KEYS: &[(&str, char)] = &[
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
    let quote = |v: &str| {
        let mut q = String::from("\"");
        for c in v.chars() {
            match c {
                '"' => q.push_str("\\\""),
                '\\' => q.push_str("\\\\"),
                '\n' => q.push_str("\\n"),
                '\r' => q.push_str("\\r"),
                '\t' => q.push_str("\\t"),
                c if (c as u32) < 0x20 => q.push_str(&format!("\\u{:04x}", c as u32)),
                c => q.push(c),
            }
        }
        q.push('"');
        q
    };
    let mut out = String::from("{");
    for (key, kind) in KEYS {
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
