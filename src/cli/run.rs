//! `yici run`: the daemon. Runs each scheduled job when due (one at a
//! time, so never two runs of one job), serves `/healthz`, `/readyz`,
//! `/metrics` and `/status` on `[http] listen` (loopback by default; a
//! bearer `[http] token` guards all but health), tells systemd
//! when it is ready (`Type=notify`), stops on SIGTERM/SIGINT once the
//! running job has finished, and re-reads its configuration on SIGHUP
//! (keeping the old one, with the error logged, if the new is invalid).

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::Utc;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::RwLock;

use super::context::{self, Standardizers};
use super::lock::JobLock;
use super::{exit, pull, push, reconcile, Cli, Output};
use crate::config::Config;
use crate::daemon::{first_due, jobs, next_due, Job, JobKind};
use crate::store::{OutboxStatus, RunStatus, Store};
use crate::sync::pull::PullOptions;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Serve health and metrics here instead of `[http] listen`.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<std::net::SocketAddr>,
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
}

impl Shared {
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
    let (mut config, mut standardizers) = context::load_with_standardizers(cli)?;
    let store = context::open_store(&config).await?;
    let daemon_lock = JobLock::acquire_daemon(&store).await?;
    let shared = Arc::new(Shared {
        store: store.clone(),
        config: RwLock::new(Arc::new(config.clone())),
        last: RwLock::new(BTreeMap::new()),
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

    let mut term = signal(SignalKind::terminate()).context("handling SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("handling SIGINT")?;
    let mut hup = signal(SignalKind::hangup()).context("handling SIGHUP")?;
    let mut schedule = due_times(&store, jobs(&config)).await?;
    notify("READY=1\nSTATUS=scheduling");
    loop {
        let now = Utc::now();
        let next = schedule
            .iter()
            .filter_map(|(job, due)| due.map(|d| (d, job)))
            .min_by_key(|(d, _)| *d)
            .map(|(d, job)| (d, job.clone()));
        let wait = next
            .as_ref()
            .map(|(d, _)| (*d - now).to_std().unwrap_or_default())
            .unwrap_or(std::time::Duration::from_secs(3600))
            .min(std::time::Duration::from_secs(30));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {
                notify("WATCHDOG=1");
                daemon_lock.renew(&store).await?;
                let Some((due, job)) = next else { continue };
                if due > Utc::now() {
                    continue;
                }
                let started = Utc::now();
                notify(&format!("STATUS=running {}", job.kind.name()));
                let outcome = run_job(cli, &config, &standardizers, &store, &job.kind).await;
                let finished = Utc::now();
                let (next, overran) = next_due(&job.schedule, started, finished);
                if overran {
                    tracing::warn!(job = %job.kind.name(), "the run overran its next slot; that slot is skipped");
                }
                let line = match &outcome {
                    Ok(()) => "succeeded".to_owned(),
                    Err(e) => {
                        tracing::error!(job = %job.kind.name(), "run failed: {e:#}");
                        format!("failed: {}", crate::model::mask::mask_digits_in_text(&format!("{e:#}")))
                    }
                };
                shared.last.write().await.insert(job.kind.name(), (line, crate::store::timestamp(finished)));
                if let Some(entry) = schedule.iter_mut().find(|(j, _)| j.kind == job.kind) {
                    entry.1 = next;
                }
                notify("STATUS=scheduling");
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                match context::load_with_standardizers(cli) {
                    Ok((new, compiled)) => {
                        tracing::info!("configuration re-read");
                        config = new;
                        standardizers = compiled;
                        *shared.config.write().await = Arc::new(config.clone());
                        schedule = due_times(&store, jobs(&config)).await?;
                    }
                    Err(e) => tracing::error!("the new configuration is invalid; keeping the old one: {e:#}"),
                }
            }
        }
    }
    notify("STOPPING=1");
    daemon_lock.release(&store).await?;
    tracing::info!("yici run: stopped");
    store.close().await;
    Ok(exit::OK)
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

async fn run_job(
    cli: &Cli,
    config: &Config,
    standardizers: &Standardizers,
    store: &Store,
    kind: &JobKind,
) -> Result<()> {
    let quiet = Output::new(true);
    let all = |names: &[String]| context::select(config, names);
    // A source that fails does not stop the others, nor the rest of a
    // cycle; the job then ends as failed, naming it, and runs again at its
    // next slot.
    let failed = |reports: &[crate::sync::pull::PullReport]| -> Vec<String> {
        reports
            .iter()
            .filter_map(|r| {
                r.error
                    .as_ref()
                    .map(|e| format!("{}: {} error: {}", r.source, e.class, e.message))
            })
            .collect()
    };
    let mut problems = Vec::new();
    match kind {
        JobKind::Sync => {
            let connectors = all(&[])?;
            let (_, reports) = pull::pull_all(
                store,
                &connectors,
                standardizers,
                PullOptions::default(),
                cli,
                &quiet,
            )
            .await?;
            problems.extend(failed(&reports));
            reconcile::reconcile(config, store, false).await?;
            push::push(config, store, &[]).await?;
        }
        JobKind::Resolve => {
            reconcile::reconcile(config, store, false).await?;
        }
        JobKind::Push => {
            push::push(config, store, &[]).await?;
        }
        JobKind::Pull(source) => {
            let connectors = all(std::slice::from_ref(source))?;
            let (_, reports) = pull::pull_all(
                store,
                &connectors,
                standardizers,
                PullOptions::default(),
                cli,
                &quiet,
            )
            .await?;
            problems.extend(failed(&reports));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(anyhow::anyhow!(problems.join("; ")))
    }
}

async fn readyz(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
) -> (axum::http::StatusCode, &'static str) {
    match shared.store.summary().await {
        Ok(_) => (axum::http::StatusCode::OK, "ready\n"),
        Err(_) => (
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
