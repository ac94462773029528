//! What `serve` prints when it starts, after the first line (`serving DIR at URL`): with a
//! wildcard bind (`--bind 0.0.0.0` or `::`), the URL of every interface, so another device
//! on the network knows where to go; with `--qr`, that URL as a terminal QR code.

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};

/// The URL for an address, IPv6 in brackets; `scheme` is `http` or `https`.
fn url(scheme: &str, ip: IpAddr, port: u16) -> String {
    format!("{scheme}://{}/", SocketAddr::new(ip, port))
}

/// The URLs to show for a server bound to `bound`, given the machine's interface
/// addresses: for a wildcard bind, one per address of the bound family (both families for
/// `::`), link-local IPv6 left out (it needs a zone no browser takes); otherwise none
/// beyond the first line's.
pub(crate) fn lan_urls(scheme: &str, bound: SocketAddr, interfaces: &[IpAddr]) -> Vec<String> {
    if !bound.ip().is_unspecified() {
        return Vec::new();
    }
    let mut urls: Vec<String> = interfaces
        .iter()
        .filter(|ip| bound.is_ipv6() || ip.is_ipv4())
        .filter(|ip| match ip {
            IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
            IpAddr::V4(_) => true,
        })
        .map(|&ip| url(scheme, ip, bound.port()))
        .collect();
    urls.sort();
    urls.dedup();
    urls
}

/// The URL worth a QR code: the first non-loopback IPv4 URL of a wildcard bind, else the
/// first non-loopback one, else the bound address's own.
pub(crate) fn qr_url(scheme: &str, bound: SocketAddr, interfaces: &[IpAddr]) -> String {
    let lan = |v4: bool| {
        interfaces
            .iter()
            .filter(|ip| !ip.is_loopback() && (!v4 || ip.is_ipv4()))
            .find(|ip| lan_urls(scheme, bound, &[**ip]).len() == 1)
            .map(|&ip| url(scheme, ip, bound.port()))
    };
    lan(true)
        .or_else(|| lan(false))
        .unwrap_or_else(|| url(scheme, bound.ip(), bound.port()))
}

/// The machine's interface addresses (none if they cannot be read).
pub(crate) fn interfaces() -> Vec<IpAddr> {
    if_addrs::get_if_addrs()
        .map(|list| list.into_iter().map(|i| i.ip()).collect())
        .unwrap_or_default()
}

/// Prints the extra banner lines for `bound` (and the QR code if asked) to `out`.
pub(crate) fn print(
    out: &mut dyn Write,
    scheme: &str,
    bound: SocketAddr,
    qr: bool,
) -> io::Result<()> {
    let interfaces = if bound.ip().is_unspecified() || qr {
        interfaces()
    } else {
        Vec::new()
    };
    for url in lan_urls(scheme, bound, &interfaces) {
        writeln!(out, "  also at {url}")?;
    }
    if qr {
        let url = qr_url(scheme, bound, &interfaces);
        writeln!(out, "{}", qr_text(&url))?;
        let note = if url.contains("127.0.0.1") || url.contains("[::1]") {
            " (this machine only: --bind 0.0.0.0 shares it on the network)"
        } else {
            ""
        };
        writeln!(out, "  {url}{note}")?;
    }
    Ok(())
}

/// A QR code of `text` drawn with half blocks, two rows a line, light on dark so it scans
/// on a dark terminal (the usual one), with its quiet zone.
pub(crate) fn qr_text(text: &str) -> String {
    use qrcode::render::unicode::Dense1x2;
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<Dense1x2>()
            .dark_color(Dense1x2::Light)
            .light_color(Dense1x2::Dark)
            .quiet_zone(true)
            .build(),
        // A URL is far below a QR code's capacity; say so rather than fail if not.
        Err(e) => format!("  (no QR code: {e})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn wildcard_binds_list_every_interface() {
        let here = ips(&[
            "127.0.0.1",
            "192.168.1.20",
            "10.0.0.5",
            "::1",
            "fe80::1",
            "2001:db8::7",
        ]);
        let v4: SocketAddr = "0.0.0.0:8000".parse().unwrap();
        assert_eq!(
            lan_urls("http", v4, &here),
            [
                "http://10.0.0.5:8000/",
                "http://127.0.0.1:8000/",
                "http://192.168.1.20:8000/"
            ]
        );
        let v6: SocketAddr = "[::]:8000".parse().unwrap();
        let all = lan_urls("http", v6, &here);
        assert!(
            all.contains(&"http://[2001:db8::7]:8000/".to_string()),
            "{all:?}"
        );
        assert!(
            all.contains(&"http://192.168.1.20:8000/".to_string()),
            "{all:?}"
        );
        assert!(!all.iter().any(|u| u.contains("fe80")), "{all:?}");
        let one: SocketAddr = "192.168.1.20:8000".parse().unwrap();
        assert!(lan_urls("http", one, &here).is_empty());
    }

    #[test]
    fn the_qr_code_points_at_the_lan() {
        let here = ips(&["127.0.0.1", "::1", "2001:db8::7", "192.168.1.20"]);
        let v4: SocketAddr = "0.0.0.0:8000".parse().unwrap();
        assert_eq!(qr_url("http", v4, &here), "http://192.168.1.20:8000/");
        let v6: SocketAddr = "[::]:8000".parse().unwrap();
        assert_eq!(
            qr_url("http", v6, &ips(&["::1", "2001:db8::7"])),
            "http://[2001:db8::7]:8000/"
        );
        let lo: SocketAddr = "127.0.0.1:8000".parse().unwrap();
        assert_eq!(qr_url("https", lo, &here), "https://127.0.0.1:8000/");
        let code = qr_text("http://192.168.1.20:8000/");
        let lines: Vec<&str> = code.lines().collect();
        // Version 2 (25 modules) plus a 4-module quiet zone each side: 33 columns, 17 lines.
        assert!(
            lines.len() >= 15
                && lines
                    .iter()
                    .all(|l| l.chars().count() == lines[0].chars().count())
        );
    }
}
