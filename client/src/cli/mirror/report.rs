//! What a crawl tells: a count per outcome, the closing summary line, and one
//! `--report-json` line per URL (docs/fetch-json.md, "Mirror").

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use shared::{Target, bytes_words, duration_words};

/// How many URLs came to each end.

#[derive(Default)]
pub struct Counts {
    pub new: AtomicU64,
    pub changed: AtomicU64,
    pub unchanged: AtomicU64,
    pub failed: AtomicU64,
    pub refused: AtomicU64,
    pub off_site: AtomicU64,
    pub parent: AtomicU64,
    pub level: AtomicU64,
    pub quota: AtomicU64,
    pub same_file: AtomicU64,
    pub robots: AtomicU64,
    pub rejected: AtomicU64,
    /// URLs not followed by --accept-regex or --reject-regex.
    pub regex: AtomicU64,
    pub removed: AtomicU64,
    /// URLs not followed because MAX_URLS were tracked.
    pub too_many: AtomicU64,
}

/// What became of one visited URL: a count in the summary, the `outcome` of its
/// --report-json line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    New,
    Changed,
    Unchanged,
    Failed,
    Skipped,
    SameFile,
    Rejected,
    Quota,
    Listed,
    Redirect,
}

impl Outcome {
    pub fn word(self) -> &'static str {
        match self {
            Outcome::New => "new",
            Outcome::Changed => "changed",
            Outcome::Unchanged => "unchanged",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
            Outcome::SameFile => "same-file",
            Outcome::Rejected => "rejected",
            Outcome::Quota => "quota",
            Outcome::Listed => "listed",
            Outcome::Redirect => "redirect",
        }
    }
}

/// The `reason` of a file found unchanged by its folder's listing, without a request.
pub const BY_LISTING: &str = "same size and time in the folder's listing";

/// The rest of a --report-json line.
#[derive(Debug, Default)]
pub struct Report<'r> {
    pub status: Option<u16>,
    /// The file, relative to DIR.
    pub file: Option<&'r Path>,
    pub bytes: u64,
    /// Why it was skipped or failed; where a redirect leads.
    pub reason: &'r str,
    pub code: i32,
}

impl Report<'_> {
    pub fn status(status: u16) -> Report<'static> {
        Report {
            status: Some(status),
            ..Report::default()
        }
    }
}

/// One line of --report-json for a mirrored URL (docs/fetch-json.md, "Mirror").
pub fn report_line(url: &str, outcome: Outcome, r: &Report<'_>) -> String {
    let mut line = String::from("{\"schema\":1,\"mirror\":true,\"url\":");
    shared::json_string(&mut line, url);
    line.push_str(",\"outcome\":\"");
    line.push_str(outcome.word());
    line.push_str("\",\"status\":");
    match r.status {
        Some(s) => line.push_str(&s.to_string()),
        None => line.push_str("null"),
    }
    line.push_str(",\"file\":");
    match r.file {
        Some(f) => shared::json_string(&mut line, &f.to_string_lossy()),
        None => line.push_str("null"),
    }
    line.push_str(&format!(
        ",\"bytes\":{},\"exit_code\":{},\"reason\":",
        r.bytes, r.code
    ));
    if r.reason.is_empty() {
        line.push_str("null");
    } else {
        shared::json_string(&mut line, r.reason);
    }
    line.push_str("}\n");
    line
}

/// The closing line: files new, changed, unchanged and failed, what was not followed and
/// why, bytes and time.
pub fn summary(c: &Counts, start: &Target, dir: &Path, bytes: u64, took: Duration) -> String {
    let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let mut not = Vec::new();
    for (count, what) in [
        (n(&c.refused), "unsafe names"),
        (n(&c.off_site), "off-site"),
        (n(&c.parent), "above the start (--no-parent)"),
        (n(&c.level), "beyond --level"),
        (n(&c.quota), "past --quota"),
        (n(&c.robots), "disallowed by robots.txt"),
        (n(&c.rejected), "not kept by --accept/--reject"),
        (n(&c.regex), "not followed by --accept-regex/--reject-regex"),
        (n(&c.too_many), "beyond the URL limit"),
        (n(&c.same_file), "saved under another URL"),
    ] {
        if count > 0 {
            not.push(format!("{count} {what}"));
        }
    }
    let not = if not.is_empty() {
        String::new()
    } else {
        format!("; not fetched: {}", not.join(", "))
    };
    format!(
        "fetch: mirror of {} in {}: {} new, {} changed, {} unchanged, {} failed{}{not}; {} in {}",
        start,
        dir.display(),
        n(&c.new),
        n(&c.changed),
        n(&c.unchanged),
        n(&c.failed),
        match n(&c.removed) {
            0 => String::new(),
            r => format!(", {r} removed"),
        },
        bytes_words(bytes),
        duration_words(took)
    )
}
