//! `--tls-cert` and `--tls-key`: the server's certificate and key (an encrypted key
//! decrypted with `--tls-password-file`'s pass phrase), read and checked at the start (a bad
//! pair is a usage error), and the rustls configuration the engine's sessions
//! are made from (`shared::tls::server_config`: TLS 1.2 and 1.3, ALPN `http/1.1`, tickets
//! and resumption). The pair sits in a [`CertSlot`] that a renewal swaps ([`Renewal`]: the
//! files read again when they change, without a restart).

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rustix::event::{EventfdFlags, PollFd, PollFlags, Timespec, eventfd};
use rustix::fs::inotify::{self, CreateFlags, WatchFlags};
use shared::tls::rustls::ServerConfig;
use shared::tls::{self as tls, CertSlot, Passphrase};

use crate::watch::inotify::read_events;

/// HTTPS for a server: the certificate files and what was read from them.
#[derive(Debug, Clone)]
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    /// The key's pass phrase, kept for the renewals (read once, at the start).
    pass: Option<Passphrase>,
    slot: Arc<CertSlot>,
    config: Arc<ServerConfig>,
}

impl Tls {
    /// Reads the certificate chain `cert` (PEM, leaf first) and its key `key` (RSA, ECDSA
    /// or Ed25519 in PKCS#8, PKCS#1 or SEC1; PEM or DER; encrypted PKCS#8 decrypted with
    /// `pass`, which renewals use again). The error is one line that names the file at
    /// fault.
    pub fn load(cert: &Path, key: &Path, pass: Option<Passphrase>) -> Result<Tls, String> {
        let pair = tls::load_pair(cert, key, pass.as_ref())?;
        let slot = CertSlot::new(pair);
        let config = tls::server_config(Arc::clone(&slot))?;
        Ok(Tls {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            pass,
            slot,
            config,
        })
    }

    /// The certificate's public-key hash in curl's `--pinnedpubkey` form (`sha256//...`).
    pub fn key_hash(&self) -> Option<String> {
        self.slot.key_hash()
    }

    /// The files the pair is read from.
    pub fn files(&self) -> (&Path, &Path) {
        (&self.cert, &self.key)
    }

    /// The configuration every session is made from.
    pub(crate) fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }
}

/// How long the certificate files must be quiet before they are read again: a renewal
/// writes two files (and often a temporary file and a rename each).
const QUIET: Duration = Duration::from_millis(200);

/// A new pair that does not load is tried once more after this, before it is reported:
/// the certificate may be written a moment before its key.
const RETRY: Duration = Duration::from_secs(1);

/// The thread that reads the certificate files again when they change (renewal by certbot,
/// a mounted secret swapped): a good new pair goes in the slot for the next handshakes (open
/// connections keep the pair they shook hands with); a bad one changes nothing and is
/// reported in one line. The thread waits in `poll(2)` on an inotify descriptor (watching
/// the folders of both files, so a file replaced by a rename or a symlink swapped is seen)
/// and an eventfd that stops it.
#[derive(Debug)]
pub(crate) struct Renewal {
    stop_fd: OwnedFd,
    thread: Option<thread::JoinHandle<()>>,
}

impl Renewal {
    /// Starts watching `tls`'s files.
    pub(crate) fn start(tls: &Tls) -> io::Result<Renewal> {
        let fd = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)?;
        let flags = WatchFlags::CLOSE_WRITE
            | WatchFlags::CREATE
            | WatchFlags::DELETE
            | WatchFlags::MOVED_TO
            | WatchFlags::ATTRIB
            | WatchFlags::ONLYDIR;
        for file in [&tls.cert, &tls.key] {
            let dir = match file.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            inotify::add_watch(&fd, dir, flags)?;
        }
        let stop_fd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        let stop = stop_fd.try_clone()?;
        let tls = tls.clone();
        let thread = thread::Builder::new()
            .name("tls-renewal".into())
            .spawn(move || watch(&tls, &fd, &stop))?;
        Ok(Renewal {
            stop_fd,
            thread: Some(thread),
        })
    }
}

impl Drop for Renewal {
    fn drop(&mut self) {
        let _ = rustix::io::write(&self.stop_fd, &1u64.to_ne_bytes());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn watch(tls: &Tls, fd: &OwnedFd, stop: &OwnedFd) {
    // When to read the files again, and whether that is the retry of a failure.
    let mut due: Option<(Instant, bool)> = None;
    loop {
        let timeout = due.map(|(at, _)| {
            let wait = at.saturating_duration_since(Instant::now());
            Timespec {
                tv_sec: wait.as_secs() as i64,
                tv_nsec: wait.subsec_nanos().into(),
            }
        });
        let mut fds = [
            PollFd::new(fd, PollFlags::IN),
            PollFd::new(stop, PollFlags::IN),
        ];
        match rustix::event::poll(&mut fds, timeout.as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(_) => return,
        }
        if !fds[1].revents().is_empty() {
            return;
        }
        if !fds[0].revents().is_empty() {
            let _ = read_events(fd.as_fd(), |_, _, _| {});
            due = Some((Instant::now() + QUIET, false));
            continue;
        }
        let Some((at, retry)) = due else { continue };
        if Instant::now() < at {
            continue;
        }
        due = None;
        match tls::load_pair(&tls.cert, &tls.key, tls.pass.as_ref()) {
            Ok(pair) => {
                let current = tls.slot.current();
                if pair.cert != current.cert {
                    tls.slot.replace(pair);
                    eprintln!(
                        "serve: {}: renewed; new connections get the new certificate",
                        tls.cert.display()
                    );
                }
            }
            Err(_) if !retry => due = Some((Instant::now() + RETRY, true)),
            Err(e) => eprintln!(
                "serve: the renewed certificate cannot be used ({e}); still serving the \
                 previous one"
            ),
        }
    }
}
