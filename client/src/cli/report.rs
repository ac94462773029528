//! What a transfer took, shown two ways: `--timing`, a waterfall picture for people, and
//! `--report-json`, one line of JSON per transfer for programs (schema in docs/fetch-json.md).

use std::fmt::Write as _;
use std::time::Duration;

use super::transfer::Outcome;
use crate::trace::{Hop, Trace};

/// The version of the `--report-json` line's layout; bumped when a field changes meaning or goes
/// away (new fields may be added without a bump).
pub const JSON_SCHEMA: u32 = 1;

/// Width of the bars in the timing picture, in characters.
const WIDTH: usize = 40;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One row of the picture: a label and a span of time.
struct Row {
    label: String,
    start: Duration,
    end: Duration,
    note: String,
}

fn rows(hop: &Hop) -> Vec<Row> {
    let mut rows = Vec::new();
    let row = |label: String, start: Duration, end: Duration| Row {
        label,
        start,
        end: end.max(start),
        note: String::new(),
    };
    if hop.reused {
        let peer = hop.peer.clone().unwrap_or_default();
        rows.push(row(format!("reuse {peer}"), hop.began, hop.began));
    }
    if let Some((a, b)) = hop.resolve {
        rows.push(row("resolve".into(), a, b));
    }
    let mut ready = hop.resolve.map_or(hop.began, |r| r.1);
    for a in &hop.addrs {
        let mut r = row(format!("connect {}", a.addr), a.start, a.start + a.took);
        match &a.error {
            Some(e) => r.note = format!("  ✗ {e}"),
            None => ready = a.start + a.took,
        }
        rows.push(r);
    }
    if let Some(tls) = &hop.tls {
        let mut r = row("TLS handshake".into(), tls.start, tls.end);
        r.note = format!("  {} {}", tls.version, tls.cipher);
        rows.push(r);
        ready = tls.end;
    }
    if let Some(sent) = hop.sent {
        rows.push(row("request sent".into(), ready, sent));
        if let Some(first) = hop.first_byte {
            rows.push(row("first byte".into(), sent, first));
            if let Some(done) = hop.done {
                rows.push(row("body done".into(), hop.head.unwrap_or(first), done));
            }
        }
    }
    rows
}

/// The waterfall for one transfer: a title line, then for every hop its phases as bars on
/// one time scale (the whole transfer), each with its start and duration in ms.
pub fn timing(o: &Outcome) -> String {
    let trace: &Trace = &o.trace;
    let total = trace.end().max(Duration::from_micros(1));
    let mut out = String::new();
    let status = o
        .head
        .as_ref()
        .map_or("no response".into(), |h| h.status().to_string());
    let _ = writeln!(
        out,
        "timing {}: {status}, {} body bytes in {:.3} ms",
        o.target,
        o.written,
        ms(total)
    );
    let all: Vec<(usize, &Hop, Vec<Row>)> = trace
        .hops
        .iter()
        .enumerate()
        .map(|(i, h)| (i, h, rows(h)))
        .collect();
    let label_width = all
        .iter()
        .flat_map(|(_, _, r)| r.iter().map(|r| r.label.chars().count()))
        .max()
        .unwrap_or(0)
        .max(12);
    for (i, hop, rows) in &all {
        let status = hop.status.map_or("-".into(), |s| s.to_string());
        let retry = if hop.attempt > 0 {
            format!(" (retry {})", hop.attempt)
        } else {
            String::new()
        };
        let _ = writeln!(out, "  hop {} {} {status}{retry}", i + 1, hop.url);
        for r in rows {
            let _ = writeln!(
                out,
                "    {:<label_width$} |{}| {:>9.3} +{:>9.3} ms{}",
                r.label,
                bar(r.start, r.end, total),
                ms(r.start),
                ms(r.end - r.start),
                r.note
            );
        }
    }
    out
}

/// A bar of [`WIDTH`] characters: blank before `start`, filled to `end`, at least one cell.
fn bar(start: Duration, end: Duration, total: Duration) -> String {
    let cell = |d: Duration| {
        ((d.as_secs_f64() / total.as_secs_f64()) * WIDTH as f64)
            .round()
            .min(WIDTH as f64) as usize
    };
    let from = cell(start).min(WIDTH - 1);
    let to = cell(end).max(from + 1).min(WIDTH);
    let mut s = String::with_capacity(WIDTH * 3);
    s.extend(std::iter::repeat_n(' ', from));
    s.extend(std::iter::repeat_n('█', to - from));
    s.extend(std::iter::repeat_n(' ', WIDTH - to));
    s
}

