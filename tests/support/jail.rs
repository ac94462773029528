//! The jail fixture: a site root in a temp folder, with a secret beside the root (never in
//! it) and every way out of the root a test may try: symlinks to the secret and to the
//! folder above, dotfiles, a dotfolder, a broken symlink. No response or mapping may ever
//! reach the secret.
//!
//! The fuzz target `url_map` includes this file with `#[path]`: it needs only std and
//! `tempfile`.

use std::os::unix::fs::symlink;
use std::path::PathBuf;

/// What the secret file outside the root holds: no response may ever contain it.
pub const SECRET: &str = "OUTSIDE-THE-ROOT-5f1c0d9e";

/// The fixture; removed when dropped.
///
/// ```text
/// DIR/secret.txt               SECRET
/// DIR/root/index.html          "<h1>home</h1>\n"
/// DIR/root/file.txt            1000 bytes, "abc...z" repeated (for ranges)
/// DIR/root/sub/index.html      "sub\n"
/// DIR/root/sub/a b.txt         "a"
/// DIR/root/sub/deeper/         empty
/// DIR/root/.env                SECRET (a dotfile)
/// DIR/root/.git/config         SECRET (in a dotfolder)
/// DIR/root/link-out         -> DIR/secret.txt
/// DIR/root/updir            -> DIR
/// DIR/root/link-to-dotfile  -> DIR/root/.env
/// DIR/root/broken           -> DIR/root/nowhere
/// ```
pub struct Jail {
    /// The temp folder (`DIR`), its path canonical.
    pub dir: tempfile::TempDir,
    /// `DIR/root`, canonical: what a server serves.
    pub root: PathBuf,
}

impl Jail {
    /// Makes the fixture in a new temp folder.
    pub fn new() -> Jail {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let root = base.join("root");
        let write = |rel: &str, data: &[u8]| std::fs::write(root.join(rel), data).unwrap();
        std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::write(base.join("secret.txt"), SECRET).unwrap();
        write("index.html", b"<h1>home</h1>\n");
        let thousand: Vec<u8> = (0..1000u32).map(|i| b'a' + (i % 26) as u8).collect();
        write("file.txt", &thousand);
        write("sub/index.html", b"sub\n");
        write("sub/a b.txt", b"a");
        write(".env", SECRET.as_bytes());
        write(".git/config", SECRET.as_bytes());
        symlink(base.join("secret.txt"), root.join("link-out")).unwrap();
        symlink(&base, root.join("updir")).unwrap();
        symlink(root.join(".env"), root.join("link-to-dotfile")).unwrap();
        symlink(root.join("nowhere"), root.join("broken")).unwrap();
        Jail { dir, root }
    }

    /// The root as a command-line argument.
    pub fn root_str(&self) -> &str {
        self.root.to_str().unwrap()
    }

    /// A path under the root.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}
