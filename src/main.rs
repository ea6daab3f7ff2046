//! The `yici` binary: everything lives in the library; see `yici::cli`.

/// Pulling allocates and frees millions of small maps and strings across
/// threads; mimalloc measured markedly faster than the system allocator there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(yici::cli::main());
}
