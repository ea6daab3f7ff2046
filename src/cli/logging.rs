//! Log set-up: human-readable lines on stderr (on a terminal), JSON lines
//! under systemd's journal or when asked; level from -v/-q or `YICI_LOG`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// JSON under systemd's journal (`JOURNAL_STREAM`) when stderr is not a
    /// terminal, human lines otherwise.
    Auto,
    Human,
    Json,
}

/// Installs the global subscriber. `YICI_LOG` (same syntax as `RUST_LOG`)
/// wins over the flags so an operator can turn up one module only.
pub fn init(verbose: u8, quiet: bool, format: LogFormat) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn,yici=info",
        (false, 1) => "info,yici=debug",
        (false, _) => "debug,yici=trace",
    };
    let filter = EnvFilter::try_from_env("YICI_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Human => false,
        LogFormat::Auto => {
            std::env::var_os("JOURNAL_STREAM").is_some() && !std::io::stderr().is_terminal()
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
