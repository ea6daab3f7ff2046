//! Staging: the latest pulled version of every source record, the quarantine
//! for records that could not be used, and each source's pull cursor.
//!
//! A batch's staged rows, quarantine rows and cursor commit in one
//! transaction, so a run killed at any point resumes from a cursor that
//! matches what is stored: nothing is lost and nothing counted twice.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::sqlite::{SqliteConnection, SqliteRow};

use super::{
    json_text, now_text, to_i64, Decode, PortableRow, Result, RunId, Store, StoreError, WritePool,
};

text_enum! {
    /// Whether a staged record is still present at its source.
    RecordStatus {
        /// Seen in the latest full pull (or not yet checked).
        Active => "active",
        /// Missing from a full pull; kept, never deleted.
        Gone => "gone",
    }
}

/// One standardized record to stage.
///
/// The JSON documents arrive serialized: the caller's parallel
/// standardization threads do that work, not the single store writer. The
/// store writes the texts verbatim and does not check them; each must be
/// one valid JSON document (readers such as [`Store::staged_record`] parse
/// them and report anything else as corrupt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageInput {
    /// The record's key in its source system.
    pub source_key: String,
    /// The record as pulled, as JSON text.
    pub raw: String,
    /// The canonical resident record, as JSON text.
    pub canonical: String,
    /// Non-fatal problems found while standardizing, as JSON text (`[]`
    /// when there are none).
    pub problems: String,
    /// Hash of the record's content, computed by the caller (the pull hashes
    /// raw and canonical text with [`super::content_hash_parts`]); decides
    /// changed vs unchanged.
    pub content_hash: String,
    /// The source's own last-modified value, verbatim, if it has one.
    pub source_updated_at: Option<String>,
    /// The comparison view matching reads (JSON), when the caller made one.
    pub match_key: Option<String>,
}

/// One record that could not be standardized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineInput {
    /// The record's key in its source system.
    pub source_key: String,
    /// The record as pulled, as JSON text (serialized by the caller, stored
    /// verbatim; see [`StageInput`]).
    pub raw: String,
    /// Why it cannot be used, for the operator.
    pub reasons: Vec<String>,
}

/// What one staging call did; `new + changed` is what matching must look at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StageCounts {
    /// Keys never staged before.
    pub new: u64,
    /// Keys whose content hash differs, or that had been marked gone.
    pub changed: u64,
    /// Keys seen again with the same content (only `last_seen_run` moves).
    pub unchanged: u64,
    /// Records put into (or kept in) quarantine.
    pub quarantined: u64,
    /// Quarantined keys released because a usable version arrived.
    pub released: u64,
}

/// A staged source record as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StagedRecord {
    /// Row id.
    pub id: i64,
    /// Source name.
    pub source: String,
    /// Key in the source.
    pub source_key: String,
    /// The record as pulled.
    pub raw: serde_json::Value,
    /// The canonical record.
    pub canonical: serde_json::Value,
    /// Non-fatal standardization problems.
    pub problems: serde_json::Value,
    /// Hash of the canonical record.
    pub content_hash: String,
    /// The source's own last-modified value.
    pub source_updated_at: Option<String>,
    /// Active or gone.
    pub status: RecordStatus,
    /// Run that first staged it.
    pub first_seen_run: RunId,
    /// Latest run that saw it at the source.
    pub last_seen_run: RunId,
    /// Run that marked it gone, while it is gone.
    pub gone_run: Option<RunId>,
    /// When it was first staged.
    pub staged_at: DateTime<Utc>,
    /// When its content or status last changed.
    pub updated_at: DateTime<Utc>,
}

/// A quarantined record as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct QuarantineRecord {
    /// Row id.
    pub id: i64,
    /// Source name.
    pub source: String,
    /// Key in the source.
    pub source_key: String,
    /// The record as pulled (latest bad version).
    pub raw: serde_json::Value,
    /// Why it cannot be used.
    pub reasons: Vec<String>,
    /// Latest run that quarantined it.
    pub run_id: RunId,
    /// When it was first quarantined.
    pub created_at: DateTime<Utc>,
    /// When it was last quarantined again.
    pub updated_at: DateTime<Utc>,
    /// When a usable version released it.
    pub released_at: Option<DateTime<Utc>>,
}

/// Staged records of one source by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SourceCounts {
    /// Present at the source.
    pub active: u64,
    /// Missing from a full pull.
    pub gone: u64,
}

/// Rows per multi-row SQLite `INSERT`: 1,024 × 11 parameters stays well
/// below the bundled SQLite's (3.46) limit of 32,766; per-statement overhead
/// is already negligible at this size (SQLite's own row writes dominate).
const SQLITE_ROWS: usize = 1024;

