//! Connectors: reading resident records out of department systems (and, for
//! push-back, writing into them). One kind per file: `sql`, `excel`, `csv`,
//! `http`. Connectors know nothing of the canonical record or the master
//! index; they deliver raw rows, column name → JSON value.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use crate::config::{Connector, Location};

/// A boxed future, so that `Source` can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One row as the source delivered it. Values are JSON: text as strings,
/// numbers as numbers (integral floats as integers, so a phone typed into an
/// Excel number cell stays `13812345678`), date cells as `YYYY-MM-DD` /
/// `YYYY-MM-DD HH:MM:SS` strings, empty cells as `null`.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord {
    pub fields: serde_json::Map<String, serde_json::Value>,
    pub origin: Origin,
}

/// Where a row came from, for messages an operator can act on.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Origin {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// 1-based row (Excel) or line (CSV) number in the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<u64>,
    /// 1-based page number (HTTP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u64>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(file) = &self.file {
            parts.push(file.display().to_string());
        }
        if let Some(page) = self.page {
            parts.push(format!("page {page}"));
        }
        if let Some(row) = self.row {
            parts.push(format!("row {row}"));
        }
        if parts.is_empty() {
            f.write_str("stored payload")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// A row the connector could read only in part, or not at all (a CSV line
/// with broken quoting, a row with more cells than headers). It is
/// quarantined, never dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct RowProblem {
    pub origin: Origin,
    /// Whatever could be read of the row.
    pub fields: serde_json::Map<String, serde_json::Value>,
    pub reason: String,
}

/// What one call to [`Source::next_batch`] returns.
#[derive(Debug, Default)]
pub struct Batch {
    pub records: Vec<RawRecord>,
    pub problems: Vec<RowProblem>,
    /// The cursor to commit together with this batch, if it moves the source's
    /// position. `None` leaves the stored cursor as it is.
    pub cursor: Option<String>,
}

/// How the rows of a pull relate to the source's whole content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PullMode {
    /// Every current row is delivered: keys not seen are gone from the source.
    Snapshot,
    /// Only rows changed since the cursor are delivered.
    Incremental,
    /// Nothing changed since the last pull (e.g. same file content hash);
    /// no rows are delivered and nothing is gone.
    Unchanged,
}

/// Where the previous pull stopped, and what is asked of this one.
#[derive(Debug, Clone, Default)]
pub struct PullRequest {
    /// The cursor committed by the last successful batch of this source.
    pub cursor: Option<String>,
    /// Ignore the cursor and read everything.
    pub full: bool,
}

/// Why a connector could not do its work, classified so the caller knows
/// whether to retry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectorError {
    /// The operator must fix something (wrong path, bad credentials, 4xx,
    /// missing column). Retrying will not help.
    #[error("{0}")]
    Config(String),
    /// A timeout, refused connection, 429 or 5xx that survived the retries;
    /// the next scheduled run may succeed.
    #[error("{0}")]
    Transient(String),
    /// The input itself is unusable (undecodable file, malformed response).
    #[error("{0}")]
    Data(String),
}

impl ConnectorError {
    /// `config`, `transient` or `data`, for reports and metrics.
    pub fn class(&self) -> &'static str {
        match self {
            ConnectorError::Config(_) => "config",
            ConnectorError::Transient(_) => "transient",
            ConnectorError::Data(_) => "data",
        }
    }
}

/// A source of raw records, read batch by batch so that no source is ever
/// loaded into memory whole.
pub trait Source: Send {
    /// How the rows of this pull relate to the source's whole content.
    fn mode(&self) -> PullMode;

    /// The next batch, or `None` when the source is exhausted.
    fn next_batch(&mut self) -> BoxFuture<'_, Result<Option<Batch>, ConnectorError>>;
}

/// Opens the source a connector describes, positioned after `request.cursor`.
pub async fn open_source(
    connector: &Connector,
    request: PullRequest,
) -> Result<Box<dyn Source>, ConnectorError> {
    match &connector.location {
        // File sources hash their files to see whether anything changed:
        // blocking work, kept off the async runtime.
        Location::Csv { .. } | Location::Excel { .. } => {
            let owned = connector.clone();
            let is_csv = matches!(owned.location, Location::Csv { .. });
            tokio::task::spawn_blocking(move || -> Result<Box<dyn Source>, ConnectorError> {
                if is_csv {
                    Ok(Box::new(csv::CsvSource::open(&owned, request)?))
                } else {
                    Ok(Box::new(excel::ExcelSource::open(&owned, request)?))
                }
            })
            .await
            .map_err(|e| ConnectorError::Data(format!("{}: opening failed: {e}", connector.name)))?
        }
        Location::Sql { .. } => Ok(Box::new(sql::SqlSource::open(connector, request).await?)),
        Location::Http { .. } => Ok(Box::new(http::HttpSource::open(connector, request)?)),
    }
}

pub mod csv;
pub mod excel;
pub mod files;
pub mod http;
pub mod sql;
pub mod target;
