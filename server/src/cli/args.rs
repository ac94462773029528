//! Phase one of the `serve` command line: the flags as clap parses them, with their help
//! text. Nothing here touches the file system or the network; `config.rs` does that.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::auth::Account;
use crate::engine::cidr::Cidr;

pub(crate) const AFTER_HELP: &str = "\
Defaults: binds 127.0.0.1 (only this machine); `--bind ::` or `--bind 0.0.0.0` exposes it.
Dotfiles are hidden (except .well-known), symlinks leaving DIR are refused, and a directory
serves its index.html. Idle keep-alive connections never hold a worker thread.

When started by a service manager with a listening socket (LISTEN_PID/LISTEN_FDS, systemd
socket activation), serve uses that socket and ignores --bind, --port and --unix.

Files carry a strong ETag (size and modification time to the nanosecond) and Last-Modified;
conditional requests get 304/412, Range requests 206 (several ranges as multipart/byteranges,
at most 16 and not overlapping, else the whole file), 416 when unsatisfiable. FILE.br or
FILE.gz beside FILE is sent to clients that accept that encoding. A folder without
index.html is listed (HTML, or JSON for `Accept: application/json`) unless --no-listing.
Repr-Digest (RFC 9530, sha-256 or sha-512) goes with a file when the request has
Want-Repr-Digest, and always with --digest; a range response carries the whole file's.

Sharing: with --bind 0.0.0.0 or ::, the lines after the first list every interface's URL;
--qr prints a QR code of the LAN URL. --auth requires HTTP Basic credentials for every
request (401 otherwise). --compress sends br or gzip by the client's q-values, cached.
--upload takes PUT and multipart POST; a file appears only once whole (201, 409 or with
--overwrite 204). --archive streams ?download=tar, tar.gz or zip of a folder.

HTTPS (--tls-cert FILE --tls-key FILE): TLS 1.2 and 1.3 (rustls), ALPN http/1.1, session
tickets and resumption; the banner prints https:// URLs. A plain-HTTP request on that port is
redirected to https:// (301; 308 for other methods than GET and HEAD). An encrypted key
(ENCRYPTED PRIVATE KEY) is decrypted with --tls-password-file. Renewed certificate files are
read again while serving. --tls-self-signed needs no files: serve makes a
certificate and prints its key hash with the fetch and curl lines that check it.

Live reload (--watch): DIR and its visible folders are watched with inotify (up to 8192
folders). HTML files and listings are sent with a script before </body> (its own ETag,
never compressed, Range ignored) that listens to /%00serve-reload (Server-Sent Events; a path no file can
have). Changes are reported after 100 ms of quiet; dotfiles and editor temp files (*.swp,
name~, 4913) are ignored. As many pages as --max-connections may listen, beside the
connections being served (then 503); they hold no worker.

The first line on stdout is `serving DIR at URL`; then one access-log line per request
(unless --quiet). Errors go to stderr. SIGINT/SIGTERM: stop accepting, finish in-flight
responses (up to 10 s), exit 0; a second signal exits at once.

Exit codes:
  0  stopped by a signal after draining
  1  could not listen or serve (address in use, permission denied, ...)
  2  bad command line (flag, value, --bind address), or DIR is missing or not a directory;
     a certificate or key that cannot be used (not a pair, encrypted without
     --tls-password-file, a wrong pass phrase, a missing password file)";

/// Serve a folder over HTTP/1.x: static files, fast and safely.
#[derive(Parser, Debug)]
#[allow(missing_docs)] // The fields' doc comments are their --help text, not API docs.
#[command(name = "serve", version, after_help = AFTER_HELP)]
pub struct Args {
    /// The folder to serve [default: the current directory]
    #[arg(value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,