/// Rows (or keys) per PostgreSQL array statement. Each chunk is one round
/// trip; the bound keeps a single message at a few megabytes.
const PG_ROWS: usize = 8192;

/// Keys per SQLite `json_each` key set, to bound one parameter's size.
const SQLITE_KEYS: usize = 8192;

/// A statement whose text must differ between the dialects, both versions
/// side by side. They differ only in how a set of keys is passed: SQLite
/// gets a JSON array (`json_each`), PostgreSQL a `text[]` (`= ANY`).
///
/// In SQLite a `+` before a column keeps the planner off that column's
/// index: without it, `status = 'active'` (or `released_at IS NULL`) makes
/// SQLite scan the `(source, status, …)` index instead of probing the
/// unique `(source, source_key)` one for each key.
struct Sql {
    sqlite: &'static str,
    postgres: &'static str,
}

/// `last_seen_run` of active staged rows whose key is quarantined now: an
/// invalid-but-present record is not gone. `$1` run, `$2` source, `$3` keys.
const TOUCH_ACTIVE: Sql = Sql {
    sqlite: "UPDATE staged_records SET last_seen_run = $1 \
             WHERE source = $2 AND source_key IN (SELECT value FROM json_each($3)) \
             AND +status = 'active'",
    postgres: "UPDATE staged_records SET last_seen_run = $1 \
               WHERE source = $2 AND source_key = ANY($3) AND status = 'active'",
};

/// `last_seen_run` of staged rows seen again unchanged. No `status` term:
/// these keys were just read as active. `$1` run, `$2` source, `$3` keys.
const TOUCH_UNCHANGED: Sql = Sql {
    sqlite: "UPDATE staged_records SET last_seen_run = $1 \
             WHERE source = $2 AND source_key IN (SELECT value FROM json_each($3))",
    postgres: "UPDATE staged_records SET last_seen_run = $1 \
               WHERE source = $2 AND source_key = ANY($3)",
};

/// What is stored for a batch's keys. `$1` source, `$2` keys.
const EXISTING: Sql = Sql {
    sqlite: "SELECT source_key, content_hash, status FROM staged_records \
             WHERE source = $1 AND source_key IN (SELECT value FROM json_each($2))",
    postgres: "SELECT source_key, content_hash, status FROM staged_records \
               WHERE source = $1 AND source_key = ANY($2)",
};

/// Which of a batch's keys sit in open quarantine. `$1` source, `$2` keys.
const OPEN_QUARANTINE: Sql = Sql {
    sqlite: "SELECT source_key FROM quarantine \
             WHERE source = $1 AND source_key IN (SELECT value FROM json_each($2)) \
             AND +released_at IS NULL",
    postgres: "SELECT source_key FROM quarantine \
               WHERE source = $1 AND source_key = ANY($2) AND released_at IS NULL",
};

/// Releases open quarantine rows of keys that arrived usable. `$1` now,
/// `$2` source, `$3` keys.
const RELEASE_QUARANTINE: Sql = Sql {
    sqlite: "UPDATE quarantine SET released_at = $1, updated_at = $1 \
             WHERE source = $2 AND source_key IN (SELECT value FROM json_each($3)) \
             AND +released_at IS NULL",
    postgres: "UPDATE quarantine SET released_at = $1, updated_at = $1 \
               WHERE source = $2 AND source_key = ANY($3) AND released_at IS NULL",
};

/// The columns and conflict clause of the staged-record upsert, shared by
/// both dialects' statements.
macro_rules! staged_insert_head {
    () => {
        "INSERT INTO staged_records \
            (source, source_key, raw, canonical, problems, content_hash, source_updated_at, \
             status, first_seen_run, last_seen_run, staged_at, updated_at, match_key) "
    };
}
macro_rules! staged_conflict {
    () => {
        " ON CONFLICT (source, source_key) DO UPDATE SET \
            raw = excluded.raw, canonical = excluded.canonical, problems = excluded.problems, \
            content_hash = excluded.content_hash, source_updated_at = excluded.source_updated_at, \
            match_key = excluded.match_key, status = 'active', gone_run = NULL, last_seen_run = excluded.last_seen_run, \
            updated_at = excluded.updated_at"
    };
}
macro_rules! quarantine_insert_head {
    () => {
        "INSERT INTO quarantine \
            (source, source_key, raw, reasons, run_id, created_at, updated_at, released_at) "
    };
}
macro_rules! quarantine_conflict {
    () => {
        " ON CONFLICT (source, source_key) DO UPDATE SET \
            raw = excluded.raw, reasons = excluded.reasons, run_id = excluded.run_id, \
            updated_at = excluded.updated_at, released_at = NULL"
    };
}

