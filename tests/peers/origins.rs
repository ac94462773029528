//! Others as servers for `fetch`: python's http.server, nginx and httpbin (under gunicorn).
//! For each URL, `fetch` and curl are run with the same flags, and their stdout bytes and
//! exit codes must be equal: curl is the reference client.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::{
    Child, noise, peer, program, put, python_module, run, same_bytes, start_on_free_port, temp_dir,
    which,
};
use crate::fetch::fetch;
use crate::support::python::http_server;

/// Runs `fetch ARGS` and `curl ARGS`; their stdout and exit codes must agree. Returns the
/// body. `mask` may blank bytes that legitimately differ between two responses (a gzip
/// timestamp).
#[track_caller]
fn same_as_curl(curl: &Path, args: &[&str], mask: fn(&mut [u8])) -> Vec<u8> {
    let mut ours = fetch(args);
    let theirs = run(Command::new(curl).args(args), Duration::from_secs(60));
    let code = theirs.status.code().expect("curl exited");
    assert_eq!(
        ours.code, code,
        "exit codes for {args:?}: fetch {} curl {code}; fetch said {}",
        ours.code, ours.stderr
    );
    let mut theirs = theirs.stdout;
    mask(&mut ours.stdout);
    mask(&mut theirs);
    same_bytes(&format!("fetch vs curl {args:?}"), &theirs, &ours.stdout);
    theirs
}

fn as_is(_: &mut [u8]) {}

fn curl() -> Option<PathBuf> {
    program("curl", "curl")
}

/// A folder for the origin servers: awkward names, a big binary, a subfolder.
fn origin_site() -> tempfile::TempDir {
    let dir = temp_dir("peers origin \u{e9} ");
    put(
        dir.path(),
        "caf\u{e9} \u{65e5}.txt",
        "caf\u{e9}\n".as_bytes(),
    );
    put(dir.path(), "data file.bin", &noise(2_000_000, 11));
    put(dir.path(), "sub/inner.txt", b"inner\n");
    put(dir.path(), "sub/b #2.txt", b"hash\n");
    put(
        dir.path(),
        "text.txt",
        "plain text, long enough to be worth compressing. "
            .repeat(200)
            .as_bytes(),
    );
    dir
}

#[test]
fn python_http_server_bytes_equal_curls() {
    let Some(curl) = curl() else { return };
    let Some(python) = program("python3", "python3") else {
        return;
    };
    let site = origin_site();
    let (_py, port) = http_server(python, site.path());
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    for path in [
        "/",
        "/sub/",
        "/caf%C3%A9%20%E6%97%A5.txt",
        "/sub/b%20%232.txt",
        "/missing",
    ] {
        same_as_curl(&curl, &["-s", &url(path)], as_is);
    }
    // A folder without its slash: 301, followed with -L; -f turns a 404 into exit 22.
    let listing = same_as_curl(&curl, &["-s", "-L", &url("/sub")], as_is);
    assert!(String::from_utf8_lossy(&listing).contains("b%20%232.txt"));
    same_as_curl(&curl, &["-s", "-f", &url("/missing")], as_is);
    let big = same_as_curl(&curl, &["-s", "-o", "-", &url("/data%20file.bin")], as_is);
    assert_eq!(big.len(), 2_000_000);
}

/// An nginx started by the test: its own config, logs and temp files in a temp folder, one
/// process (`master_process off`), in the foreground (`daemon off`).
pub(super) fn nginx(nginx: &Path, dir: &Path, server: &str) -> (Child, u16) {
    start_on_free_port("nginx", |port, token| {
        let conf = format!(
            r#"daemon off;
master_process off;
worker_processes 1;
pid "{dir}/nginx.pid";
error_log stderr notice;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    log_format peers '$connection $connection_requests "$request" $status $body_bytes_sent';
    access_log "{dir}/access.log" peers;
    client_body_temp_path "{dir}/body";
    proxy_temp_path "{dir}/proxy";
    fastcgi_temp_path "{dir}/fastcgi";
    uwsgi_temp_path "{dir}/uwsgi";
    scgi_temp_path "{dir}/scgi";
    server {{
        listen 127.0.0.1:{port};
        add_header X-Peer-Token {token} always;
        {server}
    }}
}}
"#,
            dir = dir.display()
        );
        let path = dir.join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        Child::start(
            "nginx",
            Command::new(nginx).arg("-c").arg(&path).args([
                "-p",
                dir.to_str().unwrap(),
                "-e",
                "stderr",
            ]),
        )
    })
}

