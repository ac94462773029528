//! wget as a client of `serve`: resuming with `-c`, and a recursive mirror of a folder that
//! wget can only discover by following the links in serve's directory listings.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::{noise, program, put, run, same_bytes, temp_dir};
use crate::support::serve::Serve;

/// Every regular file under `root`, by relative path.
fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                walk(root, &e.path(), out);
            } else if t.is_file() {
                let rel = e
                    .path()
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(e.path()).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// A folder `pub/` of awkward names under `site` (and files that must stay out of a mirror
/// of `pub/`); returns the visible files by path relative to `pub/`.
fn awkward_pub(site: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let root = site.join("pub");
    // Names that need percent-encoding in links: spaces, '#', '?', '%', quotes, '<&>',
    // unicode (including bytes 0x80-0x9f in UTF-8: '—' is E2 80 94), nested folders.
    let tree: Vec<(&str, Vec<u8>)> = vec![
        ("a b.txt", b"spaces\n".to_vec()),
        ("100%.txt", b"percent\n".to_vec()),
        ("hash #1?.txt", b"hash and question mark\n".to_vec()),
        ("quote \"q\" 'a' <&>.txt", b"quotes\n".to_vec()),
        (
            "caf\u{e9} \u{2014} \u{65e5}\u{672c}.txt",
            "unicode \u{2014}\n".as_bytes().to_vec(),
        ),
        ("data.bin", noise(300_000, 3)),
        ("sub dir/inner.txt", b"inner\n".to_vec()),
        ("sub dir/deeper/\u{e9}t\u{e9}.bin", noise(70_000, 4)),
        (
            "sub dir/deeper/x%20y.txt",
            b"literal percent-two-zero\n".to_vec(),
        ),
    ];
    for (rel, data) in &tree {
        put(&root, rel, data);
    }
    // Not part of the mirror: hidden files are not listed; the parent is not followed (-np).
    put(&root, ".hidden", b"HIDDEN");
    put(&root, "sub dir/.env", b"SECRET");
    put(site, "outside.txt", b"OUTSIDE");
    tree
}

#[test]
fn wget_mirrors_a_folder_by_following_the_listings() {
    let Some(wget) = program("wget", "wget") else {
        return;
    };
    let site = temp_dir("peers wget ");
    let tree = awkward_pub(site.path());
    let mut s = Serve::start(&["-p", "0", site.path().to_str().unwrap()]);

    let out = temp_dir("peers wget out ");
    let run_out = run(
        Command::new(&wget)
            .current_dir(out.path())
            // -nH: no host folder; robots.txt is not ours to honour here; keep UTF-8 names as
            // they are (wget's default escapes bytes 0x80-0x9f); drop the listing pages once
            // their links are read.
            .args(["-q", "-r", "-np", "-nH", "-l", "5", "-e", "robots=off"])
            .args(["--restrict-file-names=nocontrol", "-R", "index.html*"])
            .arg(format!("{}pub/", s.url)),
        Duration::from_secs(60),
    );
    assert!(
        run_out.status.success(),
        "wget: {run_out:?}\nserve log:\n{:#?}",
        s.log()
    );

    // wget names its local copy of `x%20y.txt` "x y.txt": it decodes escapes in local file
    // names once more (its quirk). The request itself was right, as the log shows.
    s.wait_log("the literal %20 name, encoded once", |l| {
        l.contains("GET /pub/sub%20dir/deeper/x%2520y.txt HTTP/1.1\" 200 25")
    });
    let local_name = |rel: &str| rel.replace("x%20y", "x y");
    let want: BTreeMap<String, Vec<u8>> = tree
        .into_iter()
        .map(|(rel, d)| (format!("pub/{}", local_name(rel)), d))
        .collect();
    let got = files(out.path());
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "the mirror has exactly the visible files; serve log:\n{:#?}",
        s.log()
    );
    for (rel, data) in &want {
        same_bytes(rel, data, &got[rel]);
    }
    // Every request wget made was answered 200: no broken link in any listing. The whole
    // log, flushed by a clean stop: a worker still holding a line (until it goes idle)
    // would hide it from a look at the log so far.
    let log = s.stop_and_collect_log();
    assert!(
        log.iter().all(|l| l.contains("\" 200 ")),
        "a request was not 200:\n{log:#?}"
    );
}

