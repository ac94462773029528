//! Phase two of the `serve` command line: the parsed flags checked and turned into what the
//! server needs — a [`Config`] for the site and where to listen. The I/O that can refuse a
//! command line happens here (DIR readable, the `--404` page, a `--bind` name resolved), so
//! nothing is half-started when the command line is wrong.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use shared::ListenOptions;
use shared::tls::Passphrase;

use super::args::{Args, LogFormat};
use crate::Config;
use crate::auth::Auth;
use crate::engine::log::Format;
use crate::share::Uploads;

/// Everything `serve` needs to start, checked.
#[derive(Debug)]
pub(crate) struct Settings {
    /// The folder served, as the user named it (for the first line on stdout).
    pub(crate) dir: PathBuf,
    /// The site and the pool.
    pub(crate) config: Config,
    /// A Unix-domain socket path, or else the TCP address.
    pub(crate) unix: Option<PathBuf>,
    /// The TCP address (`--bind`, `--port`).
    pub(crate) addr: SocketAddr,
    /// Backlog, `SO_REUSEPORT`, the Unix socket's mode.
    pub(crate) listen: ListenOptions,
    /// No access log (`-q`).
    pub(crate) quiet: bool,
    /// Print a QR code of the LAN URL (`--qr`).
    pub(crate) qr: bool,
    /// `--tls-cert`: the URLs printed are https://.
    pub(crate) https: bool,
    /// The certificate's public-key hash (curl's `sha256//` form), printed at the start.
    pub(crate) key_hash: Option<String>,
    /// `--tls-self-signed`: the certificate made (its check lines are printed).
    pub(crate) self_signed: Option<PathBuf>,
    /// Lines to print on stderr before serving (`serve: warning: ...`).
    pub(crate) warnings: Vec<String>,
}

impl Settings {
    /// Checks the flags; the error is the one line to print (always a usage error, exit 2).
    /// The checks run in the order a user fixes them: the site, DIR, `--bind`, the
    /// accounts, TLS, uploads.
    pub(crate) fn from_args(args: Args) -> Result<Settings, String> {
        let dir = args
            .dir
            .clone()
            .or(args.directory.clone())
            .unwrap_or_else(|| PathBuf::from("."));
        let config = site(&args, &dir)?;
        // Check DIR before taking the port, so a typo does not leave anything half-started.
        if let Err(e) = std::fs::read_dir(&dir) {
            return Err(format!(
                "cannot serve {}: {}{}",
                dir.display(),
                shared::io_words(&e),
                port_hint(&dir)
            ));
        }
        let ip = bind_ip(&args.bind)?;
        let auth = accounts(&args)?;
        let (tls, self_signed) = tls(&args, ip)?;
        let https = tls.is_some();
        let key_hash = tls.as_ref().and_then(crate::Tls::key_hash);
        let warnings = Vec::from_iter(auth_warning(&auth, args.unix.is_some() || https, ip));
        let uploads = uploads(&args, &dir)?;
        // Until each feature is wired into the request chain, asking for it is an error:
        // an --auth that protected nothing would be worse than none.
        let config = config
            .auth(auth)
            .uploads(uploads)
            .archive(args.archive)
            .compress(args.compress)
            .watch(args.watch);
        let config = match tls {
            Some(tls) => config.tls(tls),
            None => config,
        };
        Ok(Settings {
            dir,
            config,
            unix: args.unix,
            addr: SocketAddr::new(ip, args.port),
            listen: ListenOptions {
                backlog: args.backlog,
                reuse_port: args.reuse_port,
                unix_mode: args.unix_mode,
                // A new connection reaches a worker with its request already there: no read
                // that finds nothing, no registration to wait for it, no second wake-up. A
                // new connection per request at 64 connections: 33 against 41-42 µs of CPU
                // and 5.4 against 8 system calls per request, 14-25% more requests a second
                // (issue 27). Every HTTP client speaks first; one that stays silent (a
                // browser's preconnect) is handed over after a second all the same.
                defer_accept: Some(1),
            },
            quiet: args.quiet,
            qr: args.qr,
            https,
            key_hash,
            self_signed,
            warnings,
        })
    }
}

/// The site served from `dir` as the flags shape it: timeouts, limits, what is shown and
/// how, the headers added, `--allow`, the `--404` page (read now).
fn site(args: &Args, dir: &Path) -> Result<Config, String> {
    let mut config = Config::new(dir)
        .keep_alive_timeout(args.keep_alive_timeout)
        .header_timeout(args.header_timeout)
        .drain_timeout(args.drain_timeout)
        .max_connections(args.max_connections as usize)
        .listing(!args.no_listing)
        .cors(args.cors)
        .spa(args.spa)
        .digest(args.digest)
        .hidden(args.hidden)
        .follow_symlinks(args.follow_symlinks)
        // Test-only (see Config::panic_path): unset in any real deployment.
        .panic_path(std::env::var("SERVE_TEST_PANIC_PATH").ok())
        .log_format(match args.log_format {
            LogFormat::Common => Format::Common,
            LogFormat::Combined => Format::Combined,
            LogFormat::Json => Format::Json,
        });
    if let Some(n) = args.threads {
        config = config.threads(n as usize);
    }
    if let Some(cc) = &args.cache_control {
        config = config.cache_control(cc);
    }
    for (name, value) in &args.headers {
        config = config.header(name, value);
    }
    for block in &args.allow {
        config = config.allow(*block);
    }
    if let Some(page) = &args.not_found {
        config = config.not_found_page(read_page(page)?);
    }
    Ok(config)
}

