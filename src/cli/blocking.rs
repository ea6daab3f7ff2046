//! `yici blocking`: what each blocking rule produces over the staged
//! records, and the largest blocks (keys masked), so an operator can see
//! a shared care-home phone or a placeholder identity number before it
//! costs a run.

use anyhow::Result;

use super::{context, exit, Cli, Output};
use crate::matching::blocking::{candidate_pairs, Candidates, RuleReport};
use crate::sync::universe::Universe;

#[derive(Debug, clap::Args)]
pub struct BlockingArgs {
    /// How many of the largest blocks to show per rule.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
}

#[derive(Debug, serde::Serialize)]
struct BlockingOutput {
    records: usize,
    max_block_size: usize,
    total_pairs: u64,
    rules: Vec<RuleReport>,
}

pub async fn run(cli: &Cli, args: &BlockingArgs, out: &Output) -> Result<i32> {
    let config = context::load_config(cli)?;
    let store = context::open_store(&config).await?;
    let universe = Universe::load(&store).await?;
    store.close().await;
    let mut options = config.settings.matching.settings.blocking.clone();
    options.report_largest = args.top;
    let Candidates { pairs, rules } = candidate_pairs(&universe.features, &options, None);
    let output = BlockingOutput {
        records: universe.len(),
        max_block_size: options.max_block_size,
        total_pairs: pairs.len() as u64,
        rules,
    };
    out.emit(&output, || render(&output));
    Ok(exit::OK)
}

fn render(o: &BlockingOutput) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} records, {} candidate pairs (blocks over {} records skipped)",
        o.records, o.total_pairs, o.max_block_size
    );
    let _ = writeln!(
        s,
        "{:<26} {:>12} {:>10} {:>8}",
        "rule", "new pairs", "blocks", "skipped"
    );
    for r in &o.rules {
        let _ = writeln!(
            s,
            "{:<26} {:>12} {:>10} {:>8}",
            r.rule.as_str(),
            r.pairs,
            r.blocks,
            r.skipped_blocks
        );
    }
    for r in o.rules.iter().filter(|r| !r.largest.is_empty()) {
        let _ = writeln!(s, "largest blocks by {}:", r.rule);
        for b in &r.largest {
            let flag = if b.records > o.max_block_size {
                "  (skipped)"
            } else {
                ""
            };
            let _ = writeln!(s, "  {:>7}  {}{flag}", b.records, b.key);
        }
    }
    s
}
