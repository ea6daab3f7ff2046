//! `yici restage`: re-standardize a source's stored payloads after its
//! mapping changed, without pulling it again.

use anyhow::{Context, Result};

use super::{exit, pull, Cli, Output};
use crate::store::{RunOutcome, RunStatus};
use crate::sync::restage::restage_source;

#[derive(Debug, clap::Args)]
pub struct RestageArgs {
    /// The sources to restage (connector names).
    #[arg(required = true)]
    pub names: Vec<String>,
}

pub async fn run(cli: &Cli, args: &RestageArgs, out: &Output) -> Result<i32> {
    let Some((config, standardizers)) = pull::load(cli)? else {
        return Ok(exit::CONFIG);
    };
    let connectors = match pull::select(&config, &args.names) {
        Ok(c) => c,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(exit::USAGE);
        }
    };
    let store = pull::open_store(&config).await?;
    let run_id = store.begin_run("restage").await?;
    let mut reports = Vec::new();
    let mut failure = None;
    for connector in connectors {
        let standardizer = standardizers
            .get(&connector.mapping)
            .cloned()
            .with_context(|| format!("no compiled mapping `{}`", connector.mapping))?;
        match restage_source(&store, run_id, &connector.name, standardizer).await {
            Ok(report) => reports.push(report),
            Err(e) => {
                failure = Some(format!("{}: {e}", connector.name));
                break;
            }
        }
    }
    let outcome = RunOutcome {
        status: if failure.is_none() {
            RunStatus::Succeeded
        } else {
            RunStatus::Failed
        },
        counts: serde_json::to_value(&reports).unwrap_or_default(),
        error: failure.clone(),
    };
    store.finish_run(run_id, outcome).await?;
    store.close().await;
    out.emit(&reports, || {
        let mut text = String::new();
        for r in &reports {
            text.push_str(&format!(
                "{}: {} read, {} changed, {} unchanged, {} quarantined, {} released ({:.1}s)\n",
                r.source, r.read, r.changed, r.unchanged, r.quarantined, r.released, r.seconds
            ));
        }
        text
    });
    match failure {
        Some(message) => anyhow::bail!(message),
        None => Ok(exit::OK),
    }
}
