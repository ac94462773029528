//! The command lines curl users type, run through `fetch` and through curl itself on the
//! same line against the same server: exit code, stdout bytes and files written must match.
//! The server is `Echo` (tests/support/echo.rs): it sends back the request it received, so a
//! difference in what was sent shows up as a difference on stdout.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;

use super::{Run, fetch_with_stdin, run_with_stdin};
use crate::support::echo::Echo;

/// Whether curl is here to compare with: a skip locally, a failure in CI (as for every peer).
pub(super) fn have_curl() -> bool {
    crate::peers::program("curl", "curl").is_some()
}

/// Runs the same line through curl and fetch, each in a copy of `files` (name, contents)
/// in a folder of its own, with `input` on stdin; asserts that the exit codes, stdout and
/// every file left in the folder are the same. Returns fetch's run.
pub fn same_as_curl(files: &[(&str, &[u8])], args: &[&str], input: &[u8]) -> Run {
    let theirs_dir = tempfile::tempdir().unwrap();
    let ours_dir = tempfile::tempdir().unwrap();
    for dir in [&theirs_dir, &ours_dir] {
        for (name, bytes) in files {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
    }
    // Shown with a failure's output: which line it was.
    eprintln!("comparing fetch and curl on {args:?}");
    let theirs = run_with_stdin(&mut Command::new("curl"), theirs_dir.path(), args, input);
    let ours = fetch_with_stdin(ours_dir.path(), args, input);
    assert_eq!(
        ours.code, theirs.code,
        "exit codes for {args:?}: fetch {} curl {}; fetch said {:?}, curl said {:?}",
        ours.code, theirs.code, ours.stderr, theirs.stderr
    );
    let masked = Run {
        code: ours.code,
        stdout: mask_boundaries(&ours.stdout),
        stderr: ours.stderr.clone(),
    };
    masked.stdout(&mask_boundaries(&theirs.stdout));
    assert_eq!(
        listing(theirs_dir.path()),
        listing(ours_dir.path()),
        "files left by {args:?} (curl, then fetch)"
    );
    ours
}

/// Runs `line` through curl and fetch in an empty folder with the environment variables
/// `set` (and none of `unset`), and asserts the same exit code and stdout. Returns fetch's.
fn same_as_curl_in_env(set: &[(&str, &std::ffi::OsStr)], unset: &[&str], line: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut theirs = Command::new("curl");
    let mut ours = Command::new(crate::support::bin("fetch"));
    for c in [&mut theirs, &mut ours] {
        for v in unset {
            c.env_remove(v);
        }
        c.envs(set.iter().copied());
    }
    eprintln!("comparing fetch and curl on {line:?} with {set:?}");
    let theirs = run_with_stdin(&mut theirs, dir.path(), line, b"");
    let ours = run_with_stdin(&mut ours, dir.path(), line, b"");
    ours.code(theirs.code).stdout(&theirs.stdout);
    ours
}

/// `bytes` with every multipart boundary (24 dashes and 16 hex digits, random in curl and
/// in fetch) replaced by the same letters, so that two forms compare.
fn mask_boundaries(bytes: &[u8]) -> Vec<u8> {
    let dashes = [b'-'; 24];
    let mut out = bytes.to_vec();
    let mut i = 0;
    while i + 40 <= out.len() {
        if out[i..i + 24] == dashes && out[i + 24..i + 40].iter().all(u8::is_ascii_hexdigit) {
            out[i + 24..i + 40].copy_from_slice(b"BOUNDARYBOUNDARY");
            i += 40;
        } else {
            i += 1;
        }
    }
    out
}

/// Every file in `dir` with its contents, sorted by name.
fn listing(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = walk(dir, dir);
    out.sort();
    out
}

fn walk(root: &Path, dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(root, &path));
        } else {
            let name = path.strip_prefix(root).unwrap().display().to_string();
            let bytes = std::fs::read(&path).unwrap();
            out.push((name, String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    out
}

/// A URL on a port nobody listens on: bound for a moment, noted, let go.
pub(super) fn refused_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}/x", l.local_addr().unwrap())
}

const FORM: &[u8] = b"a=1\r\nb=2\nc = 3&d\n";

#[test]
fn fail_silent_show_error_location() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    for args in [
        vec!["-fsSL", "/r/302"],
        vec!["-fsSL", "/status/404"],
        vec!["-fsS", "/status/500"],
        vec!["-fs", "/status/404"],
        vec!["-s", "/status/404"],
        vec!["-s", "--fail-with-body", "/status/404"],
        vec!["-sS", "--fail-with-body", "-L", "/r/301"],
        vec!["-s", "-f", "--fail-with-body", "/echo"],
    ] {
        let url = echo.url(args.last().unwrap());
        let mut line: Vec<&str> = args[..args.len() - 1].to_vec();
        line.push(&url);
        let run = same_as_curl(&[], &line, b"");
        // -s alone hides the error line, as in curl; -S shows it.
        let shows = line.iter().any(|a| a.starts_with("-") && a.contains('S'));
        if run.code != 0 && run.code != 2 {
            assert_eq!(!run.stderr.is_empty(), shows, "{line:?}: {:?}", run.stderr);
        }
    }
}

#[test]
fn request_bodies_as_curl_sends_them() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let u = echo.url("/echo");
    let q = echo.url("/echo?x=1");
    let files: &[(&str, &[u8])] = &[("form.txt", FORM), ("empty", b"")];
    let lines: Vec<Vec<&str>> = vec![
        vec!["-s", "-d", "a=1", &u],
        vec!["-s", "-d", "a=1", "-d", "b=2", "--data-raw", "@raw", &u],
        vec!["-s", "--data", "@form.txt", &u],
        vec!["-s", "--data-ascii", "@form.txt", &u],
        vec!["-s", "--data-binary", "@form.txt", "-d", "x", &u],
        vec![
            "-s",
            "--data-urlencode",
            "k=a b&c/é",
            "--data-urlencode",
            "=x y",
            &u,
        ],
        vec![
            "-s",
            "--data-urlencode",
            "@form.txt",
            "--data-urlencode",
            "n@form.txt",
            &u,
        ],
        vec!["-s", "--data-urlencode", "plain", "-d", "@empty", &u],
        vec!["-s", "-d", "", &u],
        vec![
            "-s",
            "-d",
            "a=1",
            "-H",
            "Content-Type: application/json",
            &u,
        ],
        vec!["-s", "-d", "a=1", "-H", "Content-Type:", &u],
        vec!["-s", "-d", "a=1", "-H", "X-Extra: yes", &u],
        vec!["-s", "-X", "PUT", "-d", "a=1", &u],
        vec!["-s", "-X", "DELETE", &u],
        vec!["-s", "--request", "PATCH", "--data-binary", "@form.txt", &u],
        vec!["-s", "-G", "-d", "a=1", "-d", "b c", &u],
        vec!["-s", "--get", "--data-urlencode", "q=a b", &q],
        vec!["-s", "-G", "-I", "-d", "a=1", &u],
        vec!["-s", "-X", "POST", &u],
        vec!["-s", "-I", "-d", "a=1", &u],
        vec!["-s", "-d", "@-", &u],
        vec!["-s", "--data-binary", "@-", &u],
        vec!["-s", "--data-urlencode", "in@-", &u],
    ];
    for line in lines {
        same_as_curl(files, &line, b"from\r\nstdin\n");
    }
}

