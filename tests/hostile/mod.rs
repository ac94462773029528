//! Hardening (issue 9): `serve` under hostile requests, slow and greedy clients, exhausted
//! resources and faults; `fetch` against hostile servers; and a replay of the fuzzing corpora
//! through the same parsers.

mod corpora;
mod faults;
mod requests;
mod responses;
mod slow;

use std::path::{Path, PathBuf};

/// What the secret file outside the root holds: no response may ever contain it.
pub const SECRET: &str = "OUTSIDE-THE-ROOT-5f1c0d9e";

/// A site root inside a temp folder, with a secret file beside the root (never inside),
/// a symlink from the root to it, a 1000-byte file for ranges, and a subfolder.
pub struct Jail {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
}

impl Jail {
    pub fn new() -> Jail {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(dir.path().join("secret.txt"), SECRET).unwrap();
        std::fs::write(root.join("index.html"), "<h1>home</h1>\n").unwrap();
        std::fs::write(root.join("sub/index.html"), "sub\n").unwrap();
        let thousand: Vec<u8> = (0..1000u32).map(|i| b'a' + (i % 26) as u8).collect();
        std::fs::write(root.join("file.txt"), thousand).unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("link-out")).unwrap();
        std::os::unix::fs::symlink(dir.path(), root.join("updir")).unwrap();
        Jail { dir, root }
    }

    pub fn root_str(&self) -> &str {
        self.root.to_str().unwrap()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        Path::new(&self.root).join(rel)
    }
}

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