/// `--auth` and `--auth-file`: the accounts, the file read and checked now.
fn accounts(args: &Args) -> Result<Auth, String> {
    let mut auth = Auth::new("serve");
    for account in &args.auth {
        auth.add(account.clone());
    }
    if let Some(file) = &args.auth_file {
        let text = read_small(file, "--auth-file")?;
        let text = String::from_utf8(text)
            .map_err(|_| format!("--auth-file {}: not UTF-8", file.display()))?;
        auth.add_file(&text)
            .map_err(|e| format!("--auth-file {}: {e}", file.display()))?;
    }
    Ok(auth)
}

/// `--tls-cert` and `--tls-key`, or `--tls-self-signed` (for the names of `ip`, the bind
/// address): the pair loaded, and the certificate made, if one was.
fn tls(args: &Args, ip: IpAddr) -> Result<(Option<crate::Tls>, Option<PathBuf>), String> {
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let pass = match &args.tls_password_file {
            Some(file) => Some(
                Passphrase::from_file(file)
                    .map_err(|e| format!("--tls-password-file {}: {e}", file.display()))?,
            ),
            None => None,
        };
        let tls =
            crate::Tls::load(cert, key, pass).map_err(|e| format!("--tls-cert/--tls-key: {e}"))?;
        return Ok((Some(tls), None));
    }
    if !args.tls_self_signed {
        return Ok((None, None));
    }
    let dir = super::self_signed::state_dir()
        .ok_or("--tls-self-signed: no folder to keep its key in (set HOME or XDG_STATE_HOME)")?;
    // The names: loopback, and the addresses the banner prints.
    let ips = if ip.is_unspecified() {
        super::banner::interfaces()
    } else {
        vec![ip]
    };
    let names = super::self_signed::names(&ips);
    let (cert, key) =
        super::self_signed::ensure(&dir, &names).map_err(|e| format!("--tls-self-signed: {e}"))?;
    let tls = crate::Tls::load(&cert, &key, None).map_err(|e| format!("--tls-self-signed: {e}"))?;
    Ok((Some(tls), Some(cert)))
}

/// `--upload` and its kin: what uploads may do, `--upload-dir` checked under `dir`.
fn uploads(args: &Args, dir: &Path) -> Result<Option<Uploads>, String> {
    if !args.upload {
        return Ok(None);
    }
    Ok(Some(Uploads {
        overwrite: args.overwrite,
        mkdir: args.upload_mkdir,
        subtree: match &args.upload_dir {
            Some(sub) => Some(upload_dir(dir, sub, args.upload_mkdir)?),
            None => None,
        },
        max_bytes: args.max_upload,
    }))
}

/// Reads the --404 page: a regular file of at most 1 MiB.
fn read_page(path: &Path) -> Result<Vec<u8>, String> {
    read_small(path, "--404")
}

/// Reads a file named by `flag`: a regular file of at most 1 MiB.
fn read_small(path: &Path, flag: &str) -> Result<Vec<u8>, String> {
    const MAX: u64 = 1024 * 1024;
    let fail = |why: String| format!("{flag} {}: {why}", path.display());
    let meta = std::fs::metadata(path).map_err(|e| fail(shared::io_words(&e)))?;
    if !meta.is_file() {
        return Err(fail("not a regular file".into()));
    }
    if meta.len() > MAX {
        return Err(fail("larger than 1 MiB".into()));
    }
    std::fs::read(path).map_err(|e| fail(shared::io_words(&e)))
}

/// `--auth` on a TCP address other machines can reach without TLS: the password travels in
/// the clear. `private`: a Unix socket, or HTTPS.
fn auth_warning(auth: &Auth, private: bool, ip: IpAddr) -> Option<String> {
    (!auth.is_empty() && !private && !ip.is_loopback()).then(|| {
        format!(
            "warning: --auth on {ip}: without TLS the password crosses the network in the \
             clear; give serve --tls-cert and --tls-key"
        )
    })
}

/// `serve 8000` where 8000 is no folder: the user meant a port.
fn port_hint(dir: &Path) -> String {
    match dir.to_str() {
        Some(s) if !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit()) => {
            format!(" (to listen on port {s}: serve -p {s})")
        }
        _ => String::new(),
    }
}