#[test]
fn redirects_keep_or_drop_the_body_as_curl_does() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    for code in ["301", "302", "303", "307", "308"] {
        let url = echo.url(&format!("/r/{code}"));
        for extra in [
            &[][..],
            &["--post301"][..],
            &["--post302"][..],
            &["--post303"][..],
            &["-X", "POST"][..],
            &["-X", "PUT"][..],
        ] {
            let mut line = vec!["-s", "-L", "-d", "a=1"];
            line.extend_from_slice(extra);
            line.push(&url);
            same_as_curl(&[], &line, b"");
        }
    }
}

#[test]
fn identity_user_and_referer() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let u = echo.url("/echo");
    let r = echo.url("/r/302");
    let lines: Vec<Vec<&str>> = vec![
        vec!["-s", "-u", "al:pw", &u],
        vec!["-s", "--basic", "--user", "al:p:w:", &u],
        vec!["-s", "-u", ":", "-d", "x", &u],
        vec!["-s", "-u", "al:pw", "-H", "Authorization: Bearer t", &u],
        vec!["-s", "-e", "http://from.test/page", &u],
        vec!["-s", "--referer", "http://from.test/;auto", "-L", &r],
        vec!["-s", "-e", ";auto", "-L", &r],
        vec!["-s", "-e", ";auto", &u],
        vec!["-s", "-u", "al:pw", "-L", &r],
    ];
    for line in lines {
        same_as_curl(&[], &line, b"");
    }
}

#[test]
fn write_out_as_curl_writes_it() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let u = echo.url("/echo");
    let r = echo.url("/r/302");
    let fail = echo.url("/status/404");
    let refused = refused_url();
    let all = "%{http_code} %{response_code} %{url_effective} %{url} %{urlnum} \
               [%{redirect_url}] %{num_redirects} %{size_download} %{size_upload} \
               %{size_header} [%{content_type}] %{exitcode} [%{remote_ip}] %{remote_port} \
               %header{Content-Type}|%header{nope}| %{http_version} %{num_headers} \
               [%{filename_effective}] [%{scheme}] %{HTTP_CODE}\\n%%\\t\\q%q%";
    // A format file's line ends are dropped as curl reads it (its `\n` escapes are not):
    // lines that end in `\n`, CRLF, a CR inside a line, a line longer than curl's 255-byte
    // read.
    let long = format!("{}\r...\n%{{http_code}}\n", "x".repeat(300));
    let files: &[(&str, &[u8])] = &[
        ("fmt.txt", b"code=%{http_code}\\n"),
        (
            "lines.txt",
            b"code=%{http_code}\\n\nsize=%{size_download}\\n\n",
        ),
        ("crlf.txt", b"a\\n\r\nb\rhidden\nc\\n\n"),
        ("long.txt", long.as_bytes()),
    ];
    let lines: Vec<Vec<&str>> = vec![
        vec!["-s", "-w", all, &u],
        vec!["-s", "-w", all, "-o", "out.txt", &u],
        vec!["-s", "-w", all, "-o", "/dev/null", "-d", "abc", &r],
        vec!["-s", "-w", all, "-L", &r, &u],
        vec!["-s", "-w", all, &fail],
        vec!["-s", "-w", all, "-f", &fail],
        vec!["-s", "-w", all, &refused],
        vec![
            "-s",
            "-w",
            "%{http_code}%{onerror} failed: %{exitcode}\\n",
            &u,
            &refused,
        ],
        vec!["-s", "-w", "@fmt.txt", &u],
        vec!["-s", "-w", "@lines.txt", &u],
        vec!["-s", "-w", "@crlf.txt", &u],
        vec!["-s", "-w", "@long.txt", &u],
        vec!["-s", "-w", "@-", &u],
        vec!["-s", "-w", "%{stderr}to stderr%{stdout}to stdout", &u],
    ];
    for line in lines {
        same_as_curl(files, &line, b"from stdin %{http_code}");
    }
    same_as_curl(
        &[],
        &["-s", "-w", "@-", &u],
        b"one %{http_code}\\n\ntwo\\n\n",
    );
    // Times are curl's format: seconds with six decimals.
    let times = "%{time_namelookup} %{time_connect} %{time_appconnect} %{time_pretransfer} \
                 %{time_starttransfer} %{time_redirect} %{time_total} %{speed_download}";
    let run = super::fetch(&["-s", "-o", "/dev/null", "-L", "-w", times, &r]);
    let text = String::from_utf8(run.code(0).stdout.clone()).unwrap();
    let fields: Vec<&str> = text.split(' ').collect();
    assert_eq!(fields.len(), 8, "{text}");
    for f in &fields[..7] {
        let (whole, frac) = f.split_once('.').expect(f);
        assert!(whole.parse::<u64>().is_ok() && frac.len() == 6, "{text}");
    }
    assert!(fields[7].parse::<u64>().is_ok(), "{text}");
    // An unknown variable writes nothing, and one warning line.
    let run = super::fetch(&["-s", "-o", "/dev/null", "-w", "a%{bogus}b", &u]);
    run.code(0).stdout(b"ab");
    assert_eq!(run.stderr, "fetch: unknown --write-out variable: 'bogus'\n");
}

#[test]
fn dump_header_as_curl_dumps_it() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let u = echo.url("/echo");
    let r = echo.url("/r/301");
    let refused = refused_url();
    let lines: Vec<Vec<&str>> = vec![
        vec!["-s", "-D", "h.txt", &u],
        vec!["-s", "-D", "h.txt", "-L", &r, &u],
        vec!["-s", "--dump-header", "-", "-L", &r],
        vec!["-s", "-D", "-", "-o", "body.txt", &u],
        vec!["-s", "-D", "-", "-i", &u],
        vec!["-s", "-D", "h.txt", &refused],
    ];
    for line in lines {
        same_as_curl(&[], &line, b"");
    }
}