    /// The folder to serve (same as DIR, as python's http.server spells it)
    #[arg(
        short = 'd',
        long = "directory",
        value_name = "DIR",
        conflicts_with = "dir"
    )]
    pub(crate) directory: Option<PathBuf>,

    /// Address to listen on: an IP (`::` or 0.0.0.0 to expose to the network) or a name
    #[arg(short, long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub(crate) bind: String,

    /// Port to listen on; 0 picks a free one (printed on the first line)
    #[arg(short, long, value_name = "PORT", default_value_t = 8080)]
    pub(crate) port: u16,

    /// Listen on a Unix-domain socket at PATH instead of TCP (a stale socket file is replaced;
    /// any other file is left alone)
    #[arg(long, value_name = "PATH", conflicts_with_all = ["bind", "port"])]
    pub(crate) unix: Option<PathBuf>,

    /// Worker threads, each waiting on the readiness set itself [default: one per CPU, at least 2]
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub(crate) threads: Option<u32>,

    /// Listen backlog: connections the kernel holds before we accept them
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(i32).range(1..))]
    pub(crate) backlog: i32,

    /// Open connections at most; beyond, answer 503 with Retry-After and close
    #[arg(long, value_name = "N", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) max_connections: u32,

    /// Close idle keep-alive connections after SECS
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = seconds)]
    pub(crate) keep_alive_timeout: Duration,

    /// A whole request head must arrive within SECS, and an upload's body may not stop for
    /// longer; else 408 and close (an unfinished upload leaves nothing)
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = seconds)]
    pub(crate) header_timeout: Duration,

    /// On SIGINT/SIGTERM, let responses and uploads in flight finish for up to SECS, then
    /// drop what is left (an upload cut short leaves nothing) and exit
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = seconds)]
    pub(crate) drain_timeout: Duration,

    /// No access log
    #[arg(short, long)]
    pub(crate) quiet: bool,

    /// Access-log line format
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = LogFormat::Common)]
    pub(crate) log_format: LogFormat,

    /// Cache-Control on files and listings [default: no-cache, i.e. revalidate each time]
    #[arg(long, value_name = "VALUE", value_parser = header_value)]
    pub(crate) cache_control: Option<String>,

    /// Allow cross-origin requests: Access-Control-Allow-Origin: * and answered preflights
    #[arg(long)]
    pub(crate) cors: bool,

    /// Add a header to every response, as 'Name: value' (repeatable)
    #[arg(short = 'H', long = "header", value_name = "'NAME: VALUE'", value_parser = header_line)]
    pub(crate) headers: Vec<(String, String)>,

    /// Answer 404 with this HTML file's content (read once at start, at most 1 MiB)
    #[arg(long = "404", value_name = "FILE")]
    pub(crate) not_found: Option<PathBuf>,

    /// Single-page app: a missing path without an extension gets /index.html with 200
    #[arg(long)]
    pub(crate) spa: bool,

    /// Send Repr-Digest: sha-256=:…: (RFC 9530) with every file, not only to requests with
    /// Want-Repr-Digest
    ///
    /// Digests are computed once per file version (device, inode, size, mtime) and kept.
    /// Files up to 1 MiB are hashed at once; a larger file is hashed in the background and
    /// its responses carry the field from the first one after its digest is known. The JSON
    /// listing carries "sha256" for files whose digest is known.
    #[arg(long)]
    pub(crate) digest: bool,

    /// Serve dotfiles too (default: hidden, except .well-known)
    #[arg(long)]
    pub(crate) hidden: bool,

    /// Follow symlinks that lead outside DIR (default: refused with 404)
    #[arg(long)]
    pub(crate) follow_symlinks: bool,

    /// No directory listings: a folder without index.html is 404
    #[arg(long)]
    pub(crate) no_listing: bool,

    /// Only clients in this address block may connect, e.g. 10.0.0.0/8 or ::1 (repeatable);
    /// others get 403 and a close. Does not apply to --unix clients
    #[arg(long, value_name = "CIDR")]
    pub(crate) allow: Vec<Cidr>,

    /// Permissions of the --unix socket file, in octal (e.g. 660)
    #[arg(long, value_name = "MODE", value_parser = octal_mode, requires = "unix")]
    pub(crate) unix_mode: Option<u32>,

    /// Set SO_REUSEPORT so several serve processes can share one port
    #[arg(long)]
    pub(crate) reuse_port: bool,

    /// Accept uploads: PUT /path/name, and multipart/form-data POST to a folder (the
    /// listing gets an upload form). A file appears only once its whole body has arrived
    #[arg(long)]
    pub(crate) upload: bool,

    /// With --upload: replace existing files (204); without it an existing name is 409
    #[arg(long, requires = "upload")]
    pub(crate) overwrite: bool,

    /// With --upload: create missing folders on the way (without it, 409)
    #[arg(long, requires = "upload")]
    pub(crate) upload_mkdir: bool,

    /// With --upload: accept uploads only under this folder of DIR (others get 403)
    #[arg(long, value_name = "SUBPATH", requires = "upload")]
    pub(crate) upload_dir: Option<PathBuf>,

    /// With --upload: the largest upload, e.g. 500M or 2G (bytes, K, M, G: powers of 1024);
    /// larger gets 413 before its body is read [default: no limit]
    #[arg(long, value_name = "SIZE", requires = "upload", value_parser = size)]
    pub(crate) max_upload: Option<u64>,

    /// Require this user and password (HTTP Basic) for everything: USER:PASSWORD, or
    /// USER:sha256:HEX with the password's SHA-256 so it sits in no shell history
    /// (repeatable)
    #[arg(long, value_name = "USER:PASS", value_parser = account)]
    pub(crate) auth: Vec<Account>,

    /// Read --auth accounts from FILE, one USER:PASSWORD or USER:sha256:HEX a line (# starts
    /// a comment)
    #[arg(long, value_name = "FILE")]
    pub(crate) auth_file: Option<PathBuf>,

    /// Offer each folder as one download: ?download=tar, ?download=tar.gz or ?download=zip
    /// (linked from the listing; follows the same rules as browsing)
    #[arg(long)]
    pub(crate) archive: bool,

    /// Compress text and other compressible files on the fly (br or gzip, as the client
    /// prefers), above 1 KiB and up to 8 MiB; the results are cached
    #[arg(long)]
    pub(crate) compress: bool,

    /// Live reload: watch DIR and make open pages follow changes (HTML pages get a small
    /// script; a CSS change swaps the style sheets, any other change reloads the page)
    #[arg(long)]
    pub(crate) watch: bool,

    /// Print a QR code of the URL to open from another device on the network
    #[arg(long)]
    pub(crate) qr: bool,

    /// Speak HTTPS with this certificate chain (PEM, leaf first); needs --tls-key
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (RSA, ECDSA or Ed25519; PKCS#8, PKCS#1 or SEC1; or
    /// encrypted PKCS#8, with --tls-password-file)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,

    /// The pass phrase of an encrypted --tls-key ("BEGIN ENCRYPTED PRIVATE KEY", as openssl
    /// pkcs8 -topk8 and openssl genpkey -aes256 write it): the first line of FILE, without its
    /// line end; read once, and used again for renewed keys. A wrong or missing pass phrase,
    /// or a missing FILE, stops serve at the start (exit 2)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub(crate) tls_password_file: Option<PathBuf>,

    /// Speak HTTPS with a certificate made here for localhost and this machine's addresses;
    /// its key is kept in $XDG_STATE_HOME/serve (~/.local/state/serve), so its hash, printed
    /// at the start for fetch and curl --pinnedpubkey, stays the same across restarts
    #[arg(long, conflicts_with = "tls_cert")]
    pub(crate) tls_self_signed: bool,
}

