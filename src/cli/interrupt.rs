//! Ctrl-C for the long CLI commands (`pull`, `sync`, `reconcile`, `push`):
//! the first asks the work under way to stop at its next commit point, as
//! the daemon does on SIGTERM, so nothing is left half-done; a second quits
//! at once (what was committed stands, as after any crash).

use super::exit;
use crate::stop::StopRequest;

/// A stop request that the first Ctrl-C (SIGINT) sets.
pub fn stop_on_ctrl_c() -> StopRequest {
    let stop = StopRequest::default();
    let requested = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        tracing::warn!("interrupted: stopping at the next commit point (Ctrl-C again to quit now)");
        requested.request();
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(exit::INTERRUPTED);
        }
    });
    stop
}
