//! `-v`: what a request does, told on stderr as it happens (curl's `*`, `>` and `<` lines).

use std::io::{self, Write};

use shared::duration_words;

use crate::event::Event;

/// `-v`: what happens, on stderr.
pub(crate) fn verbose(event: &Event<'_>) {
    let mut err = io::stderr().lock();
    // Diagnostics must never stop a transfer: a closed stderr is ignored.
    let _ = match event {
        Event::Resolved { host, addrs } => {
            let list: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
            writeln!(err, "* resolved {host} to {}", list.join(", "))
        }
        Event::Connected {
            peer,
            failed,
            elapsed,
        } => {
            for a in *failed {
                let _ = writeln!(err, "* trying {}: {}", a.addr, a.reason);
            }
            writeln!(err, "* connected to {peer} in {}", duration_words(*elapsed))
        }
        Event::Reused { peer } => writeln!(err, "* reusing the connection to {peer}"),
        Event::Retry { peer, reason } => writeln!(
            err,
            "* the kept-alive connection to {peer} failed ({reason}); sending again on a new one"
        ),
        Event::RequestHead(bytes) => head_lines(&mut err, "> ", bytes),
        Event::ResponseHead(bytes) => head_lines(&mut err, "< ", bytes),
        // As curl: -v shows heads, not bodies.
        Event::RequestBody(_) => Ok(()),
        Event::Redirect { status, to } => writeln!(err, "* following the {status} to {to}"),
        #[cfg(feature = "tls")]
        Event::Tls(info) => tls_lines(&mut err, info),
    };
}

/// The handshake, in curl's words (`-v` with OpenSSL).
#[cfg(feature = "tls")]
fn tls_lines(err: &mut impl Write, info: &crate::TlsInfo) -> io::Result<()> {
    if info.verified {
        writeln!(err, "*  CAfile: {}", info.ca.0)?;
        writeln!(err, "*  CApath: {}", info.ca.1)?;
    }
    let resumed = if info.resumed { " (resumed)" } else { "" };
    writeln!(
        err,
        "* SSL connection using {} / {}{resumed}",
        info.version, info.cipher
    )?;
    match &info.alpn {
        Some(p) => writeln!(err, "* ALPN: server accepted {p}")?,
        None => writeln!(
            err,
            "* ALPN: server did not agree on a protocol. Uses default."
        )?,
    }
    if let Some(c) = &info.certificate {
        writeln!(err, "* Server certificate:")?;
        writeln!(err, "*  subject: {}", c.subject)?;
        writeln!(err, "*  start date: {}", c.start)?;
        writeln!(err, "*  expire date: {}", c.expire)?;
        if let Some(name) = c.names.iter().find(|n| name_matches(n, &info.host)) {
            writeln!(
                err,
                "*  subjectAltName: host \"{}\" matched cert's \"{name}\"",
                info.host
            )?;
        }
        writeln!(err, "*  issuer: {}", c.issuer)?;
    }
    if info.verified {
        writeln!(err, "*  SSL certificate verify ok.")
    } else {
        writeln!(
            err,
            "*  SSL certificate verify skipped (-k), continuing anyway."
        )
    }
}

/// Whether a certificate's name (perhaps `*.example.com`) covers `host`.
#[cfg(feature = "tls")]
fn name_matches(name: &str, host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match name.strip_prefix("*.") {
        Some(rest) => host
            .split_once('.')
            .is_some_and(|(_, h)| h.eq_ignore_ascii_case(rest)),
        None => name.eq_ignore_ascii_case(host),
    }
}

fn head_lines(err: &mut impl Write, prefix: &str, bytes: &[u8]) -> io::Result<()> {
    let text = String::from_utf8_lossy(bytes);
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if !line.is_empty() {
            writeln!(err, "{prefix}{line}")?;
        }
    }
    writeln!(err, "{}", prefix.trim_end())
}
