//! curl's options (from `curl --help all`, curl 7.88), so that one fetch does not have yet
//! is refused with a reason, never answered with "unexpected argument". Checked before clap
//! parses the line: options fetch has are left to clap.

use std::ffi::OsString;

use crate::error::Error;

/// Every curl option: its short letter, long name, and whether it takes a value.
const CURL_OPTIONS: &[(Option<char>, &str, bool)] = &[
    (None, "abstract-unix-socket", true),
    (None, "alt-svc", true),
    (None, "anyauth", false),
    (Some('a'), "append", false),
    (None, "aws-sigv4", true),
    (None, "basic", false),
    (None, "cacert", true),
    (None, "capath", true),
    (Some('E'), "cert", true),
    (None, "cert-status", false),
    (None, "cert-type", true),
    (None, "ciphers", true),
    (None, "compressed", false),
    (None, "compressed-ssh", false),
    (Some('K'), "config", true),
    (None, "connect-timeout", true),
    (None, "connect-to", true),
    (Some('C'), "continue-at", true),
    (Some('b'), "cookie", true),
    (Some('c'), "cookie-jar", true),
    (None, "create-dirs", false),
    (None, "create-file-mode", true),
    (None, "crlf", false),
    (None, "crlfile", true),
    (None, "curves", true),
    (Some('d'), "data", true),
    (None, "data-ascii", true),
    (None, "data-binary", true),
    (None, "data-raw", true),
    (None, "data-urlencode", true),
    (None, "delegation", true),
    (None, "digest", false),
    (Some('q'), "disable", false),
    (None, "disable-eprt", false),
    (None, "disable-epsv", false),
    (None, "disallow-username-in-url", false),
    (None, "dns-interface", true),
    (None, "dns-ipv4-addr", true),
    (None, "dns-ipv6-addr", true),
    (None, "dns-servers", true),
    (None, "doh-cert-status", false),
    (None, "doh-insecure", false),
    (None, "doh-url", true),
    (Some('D'), "dump-header", true),
    (None, "egd-file", true),
    (None, "engine", true),
    (None, "etag-compare", true),
    (None, "etag-save", true),
    (None, "expect100-timeout", true),
    (Some('f'), "fail", false),
    (None, "fail-early", false),
    (None, "fail-with-body", false),
    (None, "false-start", false),
    (Some('F'), "form", true),
    (None, "form-escape", false),
    (None, "form-string", true),
    (None, "ftp-account", true),
    (None, "ftp-alternative-to-user", true),
    (None, "ftp-create-dirs", false),
    (None, "ftp-method", true),
    (None, "ftp-pasv", false),
    (Some('P'), "ftp-port", true),
    (None, "ftp-pret", false),
    (None, "ftp-skip-pasv-ip", false),
    (None, "ftp-ssl-ccc", false),
    (None, "ftp-ssl-ccc-mode", true),
    (None, "ftp-ssl-control", false),
    (Some('G'), "get", false),
    (Some('g'), "globoff", false),
    (None, "happy-eyeballs-timeout-ms", true),
    (None, "haproxy-protocol", false),
    (Some('I'), "head", false),
    (Some('H'), "header", true),
    (Some('h'), "help", true),
    (None, "hostpubmd5", true),
    (None, "hostpubsha256", true),
    (None, "hsts", true),
    (None, "http0.9", false),
    (Some('0'), "http1.0", false),
    (None, "http1.1", false),
    (None, "http2", false),
    (None, "http2-prior-knowledge", false),
    (None, "http3", false),
    (None, "http3-only", false),
    (None, "ignore-content-length", false),
    (Some('i'), "include", false),
    (Some('k'), "insecure", false),
    (None, "interface", true),
    (Some('4'), "ipv4", false),
    (Some('6'), "ipv6", false),
    (None, "json", true),
    (Some('j'), "junk-session-cookies", false),
    (None, "keepalive-time", true),
    (None, "key", true),
    (None, "key-type", true),
    (None, "krb", true),
    (None, "libcurl", true),
    (None, "limit-rate", true),
    (Some('l'), "list-only", false),
    (None, "local-port", true),
    (Some('L'), "location", false),
    (None, "location-trusted", false),
    (None, "login-options", true),
    (None, "mail-auth", true),
    (None, "mail-from", true),
    (None, "mail-rcpt", true),
    (None, "mail-rcpt-allowfails", false),
    (Some('M'), "manual", false),
    (None, "max-filesize", true),
    (None, "max-redirs", true),
    (Some('m'), "max-time", true),
    (None, "metalink", false),
    (None, "negotiate", false),
    (Some('n'), "netrc", false),
    (None, "netrc-file", true),
    (None, "netrc-optional", false),
    (Some(':'), "next", false),
    (None, "no-alpn", false),
    (Some('N'), "no-buffer", false),
    (None, "no-clobber", false),
    (None, "no-keepalive", false),
    (None, "no-npn", false),
    (None, "no-progress-meter", false),
    (None, "no-sessionid", false),
    (None, "noproxy", true),
    (None, "ntlm", false),
    (None, "ntlm-wb", false),
    (None, "oauth2-bearer", true),
    (Some('o'), "output", true),
    (None, "output-dir", true),
    (Some('Z'), "parallel", false),
    (None, "parallel-immediate", false),
    (None, "parallel-max", true),
    (None, "pass", true),
    (None, "path-as-is", false),
    (None, "pinnedpubkey", true),
    (None, "post301", false),
    (None, "post302", false),
    (None, "post303", false),
    (None, "preproxy", true),
    (Some('#'), "progress-bar", false),
    (None, "proto", true),
    (None, "proto-default", true),
    (None, "proto-redir", true),
    (Some('x'), "proxy", true),
    (None, "proxy-anyauth", false),
    (None, "proxy-basic", false),
    (None, "proxy-cacert", true),
    (None, "proxy-capath", true),
    (None, "proxy-cert", true),
    (None, "proxy-cert-type", true),
    (None, "proxy-ciphers", true),
    (None, "proxy-crlfile", true),
    (None, "proxy-digest", false),
    (None, "proxy-header", true),
    (None, "proxy-insecure", false),
    (None, "proxy-key", true),
    (None, "proxy-key-type", true),
    (None, "proxy-negotiate", false),
    (None, "proxy-ntlm", false),
    (None, "proxy-pass", true),
    (None, "proxy-pinnedpubkey", true),
    (None, "proxy-service-name", true),
    (None, "proxy-ssl-allow-beast", false),
    (None, "proxy-ssl-auto-client-cert", false),
    (None, "proxy-tls13-ciphers", true),
    (None, "proxy-tlsauthtype", true),
    (None, "proxy-tlspassword", true),
    (None, "proxy-tlsuser", true),
    (None, "proxy-tlsv1", false),
    (Some('U'), "proxy-user", true),
    (None, "proxy1.0", true),
    (Some('p'), "proxytunnel", false),
    (None, "pubkey", true),
    (Some('Q'), "quote", true),
    (None, "random-file", true),
    (Some('r'), "range", true),
    (None, "rate", true),
    (None, "raw", false),
    (Some('e'), "referer", true),
    (Some('J'), "remote-header-name", false),
    (Some('O'), "remote-name", false),
    (None, "remote-name-all", false),
    (Some('R'), "remote-time", false),
    (None, "remove-on-error", false),
    (Some('X'), "request", true),
    (None, "request-target", true),
    (None, "resolve", true),
    (None, "retry", true),
    (None, "retry-all-errors", false),
    (None, "retry-connrefused", false),
    (None, "retry-delay", true),
    (None, "retry-max-time", true),
    (None, "sasl-authzid", true),
    (None, "sasl-ir", false),
    (None, "service-name", true),
    (Some('S'), "show-error", false),
    (Some('s'), "silent", false),
    (None, "socks4", true),
    (None, "socks4a", true),
    (None, "socks5", true),
    (None, "socks5-basic", false),
    (None, "socks5-gssapi", false),
    (None, "socks5-gssapi-nec", false),
    (None, "socks5-gssapi-service", true),
    (None, "socks5-hostname", true),
    (Some('Y'), "speed-limit", true),
    (Some('y'), "speed-time", true),
    (None, "ssl", false),
    (None, "ssl-allow-beast", false),
    (None, "ssl-auto-client-cert", false),
    (None, "ssl-no-revoke", false),
    (None, "ssl-reqd", false),
    (None, "ssl-revoke-best-effort", false),
    (Some('2'), "sslv2", false),
    (Some('3'), "sslv3", false),
    (None, "stderr", true),
    (None, "styled-output", false),
    (None, "suppress-connect-headers", false),
    (None, "tcp-fastopen", false),
    (None, "tcp-nodelay", false),
    (Some('t'), "telnet-option", true),
    (None, "tftp-blksize", true),
    (None, "tftp-no-options", false),
    (Some('z'), "time-cond", true),
    (None, "tls-max", true),
    (None, "tls13-ciphers", true),
    (None, "tlsauthtype", true),
    (None, "tlspassword", true),
    (None, "tlsuser", true),
    (Some('1'), "tlsv1", false),
    (None, "tlsv1.0", false),
    (None, "tlsv1.1", false),
    (None, "tlsv1.2", false),
    (None, "tlsv1.3", false),
    (None, "tr-encoding", false),
    (None, "trace", true),
    (None, "trace-ascii", true),
    (None, "trace-time", false),
    (None, "unix-socket", true),
    (Some('T'), "upload-file", true),
    (None, "url", true),
    (None, "url-query", true),
    (Some('B'), "use-ascii", false),
    (Some('u'), "user", true),
    (Some('A'), "user-agent", true),
    (Some('v'), "verbose", false),
    (Some('V'), "version", false),
    (Some('w'), "write-out", true),
    (None, "xattr", false),
];