/// PostgreSQL: a whole chunk of staged rows as parallel arrays, one round
/// trip. `$1` source, `$2` run, `$3` now, `$4…$10` key, raw, canonical,
/// problems, hash, source_updated_at, match_key arrays. `ORDER BY n` keeps row ids in
/// batch order, as one insert per row did.
const PG_UPSERT_STAGED: &str = concat!(
    staged_insert_head!(),
    "SELECT $1, k, r, c, p, h, u, 'active', $2, $2, $3, $3, m \
     FROM UNNEST($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[]) \
        WITH ORDINALITY AS t (k, r, c, p, h, u, m, n) \
     ORDER BY n",
    staged_conflict!()
);

/// PostgreSQL: a chunk of quarantine rows. `$1` source, `$2` run, `$3` now,
/// `$4…$6` key, raw, reasons arrays.
const PG_UPSERT_QUARANTINE: &str = concat!(
    quarantine_insert_head!(),
    "SELECT $1, k, r, q, $2, $3, $3, NULL \
     FROM UNNEST($4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS t (k, r, q, n) \
     ORDER BY n",
    quarantine_conflict!()
);

/// One SQLite multi-row upsert, `VALUES` generated for any row count.
/// Counts are split into [`SQLITE_ROWS`] and then powers of two, so each
/// connection prepares at most a dozen texts per statement and reuses them.
///
/// Every parameter is an anonymous `?`, bound in order, values shared by
/// all rows repeated in each: sqlx looks up each parameter's name, and
/// SQLite finds a *named* (`$n`) parameter's name by a linear scan, which
/// made a 6,000-parameter statement quadratic (40% of staging time).
struct SqliteValues {
    head: &'static str,
    /// One row's expressions, `?` for each bound value.
    row: &'static str,
    tail: &'static str,
    /// Generated texts by `log2(rows)`.
    texts: [OnceLock<String>; SQLITE_LEVELS],
}

/// `log2(SQLITE_ROWS) + 1` statement sizes: 1, 2, 4, …, `SQLITE_ROWS`.
const SQLITE_LEVELS: usize = SQLITE_ROWS.trailing_zeros() as usize + 1;

impl SqliteValues {
    /// Parameters per row.
    fn per_row(&self) -> usize {
        self.row.matches('?').count()
    }

    /// The text for `1 << level` rows.
    fn text(&self, level: usize) -> &str {
        self.texts[level].get_or_init(|| {
            let rows = vec![self.row; 1 << level];
            format!("{}VALUES {}{}", self.head, rows.join(", "), self.tail)
        })
    }

    /// Splits `rows` into statement sizes: full chunks, then powers of two.
    fn chunks(rows: usize) -> impl Iterator<Item = (usize, usize)> {
        let full = rows / SQLITE_ROWS;
        let rest = rows % SQLITE_ROWS;
        std::iter::repeat_n(SQLITE_LEVELS - 1, full)
            .chain(
                (0..SQLITE_LEVELS - 1)
                    .rev()
                    .filter(move |l| rest & (1 << l) != 0),
            )
            .map(|level| (level, 1usize << level))
    }
}

/// Binds source, key, raw, canonical, problems, hash, source_updated_at,
/// run, run, now, now, match_key.
static SQLITE_UPSERT_STAGED: SqliteValues = SqliteValues {
    head: staged_insert_head!(),
    row: "(?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?)",
    tail: staged_conflict!(),
    texts: [const { OnceLock::new() }; SQLITE_LEVELS],
};

/// Binds source, key, raw, reasons, run, now, now.
static SQLITE_UPSERT_QUARANTINE: SqliteValues = SqliteValues {
    head: quarantine_insert_head!(),
    row: "(?, ?, ?, ?, ?, ?, ?, NULL)",
    tail: quarantine_conflict!(),
    texts: [const { OnceLock::new() }; SQLITE_LEVELS],
};

/// Written once for both dialects.
const UPSERT_CURSOR: &str = "INSERT INTO cursors (source, value, updated_at, run_id) \
     VALUES ($1, $2, $3, $4) \
     ON CONFLICT (source) DO UPDATE SET \
        value = excluded.value, updated_at = excluded.updated_at, run_id = excluded.run_id";

const STAGED_COLUMNS: &str = "id, source, source_key, raw, canonical, problems, content_hash, \
     source_updated_at, status, first_seen_run, last_seen_run, gone_run, staged_at, updated_at";

const QUARANTINE_COLUMNS: &str =
    "id, source, source_key, raw, reasons, run_id, created_at, updated_at, released_at";