/// Access-log formats.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// peer - - [time] "request" status bytes
    Common,
    /// common plus "referer" "user-agent"
    Combined,
    /// one JSON object per line
    Json,
}

fn header_value(s: &str) -> Result<String, String> {
    if s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err("a header value cannot contain CR, LF or NUL".into());
    }
    Ok(s.trim().to_string())
}

fn header_line(s: &str) -> Result<(String, String), String> {
    let Some((name, value)) = s.split_once(':') else {
        return Err(format!("'{s}' is not 'Name: value'"));
    };
    let name = name.trim();
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(format!("'{name}' is not a valid header name"));
    }
    Ok((name.to_string(), header_value(value)?))
}

fn octal_mode(s: &str) -> Result<u32, String> {
    match u32::from_str_radix(s.trim_start_matches("0o"), 8) {
        Ok(m) if m <= 0o777 => Ok(m),
        _ => Err(format!("'{s}' is not an octal mode like 660")),
    }
}

fn seconds(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 86_400.0 => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!(
            "'{s}' is not a number of seconds above 0, up to 86400"
        )),
    }
}

fn account(s: &str) -> Result<Account, String> {
    Account::parse(s)
}

/// A size in bytes: a number, optionally followed by K, M, G or T (powers of 1024; a
/// trailing `B` or `iB` is allowed).
pub(crate) fn size(s: &str) -> Result<u64, String> {
    let bad = || format!("'{s}' is not a size like 500M or 2G");
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .or_else(|| t.strip_suffix('b'))
        .unwrap_or(t);
    let (digits, shift) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 10),
        Some('M') => (&t[..t.len() - 1], 20),
        Some('G') => (&t[..t.len() - 1], 30),
        Some('T') => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    let n: u64 = digits.trim().parse().map_err(|_| bad())?;
    n.checked_mul(1 << shift).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let cases = [
            ("0", Some(0)),
            ("1000", Some(1000)),
            ("1K", Some(1024)),
            ("500M", Some(500 << 20)),
            ("2g", Some(2 << 30)),
            ("2GiB", Some(2 << 30)),
            ("10MB", Some(10 << 20)),
            ("1T", Some(1 << 40)),
            ("", None),
            ("M", None),
            ("-1", None),
            ("1.5G", None),
            ("99999999999T", None),
        ];
        for (s, want) in cases {
            assert_eq!(size(s).ok(), want, "{s}");
        }
    }

    #[test]
    fn the_new_flags_parse_and_uploads_options_need_upload() {
        let ok = Args::try_parse_from([
            "serve",
            "--upload",
            "--overwrite",
            "--upload-mkdir",
            "--upload-dir",
            "in",
            "--max-upload",
            "1G",
            "--auth",
            "a:b",
            "--auth",
            "c:sha256:0000000000000000000000000000000000000000000000000000000000000000",
            "--archive",
            "--compress",
            "--qr",
        ])
        .unwrap();
        assert!(ok.upload && ok.overwrite && ok.upload_mkdir && ok.archive && ok.compress && ok.qr);
        assert_eq!(ok.max_upload, Some(1 << 30));
        assert_eq!(ok.auth.len(), 2);
        for bad in [
            &["serve", "--overwrite"][..],
            &["serve", "--upload-mkdir"],
            &["serve", "--upload-dir", "x"],
            &["serve", "--max-upload", "1G"],
            &["serve", "--auth", "nopassword"],
            &["serve", "--upload", "--max-upload", "lots"],
        ] {
            assert!(Args::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }
}