#[test]
fn json_bodies_as_curl_sends_them() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let u = echo.url("/echo");
    let files: &[(&str, &[u8])] = &[("doc.json", b"{\"f\": 1}\n")];
    let lines: Vec<Vec<&str>> = vec![
        vec!["-s", "--json", "{\"a\":1}", &u],
        vec![
            "-s",
            "--json",
            "{\"a\":1}",
            "--json",
            "[2]",
            "-H",
            "X-A: 1",
            &u,
        ],
        vec!["-s", "--json", "@doc.json", &u],
        vec!["-s", "--json", "@-", &u],
        vec!["-s", "--json", "{}", "-H", "Accept: text/x", &u],
        vec!["-s", "--json", "{}", "-H", "Content-Type: text/y", &u],
        vec!["-s", "-d", "a=1", "--json", "{}", "-d", "c", &u],
        vec!["-s", "--json", "{}", "-X", "PUT", &u],
    ];
    for line in lines {
        same_as_curl(files, &line, b"[\"from stdin\"]");
    }
}

#[test]
fn outputs_pair_with_urls_as_curl_pairs_them() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let a = echo.url("/echo");
    let b = echo.url("/echo?b");
    let c = echo.url("/echo?c");
    let lines: Vec<Vec<&str>> = vec![
        vec!["-s", "-O", &a, &b, "-o", "f"],
        vec!["-s", "-O", &a, "-O", &b],
        vec!["-s", "--remote-name-all", &a, "-o", "g", &b],
        vec!["-s", "-o", "-", "-O", &a, &b],
        vec!["-s", "-o", "x", "-o", "y", &a],
        vec!["-s", &a, "-o", "x", &b, &c, "-o", "z"],
        vec!["-s", "-Z", "-o", "p", &a, "-o", "q", &b],
        vec![
            "-s",
            "--parallel",
            "--parallel-max",
            "2",
            "-O",
            &a,
            "-o",
            "q",
            &b,
            "-o",
            "r",
            &c,
        ],
        vec![
            "-s",
            "-Z",
            "--parallel-immediate",
            "--parallel-max",
            "0",
            "-o",
            "p",
            &a,
        ],
        vec!["-s", "-Z", "--parallel-max", "1000", &a],
    ];
    for line in lines {
        same_as_curl(&[], &line, b"");
    }
}

#[test]
fn retries_as_curl_retries() {
    if !have_curl() {
        return;
    }
    let refused = refused_url();
    let echo = Echo::start();
    let fail = echo.url("/status/503");
    let missing = echo.url("/status/404");
    let retried = |stderr: &str, word: &str| stderr.matches(word).count();
    for line in [
        vec!["--retry", "1", "--retry-delay", "1", &refused],
        vec![
            "--retry",
            "1",
            "--retry-delay",
            "1",
            "--retry-connrefused",
            &refused,
        ],
        vec![
            "--retry",
            "1",
            "--retry-delay",
            "1",
            "--retry-all-errors",
            &refused,
        ],
        vec!["--retry", "1", "--retry-delay", "1", &fail],
        vec!["--retry", "1", "--retry-delay", "1", "-f", &missing],
        vec![
            "--retry",
            "1",
            "--retry-delay",
            "1",
            "-f",
            "--retry-all-errors",
            &missing,
        ],
        // One retry, then the time is up: the first attempt has 3 s to fail in (a loaded
        // machine can take over 1 s), and the 5 s delay is cut to what is left.
        vec![
            "--retry",
            "3",
            "--retry-delay",
            "5",
            "--retry-max-time",
            "3",
            &fail,
        ],
    ] {
        // Each into a file of its own folder (curl truncates it before a retry).
        let mut ours = line.clone();
        ours.insert(0, "-o");
        ours.insert(1, "out");
        let (theirs_dir, ours_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let theirs =
            super::run_with_stdin(&mut Command::new("curl"), theirs_dir.path(), &ours, b"");
        let run = super::fetch_in(ours_dir.path(), &ours);
        run.code(theirs.code);
        assert_eq!(
            retried(&run.stderr, "retrying in"),
            retried(&theirs.stderr, "Will retry in"),
            "{line:?}: fetch said {:?}, curl said {:?}",
            run.stderr,
            theirs.stderr
        );
    }
}

#[test]
fn uploads_as_curl_sends_them() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let u = echo.url("/echo");
    let dir = echo.url("/dir/");
    let dir_q = echo.url("/dir/?q=1");
    let cont = echo.url("/continue");
    let reject = echo.url("/reject");
    let big: Vec<u8> = (0..1_500_000u32).map(|i| (i % 251) as u8).collect();
    let files: &[(&str, &[u8])] = &[
        ("up.txt", b"up\r\nload\n"),
        ("a b#.txt", b"awkward\n"),
        ("big.bin", &big),
    ];
    let lines: Vec<Vec<&str>> = vec![
        vec!["-s", "-T", "up.txt", &u],
        vec!["-s", "--upload-file", "up.txt", &dir],
        vec!["-s", "-T", "a b#.txt", &dir_q],
        vec!["-s", "-T", "up.txt", &u, &dir],
        vec!["-s", "-T", "up.txt", &cont],
        vec!["-s", "-T", "up.txt", &reject],
        vec!["-s", "-T", "-", &u],
        vec!["-s", "-T", "-", &cont],
        vec!["-s", "-T", "-", "-H", "X-A: 1", "-b", "c=1", &u],
        vec!["-s", "-T", "up.txt", "-H", "Expect:", &u],
        vec!["-s", "-T", "big.bin", &cont],
        vec!["-s", "--data-binary", "@big.bin", &cont],
        vec!["-s", "-T", "up.txt", "-X", "POST", &u],
        vec!["-s", "-T", "missing.txt", &u],
    ];
    for line in lines {
        same_as_curl(files, &line, b"from\r\nstdin\n");
    }
}

#[test]
fn output_naming_and_ranges_as_curl() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let u = echo.url("/echo");
    let dated = echo.url("/dated");
    let lines: Vec<Vec<&str>> = vec![
        vec!["-s", "-r", "0-99", &u],
        vec!["-s", "--range", "5-,-3", "-u", "a:b", &u],
        vec!["-s", "--create-dirs", "-o", "a/b/c.txt", &u],
        vec!["-s", "-o", "missing/c.txt", &u],
        vec!["-s", "--output-dir", "out", "--create-dirs", "-O", &dated],
        vec![
            "-s",
            "--output-dir",
            "out",
            "--create-dirs",
            "-o",
            "x/y",
            &u,
        ],
        vec!["-s", "--output-dir", "nowhere", "-O", &dated],
        vec!["-s", "-R", "-O", &dated],
    ];
    for line in lines {
        same_as_curl(&[], &line, b"");
    }
    // -R: the file carries the server's Last-Modified, as curl's does.
    let dir = tempfile::tempdir().unwrap();
    super::fetch_in(dir.path(), &["-s", "-R", "-O", &dated]).code(0);
    let modified = std::fs::metadata(dir.path().join("dated"))
        .unwrap()
        .modified()
        .unwrap();
    let want = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_445_412_480);
    assert_eq!(modified, want);
}