/// Why fetch has no such option: each refusal says what the option needs that HTTP/1.x
/// over TCP and rustls, from getaddrinfo, does not give (README, "curl's options"). The
/// name's own entry in `EXACT`, else the first of `RULES` whose text is part of the name,
/// else TLS.
fn reason(long: &str) -> &'static str {
    match EXACT.binary_search_by(|(name, _)| name.cmp(&long)) {
        Ok(i) => EXACT[i].1,
        Err(_) => RULES
            .iter()
            .find(|(part, _)| long.contains(part))
            .map_or(TLS, |(_, why)| why),
    }
}

/// Options with a reason of their own, where a rule of `RULES` would say something less
/// precise: sorted by name, for `reason`'s binary search.
const EXACT: &[(&str, &str)] = &[
    (
        "abstract-unix-socket",
        "an abstract socket has no path: give a filesystem socket to --unix-socket",
    ),
    (
        "alt-svc",
        "Alt-Svc only ever leads to HTTP/2 or HTTP/3, and fetch speaks HTTP/1.x",
    ),
    (
        "append",
        "it is for FTP and SFTP uploads: HTTP has no append",
    ),
    (
        "aws-sigv4",
        "AWS request signing is not in fetch; sign the request yourself and pass -H",
    ),
    (
        "cert-status",
        "rustls does not check a stapled OCSP response, so fetch cannot ask for the \
         certificate's status (--crlfile checks revocation against a CRL)",
    ),
    ("compressed-ssh", SSH),
    (
        "crlf",
        "it is for FTP and SMTP, protocols fetch does not speak",
    ),
    ("delegation", KERBEROS),
    ("dns-interface", DNS),
    ("dns-ipv4-addr", DNS),
    ("dns-ipv6-addr", DNS),
    ("dns-servers", DNS),
    ("egd-file", SEED),
    (
        "engine",
        "OpenSSL engines do not exist in rustls, fetch's TLS",
    ),
    (
        "false-start",
        "TLS False Start is not in rustls (TLS 1.3 gives the same round trip)",
    ),
    (
        "hsts",
        "fetch keeps no HSTS cache: name https:// yourself (or follow the site's redirect \
         with -L)",
    ),
    ("krb", KERBEROS),
    (
        "libcurl",
        "fetch is not built on libcurl, so there is no libcurl program to write",
    ),
    (
        "manual",
        "fetch has no built-in manual: see fetch --help, or the man page that cargo xtask \
         dist writes",
    ),
    (
        "metalink",
        "curl itself dropped Metalink (7.78), and fetch follows",
    ),
    ("negotiate", KERBEROS),
    (
        "no-alpn",
        "fetch always offers ALPN http/1.1, as servers expect of an HTTP/1.1 client",
    ),
    (
        "no-npn",
        "NPN is gone from TLS and from rustls: fetch never offers it",
    ),
    ("ntlm", NTLM),
    ("ntlm-wb", NTLM),
    ("proxy-negotiate", KERBEROS),
    ("proxy-ntlm", NTLM),
    ("proxy-service-name", KERBEROS),
    ("random-file", SEED),
    ("service-name", KERBEROS),
    ("socks5-gssapi", KERBEROS),
    ("socks5-gssapi-nec", KERBEROS),
    ("socks5-gssapi-service", KERBEROS),
    ("ssl", STARTTLS),
    (
        "ssl-allow-beast",
        "BEAST is an attack on TLS 1.0, and rustls speaks TLS 1.2 and 1.3 only",
    ),
    (
        "ssl-auto-client-cert",
        "it takes a client certificate from Windows' store (Schannel), which fetch does \
         not use: give it with --cert",
    ),
    ("ssl-reqd", STARTTLS),
    ("sslv2", OLD_TLS),
    ("sslv3", OLD_TLS),
    ("tlsauthtype", SRP),
    ("tlspassword", SRP),
    ("tlsuser", SRP),
];

