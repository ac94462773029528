//! curl's config files: `-K FILE`/`--config FILE` (`-` = stdin), and `.curlrc`, read first
//! unless `-q`/`--disable` is the first option, from `$CURL_HOME`, `$XDG_CONFIG_HOME` or
//! `$HOME`, as curl 7.88 looks for it. Each is turned into the command-line arguments it
//! stands for, before anything else reads the line.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use super::curl_options::Known;
use crate::error::Error;

/// How deep `-K` may nest inside config files.
const MAX_DEPTH: usize = 8;

/// `args` with `.curlrc` in front (unless `-q` comes first) and every `-K FILE` replaced by
/// what FILE says. A `-K` file that cannot be read exits 26, as in curl.
pub(crate) fn expand(args: Vec<OsString>, known: &Known) -> Result<Vec<OsString>, Error> {
    let mut out: Vec<OsString> = args.iter().take(1).cloned().collect();
    // curl's test, prefix and all: the first argument starts with `-q` or `--disable`.
    let skip_rc = args
        .get(1)
        .and_then(|a| a.to_str())
        .is_some_and(|a| a.starts_with("-q") || a.starts_with("--disable"));
    if !skip_rc && let Some(path) = default_file() {
        // A default file that cannot be read is no error: it is only looked for.
        if let Ok(text) = std::fs::read_to_string(&path) {
            let name = path.display().to_string();
            out.extend(
                expand_all(&lines_to_args(&text, &name, known), known, 0)?
                    .into_iter()
                    .map(OsString::from),
            );
        }
    }
    let rest: Vec<OsString> = args.into_iter().skip(1).collect();
    out.extend(expand_os(rest, known)?);
    Ok(out)
}

/// Expands `-K` on the command line (arguments that are not UTF-8 pass as they are).
fn expand_os(args: Vec<OsString>, known: &Known) -> Result<Vec<OsString>, Error> {
    let mut out = Vec::new();
    let mut iter = args.into_iter();
    while let Some(arg) = iter.next() {
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        match config_file(text, || iter.next().and_then(|a| a.into_string().ok())) {
            Some(Ok(file)) => out.extend(
                expand_all(&read_file(&file, known)?, known, 1)?
                    .into_iter()
                    .map(OsString::from),
            ),
            Some(Err(())) => return Err(Error::Usage("-K: a file name is needed".into())),
            None => {
                // The value of an option goes through untouched, even one like `-K`.
                let takes = text.starts_with('-') && known.takes_value(text) == Some(true);
                let inline = text.contains('=') || !text.starts_with("--") && text.len() > 2;
                out.push(arg);
                if takes
                    && !inline
                    && let Some(value) = iter.next()
                {
                    out.push(value);
                }
            }
        }
    }
    Ok(out)
}

/// The same inside config files, `depth` files deep: each line's option word is looked at
/// (its value never is, even one that reads `-K`).
fn expand_all(lines: &[Vec<String>], known: &Known, depth: usize) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for line in lines {
        let mut words = line.iter().cloned();
        let Some(option) = words.next() else { continue };
        match config_file(&option, || words.next()) {
            Some(Ok(file)) if depth < MAX_DEPTH => {
                out.extend(expand_all(&read_file(&file, known)?, known, depth + 1)?);
            }
            Some(Ok(file)) => {
                return Err(Error::Usage(format!(
                    "-K {file}: config files nested more than {MAX_DEPTH} deep"
                )));
            }
            Some(Err(())) => return Err(Error::Usage("-K: a file name is needed".into())),
            None => out.extend(std::iter::once(option).chain(words)),
        }
    }
    Ok(out)
}

/// The file of `-K FILE`, `-KFILE`, `--config FILE` or `--config=FILE` (taking the next
/// argument from `next` when needed); `None` for any other argument.
fn config_file(arg: &str, next: impl FnOnce() -> Option<String>) -> Option<Result<String, ()>> {
    if arg == "-K" || arg == "--config" {
        return Some(next().ok_or(()));
    }
    if let Some(file) = arg.strip_prefix("--config=") {
        return Some(Ok(file.to_string()));
    }
    arg.strip_prefix("-K")
        .filter(|f| !f.is_empty())
        .map(|f| Ok(f.to_string()))
}

