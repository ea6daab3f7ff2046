//! `yici run`: the daemon. Runs each scheduled job when due (one at a
//! time, so never two runs of one job), serves `/healthz`, `/readyz`,
//! `/metrics` and `/status` on `[http] listen` (loopback by default; a
//! bearer `[http] token` guards all but health), tells systemd
//! when it is ready (`Type=notify`), stops on SIGTERM/SIGINT once the
//! running job has reached its next commit point (or abandons it after
//! `--stop-timeout`), and re-reads its configuration on SIGHUP (keeping the
//! old one, with the error logged, if the new is invalid). A store that
//! stops answering fails the running job, not the daemon.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::Utc;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::RwLock;

use super::context::{self, Standardizers};
use super::lock::JobLock;
use super::{exit, pull, push, reconcile, Cli, Output};
use crate::config::Config;
use crate::daemon::{first_due, jobs, next_due, Job, JobKind};
use crate::model::mask::mask_digits_in_text;
use crate::store::{OutboxStatus, RunStatus, Store};
use crate::sync::pull::{PullOptions, PullReport};
use crate::sync::StopRequest;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Serve health and metrics here instead of `[http] listen`.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<std::net::SocketAddr>,
    /// On SIGTERM or SIGINT, how long the running job may take to reach
    /// its next commit point before it is abandoned (the next run redoes
    /// what it had not committed). Keep it below systemd's TimeoutStopSec.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub stop_timeout: u64,
}

/// Sends a state line to systemd when it started us (`NOTIFY_SOCKET`).
fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let socket = match std::os::unix::net::UnixDatagram::unbound() {
        Ok(s) => s,
        Err(_) => return,
    };
    let path = path.to_string_lossy().into_owned();
    let sent = if let Some(name) = path.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
            .and_then(|addr| socket.send_to_addr(state.as_bytes(), &addr))
    } else {
        socket.send_to(state.as_bytes(), &path)
    };
    if let Err(e) = sent {
        tracing::debug!("systemd notification failed: {e}");
    }
}

/// What the endpoints read.
struct Shared {
    store: Store,
    /// The configuration in force (replaced on SIGHUP).
    config: RwLock<Arc<Config>>,
    /// Job name → (last outcome, when).
    last: RwLock<BTreeMap<String, (String, String)>>,
    /// What each source's pulls did since the daemon started.
    sources: RwLock<BTreeMap<String, SourceTotals>>,
}

/// Counters of one source's pulls since the daemon started (Prometheus
/// counters: they start again at zero with the process).
#[derive(Debug, Default)]
struct SourceTotals {
    pulled: u64,
    staged: u64,
    quarantined: u64,
    /// Failed pulls by error class (`config`, `transient`, `data`, …).
    failures: BTreeMap<&'static str, u64>,
    /// Whether the latest pull failed.
    last_failed: bool,
}

impl Shared {
    async fn record_pulls(&self, reports: &[PullReport]) {
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

pub async fn run(cli: &Cli, args: &RunArgs, _out: &Output) -> Result<i32> {
    let (config, standardizers) = context::load_with_standardizers(cli)?;
    let store = context::open_store(&config).await?;
    let daemon_lock = JobLock::acquire_daemon(&store).await?;
    // Runs this host's killed processes (an earlier daemon) left running.
    store.mark_abandoned_runs(false).await?;
    let shared = Arc::new(Shared {
        store: store.clone(),
        config: RwLock::new(Arc::new(config.clone())),
        last: RwLock::new(BTreeMap::new()),
        sources: RwLock::new(BTreeMap::new()),
    });
    let listen = args.listen.unwrap_or(config.settings.http_listen);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let app = axum::Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok\n" }))
        .route("/readyz", axum::routing::get(readyz))
        .route("/metrics", axum::routing::get(metrics))
        .route("/status", axum::routing::get(status))
        .with_state(Arc::clone(&shared));
    tokio::spawn(async move { axum::serve(listener, app).await });
    tracing::info!(%listen, "yici run: serving /healthz, /readyz and /metrics");

    let mut signals = Signals::new()?;
    let mut daemon = Daemon {
        schedule: due_times(&store, jobs(&config)).await?,
        config,
        standardizers,
        stop: StopRequest::default(),
        stop_timeout: Duration::from_secs(args.stop_timeout),
    };
    notify("READY=1\nSTATUS=scheduling");
    loop {
        let next = daemon.next();
        let wait = next
            .as_ref()
            .map(|(d, _)| (*d - Utc::now()).to_std().unwrap_or_default())
            .unwrap_or(HEARTBEAT)
            .min(HEARTBEAT);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = signals.stop.recv() => break,
            _ = signals.hup.recv() => {
                daemon.reload(cli, &store, &shared).await;
                continue;
            }
        }
        heartbeat(&store, &daemon_lock).await?;
        let Some((due, job)) = next else { continue };
        if due > Utc::now() {
            continue;
        }
        let reload = daemon
            .run_due(cli, &store, &shared, &daemon_lock, &mut signals, job)
            .await?;
        if daemon.stop.is_requested() {
            break;
        }
        if reload {
            daemon.reload(cli, &store, &shared).await;
        }
    }
    notify("STOPPING=1");
    if let Err(e) = daemon_lock.release(&store).await {
        tracing::warn!("could not release the daemon lock: {e:#}");
    }
    tracing::info!("yici run: stopped");
    store.close().await;
    Ok(exit::OK)
}

/// How often the loop wakes when nothing is due, and pings the watchdog
/// while a job runs (the unit's `WatchdogSec` is a multiple of it).
const HEARTBEAT: Duration = Duration::from_secs(30);

/// The signals the daemon answers.
struct Signals {
    stop: StopSignals,
    hup: tokio::signal::unix::Signal,
}

/// SIGTERM and SIGINT, which both stop the daemon.
struct StopSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> Result<Signals> {
        Ok(Signals {
            stop: StopSignals {
                term: signal(SignalKind::terminate()).context("handling SIGTERM")?,
                int: signal(SignalKind::interrupt()).context("handling SIGINT")?,
            },
            hup: signal(SignalKind::hangup()).context("handling SIGHUP")?,
        })
    }
}

