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
