//! `--watch`, live reload: the folder watched (`inotify.rs`, also what keeps the small-file
//! cache fresh), the browsers waiting for a change held on a thread of their own
//! (`hub.rs`), and the script put into pages (`reload.rs`).

pub(crate) mod hub;
pub(crate) mod inotify;
pub(crate) mod reload;