/// curl's options as `curl --help all` lists them: (short, long, takes a value).
fn curl_options() -> Vec<(Option<char>, String, bool)> {
    let out = crate::support::child::run(
        Command::new("curl").args(["--help", "all"]),
        std::time::Duration::from_secs(10),
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let (short, rest) = match line.strip_prefix('-') {
                Some(r) if !r.starts_with('-') => (r.chars().next(), r.get(3..)?),
                _ => (None, line),
            };
            let rest = rest.strip_prefix("--")?;
            let long: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
            let takes = rest[long.len()..].trim_start().starts_with(['<', '[']);
            Some((short, long, takes))
        })
        .collect()
}

#[test]
fn every_curl_option_is_known_to_fetch() {
    if !have_curl() {
        return;
    }
    let options = curl_options();
    assert!(options.len() > 200, "{} options", options.len());
    let refused = refused_url();
    let dir = tempfile::tempdir().unwrap();
    for (short, long, takes) in &options {
        let mut forms = vec![format!("--{long}")];
        forms.extend(short.map(|c| format!("-{c}")));
        for form in forms {
            let mut line = vec!["-s", "-m", "5", form.as_str()];
            if *takes {
                line.push("1");
            }
            line.push(&refused);
            let run = super::fetch_in(dir.path(), &line);
            // Supported, ignored as curl ignores it, or refused with a reason: never unknown.
            assert!(
                !run.stderr.contains("unexpected argument"),
                "{line:?}: {}",
                run.stderr
            );
            if run.stderr.contains("is a curl option fetch does not have") {
                run.code(2).error("is a curl option fetch does not have");
            }
        }
    }
}

#[test]
fn small_options_as_curl() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let u = echo.url("/echo");
    // (`{}` with -g: curl_options.rs.)
    let q = echo.url("/echo?[1-2]");
    let fail = echo.url("/status/404");
    let big: Vec<u8> = vec![b'x'; 1_200_000];
    let files: &[(&str, &[u8])] = &[("big.bin", &big)];
    let lines: Vec<Vec<&str>> = vec![
        vec!["-s", "-k", &u],
        vec!["-s", "--insecure", "-q", &u],
        vec!["-s", "-g", &q],
        vec!["-s", "-0", &u],
        vec!["-s", "--http1.1", &u],
        vec!["-s", "--no-progress-meter", &u],
        vec!["-s", "--url", &u, &fail, "--url", &q, "-g"],
        vec!["-s", "-f", "--remove-on-error", "-o", "out", &fail],
        // curl takes any next word as a value, and a repeated switch is no error.
        vec!["-s", "-s", "-d", "-x", "--data", "-", &u],
        vec!["-sS", "-s", "-e", "-ref", "-H", "X-A: -1", &u],
        vec![
            "-s",
            "--expect100-timeout",
            "0.2",
            "--data-binary",
            "@big.bin",
            &u,
        ],
    ];
    for line in lines {
        same_as_curl(files, &line, b"");
    }
}

#[test]
fn forms_as_curl_sends_them() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let u = echo.url("/echo");
    let r = echo.url("/r/307");
    let files: &[(&str, &[u8])] = &[
        ("up.txt", b"up\r\nload\n"),
        ("d.json", b"{\"a\":1}\n"),
        ("pic.PNG", b"\x89PNG"),
        ("a b.bin", b"\x00\x01"),
    ];
    let lines: Vec<Vec<&str>> = vec![
        vec!["-s", "-F", "name=value", &u],
        vec!["-s", "-F", "file=@up.txt", "-F", "name=v", &u],
        vec![
            "-s",
            "-F",
            "j=@d.json;type=application/x-j;filename=x\"y.json",
            &u,
        ],
        vec!["-s", "-F", "txt=<up.txt", "--form-string", "s=@raw;x", &u],
        vec![
            "-s",
            "-F",
            "n\"q=v",
            "-F",
            "p=@pic.PNG",
            "-F",
            "b=@a b.bin",
            &u,
        ],
        vec![
            "-s",
            "-F",
            "a=b;c",
            "-F",
            "x=y;type=text/z",
            "-F",
            "p=@up.txt;foo=bar",
            &u,
        ],
        vec!["-s", "-F", "f=@-", &u],
        vec!["-s", "-F", "g=<-", &u],
        vec!["-s", "-F", "q=\"a;b\";type=t/u", &u],
        vec!["-s", "-L", "-F", "f=@up.txt", &r],
        vec!["-s", "-F", "noeq", &u],
        vec!["-s", "-F", "f=@missing.txt", &u],
        vec!["-s", "-F", "a=1", "-d", "b=2", &u],
    ];
    for line in lines {
        same_as_curl(files, &line, b"from stdin\n");
    }
}

#[test]
fn folded_response_headers_are_taken_as_curl_takes_them() {
    if !have_curl() {
        return;
    }
    use super::scripted::{Script, Then};
    let s = Script::fixed(
        b"HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 3\r\n\r\nok\n",
        Then::Close,
    );
    let url = s.url("/");
    for line in [
        vec!["-s", &url],
        vec!["-s", "-i", &url],
        vec!["-s", "-D", "h", &url],
    ] {
        same_as_curl(&[], &line, b"");
    }
}

#[test]
fn cookies_as_curl_keeps_them() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let u = echo.url("/echo");
    let set = echo.url("/setc/x");
    let jar: &[u8] = b"# Netscape HTTP Cookie File\n\
        127.0.0.1\tFALSE\t/\tFALSE\t0\tsess\tv1\n\
        .127.0.0.1\tTRUE\t/echo\tFALSE\t4102444800\tlong\tv2\n\
        127.0.0.1\tFALSE\t/other\tFALSE\t0\tno\tv3\n\
        #HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t0\thttponly\tv4\n";
    let files: &[(&str, &[u8])] = &[("jar.txt", jar)];
    let lines: Vec<Vec<&str>> = vec![
        vec![
            "-s",
            "-b",
            "a=1; b=2",
            "-e",
            "http://r/",
            "-H",
            "X-A: 1",
            &u,
        ],
        vec!["-s", "-b", "a=1", "--cookie", "c=3", &u],
        vec!["-s", "-b", "jar.txt", &u],
        vec!["-s", "-b", "jar.txt", "-b", "lit=1", &u],
        vec!["-s", "-b", "jar.txt", "-c", "out.txt", &u],
        vec!["-s", "-b", "jar.txt", "-j", "-c", "out.txt", &u],
        vec!["-s", "-L", "-c", "new.txt", &set],
        vec!["-s", "-L", "-b", "lit=1", &set],
        vec!["-s", "-L", "-b", "missing.txt", &set, &u],
        vec!["-s", "-c", "-", &u],
        vec!["-s", "-c", "empty.txt", &u],
        vec!["-s", "--cookie-jar", "jar.txt", "-b", "jar.txt", "-L", &set],
    ];
    for line in lines {
        same_as_curl(files, &line, b"");
    }
}