fn staged_of<R: PortableRow>(row: &R, op: &'static str) -> Result<StagedRecord> {
    let d = Decode::new(row, op);
    Ok(StagedRecord {
        id: d.int("id")?,
        source: d.text("source")?,
        source_key: d.text("source_key")?,
        raw: d.json("raw")?,
        canonical: d.json("canonical")?,
        problems: d.json("problems")?,
        content_hash: d.text("content_hash")?,
        source_updated_at: d.opt_text("source_updated_at")?,
        status: d.parse("status")?,
        first_seen_run: RunId(d.int("first_seen_run")?),
        last_seen_run: RunId(d.int("last_seen_run")?),
        gone_run: d.opt_int("gone_run")?.map(RunId),
        staged_at: d.time("staged_at")?,
        updated_at: d.time("updated_at")?,
    })
}

fn quarantine_of<R: PortableRow>(row: &R, op: &'static str) -> Result<QuarantineRecord> {
    let d = Decode::new(row, op);
    let reasons = d.json("reasons")?;
    Ok(QuarantineRecord {
        id: d.int("id")?,
        source: d.text("source")?,
        source_key: d.text("source_key")?,
        raw: d.json("raw")?,
        reasons: serde_json::from_value(reasons).map_err(|e| StoreError::Corrupt {
            op,
            detail: format!("column reasons: {e}"),
        })?,
        run_id: RunId(d.int("run_id")?),
        created_at: d.time("created_at")?,
        updated_at: d.time("updated_at")?,
        released_at: d.opt_time("released_at")?,
    })
}

/// The operation name on every staging error.
const OP: &str = "stage_batch";

/// What every statement of one staging call shares.
struct Batch<'a> {
    source: &'a str,
    run: i64,
    now: &'a str,
}

/// A quarantine row to write: the last copy of its key in the call.
struct QuarantineRow<'a> {
    key: &'a str,
    raw: &'a str,
    reasons: String,
}

/// The first parameter of a [`BatchWriter::update_keys`] statement.
enum First<'a> {
    Run(i64),
    Now(&'a str),
}

/// The batch statements on one native connection. Everything that decides
/// *what* to write ([`stage_in`]) is shared; only how a chunk of rows or a
/// set of keys reaches the server differs, and lives here.
trait BatchWriter: Send {
    /// The driver's row type.
    type Row: PortableRow + Send;

    /// Rows of a `$1` source, `$2` key-set query ([`EXISTING`],
    /// [`OPEN_QUARANTINE`]).
    fn select_keys(
        &mut self,
        sql: &Sql,
        source: &str,
        keys: &[&str],
    ) -> impl Future<Output = Result<Vec<Self::Row>>> + Send;

    /// Runs a `$1` first, `$2` source, `$3` key-set statement
    /// ([`TOUCH_ACTIVE`], [`TOUCH_UNCHANGED`], [`RELEASE_QUARANTINE`]).
    fn update_keys(
        &mut self,
        sql: &Sql,
        first: First<'_>,
        source: &str,
        keys: &[&str],
    ) -> impl Future<Output = Result<()>> + Send;

    /// Upserts quarantine rows (keys unique).
    fn upsert_quarantine(
        &mut self,
        batch: &Batch<'_>,
        rows: &[QuarantineRow<'_>],
    ) -> impl Future<Output = Result<()>> + Send;

    /// Upserts staged rows (keys unique).
    fn upsert_staged(
        &mut self,
        batch: &Batch<'_>,
        rows: &[&StageInput],
    ) -> impl Future<Output = Result<()>> + Send;
}

/// A key set as the JSON array SQLite's `json_each` reads.
fn json_keys(keys: &[&str]) -> Result<String> {
    serde_json::to_string(keys).map_err(|e| StoreError::InvalidArgument {
        op: OP,
        detail: format!("source keys as JSON: {e}"),
    })
}

impl BatchWriter for SqliteConnection {
    type Row = SqliteRow;

    async fn select_keys(
        &mut self,
        sql: &Sql,
        source: &str,
        keys: &[&str],
    ) -> Result<Vec<SqliteRow>> {
        let mut rows = Vec::new();
        for chunk in keys.chunks(SQLITE_KEYS) {
            rows.extend(
                sqlx::query(sql.sqlite)
                    .bind(source)
                    .bind(json_keys(chunk)?)
                    .fetch_all(&mut *self)
                    .await
                    .map_err(StoreError::query(OP))?,
            );
        }
        Ok(rows)
    }

    async fn update_keys(
        &mut self,
        sql: &Sql,
        first: First<'_>,
        source: &str,
        keys: &[&str],
    ) -> Result<()> {
        for chunk in keys.chunks(SQLITE_KEYS) {
            let query = sqlx::query(sql.sqlite);
            let query = match first {
                First::Run(run) => query.bind(run),
                First::Now(now) => query.bind(now),
            };
            query
                .bind(source)
                .bind(json_keys(chunk)?)
                .execute(&mut *self)
                .await
                .map_err(StoreError::query(OP))?;
        }
        Ok(())
    }

