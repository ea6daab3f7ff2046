//! Persistence through sqlx: staged source records, quarantine, cursors, the
//! master index, events, the review queue, the outbox, runs and job locks.
//!
//! SQLite is the embedded default (a file next to the daemon, no server) and
//! PostgreSQL the production store. Both run the same Rust code: every query
//! is written once with `$1, $2…` placeholders (sqlx's SQLite driver accepts
//! them) in SQL both dialects understand, and the `on_pool!` macro expands
//! it once per native driver. Portable storage conventions:
//!
//! * timestamps are `TEXT`, RFC 3339 UTC with microseconds and a `Z`
//!   (fixed width, so text order is time order — see [`timestamp`]);
//! * JSON documents are `TEXT` (`serde_json` on the Rust side);
//! * integers are 64-bit (`INTEGER` / `BIGINT`), statuses are `TEXT` with a
//!   `CHECK` constraint.

use std::future::Future;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Transaction};

/// Runs `$body` with `$pool` bound to the native pool of whichever backend the
/// store uses, so a query is written once and compiled for both drivers.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store.pool() {
            $crate::store::Pool::Sqlite($pool) => $body,
            $crate::store::Pool::Postgres($pool) => $body,
        }
    };
}

/// Declares a status-like enum stored as lower-case `TEXT`, with its
/// conversions, so the string spelling lives in exactly one place.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// The spelling stored in the database.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> std::result::Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("unknown {} `{other}`", stringify!($name))),
                }
            }
        }
    };
}

/// Binds an event ([`NewEvent`]) to [`INSERT_EVENT`] (or a statement with
/// the same seven parameters): master, kind, actor, reason, detail, run,
/// time.
macro_rules! bind_event {
    ($query:expr, $event:expr, $now:expr) => {
        $query
            .bind($event.master_id.as_deref())
            .bind(&$event.kind)
            .bind(&$event.actor)
            .bind($event.reason.as_deref())
            .bind($crate::store::json_text(&$event.detail))
            .bind($event.run_id.map(|r| r.0))
            .bind($now)
    };
}

/// Makes `absorbed` a tombstone pointing at `survivor` inside the
/// transaction `tx`, and moves the links still on it (records no longer at
/// their source follow their master). Evaluates to `Result<(), sqlx::Error>`.
macro_rules! merge_master {
    ($tx:expr, $absorbed:expr, $survivor:expr, $now:expr) => {
        async {
            sqlx::query(
                "UPDATE masters SET status = 'merged', merged_into = $1, updated_at = $2 WHERE id = $3",
            )
            .bind($survivor)
            .bind($now)
            .bind($absorbed)
            .execute(&mut *$tx)
            .await?;
            sqlx::query("UPDATE links SET master_id = $1 WHERE master_id = $2")
                .bind($survivor)
                .bind($absorbed)
                .execute(&mut *$tx)
                .await?;
            Ok::<(), sqlx::Error>(())
        }
    };
}

/// Appends one event; bound by `bind_event!`.
const INSERT_EVENT: &str =
    "INSERT INTO events (master_id, kind, actor, reason, detail, run_id, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

mod error;
mod golden;
mod hash;
mod locks;
mod master_index;
mod migrate;
mod outbox;
mod payloads;
pub mod process;
mod resolution;
mod review;
mod runs;
mod staging;
mod steward;
mod summary;

pub use error::{Result, StoreError};
pub use golden::{
    ConflictRow, GoldenChange, GoldenInput, GoldenRow, GoldenVersion, GoldenWrite, LinkedRecord,
    NewConflict,
};
pub use hash::{content_hash, content_hash_json, content_hash_parts};
pub use locks::LockLease;
pub use master_index::{DecidedBy, Event, Link, Master, MasterStatus, NewEvent};
pub use migrate::ColumnInfo;
pub use outbox::{NewOutbox, OutboxItem, OutboxStatus};
pub use payloads::{Payload, PayloadSet};
pub use resolution::{
    unpack_record, LinkRow, LinkWrite, PackedLinks, PackedPage, PackedRecord, RecordLink,
    ResolutionWrite,
};
pub use review::{
    MatchRule, MatchRuleKind, NewMatchRule, NewReview, RecordRef, Review, ReviewDecision,
    ReviewStatus,
};
pub use runs::{Run, RunId, RunOutcome, RunStatus};
pub use staging::{
    QuarantineInput, QuarantineRecord, RecordStatus, SourceCounts, StageCounts, StageInput,
    StagedRecord,
};
pub use steward::{ReviewVerdict, StewardWrite};
pub use summary::StoreSummary;

