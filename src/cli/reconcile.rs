//! `yici reconcile [--full]`: resolve staged records into the master index.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{Context, Result};

use super::{context, exit, Cli, Output};
use crate::config::Config;
use crate::store::{RunOutcome, RunStatus, Store};
use crate::sync::resolve::{resolve_run, ResolveReport};
use crate::sync::universe::load_model;

#[derive(Debug, clap::Args)]
pub struct ReconcileArgs {
    /// Re-resolve every record, not only new and changed ones (master IDs
    /// and stewards' decisions are kept).
    #[arg(long)]
    pub full: bool,
}

/// The lock that keeps resolution single-instance across processes.
const LOCK: &str = "resolve";

/// How long the lock holds if this process dies without releasing it.
const LOCK_TTL: Duration = Duration::from_secs(3600);

pub async fn run(cli: &Cli, args: &ReconcileArgs, out: &Output) -> Result<i32> {
    let config = context::load_config(cli)?;
    let store = context::open_store(&config).await?;
    let spinner = (!cli.quiet && !out.is_json() && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message("resolving");
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let result = reconcile(&config, &store, args.full).await;
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    store.close().await;
    let report = result?;
    out.emit(&report, || render(&report));
    Ok(exit::OK)
}

/// One resolve run with its lock and run record; shared with `yici demo`.
pub async fn reconcile(config: &Config, store: &Store, full: bool) -> Result<ResolveReport> {
    let matching = &config.settings.matching;
    let model = load_model(matching)?;
    let holder = lock_holder_name(std::process::id());
    if !store.try_acquire_lock(LOCK, &holder, LOCK_TTL).await? {
        // A holder on this machine whose process is gone was killed: its
        // run committed nothing (one transaction), so the lock is free.
        let stale = store
            .lock_holder(LOCK)
            .await?
            .filter(|h| is_dead_local_holder(h));
        let taken = match stale {
            Some(dead) => {
                tracing::warn!(holder = %dead, "taking over the resolve lock of a process that is gone");
                store.release_lock(LOCK, &dead).await?
                    && store.try_acquire_lock(LOCK, &holder, LOCK_TTL).await?
            }
            None => false,
        };
        if !taken {
            anyhow::bail!(
                "another resolve is running against this store (lock `{LOCK}`); try again when it has finished"
            );
        }
    }
    let run = store.begin_run("resolve").await?;
    let result = resolve_run(store, run, matching, &model, full).await;
    let outcome = match &result {
        Ok(report) => RunOutcome {
            status: RunStatus::Succeeded,
            counts: serde_json::to_value(report).unwrap_or_default(),
            error: None,
        },
        Err(e) => RunOutcome {
            status: RunStatus::Failed,
            counts: serde_json::json!({}),
            error: Some(e.to_string()),
        },
    };
    store.finish_run(run, outcome).await?;
    store.release_lock(LOCK, &holder).await?;
    result.context("resolving")
}

/// `host:pid`, so a later run on the same host can tell a dead holder.
fn lock_holder_name(pid: u32) -> String {
    format!("{}:{pid}", host_name())
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}

/// Whether `holder` names a process on this host that no longer runs.
fn is_dead_local_holder(holder: &str) -> bool {
    let Some((host, pid)) = holder.rsplit_once(':') else {
        return false;
    };
    let proc = std::path::Path::new("/proc");
    host == host_name()
        && proc.join("self").exists()
        && pid.parse::<u32>().is_ok()
        && !proc.join(pid).exists()
}

pub fn render(r: &ResolveReport) -> String {
    let t = &r.timings;
    let mut text = format!(
        "resolved {} records ({} new or changed, {} compared, {} pairs scored)\n\
         links made or moved: {}\n\
         masters: {} created, {} merged, {} split\n\
         pairs sent to review: {}\n",
        r.records,
        r.changed,
        r.compared,
        r.pairs,
        r.links_changed,
        r.masters_created,
        r.masters_merged,
        r.masters_split,
        r.reviews_queued,
    );
    if r.generic_ids > 0 || r.skipped_blocks > 0 {
        text.push_str(&format!(
            "generic identity numbers ignored: {}; oversized blocks skipped: {} (see `yici blocking`)\n",
            r.generic_ids, r.skipped_blocks
        ));
    }
    if r.unreadable > 0 {
        text.push_str(&format!(
            "records left out (unreadable canonical record; run `yici restage`): {}\n",
            r.unreadable
        ));
    }
    text.push_str(&format!(
        "time: {:.2}s (load {:.2}s, blocking+scoring {:.2}s, clustering {:.2}s, writing {:.2}s)\n",
        t.total, t.load, t.blocking_and_scoring, t.clustering_and_ids, t.writing
    ));
    text
}
