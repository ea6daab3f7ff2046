//! `yici check`: validate every configuration file, and with `--connect`
//! reach every source and the store, without changing anything.

use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use super::{exit, Cli, Output};
use crate::config::{Config, ConfigError, Connector, Location};
use crate::store::Store;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Also open each source and the store (reads nothing, writes nothing but
    /// the store's schema on first use).
    #[arg(long)]
    pub connect: bool,
}

#[derive(Debug, Serialize)]
struct CheckReport {
    ok: bool,
    root: String,
    connectors: Vec<String>,
    mappings: Vec<String>,
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
            let report = CheckReport {
                ok: false,
                root,
                connectors: vec![],
                mappings: vec![],
                errors: errors.0.clone(),
                connections: vec![],
            };
            out.emit(&report, || format!("{errors}\n"));
            return Ok(exit::CONFIG);
        }
    };
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
        errors: vec![],
        connections,
    };
    out.emit(&report, || human(&config, &report));
    Ok(if ok { exit::OK } else { exit::FAILURE })
}

fn human(config: &Config, report: &CheckReport) -> String {
    let mut text = format!(
        "Configuration OK: {} connectors, {} mappings ({})\n",
        config.connectors.len(),
        config.mappings.len(),
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

async fn probe_connector(connector: &Connector) -> Probe {
    let result = match &connector.location {
        Location::Csv { path, .. } | Location::Excel { path, .. } => {
            match std::fs::metadata(path) {
                Ok(meta) if meta.is_dir() => Ok(format!("folder {} readable", path.display())),
                Ok(_) => std::fs::File::open(path)
                    .map(|_| format!("file {} readable", path.display()))
                    .map_err(|e| format!("cannot open {}: {e}", path.display())),
                Err(e) => Err(format!("{}: {e}", path.display())),
            }
        }
        Location::Sql { url, table, .. } => probe_sql(url.expose(), table.as_deref()).await,
        Location::Http { url, .. } => probe_tcp(url).await,
    };
    let (ok, detail) = match result {
        Ok(d) => (true, d),
        Err(d) => (false, d),
    };
    Probe {
        name: connector.name.clone(),
        ok,
        detail,
    }
}

async fn probe_sql(url: &str, table: Option<&str>) -> Result<String, String> {
    use sqlx::Connection;
    let shown = crate::store::redact_url(url);
    let probe = table.map(|t| format!("SELECT 1 FROM {} LIMIT 1", quote_identifier(url, t)));
    let timeout = Duration::from_secs(10);
    let fail = |e: &dyn std::fmt::Display| format!("{shown}: {e}");
    let outcome = tokio::time::timeout(timeout, async {
        if url.starts_with("sqlite:") {
            let options: sqlx::sqlite::SqliteConnectOptions = url.parse().map_err(|e| fail(&e))?;
            let mut conn = sqlx::SqliteConnection::connect_with(&options.read_only(true))
                .await
                .map_err(|e| fail(&e))?;
            if let Some(q) = &probe {
                sqlx::query(q)
                    .fetch_optional(&mut conn)
                    .await
                    .map_err(|e| fail(&e))?;
            }
        } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
            let url = url.replacen("mariadb:", "mysql:", 1);
            let mut conn = sqlx::MySqlConnection::connect(&url)
                .await
                .map_err(|e| fail(&e))?;
            if let Some(q) = &probe {
                sqlx::query(q)
                    .fetch_optional(&mut conn)
                    .await
                    .map_err(|e| fail(&e))?;
            }
        } else {
            let mut conn = sqlx::PgConnection::connect(url)
                .await
                .map_err(|e| fail(&e))?;
            if let Some(q) = &probe {
                sqlx::query(q)
                    .fetch_optional(&mut conn)
                    .await
                    .map_err(|e| fail(&e))?;
            }
        }
        Ok::<_, String>(format!("{shown} reachable"))
    })
    .await;
    outcome.unwrap_or_else(|_| Err(format!("{shown}: no answer within {}s", timeout.as_secs())))
}

/// Quotes a validated identifier for the dialect of `url`.
fn quote_identifier(url: &str, name: &str) -> String {
    let q = if url.starts_with("mysql:") || url.starts_with("mariadb:") {
        '`'
    } else {
        '"'
    };
    name.split('.')
        .map(|part| format!("{q}{part}{q}"))
        .collect::<Vec<_>>()
        .join(".")
}

async fn probe_tcp(url: &str) -> Result<String, String> {
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = without_scheme.split('/').next().unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let address = if authority.contains(':') {
        authority.to_string()
    } else if url.starts_with("https") {
        format!("{authority}:443")
    } else {
        format!("{authority}:80")
    };
    match tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect(&address),
    )
    .await
    {
        Ok(Ok(_)) => Ok(format!("{address} accepts connections")),
        Ok(Err(e)) => Err(format!("{address}: {e}")),
        Err(_) => Err(format!("{address}: no answer within 5s")),
    }
}
