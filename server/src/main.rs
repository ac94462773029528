//! `serve`: serve a local folder over HTTP/1.x. Everything is in the library's `cli` module;
//! `main` only hands over and exits with the code it gets.

fn main() -> std::process::ExitCode {
    server::cli::main()
}
