//! Sharing a folder (issue 16), end to end: complete listings over the wire, the command
//! line's hints and refusals, and the QR code.

use std::process::Command;

use crate::support::child::{LIMIT, run};
use crate::support::serve::{Serve, request};
use crate::support::{bin, temp_dir};

/// Runs `serve ARGS` to its exit: (exit code, stderr).
fn serve_exit(args: &[&str]) -> (Option<i32>, String) {
    let out = run(Command::new(bin("serve")).args(args), LIMIT);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_folder_of_twelve_thousand_files_is_listed_whole() {
    let dir = temp_dir("serve share many ");
    for i in 0..12_000 {
        std::fs::File::create(dir.path().join(format!("f{i:05}.txt"))).unwrap();
    }
    let s = Serve::start(&["-p", "0", dir.path().to_str().unwrap()]);
    let mut c = s.connect();
    let html = request(&mut c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").text();
    assert_eq!(html.matches("<tr><td class=\"n\">").count(), 12_000);
    assert!(html.contains(">f00000.txt<") && html.contains(">f11999.txt<"));
    assert!(!html.contains("more entries not shown"));
    let json = request(
        &mut c,
        "GET / HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n",
    )
    .text();
    assert_eq!(json.matches("\"type\":\"file\"").count(), 12_000);
    assert!(
        json.contains("\"truncated\":0"),
        "{}",
        &json[json.len() - 80..]
    );
}

#[test]
fn a_port_number_for_dir_gets_a_hint() {
    let (code, err) = serve_exit(&["8000"]);
    assert_eq!(code, Some(2));
    assert_eq!(
        err,
        "serve: cannot serve 8000: no such file or directory (to listen on port 8000: serve -p 8000)\n"
    );
}

#[test]
fn upload_options_need_upload_and_unwired_features_are_refused() {
    let dir = temp_dir("serve share flags ");
    let d = dir.path().to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["--overwrite", d], "--upload"),
        (&["--max-upload", "1G", d], "--upload"),
        (&["--upload", "--max-upload", "lots", d], "not a size"),
        (&["--auth", "nopassword", d], "USER:PASSWORD"),
        (&["--auth", "a:sha256:123", d], "64 hexadecimal"),
        (&["--upload", "--upload-dir", "../x", d], "--upload-dir"),
        (&["--auth-file", "/no/such/file", d], "--auth-file"),
        (&["--auth", "a:b", d], "--auth is not wired"),
        (&["--upload", d], "--upload is not wired"),
        (&["--archive", d], "--archive is not wired"),
        (&["--compress", d], "--compress is not wired"),
    ];
    for (args, want) in cases {
        let (code, err) = serve_exit(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(
            err.starts_with("serve: ") && err.contains(want),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
}

#[test]
fn qr_prints_a_code_and_the_url_after_the_first_line() {
    let dir = temp_dir("serve share qr ");
    let s = Serve::start(&["-p", "0", "--qr", dir.path().to_str().unwrap()]);
    let url = s.url.clone();
    let lines = crate::support::wait_for("the QR code", LIMIT, || {
        let lines = s.log();
        lines.iter().any(|l| l.contains(&url)).then_some(lines)
    });
    let blocks = lines.iter().filter(|l| l.contains('\u{2588}')).count();
    assert!(blocks >= 10, "{lines:?}");
    let last = lines.iter().find(|l| l.contains(&url)).unwrap();
    assert!(last.contains("this machine only"), "{last}");
}
