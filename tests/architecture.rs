//! ARCHITECTURE.md stays true to the tree: every module its tables name still exists.
//!
//! A table's "module" column names files and folders relative to the source folder the
//! text before the table names last (`client/src`, `server/src`, `server/src/respond/`).

use std::path::{Path, PathBuf};

#[test]
fn every_module_named_in_the_tables_exists() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(repo.join("ARCHITECTURE.md")).unwrap();
    let named = named_modules(&text);
    assert!(
        named.len() > 50,
        "the tables were not found: {} modules",
        named.len()
    );
    let missing: Vec<_> = named
        .iter()
        .filter(|(_, path)| !repo.join(path).exists())
        .map(|(line, path)| format!("ARCHITECTURE.md:{line}: {}", path.display()))
        .collect();
    assert!(
        missing.is_empty(),
        "named in ARCHITECTURE.md's tables, not in the tree:\n{}",
        missing.join("\n")
    );
}

/// Each `name.rs` or `folder/` in a table's "module" column, with its line, as a path from
/// the repository's root.
fn named_modules(text: &str) -> Vec<(usize, PathBuf)> {
    let mut out = Vec::new();
    let mut base: Option<PathBuf> = None;
    let mut column: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        if !line.starts_with('|') {
            column = None;
            // The last source folder named before a table is where its modules are.
            for quoted in backticked(line) {
                if let Some(dir) = source_folder(quoted) {
                    base = Some(dir);
                }
            }
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let Some(c) = column else {
            // A table's first line is its header.
            column = cells.iter().position(|&h| h == "module");
            continue;
        };
        let (Some(cell), Some(base)) = (cells.get(c), &base) else {
            continue;
        };
        for name in backticked(cell) {
            if name.ends_with(".rs") || name.ends_with('/') {
                out.push((i + 1, base.join(name)));
            }
        }
    }
    out
}

/// `client/src`, `server/src/respond/`, `server/src/respond/mod.rs` (its folder).
fn source_folder(quoted: &str) -> Option<PathBuf> {
    let path = Path::new(quoted);
    let mut parts = path.components();
    let _crate = parts.next()?;
    if parts.next()?.as_os_str() != "src" {
        return None;
    }
    if quoted.ends_with(".rs") {
        return path.parent().map(Path::to_path_buf);
    }
    Some(path.to_path_buf())
}

fn backticked(line: &str) -> impl Iterator<Item = &str> {
    line.split('`').skip(1).step_by(2)
}

#[test]
fn the_table_reader_finds_each_module_under_its_folder() {
    let text = "The library (`client/src`):\n\n| module | what |\n|---|---|\n\
                | `run.rs`, `cli/` | x |\n\nin `server/src/respond/mod.rs`:\n\n\
                | step | module | what |\n|---|---|---|\n| auth | `authorize.rs` | `x.rs` |\n";
    let got: Vec<_> = named_modules(text).into_iter().map(|(_, p)| p).collect();
    let want: Vec<PathBuf> = [
        "client/src/run.rs",
        "client/src/cli/",
        "server/src/respond/authorize.rs",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    assert_eq!(got, want);
}