/// The arguments in config file `file` (`-`: stdin), a line's worth each.
fn read_file(file: &str, known: &Known) -> Result<Vec<Vec<String>>, Error> {
    let mut bytes = Vec::new();
    let read = if file == "-" {
        io::stdin().lock().read_to_end(&mut bytes).map(drop)
    } else {
        std::fs::read(file).map(|b| bytes = b)
    };
    read.map_err(|e| Error::Read {
        what: format!("config file {file}"),
        reason: shared::io_words(&e),
    })?;
    let name = if file == "-" { "<stdin>" } else { file };
    Ok(lines_to_args(&String::from_utf8_lossy(&bytes), name, known))
}

/// Where curl 7.88 looks for `.curlrc`: `$CURL_HOME`, then `$XDG_CONFIG_HOME`, then `$HOME`;
/// the first that has one.
fn default_file() -> Option<PathBuf> {
    ["CURL_HOME", "XDG_CONFIG_HOME", "HOME"]
        .iter()
        .filter_map(std::env::var_os)
        .map(|dir| PathBuf::from(dir).join(".curlrc"))
        .find(|p| p.is_file())
}

/// curl's config syntax, read as curl's parser reads it, line by line (a line ends at a
/// line feed only):
/// - after leading spaces, a line starting with `#`, `/`, `*` or nothing is skipped;
/// - the option word runs to the next space; without a leading dash (`url = …`) also to
///   `=` or `:`, and those separate it from the value as spaces do; with one, `=` and `:`
///   are part of what follows (`--url = x` is the value `=`);
/// - the value is quoted (`"…"`, with `\t`, `\n`, `\r`, `\v` and `\X` for X, up to the next
///   unescaped quote; what follows is ignored), or else runs to the next space (more words
///   after it draw a warning);
/// - a short option may hold its value in its own word (`-o"name"`: the value is `"name"`,
///   quotes and all, as curl takes it), and then, like an option that takes none, leaves
///   the line's value unused (a warning).
///
/// An option neither fetch nor curl knows, or one missing its value, is a warning and is
/// skipped, as in curl. Returns the arguments a line stands for, one list a line.
fn lines_to_args(text: &str, file: &str, known: &Known) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (n, line) in text.split('\n').enumerate() {
        let warn = |what: &str| {
            let _ = writeln!(io::stderr(), "fetch: warning: {file}:{}: {what}", n + 1);
        };
        let line = line.trim_start_matches(is_space);
        if line.is_empty() || line.starts_with(['#', '/', '*']) {
            continue;
        }
        let dashed = line.starts_with('-');
        let separates = |c: char| !dashed && (c == '=' || c == ':');
        let end = line
            .find(|c: char| is_space(c) || separates(c))
            .unwrap_or(line.len());
        let (word, rest) = line.split_at(end);
        let rest = rest.trim_start_matches(|c: char| is_space(c) || separates(c));
        let param = match rest.strip_prefix('"') {
            Some(quoted) => Some(unquote(quoted)),
            None => {
                let end = rest.find(is_space).unwrap_or(rest.len());
                let after = rest[end..].trim_start_matches(is_space);
                if !after.is_empty() && !after.starts_with('#') {
                    warn(&format!(
                        "'{word}' uses unquoted whitespace in the line that may cause \
                         side-effects"
                    ));
                }
                Some(rest[..end].to_string()).filter(|p| !p.is_empty())
            }
        };
        let option = if dashed {
            word.to_string()
        } else {
            format!("--{word}")
        };
        match (value_of(&option, known), param) {
            (None, _) => warn(&format!("'{word}' is unknown")),
            (Some(Value::Next), None) => warn(&format!("'{word}' requires a value")),
            (Some(Value::Next), Some(param)) => out.push(vec![option, param]),
            (Some(_), param) => {
                if param.is_some() {
                    warn(&format!("'{word}' had unsupported trailing garbage"));
                }
                out.push(vec![option]);
            }
        }
    }
    out
}

/// C's `isspace`, which curl's parser uses.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r')
}

