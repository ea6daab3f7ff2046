//! A request to stop, shared between the daemon's signal handler and the
//! job it is running: long jobs look at it at their commit points (between
//! a pull's batches, between sources, between golden-record batches and
//! delivery pages, between a cycle's phases) and end there, leaving nothing
//! half-done; what they skipped is picked up by the next run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Cloned into every job; once [`StopRequest::request`]ed, stays so.
#[derive(Debug, Clone, Default)]
pub struct StopRequest(Arc<Flags>);

#[derive(Debug, Default)]
struct Flags {
    requested: AtomicBool,
    cut_short: AtomicBool,
}

impl StopRequest {
    /// Asks every holder to stop at its next commit point.
    pub fn request(&self) {
        self.0.requested.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was asked for (by whoever waits for the job).
    pub fn is_requested(&self) -> bool {
        self.0.requested.load(Ordering::SeqCst)
    }

    /// Asked at a commit point: whether to stop here. Once it has said
    /// yes, the work was cut short (see [`StopRequest::cut_short`]).
    pub fn stops_here(&self) -> bool {
        let stop = self.0.requested.load(Ordering::SeqCst);
        if stop {
            self.0.cut_short.store(true, Ordering::SeqCst);
        }
        stop
    }

    /// Whether some job stopped early because of this request, so its run
    /// is recorded as interrupted rather than complete.
    pub fn cut_short(&self) -> bool {
        self.0.cut_short.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_reaches_every_clone_and_cuts_short_only_who_stops() {
        let stop = StopRequest::default();
        let job = stop.clone();
        assert!(!job.stops_here());
        stop.request();
        assert!(!stop.cut_short(), "requested, but nobody stopped yet");
        assert!(job.stops_here());
        assert!(stop.cut_short());
    }
}
