//! The frontier: the URLs still to visit, in the order found, and the set of every URL seen
//! (a hash of its normalized spelling), so that each is visited once.

use std::collections::{HashSet, VecDeque};

use shared::Target;

use super::listing::Stamp;

/// The most URLs one crawl keeps track of; beyond, new links are not followed (said once).
pub const MAX_URLS: usize = 1 << 22;

/// What the crawl's threads share under one lock.
#[derive(Default)]
pub struct Queue {
    pub frontier: VecDeque<Link>,
    pub seen: HashSet<u64>,
    /// Local paths already written or kept in this run.
    pub claimed: HashSet<u64>,
    /// URLs being visited now: the crawl ends when none are and the frontier is empty.
    pub busy: usize,
    pub full_said: bool,
}

/// A link found on a page, for the frontier.
pub struct Link {
    pub target: Target,
    /// Links away from the start URL.
    pub depth: u32,
    /// Needed to show the page it is on (`--page-requisites` takes it past `--level`).
    pub inline: bool,
    /// The size and time a JSON listing shows for it.
    pub listed: Option<Stamp>,
}

/// A request path in one spelling: `%xx` in upper case, and unreserved bytes
/// (RFC 3986 §2.3) decoded, so `/%7euser/a%2fb` and `/~user/a%2Fb` are the same URL.
pub fn normalize(path: &str) -> String {
    let b = path.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        let escape = (b[i] == b'%')
            .then(|| {
                let h = b.get(i + 1).copied().and_then(hex)?;
                Some((h, b.get(i + 2).copied().and_then(hex)?))
            })
            .flatten();
        if let Some((h, l)) = escape {
            let v = (h * 16 + l) as u8;
            if v.is_ascii_alphanumeric() || b"-._~".contains(&v) {
                out.push(v as char);
            } else {
                out.push_str(&format!("%{v:02X}"));
            }
            i += 3;
            continue;
        }
        // The target is ASCII: Target::parse encodes everything else.
        out.push(b[i] as char);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_have_one_spelling() {
        let cases = [
            ("/a", "/a"),
            ("/%7euser/", "/~user/"),
            ("/a%2fb", "/a%2Fb"),
            ("/%41%42c", "/ABc"),
            ("/caf%c3%a9", "/caf%C3%A9"),
            ("/100%", "/100%"),
            ("/x?q=%3d", "/x?q=%3D"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input), want, "{input}");
        }
    }
}
