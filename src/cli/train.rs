//! `yici train`: estimate the match model from the staged records and save
//! it where every later run loads it.

use anyhow::{Context, Result};

use super::{context, exit, Cli, Output};
use crate::matching::train::{train, TrainOptions};
use crate::matching::{Field, MatchModel};
use crate::sync::universe::{load_model, Universe};

#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Random record pairs drawn to estimate u.
    #[arg(long, default_value_t = TrainOptions::default().random_pairs)]
    pub random_pairs: usize,
    /// Seed for drawing the random pairs (same seed, same data: same model).
    #[arg(long, default_value_t = TrainOptions::default().seed)]
    pub seed: u64,
    /// Start from the defaults instead of the current model file.
    #[arg(long)]
    pub from_defaults: bool,
}

pub async fn run(cli: &Cli, args: &TrainArgs, out: &Output) -> Result<i32> {
    let config = context::load_config(cli)?;
    let matching = &config.settings.matching;
    let base = if args.from_defaults {
        MatchModel::default()
    } else {
        load_model(matching)?
    };
    let store = context::open_store(&config).await?;
    let universe = Universe::load(&store).await?;
    store.close().await;
    let options = TrainOptions {
        random_pairs: args.random_pairs,
        seed: args.seed,
        max_block_size: matching.settings.blocking.max_block_size.min(200),
        ..TrainOptions::default()
    };
    let trained_at = crate::store::timestamp(chrono::Utc::now());
    let features = universe.features;
    let model = tokio::task::spawn_blocking(move || train(&features, &base, &options, trained_at))
        .await
        .context("training thread")??;
    model.save(&matching.model_path)?;
    out.emit(&model, || render(&model, &matching.model_path));
    Ok(exit::OK)
}

fn render(model: &MatchModel, path: &std::path::Path) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    if let Some(t) = &model.training {
        let _ = writeln!(
            s,
            "trained on {} records ({} random pairs for u)",
            t.records, t.random_pairs
        );
        for session in &t.sessions {
            let fields: Vec<&str> = session.trained_fields.iter().map(|f| f.as_str()).collect();
            let _ = writeln!(
                s,
                "  EM on pairs blocked by {}: {} pairs, {} iterations, trained {}",
                session.blocking_rule,
                session.pairs,
                session.iterations,
                fields.join(", ")
            );
        }
    }
    let _ = writeln!(
        s,
        "duplicates per record: {:.3}",
        model.duplicates_per_record
    );
    let _ = writeln!(
        s,
        "{:<12} {:<18} {:>10} {:>12} {:>8}",
        "field", "level", "m", "u", "weight"
    );
    for field in Field::ALL {
        for &level in field.levels() {
            let p = model.params(field, level);
            let _ = writeln!(
                s,
                "{:<12} {:<18} {:>10.6} {:>12.3e} {:>+8.2}",
                field.as_str(),
                level.as_str(),
                p.m,
                p.u,
                p.weight()
            );
        }
    }
    let _ = writeln!(s, "saved to {}", path.display());
    s
}
