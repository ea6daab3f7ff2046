//! `yici status`: how the system stands — the last run of every job with
//! its counts or error, when each scheduled job runs next, and the queues
//! waiting for people (reviews, conflicts, quarantine) or for delivery.
//! `yici runs [--failed]`: the run history.

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::Utc;
use serde::Serialize;

use super::resident::china_date_time;
use super::{context, exit, Cli, Output};
use crate::model::mask::mask_digits_in_text;
use crate::store::{OutboxStatus, Run};

#[derive(Debug, clap::Args)]
pub struct StatusArgs {}

#[derive(Debug, clap::Args)]
pub struct RunsArgs {
    /// Only runs that failed or were interrupted.
    #[arg(long)]
    pub failed: bool,
    /// Only this job (`pull`, `resolve`, `push`, `merge`, …).
    #[arg(long)]
    pub job: Option<String>,
    #[arg(long, default_value_t = 20)]
    pub limit: u64,
}

#[derive(Debug, Serialize)]
struct RunView {
    id: i64,
    job: String,
    status: String,
    started_at: String,
    seconds: Option<f64>,
    counts: serde_json::Value,
    /// Identity numbers and phones masked.
    error: Option<String>,
}

impl From<Run> for RunView {
    fn from(r: Run) -> RunView {
        RunView {
            id: r.id.0,
            job: r.job,
            status: r.status.to_string(),
            started_at: crate::store::timestamp(r.started_at),
            seconds: r
                .finished_at
                .map(|f| (f - r.started_at).num_milliseconds() as f64 / 1000.0),
            counts: r.counts,
            error: r.error.as_deref().map(mask_digits_in_text),
        }
    }
}

/// The daemon, as its lease in the store tells.
#[derive(Debug, Serialize)]
struct DaemonView {
    /// `host:pid`.
    holder: String,
    /// Holding its lease and its process alive.
    running: bool,
    /// When it last renewed its lease (every 30 s while it runs).
    seen_at: String,
}

/// How the system stands.
#[derive(Debug, Serialize)]
pub struct Status {
    /// The daemon (`yici run`) holding or last holding the store's daemon
    /// lease; none after a clean stop.
    daemon: Option<DaemonView>,
    /// The latest run of every job.
    jobs: Vec<RunView>,
    /// Scheduled job → its next run (RFC 3339).
    next_runs: BTreeMap<String, String>,
    pending_reviews: u64,
    conflicts: u64,
    quarantined: u64,
    outbox_pending: u64,
    outbox_parked: u64,
    /// Each configured source's latest pull, so one that keeps failing
    /// shows even when other sources' pulls succeed after it.
    sources: BTreeMap<String, SourceView>,
}

/// One source's latest pull and what it holds in quarantine.
#[derive(Debug, Default, Serialize)]
struct SourceView {
    /// The pull run that last read it, if any.
    last_pull: Option<i64>,
    at: Option<String>,
    pulled: u64,
    staged: u64,
    quarantined_now: u64,
    /// Why the latest pull stopped (`class error: message`), masked.
    error: Option<String>,
}

/// How many recent pull runs to search for each source's latest report.
const PULL_RUNS_SEARCHED: u64 = 200;

/// Each configured source's latest pull report from the recent pull runs.
async fn sources(
    config: &crate::config::Config,
    store: &crate::store::Store,
    quarantined: &BTreeMap<String, u64>,
) -> Result<BTreeMap<String, SourceView>> {
    let runs = store.runs(PULL_RUNS_SEARCHED, false, Some("pull")).await?;
    let mut views = BTreeMap::new();
    for connector in config.connectors.values().filter(|c| c.enabled) {
        let mut view = SourceView {
            quarantined_now: quarantined.get(&connector.name).copied().unwrap_or(0),
            ..SourceView::default()
        };
        let latest = runs.iter().find_map(|run| {
            let reports = run.counts.as_array()?;
            let report = reports
                .iter()
                .find(|r| r["source"].as_str() == Some(connector.name.as_str()))?;
            Some((run, report))
        });
        if let Some((run, r)) = latest {
            let count = |field: &str| r[field].as_u64().unwrap_or(0);
            view.last_pull = Some(run.id.0);
            view.at = Some(crate::store::timestamp(run.started_at));
            view.pulled = count("pulled");
            view.staged = count("new") + count("changed") + count("unchanged");
            view.error = r["error"].as_object().map(|e| {
                mask_digits_in_text(&format!(
                    "{} error: {}",
                    e["class"].as_str().unwrap_or("?"),
                    e["message"].as_str().unwrap_or("")
                ))
            });
        }
        views.insert(connector.name.clone(), view);
    }
    Ok(views)
}

