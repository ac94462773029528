//! TLS on a connection (feature `tls`): the rustls configuration, built once per client
//! from its settings ([`shared::tls::ClientSettings`]) the first time an `https://` URL
//! needs it; what a handshake settled (`-v` is told it); the name a certificate must carry;
//! and rustls's errors sorted into curl's exit codes. The handshake itself is a step of the
//! main loop (`run.rs`, `secure`): this module imports nothing of the client but its errors.

use std::io::{self, Read};
use std::sync::{Arc, OnceLock};

use shared::tls::{ClientSettings, Failure, TlsError};
use shared::{Endpoint, Host, Stream, Target};

use crate::error::{Error, TlsKind};

/// A client's TLS settings and the configuration made from them, shared by its clones.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tls {
    pub(crate) settings: ClientSettings,
    built: Arc<OnceLock<Result<Arc<rustls::ClientConfig>, TlsError>>>,
}

impl Tls {
    /// Settings to build from when first needed.
    pub(crate) fn new(settings: ClientSettings) -> Tls {
        Tls {
            settings,
            built: Arc::default(),
        }
    }

    /// The configuration: read the CA file and the rest once, on first use (a client that
    /// never meets `https://` never reads them, as curl does not).
    pub(crate) fn config(&self) -> Result<Arc<rustls::ClientConfig>, Error> {
        self.built
            .get_or_init(|| self.settings.build())
            .clone()
            .map_err(setup_error)
    }
}

fn setup_error(e: TlsError) -> Error {
    let kind = match &e {
        TlsError::CaFile { .. } => TlsKind::CaFile,
        TlsError::CrlFile { .. } => TlsKind::CrlFile,
        TlsError::ClientCert { .. } => TlsKind::ClientCert,
        TlsError::Cipher { .. } => TlsKind::Cipher,
        TlsError::Pin(_) => TlsKind::Pinned,
        _ => TlsKind::Handshake,
    };
    Error::Tls {
        peer: None,
        kind,
        reason: e.to_string(),
    }
}

/// What a handshake settled, for `-v` and other observers.
#[derive(Debug, Clone)]
pub struct TlsInfo {
    /// `TLSv1.3`.
    pub version: String,
    /// The suite, by OpenSSL's name: `TLS_AES_256_GCM_SHA384`.
    pub cipher: String,
    /// The protocol ALPN settled on (`http/1.1`), if the server chose one.
    pub alpn: Option<String>,
    /// The server's certificate, as it describes itself.
    pub certificate: Option<shared::tls::CertSummary>,
    /// How many certificates the server sent.
    pub certs: u32,
    /// False with `-k`: nothing was checked.
    pub verified: bool,
    /// The host the certificate was checked against.
    pub host: String,
    /// The CA file and folder in use.
    pub ca: (String, String),
    /// True when the session was resumed (no full handshake).
    pub resumed: bool,
}

/// The name the certificate must carry, and the SNI: the URL's host, never where
/// `--resolve` or `--connect-to` lead.
pub(crate) fn name_of(target: &Target) -> Result<rustls::pki_types::ServerName<'static>, Error> {
    let host = match &target.endpoint {
        Endpoint::Tcp {
            host: Host::Ip(ip), ..
        } => return Ok((*ip).into()),
        Endpoint::Tcp { host, .. } => host.to_string(),
        Endpoint::Unix(_) => "localhost".to_string(),
    };
    shared::tls::server_name(&host).ok_or_else(|| Error::Tls {
        peer: None,
        kind: TlsKind::Handshake,
        reason: format!("'{host}' cannot be a TLS server name"),
    })
}

/// The name the TLS connection to `target` is pooled under (`None`: plain HTTP).
pub(crate) fn pool_name(target: &Target) -> Option<String> {
    target.tls.then(|| match &target.endpoint {
        Endpoint::Tcp { host, .. } => host.to_string(),
        Endpoint::Unix(_) => "localhost".to_string(),
    })
}

/// What the handshake of `tls` settled, checked by `settings` for `host`.
pub(crate) fn describe(
    tls: &rustls::ClientConnection,
    settings: &ClientSettings,
    host: String,
) -> TlsInfo {
    let chain = tls.peer_certificates().unwrap_or_default();
    TlsInfo {
        version: tls
            .protocol_version()
            .map_or_else(String::new, |v| match v {
                rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".into(),
                rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".into(),
                other => format!("{other:?}"),
            }),
        cipher: tls
            .negotiated_cipher_suite()
            .map_or_else(String::new, |s| shared::tls::suite_name(s.suite())),
        alpn: tls
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
        certificate: chain.first().and_then(|c| shared::tls::summarize(c)),
        certs: chain.len() as u32,
        verified: !settings.insecure,
        host,
        ca: (
            settings.ca_file().display().to_string(),
            settings.ca_path().display().to_string(),
        ),
        resumed: tls.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
    }
}

