//! Pulling one source: read batches from its connector, standardize them on
//! every core, and stage each batch together with the source's cursor.
//!
//! Reading, standardizing and writing overlap: while batch k is written,
//! batch k+1 is standardized and batch k+2 read. Nothing is dropped: every
//! row read ends up staged or quarantined, so `pulled = staged + quarantined`.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tokio::sync::mpsc;

use super::standardize::{prepare, Prepared};
use crate::config::{Connector, Department};
use crate::connector::{self, Batch, ConnectorError, PullMode, PullRequest, Source};
use crate::mapping::Standardizer;
use crate::model::mask_digits_in_text;
use crate::stop::StopRequest;
use crate::store::{RunId, StageCounts, Store, StoreError};

/// What pulling one source did, for the CLI, the run record and metrics.
#[derive(Debug, Clone, Serialize)]
pub struct PullReport {
    pub source: String,
    pub department: Department,
    pub mode: Option<PullMode>,
    /// Rows read from the source (records and unreadable rows).
    pub pulled: u64,
    pub new: u64,
    pub changed: u64,
    pub unchanged: u64,
    /// Keys missing from a complete pull, marked gone (never deleted).
    pub gone: u64,
    pub quarantined: u64,
    /// Earlier quarantined keys that now standardize cleanly.
    pub released: u64,
    pub batches: u64,
    pub seconds: f64,
    /// Why the pull stopped early; earlier batches stay staged with their
    /// cursor, so the next pull resumes after them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<PullFailure>,
}

impl PullReport {
    fn new(source: &str, department: Department) -> Self {
        PullReport {
            source: source.to_string(),
            department,
            mode: None,
            pulled: 0,
            new: 0,
            changed: 0,
            unchanged: 0,
            gone: 0,
            quarantined: 0,
            released: 0,
            batches: 0,
            seconds: 0.0,
            error: None,
        }
    }

    /// Records now staged from this pull (new, changed or unchanged).
    pub fn staged(&self) -> u64 {
        self.new + self.changed + self.unchanged
    }

    fn add(&mut self, counts: &StageCounts) {
        self.new += counts.new;
        self.changed += counts.changed;
        self.unchanged += counts.unchanged;
        self.quarantined += counts.quarantined;
        self.released += counts.released;
    }
}

/// A classified reason a pull stopped.
#[derive(Debug, Clone, Serialize)]
pub struct PullFailure {
    /// `config`, `transient`, `data` or `store`.
    pub class: &'static str,
    pub message: String,
}

// Messages may quote what a source sent (an excerpt of a malformed page):
// long digit runs are masked before they reach logs, output or the run record.
impl From<&ConnectorError> for PullFailure {
    fn from(e: &ConnectorError) -> Self {
        PullFailure {
            class: e.class(),
            message: mask_digits_in_text(&e.to_string()),
        }
    }
}

impl From<&StoreError> for PullFailure {
    fn from(e: &StoreError) -> Self {
        PullFailure {
            class: "store",
            message: e.to_string(),
        }
    }
}

/// Options for one pull.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// Ignore the stored cursor and read the whole source.
    pub full: bool,
    /// Once requested, the pull ends after the batch it is writing (its
    /// rows and cursor committed together), failing as `stopped`.
    pub stop: StopRequest,
}

/// The failure class of a pull ended by a [`StopRequest`].
pub const STOPPED: &str = "stopped";

