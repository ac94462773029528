//! `fetch` over https://, against real TLS servers (nginx with ssl, python's ssl module),
//! each line run with curl too: the exit code, the stdout bytes and the files left must be
//! the same. Certificates come from the test PKI (`support::pki`), made by the test.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::origins::nginx;
use super::{Child, noise, program, put, run, same_bytes, temp_dir};
use crate::fetch::{Run, fetch_cmd};
use crate::support::bin;
use crate::support::pki::{PASSPHRASE, Pki, pin_of};
use crate::support::script::{Script, Then};

/// Runs the line with fetch and with curl, with `env` set for both (and curl's own CA
/// variables cleared unless set here); exit codes and stdout must agree. Returns fetch's.
#[track_caller]
fn same_as_curl(curl: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let prepare = |cmd: &mut Command| {
        for var in [
            "CURL_CA_BUNDLE",
            "SSL_CERT_FILE",
            "SSL_CERT_DIR",
            "https_proxy",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(env.iter().copied()).args(args);
    };
    let mut ours = Command::new(bin("fetch"));
    prepare(&mut ours);
    let ours = fetch_cmd(&mut ours);
    let mut theirs = Command::new(curl);
    prepare(&mut theirs);
    let theirs = run(&mut theirs, Duration::from_secs(60));
    let code = theirs.status.code().expect("curl exited");
    assert_eq!(
        ours.code,
        code,
        "exit codes for {args:?}: fetch {} curl {code}\nfetch said: {}\ncurl said: {}",
        ours.code,
        ours.stderr,
        String::from_utf8_lossy(&theirs.stderr)
    );
    same_bytes(
        &format!("fetch vs curl {args:?}"),
        &theirs.stdout,
        &ours.stdout,
    );
    ours
}

fn curl() -> Option<PathBuf> {
    program("curl", "curl")
}

/// A python ssl server (OpenSSL) with `cert` and its key, behaving as `extra` says
/// (tests/peers/tls_server.py). Returns it and its port.
pub(crate) fn origin(cert: &str, key: &str, extra: &[&str]) -> (Child, u16) {
    let pki = Pki::get();
    let script = crate::support::repo_root().join("tests/peers/tls_server.py");
    let child = Child::start(
        "tls_server.py",
        Command::new("python3")
            .arg(script)
            .arg(pki.path(cert))
            .arg(pki.path(key))
            .args(extra),
    );
    let port = child.next_line().trim().parse().expect("the server's port");
    (child, port)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

/// nginx serving `root` over TLS 1.2 and 1.3 with the test chain; returns it, its config
/// folder and the TLS port.
fn nginx_tls(root: &Path) -> Option<(Child, tempfile::TempDir, u16)> {
    let nginx_bin = program("nginx", "nginx-light")?;
    let pki = Pki::get();
    let conf = temp_dir("peers tls nginx ");
    let tls_port = free_port();
    let (child, _) = nginx(
        &nginx_bin,
        conf.path(),
        &format!(
            r#"listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate "{chain}";
        ssl_certificate_key "{key}";
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_tickets on;
        root "{root}";"#,
            chain = pki.path("chain.pem").display(),
            key = pki.path("leaf.key").display(),
            root = root.display()
        ),
    );
    Some((child, conf, tls_port))
}

#[test]
fn https_from_nginx_is_what_curl_gets() {
    let Some(curl) = curl() else { return };
    let site = temp_dir("peers tls site \u{e9} ");
    let big = noise(3_000_000, 5);
    put(site.path(), "big file.bin", &big);
    put(site.path(), "a.txt", b"a\n");
    for i in 0..20 {
        put(
            site.path(),
            &format!("many/{i}.txt"),
            format!("{i}\n").as_bytes(),
        );
    }
    let Some((_nginx, _conf, port)) = nginx_tls(site.path()) else {
        return;
    };
    let pki = Pki::get();
    let ca = pki.arg("root.pem");
    let url = |p: &str| format!("https://localhost:{port}{p}");
    let body = same_as_curl(
        &curl,
        &["-sS", "--cacert", &ca, &url("/big%20file.bin")],
        &[],
    );
    assert_eq!(body.stdout.len(), big.len());
    same_as_curl(&curl, &["-sS", "--cacert", &ca, &url("/missing")], &[]);
    same_as_curl(&curl, &["-sSf", "--cacert", &ca, &url("/missing")], &[]);
    // -I: the same head, but for its Date (two requests may straddle a second).
    let head = ["-sSI", "--cacert", &ca, &url("/a.txt")];
    let ours = fetch_cmd(Command::new(bin("fetch")).args(head));
    let theirs = run(Command::new(&curl).args(head), Duration::from_secs(60));
    let undated = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .lines()
            .filter(|l| !l.starts_with("Date:"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        (ours.code, theirs.status.code()),
        (0, Some(0)),
        "{}",
        ours.stderr
    );
    assert_eq!(undated(&ours.stdout), undated(&theirs.stdout));
    // By IP literal (no SNI, the certificate's IP SAN), and every TLS version pinned.
    same_as_curl(
        &curl,
        &[
            "-sS",
            "--cacert",
            &ca,
            &format!("https://127.0.0.1:{port}/a.txt"),
        ],
        &[],
    );
    for v in [
        &["--tlsv1.3"][..],
        &["--tls-max", "1.2"],
        &["--tlsv1.2", "--tls-max", "1.2"],
    ] {
        let mut line = vec!["-sS", "--cacert", &ca];
        line.extend_from_slice(v);
        let u = url("/a.txt");
        line.push(&u);
        same_as_curl(&curl, &line, &[]);
    }
    // --resolve and --connect-to lead elsewhere; the name checked stays the URL's.
    let resolve = format!("example.test:{port}:127.0.0.1");
    same_as_curl(
        &curl,
        &[
            "-sS",
            "--cacert",
            &ca,
            "--resolve",
            &resolve,
            &format!("https://example.test:{port}/a.txt"),
        ],
        &[],
    );
    let to = format!("localhost:{port}:127.0.0.1:{port}");
    same_as_curl(
        &curl,
        &["-sS", "--cacert", &ca, "--connect-to", &to, &url("/a.txt")],
        &[],
    );
    // Many files at once on kept-alive, resumed connections: fetch writes them in target
    // order, curl -Z as they finish, so the lines are compared as sets.
    let many: Vec<String> = (0..20).map(|i| url(&format!("/many/{i}.txt"))).collect();
    let mut line = vec!["-sSZ".to_string(), "--cacert".into(), ca.clone()];
    line.extend(many.iter().cloned());
    let ours = fetch_cmd(Command::new(bin("fetch")).args(&line));
    let theirs = run(Command::new(&curl).args(&line), Duration::from_secs(60));
    let sorted = |b: &[u8]| {
        let mut l: Vec<String> = String::from_utf8_lossy(b)
            .lines()
            .map(String::from)
            .collect();
        l.sort();
        l
    };
    assert_eq!(
        (ours.code, theirs.status.code()),
        (0, Some(0)),
        "{}",
        ours.stderr
    );
    assert_eq!(sorted(&ours.stdout), sorted(&theirs.stdout));
    let want: Vec<String> = (0..20).map(|i| i.to_string()).collect();
    assert_eq!(
        String::from_utf8_lossy(&ours.stdout)
            .lines()
            .collect::<Vec<_>>(),
        want
    );
    // The write-out variables of TLS.
    same_as_curl(
        &curl,
        &[
            "-sS",
            "-o",
            "/dev/null",
            "--cacert",
            &ca,
            "-w",
            "%{scheme} %{ssl_verify_result} %{num_certs} %{http_code}\\n",
            &url("/a.txt"),
        ],
        &[],
    );
}

#[test]
fn trust_comes_from_the_same_places_as_curls() {
    let Some(curl) = curl() else { return };
    let site = temp_dir("peers tls trust ");
    put(site.path(), "a.txt", b"trusted\n");
    let Some((_nginx, _conf, port)) = nginx_tls(site.path()) else {
        return;
    };
    let pki = Pki::get();
    let url = format!("https://localhost:{port}/a.txt");
    // The system bundle does not hold the test root: both refuse (60).
    same_as_curl(&curl, &["-sS", &url], &[]).code(60);
    let root = pki.arg("root.pem");
    same_as_curl(&curl, &["-sS", &url], &[("CURL_CA_BUNDLE", &root)]).code(0);
    same_as_curl(&curl, &["-sS", &url], &[("SSL_CERT_FILE", &root)]).code(0);
    // A hashed folder, as `openssl rehash` makes it.
    let dir = temp_dir("peers tls capath ");
    std::fs::copy(pki.path("root.pem"), dir.path().join("root.pem")).unwrap();
    let rehash = run(
        Command::new("openssl").arg("rehash").arg(dir.path()),
        Duration::from_secs(30),
    );
    assert!(rehash.status.success());
    let capath = dir.path().to_str().unwrap();
    same_as_curl(&curl, &["-sS", &url], &[("SSL_CERT_DIR", capath)]).code(0);
    same_as_curl(&curl, &["-sS", "--capath", capath, &url], &[]).code(0);
    // -k trusts anything; a pinned key is checked even then.
    same_as_curl(&curl, &["-sSk", &url], &[]).code(0);
    let pin = pin_of(&pki.path("leaf.pem"));
    same_as_curl(&curl, &["-sSk", "--pinnedpubkey", &pin, &url], &[]).code(0);
    let two = format!("sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=;{pin}");
    same_as_curl(
        &curl,
        &["-sS", "--cacert", &root, "--pinnedpubkey", &two, &url],
        &[],
    )
    .code(0);
    let other = pin_of(&pki.path("client.pem"));
    same_as_curl(&curl, &["-sSk", "--pinnedpubkey", &other, &url], &[]).code(90);
    // A public key file (PEM) pins; a certificate file is not a key, for curl either.
    same_as_curl(
        &curl,
        &["-sSk", "--pinnedpubkey", &pki.arg("leaf.pub"), &url],
        &[],
    )
    .code(0);
    same_as_curl(
        &curl,
        &["-sSk", "--pinnedpubkey", &pki.arg("leaf.pem"), &url],
        &[],
    )
    .code(90);
    // Files that cannot be read.
    same_as_curl(&curl, &["-sS", "--cacert", "/no/such/ca.pem", &url], &[]).code(77);
    same_as_curl(
        &curl,
        &["-sS", "--cacert", &root, "--crlfile", "/no/such.crl", &url],
        &[],
    )
    .code(82);
    same_as_curl(
        &curl,
        &["-sS", "--cacert", &root, "--cert", "/no/such.pem", &url],
        &[],
    )
    .code(58);
    same_as_curl(
        &curl,
        &["-sS", "--cacert", &root, "--ciphers", "NO-SUCH", &url],
        &[],
    )
    .code(59);
    same_as_curl(
        &curl,
        &["-sS", "--cacert", &root, "--curves", "nosuch", &url],
        &[],
    )
    .code(59);
    same_as_curl(
        &curl,
        &["-sS", "--cacert", &root, "--tls-max", "1.1", &url],
        &[],
    )
    .code(35);
}

/// Each bad server, as curl meets it: the exit code, nothing on stdout, and no file left
/// behind by `-o`.
#[test]
fn bad_servers_fail_as_they_fail_curl() {
    let Some(curl) = curl() else { return };
    let pki = Pki::get();
    let root = pki.arg("root.pem");
    let out = temp_dir("peers tls out ");
    // What, the server's certificate and key, its flags, fetch's and curl's, the exit code.
    type Case<'a> = (&'a str, &'a str, &'a str, &'a [&'a str], &'a [&'a str], i32);
    let cases: &[Case<'_>] = &[
        ("good chain", "chain.pem", "leaf.key", &[], &[], 0),
        ("expired", "expired.pem", "leaf.key", &[], &[], 60),
        ("not yet valid", "future.pem", "leaf.key", &[], &[], 60),
        ("another host's", "wrong.pem", "leaf.key", &[], &[], 60),
        ("self-signed", "self.pem", "leaf.key", &[], &[], 60),
        // Trusted as it is when given as the CA file, as OpenSSL trusts it.
        (
            "openssl's self-signed, trusted",
            "selfca.pem",
            "selfca.key",
            &[],
            &["--cacert", "SELFCA"],
            0,
        ),
        (
            "openssl's self-signed, untrusted",
            "selfca.pem",
            "selfca.key",
            &[],
            &[],
            60,
        ),
        ("unknown root", "unknown.pem", "leaf.key", &[], &[], 60),
        ("missing intermediate", "leaf.pem", "leaf.key", &[], &[], 60),
        // curl (with OpenSSL) falls back to the subject's CN when there is no SAN at all.
        ("CN without SAN", "cn_only.pem", "leaf.key", &[], &[], 0),
        (
            "RSA-1024",
            "rsa1024.pem",
            "rsa1024.key",
            &["--seclevel0"],
            &[],
            60,
        ),
        (
            "TLS 1.0 only",
            "chain.pem",
            "leaf.key",
            &["--seclevel0", "--max", "1.0"],
            &[],
            35,
        ),
        (
            "revoked",
            "revoked.pem",
            "leaf.key",
            &[],
            &["--crlfile", "CRL"],
            60,
        ),
        (
            "not revoked",
            "chain.pem",
            "leaf.key",
            &[],
            &["--crlfile", "CRL"],
            0,
        ),
        // No CRL for the intermediate's own issuer: curl checks the whole chain.
        (
            "CRL missing for a link",
            "chain.pem",
            "leaf.key",
            &[],
            &["--crlfile", "INTERCRL"],
            60,
        ),
        (
            "client cert, TLS 1.3, none sent",
            "chain.pem",
            "leaf.key",
            &["--client-ca", "CLIENTCA"],
            &[],
            56,
        ),
        (
            "client cert, TLS 1.2, none sent",
            "chain.pem",
            "leaf.key",
            &["--client-ca", "CLIENTCA", "--max", "1.2"],
            &[],
            35,
        ),
        (
            "client cert sent",
            "chain.pem",
            "leaf.key",
            &["--client-ca", "CLIENTCA"],
            &["--cert", "CLIENT", "--key", "CLIENTKEY"],
            0,
        ),
        // Its key encrypted by `openssl pkcs8 -topk8 -v2 aes-256-cbc`.
        (
            "client cert, encrypted key, --pass",
            "chain.pem",
            "leaf.key",
            &["--client-ca", "CLIENTCA"],
            &["--cert", "CLIENT", "--key", "CLIENTAES", "--pass", "PHRASE"],
            0,
        ),
        (
            "client cert, encrypted key, CERT:PASSWORD",
            "chain.pem",
            "leaf.key",
            &["--client-ca", "CLIENTCA"],
            &["--cert", "CLIENTPASS", "--key", "CLIENTAES"],
            0,
        ),
        (
            "client cert, encrypted key, wrong --pass",
            "chain.pem",
            "leaf.key",
            &["--client-ca", "CLIENTCA"],
            &["--cert", "CLIENT", "--key", "CLIENTAES", "--pass", "wrong"],
            58,
        ),
    ];
    let fill = |s: &str| match s {
        "CRL" => pki.arg("crl.pem"),
        "INTERCRL" => pki.arg("inter_crl.pem"),
        "SELFCA" => pki.arg("selfca.pem"),
        "CLIENTCA" => pki.arg("client_ca.pem"),
        "CLIENT" => pki.arg("client.pem"),
        "CLIENTKEY" => pki.arg("client.key"),
        "CLIENTAES" => pki.arg("client_aes.key"),
        "CLIENTPASS" => format!("{}:{PASSPHRASE}", pki.arg("client.pem")),
        "PHRASE" => PASSPHRASE.to_string(),
        s => s.to_string(),
    };
    for (i, (what, cert, key, server, client, want)) in cases.iter().enumerate() {
        let server: Vec<String> = server.iter().map(|s| fill(s)).collect();
        let server: Vec<&str> = server.iter().map(String::as_str).collect();
        let (_srv, port) = origin(cert, key, &server);
        let file = out.path().join(format!("{i}.out"));
        let file = file.to_str().unwrap();
        let url = format!("https://localhost:{port}/x");
        let mut line = vec!["-sS".to_string(), "--cacert".into(), root.clone()];
        line.extend(client.iter().map(|s| fill(s)));
        line.push(url);
        let line: Vec<&str> = line.iter().map(String::as_str).collect();
        // A TLS 1.3 server's refusal of a client without a certificate comes after the
        // handshake, in a race with the request: curl reports it as 55 or 56 from run to
        // run; fetch always reads the alert (56).
        let got = if *want == 56 {
            fetch_cmd(Command::new(bin("fetch")).args(&line))
        } else {
            same_as_curl(&curl, &line, &[])
        };
        assert_eq!(got.code, *want, "{what}: {}", got.stderr);
        // -o: a failure leaves no file that looks complete.
        let mut with_o = line.clone();
        with_o.extend(["-o", file]);
        let ours = fetch_cmd(Command::new(bin("fetch")).args(&with_o));
        assert_eq!(ours.code, *want, "{what} -o: {}", ours.stderr);
        assert_eq!(
            Path::new(file).exists(),
            *want == 0,
            "{what}: -o left a file"
        );
    }
    // An encrypted key without its pass phrase: curl (OpenSSL) would ask on the terminal,
    // fetch asks nothing and says what is missing, with curl's exit code for a bad key.
    let (_srv, port) = origin("chain.pem", "leaf.key", &["--client-ca", &fill("CLIENTCA")]);
    let url = format!("https://localhost:{port}/x");
    let (cert, key) = (fill("CLIENT"), fill("CLIENTAES"));
    let ours = fetch_cmd(Command::new(bin("fetch")).args([
        "-sS", "--cacert", &root, "--cert", &cert, "--key", &key, &url,
    ]));
    assert_eq!(ours.code, 58, "{}", ours.stderr);
    assert!(
        ours.stderr
            .contains("the key is encrypted: give its pass phrase with --pass"),
        "{}",
        ours.stderr
    );
}

