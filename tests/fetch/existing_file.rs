//! What each answer, and each way a transfer can fail, does to an `-o` file the user
//! already has (ARCHITECTURE.md's promise "nothing the user had is destroyed"). Every row
//! runs the same line through curl and through fetch, each in a folder of its own holding
//! the same old file, against the same origin, and compares the folders after (every
//! file's bytes, and whether its time changed) and the exit codes. This table is the
//! README's "What happens to a file you already have": a row here is a row there. Where
//! fetch differs, on purpose, it keeps more than curl does, and the row says what.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::curl_lines::{have_curl, refused_url};
use super::scripted::{Script, Then, ok, path_of};
use super::{Run, fetch_with_stdin, run_with_stdin};
use crate::support::serve::Serve;

/// The user's copy, and the server's.
const OLD: &[u8] = b"old copy\n";
const NEW: &[u8] = b"new copy\n";
/// When the user's copy was written (2000-01-01): long ago, so that any write shows.
const OLD_TIME: u64 = 946_684_800;
/// When the server's copy was (1999-01-01): older, so `-z page.html` hears "not modified".
const SERVED_TIME: u64 = 915_148_800;
/// The scripted 404 page, the redirect's own body, and the head `-I` gets.
const NOT_FOUND: &[u8] = b"not found\n";
const MOVED: &[u8] = b"moved\n";
const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n";

/// A file after a run: its bytes, and whether its time is still the one it had.
#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    bytes: Vec<u8>,
    untouched: bool,
}

/// Every file under a folder, by its path inside it.
type Folder = BTreeMap<String, State>;

/// What a run did to the row's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    /// Bytes and time as they were.
    Kept,
    /// Written: these bytes now.
    Now(&'static [u8]),
    /// Not there (removed, or never created).
    Absent,
}

struct Row {
    case: &'static str,
    /// The line; an argument starting with `{script}`, `{serve}` or `{refused}` starts with
    /// that origin's URL instead.
    line: &'static [&'static str],
    /// The file the row is about.
    file: &'static str,
    code: i32,
    /// What curl does to it.
    curl: After,
    /// `None`: fetch leaves the whole folder exactly as curl does. Otherwise what fetch does
    /// to the file instead, and the files it leaves beside it.
    fetch: Option<(After, Beside)>,
}

/// Files a run leaves beside the row's file: name and bytes.
type Beside = &'static [(&'static str, &'static [u8])];

