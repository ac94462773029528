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

/// The same inside config files, `depth` files deep.
fn expand_all(args: &[String], known: &Known, depth: usize) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    let mut iter = args.iter().cloned();
    while let Some(arg) = iter.next() {
        match config_file(&arg, || iter.next()) {
            Some(Ok(file)) if depth < MAX_DEPTH => {
                out.extend(expand_all(&read_file(&file, known)?, known, depth + 1)?);
            }
            Some(Ok(file)) => {
                return Err(Error::Usage(format!(
                    "-K {file}: config files nested more than {MAX_DEPTH} deep"
                )));
            }
            Some(Err(())) => return Err(Error::Usage("-K: a file name is needed".into())),
            None => out.push(arg),
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

/// The arguments in config file `file` (`-`: stdin).
fn read_file(file: &str, known: &Known) -> Result<Vec<String>, Error> {
    let mut text = String::new();
    let read = if file == "-" {
        io::stdin().lock().read_to_string(&mut text).map(drop)
    } else {
        std::fs::read(file).map(|b| text = String::from_utf8_lossy(&b).into_owned())
    };
    read.map_err(|e| Error::Read {
        what: format!("config file {file}"),
        reason: shared::io_words(&e),
    })?;
    Ok(lines_to_args(&text, file, known))
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

/// curl's config syntax, line by line: `#` comments and blank lines skipped; an option
/// with or without its dashes (`url`, `--url`, `-s`), then spaces, `=` or `:`, then a
/// value for options that take one: up to the next space, or in double quotes with `\\`,
/// `\"`, `\t`, `\n`, `\r` and `\v` escapes. A name neither fetch nor curl knows is a
/// warning, as in curl.
fn lines_to_args(text: &str, file: &str, known: &Known) -> Vec<String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let end = line
            .find(|c: char| c.is_whitespace() || c == '=' || c == ':')
            .unwrap_or(line.len());
        let (word, rest) = line.split_at(end);
        let option = if word.starts_with('-') {
            word.to_string()
        } else {
            format!("--{word}")
        };
        let Some(takes) = known.takes_value(&option) else {
            let _ = writeln!(
                io::stderr(),
                "fetch: warning: {file}:{}: '{word}' is unknown",
                n + 1
            );
            continue;
        };
        out.push(option);
        if takes {
            let rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '=' || c == ':');
            out.push(value(rest));
        }
    }
    out
}

/// A value: quoted (with escapes) or up to the first whitespace.
fn value(s: &str) -> String {
    let Some(quoted) = s.strip_prefix('"') else {
        return s.split_whitespace().next().unwrap_or("").to_string();
    };
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
            lines_to_args(text, "cfg", &known),
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
        assert_eq!(value("\"a\\tb\\\\c\" rest"), "a\tb\\c");
    }
}
