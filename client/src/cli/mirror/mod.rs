//! `--mirror` and `--recursive`: the crawl. One start URL; a queue of URLs still to visit
//! (the frontier) and the set of those already seen, keyed by a hash of the normalized URL
//! (so memory grows by a few bytes per URL, whatever the pages hold); the `-Z` pool's
//! threads each take the next URL, fetch it (conditionally when a copy is on disk), save it
//! (`local.rs` for where, `.part` then rename), and offer what it links to
//! (`links.rs`, or `listing.rs` for a folder serve lists in JSON) back to the queue, where
//! the bounds are applied: same host and port, `--no-parent`, `--level`, `--quota`.
//! Validators between runs: `state.rs`.

mod convert;
mod delete;
mod exchange;
mod frontier;
mod journal;
mod links;
mod listing;
mod local;
mod offline;
mod pattern;
mod report;
mod robots;
mod save;
pub mod settings;
mod stamps;
mod state;
mod tags;

use std::fs::File;
use std::hash::{BuildHasher, RandomState};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime};

use shared::{Endpoint, Target};

use super::batch;
use super::config::Config;
use super::output::part_path;
use super::progress::Progress;
use super::resume;
use crate::error::Error;
use crate::request::{HeaderEdit, Method, Request};
use crate::response::Response;
use exchange::{Sender, drain, header};
use frontier::{Frontier, Link, MAX_URLS, Queue, normalize};
use local::{cut_dirs, host_dir};
use report::{Counts, Outcome, Report};
use settings::MirrorSettings;

/// The crawl's parsers of untrusted bytes, for the fuzz targets (`fuzz/`) and the corpus
/// replay (`tests/hostile/corpora.rs`); not an API.
#[doc(hidden)]
pub mod fuzz {
    use super::listing;

    /// serve's JSON listing, read as it arrives: never panics, and every reference is one
    /// path segment (a folder's with a `/` after it), so no entry names a place outside its
    /// folder. Returns how many entries it gave.
    pub fn listing(data: &[u8]) -> usize {
        let mut n = 0;
        let _ = listing::read(data, |r, stamp| {
            let name = r.strip_prefix("./").unwrap_or(&r);
            let name = name.strip_suffix('/').unwrap_or(name);
            assert!(!name.is_empty() && !name.contains('/'), "{r:?}");
            assert!(name != "." && name != "..", "{r:?}");
            assert!(stamp.is_none() || !r.ends_with('/'), "{r:?}");
            n += 1;
        });
        n
    }

    /// The narrow pass over an HTML page against the tokenizer: never panics, and when it
    /// answers, it finds the same links. Returns whether it answered.
    pub fn html_links(data: &[u8]) -> bool {
        let Ok(narrow) = super::links::html_narrow(data) else {
            return false;
        };
        let tokenizer = super::links::html(data);
        assert_eq!(narrow, tokenizer, "{:?}", String::from_utf8_lossy(data));
        true
    }
}

/// The largest style sheet read back for its links (HTML is tokenized as it is read).
const MAX_CSS: u64 = 4 << 20;
/// The largest page or style sheet whose body is kept in memory as it is saved, for its
/// links to be read from there: on a first run most files are pages, and reading each back
/// cost 8 system calls of about 20 a file. A larger one is read back from its file.
const KEEP_IN_MEMORY: usize = 1 << 20;

/// What a file with links is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PageKind {
    Html,
    Css,
}

/// Whether the file `rel`, that came as `kind` (a `Content-Type`, or empty when unknown),
/// is a page or a style sheet: by its type, else by its name.
fn page_kind(rel: &Path, kind: &str) -> Option<PageKind> {
    let name = rel.to_string_lossy().to_ascii_lowercase();
    let by_name = |ext: &[&str]| kind.is_empty() && ext.iter().any(|e| name.ends_with(e));
    if kind == "text/html"
        || kind == "application/xhtml+xml"
        || by_name(&[".html", ".htm", ".xhtml"])
    {
        Some(PageKind::Html)
    } else if kind == "text/css" || by_name(&[".css"]) {
        Some(PageKind::Css)
    } else {
        None
    }
}

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
    // Not there, or empty: nothing in it is from before this run.
    let new_root = std::fs::read_dir(&settings.dir).map_or(true, |mut d| d.next().is_none());
    if let Err(e) = std::fs::create_dir_all(settings.dir.join(local::STATE_DIR)) {
        return fail_now(&Error::Write {
            what: settings.dir.display().to_string(),
            reason: shared::io_words(&e),
        });
    }
    let robots = if settings.robots {
        robots::fetch(config, &start)
    } else {
        robots::Robots::allow_all()
    };
    let crawl = Crawl::new(config, settings, start, robots);
    if new_root {
        crawl.folders.root_is_new();
    }
    let first = Link {
        target: crawl.start.clone(),
        depth: 0,
        inline: false,
        listed: None,
    };
    crawl.offer(&mut crawl.lock(), first);
    // Each thread works until the frontier is empty and no thread can add to it.
    batch::on_pool(config.parallel, config.parallel, || crawl.work());
    crawl.progress.finish();
    crawl.journal.finish();
    if settings.convert_links {
        let pages =
            std::mem::take(&mut *crawl.pages.lock().unwrap_or_else(PoisonError::into_inner));
        offline::convert_links(settings, pages, |line| crawl.say(line));
    }
    if settings.delete {
        crawl.delete_vanished();
    }
    crawl.summary(started);
    *crawl.code.lock().unwrap_or_else(PoisonError::into_inner)
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
    /// `--accept-regex`, `--reject-regex`.
    url_regexes: pattern::UrlRegexes,
    /// Folders made or found to be real folders in this run.
    folders: local::Folders,
    /// `--convert-links`: the pages and style sheets saved or kept, to convert at the end.
    pages: Mutex<Vec<offline::Page>>,
    /// Sends each request, after `--wait`, with `--retry`.
    sender: Sender<'a>,
    /// The links of each page as the last run read them, and as this run does.
    journal: journal::Journal,
    /// The JSON listings of folders reached through links, on a later run.
    stamps: stamps::Stamps,
    queue: Mutex<Queue>,
    wake: Condvar,
    bytes: AtomicU64,
    counts: Counts,
    code: Mutex<i32>,
}

