//! The daemon's HTTP endpoints: `/healthz` (liveness), `/readyz` (the
//! store answers), `/metrics` (Prometheus text) and `/status` (the `yici
//! status` document). All but health need the bearer `[http] token` when
//! one is configured.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::RwLock;

use crate::config::Config;
use crate::store::{OutboxStatus, RunStatus, Store, StoreError};
use crate::sync::pull::PullReport;

/// The routes, over what the daemon shares with them.
pub fn router(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok\n" }))
        .route("/readyz", axum::routing::get(readyz))
        .route("/metrics", axum::routing::get(metrics))
        .route("/status", axum::routing::get(status))
        .with_state(shared)
}

/// What the endpoints read.
pub struct Shared {
    pub store: Store,
    /// The configuration in force (replaced on SIGHUP).
    pub config: RwLock<Arc<Config>>,
    /// Daemon job name → whether its latest run succeeded.
    pub succeeded: RwLock<BTreeMap<String, bool>>,
    /// What each source's pulls did since the daemon started.
    pub sources: RwLock<BTreeMap<String, SourceTotals>>,
}

/// Counters of one source's pulls since the daemon started (Prometheus
/// counters: they start again at zero with the process).
#[derive(Debug, Default)]
pub struct SourceTotals {
    pulled: u64,
    staged: u64,
    quarantined: u64,
    /// Failed pulls by error class (`config`, `transient`, `data`, …).
    failures: BTreeMap<&'static str, u64>,
    /// Whether the latest pull failed.
    last_failed: bool,
}

impl Shared {
    /// Adds finished pulls to the per-source counters.
    pub async fn record_pulls(&self, reports: &[PullReport]) {
        let mut sources = self.sources.write().await;
        for r in reports {
            let totals = sources.entry(r.source.clone()).or_default();
            totals.pulled += r.pulled;
            totals.staged += r.staged();
            totals.quarantined += r.quarantined;
            totals.last_failed = r.error.is_some();
            if let Some(e) = &r.error {
                *totals.failures.entry(e.class).or_default() += 1;
            }
        }
    }

    /// Whether a request may see more than health: the bearer token when
    /// one is configured (it must be, off loopback).
    async fn allows(&self, headers: &axum::http::HeaderMap) -> bool {
        let config = self.config.read().await;
        let Some(token) = &config.settings.http_token else {
            return true;
        };
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        // Compared in full, whatever the first difference.
        let expected = token.expose().as_bytes();
        given.len() == expected.len()
            && given
                .bytes()
                .zip(expected)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

/// How long `/readyz` waits for the store.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// How long `/metrics` waits for the store's figures (counting a 1M-record
/// store takes about a second; Prometheus gives up after ten by default).
const METRICS_TIMEOUT: Duration = Duration::from_secs(8);

async fn readyz(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
) -> (axum::http::StatusCode, &'static str) {
    // A probe must answer quickly, even while the store's pool waits for
    // a connection.
    match tokio::time::timeout(READY_TIMEOUT, shared.store.ping()).await {
        Ok(Ok(_)) => (axum::http::StatusCode::OK, "ready\n"),
        _ => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "store unreachable\n",
        ),
    }
}

/// The `yici status` document (jobs, last and next runs, queues).
async fn status(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if !shared.allows(&headers).await {
        return (axum::http::StatusCode::UNAUTHORIZED, "token required\n").into_response();
    }
    let config = Arc::clone(&*shared.config.read().await);
    match super::status::snapshot(&config, &shared.store).await {
        Ok(status) => axum::Json(status).into_response(),
        Err(e) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            crate::model::mask::mask_digits_in_text(&format!("{e:#}\n")),
        )
            .into_response(),
    }
}

/// Prometheus text: queue sizes and each job's last outcome.
async fn metrics(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if !shared.allows(&headers).await {
        return (axum::http::StatusCode::UNAUTHORIZED, "token required\n").into_response();
    }
    metrics_text(&shared).await.into_response()
}