/// Servers that misbehave below TLS: one that never finishes the handshake, one that
/// closes in the middle of it, a plain-HTTP one behind https://, and a close-delimited
/// body cut off without close_notify.
#[test]
fn broken_handshakes_fail_as_they_fail_curl() {
    let Some(curl) = curl() else { return };
    let pki = Pki::get();
    let root = pki.arg("root.pem");
    // Silent: takes the ClientHello and says nothing.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in silent.incoming().take(2) {
            held.push(conn);
        }
        std::thread::sleep(Duration::from_secs(5));
    });
    let url = format!("https://127.0.0.1:{silent_port}/");
    same_as_curl(
        &curl,
        &["-sS", "--cacert", &root, "--connect-timeout", "1", &url],
        &[],
    )
    .code(28);
    drop(keep);
    // Closes as soon as the ClientHello arrives; and a plain-HTTP server behind https://,
    // which answers the hello as the garbage it is.
    for (reply, want) in [(&b""[..], 35), (b"HTTP/1.1 400 Bad Request\r\n\r\n", 35)] {
        let url = format!("https://127.0.0.1:{}/", answer_once(reply));
        same_as_curl(&curl, &["-sS", "--cacert", &root, &url], &[]).code(want);
    }
    // A close-delimited body cut without close_notify.
    let (_srv, port) = origin("chain.pem", "leaf.key", &["--cut"]);
    same_as_curl(
        &curl,
        &[
            "-sS",
            "--cacert",
            &root,
            &format!("https://localhost:{port}/"),
        ],
        &[],
    );
}