/// nginx's access log (format `peers`: connection, request number on it, request, status).
pub(super) fn nginx_log(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("access.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn nginx_bytes_equal_curls() {
    let Some(curl) = curl() else { return };
    let Some(nginx_bin) = program("nginx", "nginx-light") else {
        return;
    };
    let site = origin_site();
    let conf_dir = temp_dir("peers nginx ");
    let (_nginx, port) = nginx(
        &nginx_bin,
        conf_dir.path(),
        &format!(
            r#"root "{root}";
        autoindex on;
        gzip on;
        gzip_types text/plain;
        gzip_min_length 0;
        location = /old {{ return 301 /sub/inner.txt; }}
        location = /gone {{ return 410; }}
        location /slow/ {{ alias "{root}/"; limit_rate 1m; }}"#,
            root = site.path().display()
        ),
    );
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    for path in [
        "/caf%C3%A9%20%E6%97%A5.txt",
        "/sub/b%20%232.txt",
        "/missing",
        "/gone",
    ] {
        same_as_curl(&curl, &["-s", &url(path)], as_is);
    }
    // A listing (autoindex: names and times, the same for both), a redirect followed, -f.
    same_as_curl(&curl, &["-s", &url("/sub/")], as_is);
    let moved = same_as_curl(&curl, &["-s", "-L", &url("/old")], as_is);
    assert_eq!(moved, b"inner\n");
    same_as_curl(&curl, &["-s", "-L", &url("/sub")], as_is);
    same_as_curl(&curl, &["-s", "-f", &url("/gone")], as_is);
    // gzip: nginx compresses on the fly and sends it chunked; fetch has no --compressed, so
    // both get the same raw gzip bytes.
    let gz = same_as_curl(
        &curl,
        &[
            "-s",
            "-H",
            "Accept-Encoding: gzip",
            "-o",
            "-",
            &url("/text.txt"),
        ],
        as_is,
    );
    assert!(
        gz.starts_with(&[0x1f, 0x8b]) && gz.len() < 2000,
        "gzip: {} bytes",
        gz.len()
    );
    // A throttled 2 MB body (1 MB/s: about two seconds of partial reads).
    same_as_curl(
        &curl,
        &["-s", "-o", "-", &url("/slow/data%20file.bin")],
        as_is,
    );
    // A range, asked for by header.
    let part = same_as_curl(
        &curl,
        &[
            "-s",
            "-H",
            "Range: bytes=100-199",
            "-o",
            "-",
            &url("/data%20file.bin"),
        ],
        as_is,
    );
    assert_eq!(part, noise(2_000_000, 11)[100..200]);

    // Three targets in one fetch run go over one kept-alive connection: nginx logs one
    // connection number with request counts 1, 2, 3.
    let before = nginx_log(conf_dir.path()).len();
    let run = fetch(&[
        "-s",
        &url("/sub/inner.txt"),
        &url("/sub/b%20%232.txt"),
        &url("/caf%C3%A9%20%E6%97%A5.txt"),
    ]);
    run.code(0).stdout("inner\nhash\ncaf\u{e9}\n".as_bytes());
    let log = crate::support::wait_for("nginx's log of the three", Duration::from_secs(30), || {
        let log = nginx_log(conf_dir.path());
        (log.len() >= before + 3).then_some(log)
    });
    let conns: Vec<(&str, &str)> = log[before..]
        .iter()
        .map(|l| {
            let mut f = l.split(' ');
            (f.next().unwrap(), f.next().unwrap())
        })
        .collect();
    assert!(
        conns.iter().all(|(c, _)| *c == conns[0].0)
            && conns.iter().map(|(_, n)| *n).collect::<Vec<_>>() == ["1", "2", "3"],
        "one connection, three requests:\n{:#?}",
        &log[before..]
    );
}

/// httpbin under gunicorn on port 0 (gunicorn prints the port it got).
fn httpbin() -> Option<(Child, u16)> {
    let gunicorn = which("gunicorn");
    if !peer("gunicorn", gunicorn.is_some(), "pip install gunicorn")
        || !python_module("httpbin", "httpbin")
    {
        return None;
    }
    let gunicorn = gunicorn.unwrap();
    // Recent gunicorns open a control socket at one fixed path unless told not to;
    // older ones have neither the socket nor the flag.
    let help = super::run(
        Command::new(&gunicorn).arg("--help"),
        Duration::from_secs(30),
    );
    let no_control = String::from_utf8_lossy(&help.stdout).contains("--no-control-socket");
    let mut cmd = Command::new(&gunicorn);
    if no_control {
        cmd.arg("--no-control-socket");
    }
    // gunicorn's worker is a child of the process we started: stop it with SIGTERM, which
    // takes the worker down too.
    let mut d = Child::start(
        "gunicorn httpbin",
        cmd.args([
            "--worker-class",
            "gthread",
            "--threads",
            "8",
            "--bind",
            "127.0.0.1:0",
            "httpbin:app",
        ]),
    )
    .term_first();
    // "[INFO] Listening at: http://127.0.0.1:37081 (6466)" once bound, then the worker boots.
    let port: u16 = d.wait_output("its 'Listening at' line", |out| {
        out.split("Listening at: http://127.0.0.1:")
            .nth(1)?
            .split(' ')
            .next()?
            .parse()
            .ok()
    });
    Some((d, port))
}

/// A gzip member's header carries the compression time (bytes 4..8): zero it.
fn gzip_mtime(b: &mut [u8]) {
    if b.len() > 8 && b.starts_with(&[0x1f, 0x8b]) {
        b[4..8].fill(0);
    }
}

#[test]
fn httpbin_bytes_equal_curls() {
    let Some(curl) = curl() else { return };
    let Some((_httpbin, port)) = httpbin() else {
        return;
    };
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    // The same User-Agent for both: httpbin echoes request headers into its bodies, and
    // otherwise fetch and curl send the same ones (Host, User-Agent, Accept: */*).
    let same = |args: &[&str], mask: fn(&mut [u8])| {
        let mut all = vec!["-s", "-A", "peers-test"];
        all.extend_from_slice(args);
        same_as_curl(&curl, &all, mask)
    };
    let urls = [
        "/get?x=1&y=%C3%A9",
        "/anything/a%20b?q=1",
        "/status/200",
        "/status/204",
        "/status/418",
        "/status/404",
        "/status/500",
        "/bytes/5000?seed=42",
        "/range/1000",
        "/html",
        "/encoding/utf8",
        "/base64/SGVsbG8sIHBlZXJzIQ%3D%3D",
        "/response-headers?X-One=1&X-Two=2",
        "/deflate",
        "/brotli",
        // A redirect without -L: the 302's own body.
        "/redirect-to?url=%2Fget&status_code=302",
        // Chunked: JSON lines, and seeded bytes in 1000-byte chunks.
        "/stream/5",
        "/stream-bytes/20000?seed=3&chunk_size=1000",
    ];
    for u in urls {
        same(&[&url(u)], as_is);
    }
    // Errors: -f turns 4xx/5xx into exit 22 and no output, for both.
    for u in ["/status/404", "/status/503"] {
        same(&["-f", &url(u)], as_is);
    }
    // Redirects, relative and absolute, a 307 and a chain, followed with -L.
    for u in [
        "/redirect/3",
        "/relative-redirect/2",
        "/absolute-redirect/2",
        "/redirect-to?url=%2Fbytes%2F64%3Fseed%3D1&status_code=307",
    ] {
        same(&["-L", &url(u)], as_is);
    }
    // Too many redirects: both give up with exit 47.
    same(&["-L", "--max-redirs", "2", &url("/redirect/5")], as_is);
    // Gzip, byte for byte except the compression time in its header.
    let gz = same(&[&url("/gzip")], gzip_mtime);
    assert!(gz.starts_with(&[0x1f, 0x8b]));
    // A slow drip: 10 bytes over a second, then the body completes.
    let drip = same(
        &[&url("/drip?numbytes=10&duration=1&delay=0&code=200")],
        as_is,
    );
    assert_eq!(drip, b"**********");
    // Digest (RFC 7616) after the 401, as httpbin checks it: MD5 and SHA-256, with --digest
    // and with --anyauth (which takes Basic where only Basic is offered); a wrong password
    // ends on the second 401 for both.
    for scheme in ["--digest", "--anyauth"] {
        for u in [
            "/digest-auth/auth/user/passwd",
            "/digest-auth/auth/user/passwd/MD5",
            "/digest-auth/auth/user/passwd/SHA-256",
            "/basic-auth/user/passwd",
        ] {
            same(
                &[scheme, "-u", "user:passwd", "-w", "%{http_code}", &url(u)],
                as_is,
            );
        }
        same(
            &[
                scheme,
                "-u",
                "user:wrong",
                "-w",
                "%{http_code}",
                &url("/digest-auth/auth/user/passwd"),
            ],
            as_is,
        );
    }
    let ok = same(
        &[
            "--digest",
            "-u",
            "user:passwd",
            &url("/digest-auth/auth/user/passwd/SHA-256"),
        ],
        as_is,
    );
    assert!(String::from_utf8_lossy(&ok).contains("\"authenticated\": true"));
}
