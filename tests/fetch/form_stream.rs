//! `-F 'name=<FILE'` and `-F 'name=@-'` with stdin a regular file stream the file as the
//! request goes out, as curl does (tool_formparse.c), instead of reading it into memory
//! first: checked by fetch's peak memory while a server holds a large form body half read.

use std::fs::File;
use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::bin;

/// The form's file: 256 MiB, sparse (no disk used, read back as zeros).
const SIZE: u64 = 256 << 20;

/// fetch's peak resident memory in bytes (`VmHWM`), by its PID.
fn peak(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmHWM in /proc/PID/status");
    kib * 1024
}

#[test]
fn form_files_and_stdin_files_stream_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    File::create(&path).unwrap().set_len(SIZE).unwrap();
    for (part, stdin_file) in [("a=<big.bin", false), ("a=@-", true)] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/up", listener.local_addr().unwrap());
        let (held, wait) = mpsc::channel();
        // The server reads 16 MiB of the request, then stops reading with the socket open:
        // fetch is then blocked mid-body, with whatever it holds in memory.
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = vec![0u8; 1 << 16];
            let mut got = 0;
            while got < 16 << 20 {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got += n,
                }
            }
            held.send(got).unwrap();
            conn // kept open until the test is done with fetch
        });
        let stdin = if stdin_file {
            Stdio::from(File::open(&path).unwrap())
        } else {
            Stdio::null()
        };
        let mut fetch = Command::new(bin("fetch"))
            .current_dir(dir.path())
            .args(["-s", "-F", part, &url])
            .stdin(stdin)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let got = wait
            .recv_timeout(Duration::from_secs(120))
            .expect("the body started");
        assert!(got >= 16 << 20, "{part}: the server got only {got} bytes");
        let peak = peak(fetch.id());
        fetch.kill().unwrap();
        fetch.wait().unwrap();
        drop(server.join().unwrap());
        // Read into memory first, the 256 MiB would all be resident by now.
        assert!(
            peak < 64 << 20,
            "{part}: fetch held {} MiB while sending a 256 MiB form",
            peak >> 20
        );
    }
}