/// The native connection pool behind a [`Store`].
///
/// Public so that tests and diagnostics can run backend-specific SQL (pragma
/// checks, schema comparison); application code goes through `Store` methods.
#[derive(Debug, Clone)]
pub enum Pool {
    /// The embedded default.
    Sqlite(SqlitePool),
    /// The production server.
    Postgres(PgPool),
}

/// Handle to the yici store; cheap to clone (the pool is shared).
#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool,
}

impl Store {
    /// Opens (creating if needed) the store at `url` and applies pending
    /// migrations.
    ///
    /// `sqlite://path`, `sqlite:path` (relative to the working directory;
    /// parent directories and the file are created) and `sqlite::memory:`
    /// select SQLite; `postgres://` / `postgresql://` select PostgreSQL.
    pub async fn open(url: &str) -> Result<Store> {
        let shown = redact_url(url);
        tracing::debug!(url = %shown, "opening store");
        let pool = if url.starts_with("sqlite:") {
            Pool::Sqlite(open_sqlite(url, &shown).await?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Pool::Postgres(open_postgres(url, &shown).await?)
        } else {
            return Err(StoreError::UnsupportedUrl { url: shown });
        };
        let store = Store { pool };
        migrate::run(&store).await?;
        Ok(store)
    }

    /// The native pool, for backend-specific diagnostics and tests.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// `"sqlite"` or `"postgres"`, for logs and `yici summary`.
    pub fn backend_name(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// The rows of a parameterless `GROUP BY` query as (key, count), read
    /// from its columns `k` and `n`.
    pub(crate) async fn counts_by_key(
        &self,
        op: &'static str,
        sql: &str,
    ) -> Result<Vec<(String, u64)>> {
        on_pool!(self, pool => {
            sqlx::query(sql)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(op))?
                .iter()
                .map(|row| {
                    let d = Decode::new(row, op);
                    Ok((d.text("k")?, d.count("n")?))
                })
                .collect()
        })
    }

    /// Whether the store answers a trivial query (readiness probes).
    pub async fn ping(&self) -> Result<()> {
        on_pool!(self, pool => {
            sqlx::query("SELECT 1")
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(StoreError::query("ping"))
        })
    }

    /// Closes every connection; waits for checked-out ones to come back.
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }
}

async fn open_sqlite(url: &str, shown: &str) -> Result<SqlitePool> {
    let open_err = |error| StoreError::Open {
        url: shown.to_owned(),
        error,
    };
    let body = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let in_memory = body.starts_with(":memory:") || body.contains("mode=memory");
    let mut options = SqliteConnectOptions::from_str(url)
        .map_err(open_err)?
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    if !in_memory {
        options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            // Staging rewrites many pages per batch: a 64 MiB page cache
            // keeps the key index hot, and checkpointing every 16k pages
            // (64 MiB of WAL) instead of 1k moves most checkpoint work out of
            // the per-batch commits; memory-mapped reads save a syscall per
            // page read. Durability is unchanged (WAL + NORMAL).
            .pragma("cache_size", "-65536")
            .pragma("wal_autocheckpoint", "16384")
            .pragma("mmap_size", "268435456");
        if let Some(dir) = options.get_filename().parent() {
            create_dir(dir)?;
        }
    }
    let pool_options = if in_memory {
        // A shared-cache memory database lives only while a connection is
        // open: keep exactly one, forever.
        SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        SqlitePoolOptions::new().max_connections(4)
    };
    pool_options.connect_with(options).await.map_err(open_err)
}

fn create_dir(dir: &Path) -> Result<()> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|error| StoreError::CreateDir {
        path: dir.to_path_buf(),
        error,
    })
}

async fn open_postgres(url: &str, shown: &str) -> Result<PgPool> {
    let open_err = |error| StoreError::Open {
        url: shown.to_owned(),
        error,
    };
    // Plan every execution with its parameters and the table's current size.
    // sqlx prepares each statement once per connection; PostgreSQL would
    // otherwise settle on a generic plan made while a table was still empty
    // (a sequential scan) and keep it as the table grows: staging measured
    // 20× slower for 20k rows.
    let options = PgConnectOptions::from_str(url)
        .map_err(open_err)?
        .options([("plan_cache_mode", "force_custom_plan")]);
    PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(open_err)
}

