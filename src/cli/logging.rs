//! Log set-up: human-readable lines on stderr, level from -v/-q or `YICI_LOG`.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `YICI_LOG` (same syntax as `RUST_LOG`)
/// wins over the flags so an operator can turn up one module only.
pub fn init(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn,yici=info",
        (false, 1) => "info,yici=debug",
        (false, _) => "debug,yici=trace",
    };
    let filter = EnvFilter::try_from_env("YICI_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
