//! curl's URL globbing: `{a,b,c}` sets and `[1-100]`, `[001-100]`, `[a-z]`, `[1-100:10]`
//! ranges, each target expanded in order (the last glob changing fastest), with `#N` in
//! `-o` names replaced by the Nth glob's value. `\{`, `\[` (and `\}`, `\]`) are the
//! characters themselves; `-g` turns all of it off.

use crate::error::Error;

/// One piece of a pattern.
enum Part {
    Text(String),
    Choices(Vec<String>),
}

/// Every target `url` stands for, each with the values its globs took (for `#N`).
pub(crate) fn expand(url: &str) -> Result<Vec<(String, Vec<String>)>, Error> {
    // Most targets have nothing to expand (a list of a thousand URLs from --input): taken
    // whole, not a character at a time.
    if !url.contains(['{', '[', '\\']) {
        return Ok(vec![(url.to_string(), Vec::new())]);
    }
    let parts = parse(url)?;
    let mut out = vec![(String::new(), Vec::new())];
    for part in &parts {
        match part {
            Part::Text(t) => out.iter_mut().for_each(|(u, _)| u.push_str(t)),
            Part::Choices(choices) => {
                out = out
                    .into_iter()
                    .flat_map(|(u, vals)| {
                        choices.iter().map(move |c| {
                            let mut vals = vals.clone();
                            vals.push(c.clone());
                            (format!("{u}{c}"), vals)
                        })
                    })
                    .collect();
            }
        }
    }
    Ok(out)
}

/// `name` with each `#N` (1 to the number of globs) replaced by that glob's value; any
/// other `#` stays.
pub(crate) fn name(template: &str, values: &[String]) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(i) = rest.find('#') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        match after[..digits]
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=values.len()).contains(n))
        {
            Some(n) => {
                out.push_str(&values[n - 1]);
                rest = &after[digits..];
            }
            None => {
                out.push('#');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn bad(url: &str, at: usize, what: &str) -> Error {
    Error::Net(shared::Error::BadTarget {
        input: url.to_string(),
        reason: format!("{what} in the URL at position {}", at + 1),
    })
}

fn parse(url: &str) -> Result<Vec<Part>, Error> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut chars = url.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some((_, '{' | '}' | '[' | ']'))) => {
                text.push(chars.next().map_or(c, |(_, n)| n));
            }
            '{' => {
                let end = url[i..]
                    .find('}')
                    .ok_or_else(|| bad(url, i, "unmatched brace"))?
                    + i;
                let body = &url[i + 1..end];
                if body.contains('{') {
                    return Err(bad(url, i, "nested braces"));
                }
                parts.push(Part::Text(std::mem::take(&mut text)));
                parts.push(Part::Choices(body.split(',').map(String::from).collect()));
                while chars.peek().is_some_and(|(j, _)| *j <= end) {
                    chars.next();
                }
            }
            '[' => {
                let end = url[i..]
                    .find(']')
                    .ok_or_else(|| bad(url, i, "unmatched bracket"))?
                    + i;
                let body = &url[i + 1..end];
                // An IPv6 address is no range: curl leaves [::1] alone.
                if body.contains(':') && !body.contains('-') {
                    text.push_str(&url[i..=end]);
                } else {
                    parts.push(Part::Text(std::mem::take(&mut text)));
                    parts.push(Part::Choices(
                        range(body).ok_or_else(|| bad(url, i, "bad range"))?,
                    ));
                }
                while chars.peek().is_some_and(|(j, _)| *j <= end) {
                    chars.next();
                }
            }
            _ => text.push(c),
        }
    }
    parts.push(Part::Text(text));
    Ok(parts)
}

/// The values of `[A-B]` or `[A-B:STEP]`: numbers (zero-padded to A's width when A has a
/// leading zero) or single letters; `None` when malformed or backwards.
fn range(body: &str) -> Option<Vec<String>> {
    let (span, step) = match body.split_once(':') {
        Some((s, step)) => (s, step.parse::<u64>().ok().filter(|s| *s > 0)?),
        None => (body, 1),
    };
    let (a, b) = span.split_once('-')?;
    if let (Ok(x), Ok(y)) = (a.parse::<u64>(), b.parse::<u64>()) {
        if x > y || (y - x) / step > 100_000 {
            return None;
        }
        let width = if a.len() > 1 && a.starts_with('0') {
            a.len()
        } else {
            0
        };
        return Some(
            (x..=y)
                .step_by(step as usize)
                .map(|n| format!("{n:0width$}"))
                .collect(),
        );
    }
    let (mut x, mut y) = (a.chars(), b.chars());
    let (Some(x), None, Some(y), None) = (x.next(), x.next(), y.next(), y.next()) else {
        return None;
    };
    let same_kind = x.is_ascii_lowercase() && y.is_ascii_lowercase()
        || x.is_ascii_uppercase() && y.is_ascii_uppercase();
    if !same_kind || x > y {
        return None;
    }
    Some((x..=y).step_by(step as usize).map(String::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(pattern: &str) -> Vec<String> {
        expand(pattern)
            .unwrap()
            .into_iter()
            .map(|(u, _)| u)
            .collect()
    }

    #[test]
    fn globs_expand_like_curl() {
        assert_eq!(urls("h/{a,b}[1-2]"), ["h/a1", "h/a2", "h/b1", "h/b2"]);
        assert_eq!(
            urls("h/[01-03:2]x[a-c]"),
            ["h/01xa", "h/01xb", "h/01xc", "h/03xa", "h/03xb", "h/03xc"]
        );
        assert_eq!(urls("h/{a}"), ["h/a"]);
        assert_eq!(urls("h/e{c,}ho"), ["h/echo", "h/eho"]);
        assert_eq!(urls("h/\\{x\\}"), ["h/{x}"]);
        assert_eq!(urls("[::1]:80/[1-2]"), ["[::1]:80/1", "[::1]:80/2"]);
        assert_eq!(urls("h/plain"), ["h/plain"]);
        for bad in ["h/[3-1]", "h/[1-", "h/{a", "h/[a-9]", "h/[1-2:0]"] {
            assert!(expand(bad).is_err(), "{bad}");
        }
        let (_, values) = &expand("h/{a,b}[1-2]").unwrap()[3];
        assert_eq!(name("out_#1_#2#3#x.txt", values), "out_b_2#3#x.txt");
    }
}
