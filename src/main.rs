fn main() {
    std::process::exit(yici::cli::main());
}