    async fn upsert_quarantine(
        &mut self,
        batch: &Batch<'_>,
        rows: &[QuarantineRow<'_>],
    ) -> Result<()> {
        let sql = &SQLITE_UPSERT_QUARANTINE;
        debug_assert_eq!(sql.per_row(), 7);
        let mut rest = rows;
        for (level, size) in SqliteValues::chunks(rows.len()) {
            let (chunk, tail) = rest.split_at(size);
            rest = tail;
            let mut query = sqlx::query(sql.text(level));
            for row in chunk {
                query = query
                    .bind(batch.source)
                    .bind(row.key)
                    .bind(row.raw)
                    .bind(row.reasons.as_str())
                    .bind(batch.run)
                    .bind(batch.now)
                    .bind(batch.now);
            }
            query
                .execute(&mut *self)
                .await
                .map_err(StoreError::query(OP))?;
        }
        Ok(())
    }

    async fn upsert_staged(&mut self, batch: &Batch<'_>, rows: &[&StageInput]) -> Result<()> {
        let sql = &SQLITE_UPSERT_STAGED;
        debug_assert_eq!(sql.per_row(), 12);
        let mut rest = rows;
        for (level, size) in SqliteValues::chunks(rows.len()) {
            let (chunk, tail) = rest.split_at(size);
            rest = tail;
            let mut query = sqlx::query(sql.text(level));
            for row in chunk {
                query = query
                    .bind(batch.source)
                    .bind(row.source_key.as_str())
                    .bind(row.raw.as_str())
                    .bind(row.canonical.as_str())
                    .bind(row.problems.as_str())
                    .bind(row.content_hash.as_str())
                    .bind(row.source_updated_at.as_deref())
                    .bind(batch.run)
                    .bind(batch.run)
                    .bind(batch.now)
                    .bind(batch.now)
                    .bind(row.match_key.as_deref());
            }
            query
                .execute(&mut *self)
                .await
                .map_err(StoreError::query(OP))?;
        }
        Ok(())
    }
}

impl BatchWriter for PgConnection {
    type Row = PgRow;

    async fn select_keys(&mut self, sql: &Sql, source: &str, keys: &[&str]) -> Result<Vec<PgRow>> {
        let mut rows = Vec::new();
        for chunk in keys.chunks(PG_ROWS) {
            rows.extend(
                sqlx::query(sql.postgres)
                    .bind(source)
                    .bind(chunk)
                    .fetch_all(&mut *self)
                    .await
                    .map_err(StoreError::query(OP))?,
            );
        }
        Ok(rows)
    }

    async fn update_keys(
        &mut self,
        sql: &Sql,
        first: First<'_>,
        source: &str,
        keys: &[&str],
    ) -> Result<()> {
        for chunk in keys.chunks(PG_ROWS) {
            let query = sqlx::query(sql.postgres);
            let query = match first {
                First::Run(run) => query.bind(run),
                First::Now(now) => query.bind(now),
            };
            query
                .bind(source)
                .bind(chunk)
                .execute(&mut *self)
                .await
                .map_err(StoreError::query(OP))?;
        }
        Ok(())
    }