/// A server for two connections that reads what comes, writes `reply` and closes. Returns
/// its port.
fn answer_once(reply: &'static [u8]) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().take(2).flatten() {
            let mut hello = [0u8; 512];
            let _ = std::io::Read::read(&mut conn, &mut hello);
            let _ = std::io::Write::write_all(&mut conn, reply);
        }
    });
    port
}

/// The redirect most sites send, http:// to https://, followed with -L as curl follows it;
/// and the credentials of -u stay behind when the scheme changes.
#[test]
fn http_redirects_to_https_as_curl_follows() {
    let Some(curl) = curl() else { return };
    let pki = Pki::get();
    let root = pki.arg("root.pem");
    let (_srv, port) = origin("chain.pem", "leaf.key", &[]);
    let to = format!("https://localhost:{port}/x");
    let reply = format!("HTTP/1.1 301 Moved\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n");
    let s = Script::fixed(reply.as_bytes(), Then::Close);
    same_as_curl(&curl, &["-sSL", "--cacert", &root, &s.url("/")], &[]).stdout(b"tls ok\n");
    same_as_curl(&curl, &["-sS", "--cacert", &root, &s.url("/")], &[]).stdout(b"");
    same_as_curl(
        &curl,
        &[
            "-sSL",
            "--proto-redir",
            "=http",
            "--cacert",
            &root,
            &s.url("/"),
        ],
        &[],
    )
    .code(1);
}

