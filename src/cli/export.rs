//! `yici export links`: which master every staged record belongs to, as
//! CSV, so anyone can score the resolution with their own tools.
//! `yici export residents`: the golden records, for other systems, as CSV,
//! JSON lines or an Excel workbook; masked unless `--reveal`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::resident::{record_reveal, shown, FIELDS};
use super::{context, exit, Cli, Output};
use crate::master::survivorship::GoldenField;
use crate::store::Store;

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
    /// The golden record of every resident (one row per active master),
    /// identity numbers and phones masked unless `--reveal`.
    Residents {
        /// Output format (`xlsx` needs `--output`).
        #[arg(long, value_enum, default_value = "csv")]
        format: ResidentFormat,
        /// Write here instead of stdout.
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Export identity numbers and phones unmasked (recorded as an audit event).
        #[arg(long)]
        reveal: bool,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LinkFormat {
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ResidentFormat {
    Csv,
    Jsonl,
    Xlsx,
}

/// Rows per read from the store.
const PAGE: i64 = 50_000;

pub async fn run(cli: &Cli, args: &ExportArgs, _out: &Output) -> Result<i32> {
    let output = match &args.what {
        ExportWhat::Links {
            format: LinkFormat::Csv,
            output,
        } => output,
        ExportWhat::Residents {
            format,
            output,
            reveal,
        } => return residents(cli, *format, output.as_deref(), *reveal).await,
    };
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

/// The columns of a resident export after `master_id` and `golden_version`:
/// the canonical fields, in reading order.
fn resident_header() -> Vec<&'static str> {
    let mut header = vec!["master_id", "golden_version"];
    header.extend(
        FIELDS
            .iter()
            .map(|(key, _)| GoldenField::name_of_record_key(key)),
    );
    header
}

/// One resident's row: id, version, then each field as text.
fn resident_row(
    master_id: &str,
    version: i64,
    golden: &serde_json::Value,
    reveal: bool,
) -> Vec<String> {
    let record = &golden["record"];
    let mut row = vec![master_id.to_owned(), version.to_string()];
    row.extend(FIELDS.iter().map(|(key, _)| {
        record
            .get(*key)
            .map(|v| shown(key, v, reveal))
            .unwrap_or_default()
    }));
    row
}

/// Where a resident export goes.
enum Sink {
    Csv(Box<csv::Writer<std::io::BufWriter<Box<dyn Write>>>>),
    Jsonl(std::io::BufWriter<Box<dyn Write>>),
    Xlsx {
        workbook: Box<rust_xlsxwriter::Workbook>,
        row: u32,
    },
}

fn open_writer(output: Option<&Path>) -> Result<Box<dyn Write>> {
    Ok(match output {
        Some(path) => Box::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    })
}

async fn residents(
    cli: &Cli,
    format: ResidentFormat,
    output: Option<&Path>,
    reveal: bool,
) -> Result<i32> {
    if format == ResidentFormat::Xlsx && output.is_none() {
        eprintln!("error: --format xlsx needs --output FILE.xlsx");
        return Ok(exit::USAGE);
    }
    let config = context::load_config(cli)?;
    let store = context::open_store(&config).await?;
    let rows = write_residents(&store, format, output, reveal).await;
    if reveal {
        record_reveal(
            &store,
            None,
            "yici export residents",
            serde_json::json!({"output": output.map(|p| p.display().to_string()), "rows": rows.as_ref().ok()}),
        )
        .await?;
    }
    store.close().await;
    let rows = rows?;
    if let Some(path) = output {
        eprintln!("{rows} residents written to {}", path.display());
    }
    Ok(exit::OK)
}

async fn write_residents(
    store: &Store,
    format: ResidentFormat,
    output: Option<&Path>,
    reveal: bool,
) -> Result<u64> {
    let header = resident_header();
    let mut sink = match format {
        ResidentFormat::Csv => {
            let mut w = csv::Writer::from_writer(std::io::BufWriter::new(open_writer(output)?));
            w.write_record(&header)?;
            Sink::Csv(Box::new(w))
        }
        ResidentFormat::Jsonl => Sink::Jsonl(std::io::BufWriter::new(open_writer(output)?)),
        ResidentFormat::Xlsx => {
            let mut workbook = rust_xlsxwriter::Workbook::new();
            let sheet = workbook.add_worksheet();
            sheet.set_name("residents")?;
            let bold = rust_xlsxwriter::Format::new().set_bold();
            for (col, name) in header.iter().enumerate() {
                sheet.write_string_with_format(0, col as u16, *name, &bold)?;
            }
            Sink::Xlsx {
                workbook: Box::new(workbook),
                row: 1,
            }
        }
    };
    let mut after = String::new();
    let mut rows = 0u64;
    loop {
        let page = store.active_goldens(&after, 5000).await?;
        let Some(last) = page.last() else { break };
        after = last.master_id.clone();
        for g in &page {
            let golden: serde_json::Value = serde_json::from_str(&g.golden)
                .with_context(|| format!("golden record of {} is not JSON", g.master_id))?;
            match &mut sink {
                Sink::Csv(w) => w.write_record(resident_row(
                    &g.master_id,
                    g.golden_version,
                    &golden,
                    reveal,
                ))?,
                Sink::Jsonl(w) => {
                    let record = resident_row(&g.master_id, g.golden_version, &golden, reveal);
                    let object: serde_json::Map<String, serde_json::Value> = header
                        .iter()
                        .zip(record)
                        .filter(|(_, v)| !v.is_empty())
                        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::String(v)))
                        .collect();
                    serde_json::to_writer(&mut *w, &object)?;
                    w.write_all(b"\n")?;
                }
                Sink::Xlsx { workbook, row } => {
                    let sheet = workbook.worksheet_from_index(0)?;
                    for (col, value) in
                        resident_row(&g.master_id, g.golden_version, &golden, reveal)
                            .iter()
                            .enumerate()
                    {
                        if !value.is_empty() {
                            sheet.write_string(*row, col as u16, value)?;
                        }
                    }
                    *row += 1;
                }
            }
            rows += 1;
        }
    }
    match sink {
        Sink::Csv(mut w) => w.flush()?,
        Sink::Jsonl(mut w) => w.flush()?,
        Sink::Xlsx { mut workbook, .. } => {
            let path = output.expect("checked: xlsx has an output path");
            workbook
                .save(path)
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(rows)
}
