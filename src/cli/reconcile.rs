//! `yici reconcile [--full]`: resolve staged records into the master index.

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use super::lock::JobLock;
use super::{context, exit, Cli, Output};
use crate::config::Config;
use crate::push::Targets;
use crate::stop::StopRequest;
use crate::store::{RunOutcome, Store};
use crate::sync::golden::{golden_run, GoldenReport};
use crate::sync::resolve::{resolve_run, ResolveReport};
use crate::sync::universe::load_model;

#[derive(Debug, clap::Args)]
pub struct ReconcileArgs {
    /// Re-resolve every record, not only new and changed ones (master IDs
    /// and stewards' decisions are kept).
    #[arg(long)]
    pub full: bool,
}

pub async fn run(cli: &Cli, args: &ReconcileArgs, out: &Output) -> Result<i32> {
    let config = context::load_config(cli)?;
    let store = context::open_store(&config).await?;
    let spinner = (!cli.quiet && !out.is_json() && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message("resolving");
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let stop = super::interrupt::stop_on_ctrl_c();
    let result = reconcile(&config, &store, args.full, &stop).await;
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    store.close().await;
    let report = result?;
    out.emit(&report, || render(&report));
    Ok(exit::of(stop.cut_short(), false))
}

/// What `yici reconcile` did: the resolution, then the golden records.
#[derive(Debug, Clone, Serialize)]
pub struct ReconcileReport {
    #[serde(flatten)]
    pub resolve: ResolveReport,
    pub golden: GoldenReport,
}

/// One resolve run and the golden records it affects, under the index lock
/// and with a run record; shared with `yici demo`. `full` re-resolves every
/// record and rebuilds every golden record. `stop` may end the golden
/// rebuild between batches (the daemon's shutdown).
pub async fn reconcile(
    config: &Config,
    store: &Store,
    full: bool,
    stop: &StopRequest,
) -> Result<ReconcileReport> {
    let matching = &config.settings.matching;
    let model = load_model(matching)?;
    let lock = JobLock::acquire(store).await?;
    let run = store.begin_run("resolve").await?;
    let result = async {
        let resolve = resolve_run(store, run, matching, &model, full)
            .await
            .context("resolving")?;
        let golden = golden_run(
            store,
            run,
            &config.settings.survivorship,
            &context::departments(config),
            &Targets::from_config(config),
            full,
            stop,
        )
        .await
        .context("building golden records")?;
        anyhow::Ok(ReconcileReport { resolve, golden })
    }
    .await;
    store
        .finish_run(run, RunOutcome::of(&result, stop.cut_short()))
        .await?;
    lock.release(store).await?;
    result
}

pub fn render(report: &ReconcileReport) -> String {
    let r = &report.resolve;
    let g = &report.golden;
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
        "golden records: {} rebuilt, {} changed{}, {} conflicts in them (`yici conflicts`)\n",
        g.rebuilt,
        g.changed,
        if g.all {
            " (all rebuilt: rules changed or --full)"
        } else {
            ""
        },
        g.conflicts
    ));
    text.push_str(&format!(
        "time: {:.2}s (load {:.2}s, blocking+scoring {:.2}s, clustering {:.2}s, writing {:.2}s)\n",
        t.total, t.load, t.blocking_and_scoring, t.clustering_and_ids, t.writing
    ));
    text.push_str(&format!("golden records took {:.2}s\n", g.seconds));
    text
}
