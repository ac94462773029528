//! The root is a jail: not one byte from outside it, no dotfiles, no open redirects.

use std::process::Command;

use crate::support::child::{LIMIT, run};
use crate::support::jail::{Jail, SECRET};
use crate::support::serve::{Serve, request, site};

#[test]
fn traversal_in_every_spelling_reveals_nothing() {
    let jail = Jail::new();
    let s = Serve::start(&["-p", "0", jail.root_str()]);
    let attacks = [
        "/../secret.txt",
        "/../../../../../../etc/passwd",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/..%2fsecret.txt",
        "/..%5csecret.txt",
        "/..\\secret.txt",
        "/%252e%252e/secret.txt",
        "/%c0%ae%c0%ae/secret.txt",
        "/....//secret.txt",
        "/%00",
        "/index.html%00.txt",
        "//etc/passwd",
        "/link-out",
        "/updir/secret.txt",
        "/.env",
        "/%2eenv",
        "/.git/config",
        "/link-to-dotfile",
        "/broken",
        "http://x/../secret.txt",
    ];
    let mut c = s.connect();
    for path in attacks {
        let r = request(&mut c, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(matches!(r.status, 400 | 404), "{path}: {}", r.status);
        assert!(!r.text().contains(SECRET), "{path} leaked");
    }
    // curl with --path-as-is sends the dots unnormalised.
    let out = run(
        Command::new("curl").args(["-s", "--path-as-is", &format!("{}../secret.txt", s.url)]),
        LIMIT,
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains(SECRET));
}

#[test]
fn directory_redirect_never_leaves_the_host() {
    let dir = site();
    std::fs::create_dir(dir.path().join("evil.com")).unwrap();
    let s = Serve::start(&["-p", "0", dir.path().to_str().unwrap()]);
    let mut c = s.connect();
    for path in [
        "//evil.com",
        "///evil.com",
        "/%2fevil.com",
        "/./evil.com",
        "/evil.com?x=1",
    ] {
        let r = request(&mut c, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert_eq!(r.status, 301, "{path}");
        let location = r.header("location").unwrap();
        assert!(
            location.starts_with("/evil.com/") && !location.starts_with("//"),
            "{path} → {location}"
        );
    }
}

#[test]
fn well_known_is_the_one_visible_dotfolder() {
    let dir = site();
    std::fs::create_dir(dir.path().join(".well-known")).unwrap();
    std::fs::write(dir.path().join(".well-known/security.txt"), "Contact: x").unwrap();
    let s = Serve::start(&["-p", "0", dir.path().to_str().unwrap()]);
    let mut c = s.connect();
    let r = request(
        &mut c,
        "GET /.well-known/security.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!((r.status, r.text().as_str()), (200, "Contact: x"));
    let r = request(&mut c, "GET /.secret HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 404);
}
