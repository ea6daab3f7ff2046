//! `yici check`: validate every configuration file, and with `--connect`
//! reach every source and the store, without changing anything.

use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use super::{exit, Cli, Output};
use crate::config::{Config, ConfigError, Connector};
use crate::connector::{open_source, PullRequest};
use crate::mapping::compile_all;
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Also open the store and every enabled source, reading one batch from
    /// each (nothing is staged; the store's schema is created on first use).
    #[arg(long)]
    pub connect: bool,
}

#[derive(Debug, Serialize)]
struct CheckReport {
    ok: bool,
    root: String,
    connectors: Vec<String>,
    mappings: Vec<String>,
    /// Mapping examples run and passed.
    examples: usize,
    errors: Vec<ConfigError>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    connections: Vec<Probe>,
}

/// The result of reaching one source or the store.
#[derive(Debug, Serialize)]
struct Probe {
    name: String,
    ok: bool,
    detail: String,
}

pub async fn run(cli: &Cli, args: &CheckArgs, out: &Output) -> Result<i32> {
    let root = cli.config_dir.display().to_string();
    let config = match Config::load(&cli.config_dir) {
        Ok(config) => config,
        Err(errors) => {
            return Ok(invalid(out, root, errors.0));
        }
    };
    let standardizers = match compile_all(&config.mappings) {
        Ok(s) => s,
        Err(errors) => return Ok(invalid(out, root, errors)),
    };
    let mut failures = Vec::new();
    let mut examples = 0;
    for mapping in config.mappings.values() {
        if let Some(standardizer) = standardizers.get(&mapping.name) {
            examples += mapping.examples.len();
            failures.extend(
                standardizer
                    .run_examples(mapping)
                    .iter()
                    .map(|f| f.to_config_error(&mapping.file)),
            );
        }
    }
    if !failures.is_empty() {
        return Ok(invalid(out, root, failures));
    }
    let mut connections = Vec::new();
    if args.connect {
        connections.push(probe_store(&config).await);
        for connector in config.connectors.values().filter(|c| c.enabled) {
            connections.push(probe_connector(connector).await);
        }
    }
    let ok = connections.iter().all(|p| p.ok);
    let report = CheckReport {
        ok,
        root,
        connectors: config.connectors.keys().cloned().collect(),
        mappings: config.mappings.keys().cloned().collect(),
        examples,
        errors: vec![],
        connections,
    };
    out.emit(&report, || human(&config, &report));
    Ok(if ok { exit::OK } else { exit::FAILURE })
}

/// Prints every configuration problem and returns the exit code for them.
fn invalid(out: &Output, root: String, errors: Vec<ConfigError>) -> i32 {
    let errors = crate::config::ConfigErrors(errors);
    let report = CheckReport {
        ok: false,
        root,
        connectors: vec![],
        mappings: vec![],
        examples: 0,
        errors: errors.0.clone(),
        connections: vec![],
    };
    out.emit(&report, || format!("{errors}\n"));
    exit::CONFIG
}

fn human(config: &Config, report: &CheckReport) -> String {
    let mut text = format!(
        "Configuration OK: {} connectors, {} mappings, {} mapping examples pass ({})\n",
        config.connectors.len(),
        config.mappings.len(),
        report.examples,
        report.root
    );
    for c in config.connectors.values() {
        text.push_str(&format!(
            "  {:<14} {} {:<6} {}{}\n",
            c.name,
            c.department.label_zh(),
            format!("{:?}", c.kind).to_lowercase(),
            c.description.clone().unwrap_or_default(),
            if c.enabled { "" } else { " (disabled)" }
        ));
    }
    for p in &report.connections {
        text.push_str(&format!(
            "  {} {:<14} {}\n",
            if p.ok { "ok  " } else { "FAIL" },
            p.name,
            p.detail
        ));
    }
    text
}

async fn probe_store(config: &Config) -> Probe {
    let url = &config.settings.store_url;
    let name = "store".to_string();
    match Store::open(url).await {
        Ok(store) => {
            let detail = format!(
                "{} reachable, schema up to date",
                crate::store::redact_url(url)
            );
            store.close().await;
            Probe {
                name,
                ok: true,
                detail,
            }
        }
        Err(e) => Probe {
            name,
            ok: false,
            detail: e.to_string(),
        },
    }
}

/// Opens the source and reads its first batch; nothing is staged.
async fn probe_connector(connector: &Connector) -> Probe {
    let request = PullRequest {
        cursor: None,
        full: true,
    };
    let timeout = Duration::from_secs(60);
    let read = async {
        let mut source = open_source(connector, request).await?;
        let batch = source.next_batch().await?;
        Ok::<_, crate::connector::ConnectorError>(
            batch.map_or((0, 0), |b| (b.records.len(), b.problems.len())),
        )
    };
    let (ok, detail) = match tokio::time::timeout(timeout, read).await {
        Ok(Ok((records, problems))) => (
            true,
            format!("read {records} records and {problems} unreadable rows from the first batch"),
        ),
        Ok(Err(e)) => (false, format!("{} error: {e}", e.class())),
        Err(_) => (
            false,
            format!("no first batch within {}s", timeout.as_secs()),
        ),
    };
    Probe {
        name: connector.name.clone(),
        ok,
        detail,
    }
}
