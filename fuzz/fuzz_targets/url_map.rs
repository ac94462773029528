//! URL → file under the root: whatever the target, nothing outside the root (or hidden)
//! is ever mapped, and a redirect is always a local path.
#![no_main]
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use server::files::{self, Jail, Mapped};

struct Site {
    _dir: tempfile::TempDir,
    root: PathBuf,
    jail: files::Root,
}

fn site() -> &'static Site {
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let root = base.join("root");
        std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::write(root.join("index.html"), "home").unwrap();
        std::fs::write(root.join("sub/a b.txt"), "a").unwrap();
        std::fs::write(root.join(".env"), "hidden").unwrap();
        std::fs::write(base.join("secret.txt"), "secret").unwrap();
        std::os::unix::fs::symlink(base.join("secret.txt"), root.join("out")).unwrap();
        std::os::unix::fs::symlink(&base, root.join("up")).unwrap();
        let jail = files::Root::open(root.clone());
        Site { _dir: dir, root, jail }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(target) = std::str::from_utf8(data) else { return };
    // Only what a parsed request can carry: the request parser refuses control bytes and
    // spaces in a target (so no CR or LF can reach a Location header).
    if target.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return;
    }
    let s = site();
    match files::map(&s.jail, target, Jail::default()) {
        Ok(Mapped::File { path, .. }) | Ok(Mapped::Dir { path }) => {
            let rel = path.strip_prefix(&s.root).expect("mapped outside the root");
            assert!(
                !rel.components().any(|c| c.as_os_str().to_string_lossy().starts_with('.')),
                "hidden or parent component mapped: {rel:?}"
            );
        }
        Ok(Mapped::Redirect(to)) => {
            assert!(to.starts_with('/') && !to.starts_with("//"), "redirect {to:?}");
            assert!(!to.contains('\r') && !to.contains('\n'), "header injection {to:?}");
        }
        Err(_) => {}
    }
});
