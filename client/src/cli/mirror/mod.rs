//! `--mirror` and `--recursive`: the crawl. One start URL; a queue of URLs still to visit
//! (the frontier) and the set of those already seen, keyed by a hash of the normalized URL
//! (so memory grows by a few bytes per URL, whatever the pages hold); the `-Z` pool's
//! threads each take the next URL, fetch it (conditionally when a copy is on disk), save it
//! (`local.rs` for where, `.part` then rename), and offer what it links to
//! (`links.rs`, or `listing.rs` for a folder serve lists in JSON) back to the queue, where
//! the bounds are applied: same host and port, `--no-parent`, `--level`, `--quota`.
//! Validators between runs: `state.rs`.

mod convert;
mod links;
mod listing;
mod local;
mod pattern;
mod robots;
mod state;

use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::hash::{BuildHasher, RandomState};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use shared::{Endpoint, Target, bytes_words, duration_words};

use super::batch;
use super::config::{Config, MirrorSettings};
use super::output::part_path;
use super::progress::{Bar, Progress};
use super::retry;
use crate::error::Error;
use crate::request::{HeaderEdit, Method, Request};
use crate::response::Response;
use crate::trace::Trace;

/// The most URLs one crawl keeps track of; beyond, new links are not followed (said once).
const MAX_URLS: usize = 1 << 22;
/// The largest style sheet read back for its links (HTML is tokenized as it is read).
const MAX_CSS: u64 = 4 << 20;

/// Mirrors `config.targets[0]` as `config.mirror` says; returns the exit code: 0, or the
/// code of the first file that failed.
pub fn run(config: &Config) -> i32 {
    let Some(settings) = &config.mirror else {
        return 0;
    };
    let started = Instant::now();
    let start = match Target::parse(&config.targets[0]) {
        Ok(t) => t,
        Err(e) => return fail_now(&Error::from(e)),
    };
    if let Err(e) = std::fs::create_dir_all(settings.dir.join(local::STATE_DIR)) {
        return fail_now(&Error::Write {
            what: settings.dir.display().to_string(),
            reason: shared::io_words(&e),
        });
    }
    let robots = if settings.robots {
        fetch_robots(config, &start)
    } else {
        robots::Robots::allow_all()
    };
    let crawl = Crawl::new(config, settings, start, robots);
    let first = Link {
        target: crawl.start.clone(),
        depth: 0,
        inline: false,
    };
    crawl.offer(&mut crawl.lock(), first);
    // Each thread works until the frontier is empty and no thread can add to it.
    batch::on_pool(config.parallel, config.parallel, || crawl.work());
    crawl.progress.finish();
    if settings.convert_links {
        crawl.convert_links();
    }
    if settings.delete {
        crawl.delete_vanished();
    }
    crawl.summary(started);
    *crawl.code.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The robots.txt of the start URL's host: its rules for fetch; none when there is none
/// (or a 4xx, or a redirect); nothing allowed when the server fails (5xx), as RFC 9309 asks.
fn fetch_robots(config: &Config, start: &Target) -> robots::Robots {
    let target = Target {
        endpoint: start.endpoint.clone(),
        path: "/robots.txt".into(),
    };
    let mut resp = match config
        .client
        .send(&Request::new(Method::Get), &target, &mut Trace::new())
    {
        Ok(r) => r,
        Err(_) => return robots::Robots::allow_all(),
    };
    match resp.status() {
        200 => {
            let mut text = Vec::new();
            let _ = (&mut resp).take(robots::MAX_ROBOTS).read_to_end(&mut text);
            let agent = "fetch";
            robots::Robots::parse(&String::from_utf8_lossy(&text), agent, normalize)
        }
        500.. => {
            if !config.silent {
                let _ = writeln!(
                    io::stderr(),
                    "fetch: {target}: {}: nothing is fetched (--execute robots=off to go on)",
                    resp.status()
                );
            }
            robots::Robots::disallow_all()
        }
        _ => {
            drain(&mut resp);
            robots::Robots::allow_all()
        }
    }
}

fn fail_now(e: &Error) -> i32 {
    let _ = writeln!(io::stderr(), "fetch: {e}");
    e.exit_code()
}

/// What the threads share.
struct Crawl<'a> {
    config: &'a Config,
    settings: &'a MirrorSettings,
    start: Target,
    /// `--no-parent`: the start URL's folder, which every path must start with.
    parent: Option<String>,
    /// `HOST[:PORT]` under the folder, unless `--no-host-directories`.
    host_dir: PathBuf,
    /// Whether names that differ only in case are the same file in the folder.
    fold_case: bool,
    hasher: RandomState,
    /// One display for the whole crawl: a line per file being received, and a total line.
    progress: Progress,
    /// The robots.txt rules of each host visited (only the start's without --span-hosts).
    robots: Mutex<std::collections::HashMap<Endpoint, std::sync::Arc<robots::Robots>>>,
    accept: pattern::NameList,
    reject: pattern::NameList,
    /// Folders (hashes of their relative paths) made or found to be real folders in this
    /// run: the files in them need no new check of the way there.
    folders: Mutex<HashSet<u64>>,
    /// `--convert-links`: the pages and style sheets saved or kept, to convert at the end:
    /// (file relative to DIR, its URL, whether HTML).
    pages: Mutex<Vec<(PathBuf, Target, bool)>>,
    /// Held while a JSON listing is read and parsed.
    listing_gate: Mutex<()>,
    /// `--wait`: when the next request may start.
    next_request: Mutex<Option<Instant>>,
    queue: Mutex<Queue>,
    wake: Condvar,
    bytes: AtomicU64,
    counts: Counts,
    code: Mutex<i32>,
}

