//! Staging: the latest pulled version of every source record, the quarantine
//! for records that could not be used, and each source's pull cursor.
//!
//! A batch's staged rows, quarantine rows and cursor commit in one
//! transaction, so a run killed at any point resumes from a cursor that
//! matches what is stored: nothing is lost and nothing counted twice.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use chrono::{DateTime, Utc};

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
#[derive(Debug, Clone, PartialEq)]
pub struct StageInput {
    /// The record's key in its source system.
    pub source_key: String,
    /// The record as pulled.
    pub raw: serde_json::Value,
    /// The canonical resident record.
    pub canonical: serde_json::Value,
    /// Non-fatal problems found while standardizing.
    pub problems: serde_json::Value,
    /// Hash of the canonical record (see [`super::content_hash_json`]);
    /// decides changed vs unchanged.
    pub content_hash: String,
    /// The source's own last-modified value, verbatim, if it has one.
    pub source_updated_at: Option<String>,
}

/// One record that could not be standardized.
#[derive(Debug, Clone, PartialEq)]
pub struct QuarantineInput {
    /// The record's key in its source system.
    pub source_key: String,
    /// The record as pulled.
    pub raw: serde_json::Value,
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

/// Keys looked up per query when classifying a batch. Fixed, padded with
/// NULLs, so the statement text never changes and stays prepared.
const LOOKUP_CHUNK: usize = 256;

/// `{head} IN ($first, …){tail}` with [`LOOKUP_CHUNK`] parameters.
fn in_list_sql(
    head: &str,
    first: usize,
    tail: &str,
    cell: &'static OnceLock<String>,
) -> &'static str {
    cell.get_or_init(|| {
        let params: Vec<String> = (first..first + LOOKUP_CHUNK)
            .map(|i| format!("${i}"))
            .collect();
        format!("{head} IN ({}){tail}", params.join(", "))
    })
}

fn existing_sql() -> &'static str {
    static CELL: OnceLock<String> = OnceLock::new();
    in_list_sql(
        "SELECT source_key, content_hash, status FROM staged_records \
         WHERE source = $1 AND source_key",
        2,
        "",
        &CELL,
    )
}

fn touch_many_sql() -> &'static str {
    static CELL: OnceLock<String> = OnceLock::new();
    in_list_sql(
        // No `status` filter: these keys were just read as active, and a
        // `status` term here makes SQLite scan the (source, status, …) index
        // instead of probing the unique (source, source_key) one.
        "UPDATE staged_records SET last_seen_run = $1 WHERE source = $2 AND source_key",
        3,
        "",
        &CELL,
    )
}

fn open_quarantine_sql() -> &'static str {
    static CELL: OnceLock<String> = OnceLock::new();
    in_list_sql(
        "SELECT source_key FROM quarantine WHERE source = $1 AND source_key",
        2,
        " AND released_at IS NULL",
        &CELL,
    )
}

const UPSERT_STAGED: &str = "INSERT INTO staged_records \
        (source, source_key, raw, canonical, problems, content_hash, source_updated_at, \
         status, first_seen_run, last_seen_run, staged_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $8, $9, $9) \
     ON CONFLICT (source, source_key) DO UPDATE SET \
        raw = excluded.raw, canonical = excluded.canonical, problems = excluded.problems, \
        content_hash = excluded.content_hash, source_updated_at = excluded.source_updated_at, \
        status = 'active', gone_run = NULL, last_seen_run = excluded.last_seen_run, \
        updated_at = excluded.updated_at";

const TOUCH_STAGED: &str = "UPDATE staged_records SET last_seen_run = $3 \
     WHERE source = $1 AND source_key = $2 AND status = 'active'";

const RELEASE_QUARANTINE: &str = "UPDATE quarantine SET released_at = $3, updated_at = $3 \
     WHERE source = $1 AND source_key = $2 AND released_at IS NULL";

