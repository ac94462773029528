//! `--proxy-digest` and `--proxy-anyauth`: a proxy's 407 answered once, as curl answers it,
//! compared with curl on the same line against a proxy that checks the answer
//! (`digest_proxy.py`: RFC 7616 Digest with MD5 or SHA-256, RFC 7617 Basic); and the same
//! script as an origin for `--digest` after a redirect.

use std::process::Command;

use super::curl_lines::{have_curl, same_as_curl};
use crate::support::child::Child;

/// The checking proxy, offering `challenges` (`md5`, `sha256`, `basic`, comma-separated);
/// returns it (stopped when dropped) and its `-x` value.
fn proxy(challenges: &str) -> (Child, String) {
    start(&[challenges])
}

/// The same script as an origin server (401 and `WWW-Authenticate`).
fn origin(challenges: &str) -> (Child, String) {
    start(&[challenges, "origin"])
}

fn start(args: &[&str]) -> (Child, String) {
    let child = Child::start(
        "digest_proxy.py",
        Command::new(super::python())
            .args(["-u", "-c", include_str!("digest_proxy.py")])
            .args(args),
    );
    let port = child.next_line();
    (child, format!("127.0.0.1:{}", port.trim()))
}

/// `fetch -s -x VIA REST...`: a line through the proxy.
fn via<'a>(proxy: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut line = vec!["-s", "-x", proxy];
    line.extend_from_slice(rest);
    line
}

#[test]
fn proxy_digest_and_anyauth_answer_the_407_as_curl() {
    if !have_curl() {
        return;
    }
    let files: &[(&str, &[u8])] = &[("up.txt", b"seven b")];
    let digest = ["--proxy-digest", "-U", "u:pw"];
    for challenges in ["md5", "sha256", "md5,basic"] {
        let (_proxy, p) = proxy(challenges);
        let with_user = format!("http://u:pw@{p}");
        let lines = [
            via(&p, &[&digest[..], &["http://o.test/a?q=1"]].concat()),
            via(
                &p,
                &[
                    "--proxy-anyauth",
                    "-U",
                    "u:pw",
                    "-d",
                    "hello",
                    "http://o.test/b",
                ],
            ),
            // A redirect followed through the proxy: the new path gets its own answer.
            via(
                &p,
                &[&["-L"], &digest[..], &["http://o.test/x/go"]].concat(),
            ),
            // The credentials in the proxy's URL, and an upload sent again after the 407.
            via(
                &with_user,
                &["--proxy-digest", "-T", "up.txt", "http://o.test/u"],
            ),
            // Through a tunnel: the CONNECT is answered, then the origin (here the proxy) asked.
            via(
                &p,
                &[&["-p"], &digest[..], &["http://o.test:81/t"]].concat(),
            ),
        ];
        for line in lines {
            let run = same_as_curl(files, &line, b"");
            run.code(0);
            let out = String::from_utf8_lossy(&run.stdout).into_owned();
            assert!(
                out.contains(" body bytes"),
                "{line:?} was not let through: {out}"
            );
        }
        // A wrong password: the second 407 is the answer (exit 0; 22 with -f; a refused
        // tunnel is 56), as curl ends.
        let wrong = ["-U", "u:no"];
        for line in [
            via(
                &p,
                &[
                    &["--proxy-digest", "-w", "%{http_code}"],
                    &wrong[..],
                    &["http://o.test/c"],
                ]
                .concat(),
            ),
            via(
                &p,
                &[&["-f", "--proxy-anyauth"], &wrong[..], &["http://o.test/c"]].concat(),
            ),
            via(
                &p,
                &[
                    &["-p", "--proxy-digest"],
                    &wrong[..],
                    &["http://o.test:81/t"],
                ]
                .concat(),
            ),
        ] {
            same_as_curl(&[], &line, b"");
        }
    }
    // Basic alone: --proxy-digest does not send it (the 407 stays), --proxy-anyauth does.
    let (_proxy, p) = proxy("basic");
    let line = via(
        &p,
        &[&digest[..], &["-w", "%{http_code}", "http://o.test/"]].concat(),
    );
    let refused = same_as_curl(&[], &line, b"");
    assert!(String::from_utf8_lossy(&refused.stdout).ends_with("407"));
    let line = via(&p, &["--proxy-anyauth", "-U", "u:pw", "http://o.test/"]);
    let let_in = same_as_curl(&[], &line, b"");
    assert!(String::from_utf8_lossy(&let_in.stdout).contains(" body bytes"));
}

#[test]
fn digest_is_answered_afresh_after_a_redirect_as_curl() {
    if !have_curl() {
        return;
    }
    // The first answer names the first path: a redirect followed needs its own, as curl
    // makes it, from the challenge of the first 401.
    let (_origin, at) = origin("md5,basic");
    let url = format!("http://{at}/x/go");
    for scheme in ["--digest", "--anyauth"] {
        let run = same_as_curl(&[], &["-s", "-L", scheme, "-u", "u:pw", &url], b"");
        assert!(String::from_utf8_lossy(&run.stdout).contains("GET /x/went with"));
    }
}