/// wget -r -np -l inf against fetch --mirror --no-parent on the same site: the same files
/// with the same bytes, but for wget's quirk of decoding `%20` in a name once more.
#[test]
fn fetch_mirror_takes_what_wget_takes() {
    let Some(wget) = program("wget", "wget") else {
        return;
    };
    let site = temp_dir("peers mirror ");
    awkward_pub(site.path());
    let s = Serve::start(&["-p", "0", site.path().to_str().unwrap()]);
    let url = format!("{}pub/", s.url);

    let by_wget = temp_dir("peers mirror wget ");
    let ran = run(
        Command::new(&wget)
            .current_dir(by_wget.path())
            .args(["-q", "-r", "-np", "-nH", "-l", "inf", "-e", "robots=off"])
            .args(["--restrict-file-names=nocontrol", "-R", "index.html*"])
            .arg(&url),
        Duration::from_secs(60),
    );
    assert!(ran.status.success(), "wget: {ran:?}");
    let by_fetch = temp_dir("peers mirror fetch ");
    let dir = by_fetch.path().to_str().unwrap();
    let args = ["--mirror", "--no-parent", "--no-host-directories", "-Z"];
    crate::fetch::fetch_in(
        by_fetch.path(),
        &[&args[..], &[url.as_str(), "--directory-prefix", dir]].concat(),
    )
    .code(0);

    let wget_files: BTreeMap<String, Vec<u8>> = files(by_wget.path())
        .into_iter()
        .map(|(rel, d)| (rel.replace("x y.txt", "x%20y.txt"), d))
        .collect();
    let mut fetch_files = files(by_fetch.path());
    fetch_files.retain(|rel, _| !rel.starts_with(".fetch-mirror/"));
    assert_eq!(
        fetch_files.keys().collect::<Vec<_>>(),
        wget_files.keys().collect::<Vec<_>>()
    );
    for (rel, data) in &wget_files {
        same_bytes(rel, data, &fetch_files[rel]);
    }
}

/// The largest HTML documentation folder Debian's packages installed here
/// (`/usr/share/doc/PACKAGE/html`), with its file count.
fn largest_doc_site() -> Option<(std::path::PathBuf, usize)> {
    let mut best = None;
    for entry in std::fs::read_dir("/usr/share/doc").ok()?.flatten() {
        let html = entry.path().join("html");
        if !html.is_dir() {
            continue;
        }
        let n = files(&html).len();
        if best.as_ref().is_none_or(|(_, m)| n > *m) {
            best = Some((html, n));
        }
    }
    best
}

#[test]
fn fetch_mirror_of_a_real_documentation_site_matches_wget() {
    let Some(wget) = program("wget", "wget") else {
        return;
    };
    // The issue asks for a site of a few thousand pages; what is installed here is used,
    // whatever its size (none installed: nothing to compare).
    let Some((site, n)) = largest_doc_site() else {
        eprintln!("skipped: no /usr/share/doc/*/html here");
        return;
    };
    let s = Serve::start(&["-p", "0", site.to_str().unwrap()]);
    let by_wget = temp_dir("peers docs wget ");
    let ran = run(
        Command::new(&wget)
            .current_dir(by_wget.path())
            .args(["-q", "-r", "-np", "-nH", "-l", "inf", "-e", "robots=off"])
            .arg(&s.url),
        Duration::from_secs(120),
    );
    // A real site has broken links: wget says so with 8 (a server's error answer), fetch
    // with 22 (an HTTP error), and both go on.
    let broken = match ran.status.code() {
        Some(0) => false,
        Some(8) => true,
        _ => panic!("wget: {ran:?}"),
    };
    let code = if broken { 22 } else { 0 };
    let by_fetch = temp_dir("peers docs fetch ");
    let dir = by_fetch.path().to_str().unwrap();
    let args = ["--mirror", "--no-parent", "--no-host-directories", "-Z"];
    let mirror = [&args[..], &[s.url.as_str(), "--directory-prefix", dir]].concat();
    crate::fetch::fetch_in(by_fetch.path(), &mirror).code(code);

    // wget saves each folder's HTML listing as index.html; fetch walks the JSON listing
    // and saves none (a deliberate difference, README): those are left out of wget's copy.
    let mut wget_files = files(by_wget.path());
    wget_files.retain(|rel, _| !rel.ends_with("index.html") || site.join(rel).is_file());
    let mut fetch_files = files(by_fetch.path());
    fetch_files.retain(|rel, _| !rel.starts_with(".fetch-mirror/"));
    assert!(fetch_files.len() > n / 2, "{} of {n}", fetch_files.len());
    assert_eq!(
        fetch_files.keys().collect::<Vec<_>>(),
        wget_files.keys().collect::<Vec<_>>(),
        "{}",
        site.display()
    );
    for (rel, data) in &wget_files {
        same_bytes(rel, data, &fetch_files[rel]);
    }
    // And again: nothing changed, every file still checked.
    let again = crate::fetch::fetch_in(by_fetch.path(), &mirror);
    again.code(code);
    let unchanged = format!("0 new, 0 changed, {} unchanged", fetch_files.len());
    assert!(again.stderr.contains(&unchanged), "{}", again.stderr);
}

#[test]
fn wget_c_resumes_a_partial_download() {
    let Some(wget) = program("wget", "wget") else {
        return;
    };
    let site = temp_dir("peers wget ");
    let data = noise(3_000_000, 9);
    put(site.path(), "big file.bin", &data);
    let s = Serve::start(&["-p", "0", site.path().to_str().unwrap()]);
    let out = tempfile::tempdir().unwrap();
    let local = out.path().join("big file.bin");
    std::fs::write(&local, &data[..1_000_001]).unwrap();
    let r = run(
        Command::new(&wget)
            .current_dir(out.path())
            .args(["-q", "-c"])
            .arg(format!("{}big%20file.bin", s.url)),
        Duration::from_secs(60),
    );
    assert!(r.status.success(), "{r:?}");
    same_bytes("resumed file", &data, &std::fs::read(&local).unwrap());
    s.wait_log("the 206 for the rest", |l| {
        l.contains("/big%20file.bin") && l.contains(&format!("\" 206 {}", data.len() - 1_000_001))
    });
}
