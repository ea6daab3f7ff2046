//! A request to stop, shared between the daemon's signal handler and the
//! job it is running: long jobs look at it at their commit points (between
//! a pull's batches, between sources, between a cycle's phases) and end
//! there, leaving nothing half-done.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Cloned into every job; once [`StopRequest::request`]ed, stays so.
#[derive(Debug, Clone, Default)]
pub struct StopRequest(Arc<AtomicBool>);

impl StopRequest {
    /// Asks every holder to stop at its next commit point.
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was asked for.
    pub fn is_requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_reaches_every_clone() {
        let stop = StopRequest::default();
        let job = stop.clone();
        assert!(!job.is_requested());
        stop.request();
        assert!(job.is_requested());
    }
}
