//! Development tasks, the `cargo xtask` way (an ordinary binary of the workspace, run through
//! the alias in `.cargo/config.toml`):
//!
//! `cargo xtask dist [DIR]` writes the shell completions and man pages of `fetch` and
//! `serve`, generated from their clap definitions, under DIR (default: `target/dist` in the
//! workspace):
//!
//! ```text
//! DIR/completions/fetch.bash  DIR/completions/_fetch  DIR/completions/fetch.fish
//! DIR/completions/serve.bash  DIR/completions/_serve  DIR/completions/serve.fish
//! DIR/man/fetch.1             DIR/man/serve.1
//! ```

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

const USAGE: &str =
    "usage: cargo xtask dist [DIR]   (shell completions and man pages; default DIR: target/dist)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["dist"] => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/dist"),
        ["dist", dir] => PathBuf::from(dir),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match dist(&dir) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xtask: cannot write under {}: {e}", dir.display());
            ExitCode::from(1)
        }
    }
}

/// The commands to document: fetch's and serve's clap definitions.
fn commands() -> [clap::Command; 2] {
    [client::cli::Args::command(), server::cli::Args::command()]
}

/// Writes the completions and man pages under `dir`; returns the files written.
fn dist(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let completions = dir.join("completions");
    let man = dir.join("man");
    std::fs::create_dir_all(&completions)?;
    std::fs::create_dir_all(&man)?;
    let mut written = Vec::new();
    for mut cmd in commands() {
        let name = cmd.get_name().to_string();
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            written.push(clap_complete::generate_to(
                shell,
                &mut cmd,
                &name,
                &completions,
            )?);
        }
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut page)?;
        let path = man.join(format!("{name}.1"));
        std::fs::write(&path, page)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_and_man_pages_for_both_programs() {
        let dir = std::env::temp_dir().join(format!("xtask-dist-{}", std::process::id()));
        let files = dist(&dir).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|f| f.strip_prefix(&dir).unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "completions/fetch.bash",
                "completions/_fetch",
                "completions/fetch.fish",
                "man/fetch.1",
                "completions/serve.bash",
                "completions/_serve",
                "completions/serve.fish",
                "man/serve.1",
            ]
        );
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
        // Each carries the program's own flags.
        for (file, flag) in [
            ("completions/fetch.bash", "--max-redirs"),
            ("completions/_fetch", "--compressed"),
            ("completions/fetch.fish", "unix-socket"),
            ("completions/serve.bash", "--reuse-port"),
            ("completions/_serve", "--directory"),
            ("completions/serve.fish", "unix-mode"),
        ] {
            assert!(read(file).contains(flag), "{file} lacks {flag}");
        }
        assert!(read("man/fetch.1").starts_with(".ie \\n(.g .ds Aq"));
        assert!(read("man/fetch.1").contains(".TH fetch 1"));
        assert!(read("man/serve.1").contains(".TH serve 1"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