    async fn upsert_quarantine(
        &mut self,
        batch: &Batch<'_>,
        rows: &[QuarantineRow<'_>],
    ) -> Result<()> {
        for chunk in rows.chunks(PG_ROWS) {
            let keys: Vec<&str> = chunk.iter().map(|r| r.key).collect();
            let raws: Vec<&str> = chunk.iter().map(|r| r.raw).collect();
            let reasons: Vec<&str> = chunk.iter().map(|r| r.reasons.as_str()).collect();
            sqlx::query(PG_UPSERT_QUARANTINE)
                .bind(batch.source)
                .bind(batch.run)
                .bind(batch.now)
                .bind(keys)
                .bind(raws)
                .bind(reasons)
                .execute(&mut *self)
                .await
                .map_err(StoreError::query(OP))?;
        }
        Ok(())
    }

    async fn upsert_staged(&mut self, batch: &Batch<'_>, rows: &[&StageInput]) -> Result<()> {
        // The insert's own plan is trivial; what costs is the foreign-key
        // check on the run columns, one internal statement per row, which
        // the store's `force_custom_plan` would re-plan every time. Let
        // PostgreSQL reuse its plan for this statement only.
        sqlx::query(super::PG_REUSE_PLANS)
            .execute(&mut *self)
            .await
            .map_err(StoreError::query(OP))?;
        for chunk in rows.chunks(PG_ROWS) {
            let column =
                |f: fn(&StageInput) -> &str| -> Vec<&str> { chunk.iter().map(|r| f(r)).collect() };
            let updated: Vec<Option<&str>> = chunk
                .iter()
                .map(|r| r.source_updated_at.as_deref())
                .collect();
            let match_keys: Vec<Option<&str>> =
                chunk.iter().map(|r| r.match_key.as_deref()).collect();
            sqlx::query(PG_UPSERT_STAGED)
                .bind(batch.source)
                .bind(batch.run)
                .bind(batch.now)
                .bind(column(|r| &r.source_key))
                .bind(column(|r| &r.raw))
                .bind(column(|r| &r.canonical))
                .bind(column(|r| &r.problems))
                .bind(column(|r| &r.content_hash))
                .bind(updated)
                .bind(match_keys)
                .execute(&mut *self)
                .await
                .map_err(StoreError::query(OP))?;
        }
        sqlx::query(super::PG_FRESH_PLANS)
            .execute(&mut *self)
            .await
            .map_err(StoreError::query(OP))?;
        Ok(())
    }
}

/// The last copy of each key, in order of each key's first appearance (so
/// new rows get ids in batch order). One statement cannot upsert a row
/// twice on PostgreSQL, and the last copy is what sequential upserts left.
fn last_per_key<T>(items: &[T], key: impl Fn(&T) -> &str) -> Vec<&T> {
    let mut slots: HashMap<&str, usize> = HashMap::with_capacity(items.len());
    let mut out: Vec<&T> = Vec::with_capacity(items.len());
    for item in items {
        match slots.entry(key(item)) {
            Entry::Occupied(slot) => out[*slot.get()] = item,
            Entry::Vacant(slot) => {
                slot.insert(out.len());
                out.push(item);
            }
        }
    }
    out
}

/// What to write for a batch's good records, decided in memory.
struct Plan<'a> {
    /// New or changed records: for each key, its last copy that was not
    /// unchanged, in order of the key's first upsert.
    upserts: Vec<&'a StageInput>,
    /// Keys seen with the content they already have.
    unchanged: Vec<&'a str>,
    /// Keys whose open quarantine row a usable version releases.
    release: Vec<&'a str>,
}

/// Classifies `staged` in order against what is stored, exactly as one
/// upsert per record would: a repeated key is compared with the copy
/// written before it in the same batch.
fn classify<'a>(
    staged: &'a [StageInput],
    existing: &HashMap<String, (String, RecordStatus)>,
    mut open_quarantine: HashSet<String>,
    counts: &mut StageCounts,
) -> Plan<'a> {
    let mut plan = Plan {
        upserts: Vec::with_capacity(staged.len()),
        unchanged: Vec::new(),
        release: Vec::new(),
    };
    // Keys upserted earlier in this batch → their slot in `plan.upserts`.
    let mut written: HashMap<&str, usize> = HashMap::new();
    for record in staged {
        let key = record.source_key.as_str();
        let slot = written.get(key).copied();
        let unchanged = match slot {
            Some(i) => plan.upserts[i].content_hash == record.content_hash,
            None => match existing.get(key) {
                None => {
                    counts.new += 1;
                    false
                }
                Some((hash, RecordStatus::Active)) => *hash == record.content_hash,
                Some((_, RecordStatus::Gone)) => false,
            },
        };
        if unchanged {
            counts.unchanged += 1;
            plan.unchanged.push(key);
        } else {
            if slot.is_some() || existing.contains_key(key) {
                counts.changed += 1;
            }
            match slot {
                Some(i) => plan.upserts[i] = record,
                None => {
                    written.insert(key, plan.upserts.len());
                    plan.upserts.push(record);
                }
            }
        }
        if open_quarantine.remove(key) {
            plan.release.push(key);
            counts.released += 1;
        }
    }
    plan
}

