//! Ctrl-C for the long CLI commands (`pull`, `sync`, `reconcile`, `push`):
//! the first asks the work under way to stop at its next commit point, as
//! the daemon does on SIGTERM, so nothing is left half-done; a second quits
//! at once (what was committed stands, as after any crash). Also the
//! SIGTERM/SIGINT pair the long-running commands wait for.

use anyhow::{Context, Result};
use tokio::signal::unix::{signal, Signal, SignalKind};

use super::exit;
use crate::stop::StopRequest;

/// SIGTERM and SIGINT, which both ask a long-running process (the daemon,
/// the sample HR API) to stop.
pub struct StopSignals {
    term: Signal,
    int: Signal,
}

impl StopSignals {
    pub fn new() -> Result<StopSignals> {
        Ok(StopSignals {
            term: signal(SignalKind::terminate()).context("handling SIGTERM")?,
            int: signal(SignalKind::interrupt()).context("handling SIGINT")?,
        })
    }

    /// The next SIGTERM or SIGINT.
    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

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
