//! `yici run`: the daemon. Runs each scheduled job when due (one at a
//! time, so never two runs of one job), serves its endpoints (see
//! `endpoints`) on `[http] listen`, tells systemd
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
use super::endpoints::{self, Shared};
use super::interrupt::StopSignals;
use super::lock::JobLock;
use super::{exit, pull, push, reconcile, Cli, Output};
use crate::config::Config;
use crate::daemon::{first_due, jobs, next_due, Job, JobKind};
use crate::stop::StopRequest;
use crate::store::Store;
use crate::sync::pull::{PullOptions, PullReport};

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

pub async fn run(cli: &Cli, args: &RunArgs, _out: &Output) -> Result<i32> {
    let (config, standardizers) = context::load_with_standardizers(cli)?;
    let store = context::open_store(&config).await?;
    let daemon_lock = JobLock::acquire_daemon(&store).await?;
    let shared = Arc::new(Shared {
        store: store.clone(),
        config: RwLock::new(Arc::new(config.clone())),
        succeeded: RwLock::new(BTreeMap::new()),
        sources: RwLock::new(BTreeMap::new()),
    });
    let listen = args.listen.unwrap_or(config.settings.http_listen);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let app = endpoints::router(Arc::clone(&shared));
    tokio::spawn(async move { axum::serve(listener, app).await });
    tracing::info!(%listen, "yici run: serving /healthz, /readyz, /metrics and /status");

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

impl Signals {
    fn new() -> Result<Signals> {
        Ok(Signals {
            stop: StopSignals::new()?,
            hup: signal(SignalKind::hangup()).context("handling SIGHUP")?,
        })
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
        // What the running process holds open is not re-read.
        let (old, new) = (&self.config.settings, &loaded.0.settings);
        if old.http_listen != new.http_listen {
            tracing::warn!(old = %old.http_listen, new = %new.http_listen, "[http] listen changed: restart yici to listen there");
        }
        if old.store_url != new.store_url {
            tracing::warn!("[store] url changed: restart yici to use the new store");
        }
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
            let mut ticks =
                tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
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
        if let Some(Err(e)) = &outcome {
            tracing::error!(job = %name, "run failed: {e:#}");
        }
        shared
            .succeeded
            .write()
            .await
            .insert(name.clone(), matches!(outcome, Some(Ok(()))));
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
            if stop.stops_here() {
                return Err(stopped());
            }
            reconcile::reconcile(config, store, false, stop).await?;
            if stop.stops_here() {
                return Err(stopped());
            }
            push::push(config, store, &[], stop).await?;
        }
        JobKind::Resolve => {
            reconcile::reconcile(config, store, false, stop).await?;
        }
        JobKind::Push => {
            push::push(config, store, &[], stop).await?;
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