const UPSERT_QUARANTINE: &str = "INSERT INTO quarantine \
        (source, source_key, raw, reasons, run_id, created_at, updated_at, released_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $6, NULL) \
     ON CONFLICT (source, source_key) DO UPDATE SET \
        raw = excluded.raw, reasons = excluded.reasons, run_id = excluded.run_id, \
        updated_at = excluded.updated_at, released_at = NULL";

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
    /// is compared with the earlier one).
    ///
    /// Bad records are upserted into the quarantine (a re-pulled bad record
    /// updates its row and reopens it). If an earlier good version is
    /// staged it stays, and counts as seen, so [`Store::mark_gone`] does not
    /// take an invalid-but-present record for a deleted one.
    pub async fn stage_and_quarantine(
        &self,
        source: &str,
        run_id: RunId,
        staged: &[StageInput],
        quarantined: &[QuarantineInput],
        cursor: Option<&str>,
    ) -> Result<StageCounts> {
        const OP: &str = "stage_batch";
        let q = StoreError::query;
        let now = now_text();
        let mut counts = StageCounts::default();
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(q(OP))?;

            for record in quarantined {
                let reasons = serde_json::Value::from(record.reasons.clone());
                sqlx::query(UPSERT_QUARANTINE)
                    .bind(source)
                    .bind(&record.source_key)
                    .bind(json_text(&record.raw))
                    .bind(json_text(&reasons))
                    .bind(run_id.0)
                    .bind(&now)
                    .execute(&mut *tx)
                    .await
                    .map_err(q(OP))?;
                sqlx::query(TOUCH_STAGED)
                    .bind(source)
                    .bind(&record.source_key)
                    .bind(run_id.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(q(OP))?;
                counts.quarantined += 1;
            }

            let keys: Vec<&str> = staged.iter().map(|r| r.source_key.as_str()).collect();
            let mut existing: HashMap<String, (String, RecordStatus)> = HashMap::new();
            let mut open_quarantine: HashSet<String> = HashSet::new();
            for chunk in keys.chunks(LOOKUP_CHUNK) {
                let mut query = sqlx::query(existing_sql()).bind(source);
                for key in chunk {
                    query = query.bind(*key);
                }
                for _ in chunk.len()..LOOKUP_CHUNK {
                    query = query.bind(None::<&str>);
                }
                for row in query.fetch_all(&mut *tx).await.map_err(q(OP))? {
                    let d = Decode::new(&row, OP);
                    existing.insert(
                        d.text("source_key")?,
                        (d.text("content_hash")?, d.parse("status")?),
                    );
                }

                let mut query = sqlx::query(open_quarantine_sql()).bind(source);
                for key in chunk {
                    query = query.bind(*key);
                }
                for _ in chunk.len()..LOOKUP_CHUNK {
                    query = query.bind(None::<&str>);
                }
                for row in query.fetch_all(&mut *tx).await.map_err(q(OP))? {
                    open_quarantine.insert(Decode::new(&row, OP).text("source_key")?);
                }
            }

            let mut unchanged_keys: Vec<&str> = Vec::new();
            for record in staged {
                let key = record.source_key.as_str();
                let unchanged = match existing.get(key) {
                    None => {
                        counts.new += 1;
                        false
                    }
                    Some((hash, RecordStatus::Active)) if *hash == record.content_hash => {
                        counts.unchanged += 1;
                        true
                    }
                    Some(_) => {
                        counts.changed += 1;
                        false
                    }
                };
                if unchanged {
                    unchanged_keys.push(key);
                } else {
                    sqlx::query(UPSERT_STAGED)
                        .bind(source)
                        .bind(key)
                        .bind(json_text(&record.raw))
                        .bind(json_text(&record.canonical))
                        .bind(json_text(&record.problems))
                        .bind(&record.content_hash)
                        .bind(record.source_updated_at.as_deref())
                        .bind(run_id.0)
                        .bind(&now)
                        .execute(&mut *tx)
                        .await
                        .map_err(q(OP))?;
                    existing.insert(
                        key.to_owned(),
                        (record.content_hash.clone(), RecordStatus::Active),
                    );
                }
                if open_quarantine.remove(key) {
                    sqlx::query(RELEASE_QUARANTINE)
                        .bind(source)
                        .bind(key)
                        .bind(&now)
                        .execute(&mut *tx)
                        .await
                        .map_err(q(OP))?;
                    counts.released += 1;
                }
            }

            // Unchanged records only move `last_seen_run`: one statement per
            // chunk instead of one per record.
            for chunk in unchanged_keys.chunks(LOOKUP_CHUNK) {
                let mut query = sqlx::query(touch_many_sql()).bind(run_id.0).bind(source);
                for key in chunk {
                    query = query.bind(*key);
                }
                for _ in chunk.len()..LOOKUP_CHUNK {
                    query = query.bind(None::<&str>);
                }
                query.execute(&mut *tx).await.map_err(q(OP))?;
            }

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
        on_pool!(self, pool => {
            sqlx::query(
                "UPDATE staged_records SET status = 'gone', gone_run = $2, updated_at = $4 \
                 WHERE source = $1 AND status = 'active' AND last_seen_run < $3",
            )
            .bind(source)
            .bind(run_id.0)
            .bind(seen_since.0)
            .bind(&now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(StoreError::query(OP))
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
