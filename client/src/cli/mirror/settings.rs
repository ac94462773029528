//! `--mirror` and `--recursive` on the command line: the crawl's flags checked against each
//! other and against the curl flags a crawl cannot honour, into [`MirrorSettings`]. Every
//! problem found here is a usage error (exit 2). `config.rs` calls it; nothing here knows
//! the crawl.

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::args::Args;
use crate::error::Error;

/// Files a crawl fetches at once without -Z: wget2's default, enough to keep a server's
/// answers overlapping on a round trip without more threads than small machines have use
/// for.
pub const MIRROR_PARALLEL: usize = 5;

/// `--mirror` and `--recursive`: the bounds of a crawl and where it saves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorSettings {
    /// The folder everything is saved under (`--directory-prefix`, else `--output-dir`,
    /// else `.`).
    pub dir: PathBuf,
    /// How many links away from the start a page may be; `None`: no limit.
    pub depth: Option<u32>,
    /// `--no-parent`: only URLs under the start URL's folder.
    pub no_parent: bool,
    /// `--no-host-directories`: no HOST[:PORT] folder under `dir`.
    pub host_dirs: bool,
    /// `--quota`: no new file once this many body bytes have arrived.
    pub quota: Option<u64>,
    /// `--cut-dirs`: leading folders left out of each saved path.
    pub cut_dirs: usize,
    /// `--wait`: the pause between requests, and whether `--random-wait` varies it.
    pub wait: Option<(Duration, bool)>,
    /// robots.txt is respected (not `--execute robots=off`).
    pub robots: bool,
    /// `--accept`, as typed.
    pub accept: Option<String>,
    /// `--reject`, as typed.
    pub reject: Option<String>,
    /// `--accept-regex`, as typed (checked to compile).
    pub accept_regex: Option<String>,
    /// `--reject-regex`, as typed (checked to compile).
    pub reject_regex: Option<String>,
    /// `--delete`: remove what vanished upstream.
    pub delete: bool,
    /// `--page-requisites`: what a page needs to show is fetched past `--level`.
    pub page_requisites: bool,
    /// `--convert-links`: links in saved pages point at the local copies.
    pub convert_links: bool,
    /// `--span-hosts`: links to other hosts and ports are followed.
    pub span_hosts: bool,
    /// `--domains`: with `--span-hosts`, only hosts in these domains.
    pub domains: Vec<String>,
}

impl MirrorSettings {
    /// The crawl's settings when --mirror or --recursive is given, else `None`. The
    /// mirror-only flags without either are a usage error, as are flags that name one
    /// output or send a body, a `--delete` with a bound, and a regex that does not compile.
    pub fn from_args(args: &Args) -> Result<Option<MirrorSettings>, Error> {
        if !args.mirror && !args.recursive {
            refuse_crawl_flags(args)?;
            return Ok(None);
        }
        if args.targets.len() != 1 {
            return usage("--mirror and --recursive take exactly one start URL");
        }
        refuse_clashes(args)?;
        refuse_bounded_delete(args)?;
        check_regexes(args)?;
        Ok(Some(MirrorSettings::read(args)))
    }

    /// The settings as given, once checked.
    fn read(args: &Args) -> MirrorSettings {
        let dir = args
            .directory_prefix
            .clone()
            .or_else(|| args.output_dir.as_ref().map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("."));
        // wget: -r goes 5 deep unless -l says otherwise; --mirror has no limit; -l 0 is inf.
        let depth = match args.level {
            Some(0) => None,
            Some(n) => Some(n),
            None if args.mirror => None,
            None => Some(5),
        };
        MirrorSettings {
            dir,
            depth,
            no_parent: args.no_parent,
            host_dirs: !args.no_host_directories,
            quota: args.quota,
            cut_dirs: args.cut_dirs.unwrap_or(0),
            wait: args
                .wait
                .filter(|w| !w.is_zero())
                .map(|w| (w, args.random_wait)),
            robots: args.execute.unwrap_or(true),
            accept: args.accept.clone(),
            reject: args.reject.clone(),
            accept_regex: args.accept_regex.clone(),
            reject_regex: args.reject_regex.clone(),
            delete: args.delete,
            page_requisites: args.page_requisites,
            span_hosts: args.span_hosts,
            convert_links: args.convert_links,
            domains: args
                .domains
                .as_deref()
                .unwrap_or("")
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }
}

fn usage<T>(m: &str) -> Result<T, Error> {
    Err(Error::Usage(m.to_string()))
}

/// The first flag found among `flags` that is on, with its name.
fn first_on<'a>(flags: &[(bool, &'a str)]) -> Option<&'a str> {
    flags.iter().find(|(on, _)| *on).map(|(_, name)| *name)
}

/// Without --mirror or --recursive, the crawl's own flags are a usage error.
fn refuse_crawl_flags(args: &Args) -> Result<(), Error> {
    let given = [
        (args.level.is_some(), "--level"),
        (args.no_parent, "--no-parent"),
        (args.directory_prefix.is_some(), "--directory-prefix"),
        (args.no_host_directories, "--no-host-directories"),
        (args.quota.is_some(), "--quota"),
        (args.cut_dirs.is_some(), "--cut-dirs"),
        (args.wait.is_some(), "--wait"),
        (args.random_wait, "--random-wait"),
        (args.execute.is_some(), "--execute"),
        (args.accept.is_some(), "--accept"),
        (args.reject.is_some(), "--reject"),
        (args.accept_regex.is_some(), "--accept-regex"),
        (args.reject_regex.is_some(), "--reject-regex"),
        (args.delete, "--delete"),
        (args.page_requisites, "--page-requisites"),
        (args.span_hosts, "--span-hosts"),
        (args.convert_links, "--convert-links"),
        (args.domains.is_some(), "--domains"),
    ];
    match first_on(&given) {
        Some(flag) => usage(&format!("{flag} goes with --mirror or --recursive")),
        None => Ok(()),
    }
}

