fn main() {
    eprintln!("fetch: not built yet (the foundation is in place; see issue 5)");
    std::process::exit(1);
}