const fn row(case: &'static str, line: &'static [&'static str], code: i32, curl: After) -> Row {
    Row {
        case,
        line,
        file: "page.html",
        code,
        curl,
        fetch: None,
    }
}

const Z_LATER: &str = "Sat, 01 Jan 2005 00:00:00 GMT";

fn rows() -> Vec<Row> {
    use After::*;
    let better = |r: Row, after, beside| Row {
        fetch: Some((after, beside)),
        ..r
    };
    vec![
        row("200", &["-o", "page.html", "{script}/page"], 0, Now(NEW)),
        // curl empties the file: 204 says there is nothing to send, not that it is empty.
        better(
            row("204", &["-o", "page.html", "{script}/204"], 0, Now(b"")),
            Kept,
            &[],
        ),
        row(
            "204, no file before",
            &["-o", "fresh.html", "{script}/204"],
            0,
            Now(b""),
        )
        .on("fresh.html"),
        row(
            "206 (-C -, the rest of the server's copy)",
            &["-C", "-", "-o", "page.html", "{serve}/long.html"],
            0,
            Now(b"old copy\nand the rest\n"),
        ),
        row(
            "304 (-z FILE)",
            &["-z", "page.html", "-o", "page.html", "{serve}/page.html"],
            0,
            Kept,
        ),
        row(
            "304 (-z DATE)",
            &["-z", Z_LATER, "-o", "page.html", "{serve}/page.html"],
            0,
            Kept,
        ),
        row(
            "304, no file before",
            &["-z", Z_LATER, "-o", "fresh.html", "{serve}/page.html"],
            0,
            Absent,
        )
        .on("fresh.html"),
        row(
            "200 (-z DATE older than the server's copy)",
            &[
                "-z",
                "Fri, 01 Jan 1990 00:00:00 GMT",
                "-o",
                "page.html",
                "{serve}/page.html",
            ],
            0,
            Now(NEW),
        ),
        row(
            "304 (-H 'If-None-Match: *')",
            &[
                "-H",
                "If-None-Match: *",
                "-o",
                "page.html",
                "{serve}/page.html",
            ],
            0,
            Kept,
        ),
        row(
            "304 (--etag-compare)",
            &[
                "--etag-compare",
                "etag.txt",
                "-o",
                "page.html",
                "{serve}/page.html",
            ],
            0,
            Kept,
        ),
        row(
            "404 without -f",
            &["-o", "page.html", "{script}/404"],
            0,
            Now(NOT_FOUND),
        ),
        row(
            "404 with -f",
            &["-f", "-o", "page.html", "{script}/404"],
            22,
            Kept,
        ),
        row(
            "416 (-C -, the file is complete)",
            &["-C", "-", "-o", "page.html", "{serve}/same.html"],
            0,
            Kept,
        ),
        // curl ignores the 416 and exits 0 with a file that is not the server's; fetch
        // fetches the server's copy whole.
        better(
            row(
                "416 (-C -, the server's copy is shorter)",
                &["-C", "-", "-o", "page.html", "{serve}/short.html"],
                0,
                Kept,
            ),
            Now(b"new\n"),
            &[],
        ),
        row(
            "302 without -L",
            &["-o", "page.html", "{script}/302"],
            0,
            Now(MOVED),
        ),
        row(
            "302 with -L",
            &["-L", "-o", "page.html", "{script}/302"],
            0,
            Now(NEW),
        ),
        row(
            "connection refused",
            &["-o", "page.html", "{refused}"],
            7,
            Kept,
        ),
        row(
            "timeout before the first byte",
            &["-m", "0.5", "-o", "page.html", "{script}/hang"],
            28,
            Kept,
        ),
        // curl has overwritten the file with the first bytes; fetch wrote them to the
        // .part, for a later -C -.
        better(
            row(
                "body cut midway",
                &["-o", "page.html", "{script}/cut"],
                18,
                Now(b"new"),
            ),
            Kept,
            &[("page.html.part", b"new")],
        ),
        // curl removes the file it had overwritten: the user's copy is gone.
        better(
            row(
                "body cut midway, --remove-on-error",
                &["--remove-on-error", "-o", "page.html", "{script}/cut"],
                18,
                Absent,
            ),
            Kept,
            &[],
        ),
        row(
            "-I",
            &["-I", "-o", "page.html", "{script}/page"],
            0,
            Now(HEAD),
        ),
        row(
            "--retry, after the tries",
            &["--retry", "1", "-o", "page.html", "{script}/retry"],
            0,
            Now(NEW),
        ),
        row(
            "--no-clobber",
            &["--no-clobber", "-o", "page.html", "{script}/page"],
            0,
            Kept,
        ),
        row(
            "-J naming a file that exists",
            &["-O", "-J", "{script}/dl/x"],
            23,
            Kept,
        ),
        row(
            "--create-dirs",
            &["--create-dirs", "-o", "out/page.html", "{script}/page"],
            0,
            Now(NEW),
        )
        .on("out/page.html"),
        row(
            "--output-dir",
            &["--output-dir", "out", "-o", "page.html", "{script}/page"],
            0,
            Now(NEW),
        )
        .on("out/page.html"),
    ]
}

impl Row {
    const fn on(self, file: &'static str) -> Row {
        Row { file, ..self }
    }
}

/// The files each run starts with.
const FIXTURE: [&str; 3] = ["page.html", "out/page.html", "etag.txt"];

/// The folder each program runs in: `page.html` and `out/page.html` (the user's copy,
/// written long ago) and `etag.txt` (the server's ETag, for `--etag-compare`).
fn fixture(etag: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("existing file ")
        .tempdir()
        .unwrap();
    std::fs::create_dir(dir.path().join("out")).unwrap();
    for (name, bytes) in FIXTURE.into_iter().zip([OLD, OLD, etag]) {
        put_at(&dir.path().join(name), bytes, OLD_TIME);
    }
    dir
}

fn put_at(path: &Path, bytes: &[u8], secs: u64) {
    std::fs::write(path, bytes).unwrap();
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
        .unwrap();
}

/// Every file under `dir`: its bytes, and whether its time is still [`OLD_TIME`].
fn folder(dir: &Path) -> Folder {
    fn walk(root: &Path, dir: &Path, out: &mut Folder) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
                continue;
            }
            let Ok(bytes) = std::fs::read(&path) else {
                continue; // Gone meanwhile (a .part renamed as we looked).
            };
            let old = SystemTime::UNIX_EPOCH + Duration::from_secs(OLD_TIME);
            let untouched = std::fs::metadata(&path).and_then(|m| m.modified()).ok() == Some(old);
            let name = path.strip_prefix(root).unwrap().display().to_string();
            out.insert(name, State { bytes, untouched });
        }
    }
    let mut out = Folder::new();
    walk(dir, dir, &mut out);
    out
}

