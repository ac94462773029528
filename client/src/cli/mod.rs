//! The `fetch` command line, built on the library (the `cli` feature, on by default; the
//! library itself never needs it). Two phases, as in ripgrep: the flags as typed
//! ([`Args`], `args.rs`) are checked and turned into a [`Config`] (`config.rs`), then
//! [`run`] (`batch.rs`) fetches every target, each one a transfer (`transfer.rs`; its
//! retries, resume and decoding in `retry.rs`, `resume.rs` and `decode.rs`), writing bodies
//! through `output.rs` in the order `order.rs` keeps, and reports through `report.rs` and
//! `progress.rs`.

use std::ffi::OsString;
use std::io::{self, Write};

use crate::error::Error;

mod args;
mod batch;
mod config;
mod curl_options;
mod curlrc;
mod data;
mod decode;
mod dump;
mod form;
mod glob;
mod idn;
mod mirror;
mod netrc;
mod next;
mod order;
mod output;
mod progress;
mod proto;
mod report;
mod resume;
mod retry;
mod tls;
mod tracefile;
mod transfer;
mod upload;
mod userinfo;
mod verbose;
mod writeout;

pub use args::Args;
pub use batch::run;
pub use config::{Config, DestSpec};
#[doc(hidden)]
pub use mirror::fuzz as mirror_fuzz;
pub use output::Dest;

/// The whole command: parse `args`, fetch every target, and return the exit code.
pub fn main(args: impl IntoIterator<Item = OsString>) -> i32 {
    let args: Vec<OsString> = args.into_iter().collect();
    let known = curl_options::Known::of(&<Args as clap::CommandFactory>::command());
    let args = match curlrc::expand(args, &known) {
        Ok(args) => args,
        Err(e) => {
            print_error(&e);
            return e.exit_code();
        }
    };
    if let Err(e) = curl_options::refuse_missing(&args, &known) {
        print_error(&e);
        return 2;
    }
    // `--next` (`-:`): each part is an operation of its own. As in curl, the whole line is
    // checked before anything is fetched, and a cookie engine is shared by all parts.
    let mut configs = Vec::new();
    let mut jar = None;
    for part in next::split(args, &known) {
        let args = match Args::parse_ordered(part) {
            Ok(args) => args,
            Err(e) if !e.use_stderr() => {
                // --help and --version: clap prints them; a closed stdout is fine.
                let _ = e.print();
                return 0;
            }
            Err(e) => {
                print_error(&Error::Usage(args::clap_message(&e)));
                return 2;
            }
        };
        if let Some(file) = &args.stderr
            && let Err(e) = redirect_stderr(file)
        {
            print_error(&e);
            return e.exit_code();
        }
        match Config::from_args_sharing(args, &mut jar) {
            Ok(c) => configs.push(c),
            Err(e) => {
                print_error(&e);
                return e.exit_code();
            }
        }
    }
    // The exit code of the first part that failed, as for targets within a part.
    configs
        .iter()
        .map(|c| {
            if c.mirror.is_some() {
                mirror::run(c)
            } else {
                run(c)
            }
        })
        .fold(0, |first, code| if first != 0 { first } else { code })
}

/// `--stderr FILE`: from now on, everything written to stderr goes to FILE (truncated;
/// `-`: stdout), as curl does, messages about the command line included.
fn redirect_stderr(file: &std::path::Path) -> Result<(), Error> {
    let fail = |e: io::Error| Error::Write {
        what: file.display().to_string(),
        reason: shared::io_words(&e),
    };
    if file.as_os_str() == "-" {
        return rustix::stdio::dup2_stderr(io::stdout()).map_err(|e| fail(e.into()));
    }
    let f = std::fs::File::create(file).map_err(fail)?;
    rustix::stdio::dup2_stderr(&f).map_err(|e| fail(e.into()))
}

/// Prints `fetch: <error>` on stderr, as one line.
fn print_error(e: &Error) {
    let text = e.to_string().replace(['\n', '\r'], " ");
    let _ = writeln!(io::stderr(), "fetch: {text}");
}
