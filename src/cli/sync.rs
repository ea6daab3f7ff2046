//! `yici sync`: one whole cycle — pull every source, resolve, rebuild the
//! golden records (planning push-back), deliver — and what moved where.

use anyhow::Result;
use serde::Serialize;

use super::{context, district, exit, pull, push, reconcile, Cli, Output};
use crate::push::deliver::DeliveryReport;
use crate::stop::StopRequest;
use crate::sync::pull::{PullOptions, PullReport};

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// Read every source in full (and re-resolve everything).
    #[arg(long)]
    pub full: bool,
}

#[derive(Debug, Serialize)]
struct SyncReport {
    pulls: Vec<PullReport>,
    reconcile: reconcile::ReconcileReport,
    delivered: DeliveryReport,
    district: district::DistrictSummary,
}

pub async fn run(cli: &Cli, args: &SyncArgs, out: &Output) -> Result<i32> {
    let (config, standardizers) = context::load_with_standardizers(cli)?;
    let connectors = context::select(&config, &[])?;
    let store = context::open_store(&config).await?;
    let options = PullOptions {
        full: args.full,
        ..PullOptions::default()
    };
    let (_, pulls) = pull::pull_all(&store, &connectors, &standardizers, options, cli, out).await?;
    let reconcile =
        reconcile::reconcile(&config, &store, args.full, &StopRequest::default()).await?;
    let delivered = push::push(&config, &store, &[], &StopRequest::default()).await?;
    let district = district::summarize(&config, &store).await?;
    store.close().await;
    let failed =
        pulls.iter().any(|p| p.error.is_some()) || delivered.values().any(|d| d.error.is_some());
    let report = SyncReport {
        pulls,
        reconcile,
        delivered,
        district,
    };
    out.emit(&report, || {
        let mut s = pull::render(&report.pulls);
        s.push('\n');
        s.push_str(&reconcile::render(&report.reconcile));
        s.push_str(&format!(
            "push-back: {} deliveries planned, {} new to the outbox\n\n",
            report.reconcile.golden.planned, report.reconcile.golden.queued
        ));
        s.push_str(&push::render_delivery(&report.delivered));
        s.push('\n');
        s.push_str(&district::render(&report.district));
        s
    });
    Ok(if failed { exit::PARTIAL } else { exit::OK })
}