fn effect(folder: &Folder, file: &str) -> After {
    match folder.get(file) {
        None => After::Absent,
        Some(s) if s.bytes == OLD && s.untouched => After::Kept,
        // Leaked to 'static only for the comparison's Debug output; a test process.
        Some(s) => After::Now(s.bytes.clone().leak()),
    }
}

/// The scripted origin for one run in `dir`: fixed answers by path, and `/retry`, which
/// answers 503 first and then, before its 200, notes the folder as it is between the tries.
fn script(dir: PathBuf, between: Arc<Mutex<Option<Folder>>>) -> Script {
    let tries = AtomicUsize::new(0);
    Script::start(move |head| {
        let get = head.starts_with("GET ");
        let fixed = |bytes: &[u8]| (bytes.to_vec(), Then::Close);
        match path_of(head) {
            "/page" if !get => fixed(HEAD),
            "/page" => ok(NEW),
            "/204" => fixed(b"HTTP/1.1 204 No Content\r\n\r\n"),
            "/404" => fixed(b"HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\n\r\nnot found\n"),
            "/302" => fixed(b"HTTP/1.1 302 Found\r\nLocation: /page\r\nContent-Length: 6\r\n\r\nmoved\n"),
            "/cut" => fixed(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nnew"),
            "/hang" => (Vec::new(), Then::Hang),
            "/dl/x" => fixed(
                b"HTTP/1.1 200 OK\r\nContent-Disposition: attachment; filename=\"page.html\"\r\n\
                  Content-Length: 9\r\n\r\nnew copy\n",
            ),
            "/retry" if tries.fetch_add(1, Ordering::SeqCst) == 0 => fixed(
                b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 5\r\n\r\nbusy\n",
            ),
            "/retry" => {
                *between.lock().unwrap() = Some(folder(&dir));
                ok(NEW)
            }
            other => panic!("the script has no {other}"),
        }
    })
}

/// The origin both programs share: serve, with the server's copies.
fn serve_origin() -> (Serve, tempfile::TempDir, Vec<u8>) {
    let root = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        ("page.html", NEW),
        ("long.html", b"old copy\nand the rest\n".as_slice()),
        ("same.html", OLD),
        ("short.html", b"new\n"),
    ] {
        put_at(&root.path().join(name), bytes, SERVED_TIME);
    }
    let serve = Serve::start(&["-p", "0", "-q", root.path().to_str().unwrap()]);
    let head = serve.raw(b"HEAD /page.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let head = String::from_utf8_lossy(&head).into_owned();
    let etag = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("ETag: ")
                .or_else(|| l.strip_prefix("etag: "))
        })
        .expect("serve sends an ETag")
        .trim()
        .to_string();
    (serve, root, format!("{etag}\n").into_bytes())
}

/// One program's run of `row` in a fresh fixture: how it ended, the folder after, and the
/// folder between the tries when there were two.
struct Ran {
    run: Run,
    after: Folder,
    between: Option<Folder>,
}