/// PostgreSQL, inside a transaction: let the statements that follow reuse
/// their plans (bulk inserts, whose cost is the per-row foreign-key checks
/// the connection's `force_custom_plan` would otherwise re-plan each time).
pub(crate) const PG_REUSE_PLANS: &str = "SET LOCAL plan_cache_mode = auto";

/// PostgreSQL: back to planning every statement afresh (see
/// [`open_postgres`]) for the rest of the transaction.
pub(crate) const PG_FRESH_PLANS: &str = "SET LOCAL plan_cache_mode = force_custom_plan";

/// Replaces the password in a connection URL with `***`, for errors and logs.
///
/// Handles `scheme://user:password@host/…` and a `password=` query
/// parameter; URLs without credentials come back unchanged.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest = scheme_end + 3;
        let authority_end = out[rest..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| rest + i);
        if let Some(at) = out[rest..authority_end].rfind('@') {
            let userinfo = &out[rest..rest + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(rest + colon + 1..rest + at, "***");
            }
        }
    }
    if let Some(query_start) = out.find('?') {
        let (head, query) = out.split_at(query_start + 1);
        let redacted: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out = format!("{head}{}", redacted.join("&"));
    }
    out
}

impl Store {
    /// The statement text for this store's dialect, from a (SQLite,
    /// PostgreSQL) pair.
    pub(crate) fn dialect(&self, sql: (&'static str, &'static str)) -> &'static str {
        match self.pool() {
            Pool::Sqlite(_) => sql.0,
            Pool::Postgres(_) => sql.1,
        }
    }
}

/// Formats a timestamp the way the store keeps it: RFC 3339, UTC, always
/// six fractional digits and `Z`, so comparing the text compares the time.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// `timestamp(Utc::now())`.
pub(crate) fn now_text() -> String {
    timestamp(Utc::now())
}

/// Serializes a JSON document for a `TEXT` column.
pub(crate) fn json_text(value: &serde_json::Value) -> String {
    // Serializing a `Value` cannot fail: its keys are strings.
    value.to_string()
}

/// Begins a write transaction. SQLite takes the write lock up front
/// (`BEGIN IMMEDIATE`) so a read-then-write transaction waits on
/// `busy_timeout` instead of failing when another writer got there first.
pub(crate) trait WritePool {
    /// The driver.
    type Db: sqlx::Database;
    /// Starts the transaction.
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Self::Db>, sqlx::Error>> + Send;
}

impl WritePool for SqlitePool {
    type Db = sqlx::Sqlite;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, sqlx::Sqlite>, sqlx::Error>> + Send {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

impl WritePool for PgPool {
    type Db = sqlx::Postgres;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, sqlx::Postgres>, sqlx::Error>> + Send
    {
        self.begin()
    }
}

/// The column types the store uses, readable the same way from both
/// drivers' rows.
pub(crate) trait PortableRow {
    fn text(&self, col: &str) -> Result<String, sqlx::Error>;
    fn opt_text(&self, col: &str) -> Result<Option<String>, sqlx::Error>;
    fn int(&self, col: &str) -> Result<i64, sqlx::Error>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>, sqlx::Error>;
    fn float(&self, col: &str) -> Result<f64, sqlx::Error>;
    fn opt_float(&self, col: &str) -> Result<Option<f64>, sqlx::Error>;
}

macro_rules! portable_row {
    ($row:ty) => {
        impl PortableRow for $row {
            fn text(&self, col: &str) -> Result<String, sqlx::Error> {
                self.try_get(col)
            }
            fn opt_text(&self, col: &str) -> Result<Option<String>, sqlx::Error> {
                self.try_get(col)
            }
            fn int(&self, col: &str) -> Result<i64, sqlx::Error> {
                self.try_get(col)
            }
            fn opt_int(&self, col: &str) -> Result<Option<i64>, sqlx::Error> {
                self.try_get(col)
            }
            fn float(&self, col: &str) -> Result<f64, sqlx::Error> {
                self.try_get(col)
            }
            fn opt_float(&self, col: &str) -> Result<Option<f64>, sqlx::Error> {
                self.try_get(col)
            }
        }
    };
}
portable_row!(SqliteRow);
portable_row!(PgRow);

/// Reads typed values out of a row, tagging every failure with the
/// operation, so row decoders stay one line per field.
pub(crate) struct Decode<'r, R> {
    row: &'r R,
    op: &'static str,
}

impl<'r, R: PortableRow> Decode<'r, R> {
    pub(crate) fn new(row: &'r R, op: &'static str) -> Self {
        Decode { row, op }
    }

