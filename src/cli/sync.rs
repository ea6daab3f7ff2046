//! `yici sync`: one whole cycle — pull every source, resolve, rebuild the
//! golden records (planning push-back), deliver — and what moved where.

use anyhow::Result;
use serde::Serialize;

use super::{context, district, exit, pull, push, reconcile, Cli, Output};
use crate::push::deliver::DeliveryReport;
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
    /// `None` when Ctrl-C stopped the cycle before resolving.
    reconcile: Option<reconcile::ReconcileReport>,
    /// `None` when Ctrl-C stopped the cycle before delivering.
    delivered: Option<DeliveryReport>,
    district: district::DistrictSummary,
}

pub async fn run(cli: &Cli, args: &SyncArgs, out: &Output) -> Result<i32> {
    let (config, standardizers) = context::load_with_standardizers(cli)?;
    let connectors = context::select(&config, &[])?;
    let store = context::open_store(&config).await?;
    let stop = super::interrupt::stop_on_ctrl_c();
    let options = PullOptions {
        full: args.full,
        stop: stop.clone(),
    };
    let (_, pulls) = pull::pull_all(&store, &connectors, &standardizers, options, cli, out).await?;
    // Each phase starts only if no Ctrl-C came before it.
    let reconcile = if stop.stops_here() {
        None
    } else {
        Some(reconcile::reconcile(&config, &store, args.full, &stop).await?)
    };
    let delivered = if stop.stops_here() {
        None
    } else {
        Some(push::push(&config, &store, &[], &stop).await?)
    };
    let district = district::summarize(&config, &store).await?;
    store.close().await;
    let failed = pulls.iter().any(|p| p.error.is_some())
        || delivered
            .iter()
            .flat_map(|d| d.values())
            .any(|d| d.error.is_some());
    let report = SyncReport {
        pulls,
        reconcile,
        delivered,
        district,
    };
    out.emit(&report, || {
        let mut s = pull::render(&report.pulls);
        s.push('\n');
        match &report.reconcile {
            Some(r) => {
                s.push_str(&reconcile::render(r));
                s.push_str(&format!(
                    "push-back: {} deliveries planned, {} new to the outbox\n\n",
                    r.golden.planned, r.golden.queued
                ));
            }
            None => {
                s.push_str("stopped before resolving (Ctrl-C); `yici sync` goes on from here\n\n")
            }
        }
        match &report.delivered {
            Some(d) => s.push_str(&push::render_delivery(d)),
            None if report.reconcile.is_some() => {
                s.push_str("stopped before delivering (Ctrl-C); `yici push` sends what is due\n")
            }
            None => {}
        }
        s.push('\n');
        s.push_str(&district::render(&report.district));
        s
    });
    Ok(exit::of(stop.cut_short(), failed))
}
