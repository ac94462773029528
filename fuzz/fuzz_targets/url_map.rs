//! URL → file under the root: whatever the target, nothing outside the root (or hidden)
//! is ever mapped, and a redirect is always a local path.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use server::fuzz::jail::{self, Jail, Mapped};

// The same fixture as the tests' (one copy of it): a root with a secret beside it.
#[allow(dead_code)] // The fuzz target needs only the root, not every helper of the fixture.
#[path = "../../tests/support/jail.rs"]
mod fixture;

struct Site {
    fixture: fixture::Jail,
    jail: jail::Root,
}

fn site() -> &'static Site {
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(|| {
        let fixture = fixture::Jail::new();
        let jail = jail::Root::open(fixture.root.clone());
        Site { fixture, jail }
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
    match jail::map(&s.jail, target, Jail::default()) {
        Ok(Mapped::File { path, .. }) | Ok(Mapped::Dir { path }) => {
            let rel = path.strip_prefix(&s.fixture.root).expect("mapped outside the root");
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
