fn main() {
    eprintln!("serve: not built yet (the foundation is in place; see issue 3)");
    std::process::exit(1);
}