/// Pulls `connector` into the store under `run_id`. Never fails as a whole:
/// a source that cannot be read or stored is reported in
/// [`PullReport::error`], with everything before the failure kept.
/// `progress` is called with the number of rows read so far.
pub async fn pull_source(
    store: &Store,
    run_id: RunId,
    connector: &Connector,
    standardizer: Arc<Standardizer>,
    options: &PullOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> PullReport {
    let started = Instant::now();
    let mut report = PullReport::new(&connector.name, connector.department);
    let opened = async {
        let cursor = store
            .cursor(&connector.name)
            .await
            .map_err(|e| PullFailure::from(&e))?;
        let request = PullRequest {
            cursor,
            full: options.full,
        };
        connector::open_source(connector, request)
            .await
            .map_err(|e| PullFailure::from(&e))
    };
    let result = match opened.await {
        Ok(source) => {
            stage_from(
                store,
                run_id,
                &connector.name,
                source,
                standardizer,
                (progress, &options.stop),
                &mut report,
            )
            .await
        }
        Err(failure) => Err(failure),
    };
    finish(&mut report, result, started);
    report
}

/// Stages everything `source` delivers as `source_name`; the part of a pull
/// after the connector is open (tests drive it with sources of their own).
pub async fn pull_from(
    store: &Store,
    run_id: RunId,
    source_name: &str,
    department: Department,
    source: Box<dyn Source>,
    standardizer: Arc<Standardizer>,
) -> PullReport {
    let started = Instant::now();
    let mut report = PullReport::new(source_name, department);
    let result = stage_from(
        store,
        run_id,
        source_name,
        source,
        standardizer,
        (&|_| {}, &StopRequest::default()),
        &mut report,
    )
    .await;
    finish(&mut report, result, started);
    report
}

fn finish(report: &mut PullReport, result: Result<(), PullFailure>, started: Instant) {
    if let Err(failure) = result {
        tracing::warn!(source = %report.source, class = failure.class, error = %failure.message, "Pull stopped.");
        report.error = Some(failure);
    }
    report.seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        source = %report.source,
        pulled = report.pulled,
        new = report.new,
        changed = report.changed,
        unchanged = report.unchanged,
        gone = report.gone,
        quarantined = report.quarantined,
        seconds = report.seconds,
        "Pulled source."
    );
}

async fn stage_from(
    store: &Store,
    run_id: RunId,
    name: &str,
    mut source: Box<dyn Source>,
    standardizer: Arc<Standardizer>,
    (progress, stop): (&(dyn Fn(u64) + Sync), &StopRequest),
    report: &mut PullReport,
) -> Result<(), PullFailure> {
    let mode = source.mode();
    report.mode = Some(mode);

    // Reader task: keeps the next batches coming while this task writes.
    let (tx, mut rx) = mpsc::channel::<Result<Batch, ConnectorError>>(2);
    let mut reader = AbortOnDrop(tokio::spawn(async move {
        loop {
            let next = source.next_batch().await;
            let stop = !matches!(next, Ok(Some(_)));
            let item = match next {
                Ok(Some(batch)) => Ok(batch),
                Ok(None) => break,
                Err(e) => Err(e),
            };
            if tx.send(item).await.is_err() || stop {
                break;
            }
        }
    }));

    let mut pending: Option<tokio::task::JoinHandle<Prepared>> = None;
    let mut failure = None;
    loop {
        let next = rx.recv().await;
        let handle = match next {
            Some(Ok(batch)) => {
                let standardizer = Arc::clone(&standardizer);
                Some(tokio::task::spawn_blocking(move || {
                    prepare(batch, &standardizer)
                }))
            }
            Some(Err(e)) => {
                failure = Some(PullFailure::from(&e));
                None
            }
            None => None,
        };
        let done = handle.is_none();
        if let Some(previous) = std::mem::replace(&mut pending, handle) {
            write(store, run_id, name, previous, report, progress).await?;
        }
        if done {
            break;
        }
        // A commit point: what is written stays, with its cursor; the batch
        // being standardized is read again by the next pull.
        if stop.stops_here() {
            return Err(PullFailure {
                class: STOPPED,
                message: format!(
                    "stopped after {} rows at a commit point; the next pull resumes there",
                    report.pulled
                ),
            });
        }
    }
    if let Some(failure) = failure {
        return Err(failure);
    }
    // The channel also closes when the reader dies: only a reader that ran
    // to the end of the source makes this a complete pull.
    if let Err(e) = (&mut reader.0).await {
        return Err(PullFailure {
            class: "data",
            message: format!("the connector stopped unexpectedly: {e}"),
        });
    }
    if mode == PullMode::Snapshot {
        report.gone = store
            .mark_gone(name, run_id, run_id)
            .await
            .map_err(|e| PullFailure::from(&e))?;
    }
    Ok(())
}

async fn write(
    store: &Store,
    run_id: RunId,
    source: &str,
    prepared: tokio::task::JoinHandle<Prepared>,
    report: &mut PullReport,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(), PullFailure> {
    let prepared = prepared.await.map_err(|e| PullFailure {
        class: "data",
        message: format!("standardizing a batch failed: {e}"),
    })?;
    let counts = prepared
        .stage(store, source, run_id)
        .await
        .map_err(|e| PullFailure::from(&e))?;
    report.add(&counts);
    report.pulled += prepared.rows;
    report.batches += 1;
    progress(report.pulled);
    Ok(())
}

/// Stops the reader task when the pull returns early, so a failed write does
/// not leave a connection reading on in the background.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
