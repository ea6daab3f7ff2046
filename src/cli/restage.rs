//! `yici restage`: re-standardize a source's stored payloads after its
//! mapping changed, without pulling it again.

use anyhow::Result;

use super::{context, exit, Cli, Output};
use crate::store::{RunOutcome, RunStatus};
use crate::sync::restage::restage_source;

#[derive(Debug, clap::Args)]
pub struct RestageArgs {
    /// The sources to restage (connector names).
    #[arg(required = true)]
    pub names: Vec<String>,
}

pub async fn run(cli: &Cli, args: &RestageArgs, out: &Output) -> Result<i32> {
    let (config, standardizers) = context::load_with_standardizers(cli)?;
    let connectors = context::select(&config, &args.names)?;
    let store = context::open_store(&config).await?;
    let run_id = store.begin_run("restage").await?;
    let mut reports = Vec::new();
    let mut failure = None;
    for connector in connectors {
        let standardizer = context::standardizer_for(&standardizers, connector)?;
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