#[test]
fn remote_header_names_as_curl_takes_them() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let name = echo.url("/disp/name.txt");
    let evil = echo.url("/disp/..%2F..%2Fetc%2Fevil.txt");
    let spaced = echo.url("/disp/a%20b.txt");
    let plain = echo.url("/dispu/x");
    let none = echo.url("/echo");
    let files: &[(&str, &[u8])] = &[("taken.txt", b"mine\n")];
    let taken = echo.url("/disp/taken.txt");
    let lines: Vec<Vec<&str>> = vec![
        vec!["-s", "-OJ", &name],
        vec!["-s", "-O", "-J", &evil],
        vec!["-s", "-OJ", &spaced],
        vec!["-s", "--remote-header-name", "-O", &plain],
        vec!["-s", "-OJ", &none],
        vec!["-s", "-J", &name],
        vec!["-s", "-J", "-o", "out", &name],
        vec!["-s", "-OJ", &taken],
        vec!["-s", "-OJ", "--output-dir", "sub", "--create-dirs", &name],
    ];
    for line in lines {
        same_as_curl(files, &line, b"");
    }
}

#[test]
fn conditions_and_limits_as_curl() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let u = echo.url("/echo");
    let etag = echo.url("/etag");
    // One line, as --etag-save writes it (curl 7.88 glues further lines on; fetch reads one).
    let files: &[(&str, &[u8])] = &[("et.txt", b"\"abc\"\n")];
    let lines: Vec<Vec<&str>> = vec![
        vec![
            "-s",
            "-z",
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "-H",
            "X-A: 1",
            "-e",
            "r",
            &u,
        ],
        vec![
            "-s",
            "-z",
            "-21 Oct 2015 07:28:00",
            "-b",
            "a=1",
            "-r",
            "0-1",
            &u,
        ],
        vec!["-s", "--time-cond", "21 Oct 2015", &u],
        vec!["-s", "-z", "nonsense", &u],
        vec!["-s", "--etag-save", "e.txt", &etag],
        vec!["-s", "--etag-save", "e.txt", &u],
        vec!["-s", "--etag-compare", "et.txt", "-H", "X-A: 1", &u],
        vec!["-s", "--etag-compare", "missing.txt", &u],
        vec!["-s", "--max-filesize", "10", &u],
        vec!["-s", "--max-filesize", "1k", &u],
        vec!["-s", "--max-filesize", "10", "-o", "out", &u],
        // curl's B suffix, in either case, and its refusals (curl 7.88 knows B, K, M, G;
        // fetch also takes T and P, which later curl added: see args.rs's unit test).
        vec!["-s", "--max-filesize", "10B", &u],
        vec!["-s", "--max-filesize", "4000b", &u],
        vec!["-s", "--max-filesize", " 10", &u],
        vec!["-s", "--max-filesize", "1kb", &u],
        vec!["-s", "--max-filesize", "1.5k", &u],
        vec!["-s", "--limit-rate", "100000B", &u],
        vec!["-s", "--limit-rate", "1000000b", &u],
    ];
    for line in lines {
        same_as_curl(files, &line, b"");
    }
    // -z FILE: the file's time (set here, so that both would see the same).
    let dir = tempfile::tempdir().unwrap();
    let file = std::fs::File::create(dir.path().join("ref.txt")).unwrap();
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_445_412_480);
    file.set_modified(at).unwrap();
    let run = super::fetch_in(dir.path(), &["-s", "-z", "ref.txt", &u]);
    let text = String::from_utf8_lossy(&run.code(0).stdout).into_owned();
    assert!(
        text.contains("\r\nIf-Modified-Since: Wed, 21 Oct 2015 07:28:00 GMT\r\n"),
        "{text}"
    );
}

#[test]
fn config_files_as_curl_reads_them() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let u = echo.url("/echo");
    let cfg = format!(
        "# a comment\n-s\nurl = \"{u}?a\"\n--header \"X-A: 1 \\\"q\\\"\"\nuser-agent: agent\n  \
         referer=http://r/  trailing\n-d  a=1\n\ndata-urlencode = \"b=x y\"\n"
    );
    let nested = "-K inner.cfg\n";
    let inner = "fail\nheader = \"X-Inner: yes\"\n";
    let files: &[(&str, &[u8])] = &[
        ("main.cfg", cfg.as_bytes()),
        ("outer.cfg", nested.as_bytes()),
        ("inner.cfg", inner.as_bytes()),
    ];
    let status = echo.url("/status/404");
    let lines: Vec<Vec<&str>> = vec![
        vec!["-K", "main.cfg"],
        vec!["--config", "main.cfg", "-H", "X-B: 2"],
        vec!["-s", "-K", "outer.cfg", &u],
        vec!["-s", "-K", "outer.cfg", &status],
        vec!["-s", "-K", "-", &u],
        vec!["-s", "-K", "missing.cfg", &u],
    ];
    for line in lines {
        same_as_curl(files, &line, b"header = \"X-Stdin: 1\"\n");
    }
    // Every quoting form, read from stdin with the transfers run in parallel: a value
    // joined to its short option and quoted (the file is named with the quotes, as curl
    // names it), `=`, `:` and spaces between name and value, escapes, text after a closing
    // quote, a value on an option that takes none, an unknown `--name=value`, CRLF.
    let forms = format!(
        "-o\"name\"\nurl = \"{u}?one\"\n-o \"two words\"\r\nurl=\"{u}?two\"\noutput three\n\
         url:{u}?three\n-sS\nheader = \"X-Esc: \\\"q\\\" \\x\" ignored\nheader:\"X-Colon: 1\"\n\
         -H \"X-Dash: 2\"\n--header=X-No: 3\nsilent yes\n  # comment\n/ comment\n* comment\n"
    );
    let parallel = ["--parallel", "--parallel-immediate", "-K", "-"];
    same_as_curl(&[], &parallel, forms.as_bytes()).code(0);
    same_as_curl(&[], &["-K", "-"], forms.as_bytes());
    // .curlrc, found through $CURL_HOME, and -q first to skip it.
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join(".curlrc"), "header = \"X-Rc: yes\"\n-s\n").unwrap();
    for line in [vec![u.as_str()], vec!["-q", "-s", "-A", "x", &u]] {
        let ours = same_as_curl_in_env(&[("CURL_HOME", home.path().as_os_str())], &[], &line);
        let sent = String::from_utf8_lossy(&ours.stdout).contains("X-Rc: yes");
        assert_eq!(sent, line.len() == 1, "{line:?}");
    }
}

