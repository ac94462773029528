//! `--delete`: the files an earlier run saved that this run did not reach, removed.

use std::path::Path;

use super::{local, state};

/// Walks `top` (relative to `root`) and removes each file fetch wrote there (it has a
/// record: its attribute, or a file in the state folder) that `reached` does not know,
/// telling `removed` of each. Files fetch did not write, `.part` files, symlinks and the
/// state folder are never touched; a symlink among the folders above `top` stops the walk.
pub fn vanished(
    root: &Path,
    top: &Path,
    reached: impl Fn(&Path) -> bool,
    mut removed: impl FnMut(&Path),
) {
    if local::check_parents(root, &top.join("x")).is_err() {
        return;
    }
    let mut stack = vec![top.to_path_buf()];
    while let Some(dir) = stack.pop() {
        // Entries are looked at without following symlinks: a symlink is never walked
        // into, nor removed.
        let Ok(entries) = std::fs::read_dir(root.join(&dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let rel = dir.join(entry.file_name());
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() && !local::reserved(&rel) {
                stack.push(rel);
                continue;
            }
            let part = rel.extension().is_some_and(|e| e == "part");
            if !kind.is_file() || part || reached(&rel) {
                continue;
            }
            // Only what fetch wrote: a file with a record.
            if !state::written_by_fetch(root, &rel) {
                continue;
            }
            if std::fs::remove_file(root.join(&rel)).is_ok() {
                removed(&rel);
            }
            let _ = std::fs::remove_file(state::path(root, &rel));
        }
    }
}