/// One URL being visited, until [`Busy::done`]; dropped before that (a panic while
/// visiting), it still counts the URL as done and wakes the threads waiting for work.
struct Busy<'c, 'a>(&'c Crawl<'a>, bool);

impl Busy<'_, '_> {
    /// The URL is done (its links offered, under the lock `q`): when it was the last one
    /// busy and nothing is queued, the crawl is over and every waiting thread is told.
    fn done(mut self, q: &mut Queue) {
        self.1 = false;
        q.busy -= 1;
        if q.busy == 0 && q.frontier.is_empty() {
            self.0.wake.notify_all();
        }
    }
}

impl Drop for Busy<'_, '_> {
    fn drop(&mut self) {
        if self.1 {
            self.0.lock().busy -= 1;
            self.0.wake.notify_all();
        }
    }
}

/// A saved copy whose links are wanted: its path under DIR, its type and ETag as
/// recorded, and its metadata when it is a copy from before (checked against its record).
struct Copy<'r> {
    rel: &'r Path,
    kind: &'r str,
    etag: &'r str,
    /// The copy from before, as found on disk (its record matched).
    meta: Option<&'r std::fs::Metadata>,
    /// The copy as this run just saved it (with its body when that was kept).
    saved: Option<&'r save::Saved>,
}

/// What visiting a URL found: links to offer, each with its depth.
enum Visit {
    /// Links to offer: (target, depth).
    Links(Vec<Link>),
}

/// The URL being visited and what is known of its copy on disk.
struct Place<'v> {
    url: &'v str,
    target: &'v Target,
    depth: u32,
    /// Its path under DIR.
    rel: PathBuf,
    /// DIR joined with `rel`.
    file: PathBuf,
    /// Not --reject'ed: a rejected page is read for its links, then removed.
    keep: bool,
    /// Its folder was made by this run, or is not there yet: nothing is there from before.
    fresh: bool,
    /// The copy on disk (a file), if any.
    meta: Option<std::fs::Metadata>,
    /// The copy's record, when the copy still matches it.
    record: Option<state::Record>,
}

/// How a URL is asked for; the answers change it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Asking {
    /// A folder URL, asked for serve's JSON listing (until an answer shows it has none).
    json: bool,
    /// The listing kept by the last run is offered (`If-None-Match`), unless unreadable.
    use_kept: bool,
    /// A `.part` an interrupted run left: its length and the validator of what it holds
    /// the start of.
    resuming: Option<(u64, String)>,
}

/// What an answer calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// A 304 to the kept listing's ETag: the kept copy is walked.
    KeptListing,
    /// A 200 in JSON to a folder: serve's listing, walked as it is read (or, when it is
    /// not one, the folder asked again as a browser would).
    Listing,
    /// A 406 to a folder asked for JSON: asked again as a browser would.
    NotJson,
    /// A 304 for the copy on disk.
    Unchanged,
    /// A redirect: its `Location` is a link.
    Redirect,
    /// The `.part` is as long as the file, or the server answers another range: the `.part`
    /// goes and the whole is asked for.
    RestartRange,
    /// A body to save; `Some(from)`: a 206 continuing the `.part` from that byte.
    Save(Option<u64>),
    /// Anything else: the URL failed.
    Failed,
}

/// The request for a URL: `Accept: application/json` for a folder's listing; one
/// condition, the first that applies of the kept listing's ETag, the record's ETag and the
/// copy's time; `Range` and `If-Range` to continue a `.part`.
fn request_for(
    asking: &Asking,
    kept_etag: Option<&str>,
    record: Option<&state::Record>,
    modified: Option<SystemTime>,
) -> Request {
    let mut req = Request::new(Method::Get);
    if asking.json {
        // serve answers a folder URL with its JSON listing only when the client asks for
        // JSON alone (a `text/html` anywhere gets the HTML page).
        req.headers
            .push(HeaderEdit::new("Accept", Some("application/json")));
    }
    if let Some(etag) = kept_etag {
        req.headers
            .push(HeaderEdit::new("If-None-Match", Some(etag)));
    } else if let Some(r) = record.filter(|r| !r.etag.is_empty()) {
        req.headers
            .push(HeaderEdit::new("If-None-Match", Some(&r.etag)));
    } else if let Some(t) = modified {
        req.time_condition = Some(("If-Modified-Since".into(), httpdate::fmt_http_date(t)));
    }
    if let Some((from, validator)) = &asking.resuming {
        req.headers
            .push(HeaderEdit::new("Range", Some(&format!("bytes={from}-"))));
        req.headers
            .push(HeaderEdit::new("If-Range", Some(validator)));
    }
    req
}

/// What the answer `status` (its `content_type` lowercased, without parameters; the start
/// of its `Content-Range`) calls for, asked as `asking` says; `kept`: the kept listing's
/// ETag was sent; `have_copy`: a copy is on disk.
fn answer(
    status: u16,
    content_type: &str,
    asking: &Asking,
    kept: bool,
    have_copy: bool,
    range_start: Option<u64>,
) -> Answer {
    let resuming = asking.resuming.as_ref().map(|(from, _)| *from);
    match status {
        304 if kept => Answer::KeptListing,
        200 if asking.json && content_type.ends_with("json") => Answer::Listing,
        406 if asking.json => Answer::NotJson,
        304 if have_copy => Answer::Unchanged,
        301 | 302 | 303 | 307 | 308 => Answer::Redirect,
        206 | 416 if resuming.is_some_and(|from| status == 416 || range_start != Some(from)) => {
            Answer::RestartRange
        }
        // Only a 206 answers the Range asked for; anything else is the whole.
        200..=299 => Answer::Save(resuming.filter(|_| status == 206)),
        _ => Answer::Failed,
    }
}