#[derive(Default)]
struct Queue {
    frontier: VecDeque<(Target, u32)>,
    seen: HashSet<u64>,
    /// Local paths already written or kept in this run.
    claimed: HashSet<u64>,
    /// URLs being visited now: the crawl ends when none are and the frontier is empty.
    busy: usize,
    full_said: bool,
}

#[derive(Default)]
struct Counts {
    new: AtomicU64,
    changed: AtomicU64,
    unchanged: AtomicU64,
    failed: AtomicU64,
    refused: AtomicU64,
    off_site: AtomicU64,
    parent: AtomicU64,
    level: AtomicU64,
    quota: AtomicU64,
    same_file: AtomicU64,
    robots: AtomicU64,
    rejected: AtomicU64,
    removed: AtomicU64,
    /// URLs not followed because MAX_URLS were tracked.
    too_many: AtomicU64,
}

/// One URL being visited; dropping it (after its links are offered, or in a panic) wakes
/// the threads waiting for work.
struct Busy<'c, 'a>(&'c Crawl<'a>);

impl Drop for Busy<'_, '_> {
    fn drop(&mut self) {
        self.0.lock().busy -= 1;
        self.0.wake.notify_all();
    }
}

/// A link found on a page, for the frontier.
struct Link {
    target: Target,
    /// Links away from the start URL.
    depth: u32,
    /// Needed to show the page it is on (`--page-requisites` takes it past `--level`).
    inline: bool,
}

/// What became of one visited URL: a count in the summary, the `outcome` of its
/// --report-json line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
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
    fn word(self) -> &'static str {
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

/// The rest of a --report-json line.
#[derive(Debug, Default)]
struct Report<'r> {
    status: Option<u16>,
    /// The file, relative to DIR.
    file: Option<&'r Path>,
    bytes: u64,
    /// Why it was skipped or failed; where a redirect leads.
    reason: &'r str,
    code: i32,
}

impl Report<'_> {
    fn status(status: u16) -> Report<'static> {
        Report {
            status: Some(status),
            ..Report::default()
        }
    }
}

