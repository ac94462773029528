//! `-:`/`--next`: a line cut into operations, each with its own options and targets. The
//! options curl calls global (`-s`, `-S`, `-v`, `-Z`, `--parallel-max`, the progress
//! switches) apply to every part wherever they stand, as in curl.

use std::ffi::OsString;

use super::curl_options::Known;

/// Options that hold for the whole line, with whether they take a value.
const GLOBAL: &[(&str, bool)] = &[
    ("-s", false),
    ("--silent", false),
    ("-S", false),
    ("--show-error", false),
    ("-v", false),
    ("--verbose", false),
    ("-Z", false),
    ("--parallel", false),
    ("--parallel-max", true),
    ("--parallel-immediate", false),
    ("--no-progress-meter", false),
    ("-#", false),
    ("--progress-bar", false),
];

/// The parts of `args` (its first element is the program name, repeated in every part),
/// with the global options of every part added to each.
pub(crate) fn split(args: Vec<OsString>, known: &Known) -> Vec<Vec<OsString>> {
    let mut iter = args.into_iter();
    let program = iter.next().unwrap_or_else(|| "fetch".into());
    let mut parts: Vec<Vec<OsString>> = vec![Vec::new()];
    let mut globals: Vec<OsString> = Vec::new();
    let mut after_dashdash = false;
    while let Some(arg) = iter.next() {
        let text = arg.to_str().unwrap_or("").to_string();
        if !after_dashdash && (text == "--next" || text == "-:") {
            parts.push(Vec::new());
            continue;
        }
        after_dashdash |= text == "--";
        let part = parts.last_mut().expect("one part at least");
        part.push(arg.clone());
        if after_dashdash || !text.starts_with('-') {
            continue;
        }
        let global = GLOBAL.iter().find(|(g, _)| *g == text);
        // A value goes with its option (so that `-d -:` is data, not a cut).
        let takes = known.takes_value(&text) == Some(true)
            && !text.contains('=')
            && (text.starts_with("--") || text.len() == 2);
        let value = if takes { iter.next() } else { None };
        if let Some(v) = &value {
            part.push(v.clone());
        }
        if global.is_some() {
            globals.push(arg);
            globals.extend(value);
        }
    }
    parts
        .into_iter()
        .map(|part| {
            let mut all = vec![program.clone()];
            all.extend(globals.iter().cloned());
            all.extend(part);
            all
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::cli::Args;

    #[test]
    fn parts_and_their_globals() {
        let known = Known::of(&Args::command());
        let line = [
            "fetch", "-H", "X: 1", "a", "--next", "-s", "-d", "-:", "b", "-:", "c",
        ];
        let parts: Vec<Vec<String>> = split(line.iter().map(OsString::from).collect(), &known)
            .into_iter()
            .map(|p| p.into_iter().map(|a| a.into_string().unwrap()).collect())
            .collect();
        assert_eq!(
            parts,
            [
                vec!["fetch", "-s", "-H", "X: 1", "a"],
                vec!["fetch", "-s", "-s", "-d", "-:", "b"],
                vec!["fetch", "-s", "c"],
            ]
        );
    }
}