/// The curl flags that name one output, send a body or bound one transfer: a crawl names
/// its own files and asks conditionally by itself.
fn refuse_clashes(args: &Args) -> Result<(), Error> {
    let clashes = [
        (
            !args.outputs.is_empty() || args.remote_name_all,
            "-o and -O",
        ),
        (args.head || args.include, "-I and -i"),
        (!args.data.is_empty() || !args.json.is_empty(), "-d"),
        (!args.form.is_empty(), "-F"),
        (!args.upload_file.is_empty(), "-T"),
        (args.continue_at.is_some(), "-C"),
        (
            args.range.is_some(),
            "-r (curl's --range; wget's -r is --recursive)",
        ),
        (args.compressed, "--compressed"),
        (args.remote_header_name, "-J"),
        (
            args.time_cond.is_some(),
            "-z (a mirror asks conditionally by itself)",
        ),
        (
            args.etag_save.is_some() || args.etag_compare.is_some(),
            "--etag-save and --etag-compare (a mirror keeps ETags by itself)",
        ),
        (args.write_out.is_some(), "-w"),
        (args.dump_header.is_some(), "-D (wget's -D is --domains)"),
        (args.timing, "--timing"),
        // Per-transfer limits the crawl does not apply yet: refused rather than ignored.
        (args.limit_rate.is_some(), "--limit-rate"),
        (args.max_filesize.is_some(), "--max-filesize"),
        (
            args.speed_limit.is_some() || args.speed_time.is_some(),
            "-Y and -y",
        ),
    ];
    match first_on(&clashes) {
        Some(flags) => usage(&format!(
            "{flags} cannot go with --mirror or --recursive (a mirror names its own files)"
        )),
        None => Ok(()),
    }
}

/// --delete removes what a complete crawl no longer reaches: a bounded crawl would remove
/// what it merely did not reach.
fn refuse_bounded_delete(args: &Args) -> Result<(), Error> {
    if !args.delete {
        return Ok(());
    }
    let bounds = [
        (
            args.level.is_some() || !args.mirror,
            "--level (and --recursive's depth of 5)",
        ),
        (args.quota.is_some(), "--quota"),
        (
            args.accept.is_some() || args.reject.is_some(),
            "--accept and --reject",
        ),
        (
            args.accept_regex.is_some() || args.reject_regex.is_some(),
            "--accept-regex and --reject-regex",
        ),
        (args.cut_dirs.is_some(), "--cut-dirs"),
    ];
    match first_on(&bounds) {
        Some(flags) => usage(&format!(
            "--delete cannot go with {flags}: files not reached would be removed"
        )),
        None => Ok(()),
    }
}

/// `--accept-regex` and `--reject-regex` compile, or the parser's complaint on one line.
fn check_regexes(args: &Args) -> Result<(), Error> {
    for (flag, regex) in [
        ("--accept-regex", &args.accept_regex),
        ("--reject-regex", &args.reject_regex),
    ] {
        if let Some(Err(e)) = regex.as_deref().map(regex_lite::Regex::new) {
            // One line, whatever the parser's message looks like.
            let why = e
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            return usage(&format!("{flag}: not a regular expression: {why}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(line: &[&str]) -> Result<Option<MirrorSettings>, String> {
        let mut all = vec!["fetch"];
        all.extend_from_slice(line);
        let args = Args::parse_ordered(all).map_err(|e| e.to_string())?;
        MirrorSettings::from_args(&args).map_err(|e| e.to_string())
    }

    #[test]
    fn depth_follows_wget() {
        let depth = |line: &[&str]| settings(line).unwrap().unwrap().depth;
        assert_eq!(depth(&["--mirror", "x/"]), None);
        assert_eq!(depth(&["--recursive", "x/"]), Some(5));
        assert_eq!(depth(&["--recursive", "--level", "2", "x/"]), Some(2));
        assert_eq!(depth(&["--recursive", "--level", "0", "x/"]), None);
    }

    #[test]
    fn no_crawl_no_settings() {
        assert_eq!(settings(&["x/"]), Ok(None));
    }

    #[test]
    fn refusals_name_the_flag() {
        let cases: &[(&[&str], &str)] = &[
            (&["--no-parent", "x/"], "--no-parent goes with --mirror"),
            (&["--mirror", "x/", "y/"], "exactly one start URL"),
            (&["--mirror", "-o", "f", "x/"], "-o and -O cannot go with"),
            (&["--mirror", "--timing", "x/"], "--timing cannot go with"),
            (
                &["--mirror", "--delete", "--quota", "9", "x/"],
                "--delete cannot go with --quota",
            ),
            (
                &["--recursive", "--delete", "x/"],
                "--delete cannot go with --level",
            ),
            (
                &["--mirror", "--accept-regex", "(", "x/"],
                "--accept-regex: not a regular expression",
            ),
        ];
        for (line, want) in cases {
            let got = settings(line).unwrap_err();
            assert!(got.contains(want), "{line:?}: {got}");
            assert!(!got.contains('\n'), "{line:?}: {got}");
        }
    }
}