/// Environment variables and a command line.
type EnvLine<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);

/// A running tinyproxy (Debian's), on a port probed free; the one process guard stops it.
pub(crate) struct Tinyproxy {
    _child: crate::support::child::Child,
    pub(crate) port: u16,
    _dir: tempfile::TempDir,
}

impl Tinyproxy {
    /// Starts one, or `None` when tinyproxy is not installed (a failure in CI). tinyproxy
    /// cannot listen on port 0, so a free port is probed by binding it and letting it go.
    pub(crate) fn start() -> Option<Tinyproxy> {
        let program = crate::peers::program("tinyproxy", "tinyproxy")?;
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let conf = dir.path().join("tinyproxy.conf");
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 20\nAllow 127.0.0.1\n\
                 DisableViaHeader Yes\nLogLevel Critical\n"
            ),
        )
        .unwrap();
        let child = crate::support::child::Child::start(
            "tinyproxy",
            Command::new(program).arg("-d").arg("-c").arg(&conf),
        );
        crate::support::wait_for(
            "tinyproxy to listen",
            std::time::Duration::from_secs(30),
            || TcpStream::connect(("127.0.0.1", port)).ok(),
        );
        Some(Tinyproxy {
            _child: child,
            port,
            _dir: dir,
        })
    }
}

#[test]
fn proxies_as_curl_uses_them() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let u = echo.url("/echo?q");
    let r = echo.url("/r/302");
    // The echo server as a proxy shows the request exactly as the client sent it.
    let direct = format!("127.0.0.1:{}", echo.port);
    let absolute = format!("http://{direct}");
    let lines: Vec<Vec<&str>> = vec![
        vec!["-s", "-x", &absolute, "http://example.test:81/echo?q"],
        vec![
            "-s",
            "-x",
            &direct,
            "-U",
            "al:pw",
            "-u",
            "a:b",
            "-H",
            "X-A: 1",
            "http://example.test/p",
        ],
        vec![
            "-s",
            "--proxy",
            &absolute,
            "-e",
            "r",
            "-b",
            "c=1",
            "http://e.test/",
        ],
        vec!["-s", "-x", &absolute, "--noproxy", "example.test", &u],
        vec![
            "-s",
            "-x",
            "http://al:p%40w@nohost.invalid",
            "http://e.test/",
        ],
        vec!["-s", "-x", "", &u],
    ];
    for line in lines {
        same_as_curl(&[], &line, b"");
    }
    // curl's variables: http_proxy in lowercase only, ALL_PROXY, no_proxy; -x "" wins.
    let envs: &[EnvLine<'_>] = &[
        (&[("http_proxy", &absolute)], &["-s", "http://e.test/"]),
        (
            &[("HTTP_PROXY", &absolute)],
            &["-s", "-m", "5", "http://e.test/"],
        ),
        (&[("ALL_PROXY", &absolute)], &["-s", "http://e.test/"]),
        (&[("all_proxy", &direct)], &["-s", "http://e.test/"]),
        (
            &[("http_proxy", &absolute), ("no_proxy", "e.test")],
            &["-s", "-m", "5", "http://e.test/"],
        ),
        (
            &[("http_proxy", &absolute), ("NO_PROXY", "*")],
            &["-s", "-m", "5", "http://e.test/"],
        ),
        (
            &[("http_proxy", &absolute)],
            &["-s", "-m", "5", "-x", "", "http://e.test/"],
        ),
    ];
    let proxy_vars = [
        "http_proxy",
        "HTTP_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "no_proxy",
        "NO_PROXY",
    ];
    for (vars, line) in envs {
        let vars: Vec<(&str, &std::ffi::OsStr)> = vars
            .iter()
            .map(|(k, v)| (*k, std::ffi::OsStr::new(*v)))
            .collect();
        same_as_curl_in_env(&vars, &proxy_vars, line);
    }
    // Through a real forward proxy, to the echo server.
    let Some(tiny) = Tinyproxy::start() else {
        return;
    };
    let proxy = format!("127.0.0.1:{}", tiny.port);
    for line in [
        vec!["-s", "-x", proxy.as_str(), &u],
        vec!["-s", "-x", &proxy, "-d", "a=1", &u],
        vec!["-s", "-x", &proxy, "-L", &r],
        vec!["-s", "-x", &proxy, "-T", "-", &u],
    ] {
        same_as_curl(&[], &line, b"from stdin\n");
    }
}

