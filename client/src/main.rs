//! `fetch`: fetch pages over plain HTTP/1.x from the terminal. Everything is in the library's
//! `cli` module; `main` only hands over the arguments and exits with the code it gets.

fn main() -> std::process::ExitCode {
    let code = client::cli::main(std::env::args_os());
    std::process::ExitCode::from(u8::try_from(code).unwrap_or(1))
}
