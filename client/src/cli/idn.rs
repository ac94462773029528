//! International host names, as curl sends them: each label with letters outside ASCII
//! lowercased and written in punycode (`xn--`, RFC 3492), before the target is parsed.

/// `url` with its host converted when it is not ASCII; anything else as it stands.
pub(crate) fn to_ascii(url: &str) -> String {
    if url.is_ascii() {
        return url.to_string();
    }
    let start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[start..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => authority.split_at(i + 1),
        None => ("", authority),
    };
    let (host, port) = match hostport.rfind(':') {
        Some(i) if !hostport.starts_with('[') => hostport.split_at(i),
        _ => (hostport, ""),
    };
    if host.is_ascii() {
        return url.to_string();
    }
    let host: Vec<String> = host
        .split('.')
        .map(|label| {
            if label.is_ascii() {
                label.to_ascii_lowercase()
            } else {
                format!("xn--{}", punycode(&label.to_lowercase()))
            }
        })
        .collect();
    format!(
        "{}{userinfo}{}{port}{}",
        &url[..start],
        host.join("."),
        &rest[end..]
    )
}

/// RFC 3492 §6.3: the punycode of `input` (without the `xn--` prefix).
fn punycode(input: &str) -> String {
    const BASE: u32 = 36;
    const T_MIN: u32 = 1;
    const T_MAX: u32 = 26;
    const SKEW: u32 = 38;
    const DAMP: u32 = 700;
    let digit = |d: u32| {
        char::from(if d < 26 {
            b'a' + d as u8
        } else {
            b'0' + (d - 26) as u8
        })
    };
    let adapt = |mut delta: u32, points: u32, first: bool| {
        delta /= if first { DAMP } else { 2 };
        delta += delta / points;
        let mut k = 0;
        while delta > ((BASE - T_MIN) * T_MAX) / 2 {
            delta /= BASE - T_MIN;
            k += BASE;
        }
        k + (BASE - T_MIN + 1) * delta / (delta + SKEW)
    };
    let code: Vec<u32> = input.chars().map(u32::from).collect();
    let mut out: String = input.chars().filter(char::is_ascii).collect();
    let basic = out.len() as u32;
    let mut handled = basic;
    if basic > 0 {
        out.push('-');
    }
    let (mut n, mut delta, mut bias) = (128u32, 0u32, 72u32);
    while (handled as usize) < code.len() {
        let m = code.iter().copied().filter(|&c| c >= n).min().unwrap_or(n);
        delta = delta.saturating_add((m - n).saturating_mul(handled + 1));
        n = m;
        for &c in &code {
            if c < n {
                delta = delta.saturating_add(1);
            }
            if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = if k <= bias {
                        T_MIN
                    } else if k >= bias + T_MAX {
                        T_MAX
                    } else {
                        k - bias
                    };
                    if q < t {
                        break;
                    }
                    out.push(digit(t + (q - t) % (BASE - t)));
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                out.push(digit(q));
                bias = adapt(delta, handled + 1, handled == basic);
                delta = 0;
                handled += 1;
            }
        }
        delta = delta.saturating_add(1);
        n += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_become_punycode_as_curl_sends_them() {
        let cases = [
            (
                "http://café.test:18556/x",
                "http://xn--caf-dma.test:18556/x",
            ),
            ("http://Bücher.Example/", "http://xn--bcher-kva.example/"),
            ("日本語.jp/päth", "xn--wgv71a119e.jp/päth"),
            ("http://u:p@münchen.de", "http://u:p@xn--mnchen-3ya.de"),
            ("http://ascii.test/päth", "http://ascii.test/päth"),
        ];
        for (input, want) in cases {
            assert_eq!(to_ascii(input), want, "{input}");
        }
        // RFC 3492 §7.1 (B): Chinese (simplified).
        assert_eq!(punycode("他们为什么不说中文"), "ihqwcrb4cv8a8dqg056pqjye");
    }
}
