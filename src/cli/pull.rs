//! `yici pull`: fetch, standardize and stage records from department systems.

use std::io::IsTerminal;

use anyhow::Result;
use serde::Serialize;

use super::context::{self, Standardizers};
use super::{exit, Cli, Output};
use crate::config::Connector;
use crate::store::{RunOutcome, RunStatus, Store};
use crate::sync::pull::{pull_source, PullOptions, PullReport};

#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// Sources to pull (connector names); all enabled ones when none given.
    pub names: Vec<String>,
    /// Ignore stored cursors and file fingerprints: read every source whole.
    #[arg(long)]
    pub full: bool,
}

#[derive(Debug, Serialize)]
struct PullSummary {
    run_id: i64,
    sources: Vec<PullReport>,
}

pub async fn run(cli: &Cli, args: &PullArgs, out: &Output) -> Result<i32> {
    let (config, standardizers) = context::load_with_standardizers(cli)?;
    let connectors = context::select(&config, &args.names)?;
    let store = context::open_store(&config).await?;
    let options = PullOptions {
        full: args.full,
        stop: super::interrupt::stop_on_ctrl_c(),
    };
    let stop = options.stop.clone();
    let (run_id, reports) =
        pull_all(&store, &connectors, &standardizers, options, cli, out).await?;
    store.close().await;
    let failed = reports.iter().any(|r| r.error.is_some());
    let summary = PullSummary {
        run_id: run_id.0,
        sources: reports,
    };
    out.emit(&summary, || render(&summary.sources));
    Ok(exit::of(stop.cut_short(), failed))
}

/// Pulls each connector in turn under one `pull` run, recording the run's
/// outcome; one source failing does not stop the others.
pub async fn pull_all(
    store: &Store,
    connectors: &[&Connector],
    standardizers: &Standardizers,
    options: PullOptions,
    cli: &Cli,
    out: &Output,
) -> Result<(crate::store::RunId, Vec<PullReport>)> {
    let run_id = store.begin_run("pull").await?;
    let show_progress = !cli.quiet && !out.is_json() && std::io::stderr().is_terminal();
    let mut reports = Vec::new();
    for connector in connectors {
        if options.stop.stops_here() {
            break;
        }
        let standardizer = context::standardizer_for(standardizers, connector)?;
        let bar = show_progress.then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_message(format!(
                "{} {}",
                connector.department.label_zh(),
                connector.name
            ));
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {msg}: {pos} rows ({per_sec})")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        let progress = |rows: u64| {
            if let Some(bar) = &bar {
                bar.set_position(rows);
            }
        };
        let report = pull_source(store, run_id, connector, standardizer, &options, &progress).await;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        reports.push(report);
    }
    let failed: Vec<String> = reports
        .iter()
        .filter_map(|r| {
            r.error
                .as_ref()
                .map(|e| format!("{}: {}", r.source, e.message))
        })
        .collect();
    // Stopped at a commit point: some sources were not (fully) read.
    let stopped = options.stop.cut_short();
    let outcome = RunOutcome {
        status: if stopped {
            RunStatus::Interrupted
        } else if failed.is_empty() {
            RunStatus::Succeeded
        } else {
            RunStatus::Failed
        },
        counts: serde_json::to_value(&reports).unwrap_or_default(),
        error: (!failed.is_empty()).then(|| failed.join("; ")),
    };
    store.finish_run(run_id, outcome).await?;
    Ok((run_id, reports))
}

/// The per-source table an operator reads after a pull.
pub fn render(reports: &[PullReport]) -> String {
    let mut text = format!(
        "{:<16}{:<6}{:<12}{:>9}{:>9}{:>9}{:>10}{:>7}{:>12}{:>8}\n",
        "source",
        "dept",
        "mode",
        "pulled",
        "new",
        "changed",
        "unchanged",
        "gone",
        "quarantined",
        "time"
    );
    for r in reports {
        let mode = r
            .mode
            .map_or("-".to_string(), |m| format!("{m:?}").to_lowercase());
        text.push_str(&format!(
            // Department labels are two CJK characters: four columns wide.
            "{:<16}{}  {:<12}{:>9}{:>9}{:>9}{:>10}{:>7}{:>12}{:>7.1}s\n",
            r.source,
            r.department.label_zh(),
            mode,
            r.pulled,
            r.new,
            r.changed,
            r.unchanged,
            r.gone,
            r.quarantined,
            r.seconds
        ));
        if let Some(e) = &r.error {
            text.push_str(&format!(
                "  ! {} stopped ({}): {}\n",
                r.source, e.class, e.message
            ));
        }
    }
    text
}