/// Where an option word's value comes from.
#[derive(Debug, PartialEq, Eq)]
enum Value {
    /// It takes none.
    None,
    /// From the line's value.
    Next,
    /// From its own word: `-oNAME`, `-so"name"`.
    InWord,
}

/// How `option` (`--long`, or `-x` with more short options or a value after it) takes
/// its value; `None` for an option neither fetch nor curl knows.
fn value_of(option: &str, known: &Known) -> Option<Value> {
    if option.starts_with("--") {
        return Some(match known.takes_value(option)? {
            true => Value::Next,
            false => Value::None,
        });
    }
    let letters = option.strip_prefix('-')?;
    if letters.is_empty() {
        return None;
    }
    for (i, c) in letters.char_indices() {
        if known.takes_value(&format!("-{c}"))? {
            let attached = i + c.len_utf8() < letters.len();
            return Some(if attached { Value::InWord } else { Value::Next });
        }
    }
    Some(Value::None)
}

/// A quoted value after its opening quote, as curl's `unslashquote` reads it: up to the
/// next quote that no backslash escapes.
fn unquote(quoted: &str) -> String {
    let mut out = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => match chars.next() {
                Some('t') => out.push('\t'),
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('v') => out.push('\u{b}'),
                Some(other) => out.push(other),
                None => break,
            },
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::cli::Args;

    #[test]
    fn config_lines_become_arguments() {
        let known = Known::of(&Args::command());
        let text = "# comment\n-s\nurl = \"http://h/echo?a\"\n--header \"X-A: 1 \\\"q\\\"\"\n\
                    user-agent: myagent\n  referer=http://r/  trailing\n-d  a=1\n\nfail\n";
        assert_eq!(
            lines_to_args(text, "cfg", &known).concat(),
            [
                "-s",
                "--url",
                "http://h/echo?a",
                "--header",
                "X-A: 1 \"q\"",
                "--user-agent",
                "myagent",
                "--referer",
                "http://r/",
                "-d",
                "a=1",
                "--fail",
            ]
        );
        assert_eq!(unquote("a\\tb\\\\c\" rest"), "a\tb\\c");
    }

    /// Each line and the arguments curl's parser makes of it.
    #[test]
    fn every_quoting_form_as_curl_parses_it() {
        let known = Known::of(&Args::command());
        let cases: &[(&str, &[&str])] = &[
            // A short option with its value in its word, quotes and all.
            ("-o\"name\"", &["-o\"name\""]),
            ("-oname", &["-oname"]),
            ("-so\"a b\"", &["-so\"a"]),
            ("-o \"a b\"", &["-o", "a b"]),
            ("-o name", &["-o", "name"]),
            // Without a dash, `=` and `:` separate; with one, they are the value.
            ("url = \"http://h/a b\"", &["--url", "http://h/a b"]),
            ("url=\"http://h/\"", &["--url", "http://h/"]),
            ("url:http://h/", &["--url", "http://h/"]),
            ("url   =   http://h/", &["--url", "http://h/"]),
            ("--url = http://h/", &["--url", "="]),
            ("--url http://h/ # comment", &["--url", "http://h/"]),
            ("--url=http://h/", &[]),
            // Escapes in quotes; what follows the closing quote is ignored.
            (
                "header = \"X-A: \\\"q\\\" \\t\\x\" tail",
                &["--header", "X-A: \"q\" \tx"],
            ),
            ("header = \"unterminated", &["--header", "unterminated"]),
            ("header = \"\"", &["--header", ""]),
            // Comments, blank lines, CRLF line ends.
            ("  # comment", &[]),
            ("/ also a comment", &[]),
            ("* and this", &[]),
            ("   ", &[]),
            ("silent\r", &["--silent"]),
            ("url = http://h/\r", &["--url", "http://h/"]),
            // A value an option cannot take, or one missing.
            ("silent yes", &["--silent"]),
            ("-oname extra", &["-oname"]),
            ("output", &[]),
            ("no-such-option 1", &[]),
            // A value that looks like -K is a value.
            ("header = -K", &["--header", "-K"]),
        ];
        for (line, want) in cases {
            assert_eq!(
                lines_to_args(line, "cfg", &known).concat(),
                *want,
                "{line:?}"
            );
        }
    }
}
