//! Scale-out with existing engines: HAProxy balancing three `serve` processes (one killed and
//! restarted under load), two `serve --reuse-port` on one port, `serve --unix` behind nginx,
//! and `serve` started by systemd's socket activation.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::origins::{nginx, nginx_log};
use super::{Child, noise, program, put, start_on_free_port, temp_dir};
use crate::fetch::fetch;
use crate::support::raw;
use crate::support::serve::Serve;
use crate::support::wait_for;

/// The access-log lines of real requests for `path` (not health checks).
fn gets(log: &[String], path: &str) -> usize {
    let want = format!("\"GET {path} HTTP/1.1\" 200 ");
    log.iter().filter(|l| l.contains(&want)).count()
}

/// One GET on a kept-alive connection: the status, the body and the `X-Backend` header, or
/// what went wrong, without panicking.
fn get(s: &mut TcpStream, path: &str) -> Result<(u16, Vec<u8>, String), String> {
    let req = format!("GET {path} HTTP/1.1\r\nHost: balanced\r\n\r\n");
    s.write_all(req.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut pending = Vec::new();
    let r = raw::try_read_response(s, &mut pending, false)?;
    if !pending.is_empty() {
        return Err("bytes after the response".into());
    }
    let backend = r.header("x-backend").unwrap_or_default().to_string();
    Ok((r.status, r.body, backend))
}

/// Starts a backend `serve` on `port` (0: any) that names itself in an `X-Backend` header.
/// For a given port, waits while the port is still held: a killed process's port is free at
/// once, but another process could take it meanwhile.
fn backend(name: &str, port: u16, dir: &Path) -> Serve {
    if port != 0 {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        wait_for(
            &format!("port {port} to be free"),
            Duration::from_secs(30),
            || TcpListener::bind(addr).ok().map(drop),
        );
    }
    Serve::start(&[
        "-p",
        &port.to_string(),
        "-H",
        &format!("X-Backend: {name}"),
        dir.to_str().unwrap(),
    ])
}

#[test]
fn haproxy_balances_three_serves_and_hides_a_killed_one() {
    let Some(haproxy) = program("haproxy", "haproxy") else {
        return;
    };
    let site = temp_dir("peers haproxy ");
    let page = noise(20_000, 5);
    put(site.path(), "page.bin", &page);
    put(site.path(), "health.txt", b"ok\n");
    let root = site.path();
    let mut backends: Vec<Serve> = ["s0", "s1", "s2"]
        .iter()
        .map(|name| backend(name, 0, root))
        .collect();
    let ports: Vec<u16> = backends.iter().map(|s| s.addr().port()).collect();

    let conf_dir = tempfile::tempdir().unwrap();
    let (_haproxy, port) = start_on_free_port("haproxy", |port, token| {
        // Health checks every 100 ms, one failure takes a server out and one success puts it
        // back; a request that fails to connect, or whose server dies before answering, is
        // retried (up to 3 times), each time on another server.
        let servers: String = ports
            .iter()
            .enumerate()
            .map(|(i, p)| {
                format!("    server s{i} 127.0.0.1:{p} check inter 100ms fall 1 rise 1\n")
            })
            .collect();
        let conf = format!(
            "global
    maxconn 512
defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    retries 3
    option redispatch 1
    retry-on all-retryable-errors
frontend fe
    bind 127.0.0.1:{port}
    http-response set-header X-Peer-Token {token}
    default_backend be
backend be
    balance roundrobin
    option httpchk GET /health.txt
{servers}"
        );
        let path = conf_dir.path().join("haproxy.cfg");
        std::fs::write(&path, conf).unwrap();
        Child::start(
            "haproxy",
            Command::new(&haproxy).arg("-db").arg("-f").arg(&path),
        )
    });

    // The load: two clients, each on kept-alive connections (a new one every 20 requests),
    // until told to stop; bounded at 20 000 requests and 60 s whatever happens. Each answer
    // names its backend (X-Backend), counted here.
    let done = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let by_backend = Arc::new(Mutex::new(BTreeMap::<String, usize>::new()));
    // When s1 was killed: no request sent after that may come back from it.
    let s1_killed = Arc::new(Mutex::new(None::<Instant>));
    let started = Instant::now();
    let clients: Vec<_> = (0..2)
        .map(|_| {
            let (done, stop, failures, by_backend, s1_killed, page) = (
                Arc::clone(&done),
                Arc::clone(&stop),
                Arc::clone(&failures),
                Arc::clone(&by_backend),
                Arc::clone(&s1_killed),
                page.clone(),
            );
            thread::spawn(move || {
                let mut conn: Option<TcpStream> = None;
                let mut on_conn = 0;
                while !stop.load(Ordering::Relaxed)
                    && done.load(Ordering::Relaxed) < 20_000
                    && started.elapsed() < Duration::from_secs(60)
                {
                    if conn.is_none() || on_conn == 20 {
                        conn = Some(raw::connect(("127.0.0.1", port)));
                        on_conn = 0;
                    }
                    let sent = Instant::now();
                    let result = get(conn.as_mut().unwrap(), "/page.bin");
                    let n = done.fetch_add(1, Ordering::Relaxed);
                    match result {
                        Ok((200, _, backend))
                            if backend == "s1"
                                && s1_killed.lock().unwrap().is_some_and(|k| sent > k) =>
                        {
                            failures.lock().unwrap().push(format!(
                                "request {n}: sent after s1 was killed, answered by s1"
                            ));
                        }
                        Ok((200, body, backend)) if body == page => {
                            *by_backend.lock().unwrap().entry(backend).or_default() += 1;
                            on_conn += 1;
                        }
                        Ok((status, body, backend)) => {
                            failures.lock().unwrap().push(format!(
                                "request {n}: status {status}, {} bytes, from {backend:?}",
                                body.len()
                            ));
                            conn = None;
                        }
                        Err(e) => {
                            failures.lock().unwrap().push(format!("request {n}: {e}"));
                            conn = None;
                        }
                    }
                }
            })
        })
        .collect();
    let count = |name: &str| by_backend.lock().unwrap().get(name).copied().unwrap_or(0);
    let reached = |what: &str, check: &dyn Fn() -> bool| {
        wait_for(what, Duration::from_secs(30), || check().then_some(()));
    };

    reached("200 requests", &|| done.load(Ordering::Relaxed) >= 200);
    // Kill backend s1 outright (SIGKILL to the PID we started: no draining, its connections
    // reset, its unflushed log lines lost), keep the load going while it is down, then start
    // it again on its port, now answering as "s1-restarted".
    backends[1].kill_and_collect_log();
    *s1_killed.lock().unwrap() = Some(Instant::now());
    let at_kill = done.load(Ordering::Relaxed);
    reached("300 requests with s1 down", &|| {
        done.load(Ordering::Relaxed) >= at_kill + 300
    });
    backends[1] = backend("s1-restarted", ports[1], root);
    // Back in rotation once a health check passes: it serves real requests again.
    reached("the restarted backend to serve 20 requests", &|| {
        count("s1-restarted") >= 20
    });
    let at_restart = done.load(Ordering::Relaxed);
    reached("100 more requests, 600 in all", &|| {
        done.load(Ordering::Relaxed) >= (at_restart + 100).max(600)
    });
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }

    let total = done.load(Ordering::Relaxed);
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {total} requests failed: {:#?}",
        failures.len(),
        &failures[..failures.len().min(20)]
    );
    let by_backend = by_backend.lock().unwrap().clone();
    assert_eq!(
        by_backend.keys().collect::<Vec<_>>(),
        ["s0", "s1", "s1-restarted", "s2"],
        "{by_backend:?}"
    );
    // s1 served before its kill (and, checked by the clients, nothing sent after it; a
    // response already counted in flight at the kill is not "after").
    assert!(by_backend["s1"] > 0, "{by_backend:?}");
    // The access logs of the live backends (flushed by a clean stop) agree with what the
    // clients counted.
    for (i, name) in [(0, "s0"), (1, "s1-restarted"), (2, "s2")] {
        let log = backends[i].stop_and_collect_log();
        assert_eq!(
            gets(&log, "/page.bin"),
            by_backend[name],
            "{name}'s log and the clients' count; all: {by_backend:?}"
        );
    }
}