fn run_row(program: &str, row: &Row, serve: &Serve, etag: &[u8]) -> Ran {
    let dir = fixture(etag);
    let between = Arc::new(Mutex::new(None));
    let s = script(dir.path().to_path_buf(), between.clone());
    let refused = refused_url();
    let line: Vec<String> = std::iter::once("-s".to_string())
        .chain(row.line.iter().map(|a| {
            a.replace("{script}", &s.url(""))
                .replace("{serve}", serve.url.trim_end_matches('/'))
                .replace("{refused}", &refused)
        }))
        .collect();
    let line: Vec<&str> = line.iter().map(String::as_str).collect();
    let run = if program == "curl" {
        run_with_stdin(&mut Command::new("curl"), dir.path(), &line, b"")
    } else {
        fetch_with_stdin(dir.path(), &line, b"")
    };
    let after = folder(dir.path());
    let between = between.lock().unwrap().take();
    Ran {
        run,
        after,
        between,
    }
}

#[test]
fn an_existing_file_fares_as_with_curl_or_better() {
    if !have_curl() {
        return;
    }
    let (serve, _root, etag) = serve_origin();
    let mut failures = Vec::new();
    for row in rows() {
        let curl = run_row("curl", &row, &serve, &etag);
        let ours = run_row("fetch", &row, &serve, &etag);
        let mut fail = |what: String| failures.push(format!("{}: {what}", row.case));
        for (who, ran) in [("curl", &curl), ("fetch", &ours)] {
            if ran.run.code != row.code {
                fail(format!(
                    "{who} exited {} (want {}): {}",
                    ran.run.code, row.code, ran.run.stderr
                ));
            }
        }
        let theirs = effect(&curl.after, row.file);
        if theirs != row.curl {
            fail(format!(
                "curl left {} as {theirs:?}, the table says {:?}",
                row.file, row.curl
            ));
        }
        match row.fetch {
            None if ours.after != curl.after => fail(format!(
                "the folders differ\n  curl:  {:?}\n  fetch: {:?}",
                curl.after, ours.after
            )),
            None => {}
            Some((want, beside)) => {
                let got = effect(&ours.after, row.file);
                if got != want {
                    fail(format!("fetch left {} as {got:?}, want {want:?}", row.file));
                }
                let mut extra: Vec<(String, Vec<u8>)> = ours
                    .after
                    .iter()
                    .filter(|(name, _)| !FIXTURE.contains(&name.as_str()))
                    .map(|(name, s)| (name.clone(), s.bytes.clone()))
                    .collect();
                extra.retain(|(name, _)| name != row.file);
                let want: Vec<(String, Vec<u8>)> = beside
                    .iter()
                    .map(|(n, b)| (n.to_string(), b.to_vec()))
                    .collect();
                if extra != want {
                    fail(format!("fetch left beside it {extra:?}, want {want:?}"));
                }
            }
        }
        // Between two tries, curl has written the 503's body over the file and emptied it
        // again for the next try; fetch's `.part` holds that body and the file is the
        // user's copy still.
        if row.line.contains(&"--retry") {
            let (theirs, ours) = (curl.between.unwrap(), ours.between.unwrap());
            if effect(&theirs, "page.html") != After::Now(b"") {
                fail(format!("between the tries curl had {theirs:?}"));
            }
            let part = ours.get("page.html.part").map(|s| s.bytes.as_slice());
            if effect(&ours, "page.html") != After::Kept || part != Some(b"busy\n") {
                fail(format!("between the tries fetch had {ours:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// `--retry` without `-f`: curl writes each try's body before it tries again (on stdout,
/// one after the other); with `-f` only the last.
#[test]
fn retried_bodies_are_written_as_curl_writes_them() {
    if !have_curl() {
        return;
    }
    let (serve, _root, etag) = serve_origin();
    for (line, want) in [
        (
            &["--retry", "1", "{script}/retry"][..],
            &b"busy\nnew copy\n"[..],
        ),
        (&["-f", "--retry", "1", "{script}/retry"], NEW),
    ] {
        let r = row("stdout", line, 0, After::Kept);
        let curl = run_row("curl", &r, &serve, &etag);
        let ours = run_row("fetch", &r, &serve, &etag);
        curl.run.code(0).stdout(want);
        ours.run.code(0).stdout(want);
    }
}