impl StopSignals {
    /// The next SIGTERM or SIGINT.
    async fn recv(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}

/// Tells systemd's watchdog the loop is alive and extends the daemon's
/// lease. A store that does not answer is logged, not fatal: jobs fail
/// until it is back.
async fn heartbeat(store: &Store, lock: &JobLock) -> Result<()> {
    notify("WATCHDOG=1");
    match lock.renew(store).await {
        Ok(true) => Ok(()),
        Ok(false) => anyhow::bail!("lost the daemon lock to another process"),
        Err(e) => {
            tracing::warn!("the store does not answer: {e}");
            Ok(())
        }
    }
}

/// The scheduler's state: the configuration in force and when each job is
/// next due.
struct Daemon {
    config: Config,
    standardizers: Standardizers,
    schedule: Vec<(Job, Option<chrono::DateTime<Utc>>)>,
    /// Requested on SIGTERM/SIGINT; the running job honours it.
    stop: StopRequest,
    /// How long the running job may take to reach a commit point once
    /// stopped, before it is abandoned.
    stop_timeout: Duration,
}

impl Daemon {
    /// The job due soonest, with when.
    fn next(&self) -> Option<(chrono::DateTime<Utc>, Job)> {
        self.schedule
            .iter()
            .filter_map(|(job, due)| due.map(|d| (d, job)))
            .min_by_key(|(d, _)| *d)
            .map(|(d, job)| (d, job.clone()))
    }

    /// Re-reads the configuration; keeps the old one if the new is invalid.
    async fn reload(&mut self, cli: &Cli, store: &Store, shared: &Shared) {
        let loaded = match context::load_with_standardizers(cli) {
            Ok(loaded) => loaded,
            Err(e) => {
                tracing::error!("the new configuration is invalid; keeping the old one: {e:#}");
                return;
            }
        };
        let schedule = match due_times(store, jobs(&loaded.0)).await {
            Ok(schedule) => schedule,
            Err(e) => {
                tracing::error!("cannot re-read the configuration while the store does not answer; keeping the old one: {e:#}");
                return;
            }
        };
        tracing::info!("configuration re-read");
        (self.config, self.standardizers) = loaded;
        self.schedule = schedule;
        *shared.config.write().await = Arc::new(self.config.clone());
    }

    /// Runs `job` while still answering signals: SIGTERM/SIGINT ask it to
    /// stop at its next commit point and abandon it after the stop timeout
    /// (what it committed stands; the rest is redone by the next run);
    /// SIGHUP is answered after it. Returns whether to reload.
    async fn run_due(
        &mut self,
        cli: &Cli,
        store: &Store,
        shared: &Shared,
        lock: &JobLock,
        signals: &mut Signals,
        job: Job,
    ) -> Result<bool> {
        let name = job.kind.name();
        let started = Utc::now();
        notify(&format!("STATUS=running {name}"));
        let mut pulls = Vec::new();
        let mut reload = false;
        let outcome = {
            let running = run_job(
                cli,
                &self.config,
                &self.standardizers,
                store,
                &job.kind,
                &self.stop,
                &mut pulls,
            );
            tokio::pin!(running);
            let mut deadline: Option<tokio::time::Instant> = None;
            let mut ticks = tokio::time::interval_at(
                tokio::time::Instant::now() + HEARTBEAT,
                HEARTBEAT,
            );
            loop {
                tokio::select! {
                    outcome = &mut running => break Some(outcome),
                    _ = signals.stop.recv(), if deadline.is_none() => {
                        tracing::info!(job = %name, timeout = ?self.stop_timeout, "stopping: the running job ends at its next commit point");
                        notify(&format!("STATUS=stopping: waiting for {name}"));
                        self.stop.request();
                        deadline = Some(tokio::time::Instant::now() + self.stop_timeout);
                    }
                    _ = signals.hup.recv() => reload = true,
                    _ = ticks.tick() => heartbeat(store, lock).await?,
                    _ = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)), if deadline.is_some() => {
                        tracing::warn!(job = %name, "the job did not reach a commit point in time; abandoned (the next run redoes it)");
                        break None;
                    }
                }
            }
        };
        let finished = Utc::now();
        // A run that could not record its end (the store went away, or it
        // was abandoned) is marked interrupted once the store answers.
        if let Err(e) = store.mark_abandoned_runs(true).await {
            tracing::warn!("could not mark abandoned runs: {e}");
        }
        shared.record_pulls(&pulls).await;
        let line = match &outcome {
            Some(Ok(())) => "succeeded".to_owned(),
            Some(Err(e)) => {
                tracing::error!(job = %name, "run failed: {e:#}");
                format!("failed: {}", mask_digits_in_text(&format!("{e:#}")))
            }
            None => "abandoned at shutdown".to_owned(),
        };
        shared
            .last
            .write()
            .await
            .insert(name.clone(), (line, crate::store::timestamp(finished)));
        let (next, overran) = next_due(&job.schedule, started, finished);
        if overran {
            tracing::warn!(job = %name, "the run overran its next slot; that slot is skipped");
        }
        if let Some(entry) = self.schedule.iter_mut().find(|(j, _)| j.kind == job.kind) {
            entry.1 = next;
        }
        notify("STATUS=scheduling");
        Ok(reload)
    }
}