fn opt_ms(out: &mut String, d: Option<Duration>) {
    match d {
        Some(d) => {
            let _ = write!(out, "{:.3}", ms(d));
        }
        None => out.push_str("null"),
    }
}

/// The `--report-json` line for one transfer (without the newline). Fields, in schema 1:
/// `schema`, `target`, `url`, `exit_code`, `error`, `status`, `http_version`, `headers`
/// (`[name, value]` pairs in order), `bytes`, `bytes_received`, `resumed_from`, `retries`,
/// `time_ms`, `hops` (each: `attempt`, `url`, `status`, `peer`, `reused`, `began_ms`,
/// `resolve_ms` (`[start, end]` or null), `addresses` (each: `address`, `start_ms`,
/// `duration_ms`, `error`), `tls` (`start_ms`, `duration_ms`, `protocol`, `cipher`, or
/// null), `sent_ms`, `first_byte_ms`, `head_ms`, `done_ms`). Times are
/// milliseconds from the start of the transfer.
pub fn json(o: &Outcome, exit_code: i32) -> String {
    let mut out = String::with_capacity(512);
    let _ = write!(out, "{{\"schema\":{JSON_SCHEMA},\"target\":");
    shared::json_string(&mut out, &o.target);
    out.push_str(",\"url\":");
    opt_string(&mut out, o.url.as_deref());
    let _ = write!(out, ",\"exit_code\":{exit_code},\"error\":");
    opt_string(
        &mut out,
        o.result.as_ref().err().map(ToString::to_string).as_deref(),
    );
    match &o.head {
        Some(h) => {
            let _ = write!(out, ",\"status\":{},\"http_version\":", h.status());
            shared::json_string(&mut out, &h.version().to_string());
            out.push_str(",\"headers\":[");
            for (i, (name, value)) in h.headers().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('[');
                shared::json_string(&mut out, name);
                out.push(',');
                shared::json_string(&mut out, &String::from_utf8_lossy(value));
                out.push(']');
            }
            out.push(']');
        }
        None => out.push_str(",\"status\":null,\"http_version\":null,\"headers\":[]"),
    }
    let _ = write!(
        out,
        ",\"bytes\":{},\"bytes_received\":{},\"resumed_from\":{},\"retries\":{},\"time_ms\":{:.3},\"hops\":[",
        o.written,
        o.received,
        o.resumed_from,
        o.retries,
        ms(o.trace.end())
    );
    for (i, hop) in o.trace.hops.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_hop(&mut out, hop);
    }
    out.push_str("]}");
    out
}

/// One hop of the `--report-json` line, as `json` lists the fields.
fn json_hop(out: &mut String, hop: &Hop) {
    let _ = write!(out, "{{\"attempt\":{},\"url\":", hop.attempt);
    shared::json_string(out, &hop.url);
    out.push_str(",\"status\":");
    match hop.status {
        Some(s) => {
            let _ = write!(out, "{s}");
        }
        None => out.push_str("null"),
    }
    out.push_str(",\"peer\":");
    opt_string(out, hop.peer.as_deref());
    let _ = write!(
        out,
        ",\"reused\":{},\"began_ms\":{:.3},\"resolve_ms\":",
        hop.reused,
        ms(hop.began)
    );
    match hop.resolve {
        Some((a, b)) => {
            let _ = write!(out, "[{:.3},{:.3}]", ms(a), ms(b));
        }
        None => out.push_str("null"),
    }
    out.push_str(",\"addresses\":[");
    for (j, a) in hop.addrs.iter().enumerate() {
        if j > 0 {
            out.push(',');
        }
        out.push_str("{\"address\":");
        shared::json_string(out, &a.addr);
        let _ = write!(
            out,
            ",\"start_ms\":{:.3},\"duration_ms\":{:.3},\"error\":",
            ms(a.start),
            ms(a.took)
        );
        opt_string(out, a.error.as_deref());
        out.push('}');
    }
    out.push_str("],\"tls\":");
    match &hop.tls {
        Some(t) => {
            let _ = write!(
                out,
                "{{\"start_ms\":{:.3},\"duration_ms\":{:.3},\"protocol\":",
                ms(t.start),
                ms(t.end.saturating_sub(t.start))
            );
            shared::json_string(out, &t.version);
            out.push_str(",\"cipher\":");
            shared::json_string(out, &t.cipher);
            out.push('}');
        }
        None => out.push_str("null"),
    }
    for (name, at) in [
        ("sent_ms", hop.sent),
        ("first_byte_ms", hop.first_byte),
        ("head_ms", hop.head),
        ("done_ms", hop.done),
    ] {
        let _ = write!(out, ",\"{name}\":");
        opt_ms(out, at);
    }
    out.push('}');
}

