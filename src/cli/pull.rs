//! `yici pull`: fetch, standardize and stage records from department systems.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::{Context, Result};
use serde::Serialize;

use super::{exit, Cli, Output};
use crate::config::{suggest, Config, Connector};
use crate::mapping::{compile_all, Standardizer};
use crate::store::{redact_url, RunOutcome, RunStatus, Store};
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
    let Some((config, standardizers)) = load(cli)? else {
        return Ok(exit::CONFIG);
    };
    let connectors = match select(&config, &args.names) {
        Ok(c) => c,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(exit::USAGE);
        }
    };
    let store = open_store(&config).await?;
    let options = PullOptions { full: args.full };
    let (run_id, reports) =
        pull_all(&store, &connectors, &standardizers, options, cli, out).await?;
    store.close().await;
    let failed = reports.iter().any(|r| r.error.is_some());
    let summary = PullSummary {
        run_id: run_id.0,
        sources: reports,
    };
    out.emit(&summary, || render(&summary.sources));
    Ok(if failed { exit::PARTIAL } else { exit::OK })
}

/// A compiled standardizer per mapping name, shared with the threads that
/// standardize batches.
pub type Standardizers = BTreeMap<String, Arc<Standardizer>>;

/// The configuration and a compiled standardizer per mapping, or `None`
/// after printing every configuration error.
pub fn load(cli: &Cli) -> Result<Option<(Config, Standardizers)>> {
    let config = match Config::load(&cli.config_dir) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{errors}");
            return Ok(None);
        }
    };
    match compile_all(&config.mappings) {
        Ok(compiled) => {
            let compiled = compiled
                .into_iter()
                .map(|(k, v)| (k, Arc::new(v)))
                .collect();
            Ok(Some((config, compiled)))
        }
        Err(errors) => {
            eprintln!("{}", crate::config::ConfigErrors(errors));
            Ok(None)
        }
    }
}

/// Opens the configured store, naming it (without its password) on failure.
pub async fn open_store(config: &Config) -> Result<Store> {
    let url = &config.settings.store_url;
    Store::open(url)
        .await
        .with_context(|| format!("opening the store {}", redact_url(url)))
}

/// The connectors named on the command line (all enabled ones when none).
pub fn select<'c>(config: &'c Config, names: &[String]) -> Result<Vec<&'c Connector>, String> {
    if names.is_empty() {
        return Ok(config.connectors.values().filter(|c| c.enabled).collect());
    }
    names
        .iter()
        .map(|name| {
            config.connectors.get(name).ok_or_else(|| {
                let hint =
                    suggest::did_you_mean(name, config.connectors.keys().map(String::as_str));
                format!("no connector named `{name}`{hint}")
            })
        })
        .collect()
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
        let standardizer = standardizers
            .get(&connector.mapping)
            .cloned()
            .with_context(|| format!("no compiled mapping `{}`", connector.mapping))?;
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
        let report = pull_source(store, run_id, connector, standardizer, options, &progress).await;
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
    let outcome = RunOutcome {
        status: if failed.is_empty() {
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