async fn metrics_text(shared: &Shared) -> String {
    let mut text = String::new();
    // A scrape must answer while the store is away; its own figures are
    // then left out and `yici_store_up` says why.
    let from_store = tokio::time::timeout(METRICS_TIMEOUT, store_metrics(&shared.store)).await;
    let up = match from_store {
        Ok(Ok(figures)) => {
            text.push_str(&figures);
            true
        }
        _ => false,
    };
    text.push_str(&format!(
        "# TYPE yici_store_up gauge\nyici_store_up {}\n\
         # TYPE yici_build_info gauge\nyici_build_info{{version=\"{}\"}} 1\n",
        u8::from(up),
        env!("CARGO_PKG_VERSION")
    ));
    {
        let sources = shared.sources.read().await;
        text.push_str("# TYPE yici_pull_records_total counter\n");
        for (source, t) in sources.iter() {
            for (outcome, n) in [
                ("pulled", t.pulled),
                ("staged", t.staged),
                ("quarantined", t.quarantined),
            ] {
                text.push_str(&format!(
                    "yici_pull_records_total{{source=\"{source}\",outcome=\"{outcome}\"}} {n}\n"
                ));
            }
        }
        text.push_str("# TYPE yici_pull_failures_total counter\n");
        for (source, t) in sources.iter() {
            for (class, n) in &t.failures {
                text.push_str(&format!(
                    "yici_pull_failures_total{{source=\"{source}\",class=\"{class}\"}} {n}\n"
                ));
            }
        }
        text.push_str("# TYPE yici_source_last_pull_failed gauge\n");
        for (source, t) in sources.iter() {
            text.push_str(&format!(
                "yici_source_last_pull_failed{{source=\"{source}\"}} {}\n",
                u8::from(t.last_failed)
            ));
        }
    }
    text.push_str("# TYPE yici_last_run_succeeded gauge\n");
    for (job, succeeded) in shared.succeeded.read().await.iter() {
        text.push_str(&format!(
            "yici_last_run_succeeded{{job=\"{job}\"}} {}\n",
            u8::from(*succeeded)
        ));
    }
    text
}

/// The figures read from the store: queues, staged and quarantined records,
/// outbox, and each job's last run.
async fn store_metrics(store: &Store) -> Result<String, StoreError> {
    let mut text = String::new();
    {
        let s = store.summary().await?;
        text.push_str(&format!(
            "# TYPE yici_residents gauge\nyici_residents {}\n# TYPE yici_pending_reviews gauge\nyici_pending_reviews {}\n# TYPE yici_quarantined gauge\nyici_quarantined {}\n",
            s.masters, s.pending_reviews, s.quarantined
        ));
        text.push_str("# TYPE yici_staged_records gauge\n");
        for (source, counts) in &s.staged {
            text.push_str(&format!(
                "yici_staged_records{{source=\"{source}\"}} {}\n",
                counts.active
            ));
        }
        text.push_str("# TYPE yici_quarantined_records gauge\n");
        for (source, n) in &s.quarantined_by_source {
            text.push_str(&format!(
                "yici_quarantined_records{{source=\"{source}\"}} {n}\n"
            ));
        }
    }
    {
        let counts = store.outbox_counts().await?;
        text.push_str("# TYPE yici_outbox gauge\n");
        let mut by: BTreeMap<(String, &str), u64> = BTreeMap::new();
        for (target, _, status, n) in counts {
            let status = match status {
                OutboxStatus::Pending => "pending",
                OutboxStatus::Parked => "parked",
                OutboxStatus::Delivered => "delivered",
                OutboxStatus::Superseded => "superseded",
            };
            *by.entry((target, status)).or_default() += n;
        }
        for ((target, status), n) in by {
            text.push_str(&format!(
                "yici_outbox{{target=\"{target}\",status=\"{status}\"}} {n}\n"
            ));
        }
    }
    {
        let runs = store.last_run_per_job().await?;
        text.push_str(
            "# TYPE yici_last_run_duration_seconds gauge\n# TYPE yici_last_run_failed gauge\n",
        );
        for r in runs {
            if let Some(finished) = r.finished_at {
                let seconds = (finished - r.started_at).num_milliseconds() as f64 / 1000.0;
                text.push_str(&format!(
                    "yici_last_run_duration_seconds{{job=\"{}\"}} {seconds}\n",
                    r.job
                ));
            }
            let failed = matches!(r.status, RunStatus::Failed | RunStatus::Interrupted);
            text.push_str(&format!(
                "yici_last_run_failed{{job=\"{}\"}} {}\n",
                r.job,
                u8::from(failed)
            ));
        }
    }
    {
        let successes = store.last_success_per_job().await?;
        text.push_str("# TYPE yici_last_success_timestamp_seconds gauge\n");
        for (job, at) in successes {
            text.push_str(&format!(
                "yici_last_success_timestamp_seconds{{job=\"{job}\"}} {}\n",
                at.timestamp()
            ));
        }
    }
    Ok(text)
}
