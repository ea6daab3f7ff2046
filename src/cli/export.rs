//! `yici export links`: which master every staged record belongs to, as
//! CSV, so anyone can score the resolution with their own tools.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};

use super::{context, exit, Cli, Output};

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[command(subcommand)]
    pub what: ExportWhat,
}

#[derive(Debug, clap::Subcommand)]
pub enum ExportWhat {
    /// `source,source_key,master_id` for every staged record (master empty
    /// while unresolved).
    Links {
        /// Output format.
        #[arg(long, value_enum, default_value = "csv")]
        format: LinkFormat,
        /// Write here instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LinkFormat {
    Csv,
}

/// Rows per read from the store.
const PAGE: i64 = 50_000;

pub async fn run(cli: &Cli, args: &ExportArgs, _out: &Output) -> Result<i32> {
    let ExportWhat::Links {
        format: LinkFormat::Csv,
        output,
    } = &args.what;
    let config = context::load_config(cli)?;
    let store = context::open_store(&config).await?;
    let sink: Box<dyn Write> = match output {
        Some(path) => Box::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut csv = csv::Writer::from_writer(std::io::BufWriter::new(sink));
    csv.write_record(["source", "source_key", "master_id"])?;
    let mut after = 0;
    let mut rows = 0u64;
    loop {
        let page = store.record_links(after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for r in &page {
            csv.write_record([
                &r.source,
                &r.source_key,
                r.master_id.as_deref().unwrap_or(""),
            ])?;
        }
        rows += page.len() as u64;
    }
    csv.flush()?;
    store.close().await;
    if let Some(path) = output {
        eprintln!("{rows} records written to {}", path.display());
    }
    Ok(exit::OK)
}