#[test]
fn two_serves_with_reuse_port_share_the_connections() {
    let site = tempfile::tempdir().unwrap();
    put(site.path(), "x.txt", b"x\n");
    let dir = site.path().to_str().unwrap();
    let a = Serve::start(&["--reuse-port", "-p", "0", dir]);
    let port = a.addr().port().to_string();
    let b = Serve::start(&["--reuse-port", "-p", &port, dir]);
    assert_eq!(a.addr(), b.addr());
    // 200 new connections: the kernel spreads them by a hash of the client's address and
    // port, so both processes get some (all on one would be a 1 in 2^199 chance).
    for _ in 0..200 {
        let out = a.raw(b"GET /x.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n") && out.ends_with(b"\r\n\r\nx\n"));
    }
    let total = wait_for("200 log lines", Duration::from_secs(30), || {
        let (na, nb) = (gets(&a.log(), "/x.txt"), gets(&b.log(), "/x.txt"));
        (na + nb == 200).then_some((na, nb))
    });
    assert!(total.0 > 0 && total.1 > 0, "both served: {total:?}");
}

#[test]
fn nginx_proxies_to_serve_on_a_unix_socket() {
    let Some(nginx_bin) = program("nginx", "nginx-light") else {
        return;
    };
    let site = temp_dir("peers unix ");
    let data = noise(1_500_000, 21);
    put(site.path(), "site/d\u{e9}j\u{e0} vu #1.bin", &data);
    put(site.path(), "site/folder/a.txt", b"a\n");
    let sock = site.path().join("serve.sock");
    let mut s = Serve::start(&[
        "--unix",
        sock.to_str().unwrap(),
        site.path().join("site").to_str().unwrap(),
    ]);
    let conf_dir = temp_dir("peers nginx ");
    // An upstream with kept-alive connections to serve, as a real deployment has.
    let (_nginx, port) = nginx(
        &nginx_bin,
        conf_dir.path(),
        &format!(
            r#"location / {{
            proxy_pass http://serve_unix;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
        }}
    }}
    upstream serve_unix {{
        server "unix:{sock}";
        keepalive 4;"#,
            sock = sock.display()
        ),
    );
    let via = |p: &str| format!("http://127.0.0.1:{port}{p}");
    let file = "/d%C3%A9j%C3%A0%20vu%20%231.bin";
    // The same bytes through nginx as straight from the socket.
    let direct = fetch(&[
        "--unix-socket",
        sock.to_str().unwrap(),
        "-o",
        "-",
        &format!("localhost{file}"),
    ]);
    direct.code(0).stdout(&data);
    fetch(&["-o", "-", &via(file)]).code(0).stdout(&data);
    // Ranges and validators pass through the proxy.
    let r = fetch(&["-i", "-H", "Range: bytes=10-19", "-o", "-", &via(file)]);
    r.code(0);
    let text = String::from_utf8_lossy(&r.stdout).into_owned();
    assert!(text.starts_with("HTTP/1.1 206"), "{text}");
    assert!(r.stdout.ends_with(&data[10..20]));
    let etag = text
        .lines()
        .find_map(|l| l.strip_prefix("ETag: "))
        .unwrap_or_else(|| panic!("an ETag: {text}"))
        .to_string();
    let r = fetch(&["-i", "-H", &format!("If-None-Match: {etag}"), &via(file)]);
    assert!(String::from_utf8_lossy(&r.stdout).starts_with("HTTP/1.1 304"));
    // A listing and the folder redirect (serve's Location is relative, so it stays on nginx).
    let listing = fetch(&["-L", &via("/folder")]);
    listing.code(0);
    assert!(String::from_utf8_lossy(&listing.stdout).contains("href=\"./a.txt\""));
    // serve saw them all from nginx, on its Unix socket.
    s.wait_log("the listing, through nginx", |l| {
        l.starts_with("unix ") && l.contains("\"GET /folder/ HTTP/1.1\" 200")
    });
    // The whole log (a clean stop flushes every worker's lines), not the lines so far.
    let log = s.stop_and_collect_log();
    assert!(log.iter().all(|l| l.starts_with("unix ")), "{log:#?}");
    let nginx = nginx_log(conf_dir.path());
    assert!(nginx.len() >= 5, "{nginx:#?}");
}