/// The `.part` beside `file` that an interrupted run left, to continue: its length and
/// the validator of what it holds the start of; `None` when there is none, it is empty, or
/// its validator is lost.
fn part_to_resume(file: &Path) -> Option<(u64, String)> {
    let part = part_path(file);
    std::fs::symlink_metadata(&part)
        .ok()
        .filter(|m| m.is_file() && m.len() > 0)
        .and_then(|m| Some((m.len(), state::partial(&part)?)))
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
        let host_dir = host_dir(settings, &start);
        let mut robots_of = std::collections::HashMap::new();
        robots_of.insert(start.endpoint.clone(), std::sync::Arc::new(robots));
        Crawl {
            config,
            settings,
            parent,
            host_dir,
            fold_case: local::folds_case(&settings.dir.join(local::STATE_DIR)),
            start,
            hasher: RandomState::new(),
            // With 2 "targets" the total line is always there; its length grows with the
            // frontier.
            progress: Progress::new(config.progress, 2),
            robots: Mutex::new(robots_of),
            accept: pattern::NameList::parse(settings.accept.as_deref().unwrap_or("")),
            reject: pattern::NameList::parse(settings.reject.as_deref().unwrap_or("")),
            url_regexes: pattern::UrlRegexes::new(
                settings.accept_regex.as_deref(),
                settings.reject_regex.as_deref(),
            ),
            sender: Sender::new(config, settings.wait),
            journal: journal::Journal::open(&settings.dir.join(local::STATE_DIR)),
            stamps: stamps::Stamps::default(),
            pages: Mutex::default(),
            folders: local::Folders::default(),
            queue: Mutex::new(Queue {
                frontier: Frontier::in_dir(&settings.dir.join(local::STATE_DIR)),
                ..Queue::default()
            }),
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
            let next = {
                let mut q = self.lock();
                loop {
                    if let Some(next) = q.frontier.pop() {
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
            let busy = Busy(self, true);
            let Visit::Links(found) = self.visit(&next.target, next.depth, next.listed);
            self.progress.tick();
            let mut q = self.lock();
            for link in found {
                self.offer(&mut q, link);
            }
            busy.done(&mut q);
        }
    }

    /// Puts `target` in the frontier unless a bound says no or it was seen before.
    fn offer(&self, q: &mut Queue, link: Link) {
        let Link {
            ref target,
            depth,
            inline,
            ..
        } = link;
        // http:// and https:// of one host are two sites, as in wget: only --span-hosts
        // goes from one to the other.
        let home = target.endpoint == self.start.endpoint && target.tls == self.start.tls;
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
        // --accept-regex, --reject-regex: on every URL but the start (and where it
        // redirects), as wget does.
        if depth > 0 && self.url_regexes.any() && !self.url_regexes.follows(&target.to_string()) {
            self.counts.regex.fetch_add(1, Ordering::Relaxed);
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
            .insert(self.hasher.hash_one((&target.endpoint, target.tls, &path)))
        {
            q.frontier.push(link);
            // One waiting thread per link: waking them all for each would have them
            // fight over the lock (most of a second run's time, with nothing to fetch).
            self.wake.notify_one();
            self.progress.set_targets(q.seen.len() as u64);
        }
    }

    /// Fetches one URL, saves it, and returns what it links to.
    fn visit(&self, target: &Target, depth: u32, listed: Option<listing::Stamp>) -> Visit {
        let url = target.to_string();
        let place = match self.place(&url, target, depth) {
            Ok(place) => place,
            Err(visit) => return visit,
        };
        // A copy from before, of a file reached through a link: its folder's listing, if
        // the server gives one, may show it unchanged.
        let listed = match listed {
            None if place.record.is_some() => self.stamp_by_listing(target),
            given => given,
        };
        if let Some(visit) = self.unchanged_by_listing(&place, listed) {
            return visit;
        }
        self.ask(&place)
    }

    /// Where `target` is saved and what is there from before; `Err` with the visit's end
    /// when a bound says no (a path that cannot be saved, robots.txt, --accept/--reject,
    /// --quota) or something on the way is not a folder.
    fn place<'v>(&self, url: &'v str, target: &'v Target, depth: u32) -> Result<Place<'v>, Visit> {
        let rel = match local::path_for(&target.path) {
            Ok(rel) if !self.settings.host_dirs && local::reserved(&rel) => {
                return Err(self.refuse(url, &local::Refusal::Reserved.to_string()));
            }
            Ok(rel) => host_dir(self.settings, target).join(cut_dirs(&rel, self.settings.cut_dirs)),
            Err(r) => return Err(self.refuse(url, &r.to_string())),
        };
        if !self.robots_of(target).allows(&normalize(&target.path)) {
            self.counts.robots.fetch_add(1, Ordering::Relaxed);
            return Err(Visit::Links(Vec::new()));
        }
        // --accept/--reject: a file not kept is not fetched, unless it may be a page with
        // links (read, then removed), as wget does.
        let keep = self.keeps(&rel);
        if !keep && !may_be_page(&rel) {
            return Err(self.note(url, Outcome::Rejected, Report::default()));
        }
        if self
            .settings
            .quota
            .is_some_and(|q| self.bytes.load(Ordering::Relaxed) >= q)
        {
            return Err(self.note(url, Outcome::Quota, Report::default()));
        }
        let root = &self.settings.dir;
        // Before anything on disk is looked at: a symlink on the way could lead out.
        // A folder this run made (or that is not there yet) holds nothing from before it:
        // no copy or `.part` to look for (most of a first run's files).
        let fresh = match self.folders.check_parents(root, &rel) {
            Ok(fresh) => fresh,
            Err(e) => return Err(self.refuse(url, &shared::io_words(&e))),
        };
        let file = root.join(&rel);
        let on_disk = (!fresh).then(|| std::fs::symlink_metadata(&file).ok());
        let meta = match on_disk.flatten() {
            Some(m) if m.file_type().is_symlink() => {
                return Err(self.refuse(url, "a symlink is in the way"));
            }
            Some(m) if m.is_file() => Some(m),
            _ => None,
        };
        let record = meta.as_ref().and_then(|m| state::load(root, &rel, m));
        Ok(Place {
            url,
            target,
            depth,
            rel,
            file,
            keep,
            fresh,
            meta,
            record,
        })
    }

    /// The folder's listing shows the size and time the copy has, and the copy is as the
    /// last run saved it (its record says so): unchanged, and no request is sent.
    fn unchanged_by_listing(
        &self,
        place: &Place<'_>,
        listed: Option<listing::Stamp>,
    ) -> Option<Visit> {
        let (Some(m), Some(r), Some(s)) = (&place.meta, &place.record, listed) else {
            return None;
        };
        if m.len() != s.size || !m.modified().is_ok_and(|t| state::seconds(t) == s.modified) {
            return None;
        }
        let url = place.url;
        if !self.claim(&place.rel) {
            return Some(self.note(url, Outcome::SameFile, Report::default()));
        }
        let report = Report {
            file: Some(&place.rel),
            reason: report::BY_LISTING,
            ..Report::default()
        };
        self.note(url, Outcome::Unchanged, report);
        let copy = Copy {
            rel: &place.rel,
            kind: &r.content_type,
            etag: &r.etag,
            meta: Some(m),
            saved: None,
        };
        Some(Visit::Links(self.links_of(
            place.target,
            &copy,
            place.depth,
        )))
    }

    /// Asks for the URL (conditionally when a copy is on disk; a folder for serve's JSON
    /// listing; a `.part` continued) until an answer ends the visit.
    fn ask(&self, place: &Place<'_>) -> Visit {
        let (url, target, depth) = (place.url, place.target, place.depth);
        let root = &self.settings.dir;
        let folder = target.path.split('?').next().unwrap_or("").ends_with('/');
        let mut asking = Asking {
            json: folder,
            use_kept: true,
            resuming: (!folder && !place.fresh)
                .then(|| part_to_resume(&place.file))
                .flatten(),
        };
        loop {
            let kept = (asking.json && asking.use_kept)
                .then(|| listing::kept(root, url))
                .flatten();
            let modified = place.meta.as_ref().and_then(|m| m.modified().ok());
            let etag = kept.as_ref().map(|k| k.etag.as_str());
            let req = request_for(&asking, etag, place.record.as_ref(), modified);
            let mut resp = match self.sender.send(url, &req, target, |line| self.say(line)) {
                Ok(r) => r,
                Err(e) => return self.failed(url, &e),
            };
            let status = resp.status();
            let content_type = header(&resp, "content-type")
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            let range_start = resume::content_range(resp.head()).0;
            let have_copy = place.meta.is_some();
            let answer = answer(
                status,
                &content_type,
                &asking,
                kept.is_some(),
                have_copy,
                range_start,
            );
            if asking.json
                && !matches!(
                    answer,
                    Answer::KeptListing | Answer::Listing | Answer::NotJson
                )
            {
                // A folder answered with a page: the files its links reach do not ask
                // for its listing.
                let path = target.path.split('?').next().unwrap_or("");
                self.stamps.page(&target.endpoint, path);
            }
            match answer {
                Answer::KeptListing => {
                    // The folder is as the last run listed it: walked from the kept copy.
                    drain(&mut resp);
                    let walked = kept.map(|k| self.walk(url, target, depth, 304, k.body()));
                    if let Some(Ok(Some(visit))) = walked {
                        return visit;
                    }
                    // The kept copy is unreadable: asked again without it.
                    let _ = std::fs::remove_file(root.join(listing::kept_path(url)));
                    asking.use_kept = false;
                }
                Answer::Listing => {
                    // Kept for the next run's If-None-Match as it is read; if it cannot
                    // be, that run only gets the whole listing again.
                    let etag = header(&resp, "etag");
                    let walked = listing::read_keeping(root, url, &etag, &mut resp, |input| {
                        self.walk(url, target, depth, 200, input)
                    });
                    match walked {
                        Ok(Some(visit)) => return visit,
                        Err(e) => return self.failed(url, &Error::from_io(e, url)),
                        // Not serve's listing: ask again as a browser would.
                        Ok(None) => drain(&mut resp),
                    }
                    asking.json = false;
                }
                Answer::NotJson => {
                    drain(&mut resp);
                    asking.json = false;
                }
                Answer::RestartRange => {
                    drain(&mut resp);
                    let _ = std::fs::remove_file(part_path(&place.file));
                    asking.resuming = None;
                }
                Answer::Unchanged => return self.unchanged(place, resp),
                Answer::Redirect => return self.redirected(place, resp),
                Answer::Save(from) => return self.saved(place, resp, &content_type, from),
                Answer::Failed => {
                    drain(&mut resp);
                    return self.failed(url, &Error::HttpStatus { status });
                }
            }
        }
    }

    /// A 304 for the copy on disk: kept, and its links read back (from the journal when
    /// its record matches).
    fn unchanged(&self, place: &Place<'_>, mut resp: Response) -> Visit {
        // Read the (empty) body to its end, so the connection is used again.
        drain(&mut resp);
        if !self.claim(&place.rel) {
            return self.note(place.url, Outcome::SameFile, Report::status(304));
        }
        let report = Report {
            file: Some(&place.rel),
            ..Report::status(304)
        };
        self.note(place.url, Outcome::Unchanged, report);
        let record = place.record.as_ref();
        let copy = Copy {
            rel: &place.rel,
            kind: record.map_or("", |r| r.content_type.as_str()),
            etag: record.map_or("", |r| r.etag.as_str()),
            // Without its record, the copy's links are read again.
            meta: place.meta.as_ref().filter(|_| record.is_some()),
            saved: None,
        };
        Visit::Links(self.links_of(place.target, &copy, place.depth))
    }

    /// A redirect: its `Location` is a link from the same page, at the same depth.
    fn redirected(&self, place: &Place<'_>, mut resp: Response) -> Visit {
        let location = header(&resp, "location");
        drain(&mut resp);
        let report = Report {
            reason: &location,
            ..Report::status(resp.status())
        };
        self.note(place.url, Outcome::Redirect, report);
        match crate::redirect::resolve(place.target, location.as_bytes()) {
            Ok(t) => Visit::Links(vec![Link {
                target: t,
                depth: place.depth,
                inline: false,
                listed: None,
            }]),
            Err(_) => {
                self.counts.off_site.fetch_add(1, Ordering::Relaxed);
                Visit::Links(Vec::new())
            }
        }
    }

    /// A body to save (`resume`: the byte a 206 continues the `.part` from): written as
    /// `.part` and renamed, its links read, and removed again when --reject'ed.
    fn saved(
        &self,
        place: &Place<'_>,
        mut resp: Response,
        content_type: &str,
        resume: Option<u64>,
    ) -> Visit {
        let (url, rel, root) = (place.url, &place.rel, &self.settings.dir);
        let status = resp.status();
        if !self.claim(rel) {
            drain(&mut resp);
            return self.note(url, Outcome::SameFile, Report::status(status));
        }
        let length = header(&resp, "content-length").parse().ok();
        let bar = self
            .progress
            .bar(|| rel.to_string_lossy().into_owned(), length, true);
        let warn = |line: &str| self.say(line);
        let to = save::Saving {
            root,
            rel,
            bar: &bar,
            total: &self.bytes,
            warn: &warn,
            // A page's links are read from memory, not from the file again.
            keep: if page_kind(rel, content_type).is_some() {
                KEEP_IN_MEMORY
            } else {
                0
            },
        };
        let saved = self
            .folders
            .make_parents(root, rel)
            .map_err(|e| Error::Write {
                what: place.file.display().to_string(),
                reason: shared::io_words(&e),
            })
            .and_then(|_| save::save(&to, &mut resp, content_type, resume));
        bar.clear();
        let saved = match saved {
            Ok(saved) => saved,
            Err(e) => return self.failed(url, &e),
        };
        let bytes = saved.size - resume.unwrap_or(0).min(saved.size);
        let resumed = resume.map(|from| format!("resumed at byte {from}"));
        let etag = header(&resp, "etag");
        let copy = Copy {
            rel,
            kind: content_type,
            etag: &etag,
            meta: None,
            saved: Some(&saved),
        };
        let found = self.links_of(place.target, &copy, place.depth);
        let outcome = if !place.keep {
            let _ = std::fs::remove_file(&place.file);
            let _ = std::fs::remove_file(state::path(root, rel));
            Outcome::Rejected
        } else if place.meta.is_some() {
            Outcome::Changed
        } else {
            Outcome::New
        };
        let report = Report {
            file: Some(rel.as_path()).filter(|_| place.keep),
            bytes,
            reason: resumed.as_deref().unwrap_or(""),
            ..Report::status(status)
        };
        self.note(url, outcome, report);
        Visit::Links(found)
    }

    /// Walks serve's JSON listing of the folder `target` (answered with `status`) as it is
    /// read from `input`: each entry offered as a link (a file with its listed size and
    /// time), a batch at a time, so no folder is ever held whole. `Ok(None)` when it is not
    /// such a listing (the entries read before the fault were offered).
    fn walk(
        &self,
        url: &str,
        target: &Target,
        depth: u32,
        status: u16,
        input: impl Read,
    ) -> io::Result<Option<Visit>> {
        let mut batch = Vec::new();
        // The files' stamps, for those reached through links before the listing offers them.
        let mut files = std::collections::HashMap::new();
        let read = listing::read(input, |r, stamp| {
            if let Some(s) = stamp {
                files.insert(stamps::name(r.strip_prefix("./").unwrap_or(&r)), s);
            }
            let links = self.resolve(target, None, &[r], |_| false, &[stamp], depth + 1);
            batch.extend(links);
            if batch.len() >= 256 {
                self.offer_all(&mut batch);
            }
        });
        self.offer_all(&mut batch);
        let Some(walked) = read? else {
            return Ok(None);
        };
        let path = target.path.split('?').next().unwrap_or("");
        self.stamps
            .listed(&target.endpoint, path, Some(files), true);
        if walked.truncated > 0 {
            self.say(&format!(
                "fetch: {url}: the listing leaves out {} entries",
                walked.truncated
            ));
        }
        self.note(url, Outcome::Listed, Report::status(status));
        Ok(Some(Visit::Links(Vec::new())))
    }

    /// The stamp of the file `target` in its folder's JSON listing: asked once per folder
    /// (with the ETag of the listing the last run kept), never where the server gives none.
    fn stamp_by_listing(&self, target: &Target) -> Option<listing::Stamp> {
        let path = &target.path;
        if path.contains('?') {
            return None;
        }
        let (folder, name) = path.split_at(path.rfind('/')? + 1);
        if name.is_empty() {
            return None;
        }
        let name = stamps::name(name);
        let endpoint = &target.endpoint;
        let asking = match self.stamps.turn(endpoint, folder, &name) {
            stamps::Turn::Known(stamp) => return stamp,
            stamps::Turn::Without => return None,
            stamps::Turn::Ask(asking) => asking,
        };
        let folder_target = Target {
            endpoint: endpoint.clone(),
            path: folder.to_string(),
            tls: target.tls,
        };
        let (files, json) = if self.robots_of(&folder_target).allows(&normalize(folder)) {
            self.folder_files(&folder_target)
        } else {
            (None, false)
        };
        let stamp = files.as_ref().and_then(|f| f.get(&name).copied());
        asking.listed(files, json);
        stamp
    }

    /// The files of the folder `target` by serve's JSON listing (kept from the last run on
    /// a 304), by normalized name, and whether the answer was such a listing.
    fn folder_files(
        &self,
        target: &Target,
    ) -> (
        Option<std::collections::HashMap<Vec<u8>, listing::Stamp>>,
        bool,
    ) {
        let root = &self.settings.dir;
        let url = target.to_string();
        let mut req = Request::new(Method::Get);
        req.headers
            .push(HeaderEdit::new("Accept", Some("application/json")));
        let kept = listing::kept(root, &url);
        if let Some(k) = &kept {
            req.headers
                .push(HeaderEdit::new("If-None-Match", Some(&k.etag)));
        }
        let Ok(mut resp) = self.sender.send(&url, &req, target, |line| self.say(line)) else {
            return (None, true);
        };
        let status = resp.status();
        let mut files = std::collections::HashMap::new();
        let mut add = |r: String, stamp: Option<listing::Stamp>| {
            if let Some(stamp) = stamp {
                files.insert(stamps::name(r.strip_prefix("./").unwrap_or(&r)), stamp);
            }
        };
        let json = header(&resp, "content-type").contains("json");
        let read = match (status, kept) {
            (304, Some(k)) => {
                drain(&mut resp);
                listing::read(k.body(), &mut add)
            }
            (200, _) if json => {
                let etag = header(&resp, "etag");
                listing::read_keeping(root, &url, &etag, &mut resp, |input| {
                    listing::read(input, &mut add)
                })
            }
            _ => {
                drain(&mut resp);
                // A page, a refusal, another kind of JSON: no listing of this folder.
                return (None, false);
            }
        };
        match read {
            Ok(Some(_)) => {
                self.note(&url, Outcome::Listed, Report::status(status));
                (Some(files), true)
            }
            _ => (None, false),
        }
    }

    /// Offers the links in `batch` (emptying it).
    fn offer_all(&self, batch: &mut Vec<Link>) {
        if batch.is_empty() {
            return;
        }
        let mut q = self.lock();
        for link in batch.drain(..) {
            self.offer(&mut q, link);
        }
    }

    /// The links of a saved HTML or CSS file (by its type, else its name), resolved: from
    /// the journal when it has them for this copy, else read from the body just saved or
    /// from the file (and recorded).
    fn links_of(&self, target: &Target, copy: &Copy<'_>, depth: u32) -> Vec<Link> {
        let Copy { rel, kind, .. } = *copy;
        let Some(page) = page_kind(rel, kind) else {
            return Vec::new();
        };
        if self.settings.convert_links {
            self.pages
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((rel.to_path_buf(), target.clone(), page == PageKind::Html));
        }
        let etag = copy.etag.to_string();
        let known = match (copy.meta, copy.saved) {
            (Some(m), _) => Some(validator_of(etag, m)),
            (None, Some(s)) => Some(journal::Validator {
                etag,
                size: s.size,
                mtime: s.mtime,
            }),
            (None, None) => None,
        };
        let kept = known
            .as_ref()
            .and_then(|v| Some((v, self.journal.get(rel, v)?)));
        let found = match kept {
            Some((v, found)) => {
                // Kept for the run after this one too.
                self.journal.put(rel, v, &found);
                found
            }
            None => {
                let body = copy.saved.and_then(|s| s.body.as_deref());
                let read = match (body, known) {
                    (Some(bytes), Some(v)) => Some((links_in(bytes, page), v)),
                    (_, known) => self.read_links(rel, page, known, copy.etag),
                };
                let Some((found, v)) = read else {
                    return Vec::new();
                };
                self.journal.put(rel, &v, &found);
                found
            }
        };
        if found.cut {
            self.say(&format!(
                "fetch: {target}: only the first {} links are followed",
                links::MAX_REFS
            ));
        }
        let inline = |i: usize| found.inline[i];
        self.resolve(
            target,
            found.base.as_deref(),
            &found.refs,
            inline,
            &[],
            depth + 1,
        )
    }

    /// The links of the copy `rel` read from its file, with the validator they are kept
    /// under (`known`, else the file's own).
    fn read_links(
        &self,
        rel: &Path,
        page: PageKind,
        known: Option<journal::Validator>,
        etag: &str,
    ) -> Option<(links::Links, journal::Validator)> {
        let mut f = File::open(self.settings.dir.join(rel)).ok()?;
        let v = match known {
            Some(v) => v,
            None => validator_of(etag.to_string(), &f.metadata().ok()?),
        };
        let found = match page {
            PageKind::Html => links::page(f, v.size),
            PageKind::Css => {
                let mut bytes = Vec::new();
                (&mut f).take(MAX_CSS).read_to_end(&mut bytes).ok()?;
                links_in(&bytes, page)
            }
        };
        Some((found, v))
    }

    /// References resolved against the page (or its `<base href>`); fragments, `data:`,
    /// `javascript:` and `mailto:` links are dropped, other schemes count as off-site.
    fn resolve(
        &self,
        page: &Target,
        base: Option<&str>,
        refs: &[String],
        inline: impl Fn(usize) -> bool,
        listed: &[Option<listing::Stamp>],
        depth: u32,
    ) -> Vec<Link> {
        let base = base
            .and_then(|b| crate::redirect::resolve(page, b.as_bytes()).ok())
            .unwrap_or_else(|| page.clone())
            .to_string();
        let mut out: Vec<Link> = Vec::new();
        // A page names the same target several times (its navigation at the top and the
        // bottom, `page#one`, `page#two`): each reference without its fragment is resolved
        // once per page (the index of its link, or none when it led off-site).
        let mut done: std::collections::HashMap<&str, Option<usize>> = Default::default();
        for (i, r) in refs.iter().enumerate() {
            let skipped = |s: &str| r.get(..s.len()).is_some_and(|p| p.eq_ignore_ascii_case(s));
            if r.starts_with('#')
                || ["data:", "javascript:", "mailto:", "tel:"]
                    .iter()
                    .any(|s| skipped(s))
            {
                continue;
            }
            let key = r.split('#').next().unwrap_or(r);
            let target = match done.get(key) {
                Some(Some(at)) => Ok(out[*at].target.clone()),
                Some(None) => Err(()),
                None => crate::redirect::resolve_from(&base, r.as_bytes()).map_err(|_| ()),
            };
            done.entry(key)
                .or_insert_with(|| target.is_ok().then_some(out.len()));
            match target {
                Ok(target) => out.push(Link {
                    target,
                    depth,
                    inline: inline(i),
                    listed: listed.get(i).copied().flatten(),
                }),
                Err(()) => {
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

    /// `--delete`: after a complete crawl, removes each file an earlier run saved under the
    /// crawl's scope that this run did not reach; nothing when a file failed or a bound
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
        // The crawl's scope on disk: the HOST folder, or the --no-parent folder in it.
        // Without a HOST folder, DIR itself is walked (never its .fetch-mirror).
        let scope = self
            .parent
            .as_deref()
            .and_then(|p| local::path_for(p).ok())
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        let reached = |rel: &Path| self.lock().claimed.contains(&self.claim_key(rel));
        let removed = |rel: &Path| {
            c.removed.fetch_add(1, Ordering::Relaxed);
            self.say(&format!("fetch: removed {} (gone upstream)", rel.display()));
        };
        delete::vanished(
            &self.settings.dir,
            &self.host_dir.join(scope),
            reached,
            removed,
        );
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
    fn robots_of(&self, site: &Target) -> std::sync::Arc<robots::Robots> {
        let endpoint = &site.endpoint;
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
            tls: site.tls,
        };
        let fetched = std::sync::Arc::new(robots::fetch(self.config, &target));
        self.robots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(endpoint.clone())
            .or_insert(fetched)
            .clone()
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
            let line = report::report_line(url, outcome, &r);
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
        let bytes = self.bytes.load(Ordering::Relaxed);
        let dir = &self.settings.dir;
        let line = report::summary(&self.counts, &self.start, dir, bytes, started.elapsed());
        self.say(&line);
    }
}

/// Whether `rel` may be a page whose links matter (HTML by its name, or no extension),
/// so that --accept/--reject still read it.
/// The validator a copy's links are kept under: its ETag, and its size and time as on disk.
fn validator_of(etag: String, m: &std::fs::Metadata) -> journal::Validator {
    journal::Validator {
        etag,
        size: m.len(),
        mtime: m.modified().map_or(0, state::seconds),
    }
}

/// The links in the body of a page or style sheet (a style sheet's links are all inline).
fn links_in(bytes: &[u8], page: PageKind) -> links::Links {
    match page {
        PageKind::Html => links::page_in(bytes),
        PageKind::Css => {
            let refs = links::css(&bytes[..bytes.len().min(MAX_CSS as usize)]);
            links::Links {
                inline: vec![true; refs.len()],
                refs,
                ..links::Links::default()
            }
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::Args;

    fn asking(json: bool, resuming: Option<u64>) -> Asking {
        Asking {
            json,
            use_kept: true,
            resuming: resuming.map(|from| (from, "\"v\"".to_string())),
        }
    }

    #[test]
    fn answers_decide_the_next_step() {
        use Answer::*;
        let json = "application/json";
        let html = "text/html";
        // (status, type, asked for JSON, kept listing sent, copy on disk, resuming from,
        // Content-Range start, what follows)
        type Case<'a> = (
            u16,
            &'a str,
            bool,
            bool,
            bool,
            Option<u64>,
            Option<u64>,
            Answer,
        );
        #[rustfmt::skip]
        let cases: &[Case<'_>] = &[
            (304, json, true, true, true, None, None, KeptListing),
            (304, "", true, false, true, None, None, Unchanged),
            (304, "", false, false, false, None, None, Failed),
            (200, json, true, false, false, None, None, Listing),
            (200, json, false, false, false, None, None, Save(None)),
            (200, html, true, false, false, None, None, Save(None)),
            (406, html, true, false, false, None, None, NotJson),
            (406, html, false, false, false, None, None, Failed),
            (301, html, true, false, false, None, None, Redirect),
            (308, "", false, false, true, None, None, Redirect),
            (206, "", false, false, false, Some(10), Some(10), Save(Some(10))),
            (206, "", false, false, false, Some(10), Some(0), RestartRange),
            (416, "", false, false, false, Some(10), None, RestartRange),
            (416, "", false, false, false, None, None, Failed),
            (200, "", false, false, true, Some(10), None, Save(None)),
            (204, "", false, false, false, None, None, Save(None)),
            (404, html, true, false, false, None, None, Failed),
        ];
        for &(status, ty, json, kept, copy, from, start, want) in cases {
            let got = answer(status, ty, &asking(json, from), kept, copy, start);
            assert_eq!(
                got, want,
                "{status} {ty} json={json} kept={kept} copy={copy} {from:?}"
            );
        }
    }

    #[test]
    fn requests_carry_one_condition_and_the_range() {
        let record = |etag: &str| state::Record {
            etag: etag.into(),
            size: 1,
            mtime: 0,
            content_type: "text/html".into(),
        };
        let with_etag = record("\"r\"");
        let no_etag = record("");
        let time = Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(784_111_777));
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        #[rustfmt::skip]
        let cases: &[(Asking, Option<&str>, Option<&state::Record>, &str)] = &[
            (asking(true, None), Some("\"k\""), Some(&with_etag),
             "Accept: application/json|If-None-Match: \"k\""),
            (asking(true, None), None, Some(&with_etag),
             "Accept: application/json|If-None-Match: \"r\""),
            (asking(false, None), None, Some(&no_etag), &format!("If-Modified-Since: {date}")),
            (asking(false, None), None, None, &format!("If-Modified-Since: {date}")),
            (asking(false, Some(5)), None, Some(&with_etag),
             "If-None-Match: \"r\"|Range: bytes=5-|If-Range: \"v\""),
        ];
        for (asking, kept, record, want) in cases {
            let req = request_for(asking, *kept, *record, time);
            let mut got: Vec<String> = req
                .headers
                .iter()
                .map(|h| format!("{}: {}", h.name, h.value.as_deref().unwrap_or("")))
                .collect();
            if let Some((name, value)) = &req.time_condition {
                got.push(format!("{name}: {value}"));
            }
            assert_eq!(got.join("|"), *want);
            assert_eq!(req.method, Method::Get);
        }
        let bare = request_for(&asking(false, None), None, None, None);
        assert!(bare.headers.is_empty() && bare.time_condition.is_none());
    }

    #[test]
    fn no_part_or_an_empty_one_is_not_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        assert_eq!(part_to_resume(&file), None);
        std::fs::write(part_path(&file), "").unwrap();
        assert_eq!(part_to_resume(&file), None);
    }

    /// A crawl of `http://h:1/` saving under a fresh folder, with `flags`, and robots.txt
    /// refusing `/private/`.
    fn with_crawl(flags: &[&str], test: impl FnOnce(&Crawl<'_>, &Path)) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let mut line = vec!["fetch", "--mirror", "-s", "--directory-prefix", root];
        line.extend_from_slice(flags);
        line.push("http://h:1/");
        let config = Config::from_args(Args::parse_ordered(line).unwrap()).unwrap();
        let settings = config.mirror.clone().unwrap();
        std::fs::create_dir_all(settings.dir.join(local::STATE_DIR)).unwrap();
        let robots = robots::Robots::parse("User-agent: *\nDisallow: /private/\n", "fetch", |p| {
            normalize(p)
        });
        let start = Target::parse("http://h:1/").unwrap();
        let crawl = Crawl::new(&config, &settings, start, robots);
        test(&crawl, dir.path());
    }

    fn target(path: &str) -> Target {
        Target::parse(&format!("http://h:1{path}")).unwrap()
    }

    #[test]
    fn places_follow_the_bounds() {
        with_crawl(&["--reject", "*.jpg", "--quota", "100"], |crawl, root| {
            let t = target("/a/b%20c.html");
            let place = crawl.place("u", &t, 0).ok().unwrap();
            assert_eq!(place.rel, Path::new("h:1/a/b c.html"));
            assert_eq!(place.file, root.join("h:1/a/b c.html"));
            assert!(place.keep && place.fresh);
            assert!(place.meta.is_none() && place.record.is_none());
            // Rejected by name, but a page may have links: read, then removed.
            let page = target("/page");
            assert!(crawl.place("u", &page, 0).is_ok());
            let t = target("/p.jpg");
            assert!(crawl.place("u", &t, 0).is_err());
            assert_eq!(crawl.counts.rejected.load(Ordering::Relaxed), 1);
            let t = target("/private/x");
            assert!(crawl.place("u", &t, 0).is_err());
            assert_eq!(crawl.counts.robots.load(Ordering::Relaxed), 1);
            let t = target("/a/..%2f..%2fescape");
            assert!(crawl.place("u", &t, 0).is_err());
            assert_eq!(crawl.counts.refused.load(Ordering::Relaxed), 1);
            crawl.bytes.store(100, Ordering::Relaxed);
            let t = target("/a/more.html");
            assert!(crawl.place("u", &t, 0).is_err());
            assert_eq!(crawl.counts.quota.load(Ordering::Relaxed), 1);
        });
    }

    #[test]
    fn a_symlink_in_the_way_is_refused() {
        with_crawl(&[], |crawl, root| {
            std::fs::create_dir_all(root.join("h:1/a")).unwrap();
            std::os::unix::fs::symlink("/etc/passwd", root.join("h:1/a/f")).unwrap();
            let t = target("/a/f");
            assert!(crawl.place("u", &t, 0).is_err());
            assert_eq!(crawl.counts.refused.load(Ordering::Relaxed), 1);
            std::fs::write(root.join("h:1/a/g"), "old").unwrap();
            let t = target("/a/g");
            let place = crawl.place("u", &t, 0).ok().unwrap();
            assert!(!place.fresh && place.meta.is_some(), "a copy from before");
            assert!(place.record.is_none(), "with no record");
        });
    }

    #[test]
    fn a_listed_copy_as_recorded_costs_no_request() {
        with_crawl(&[], |crawl, root| {
            std::fs::create_dir_all(root.join("h:1")).unwrap();
            let path = root.join("h:1/f.txt");
            std::fs::write(&path, "12345").unwrap();
            let file = std::fs::File::open(&path).unwrap();
            let meta = file.metadata().unwrap();
            let mtime = state::seconds(meta.modified().unwrap());
            let record = state::Record {
                etag: "\"e\"".into(),
                size: 5,
                mtime,
                content_type: "text/plain".into(),
            };
            state::save(root, Path::new("h:1/f.txt"), &file, &record).unwrap();
            let t = target("/f.txt");
            let place = crawl.place("u", &t, 0).ok().unwrap();
            assert_eq!(place.record.as_ref(), Some(&record));
            let stamp = |size, modified| Some(listing::Stamp { size, modified });
            assert!(
                crawl
                    .unchanged_by_listing(&place, stamp(6, mtime))
                    .is_none()
            );
            assert!(
                crawl
                    .unchanged_by_listing(&place, stamp(5, mtime + 1))
                    .is_none()
            );
            assert!(crawl.unchanged_by_listing(&place, None).is_none());
            assert!(
                crawl
                    .unchanged_by_listing(&place, stamp(5, mtime))
                    .is_some()
            );
            assert_eq!(crawl.counts.unchanged.load(Ordering::Relaxed), 1);
            // The same file reached again in this run is not counted twice.
            assert!(
                crawl
                    .unchanged_by_listing(&place, stamp(5, mtime))
                    .is_some()
            );
            assert_eq!(crawl.counts.same_file.load(Ordering::Relaxed), 1);
        });
    }
}