/// One line of --report-json for a mirrored URL (docs/fetch-json.md, "Mirror").
fn report_line(url: &str, outcome: Outcome, r: &Report<'_>) -> String {
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

/// What visiting a URL found: links to offer, each with its depth.
enum Visit {
    /// Links to offer: (target, depth).
    Links(Vec<Link>),
}

impl<'a> Crawl<'a> {
    fn new(
        config: &'a Config,
        settings: &'a MirrorSettings,
        start: Target,
        robots: robots::Robots,
    ) -> Crawl<'a> {
        let parent = settings.no_parent.then(|| {
            let path = start.path.split('?').next().unwrap_or("/");
            path[..=path.rfind('/').unwrap_or(0)].to_string()
        });
        let host_dir = host_dir(settings, &start.endpoint);
        let mut robots_of = std::collections::HashMap::new();
        robots_of.insert(start.endpoint.clone(), std::sync::Arc::new(robots));
        Crawl {
            config,
            settings,
            parent,
            host_dir,
            fold_case: folds_case(&settings.dir.join(local::STATE_DIR)),
            start,
            hasher: RandomState::new(),
            // With 2 "targets" the total line is always there; its length grows with the
            // frontier.
            progress: Progress::new(config.progress, 2),
            robots: Mutex::new(robots_of),
            accept: pattern::NameList::parse(settings.accept.as_deref().unwrap_or("")),
            reject: pattern::NameList::parse(settings.reject.as_deref().unwrap_or("")),
            next_request: Mutex::new(None),
            listing_gate: Mutex::new(()),
            pages: Mutex::default(),
            folders: Mutex::default(),
            queue: Mutex::default(),
            wake: Condvar::new(),
            bytes: AtomicU64::new(0),
            counts: Counts::default(),
            code: Mutex::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One thread's loop: take a URL, visit it, offer its links; end when nothing is left
    /// to take and no other thread can add more.
    fn work(&self) {
        loop {
            let (target, depth) = {
                let mut q = self.lock();
                loop {
                    if let Some(next) = q.frontier.pop_front() {
                        q.busy += 1;
                        break next;
                    }
                    if q.busy == 0 {
                        self.wake.notify_all();
                        return;
                    }
                    q = self.wake.wait(q).unwrap_or_else(PoisonError::into_inner);
                }
            };
            // Counts this URL as done even if visiting it panics, so the other threads
            // still see the crawl end rather than wait for it forever.
            let _busy = Busy(self);
            let Visit::Links(found) = self.visit(&target, depth);
            self.progress.tick();
            let mut q = self.lock();
            for link in found {
                self.offer(&mut q, link);
            }
        }
    }

    /// Puts `target` in the frontier unless a bound says no or it was seen before.
    fn offer(&self, q: &mut Queue, link: Link) {
        let Link {
            target,
            depth,
            inline,
        } = link;
        let home = target.endpoint == self.start.endpoint;
        if !home && !self.spans_to(&target.endpoint) {
            self.counts.off_site.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let path = normalize(&target.path);
        if home
            && self
                .parent
                .as_ref()
                .is_some_and(|p| !path.starts_with(p.as_str()))
        {
            self.counts.parent.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let requisite = inline && self.settings.page_requisites;
        if self.settings.depth.is_some_and(|max| depth > max) && !requisite {
            self.counts.level.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if q.seen.len() >= MAX_URLS {
            self.counts.too_many.fetch_add(1, Ordering::Relaxed);
            if !q.full_said {
                q.full_said = true;
                self.say(&format!(
                    "fetch: more than {MAX_URLS} URLs: no new links are followed"
                ));
            }
            return;
        }
        if q.seen
            .insert(self.hasher.hash_one((&target.endpoint, &path)))
        {
            q.frontier.push_back((target, depth));
            self.progress.set_targets(q.seen.len() as u64);
        }
    }

    /// Fetches one URL, saves it, and returns what it links to.
    fn visit(&self, target: &Target, depth: u32) -> Visit {
        let url = target.to_string();
        let rel = match local::path_for(&target.path) {
            Ok(rel) if !self.settings.host_dirs && local::reserved(&rel) => {
                return self.refuse(&url, &local::Refusal::Reserved.to_string());
            }
            Ok(rel) => host_dir(self.settings, &target.endpoint)
                .join(cut_dirs(&rel, self.settings.cut_dirs)),
            Err(r) => return self.refuse(&url, &r.to_string()),
        };
        if !self
            .robots_of(&target.endpoint)
            .allows(&normalize(&target.path))
        {
            self.counts.robots.fetch_add(1, Ordering::Relaxed);
            return Visit::Links(Vec::new());
        }
        // --accept/--reject: a file not kept is not fetched, unless it may be a page with
        // links (read, then removed), as wget does.
        let keep = self.keeps(&rel);
        if !keep && !may_be_page(&rel) {
            return self.note(&url, Outcome::Rejected, Report::default());
        }
        if self
            .settings
            .quota
            .is_some_and(|q| self.bytes.load(Ordering::Relaxed) >= q)
        {
            return self.note(&url, Outcome::Quota, Report::default());
        }
        let root = &self.settings.dir;
        // Before anything on disk is looked at: a symlink on the way could lead out.
        if let Err(e) = self.check_parents(&rel) {
            return self.refuse(&url, &shared::io_words(&e));
        }
        let file = root.join(&rel);
        let meta = match std::fs::symlink_metadata(&file) {
            Ok(m) if m.file_type().is_symlink() => {
                return self.refuse(&url, "a symlink is in the way");
            }
            Ok(m) if m.is_file() => Some(m),
            _ => None,
        };
        let record = meta.as_ref().and_then(|m| state::load(root, &rel, m));
        let folder = target.path.split('?').next().unwrap_or("").ends_with('/');
        let mut ask_json = folder;
        loop {
            let mut req = Request::new(Method::Get);
            if ask_json {
                // serve answers a folder URL with its JSON listing only when the client
                // asks for JSON alone (a `text/html` anywhere gets the HTML page).
                req.headers
                    .push(HeaderEdit::new("Accept", Some("application/json")));
            }
            if let Some(r) = record.as_ref().filter(|r| !r.etag.is_empty()) {
                req.headers
                    .push(HeaderEdit::new("If-None-Match", Some(&r.etag)));
            } else if let Some(t) = meta.as_ref().and_then(|m| m.modified().ok()) {
                req.time_condition = Some(("If-Modified-Since".into(), httpdate::fmt_http_date(t)));
            }
            let mut resp = match self.send(&url, &req, target) {
                Ok(r) => r,
                Err(e) => return self.failed(&url, &e),
            };
            let status = resp.status();
            let content_type = header(&resp, "content-type")
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if ask_json && (status == 406 || (status == 200 && content_type.ends_with("json"))) {
                if status == 200 {
                    // One listing in memory at a time, however many threads: a large
                    // folder's JSON (and its parsed form) is the biggest thing a crawl holds.
                    let _one = self
                        .listing_gate
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    let mut body = Vec::new();
                    if let Err(e) = (&mut resp)
                        .take(listing::MAX_LISTING)
                        .read_to_end(&mut body)
                    {
                        return self.failed(&url, &Error::from_io(e, &url));
                    }
                    if let Some(l) = listing::parse(&body) {
                        if l.truncated > 0 {
                            self.say(&format!(
                                "fetch: {url}: the listing leaves out {} entries",
                                l.truncated
                            ));
                        }
                        self.note(&url, Outcome::Listed, Report::status(200));
                        let links = self.resolve(target, None, &l.refs, |_| false, depth + 1);
                        return Visit::Links(links);
                    }
                }
                // Not serve's listing: ask again as a browser would.
                drain(&mut resp);
                ask_json = false;
                continue;
            }
            return match status {
                304 if meta.is_some() => {
                    // Read the (empty) body to its end, so the connection is used again.
                    drain(&mut resp);
                    if !self.claim(&rel) {
                        return self.note(&url, Outcome::SameFile, Report::status(304));
                    }
                    let report = Report {
                        file: Some(&rel),
                        ..Report::status(304)
                    };
                    self.note(&url, Outcome::Unchanged, report);
                    let kind = record.as_ref().map_or("", |r| r.content_type.as_str());
                    Visit::Links(self.links_of(target, &file, kind, depth))
                }
                301 | 302 | 303 | 307 | 308 => {
                    let location = header(&resp, "location");
                    drain(&mut resp);
                    let report = Report {
                        reason: &location,
                        ..Report::status(status)
                    };
                    self.note(&url, Outcome::Redirect, report);
                    match crate::redirect::resolve(target, location.as_bytes()) {
                        // A redirect is a link from the same page, at the same depth.
                        Ok(t) => Visit::Links(vec![Link {
                            target: t,
                            depth,
                            inline: false,
                        }]),
                        Err(_) => {
                            self.counts.off_site.fetch_add(1, Ordering::Relaxed);
                            Visit::Links(Vec::new())
                        }
                    }
                }
                200..=299 => {
                    if !self.claim(&rel) {
                        drain(&mut resp);
                        return self.note(&url, Outcome::SameFile, Report::status(status));
                    }
                    let length = header(&resp, "content-length").parse().ok();
                    let name = rel.to_string_lossy();
                    let bar = self.progress.bar(&name, length, true);
                    let saved = self.save(&mut resp, &rel, &content_type, &bar);
                    bar.clear();
                    let bytes = match saved {
                        Ok(n) => n,
                        Err(e) => return self.failed(&url, &e),
                    };
                    let found = self.links_of(target, &file, &content_type, depth);
                    let outcome = if !keep {
                        let _ = std::fs::remove_file(&file);
                        let _ = std::fs::remove_file(state::path(root, &rel));
                        Outcome::Rejected
                    } else if meta.is_some() {
                        Outcome::Changed
                    } else {
                        Outcome::New
                    };
                    let report = Report {
                        file: Some(rel.as_path()).filter(|_| keep),
                        bytes,
                        ..Report::status(status)
                    };
                    self.note(&url, outcome, report);
                    Visit::Links(found)
                }
                _ => {
                    drain(&mut resp);
                    self.failed(&url, &Error::HttpStatus { status })
                }
            };
        }
    }

    /// Writes the body to `rel` as `.part`, with the server's time, renames it, and keeps
    /// its ETag.
    fn save(
        &self,
        resp: &mut Response,
        rel: &Path,
        content_type: &str,
        bar: &Bar,
    ) -> Result<u64, Error> {
        let root = &self.settings.dir;
        let io_err = |e: io::Error| Error::Write {
            what: root.join(rel).display().to_string(),
            reason: shared::io_words(&e),
        };
        let file = self.make_parents(rel).map_err(io_err)?;
        if std::fs::symlink_metadata(&file).is_ok_and(|m| m.is_dir()) {
            return Err(io_err(io::Error::other("a folder is in the way")));
        }
        let part = part_path(&file);
        // create_new never follows a symlink someone put in the .part's place; a .part left
        // by an interrupted run is removed and started over.
        let create = || {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&part)
        };
        let mut out = match create() {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                std::fs::remove_file(&part).and_then(|()| create())
            }
            opened => opened,
        }
        .map_err(io_err)?;
        let copied = copy(resp, &mut out, &self.bytes, bar);
        let modified = httpdate::parse_http_date(&header(resp, "last-modified")).ok();
        let finished = copied.and_then(|()| {
            if let Some(t) = modified {
                out.set_modified(t).map_err(io_err)?;
            }
            let meta = out.metadata().map_err(io_err)?;
            // The record goes on the file before it takes its name, so the two appear
            // together.
            let record = state::Record {
                etag: header(resp, "etag"),
                size: meta.len(),
                mtime: meta.modified().map_or(0, state::seconds),
                content_type: content_type.to_string(),
            };
            if let Err(e) = state::save(root, rel, &out, &record) {
                self.say(&format!(
                    "fetch: warning: cannot keep the ETag of {}: {}",
                    rel.display(),
                    shared::io_words(&e)
                ));
            }
            drop(out);
            std::fs::rename(&part, &file).map_err(io_err)?;
            Ok(meta)
        });
        let meta = match finished {
            Ok(m) => m,
            Err(e) => {
                let _ = std::fs::remove_file(&part);
                return Err(e);
            }
        };
        Ok(meta.len())
    }

    /// The links of a saved HTML or CSS file (by its type, else its name), resolved.
    fn links_of(&self, target: &Target, file: &Path, kind: &str, depth: u32) -> Vec<Link> {
        let name = file.to_string_lossy().to_ascii_lowercase();
        let by_name = |ext: &[&str]| kind.is_empty() && ext.iter().any(|e| name.ends_with(e));
        let html = kind == "text/html"
            || kind == "application/xhtml+xml"
            || by_name(&[".html", ".htm", ".xhtml"]);
        let css = kind == "text/css" || by_name(&[".css"]);
        if !html && !css {
            return Vec::new();
        }
        let converting = self.settings.convert_links;
        if let Some(rel) = file
            .strip_prefix(&self.settings.dir)
            .ok()
            .filter(|_| converting)
        {
            self.pages
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((rel.to_path_buf(), target.clone(), html));
        }
        let Ok(f) = File::open(file) else {
            return Vec::new();
        };
        if html {
            let found = links::html(f);
            if found.cut {
                self.say(&format!(
                    "fetch: {target}: only the first {} links are followed",
                    links::MAX_REFS
                ));
            }
            let inline = |i: usize| found.inline[i];
            return self.resolve(
                target,
                found.base.as_deref(),
                &found.refs,
                inline,
                depth + 1,
            );
        }
        let mut bytes = Vec::new();
        if f.take(MAX_CSS).read_to_end(&mut bytes).is_err() {
            return Vec::new();
        }
        self.resolve(target, None, &links::css(&bytes), |_| true, depth + 1)
    }

    /// References resolved against the page (or its `<base href>`); fragments, `data:`,
    /// `javascript:` and `mailto:` links are dropped, other schemes count as off-site.
    fn resolve(
        &self,
        page: &Target,
        base: Option<&str>,
        refs: &[String],
        inline: impl Fn(usize) -> bool,
        depth: u32,
    ) -> Vec<Link> {
        let base = base
            .and_then(|b| crate::redirect::resolve(page, b.as_bytes()).ok())
            .unwrap_or_else(|| page.clone());
        let mut out = Vec::new();
        for (i, r) in refs.iter().enumerate() {
            let lower = r.get(..11).unwrap_or(r).to_ascii_lowercase();
            if r.starts_with('#')
                || ["data:", "javascript:", "mailto:", "tel:"]
                    .iter()
                    .any(|s| lower.starts_with(s))
            {
                continue;
            }
            match crate::redirect::resolve(&base, r.as_bytes()) {
                Ok(t) => out.push(Link {
                    target: t,
                    depth,
                    inline: inline(i),
                }),
                Err(_) => {
                    self.counts.off_site.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        out
    }

    /// Claims the local path `rel` for this run; false when another URL already has it
    /// (`/d/` and `/d/index.html`, or names that differ only in case on a file system that
    /// folds case).
    fn claim(&self, rel: &Path) -> bool {
        let key = self.claim_key(rel);
        self.lock().claimed.insert(key)
    }

    fn claim_key(&self, rel: &Path) -> u64 {
        let text = rel.to_string_lossy();
        if self.fold_case {
            self.hasher.hash_one(text.to_lowercase())
        } else {
            self.hasher.hash_one(&*text)
        }
    }

    /// Whether `--accept` and `--reject` keep the file `rel` (by its name, query left out).
    fn keeps(&self, rel: &Path) -> bool {
        let name = rel
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let name = name.split('?').next().unwrap_or("");
        (self.accept.is_empty() || self.accept.matches(name)) && !self.reject.matches(name)
    }

    /// `--delete`: after a complete crawl, removes each file an earlier run saved (it has a
    /// record: its attribute, or a file in the state folder) under the crawl's scope that
    /// this run did not reach.
    /// Nothing fetch did not write is touched, and nothing when a file failed or a bound
    /// stopped the crawl short.
    fn delete_vanished(&self) {
        let c = &self.counts;
        let short = [
            (c.failed.load(Ordering::Relaxed), "failed"),
            (c.robots.load(Ordering::Relaxed), "disallowed by robots.txt"),
            (c.too_many.load(Ordering::Relaxed), "beyond the URL limit"),
        ];
        if let Some((n, why)) = short.iter().find(|(n, _)| *n > 0) {
            self.say(&format!("fetch: --delete removes nothing: {n} {why}"));
            return;
        }
        let root = &self.settings.dir;
        // The crawl's scope on disk: the HOST folder, or the --no-parent folder in it.
        let scope = self
            .parent
            .as_deref()
            .and_then(|p| local::path_for(p).ok())
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        // Without a HOST folder, DIR itself is walked (never its .fetch-mirror). A symlink
        // among the folders on the way is not walked through.
        let top = self.host_dir.join(scope);
        if local::check_parents(root, &top.join("x")).is_err() {
            return;
        }
        let mut stack = vec![top];
        while let Some(dir) = stack.pop() {
            // Entries are looked at without following symlinks: a symlink is never walked
            // into, nor removed.
            let Ok(entries) = std::fs::read_dir(root.join(&dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                let rel = dir.join(entry.file_name());
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir() && !local::reserved(&rel) {
                    stack.push(rel);
                    continue;
                }
                let part = rel.extension().is_some_and(|e| e == "part");
                if !kind.is_file() || part || self.lock().claimed.contains(&self.claim_key(&rel)) {
                    continue;
                }
                // Only what fetch wrote: a file with a record.
                if !state::written_by_fetch(root, &rel) {
                    continue;
                }
                if std::fs::remove_file(root.join(&rel)).is_ok() {
                    c.removed.fetch_add(1, Ordering::Relaxed);
                    self.say(&format!("fetch: removed {} (gone upstream)", rel.display()));
                }
                let _ = std::fs::remove_file(state::path(root, &rel));
            }
        }
    }

    /// `--convert-links`: rewrites the links of every page and style sheet of this run so
    /// the copy works from `file://`: to a file on disk, a relative path; to a folder on
    /// disk without its index.html, the folder; anything else, its absolute URL. Each file
    /// keeps its time, and its record the server's ETag (so the next run's 304 keeps it).
    fn convert_links(&self) {
        let pages = std::mem::take(&mut *self.pages.lock().unwrap_or_else(PoisonError::into_inner));
        let root = &self.settings.dir;
        let mut converted = 0u64;
        for (rel, url, is_html) in pages {
            let file = root.join(&rel);
            let Ok(meta) = std::fs::symlink_metadata(&file) else {
                continue;
            };
            if !meta.is_file() || meta.len() > 16 << 20 {
                continue;
            }
            let Ok(bytes) = std::fs::read(&file) else {
                continue;
            };
            let base = if is_html {
                links::html(&bytes[..])
                    .base
                    .and_then(|b| crate::redirect::resolve(&url, b.as_bytes()).ok())
            } else {
                None
            };
            let base = base.unwrap_or_else(|| url.clone());
            let from = rel.parent().unwrap_or(Path::new(""));
            let mut map = |r: &str| self.convert_one(&base, from, r);
            let out = if is_html {
                convert::html(&bytes, &mut map)
            } else {
                convert::css(&bytes, &mut map)
            };
            if out == bytes {
                continue;
            }
            match self.rewrite(&rel, &meta, &out) {
                Ok(()) => converted += 1,
                Err(e) => self.say(&format!(
                    "fetch: cannot convert the links of {}: {}",
                    rel.display(),
                    shared::io_words(&e)
                )),
            }
        }
        self.say(&format!("fetch: converted the links of {converted} files"));
    }

    /// Where the reference `r` (on a page whose links resolve against `base`, saved in the
    /// folder `from`) leads in the copy; `None` leaves it as it is.
    fn convert_one(&self, base: &Target, from: &Path, r: &str) -> Option<String> {
        let lower = r.get(..11).unwrap_or(r).to_ascii_lowercase();
        if r.is_empty()
            || r.starts_with('#')
            || ["data:", "javascript:", "mailto:", "tel:"]
                .iter()
                .any(|s| lower.starts_with(s))
        {
            return None;
        }
        let (reference, fragment) = match r.split_once('#') {
            Some((a, f)) => (a, format!("#{f}")),
            None => (r, String::new()),
        };
        let target = crate::redirect::resolve(base, reference.as_bytes()).ok()?;
        let root = &self.settings.dir;
        let local = local::path_for(&target.path).ok().map(|p| {
            host_dir(self.settings, &target.endpoint).join(cut_dirs(&p, self.settings.cut_dirs))
        });
        if let Some(local) = local {
            let file = std::fs::symlink_metadata(root.join(&local)).is_ok_and(|m| m.is_file());
            if file {
                return Some(relative(from, &local, false) + &fragment);
            }
            // A folder walked through its listing has no index.html: link the folder.
            let folder = local
                .parent()
                .filter(|_| target.path.split('?').next().unwrap_or("").ends_with('/'));
            if let Some(folder) = folder.filter(|f| root.join(f).is_dir()) {
                return Some(relative(from, folder, true) + &fragment);
            }
        }
        Some(format!("{target}{fragment}"))
    }

    /// Replaces the file `rel` with `bytes`, keeping its time and moving its record over.
    fn rewrite(&self, rel: &Path, meta: &std::fs::Metadata, bytes: &[u8]) -> io::Result<()> {
        let root = &self.settings.dir;
        let file = root.join(rel);
        let record = state::load(root, rel, meta);
        let part = part_path(&file);
        let _ = std::fs::remove_file(&part);
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&part)?;
        let written = out.write_all(bytes).and_then(|()| {
            out.set_modified(meta.modified()?)?;
            if let Some(mut r) = record {
                let now = out.metadata()?;
                r.size = now.len();
                r.mtime = now.modified().map_or(0, state::seconds);
                state::save(root, rel, &out, &r)?;
            }
            std::fs::rename(&part, &file)
        });
        if written.is_err() {
            let _ = std::fs::remove_file(&part);
        }
        written
    }

    /// `--span-hosts`: whether links may lead to `endpoint` (another host or port), within
    /// `--domains` when given.
    fn spans_to(&self, endpoint: &Endpoint) -> bool {
        if !self.settings.span_hosts {
            return false;
        }
        let Endpoint::Tcp { host, .. } = endpoint else {
            return false;
        };
        let host = host.to_string();
        let domains = &self.settings.domains;
        domains.is_empty()
            || domains.iter().any(|d| {
                let d = d.trim_start_matches('.').to_ascii_lowercase();
                host == d || host.ends_with(&format!(".{d}"))
            })
    }

    /// The robots.txt rules for `endpoint`: fetched the first time it is visited (two
    /// threads may both fetch it; the first to finish is kept).
    fn robots_of(&self, endpoint: &Endpoint) -> std::sync::Arc<robots::Robots> {
        if !self.settings.robots {
            return std::sync::Arc::new(robots::Robots::allow_all());
        }
        let known = self
            .robots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(endpoint)
            .cloned();
        if let Some(r) = known {
            return r;
        }
        let target = Target {
            endpoint: endpoint.clone(),
            path: "/".into(),
        };
        let fetched = std::sync::Arc::new(fetch_robots(self.config, &target));
        self.robots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(endpoint.clone())
            .or_insert(fetched)
            .clone()
    }

    /// [`local::check_parents`], remembering folders already checked in this run: a site's
    /// files share a few folders, and each check is a stat per folder on the way.
    fn check_parents(&self, rel: &Path) -> io::Result<()> {
        if self.known_folder(rel) {
            return Ok(());
        }
        if local::check_parents(&self.settings.dir, rel)? {
            self.remember_folder(rel);
        }
        Ok(())
    }

    /// [`local::make_parents`], remembering the folders made or checked.
    fn make_parents(&self, rel: &Path) -> io::Result<PathBuf> {
        if self.known_folder(rel) {
            return Ok(self.settings.dir.join(rel));
        }
        let file = local::make_parents(&self.settings.dir, rel)?;
        self.remember_folder(rel);
        Ok(file)
    }

    fn remember_folder(&self, rel: &Path) {
        let key = self.hasher.hash_one(rel.parent());
        self.folders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key);
    }

    fn known_folder(&self, rel: &Path) -> bool {
        let key = self.hasher.hash_one(rel.parent());
        self.folders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&key)
    }

    /// Sends `req`, after `--wait`, and again up to `--retry` times after a failure worth
    /// another try (a timeout, a dropped connection, 408, 429, 500, 502, 503, 504; a refused
    /// connection with `--retry-connrefused`; anything with `--retry-all-errors`), waiting
    /// as `--retry-delay` or `Retry-After` says, else 1 s doubling.
    fn send(&self, url: &str, req: &Request, target: &Target) -> Result<Response, Error> {
        let config = self.config;
        let mut tries = 0;
        loop {
            self.pace();
            let result = config.client.send(req, target, &mut Trace::new());
            let (worth, after) = match &result {
                Ok(r) => (
                    matches!(r.status(), 408 | 429 | 500 | 502 | 503 | 504),
                    r.head()
                        .header("retry-after")
                        .and_then(|v| retry::retry_after(v, std::time::SystemTime::now())),
                ),
                Err(e) => (
                    match e.exit_code() {
                        6 | 18 | 28 | 52 | 55 | 56 => true,
                        7 => config.retry_connrefused,
                        _ => false,
                    } || config.retry_all_errors,
                    None,
                ),
            };
            if !worth || tries >= config.retries {
                return result;
            }
            tries += 1;
            let what = match result {
                Ok(mut r) => {
                    drain(&mut r);
                    format!("HTTP {}", r.status())
                }
                Err(e) => e.to_string(),
            };
            let wait = after.unwrap_or_else(|| {
                config
                    .retry_delay
                    .unwrap_or_else(|| retry::backoff(std::time::Duration::from_secs(1), tries))
            });
            self.say(&format!(
                "fetch: {url}: {what}; retry {tries} of {} in {}",
                config.retries,
                duration_words(wait)
            ));
            std::thread::sleep(wait);
        }
    }

    /// `--wait`: sleeps until this request's turn, `--wait` after the one before it (across
    /// all threads), and books the next turn.
    fn pace(&self) {
        let Some((wait, random)) = self.settings.wait else {
            return;
        };
        let wait = if random {
            // 0.5 to 1.5 times: a fresh random 64-bit hash as a fraction.
            let r = self.hasher.hash_one(Instant::now()) as f64 / u64::MAX as f64;
            wait.mul_f64(0.5 + r)
        } else {
            wait
        };
        let now = Instant::now();
        let at = {
            let mut next = self
                .next_request
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let at = next.map_or(now, |n| n.max(now));
            *next = Some(at + wait);
            at
        };
        std::thread::sleep(at - now);
    }

    /// Counts what became of `url`, and with --report-json writes its line.
    fn note(&self, url: &str, outcome: Outcome, r: Report<'_>) -> Visit {
        let c = &self.counts;
        let counter = match outcome {
            Outcome::New => Some(&c.new),
            Outcome::Changed => Some(&c.changed),
            Outcome::Unchanged => Some(&c.unchanged),
            Outcome::Failed => Some(&c.failed),
            Outcome::Skipped => Some(&c.refused),
            Outcome::SameFile => Some(&c.same_file),
            Outcome::Rejected => Some(&c.rejected),
            Outcome::Quota => Some(&c.quota),
            Outcome::Listed | Outcome::Redirect => None,
        };
        if let Some(counter) = counter {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        if self.config.report_json {
            let line = report_line(url, outcome, &r);
            self.progress.suspend(|| {
                let _ = io::stderr().write_all(line.as_bytes());
            });
        }
        Visit::Links(Vec::new())
    }

    fn refuse(&self, url: &str, why: &str) -> Visit {
        self.say(&format!("fetch: skipped {url}: {why}"));
        let report = Report {
            reason: why,
            ..Report::default()
        };
        self.note(url, Outcome::Skipped, report)
    }

    fn failed(&self, url: &str, e: &Error) -> Visit {
        let reason = e.to_string();
        let status = match e {
            Error::HttpStatus { status } => Some(*status),
            _ => None,
        };
        let report = Report {
            status,
            reason: &reason,
            code: e.exit_code(),
            ..Report::default()
        };
        self.note(url, Outcome::Failed, report);
        let mut code = self.code.lock().unwrap_or_else(PoisonError::into_inner);
        if *code == 0 {
            *code = e.exit_code();
        }
        drop(code);
        if !self.config.silent || self.config.show_error {
            self.progress.suspend(|| {
                let _ = writeln!(io::stderr(), "fetch: {url}: {e}");
            });
        }
        Visit::Links(Vec::new())
    }

    fn say(&self, line: &str) {
        if !self.config.silent {
            self.progress.suspend(|| {
                let _ = writeln!(io::stderr(), "{line}");
            });
        }
    }

    fn summary(&self, started: Instant) {
        let c = &self.counts;
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
        self.say(&format!(
            "fetch: mirror of {} in {}: {} new, {} changed, {} unchanged, {} failed{}{not}; {} in {}",
            self.start,
            self.settings.dir.display(),
            n(&c.new),
            n(&c.changed),
            n(&c.unchanged),
            n(&c.failed),
            match n(&c.removed) {
                0 => String::new(),
                r => format!(", {r} removed"),
            },
            bytes_words(self.bytes.load(Ordering::Relaxed)),
            duration_words(started.elapsed())
        ));
    }
}

/// Whether `rel` may be a page whose links matter (HTML by its name, or no extension),
/// so that --accept/--reject still read it.
fn may_be_page(rel: &Path) -> bool {
    let name = rel
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let name = name.split('?').next().unwrap_or("").to_ascii_lowercase();
    match name.rsplit_once('.') {
        None => true,
        Some((_, ext)) => matches!(
            ext,
            "html" | "htm" | "xhtml" | "shtml" | "php" | "asp" | "aspx" | "jsp" | "cgi"
        ),
    }
}

/// A relative reference from the folder `from` to `to` (both relative to DIR), each name
/// percent-encoded; `folder`: `to` is a folder, and the reference ends in `/`.
fn relative(from: &Path, to: &Path, folder: bool) -> String {
    let a: Vec<_> = from.components().collect();
    let b: Vec<_> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".to_string(); a.len() - common];
    for c in &b[common..] {
        let name = c.as_os_str().as_encoded_bytes();
        parts.push(shared::percent_encode(name, shared::Keep::Segment));
    }
    let mut out = parts.join("/");
    if folder {
        out.push('/');
    }
    if out.is_empty() || out == "/" {
        return "./".to_string();
    }
    // A first name with a colon would read as a scheme (`localhost:8080/x`).
    if !out.starts_with("..") && out.split('/').next().is_some_and(|f| f.contains(':')) {
        out.insert_str(0, "./");
    }
    out
}

/// The folder a host's files go in: `HOST[:PORT]` (the port when not 80; `localhost` for
/// a Unix socket), or none with `--no-host-directories`.
fn host_dir(settings: &MirrorSettings, endpoint: &Endpoint) -> PathBuf {
    if !settings.host_dirs {
        return PathBuf::new();
    }
    PathBuf::from(match endpoint {
        Endpoint::Tcp { host, port } if *port == shared::DEFAULT_PORT => host.to_string(),
        Endpoint::Tcp { host, port } => format!("{host}:{port}"),
        Endpoint::Unix(_) => "localhost".to_string(),
    })
}

/// `rel` without its first `n` folders (`--cut-dirs`); the file name always stays.
fn cut_dirs(rel: &Path, n: usize) -> PathBuf {
    let count = rel.components().count();
    rel.components()
        .enumerate()
        .filter(|&(i, _)| i >= n || i + 1 == count)
        .map(|(_, c)| c)
        .collect()
}

/// A header's value as text ("" when absent).
fn header(resp: &Response, name: &str) -> String {
    resp.head()
        .header(name)
        .map(|v| String::from_utf8_lossy(v).trim().to_string())
        .unwrap_or_default()
}

/// Copies the body into `out`, adding to `total` as it goes.
fn copy(resp: &mut Response, out: &mut File, total: &AtomicU64, bar: &Bar) -> Result<(), Error> {
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = resp.read_body(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        out.write_all(&buf[..n]).map_err(|e| Error::Write {
            what: "a file of the mirror".into(),
            reason: shared::io_words(&e),
        })?;
        total.fetch_add(n as u64, Ordering::Relaxed);
        bar.add(n as u64);
    }
}

/// Reads what is left of a small body, so the connection can be used again.
fn drain(resp: &mut Response) {
    let _ = io::copy(&mut resp.take(1 << 20), &mut io::sink());
}

/// A request path in one spelling: `%xx` in upper case, and unreserved bytes
/// (RFC 3986 §2.3) decoded, so `/%7euser/a%2fb` and `/~user/a%2Fb` are the same URL.
fn normalize(path: &str) -> String {
    let b = path.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        let escape = (b[i] == b'%')
            .then(|| {
                let h = b.get(i + 1).copied().and_then(hex)?;
                Some((h, b.get(i + 2).copied().and_then(hex)?))
            })
            .flatten();
        if let Some((h, l)) = escape {
            let v = (h * 16 + l) as u8;
            if v.is_ascii_alphanumeric() || b"-._~".contains(&v) {
                out.push(v as char);
            } else {
                out.push_str(&format!("%{v:02X}"));
            }
            i += 3;
            continue;
        }
        // The target is ASCII: Target::parse encodes everything else.
        out.push(b[i] as char);
        i += 1;
    }
    out
}

/// Whether the file system at `dir` folds case (macOS, Windows shares): then `A.html` and
/// `a.html` are one file, and the second of them is not saved over the first.
fn folds_case(dir: &Path) -> bool {
    let probe = dir.join(format!("Case-Probe-{}", std::process::id()));
    if std::fs::write(&probe, b"").is_err() {
        return false;
    }
    let folds =
        std::fs::symlink_metadata(dir.join(format!("case-probe-{}", std::process::id()))).is_ok();
    let _ = std::fs::remove_file(&probe);
    folds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_references_between_files() {
        let cases = [
            ("h", "h/a.html", false, "a.html"),
            ("h/docs", "h/style.css", false, "../style.css"),
            ("h/docs/x", "h/docs/y/z.png", false, "../y/z.png"),
            ("h", "h/a b#?%.txt", false, "a%20b%23%3F%25.txt"),
            ("h/d", "other:81/x.txt", false, "../../other:81/x.txt"),
            ("", "localhost:8080/x", false, "./localhost:8080/x"),
            ("h", "h/sub", true, "sub/"),
            ("h/sub", "h/sub", true, "./"),
            ("h", "h/caf\u{e9}.txt", false, "caf%C3%A9.txt"),
        ];
        for (from, to, folder, want) in cases {
            assert_eq!(
                relative(Path::new(from), Path::new(to), folder),
                want,
                "{from} -> {to}"
            );
        }
    }

    #[test]
    fn cut_dirs_keeps_the_name() {
        let cases = [
            ("a/b/c.txt", 0, "a/b/c.txt"),
            ("a/b/c.txt", 1, "b/c.txt"),
            ("a/b/c.txt", 2, "c.txt"),
            ("a/b/c.txt", 9, "c.txt"),
            ("index.html", 3, "index.html"),
        ];
        for (rel, n, want) in cases {
            assert_eq!(
                cut_dirs(Path::new(rel), n),
                PathBuf::from(want),
                "{rel} {n}"
            );
        }
    }

    #[test]
    fn urls_have_one_spelling() {
        let cases = [
            ("/a", "/a"),
            ("/%7euser/", "/~user/"),
            ("/a%2fb", "/a%2Fb"),
            ("/%41%42c", "/ABc"),
            ("/caf%c3%a9", "/caf%C3%A9"),
            ("/100%", "/100%"),
            ("/x?q=%3d", "/x?q=%3D"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input), want, "{input}");
        }
    }
}
