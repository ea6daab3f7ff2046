//! `yici demo`: write the sample district and run everything built so far on
//! it, over the embedded default store. The README's first command.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;

use super::{exit, Cli, Output};
use crate::config::Config;
use crate::demo::{DemoOptions, DemoSummary, Department};
use crate::store::{redact_url, RunOutcome, RunStatus, Store};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// How many people live in the district [default: demo.persons in config/yici.toml].
    #[arg(long)]
    pub persons: Option<usize>,
    /// Seed for the generator; the same seed gives the same files [default: demo.seed].
    #[arg(long)]
    pub seed: Option<u64>,
}

#[derive(Debug, Serialize)]
struct DemoReport {
    sample: DemoSummary,
    store: String,
    run_id: i64,
    seconds: f64,
}

pub async fn run(cli: &Cli, args: &DemoArgs, out: &Output) -> Result<i32> {
    let started = Instant::now();
    let config = match Config::load(&cli.config_dir) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{errors}");
            return Ok(exit::CONFIG);
        }
    };
    let settings = &config.settings;
    let options = DemoOptions {
        persons: args.persons.unwrap_or(settings.demo_persons),
        seed: args.seed.unwrap_or(settings.demo_seed),
    };
    let store = Store::open(&settings.store_url)
        .await
        .with_context(|| format!("opening the store {}", redact_url(&settings.store_url)))?;
    let run_id = store.begin_run("demo").await?;
    tracing::info!(persons = options.persons, seed = options.seed, dir = %settings.demo_dir.display(), "Writing the sample district.");
    let written = crate::demo::write_sample_district(&settings.demo_dir, &options).await;
    let outcome = match &written {
        Ok(summary) => RunOutcome {
            status: RunStatus::Succeeded,
            counts: serde_json::json!({
                "persons": summary.persons,
                "households": summary.households,
                "records": summary.sources.iter().map(|s| (s.department.as_str(), s.records)).collect::<std::collections::BTreeMap<_, _>>(),
            }),
            error: None,
        },
        Err(e) => RunOutcome {
            status: RunStatus::Failed,
            counts: serde_json::Value::Null,
            error: Some(e.to_string()),
        },
    };
    store.finish_run(run_id, outcome).await?;
    store.close().await;
    let sample = written.context("writing the sample district")?;
    let report = DemoReport {
        sample,
        store: redact_url(&settings.store_url),
        run_id: run_id.0,
        seconds: started.elapsed().as_secs_f64(),
    };
    out.emit(&report, || human(&config, &report));
    Ok(exit::OK)
}

fn human(config: &Config, report: &DemoReport) -> String {
    let s = &report.sample;
    let shown = |p: &Path| {
        p.strip_prefix(&config.root)
            .unwrap_or(p)
            .display()
            .to_string()
    };
    let mut text = format!(
        "Sample district 样例辖区: {} persons in {} households (seed {}), {} migrants, {} twin pairs\n",
        s.persons, s.households, s.seed, s.population.migrants, s.population.twin_pairs
    );
    for source in &s.sources {
        let files = match (source.department, source.files.as_slice()) {
            (Department::Hr, [first, ..]) => format!(
                "{} ({} pages)",
                first.parent().map(&shown).unwrap_or_default(),
                source.files.len()
            ),
            (_, [first, ..]) => shown(first),
            (_, []) => String::new(),
        };
        text.push_str(&format!(
            "  {} {:<14} {:>8} records ({} registered twice)  {}\n",
            source.department.label(),
            source.department.as_str(),
            source.records,
            source.duplicates,
            files
        ));
    }
    let total: usize = s.sources.iter().map(|x| x.records).sum();
    text.push_str(&format!(
        "  ground truth {:>17} rows  {}\n",
        total,
        shown(&s.truth)
    ));
    text.push_str(&format!(
        "Configuration: {} connectors, {} mappings, valid\n",
        config.connectors.len(),
        config.mappings.len()
    ));
    text.push_str(&format!(
        "Store: {} (run {} recorded)\nDone in {:.1}s. Next: `yici check --connect` reaches every source.\n",
        report.store, report.run_id, report.seconds
    ));
    text
}