pub async fn status(cli: &Cli, _args: &StatusArgs, out: &Output) -> Result<i32> {
    let config = context::load_config(cli)?;
    let store = context::open_store(&config).await?;
    let status = snapshot(&config, &store).await;
    store.close().await;
    let status = status?;
    out.emit(&status, || render_status(&status));
    Ok(exit::OK)
}

/// How the system stands; also the daemon's `/status`.
pub async fn snapshot(
    config: &crate::config::Config,
    store: &crate::store::Store,
) -> Result<Status> {
    let jobs: Vec<RunView> = store
        .last_run_per_job()
        .await?
        .into_iter()
        .map(RunView::from)
        .collect();
    let summary = store.summary().await?;
    let conflicts = store.conflict_counts().await?.iter().map(|(_, n)| n).sum();
    let (mut pending, mut parked) = (0, 0);
    for (_, _, status, n) in store.outbox_counts().await? {
        match status {
            OutboxStatus::Pending => pending += n,
            OutboxStatus::Parked => parked += n,
            _ => {}
        }
    }
    let now = Utc::now();
    let next_runs = crate::daemon::jobs(config)
        .into_iter()
        .filter_map(|job| {
            let next = job.schedule.next_after(&now)?;
            Some((job.kind.name(), crate::store::timestamp(next)))
        })
        .collect();
    let sources = sources(config, store, &summary.quarantined_by_source).await?;
    let daemon = super::lock::JobLock::daemon_lease(store)
        .await?
        .map(|(lease, running)| DaemonView {
            holder: lease.holder,
            running,
            seen_at: crate::store::timestamp(lease.renewed_at),
        });
    Ok(Status {
        daemon,
        sources,
        jobs,
        next_runs,
        pending_reviews: summary.pending_reviews,
        conflicts,
        quarantined: summary.quarantined,
        outbox_pending: pending,
        outbox_parked: parked,
    })
}

fn render_status(s: &Status) -> String {
    let mut text = match &s.daemon {
        Some(d) if d.running => format!(
            "daemon: running as {} (seen {})\n",
            d.holder,
            china_date_time(&d.seen_at)
        ),
        Some(d) => format!(
            "daemon: not running (last seen {} as {})\n",
            china_date_time(&d.seen_at),
            d.holder
        ),
        None => "daemon: not running\n".to_owned(),
    };
    text.push_str("last runs:\n");
    if s.jobs.is_empty() {
        text.push_str("  none yet\n");
    }
    for r in &s.jobs {
        text.push_str(&format!(
            "  {:<16} #{:<5} {:<11} {}  {}\n",
            r.job,
            r.id,
            r.status,
            china_date_time(&r.started_at),
            r.seconds.map(|s| format!("{s:.1}s")).unwrap_or_default()
        ));
        if let Some(e) = &r.error {
            text.push_str(&format!("    error: {e}\n"));
        }
    }
    if !s.sources.is_empty() {
        text.push_str("sources:\n");
    }
    for (name, v) in &s.sources {
        let last = match (v.last_pull, &v.at) {
            (Some(run), Some(at)) => format!("pull #{run} {}", china_date_time(at)),
            _ => "never pulled".to_owned(),
        };
        text.push_str(&format!(
            "  {name:<16} {last}  pulled {}, staged {}; {} in quarantine\n",
            v.pulled, v.staged, v.quarantined_now
        ));
        if let Some(e) = &v.error {
            text.push_str(&format!("    error: {e}\n"));
        }
    }
    text.push_str("next runs (China time):\n");
    if s.next_runs.is_empty() {
        text.push_str("  nothing scheduled\n");
    }
    for (job, at) in &s.next_runs {
        text.push_str(&format!("  {job:<24} {}\n", china_date_time(at)));
    }
    text.push_str(&format!(
        "waiting: {} pairs to review, {} conflicts, {} quarantined records, {} deliveries pending, {} parked\n",
        s.pending_reviews, s.conflicts, s.quarantined, s.outbox_pending, s.outbox_parked
    ));
    text
}

pub async fn runs(cli: &Cli, args: &RunsArgs, out: &Output) -> Result<i32> {
    let config = context::load_config(cli)?;
    let store = context::open_store(&config).await?;
    let runs: Vec<RunView> = store
        .runs(args.limit, args.failed, args.job.as_deref())
        .await?
        .into_iter()
        .map(RunView::from)
        .collect();
    store.close().await;
    out.emit(&runs, || {
        let mut text = String::new();
        for r in &runs {
            text.push_str(&format!(
                "#{:<5} {:<16} {:<11} {}  {}{}\n",
                r.id,
                r.job,
                r.status,
                china_date_time(&r.started_at),
                r.seconds.map(|s| format!("{s:.1}s")).unwrap_or_default(),
                r.error
                    .as_deref()
                    .map(|e| format!("\n       {e}"))
                    .unwrap_or_default()
            ));
        }
        if runs.is_empty() {
            text.push_str("no runs\n");
        }
        text
    });
    Ok(exit::OK)
}