/// The rustls error inside an I/O error, if there is one.
pub(crate) fn inner(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

/// An I/O error on a TLS connection, in words.
pub(crate) fn io_words(e: &io::Error) -> String {
    match inner(e) {
        Some(tls) => shared::tls::tls_words(tls),
        None => shared::io_words(e),
    }
}

/// The handshake with `peer` failed with `e`: curl's 60 for a certificate, 90 for a pinned
/// key, else 35.
pub(crate) fn handshake_error(peer: &str, e: &io::Error) -> Error {
    let (kind, reason) = match inner(e) {
        Some(tls) => {
            let kind = match shared::tls::classify(tls) {
                Failure::Untrusted => TlsKind::Untrusted,
                Failure::Pinned => TlsKind::Pinned,
                _ => TlsKind::Handshake,
            };
            (kind, shared::tls::tls_words(tls))
        }
        None if e.kind() == io::ErrorKind::UnexpectedEof => (
            TlsKind::Handshake,
            "the server closed the connection during the handshake".into(),
        ),
        None => (TlsKind::Handshake, shared::io_words(e)),
    };
    Error::Tls {
        peer: Some(peer.to_string()),
        kind,
        reason,
    }
}

/// The most ciphertext taken from the socket in one `recv`: 256 KiB. rustls's `read_tls`
/// takes at most about one record (16 KiB) a call, so reading the socket through it made one
/// system call per record (65,560 for 1 GiB); one `recv` into this buffer takes all that
/// has arrived, up to 16 records, and rustls is fed from it by copies. Bounded so a fast
/// peer cannot make it grow; 256 KiB is a little more than a loopback or LAN socket
/// usually holds between two reads.
const AHEAD_SIZE: usize = 256 * 1024;

/// Ciphertext that has arrived on a TLS connection and rustls has not taken yet. It
/// belongs to the connection, with the rustls session: the handshake and every read after
/// it go through it (by [`Wire`]), so nothing read ahead is lost or reordered, and an idle
/// pooled connection is judged with it ([`is_stale`]).
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) conn: rustls::ClientConnection,
    /// [`AHEAD_SIZE`] bytes, allocated once with the session; `start..end` is unread.
    ahead: Box<[u8]>,
    start: usize,
    end: usize,
}

impl Session {
    /// A session that has not shaken hands yet, with an empty read-ahead buffer.
    pub(crate) fn new(conn: rustls::ClientConnection) -> Session {
        Session {
            conn,
            ahead: vec![0; AHEAD_SIZE].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    /// The socket as rustls sees it, with reads served from the buffer: when it is empty,
    /// one `recv` refills it, blocking (under the timeout `arm` set) when `wait`, else with
    /// `MSG_DONTWAIT`. The rustls session and the wire are lent out together.
    pub(crate) fn wire<'a>(
        &'a mut self,
        sock: &'a Stream,
        wait: bool,
    ) -> (&'a mut rustls::ClientConnection, Wire<'a>) {
        let wire = Wire {
            ahead: &mut self.ahead,
            start: &mut self.start,
            end: &mut self.end,
            sock,
            wait,
        };
        (&mut self.conn, wire)
    }

    /// Reads plaintext into `out` as [`rustls::Stream`] does (at most one record's worth,
    /// waiting for it through the buffer), then opens more of the records already in the
    /// buffer, without a system call, until `out` is full or only part of a record is
    /// left: one read returns up to `out.len()` bytes instead of one record's. A TLS error
    /// met after some plaintext was returned is kept by rustls and returned by the next
    /// call, before anything is read.
    pub(crate) fn read(&mut self, sock: &Stream, out: &mut [u8]) -> io::Result<usize> {
        let (conn, mut wire) = self.wire(sock, true);
        // An error rustls met while opening records ahead (it keeps it): say it now, rather
        // than wait for more bytes that may never come.
        if let Err(e) = conn.process_new_packets() {
            // The alert rustls queued for it, as rustls's own `complete_io` sends it.
            let _ = conn.write_tls(&mut wire);
            return Err(io::Error::new(io::ErrorKind::InvalidData, e));
        }
        let mut n = rustls::Stream::new(conn, &mut wire).read(out)?;
        if n == 0 {
            return Ok(0);
        }
        wire.wait = false;
        while n < out.len() {
            match conn.reader().read(&mut out[n..]) {
                Ok(0) => break,
                Ok(more) => {
                    n += more;
                    continue;
                }
                // No whole record opened yet (WouldBlock), or the end: taken up next call.
                Err(_) => {}
            }
            if wire.is_empty()
                || conn.read_tls(&mut wire).is_err()
                || conn.process_new_packets().is_err()
            {
                break;
            }
        }
        Ok(n)
    }
}

/// The socket seen through a [`Session`]'s read-ahead buffer (see [`Session::wire`]).
/// Writes go straight to the socket.
pub(crate) struct Wire<'a> {
    ahead: &'a mut [u8],
    start: &'a mut usize,
    end: &'a mut usize,
    sock: &'a Stream,
    wait: bool,
}

impl Wire<'_> {
    fn is_empty(&self) -> bool {
        *self.start == *self.end
    }
}

impl Read for Wire<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.is_empty() {
            let mut sock = self.sock;
            let got = if self.wait {
                sock.read(self.ahead)?
            } else {
                sock.read_nowait(self.ahead)?
            };
            (*self.start, *self.end) = (0, got);
        }
        let n = out.len().min(*self.end - *self.start);
        out[..n].copy_from_slice(&self.ahead[*self.start..*self.start + n]);
        *self.start += n;
        Ok(n)
    }
}

impl io::Write for Wire<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::Write::write(&mut self.sock, buf)
    }
    // rustls writes its queued records with one vectored write; the default would send
    // only the first.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        io::Write::write_vectored(&mut self.sock, bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Whether an idle TLS connection can no longer be used, checked without blocking: what
/// has arrived is taken in, first what was read ahead and is still buffered, then what the
/// socket holds (a session ticket is fine; a `close_notify`, an alert, data nobody asked
/// for, or the end of the stream are not). Plaintext rustls already holds is data nobody
/// asked for too.
pub(crate) fn is_stale(session: &mut Session, stream: &Stream) -> bool {
    let (conn, mut wire) = session.wire(stream, false);
    loop {
        match conn.process_new_packets() {
            Ok(state) if state.plaintext_bytes_to_read() > 0 || state.peer_has_closed() => {
                return true;
            }
            Ok(_) => {}
            Err(_) => return true,
        }
        match conn.read_tls(&mut wire) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}