/// Through an HTTP proxy (tinyproxy), an https:// URL goes through a `CONNECT` tunnel,
/// with -x and with `https_proxy`, as curl sends it; `--noproxy` goes around it; a proxy
/// that refuses the tunnel is curl's 56.
#[test]
fn https_goes_through_a_proxy_tunnel_as_curl_sends_it() {
    let Some(curl) = curl() else { return };
    let Some(proxy) = crate::fetch::curl_lines::Tinyproxy::start() else {
        return;
    };
    let pki = Pki::get();
    let root = pki.arg("root.pem");
    let (_srv, port) = origin("chain.pem", "leaf.key", &[]);
    let url = format!("https://localhost:{port}/x");
    let x = format!("http://127.0.0.1:{}", proxy.port);
    same_as_curl(&curl, &["-sS", "--cacert", &root, "-x", &x, &url], &[]).stdout(b"tls ok\n");
    same_as_curl(
        &curl,
        &["-sS", "--cacert", &root, &url],
        &[("https_proxy", &x)],
    )
    .stdout(b"tls ok\n");
    same_as_curl(
        &curl,
        &[
            "-sS",
            "--cacert",
            &root,
            "-x",
            &x,
            "--noproxy",
            "localhost",
            &url,
        ],
        &[],
    )
    .stdout(b"tls ok\n");
    // A proxy that answers the CONNECT with a 403.
    let refuse = Script::fixed(
        b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
        Then::Close,
    );
    let x = refuse.url("").trim_end_matches('/').to_string();
    same_as_curl(&curl, &["-sS", "--cacert", &root, "-x", &x, &url], &[]).code(56);
}

