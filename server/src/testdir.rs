//! Test-only: a temporary folder holding `root/`, the folder a test serves, with room
//! beside it for what must stay outside the root.

use std::fs;
use std::path::PathBuf;

/// The folder; removed on drop.
pub(crate) struct TestDir {
    _dir: tempfile::TempDir,
    /// The canonical temporary folder (outside the root).
    pub(crate) base: PathBuf,
    /// `base/root`, created empty.
    pub(crate) root: PathBuf,
}

/// A new, empty test folder.
pub(crate) fn new() -> TestDir {
    let dir = tempfile::tempdir().unwrap();
    let base = fs::canonicalize(dir.path()).unwrap();
    let root = base.join("root");
    fs::create_dir(&root).unwrap();
    TestDir {
        _dir: dir,
        base,
        root,
    }
}