#[test]
fn netrc_as_curl_reads_it() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let u = echo.url("/echo");
    let by_name = format!("http://localhost:{}/echo", echo.port);
    let netrc: &[u8] = b"machine 127.0.0.1 login nu password np\n\
        macdef init\ncd /\n\n\
        machine 127.0.0.1 login uu password fromfile\n\
        default login du password dp\n";
    let default_first: &[u8] = b"default login du password dp\nmachine 127.0.0.1 login nu\n";
    let files: &[(&str, &[u8])] = &[
        ("my.netrc", netrc),
        ("first.netrc", default_first),
        // A bare `default`: nothing to send.
        ("bare.netrc", b"default\n"),
        // An entry with no password: the next one for the host completes it.
        (
            "partial.netrc",
            b"machine 127.0.0.1 login a\nmachine 127.0.0.1 login b password p\n",
        ),
        ("nopassword.netrc", b"machine 127.0.0.1 login a\n"),
        (
            "hosts.netrc",
            b"machine 127.0.0.1 login a password b\nmachine localhost login l password lp\n",
        ),
    ];
    // A login (and password) in the URL, combined with the file as curl combines them.
    let with = |creds: &str| u.replacen("http://", &format!("http://{creds}@"), 1);
    // (Left out, where curl 7.88 sends a password written for another login and fetch does
    // not: a login no entry has, with no `default`; the login's own entry without a
    // password, followed by another login's entry.)
    let to_local = echo.url(&format!("/tolocal/{}", echo.port));
    let (uu_up, uu, uu_empty, zz_zp, a_x) = (
        with("uu:up"),
        with("uu"),
        with("uu:"),
        with("zz:zp"),
        with("a:x"),
    );
    let lines: Vec<Vec<&str>> = vec![
        vec!["-s", "--netrc-file", "my.netrc", &u],
        vec!["-s", "--netrc-file", "my.netrc", &by_name],
        vec!["-s", "--netrc-optional", "--netrc-file", "my.netrc", &u],
        vec!["-s", "--netrc-file", "my.netrc", "-u", "a:b", &u],
        vec!["-s", "--netrc-file", "missing.netrc", &u],
        vec!["-s", "--netrc-file", "first.netrc", &u],
        vec!["-s", "--netrc-file", "my.netrc", &uu_up],
        vec!["-s", "--netrc-file", "my.netrc", &uu],
        vec!["-s", "--netrc-file", "my.netrc", &zz_zp],
        vec!["-s", "--netrc-optional", "--netrc-file", "my.netrc", &uu_up],
        vec!["-s", "--netrc-optional", "--netrc-file", "my.netrc", &uu],
        vec![
            "-s",
            "--netrc-optional",
            "--netrc-file",
            "my.netrc",
            &uu_empty,
        ],
        vec!["-s", "--netrc-file", "bare.netrc", &u],
        vec!["-s", "--netrc-optional", "--netrc-file", "bare.netrc", &u],
        vec!["-s", "--netrc-file", "partial.netrc", &u],
        // The entry for the URL's login has no password: an empty one, not the URL's.
        vec!["-s", "--netrc-file", "nopassword.netrc", &a_x],
        // A redirect to another host: that host's own entry, with --location-trusted too.
        vec!["-s", "-L", "--netrc-file", "hosts.netrc", &to_local],
        vec![
            "-s",
            "-L",
            "--location-trusted",
            "--netrc-file",
            "hosts.netrc",
            &to_local,
        ],
    ];
    for line in lines {
        same_as_curl(files, &line, b"");
    }
    // -n: $HOME/.netrc.
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join(".netrc"), netrc).unwrap();
    for line in [
        vec!["-s", "-n", u.as_str()],
        vec!["-s", "--netrc", &by_name],
    ] {
        same_as_curl_in_env(&[("HOME", home.path().as_os_str())], &["CURL_HOME"], &line);
    }
}

#[test]
fn protocol_lists_and_tls_options_as_curl() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let u = echo.url("/echo");
    let r = echo.url("/r/302");
    let lines: Vec<Vec<&str>> = vec![
        vec!["-s", "--proto", "=https", &u],
        vec!["-s", "--proto", "-all,http", &u],
        vec!["-s", "--proto", "all,-http", &u],
        vec!["-s", "--proto", "=http,https", "-L", &r],
        vec!["-s", "--proto", "bogus", &u],
        vec!["-s", "--proto-redir", "=https", "-L", &r],
        vec!["-s", "--proto-redir", "=https", &r],
        vec!["-s", "--proto-redir", "-all,http", "-L", &r],
        vec!["-s", "--proto", "=https", "--tlsv1.2", "-sSf", &u],
        vec![
            "-s",
            "--tlsv1.2",
            "--tls-max",
            "1.3",
            "--cacert",
            "/nonexistent",
            "--capath",
            "/x",
            "-k",
            &u,
        ],
        vec!["-s", "--tlsv1", "--tlsv1.0", "--tlsv1.1", "--tlsv1.3", &u],
    ];
    for line in lines {
        same_as_curl(&[], &line, b"");
    }
}

#[test]
fn limit_rate_as_curl() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let u = echo.url("/bytes/60000");
    same_as_curl(&[], &["-s", "--limit-rate", "40k", &u], b"");
    same_as_curl(&[], &["-s", "--limit-rate", "0", &u], b"");
    // 60000 bytes at 40 KiB/s take about 1.5 s: never much less.
    let started = std::time::Instant::now();
    super::fetch(&["-s", "-o", "/dev/null", "--limit-rate", "40k", &u]).code(0);
    assert!(started.elapsed() >= std::time::Duration::from_millis(1200));
    // Uploads too, as in curl: 60000 bytes sent at 40 KiB/s, from a file (sendfile in
    // paced pieces), from memory (-d) and in a form, never much faster.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("up.bin"), vec![b'u'; 60000]).unwrap();
    let sink = echo.url("/echo");
    for body in [
        ["-T", "up.bin"],
        ["--data-binary", "@up.bin"],
        ["-F", "f=@up.bin"],
    ] {
        let started = std::time::Instant::now();
        let mut line = vec!["-s", "-o", "/dev/null", "--limit-rate", "40k"];
        line.extend(body);
        line.push(&sink);
        super::fetch_in(dir.path(), &line).code(0);
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(1200),
            "{body:?}: {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn globs_as_curl_expands_them() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let base = echo.url("");
    let sets = format!("{base}/echo?{{a,b}}[1-2]");
    let ranges = format!("{base}/echo?[01-03:2]x[a-c]");
    let named = format!("{base}/echo?{{a,b}}");
    let letters = format!("{base}/e{{c,}}ho");
    let backwards = format!("{base}/echo?[3-1]");
    let open = format!("{base}/echo?[1-");
    let literal = format!("{base}/echo?[1-2]");
    let lines: Vec<Vec<&str>> = vec![
        vec!["-s", &sets],
        vec!["-s", &ranges],
        vec!["-s", &named, "-o", "out_#1.txt"],
        vec!["-s", &sets, "-o", "#2-#1-#3.txt"],
        vec!["-s", "-O", &named],
        vec![
            "-s",
            &letters,
            "-w",
            "%{urlnum} %{url}\\n",
            "-o",
            "/dev/null",
        ],
        vec!["-s", "-g", &literal],
        vec!["-s", &backwards],
        vec!["-s", &open],
    ];
    for line in lines {
        same_as_curl(&[], &line, b"");
    }
}

#[test]
fn paths_and_international_names_as_curl_sends_them() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let base = echo.url("");
    let dots = format!("{base}/a/../echo/./x/..");
    let encoded = format!("{base}/a%2F..%2Fb");
    let query = format!("{base}/a/../echo?x=/../y");
    // Through the echo server as a proxy, the request line shows the name as sent.
    let proxy = echo.url("");
    let lines: Vec<Vec<&str>> = vec![
        vec!["-s", &dots],
        vec!["-s", "--path-as-is", &dots],
        vec!["-s", &encoded],
        vec!["-s", &query],
        vec!["-s", "-x", &proxy, "http://café.test:81/x"],
        vec!["-s", "-x", &proxy, "http://Bücher.Example/"],
        // (curl 7.88 sends a path's non-ASCII bytes raw; fetch percent-encodes them.)
        vec!["-s", "-x", &proxy, "http://日本語.jp/"],
    ];
    for line in lines {
        same_as_curl(&[], &line, b"");
    }
}