/// h2o (its own TLS stack over OpenSSL, the fastest peer here) as an https:// origin: the
/// same bytes and exit codes as curl's.
#[test]
fn https_from_h2o_is_what_curl_gets() {
    let Some(curl) = curl() else { return };
    let Some(h2o) = program("h2o", "h2o") else {
        return;
    };
    let pki = Pki::get();
    let site = temp_dir("peers tls h2o ");
    let big = noise(2_000_000, 9);
    put(site.path(), "big.bin", &big);
    put(site.path(), "a.txt", b"from h2o\n");
    let conf = temp_dir("peers tls h2o conf ");
    let port = free_port();
    let config = conf.path().join("h2o.conf");
    std::fs::write(
        &config,
        format!(
            "listen:\n  port: {port}\n  host: 127.0.0.1\n  ssl:\n    certificate-file: \"{chain}\"\n    \
             key-file: \"{key}\"\nhosts:\n  default:\n    paths:\n      /:\n        file.dir: \"{root}\"\n\
             access-log: /dev/null\nerror-log: \"{log}\"\nnum-threads: 1\n",
            chain = pki.path("chain.pem").display(),
            key = pki.path("leaf.key").display(),
            root = site.path().display(),
            log = conf.path().join("error.log").display(),
        ),
    )
    .unwrap();
    let _h2o = Child::start("h2o", Command::new(h2o).arg("-c").arg(&config));
    crate::support::wait_for("h2o to listen", Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let ca = pki.arg("root.pem");
    let url = |p: &str| format!("https://localhost:{port}{p}");
    same_as_curl(&curl, &["-sS", "--cacert", &ca, &url("/a.txt")], &[]).stdout(b"from h2o\n");
    let got = same_as_curl(&curl, &["-sS", "--cacert", &ca, &url("/big.bin")], &[]);
    assert_eq!(got.stdout.len(), big.len());
    same_as_curl(&curl, &["-sSf", "--cacert", &ca, &url("/missing")], &[]).code(22);
    same_as_curl(
        &curl,
        &["-sS", "--cacert", &ca, "-r", "10-19", &url("/big.bin")],
        &[],
    );
}

/// TLS over a Unix-domain socket, as curl allows it (`--unix-socket` with an https:// URL):
/// the certificate is still checked against the URL's host.
#[test]
fn https_over_a_unix_socket_as_curl_speaks_it() {
    let Some(curl) = curl() else { return };
    let pki = Pki::get();
    let root = pki.arg("root.pem");
    let dir = temp_dir("peers tls unix ");
    let sock = dir.path().join("tls.sock");
    let sock = sock.to_str().unwrap();
    let (_srv, _) = origin("chain.pem", "leaf.key", &["--unix", sock]);
    let line = [
        "-sS",
        "--cacert",
        &root,
        "--unix-socket",
        sock,
        "https://localhost/x",
    ];
    same_as_curl(&curl, &line, &[]).stdout(b"tls ok\n");
    let other = [
        "-sS",
        "--cacert",
        &root,
        "--unix-socket",
        sock,
        "https://other.test/x",
    ];
    same_as_curl(&curl, &other, &[]).code(60);
}

/// `--mirror` of an https:// site: every page and what it links to, saved under the host's
/// folder (no port: 443 is the scheme's own), byte for byte; a link to the same host over
/// http:// is another site, not followed without --span-hosts (as wget).
#[test]
fn a_site_over_https_is_mirrored() {
    if curl().is_none() {
        return;
    }
    let site = temp_dir("peers tls mirror ");
    put(
        site.path(),
        "index.html",
        b"<a href=\"a.txt\">a</a> <a href=\"sub/b.html\">b</a> <a href=\"http://localhost/plain\">p</a>",
    );
    put(site.path(), "a.txt", b"a\n");
    put(site.path(), "sub/b.html", b"<img src=\"../c.bin\">");
    put(site.path(), "c.bin", &noise(10_000, 3));
    let Some((_nginx, _conf, port)) = nginx_tls(site.path()) else {
        return;
    };
    let out = temp_dir("peers tls mirror out ");
    let pki = Pki::get();
    let run = fetch_cmd(
        Command::new(bin("fetch"))
            .args(["-s", "--mirror", "--cacert", &pki.arg("root.pem")])
            .arg("--directory-prefix")
            .arg(out.path())
            .arg(format!("https://localhost:{port}/")),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let host = out.path().join(format!("localhost:{port}"));
    for f in ["index.html", "a.txt", "sub/b.html", "c.bin"] {
        let want = std::fs::read(site.path().join(f)).unwrap();
        let got = std::fs::read(host.join(f)).unwrap_or_default();
        same_bytes(f, &want, &got);
    }
    assert!(
        !out.path().join("localhost").exists(),
        "http://localhost was followed"
    );
}
