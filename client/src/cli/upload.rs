//! `-T`/`--upload-file`: the body of each target (PUT), paired with the targets in order as
//! curl pairs them, and curl's rule that a target ending in `/` gets the file's name.

use std::io;
use std::sync::{Arc, Mutex};

use shared::Target;

use crate::error::Error;
use crate::payload::Payload;

/// The upload of each target, by index (`None`: no -T for it). A file that cannot be read
/// is an error now, before anything is sent (exit 26, as curl's "Can't open"); a target
/// ending in `/` gets the file's name, percent-encoded, appended to its path.
pub(crate) fn payloads(
    files: &[String],
    targets: &mut [String],
) -> Result<Vec<Option<Payload>>, Error> {
    let mut out = Vec::with_capacity(targets.len());
    for (i, target) in targets.iter_mut().enumerate() {
        let Some(file) = files.get(i) else {
            out.push(None);
            continue;
        };
        if file == "-" {
            out.push(Some(Payload::Stream(Arc::new(Mutex::new(io::stdin())))));
            continue;
        }
        std::fs::File::open(file).map_err(|e| Error::Read {
            what: file.clone(),
            reason: shared::io_words(&e),
        })?;
        let name = std::path::Path::new(file)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        *target = with_name(target, &name);
        out.push(Some(Payload::File(file.into())));
    }
    Ok(out)
}

/// `target` with `name` appended to its path when the path ends in `/` (or is empty);
/// unchanged otherwise, and when it does not parse (the transfer reports that).
fn with_name(target: &str, name: &str) -> String {
    let Ok(t) = Target::parse(target) else {
        return target.to_string();
    };
    let url = t.to_string();
    let base = &url[..url.len() - t.path.len()];
    let (path, query) = match t.path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (t.path.as_str(), None),
    };
    if !path.ends_with('/') {
        return target.to_string();
    }
    let name = super::data::escape(name.as_bytes());
    match query {
        Some(q) => format!("{base}{path}{name}?{q}"),
        None => format!("{base}{path}{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_go_on_paths_that_end_in_a_slash() {
        let cases = [
            ("h:1/dir/", "up.txt", "http://h:1/dir/up.txt"),
            ("http://h:1/dir/?q=1", "up.txt", "http://h:1/dir/up.txt?q=1"),
            ("h:1", "a b#.txt", "http://h:1/a%20b%23.txt"),
            ("h:1/file", "up.txt", "h:1/file"),
        ];
        for (target, name, want) in cases {
            assert_eq!(with_name(target, name), want, "{target}");
        }
    }
}
