//! `--proto` and `--proto-redir`: curl's protocol lists, read only for what fetch speaks,
//! http and https. `=LIST` sets, `+P` (or `P`) adds, `-P` removes; `all` is every protocol.
//! An unknown name is a warning, as in curl.

use std::io::Write;

/// Whether `scheme` (`http` or `https`) is left in the set after `spec`, starting from
/// `start` (whether it is in the set before: curl starts `--proto` from all protocols,
/// `--proto-redir` from http, https, ftp and ftps).
pub(crate) fn allows(spec: &str, scheme: &str, start: bool, silent: bool) -> bool {
    let mut http = start;
    for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (op, name) = match item.as_bytes()[0] {
            b'=' | b'+' | b'-' => (item.as_bytes()[0], &item[1..]),
            _ => (b'+', item),
        };
        let name = name.to_ascii_lowercase();
        let hit = match name.as_str() {
            "all" => true,
            "http" | "https" => name == scheme,
            // curl's other protocols: they change nothing for http.
            "ftp" | "ftps" | "file" | "scp" | "sftp" | "telnet" | "ldap" | "ldaps" | "dict"
            | "tftp" | "imap" | "imaps" | "pop3" | "pop3s" | "smtp" | "smtps" | "rtsp"
            | "gopher" | "gophers" | "smb" | "smbs" | "rtmp" | "rtmpt" | "rtmpe" | "rtmpte"
            | "rtmps" | "rtmpts" | "mqtt" | "ws" | "wss" => false,
            other => {
                if !silent {
                    let _ = writeln!(
                        std::io::stderr(),
                        "fetch: warning: unrecognized protocol '{other}'"
                    );
                }
                continue;
            }
        };
        match op {
            b'=' => http = hit,
            b'-' if hit => http = false,
            b'+' if hit => http = true,
            _ => {}
        }
    }
    http
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_lists_as_curl_reads_them() {
        let cases = [
            ("=https", true, false),
            ("=http", true, true),
            ("=https,http", true, true),
            ("-all,http", true, true),
            ("all,-http", true, false),
            ("-all,+https", true, false),
            ("-http", true, false),
            ("http", false, true),
            ("bogus", true, true),
            ("=http,https", true, true),
        ];
        for (spec, start, want) in cases {
            assert_eq!(allows(spec, "http", start, true), want, "{spec}");
        }
        for (spec, want) in [("=https", true), ("=http", false), ("-https", false)] {
            assert_eq!(allows(spec, "https", true, true), want, "{spec}");
        }
    }
}
