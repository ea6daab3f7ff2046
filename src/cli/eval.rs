//! `yici eval --truth FILE [--sweep]`: how right the current resolution
//! is, against a ground truth; with `--sweep`, how right it would be at
//! other link thresholds.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use super::{context, exit, Cli, Output};
use crate::matching::cluster::Constraints;
use crate::matching::eval::{causes, pairwise, Causes, Metrics, Truth};
use crate::matching::resolution::{cluster_pairs, resolve};
use crate::matching::Thresholds;
use crate::sync::universe::{load_model, Universe};

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// CSV `source,source_key,person_id` naming each record's true person.
    #[arg(long, value_name = "FILE")]
    pub truth: PathBuf,
    /// Also resolve in memory at a range of link thresholds.
    #[arg(long)]
    pub sweep: bool,
}

#[derive(Debug, Serialize)]
struct EvalOutput {
    current: Metrics,
    causes: Causes,
    /// Active records not linked to any master yet.
    unresolved: u64,
    sweep: Vec<SweepPoint>,
}

#[derive(Debug, Serialize)]
struct SweepPoint {
    upper_threshold: f64,
    metrics: Metrics,
}

/// Wrong pairs enumerated per kind when sorting them by cause.
const CAUSE_LIMIT: usize = 200_000;

pub async fn run(cli: &Cli, args: &EvalArgs, out: &Output) -> Result<i32> {
    let config = context::load_config(cli)?;
    let truth = Truth::load(&args.truth)?;
    let store = context::open_store(&config).await?;
    let universe = Universe::load(&store).await?;
    store.close().await;

    let persons: Vec<Option<&str>> = universe
        .refs
        .iter()
        .map(|r| truth.person(&r.source, &r.source_key))
        .collect();
    let mut unresolved = 0;
    let clusters: Vec<String> = (0..universe.len())
        .map(|i| match universe.master_of(i) {
            Some(m) => m.to_owned(),
            None => {
                unresolved += 1;
                format!("unresolved:{}", universe.refs[i])
            }
        })
        .collect();
    let current = pairwise(&clusters, &persons);
    let causes = causes(&universe.features, &clusters, &persons, CAUSE_LIMIT);

    let mut sweep = Vec::new();
    if args.sweep {
        let matching = &config.settings.matching;
        let model = load_model(matching)?;
        let scorer = universe.scorer(matching, &model)?;
        let constraints = Constraints::default();
        let resolved = resolve(
            &universe.features,
            &scorer,
            &constraints,
            &matching.settings,
        );
        let base = matching.settings.thresholds;
        for step in -8..=8 {
            let upper = base.upper + f64::from(step);
            let t = Thresholds {
                upper,
                lower: base.lower.min(upper - 1.0),
            };
            let c = cluster_pairs(
                &universe.features,
                &resolved.pairs,
                &constraints,
                &matching.settings,
                t,
            );
            sweep.push(SweepPoint {
                upper_threshold: upper,
                metrics: pairwise(&c.labels, &persons),
            });
        }
    }
    let output = EvalOutput {
        current,
        causes,
        unresolved,
        sweep,
    };
    out.emit(&output, || render(&output));
    Ok(exit::OK)
}

fn render(o: &EvalOutput) -> String {
    use std::fmt::Write;
    let m = &o.current;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "records scored: {} ({} without truth, {} not resolved yet)",
        m.records, m.records_without_truth, o.unresolved
    );
    let _ = writeln!(
        s,
        "pairwise precision {:.6}  recall {:.6}  F1 {:.6}",
        m.precision, m.recall, m.f1
    );
    let _ = writeln!(
        s,
        "true pairs linked {}, false merges {}, missed links {}",
        m.true_positives, m.false_positives, m.false_negatives
    );
    for (title, map) in [
        ("false merges by cause", &o.causes.false_merges),
        ("missed links by cause", &o.causes.missed_links),
    ] {
        if !map.is_empty() {
            let _ = writeln!(s, "{title}:");
            for (cause, n) in map {
                let _ = writeln!(s, "  {n:>8}  {cause}");
            }
        }
    }
    if !o.sweep.is_empty() {
        let _ = writeln!(s, "sweep (in memory, stewards' rules left out):");
        let _ = writeln!(
            s,
            "  {:>7} {:>10} {:>10} {:>10}",
            "upper", "precision", "recall", "F1"
        );
        for p in &o.sweep {
            let _ = writeln!(
                s,
                "  {:>7.1} {:>10.6} {:>10.6} {:>10.6}",
                p.upper_threshold, p.metrics.precision, p.metrics.recall, p.metrics.f1
            );
        }
    }
    s
}