/// (part of the name, the reason), in order: the first that matches.
const RULES: &[(&str, &str)] = &[
    ("http2", HTTP1),
    ("http3", HTTP1),
    (
        "proxy-",
        "it is for an HTTPS proxy (TLS to the proxy itself), which fetch does not speak: an \
         http:// proxy carries https:// through a CONNECT tunnel",
    ),
    ("socks", SOCKS),
    ("preproxy", SOCKS),
    (
        "doh-",
        "fetch resolves with the system's getaddrinfo, not DNS over HTTPS (use --resolve)",
    ),
    ("ftp", OTHER),
    ("disable-ep", OTHER),
    ("list-only", OTHER),
    ("use-ascii", OTHER),
    ("quote", OTHER),
    ("mail-", OTHER),
    ("sasl", OTHER),
    ("login-options", OTHER),
    ("telnet", OTHER),
    ("tftp", OTHER),
    ("pubkey", SSH),
    ("hostpub", SSH),
    ("oauth2", OTHER),
];

// The reasons that several options share.
const DNS: &str = "it picks DNS servers for c-ares, and fetch resolves with the system's \
                   getaddrinfo, which has no such setting (use --resolve, or /etc/hosts)";
const NTLM: &str = "NTLM is a Windows-domain scheme (MD4 and DES over a handshake bound to one \
                    connection) that fetch does not implement";