/// Writes one staging call's quarantine and good records on `conn` (inside
/// the caller's transaction) and returns the counts.
async fn stage_in<C: BatchWriter>(
    conn: &mut C,
    batch: &Batch<'_>,
    staged: &[StageInput],
    quarantined: &[QuarantineInput],
) -> Result<StageCounts> {
    let mut counts = StageCounts::default();

    // Quarantine first: a key both quarantined and staged in one call ends
    // staged, its quarantine row released — as the record-by-record code did.
    if !quarantined.is_empty() {
        let rows: Vec<QuarantineRow<'_>> = last_per_key(quarantined, |r| &r.source_key)
            .into_iter()
            .map(|r| QuarantineRow {
                key: &r.source_key,
                raw: &r.raw,
                reasons: json_text(&serde_json::Value::from(r.reasons.as_slice())),
            })
            .collect();
        conn.upsert_quarantine(batch, &rows).await?;
        let keys: Vec<&str> = rows.iter().map(|r| r.key).collect();
        conn.update_keys(&TOUCH_ACTIVE, First::Run(batch.run), batch.source, &keys)
            .await?;
        counts.quarantined = quarantined.len() as u64;
    }
    if staged.is_empty() {
        return Ok(counts);
    }

    let keys: Vec<&str> = staged.iter().map(|r| r.source_key.as_str()).collect();
    let mut existing = HashMap::with_capacity(keys.len());
    for row in conn.select_keys(&EXISTING, batch.source, &keys).await? {
        let d = Decode::new(&row, OP);
        existing.insert(
            d.text("source_key")?,
            (d.text("content_hash")?, d.parse("status")?),
        );
    }
    let mut open_quarantine = HashSet::new();
    for row in conn
        .select_keys(&OPEN_QUARANTINE, batch.source, &keys)
        .await?
    {
        open_quarantine.insert(Decode::new(&row, OP).text("source_key")?);
    }

    let plan = classify(staged, &existing, open_quarantine, &mut counts);
    if !plan.upserts.is_empty() {
        conn.upsert_staged(batch, &plan.upserts).await?;
    }
    if !plan.unchanged.is_empty() {
        conn.update_keys(
            &TOUCH_UNCHANGED,
            First::Run(batch.run),
            batch.source,
            &plan.unchanged,
        )
        .await?;
    }
    if !plan.release.is_empty() {
        conn.update_keys(
            &RELEASE_QUARANTINE,
            First::Now(batch.now),
            batch.source,
            &plan.release,
        )
        .await?;
    }
    Ok(counts)
}

impl Store {
    /// Stages one batch of good records and sets the source's cursor, in
    /// one transaction. See [`Store::stage_and_quarantine`].
    pub async fn stage_batch(
        &self,
        source: &str,
        run_id: RunId,
        records: &[StageInput],
        cursor: Option<&str>,
    ) -> Result<StageCounts> {
        self.stage_and_quarantine(source, run_id, records, &[], cursor)
            .await
    }

    /// Quarantines one batch of bad records, in one transaction. See
    /// [`Store::stage_and_quarantine`].
    pub async fn quarantine_batch(
        &self,
        source: &str,
        run_id: RunId,
        records: &[QuarantineInput],
    ) -> Result<StageCounts> {
        self.stage_and_quarantine(source, run_id, &[], records, None)
            .await
    }