/// A JSON string, or `null`.
fn opt_string(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => shared::json_string(out, s),
        None => out.push_str("null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{AddrTry, TlsHop};

    const EMPTY: &str = concat!(
        r#"{"schema":1,"target":"http://a.test/x","url":null,"exit_code":7,"error":null"#,
        r#","status":null,"http_version":null,"headers":[],"bytes":0,"bytes_received":0"#,
        r#","resumed_from":0,"retries":0,"time_ms":0.000,"hops":[]}"#,
    );
    const FULL: &str = concat!(
        r#"{"schema":1,"target":"http://a.test/x","url":"http://a.test/y\"","exit_code":0"#,
        r#","error":"bad \"x\"","status":200,"http_version":"HTTP/1.1","headers":[["A","b\""]"#,
        r#",["C","d"]],"bytes":5,"bytes_received":6,"resumed_from":7,"retries":8"#,
        r#","time_ms":0.013,"hops":[{"attempt":0,"url":"","status":null,"peer":null"#,
        r#","reused":false,"began_ms":0.000,"resolve_ms":null,"addresses":[],"tls":null"#,
        r#","sent_ms":null,"first_byte_ms":null,"head_ms":null,"done_ms":null},{"attempt":1"#,
        r#","url":"u","status":200,"peer":"p","reused":true,"began_ms":1.234"#,
        r#","resolve_ms":[0.001,0.002],"addresses":[{"address":"a1","start_ms":0.003"#,
        r#","duration_ms":0.004,"error":"no"},{"address":"a2","start_ms":0.005"#,
        r#","duration_ms":0.006,"error":null}],"tls":{"start_ms":0.007,"duration_ms":0.002"#,
        r#","protocol":"v","cipher":"c"},"sent_ms":0.010,"first_byte_ms":0.011,"head_ms":0.012"#,
        r#","done_ms":0.013}]}"#,
    );

    #[test]
    fn the_report_line_is_schema_1_field_for_field() {
        let d = Duration::from_micros;
        let mut o = Outcome::new("http://a.test/x");
        assert_eq!(json(&o, 7), EMPTY);
        o.url = Some("http://a.test/y\"".into());
        o.result = Err(crate::error::Error::Usage("bad \"x\"".into()));
        o.head = Some(crate::head::test_head("HTTP/1.1 200 OK|A: b\"|C: d"));
        o.trace.hops.push(Hop::default());
        o.trace.hops.push(Hop {
            attempt: 1,
            url: "u".into(),
            status: Some(200),
            peer: Some("p".into()),
            reused: true,
            began: d(1234),
            resolve: Some((d(1), d(2))),
            addrs: vec![
                AddrTry {
                    addr: "a1".into(),
                    start: d(3),
                    took: d(4),
                    error: Some("no".into()),
                },
                AddrTry {
                    addr: "a2".into(),
                    start: d(5),
                    took: d(6),
                    error: None,
                },
            ],
            tls: Some(TlsHop {
                start: d(7),
                end: d(9),
                version: "v".into(),
                cipher: "c".into(),
                certs: 1,
            }),
            sent: Some(d(10)),
            first_byte: Some(d(11)),
            head: Some(d(12)),
            done: Some(d(13)),
            ..Hop::default()
        });
        o.written = 5;
        o.received = 6;
        o.resumed_from = 7;
        o.retries = 8;
        assert_eq!(json(&o, 0), FULL);
    }

    #[test]
    fn bars_scale_to_the_total() {
        let ms = Duration::from_millis;
        let b = bar(ms(0), ms(50), ms(100));
        assert_eq!(b.chars().count(), WIDTH);
        assert_eq!(b.chars().filter(|&c| c == '█').count(), WIDTH / 2);
        assert!(b.starts_with('█'));
        // A tiny phase still shows one cell, and the last cell is reachable.
        let b = bar(ms(100), ms(100), ms(100));
        assert_eq!(b.chars().filter(|&c| c == '█').count(), 1);
        assert!(b.ends_with('█'));
    }
}