const KERBEROS: &str = "it needs Kerberos (GSS-API), which fetch does not link";
const OLD_TLS: &str = "SSLv2 and SSLv3 are broken, and rustls speaks TLS 1.2 and 1.3 only";
const STARTTLS: &str =
    "it asks for STARTTLS in FTP, SMTP, IMAP or POP3, protocols fetch does not speak";
const SRP: &str = "TLS-SRP (a password instead of a certificate) is not in rustls";
const SEED: &str =
    "rustls takes its randomness from the operating system: there is nothing to seed";
const SSH: &str = "it is for SSH (SCP, SFTP), a protocol fetch does not speak";
const HTTP1: &str = "fetch speaks HTTP/1.x only";
const SOCKS: &str = "SOCKS proxies are not supported: fetch speaks to HTTP proxies only";
const OTHER: &str =
    "it is for FTP, SMTP, IMAP, POP3, TFTP or TELNET, protocols fetch does not speak";
/// Every other option: a TLS setting.
const TLS: &str = "fetch's TLS (rustls) has no such setting";

/// What fetch itself defines: long names and short letters, each with whether it takes a
/// value (so that a value is not taken for an option).
pub(crate) struct Known {
    long: Vec<(String, bool)>,
    short: Vec<(char, bool)>,
}

impl Known {
    /// The options of `cmd` (fetch's clap command), with `--help` and `--version`.
    pub(crate) fn of(cmd: &clap::Command) -> Known {
        let mut known = Known {
            long: vec![("help".into(), false), ("version".into(), false)],
            short: vec![('h', false), ('V', false)],
        };
        for arg in cmd.get_arguments() {
            let takes = arg
                .get_num_args()
                .map_or(arg.get_action().takes_values(), |n| n.max_values() > 0);
            if let Some(l) = arg.get_long() {
                known.long.push((l.to_string(), takes));
            }
            if let Some(s) = arg.get_short() {
                known.short.push((s, takes));
            }
        }
        known
    }
}

impl Known {
    /// Whether option `name` (`--long` or `-s`) takes a value: `None` when neither fetch
    /// nor curl has it.
    pub(crate) fn takes_value(&self, name: &str) -> Option<bool> {
        if let Some(long) = name.strip_prefix("--") {
            if let Some((_, takes)) = self.long.iter().find(|(l, _)| l == long) {
                return Some(*takes);
            }
            return CURL_OPTIONS
                .iter()
                .find(|(_, l, _)| *l == long)
                .map(|(_, _, t)| *t);
        }
        let c = name.strip_prefix('-')?.chars().next()?;
        if let Some((_, takes)) = self.short.iter().find(|(s, _)| *s == c) {
            return Some(*takes);
        }
        CURL_OPTIONS
            .iter()
            .find(|(s, _, _)| *s == Some(c))
            .map(|(_, _, t)| *t)
    }
}