    /// Commits one pulled batch of `source` — its good records, its bad
    /// records and the cursor after it — atomically: if anything fails,
    /// none of it is stored and the cursor stays where it was.
    ///
    /// Good records are upserted by `(source, source_key)`: a key never seen
    /// is `new`; a different `content_hash` (or a record previously marked
    /// gone) is `changed`; the same hash only moves `last_seen_run` and is
    /// `unchanged`. A good record releases its key's open quarantine row.
    /// A key repeated within the batch is handled in order (the later copy
    /// is compared with the earlier one; the last new-or-changed copy is
    /// what stays stored).
    ///
    /// Bad records are upserted into the quarantine (a re-pulled bad record
    /// updates its row and reopens it). If an earlier good version is
    /// staged it stays, and counts as seen, so [`Store::mark_gone`] does not
    /// take an invalid-but-present record for a deleted one.
    ///
    /// The JSON texts of the inputs are stored verbatim. The work is a few
    /// statements per thousand rows (multi-row `VALUES` on SQLite, arrays
    /// through `UNNEST`/`ANY` on PostgreSQL), whatever the batch size.
    pub async fn stage_and_quarantine(
        &self,
        source: &str,
        run_id: RunId,
        staged: &[StageInput],
        quarantined: &[QuarantineInput],
        cursor: Option<&str>,
    ) -> Result<StageCounts> {
        let q = StoreError::query;
        let now = now_text();
        let batch = Batch {
            source,
            run: run_id.0,
            now: &now,
        };
        let counts = on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(q(OP))?;
            let counts = stage_in(&mut *tx, &batch, staged, quarantined).await?;
            if let Some(value) = cursor {
                sqlx::query(UPSERT_CURSOR)
                    .bind(source)
                    .bind(value)
                    .bind(&now)
                    .bind(run_id.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(q(OP))?;
            }
            tx.commit().await.map_err(q(OP))?;
            counts
        });
        tracing::debug!(source, run = %run_id, ?counts, "staged batch");
        Ok(counts)
    }

    /// Marks `source`'s active records not seen since run `seen_since` as
    /// gone, recording `run_id` as the run that noticed; returns how many.
    ///
    /// Only meaningful after a *full* pull (an incremental pull does not
    /// see unchanged records). `seen_since` is normally `run_id` itself, or
    /// the run where a resumed full pull began. Nothing is deleted: links
    /// and history stay, and a record that comes back becomes `changed`.
    pub async fn mark_gone(&self, source: &str, run_id: RunId, seen_since: RunId) -> Result<u64> {
        const OP: &str = "mark_gone";
        let now = now_text();
        let q = StoreError::query(OP);
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(q)?;
            let gone = sqlx::query(
                "UPDATE staged_records SET status = 'gone', gone_run = $2, updated_at = $4 \
                 WHERE source = $1 AND status = 'active' AND last_seen_run < $3",
            )
            .bind(source)
            .bind(run_id.0)
            .bind(seen_since.0)
            .bind(&now)
            .execute(&mut *tx)
            .await
            .map_err(q)?
            .rows_affected();
            // Their masters' golden records lose these records' values.
            sqlx::query(
                "UPDATE masters SET golden_stale = 1 WHERE id IN ( \
                    SELECT l.master_id FROM links l JOIN staged_records s \
                        ON s.source = l.source AND s.source_key = l.source_key \
                    WHERE s.source = $1 AND s.gone_run = $2)",
            )
            .bind(source)
            .bind(run_id.0)
            .execute(&mut *tx)
            .await
            .map_err(q)?;
            tx.commit().await.map_err(q)?;
            Ok(gone)
        })
    }

    /// The cursor committed with `source`'s latest batch, if any.
    pub async fn cursor(&self, source: &str) -> Result<Option<String>> {
        const OP: &str = "cursor";
        on_pool!(self, pool => {
            sqlx::query_scalar("SELECT value FROM cursors WHERE source = $1")
                .bind(source)
                .fetch_optional(pool)
                .await
        })
        .map_err(StoreError::query(OP))
    }

    /// One staged record.
    pub async fn staged_record(&self, source: &str, key: &str) -> Result<Option<StagedRecord>> {
        const OP: &str = "staged_record";
        let sql = format!(
            "SELECT {STAGED_COLUMNS} FROM staged_records WHERE source = $1 AND source_key = $2"
        );
        on_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(source)
                .bind(key)
                .fetch_optional(pool)
                .await
                .map_err(StoreError::query(OP))?
                .map(|row| staged_of(&row, OP))
                .transpose()
        })
    }

    /// How many records of `source` are staged, by status.
    pub async fn count_staged(&self, source: &str) -> Result<SourceCounts> {
        const OP: &str = "count_staged";
        let rows: Vec<(String, u64)> = on_pool!(self, pool => {
            sqlx::query(
                "SELECT status, COUNT(*) AS n FROM staged_records WHERE source = $1 GROUP BY status",
            )
            .bind(source)
            .fetch_all(pool)
            .await
            .map_err(StoreError::query(OP))?
            .iter()
            .map(|row| {
                let d = Decode::new(row, OP);
                Ok((d.text("status")?, d.count("n")?))
            })
            .collect::<Result<_>>()?
        });
        let mut counts = SourceCounts::default();
        for (status, n) in rows {
            match status.parse::<RecordStatus>() {
                Ok(RecordStatus::Active) => counts.active = n,
                Ok(RecordStatus::Gone) => counts.gone = n,
                Err(detail) => return Err(StoreError::Corrupt { op: OP, detail }),
            }
        }
        Ok(counts)
    }

    /// Records currently in quarantine (not released), of one source or of
    /// all, oldest first.
    pub async fn list_quarantine(
        &self,
        source: Option<&str>,
        limit: u64,
    ) -> Result<Vec<QuarantineRecord>> {
        const OP: &str = "list_quarantine";
        let limit = to_i64(OP, limit)?;
        let sql = format!(
            "SELECT {QUARANTINE_COLUMNS} FROM quarantine \
             WHERE released_at IS NULL AND ($1 IS NULL OR source = $1) \
             ORDER BY id LIMIT $2"
        );
        on_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(source)
                .bind(limit)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(OP))?
                .iter()
                .map(|row| quarantine_of(row, OP))
                .collect()
        })
    }

    /// One quarantine row, released or not.
    pub async fn quarantine_record(
        &self,
        source: &str,
        key: &str,
    ) -> Result<Option<QuarantineRecord>> {
        const OP: &str = "quarantine_record";
        let sql = format!(
            "SELECT {QUARANTINE_COLUMNS} FROM quarantine WHERE source = $1 AND source_key = $2"
        );
        on_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(source)
                .bind(key)
                .fetch_optional(pool)
                .await
                .map_err(StoreError::query(OP))?
                .map(|row| quarantine_of(&row, OP))
                .transpose()
        })
    }
}