/// `--upload-dir`: a folder of DIR, relative, without `..`, that exists (or, with
/// `--upload-mkdir`, is created now) and really is under DIR, links resolved. Returns it
/// relative to the canonical DIR.
fn upload_dir(dir: &Path, sub: &Path, mkdir: bool) -> Result<PathBuf, String> {
    use std::path::Component;
    let fail = |why: &str| format!("--upload-dir {}: {why}", sub.display());
    if sub
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(fail("must be a folder inside DIR, without .."));
    }
    let root = std::fs::canonicalize(dir).map_err(|e| fail(&shared::io_words(&e)))?;
    let wanted = root.join(sub);
    if mkdir {
        std::fs::create_dir_all(&wanted).map_err(|e| fail(&shared::io_words(&e)))?;
    }
    let real = std::fs::canonicalize(&wanted).map_err(|e| fail(&shared::io_words(&e)))?;
    if !real.is_dir() {
        return Err(fail("not a folder"));
    }
    match real.strip_prefix(&root) {
        Ok(rel) => Ok(rel.to_path_buf()),
        Err(_) => Err(fail("leads outside DIR")),
    }
}

/// `--bind`: an IP literal (brackets allowed around IPv6), or a name resolved once, here.
fn bind_ip(bind: &str) -> Result<IpAddr, String> {
    let trimmed = bind.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = trimmed.parse() {
        return Ok(ip);
    }
    let host = match shared::Target::parse(bind) {
        Ok(shared::Target {
            endpoint: shared::Endpoint::Tcp { host, .. },
            ..
        }) => host,
        _ => {
            return Err(format!(
                "--bind: '{bind}' is not an IP address or host name"
            ));
        }
    };
    let addrs = shared::Resolver::new()
        .resolve(&host, 0, Duration::from_secs(5))
        .map_err(|e| format!("--bind: {e}"))?;
    Ok(addrs[0].ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_takes_literals_with_or_without_brackets() {
        for (bind, want) in [
            ("127.0.0.1", "127.0.0.1"),
            ("::", "::"),
            ("[::1]", "::1"),
            ("localhost", ""),
        ] {
            match bind_ip(bind) {
                Ok(ip) if want.is_empty() => assert!(ip.is_loopback(), "{bind} -> {ip}"),
                Ok(ip) => assert_eq!(ip.to_string(), want, "{bind}"),
                Err(e) => panic!("{bind}: {e}"),
            }
        }
        assert!(bind_ip("not a host!").is_err());
    }

    #[test]
    fn a_number_for_dir_hints_at_the_port() {
        assert_eq!(
            port_hint(Path::new("8000")),
            " (to listen on port 8000: serve -p 8000)"
        );
        assert_eq!(port_hint(Path::new("site")), "");
        assert_eq!(port_hint(Path::new("123456")), "");
    }

    #[test]
    fn upload_dir_stays_inside() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        std::fs::create_dir_all(root.join("in/box")).unwrap();
        std::os::unix::fs::symlink(t.path(), root.join("out")).unwrap();
        assert_eq!(
            upload_dir(&root, Path::new("in/box"), false).unwrap(),
            Path::new("in/box")
        );
        assert_eq!(
            upload_dir(&root, Path::new("./in"), false).unwrap(),
            Path::new("in")
        );
        assert!(upload_dir(&root, Path::new("new"), false).is_err());
        assert_eq!(
            upload_dir(&root, Path::new("new"), true).unwrap(),
            Path::new("new")
        );
        for bad in ["../x", "/etc", "out", "in/../.."] {
            assert!(upload_dir(&root, Path::new(bad), false).is_err(), "{bad}");
        }
    }

    fn settings(args: &[&str]) -> Result<Settings, String> {
        Settings::from_args(<Args as clap::Parser>::try_parse_from(args).unwrap())
    }

    #[test]
    fn auth_warns_off_loopback_and_reads_its_file() {
        let mut auth = Auth::new("serve");
        let any: IpAddr = "0.0.0.0".parse().unwrap();
        let lo: IpAddr = "::1".parse().unwrap();
        assert_eq!(auth_warning(&auth, false, any), None);
        auth.add(crate::auth::Account::parse("a:b").unwrap());
        assert!(auth_warning(&auth, false, any).unwrap().contains("TLS"));
        assert_eq!(auth_warning(&auth, false, lo), None);
        assert_eq!(auth_warning(&auth, true, any), None);

        let t = tempfile::tempdir().unwrap();
        let dir = t.path().to_str().unwrap();
        let file = t.path().join("users");
        std::fs::write(&file, "# team\nann:one\nbob\n").unwrap();
        let e = settings(&["serve", dir, "--auth-file", file.to_str().unwrap()]).unwrap_err();
        assert!(e.contains("line 3"), "{e}");
        let s = settings(&["serve", dir]).unwrap();
        let share = s.config.share();
        assert!(
            share.auth.is_none() && share.uploads.is_none() && !share.archive && !share.compress
        );
    }
}