/// Refuses (exit 2, one line) the first curl option on `args` that fetch does not have.
/// Stops at `--`; skips the values of options that take one.
pub(crate) fn refuse_missing(args: &[OsString], known: &Known) -> Result<(), Error> {
    let mut skip_value = false;
    for arg in args.iter().skip(1) {
        if std::mem::take(&mut skip_value) {
            continue;
        }
        let Some(arg) = arg.to_str() else { continue };
        if arg == "--" {
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, _)) => (n, true),
                None => (long, false),
            };
            if let Some((_, takes)) = known.long.iter().find(|(l, _)| l == name) {
                skip_value = *takes && !inline;
            } else if CURL_OPTIONS.iter().any(|(_, l, _)| *l == name) {
                return Err(refusal(&format!("--{name}"), name));
            }
            continue;
        }
        let Some(cluster) = arg.strip_prefix('-').filter(|c| !c.is_empty()) else {
            continue;
        };
        for (i, c) in cluster.char_indices() {
            if let Some((_, takes)) = known.short.iter().find(|(s, _)| *s == c) {
                if *takes {
                    // The rest of the cluster is the value, or else the next argument.
                    skip_value = i + c.len_utf8() == cluster.len();
                    break;
                }
            } else if let Some((_, long, _)) = CURL_OPTIONS.iter().find(|(s, _, _)| *s == Some(c)) {
                return Err(refusal(&format!("-{c} (--{long})"), long));
            } else {
                break;
            }
        }
    }
    Ok(())
}

fn refusal(shown: &str, long: &str) -> Error {
    Error::Usage(format!(
        "{shown} is a curl option fetch does not have: {}",
        reason(long)
    ))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::cli::Args;

    fn check(line: &[&str]) -> Result<(), Error> {
        let args: Vec<OsString> = line.iter().map(OsString::from).collect();
        refuse_missing(&args, &Known::of(&Args::command()))
    }

    #[test]
    fn curl_options_fetch_lacks_are_refused_with_a_reason() {
        let refused = [
            (
                &["fetch", "-j", "-M", "x"][..],
                "-M (--manual) is a curl option",
            ),
            (&["fetch", "--dns-servers", "e", "x"][..], "getaddrinfo"),
            (&["fetch", "-fsSLM", "x"][..], "-M (--manual)"),
            (&["fetch", "--cert-status", "x"][..], "OCSP"),
            (&["fetch", "--sslv3", "x"][..], "TLS 1.2 and 1.3 only"),
            (&["fetch", "--http2", "x"][..], "HTTP/1.x only"),
            (&["fetch", "--ftp-pasv", "x"][..], "does not speak"),
            (&["fetch", "--ntlm", "x"][..], "NTLM"),
            (&["fetch", "--proxy-cacert", "x", "x"][..], "HTTPS proxy"),
        ];
        for (line, want) in refused {
            let err = check(line).unwrap_err().to_string();
            assert!(err.contains(want), "{line:?}: {err}");
        }
        let fine: &[&[&str]] = &[
            &["fetch", "-fsSL", "x"],
            &["fetch", "-H", "-M: not an option", "x"],
            &["fetch", "-o-M", "x"],
            &["fetch", "-d", "--manual", "x"],
            &["fetch", "--data=--manual", "x"],
            &["fetch", "--", "--manual"],
            &["fetch", "--bogus", "x"],
        ];
        for line in fine {
            assert!(check(line).is_ok(), "{line:?}");
        }
    }

    #[test]
    fn the_exact_names_are_sorted_for_the_binary_search_and_all_curls() {
        for pair in EXACT.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
        }
        for (name, _) in EXACT {
            assert!(CURL_OPTIONS.iter().any(|(_, l, _)| l == name), "{name}");
        }
        for (part, _) in RULES {
            assert!(
                CURL_OPTIONS.iter().any(|(_, l, _)| l.contains(part)),
                "{part}"
            );
        }
    }

    #[test]
    fn an_exact_name_comes_before_the_rules_and_tls_after_them() {
        assert_eq!(reason("proxy-ntlm"), NTLM);
        assert_eq!(reason("socks5-gssapi"), KERBEROS);
        assert_eq!(reason("ssl"), STARTTLS);
        assert_eq!(reason("egd-file"), SEED);
        assert_eq!(reason("socks5-hostname"), SOCKS);
        assert_eq!(reason("proxy-pubkey"), reason("proxy-cacert"));
        assert_eq!(reason("ftp-pasv"), OTHER);
        assert_eq!(reason("http2-prior-knowledge"), HTTP1);
        assert_eq!(reason("ssl-no-revoke"), TLS);
        assert_eq!(reason("curves"), TLS);
    }
}