/// Each job with when it is first due (slots missed while down run once).
async fn due_times(
    store: &Store,
    jobs: Vec<Job>,
) -> Result<Vec<(Job, Option<chrono::DateTime<Utc>>)>> {
    let last: BTreeMap<String, chrono::DateTime<Utc>> = store
        .last_run_per_job()
        .await?
        .into_iter()
        .map(|r| (r.job, r.started_at))
        .collect();
    let now = Utc::now();
    Ok(jobs
        .into_iter()
        .map(|job| {
            let due = first_due(&job.schedule, last.get(job.kind.run_name()).copied(), now);
            (job, due)
        })
        .collect())
}

/// Runs one job. A source that fails does not stop the others, nor the
/// rest of a cycle; the job then ends as failed, naming it, and runs again
/// at its next slot. Pull reports are appended to `pulls` as they come.
async fn run_job(
    cli: &Cli,
    config: &Config,
    standardizers: &Standardizers,
    store: &Store,
    kind: &JobKind,
    stop: &StopRequest,
    pulls: &mut Vec<PullReport>,
) -> Result<()> {
    let quiet = Output::new(true);
    let options = PullOptions {
        stop: stop.clone(),
        ..PullOptions::default()
    };
    let stopped = || anyhow::anyhow!("stopped at a commit point: the daemon is shutting down");
    let pull = |names: Vec<String>| {
        let options = options.clone();
        let quiet = &quiet;
        async move {
            let connectors = context::select(config, &names)?;
            let (_, reports) =
                pull::pull_all(store, &connectors, standardizers, options, cli, quiet).await?;
            anyhow::Ok(reports)
        }
    };
    match kind {
        JobKind::Sync => {
            pulls.extend(pull(Vec::new()).await?);
            if stop.is_requested() {
                return Err(stopped());
            }
            reconcile::reconcile(config, store, false).await?;
            if stop.is_requested() {
                return Err(stopped());
            }
            push::push(config, store, &[]).await?;
        }
        JobKind::Resolve => {
            reconcile::reconcile(config, store, false).await?;
        }
        JobKind::Push => {
            push::push(config, store, &[]).await?;
        }
        JobKind::Pull(source) => {
            pulls.extend(pull(vec![source.clone()]).await?);
        }
    }
    let problems: Vec<String> = pulls
        .iter()
        .filter_map(|r| {
            r.error
                .as_ref()
                .map(|e| format!("{}: {} error: {}", r.source, e.class, e.message))
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(anyhow::anyhow!(problems.join("; ")))
    }
}

/// How long `/readyz` waits for the store.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

async fn readyz(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
) -> (axum::http::StatusCode, &'static str) {
    // A probe must answer quickly, even while the store's pool waits for
    // a connection.
    match tokio::time::timeout(READY_TIMEOUT, shared.store.summary()).await {
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
    if let Ok(s) = shared.store.summary().await {
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
    if let Ok(counts) = shared.store.outbox_counts().await {
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
    if let Ok(runs) = shared.store.last_run_per_job().await {
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
    if let Ok(successes) = shared.store.last_success_per_job().await {
        text.push_str("# TYPE yici_last_success_timestamp_seconds gauge\n");
        for (job, at) in successes {
            text.push_str(&format!(
                "yici_last_success_timestamp_seconds{{job=\"{job}\"}} {}\n",
                at.timestamp()
            ));
        }
    }
    text.push_str("# TYPE yici_last_run_succeeded gauge\n");
    for (job, (outcome, _)) in shared.last.read().await.iter() {
        text.push_str(&format!(
            "yici_last_run_succeeded{{job=\"{job}\"}} {}\n",
            u8::from(outcome == "succeeded")
        ));
    }
    text
}