    pub(crate) fn text(&self, col: &str) -> Result<String> {
        self.row.text(col).map_err(StoreError::query(self.op))
    }

    pub(crate) fn opt_text(&self, col: &str) -> Result<Option<String>> {
        self.row.opt_text(col).map_err(StoreError::query(self.op))
    }

    pub(crate) fn int(&self, col: &str) -> Result<i64> {
        self.row.int(col).map_err(StoreError::query(self.op))
    }

    pub(crate) fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        self.row.opt_int(col).map_err(StoreError::query(self.op))
    }

    pub(crate) fn float(&self, col: &str) -> Result<f64> {
        self.row.float(col).map_err(StoreError::query(self.op))
    }

    pub(crate) fn opt_float(&self, col: &str) -> Result<Option<f64>> {
        self.row.opt_float(col).map_err(StoreError::query(self.op))
    }

    pub(crate) fn count(&self, col: &str) -> Result<u64> {
        let n = self.int(col)?;
        u64::try_from(n).map_err(|_| self.corrupt(col, format!("negative count {n}")))
    }

    pub(crate) fn json(&self, col: &str) -> Result<serde_json::Value> {
        let text = self.text(col)?;
        serde_json::from_str(&text).map_err(|e| self.corrupt(col, e.to_string()))
    }

    pub(crate) fn time(&self, col: &str) -> Result<DateTime<Utc>> {
        let text = self.text(col)?;
        self.parse_time(col, &text)
    }

    pub(crate) fn opt_time(&self, col: &str) -> Result<Option<DateTime<Utc>>> {
        match self.opt_text(col)? {
            Some(text) => self.parse_time(col, &text).map(Some),
            None => Ok(None),
        }
    }

    /// A `TEXT` column holding a `text_enum!` value.
    pub(crate) fn parse<T: FromStr<Err = String>>(&self, col: &str) -> Result<T> {
        let text = self.text(col)?;
        text.parse().map_err(|e: String| self.corrupt(col, e))
    }

    fn parse_time(&self, col: &str, text: &str) -> Result<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| self.corrupt(col, format!("timestamp `{text}`: {e}")))
    }

    fn corrupt(&self, col: &str, detail: String) -> StoreError {
        StoreError::Corrupt {
            op: self.op,
            detail: format!("column {col}: {detail}"),
        }
    }
}

/// Appends `($1, $2, …)` binding `ids`, for `WHERE id IN …`.
pub(crate) fn push_in_list<'a, DB: sqlx::Database>(
    b: &mut sqlx::QueryBuilder<'a, DB>,
    ids: &'a [String],
) where
    &'a String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    b.push("(");
    let mut list = b.separated(", ");
    for id in ids {
        list.push_bind(id);
    }
    list.push_unseparated(")");
}

/// Converts a caller's count/limit to the `BIGINT` the databases take.
pub(crate) fn to_i64(op: &'static str, n: u64) -> Result<i64> {
    i64::try_from(n).map_err(|_| StoreError::InvalidArgument {
        op,
        detail: format!("{n} does not fit a 64-bit signed integer"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_userinfo_password() {
        assert_eq!(
            redact_url("postgres://yici:s3cr:et@db.local:5432/yici"),
            "postgres://yici:***@db.local:5432/yici"
        );
        assert_eq!(
            redact_url("postgresql://yici:p%40ss@host/db?sslmode=require"),
            "postgresql://yici:***@host/db?sslmode=require"
        );
    }

    #[test]
    fn redacts_password_query_parameter() {
        assert_eq!(
            redact_url("postgres://host/db?user=u&password=hunter2&sslmode=disable"),
            "postgres://host/db?user=u&password=***&sslmode=disable"
        );
    }

    #[test]
    fn leaves_urls_without_password_alone() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/postgres",
            "sqlite://data/yici.db",
            "sqlite::memory:",
        ] {
            assert_eq!(redact_url(url), url);
        }
    }

    #[test]
    fn timestamps_are_fixed_width_utc() {
        let t = DateTime::parse_from_rfc3339("2024-03-01T08:00:00+08:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(timestamp(t), "2024-03-01T00:00:00.000000Z");
    }
}
