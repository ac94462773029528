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
    };
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
