//! Hardening (issue 9): `serve` under hostile requests, slow and greedy clients, exhausted
//! resources and faults; `fetch` against hostile servers; and a replay of the fuzzing corpora
//! through the same parsers.

mod corpora;
mod digests;
mod faults;
mod requests;
mod responses;
mod slow;
mod tls;

// The jail fixture, where the hostile tests have always found it.
pub use crate::support::jail::{Jail, SECRET};

/// Reads a process's `Name:  value` line from /proc/PID/status (e.g. `Threads`, `VmRSS`,
/// `VmHWM`), as a number (kB for memory).
pub fn proc_status(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// CPU time (user + system) a process has used so far, in clock ticks (1/100 s here).
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// How many established TCP connections on local port `port` hold bytes their peer has not
/// taken yet (`tx_queue` above 0 in /proc/net/tcp and tcp6): for a server's port, the
/// clients it is blocked writing to.
pub fn queued_sends(port: u16) -> usize {
    let local_port = format!(":{port:04X}");
    let stuck = |line: &str| {
        // sl, local address, remote address, state (01: established), tx_queue:rx_queue, ...
        let f: Vec<&str> = line.split_whitespace().collect();
        f.len() > 4
            && f[1].ends_with(&local_port)
            && f[3] == "01"
            && f[4]
                .split(':')
                .next()
                .and_then(|tx| u64::from_str_radix(tx, 16).ok())
                .is_some_and(|tx| tx > 0)
    };
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .map(|text| text.lines().skip(1).filter(|l| stuck(l)).count())
        .sum()
}