#[test]
fn next_parts_as_curl_runs_them() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let u = echo.url("/echo");
    let set = echo.url("/setc");
    let one = format!("{u}?1");
    let two = format!("{u}?2");
    let lines: Vec<Vec<&str>> = vec![
        vec![
            "-s", "-H", "X-A: 1", &one, "--next", "-d", "x", &two, "-:", &u,
        ],
        vec!["-s", "-o", "a", &one, "--next", &two],
        vec!["-H", "X-A: 1", &one, "--next", "-s", &two],
        vec!["-s", "-b", "c.txt", "-c", "c.txt", "-L", &set, "--next", &u],
        vec!["-s", "-d", "-:", &one, "--next", "-G", "-d", "q=1", &two],
    ];
    for line in lines {
        same_as_curl(&[], &line, b"");
    }
}

#[test]
fn redirect_limits_as_curl() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let l = echo.url("/loop");
    let w = "%{num_redirects} %{http_code} %{exitcode}\\n";
    for line in [
        vec!["-s", "-L", "-w", w, &l],
        vec!["-s", "-L", "--max-redirs", "3", "-w", w, &l],
        vec!["-s", "-L", "--max-redirs", "0", "-w", w, &l],
    ] {
        same_as_curl(&[], &line, b"");
    }
}

/// A `%{json}` line with the values that differ from run to run (times, speeds, our port,
/// the program's version) and from program to program (error words) replaced by `_`.
fn mask_json(text: &str) -> String {
    let volatile = |key: &str| {
        key.starts_with("\"time_")
            || key.starts_with("\"speed_")
            || ["\"local_port\"", "\"curl_version\"", "\"errormsg\""].contains(&key)
    };
    text.trim_end_matches('}')
        .split(",\"")
        .map(|pair| {
            let pair = if pair.starts_with('{') || pair.starts_with('"') {
                pair.to_string()
            } else {
                format!("\"{pair}")
            };
            match pair.trim_start_matches('{').split_once(':') {
                Some((key, _)) if volatile(key) => format!("{key}:_"),
                _ => pair.trim_start_matches('{').to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn write_out_json_as_curl_writes_it() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let refused = refused_url();
    for url in [
        echo.url("/echo"),
        echo.url("/r/302"),
        echo.url("/status/404"),
        refused,
    ] {
        for extra in [&[][..], &["-L"][..], &["-d", "abc", "-o", "out"][..]] {
            let mut line = vec!["-s", "-o", "/dev/null", "-w", "%{json}"];
            line.extend_from_slice(extra);
            line.push(&url);
            let dir = tempfile::tempdir().unwrap();
            let theirs = run_with_stdin(&mut Command::new("curl"), dir.path(), &line, b"");
            let ours = super::fetch_in(dir.path(), &line);
            ours.code(theirs.code);
            assert_eq!(
                mask_json(&String::from_utf8_lossy(&ours.stdout)),
                mask_json(&String::from_utf8_lossy(&theirs.stdout)),
                "{line:?}"
            );
        }
    }
}

#[test]
fn fail_early_as_curl() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let refused = refused_url();
    let missing = echo.url("/status/404");
    let one = echo.url("/echo?1");
    let two = echo.url("/echo?2");
    for line in [
        vec!["-s", "--fail-early", &refused, &two],
        vec!["-s", "--fail-early", "-f", &missing, &two],
        vec!["-s", "--fail-early", "-f", &one, &two],
    ] {
        same_as_curl(&[], &line, b"");
    }
    let run = super::fetch(&["--fail-early", &refused, &two, &one]);
    assert!(
        run.stderr.contains("1 failed, 2 not started"),
        "{}",
        run.stderr
    );
}

#[test]
fn headers_as_curl_sends_them() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let u = echo.url("/echo");
    let lines: Vec<Vec<&str>> = vec![
        vec![
            "-s",
            "-H",
            "X-A:1",
            "-H",
            "X-B:   spaced  ",
            "-H",
            "X-C;",
            &u,
        ],
        vec!["-s", "-H", "Accept:text/x", "-H", "X-D: 4", &u],
        vec!["-s", "-H", "Host: other.test", "-H", "X-E: 5", &u],
        vec!["-s", "-H", "Accept:", "-H", "X-F:", &u],
        vec!["-s", "-A", "my agent", "-H", "X: 1", &u],
        vec!["-s", "-A", "", &u],
        vec![
            "-s",
            "-e",
            "r",
            "-H",
            "Referer: s",
            "-b",
            "a=1",
            "-H",
            "Cookie: b=2",
            &u,
        ],
        vec![
            "-s",
            "-d",
            "x",
            "-H",
            "Content-Type:text/y",
            "-H",
            "Content-Length: 1",
            &u,
        ],
    ];
    for line in lines {
        same_as_curl(&[], &line, b"");
    }
}

#[test]
fn bearer_and_connection_switches_as_curl() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let u = echo.url("/echo");
    let big = echo.url("/bytes/300000");
    let lines: Vec<Vec<&str>> = vec![
        vec!["-s", "--oauth2-bearer", "tok", "-H", "X: 1", &u],
        vec!["-s", "--oauth2-bearer", "tok", "-u", "a:b", &u],
        vec!["-s", "--tcp-nodelay", "--no-keepalive", "-N", &u],
        vec!["-s", "--no-buffer", &big],
    ];
    for line in lines {
        same_as_curl(&[], &line, b"");
    }
    // One that cannot apply, and says why.
    super::fetch(&["-s", "--ntlm", "-u", "a:b", &u])
        .code(2)
        .error("--ntlm is a curl option fetch does not have: NTLM is a Windows-domain scheme");
}

#[test]
fn speed_limits_as_curl() {
    if !have_curl() {
        return;
    }
    let echo = Echo::start();
    let drip = echo.url("/drip");
    for line in [
        // 10 bytes a second is below 1000 for a whole second: aborted (exit 28).
        // (The body is thrown away: how much of it arrives first depends on timing.)
        vec!["-s", "-Y", "1000", "-y", "1", "-o", "/dev/null", &drip],
        // ...and above 1 for 2 s: it completes. (Not 5 for 1 s: the drip's thread, starved
        // for half a second on a loaded machine, could fall under that.)
        vec!["-s", "--speed-limit", "1", "--speed-time", "2", &drip],
    ] {
        same_as_curl(&[], &line, b"");
    }
}