#[test]
fn systemd_socket_activate_hands_serve_its_socket() {
    let Some(activate) = program("systemd-socket-activate", "systemd") else {
        return;
    };
    let site = temp_dir("peers activate ");
    put(site.path(), "site/a b.txt", b"activated\n");
    let root = site.path().join("site");
    let serve = crate::support::bin("serve");

    // On a Unix socket: systemd-socket-activate listens, and starts serve only when the first
    // client connects; that client's request waits in the backlog and is answered.
    let sock = site.path().join("activated.sock");
    let mut d = Child::start(
        "systemd-socket-activate",
        Command::new(&activate)
            .arg("-l")
            .arg(&sock)
            .arg(&serve)
            .arg(&root),
    );
    d.wait_output("'Listening on'", |o| {
        o.contains("Listening on ").then_some(())
    });
    assert!(!d.output().contains("serving "), "serve starts on demand");
    let sock_arg = sock.to_str().unwrap();
    fetch(&["--unix-socket", sock_arg, "localhost/a%20b.txt"])
        .code(0)
        .stdout(b"activated\n");
    fetch(&["--unix-socket", sock_arg, "localhost/a%20b.txt"])
        .code(0)
        .stdout(b"activated\n");
    d.wait_output("serve's startup line and its log", |o| {
        (o.contains(&format!(
            "serving {} at unix:{}",
            root.display(),
            sock.display()
        )) && o.matches("\"GET /a%20b.txt HTTP/1.1\" 200 10").count() == 2)
            .then_some(())
    });

    // On TCP: systemd-socket-activate needs a real port (it rejects port 0), so the kit's
    // free-port start is used; serve's -H adds the token the readiness probe looks for.
    let (mut d, port) = start_on_free_port("systemd-socket-activate", |port, token| {
        Child::start(
            "systemd-socket-activate",
            Command::new(&activate)
                .arg("-l")
                .arg(format!("127.0.0.1:{port}"))
                .arg(&serve)
                .args(["-H", &format!("X-Peer-Token: {token}"), "-p", "1"])
                .arg(&root),
        )
    });
    fetch(&[&format!("127.0.0.1:{port}/a%20b.txt")])
        .code(0)
        .stdout(b"activated\n");
    // serve took the inherited socket, not the -p 1 it was also given.
    d.wait_output("serve on the inherited TCP socket", |o| {
        o.contains(&format!("at http://127.0.0.1:{port}/"))
            .then_some(())
    });
}
