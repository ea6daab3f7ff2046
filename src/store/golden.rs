//! Golden records as stored: which masters need theirs rebuilt, what they
//! are built from (the active records linked to them, with the source's
//! business time), and — one transaction per batch — the new version, its
//! history row, its conflicts, its lookup keys and the audit event.
//!
//! A batch commits its goldens and clears their stale flags together, so a
//! killed golden step leaves the rest stale and the next run carries on.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::master_index::{MasterStatus, NewEvent};
use super::{
    json_text, now_text, push_in_list, Decode, Result, RunId, Store, StoreError, WritePool,
};

/// A master whose golden record is to be (re)built, with what it is built
/// from.
#[derive(Debug, Clone, PartialEq)]
pub struct GoldenInput {
    pub master_id: String,
    pub status: MasterStatus,
    /// 0 while never built.
    pub golden_version: i64,
    /// The current golden record (JSON text; `{}` while never built).
    pub golden: String,
    /// Its active linked records.
    pub records: Vec<LinkedRecord>,
}

/// An active staged record linked to a master.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkedRecord {
    pub source: String,
    pub source_key: String,
    /// The source's own modification time, as staged (China Standard
    /// Time text; see `mapping::business_time`).
    pub source_updated_at: Option<String>,
    /// The canonical record (JSON text).
    pub canonical: String,
    /// The row as read (JSON text): push-back guards on its cells.
    pub raw: String,
    pub content_hash: String,
}

/// A conflict to store with a golden record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewConflict {
    pub field: String,
    pub kind: String,
    /// The conflicting values and where each was seen.
    pub detail: serde_json::Value,
}

/// A stored conflict.
#[derive(Debug, Clone, PartialEq)]
pub struct ConflictRow {
    pub id: i64,
    pub master_id: String,
    pub field: String,
    pub kind: String,
    pub detail: serde_json::Value,
    pub run_id: Option<RunId>,
    pub created_at: DateTime<Utc>,
}

/// A new golden version of one master.
#[derive(Debug, Clone, PartialEq)]
pub struct GoldenChange {
    pub version: i64,
    pub golden: serde_json::Value,
    pub conflicts: Vec<NewConflict>,
    /// Lookup keys: (kind, value).
    pub keys: Vec<(String, String)>,
    /// The audit event (`golden`) describing what changed.
    pub event: NewEvent,
}

/// The outcome of rebuilding one master's golden record.
#[derive(Debug, Clone, PartialEq)]
pub struct GoldenWrite {
    pub master_id: String,
    /// `None` when the golden record came out the same (only the stale flag
    /// is cleared); a merged master gets `None` and loses its keys and
    /// conflicts.
    pub change: Option<GoldenChange>,
    /// The master is a tombstone: its keys and conflicts go.
    pub retired: bool,
    /// Push-back deliveries planned for its records.
    pub outbox: Vec<super::NewOutbox>,
    /// The push-target records (target, key) planned: their pending
    /// deliveries not in `outbox` are superseded.
    pub planned: Vec<(String, String)>,
}

/// One version of a master's golden record.
#[derive(Debug, Clone, PartialEq)]
pub struct GoldenVersion {
    pub version: i64,
    pub golden: serde_json::Value,
}

/// An active master's current golden record, for exports.
#[derive(Debug, Clone, PartialEq)]
pub struct GoldenRow {
    pub master_id: String,
    pub golden_version: i64,
    pub golden: String,
}

/// Masters per `IN (…)` list.
const IDS_PER_STATEMENT: usize = 500;

/// Rows per multi-row statement (at most seven parameters a row).
const ROWS_PER_STATEMENT: usize = 1000;

impl Store {
    /// Up to `limit` masters whose golden record must be rebuilt, by id.
    pub async fn stale_masters(&self, limit: i64) -> Result<Vec<String>> {
        const OP: &str = "stale_masters";
        on_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT id FROM masters WHERE golden_stale = 1 ORDER BY id LIMIT $1",
            )
            .bind(limit)
            .fetch_all(pool)
            .await
        })
        .map_err(StoreError::query(OP))
    }

    /// How many masters wait for their golden record to be rebuilt.
    pub async fn stale_master_count(&self) -> Result<u64> {
        const OP: &str = "stale_master_count";
        let n: i64 = on_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM masters WHERE golden_stale = 1")
                .fetch_one(pool)
                .await
        })
        .map_err(StoreError::query(OP))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Refreshes the planner's statistics of the master index after bulk
    /// writes. PostgreSQL's autovacuum analyzes a table only some time
    /// after it grew; until then a join planned on the empty table's
    /// statistics scans every staged record per batch (450 ms instead of
    /// 23 ms for 500 masters at 100k residents).
    pub async fn refresh_statistics(&self) -> Result<()> {
        const OP: &str = "refresh_statistics";
        let sql = self.dialect((
            "PRAGMA optimize",
            "ANALYZE links, staged_records, masters, outbox",
        ));
        on_pool!(self, pool => {
            sqlx::query(sql).execute(pool).await.map(|_| ())
        })
        .map_err(StoreError::query(OP))
    }

    /// Marks these masters' golden records for rebuilding.
    pub async fn mark_golden_stale(&self, ids: &[String]) -> Result<()> {
        const OP: &str = "mark_golden_stale";
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            on_pool!(self, pool => {
                let mut b = QueryBuilder::new("UPDATE masters SET golden_stale = 1 WHERE id IN ");
                push_in_list(&mut b, chunk);
                b.build().execute(pool).await.map(|_| ())
            })
            .map_err(StoreError::query(OP))?;
        }
        Ok(())
    }

    /// Marks for rebuilding the golden records of active masters holding a
    /// record of any of `sources` (their trust changed); returns how many.
    pub async fn mark_golden_stale_for_sources(&self, sources: &[String]) -> Result<u64> {
        const OP: &str = "mark_golden_stale_for_sources";
        let mut marked = 0;
        for chunk in sources.chunks(IDS_PER_STATEMENT) {
            marked += on_pool!(self, pool => {
                let mut b = QueryBuilder::new(
                    "UPDATE masters SET golden_stale = 1 WHERE status = 'active' AND golden_stale = 0 \
                     AND id IN (SELECT master_id FROM links WHERE source IN ",
                );
                push_in_list(&mut b, chunk);
                b.push(")");
                b.build().execute(pool).await.map(|r| r.rows_affected())
            })
            .map_err(StoreError::query(OP))?;
        }
        Ok(marked)
    }

    /// Marks every active master's golden record for rebuilding (the rules
    /// changed, or the operator asked for it); returns how many.
    pub async fn mark_all_golden_stale(&self) -> Result<u64> {
        const OP: &str = "mark_all_golden_stale";
        on_pool!(self, pool => {
            sqlx::query("UPDATE masters SET golden_stale = 1 WHERE status = 'active' AND golden_stale = 0")
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(StoreError::query(OP))
    }

    /// The masters `ids` (in that order, unknown ones left out) with their
    /// active linked records.
    pub async fn golden_inputs(&self, ids: &[String]) -> Result<Vec<GoldenInput>> {
        const OP: &str = "golden_inputs";
        let mut inputs = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            let (masters, records) = on_pool!(self, pool => {
                let mut b = QueryBuilder::new(
                    "SELECT id, status, golden_version, golden FROM masters WHERE id IN ",
                );
                push_in_list(&mut b, chunk);
                let masters = b
                    .build()
                    .fetch_all(pool)
                    .await
                    .map_err(StoreError::query(OP))?
                    .iter()
                    .map(|row| {
                        let d = Decode::new(row, OP);
                        Ok(GoldenInput {
                            master_id: d.text("id")?,
                            status: d.parse("status")?,
                            golden_version: d.int("golden_version")?,
                            golden: d.text("golden")?,
                            records: Vec::new(),
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                let mut b = QueryBuilder::new(
                    "SELECT l.master_id, s.source, s.source_key, s.source_updated_at, s.canonical, \
                        s.raw, s.content_hash \
                     FROM links l JOIN staged_records s \
                        ON s.source = l.source AND s.source_key = l.source_key \
                     WHERE s.status = 'active' AND l.master_id IN ",
                );
                push_in_list(&mut b, chunk);
                b.push(" ORDER BY l.master_id, s.source, s.source_key");
                let records = b
                    .build()
                    .fetch_all(pool)
                    .await
                    .map_err(StoreError::query(OP))?
                    .iter()
                    .map(|row| {
                        let d = Decode::new(row, OP);
                        Ok((
                            d.text("master_id")?,
                            LinkedRecord {
                                source: d.text("source")?,
                                source_key: d.text("source_key")?,
                                source_updated_at: d.opt_text("source_updated_at")?,
                                canonical: d.text("canonical")?,
                                raw: d.text("raw")?,
                                content_hash: d.text("content_hash")?,
                            },
                        ))
                    })
                    .collect::<Result<Vec<_>>>()?;
                (masters, records)
            });
            let mut by_id: std::collections::HashMap<String, GoldenInput> = masters
                .into_iter()
                .map(|m| (m.master_id.clone(), m))
                .collect();
            for (master, record) in records {
                if let Some(m) = by_id.get_mut(&master) {
                    m.records.push(record);
                }
            }
            inputs.extend(chunk.iter().filter_map(|id| by_id.remove(id)));
        }
        Ok(inputs)
    }

    /// Writes a batch of rebuilt golden records in one transaction and
    /// clears their stale flags. Multi-row statements throughout: a first
    /// build writes every master. Returns how many outbox rows were new (a
    /// plan identical to one already queued or delivered adds none).
    pub async fn write_goldens(&self, run: Option<RunId>, writes: &[GoldenWrite]) -> Result<u64> {
        const OP: &str = "write_goldens";
        let q = StoreError::query(OP);
        let now = now_text();
        let run = run.map(|r| r.0);
        // Masters whose keys and conflicts are replaced or dropped, and
        // those whose golden record only needs its flag cleared.
        // (A first version replaces nothing: a master never built has none.)
        let replaced: Vec<String> = writes
            .iter()
            .filter(|w| w.change.as_ref().is_some_and(|c| c.version > 1) || w.retired)
            .map(|w| w.master_id.clone())
            .collect();
        let unchanged: Vec<String> = writes
            .iter()
            .filter(|w| w.change.is_none())
            .map(|w| w.master_id.clone())
            .collect();
        let changed: Vec<(&str, &GoldenChange, String)> = writes
            .iter()
            .filter_map(|w| {
                w.change
                    .as_ref()
                    .map(|c| (w.master_id.as_str(), c, json_text(&c.golden)))
            })
            .collect();
        let conflicts: Vec<(&str, &NewConflict, String)> = changed
            .iter()
            .flat_map(|(id, c, _)| {
                c.conflicts
                    .iter()
                    .map(move |x| (*id, x, json_text(&x.detail)))
            })
            .collect();
        let keys: Vec<(&str, &(String, String))> = changed
            .iter()
            .flat_map(|(id, c, _)| c.keys.iter().map(move |k| (*id, k)))
            .collect();
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(q)?;
            for chunk in replaced.chunks(IDS_PER_STATEMENT) {
                for table in ["conflicts", "master_keys"] {
                    let mut b = QueryBuilder::new(format!("DELETE FROM {table} WHERE master_id IN "));
                    push_in_list(&mut b, chunk);
                    b.build().execute(&mut *tx).await.map_err(q)?;
                }
            }
            for chunk in unchanged.chunks(IDS_PER_STATEMENT) {
                let mut b = QueryBuilder::new("UPDATE masters SET golden_stale = 0 WHERE id IN ");
                push_in_list(&mut b, chunk);
                b.build().execute(&mut *tx).await.map_err(q)?;
            }
            for chunk in changed.chunks(ROWS_PER_STATEMENT) {
                // The version being replaced moves to the history (a
                // never-built master has none).
                let mut b = QueryBuilder::new(
                    "INSERT INTO golden_versions (master_id, version, golden, replaced_run, replaced_at) \
                     SELECT id, golden_version, golden, ",
                );
                b.push_bind(run);
                b.push(", ");
                b.push_bind(&now);
                b.push(" FROM masters WHERE golden_version > 0 AND id IN (");
                let mut list = b.separated(", ");
                for (id, _, _) in chunk {
                    list.push_bind(*id);
                }
                b.push(")");
                b.build().execute(&mut *tx).await.map_err(q)?;
                // `VALUES` columns are column1, column2, … in both dialects.
                let mut b = QueryBuilder::new("UPDATE masters SET golden = v.column2, golden_version = v.column3, golden_stale = 0, updated_at = ");
                b.push_bind(&now);
                b.push(" FROM (");
                b.push_values(chunk, |mut row, (id, c, golden)| {
                    row.push_bind(*id).push_bind(golden).push_bind(c.version);
                });
                b.push(") AS v WHERE masters.id = v.column1");
                b.build().execute(&mut *tx).await.map_err(q)?;

                let mut b = QueryBuilder::new("INSERT INTO events (master_id, kind, actor, reason, detail, run_id, created_at) ");
                b.push_values(chunk, |mut row, (_, c, _)| {
                    let e = &c.event;
                    row.push_bind(e.master_id.as_deref())
                        .push_bind(&e.kind)
                        .push_bind(&e.actor)
                        .push_bind(e.reason.as_deref())
                        .push_bind(json_text(&e.detail))
                        .push_bind(e.run_id.map(|r| r.0))
                        .push_bind(&now);
                });
                b.build().execute(&mut *tx).await.map_err(q)?;
            }
            for chunk in conflicts.chunks(ROWS_PER_STATEMENT) {
                let mut b = QueryBuilder::new("INSERT INTO conflicts (master_id, field, kind, detail, run_id, created_at) ");
                b.push_values(chunk, |mut row, (id, c, detail)| {
                    row.push_bind(*id)
                        .push_bind(&c.field)
                        .push_bind(&c.kind)
                        .push_bind(detail)
                        .push_bind(run)
                        .push_bind(&now);
                });
                b.build().execute(&mut *tx).await.map_err(q)?;
            }
            // Pending deliveries a newer plan replaces, per target.
            let mut planned: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for w in writes {
                for (target, key) in &w.planned {
                    planned.entry(target).or_default().push(key);
                }
            }
            let fresh: BTreeMap<(&str, &str), Vec<&str>> = writes
                .iter()
                .flat_map(|w| &w.outbox)
                .fold(BTreeMap::new(), |mut m, o| {
                    m.entry((o.target.as_str(), o.target_key.as_deref().unwrap_or("")))
                        .or_insert_with(Vec::new)
                        .push(o.idempotency_key.as_str());
                    m
                });
            for (target, keys) in &planned {
                for chunk in keys.chunks(IDS_PER_STATEMENT) {
                    let mut b = QueryBuilder::new(
                        "UPDATE outbox SET status = 'superseded', outcome = 'replaced by a newer plan' \
                         WHERE status = 'pending' AND target = ",
                    );
                    b.push_bind(*target);
                    b.push(" AND target_key IN (");
                    let mut list = b.separated(", ");
                    for key in chunk {
                        list.push_bind(*key);
                    }
                    b.push(")");
                    let keep: Vec<&str> = chunk
                        .iter()
                        .filter_map(|k| fresh.get(&(*target, *k)))
                        .flatten()
                        .copied()
                        .collect();
                    if !keep.is_empty() {
                        b.push(" AND idempotency_key NOT IN (");
                        let mut list = b.separated(", ");
                        for k in keep {
                            list.push_bind(k);
                        }
                        b.push(")");
                    }
                    b.build().execute(&mut *tx).await.map_err(q)?;
                }
            }
            let outbox: Vec<(&super::NewOutbox, String)> = writes
                .iter()
                .flat_map(|w| &w.outbox)
                .map(|o| (o, json_text(&o.payload)))
                .collect();
            let mut queued = 0;
            for chunk in outbox.chunks(ROWS_PER_STATEMENT) {
                let mut b = QueryBuilder::new(
                    "INSERT INTO outbox (target, master_id, target_key, operation, payload, \
                        idempotency_key, status, attempts, next_attempt_at, created_at) ",
                );
                b.push_values(chunk, |mut row, (o, payload)| {
                    row.push_bind(&o.target)
                        .push_bind(&o.master_id)
                        .push_bind(o.target_key.as_deref())
                        .push_bind(&o.operation)
                        .push_bind(payload)
                        .push_bind(&o.idempotency_key)
                        .push_bind("pending")
                        .push_bind(0i64)
                        .push_bind(&now)
                        .push_bind(&now);
                });
                b.push(" ON CONFLICT (idempotency_key) DO NOTHING");
                queued += b.build().execute(&mut *tx).await.map_err(q)?.rows_affected();
            }
            for chunk in keys.chunks(ROWS_PER_STATEMENT) {
                let mut b = QueryBuilder::new("INSERT INTO master_keys (kind, value, master_id) ");
                b.push_values(chunk, |mut row, (id, (kind, value))| {
                    row.push_bind(kind).push_bind(value).push_bind(*id);
                });
                b.push(" ON CONFLICT DO NOTHING");
                b.build().execute(&mut *tx).await.map_err(q)?;
            }
            tx.commit().await.map_err(q)?;
            Ok(queued)
        })
    }

    /// A value the store keeps about itself.
    pub async fn store_state(&self, key: &str) -> Result<Option<String>> {
        const OP: &str = "store_state";
        on_pool!(self, pool => {
            sqlx::query_scalar("SELECT value FROM store_state WHERE key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await
        })
        .map_err(StoreError::query(OP))
    }

    /// Sets a value the store keeps about itself.
    pub async fn set_store_state(&self, key: &str, value: &str) -> Result<()> {
        const OP: &str = "set_store_state";
        let now = now_text();
        on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO store_state (key, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(key)
            .bind(value)
            .bind(&now)
            .execute(pool)
            .await
            .map(|_| ())
        })
        .map_err(StoreError::query(OP))
    }

    /// Conflicts of active masters, oldest first, after row `after_id`.
    pub async fn conflicts(
        &self,
        master: Option<&str>,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<ConflictRow>> {
        const OP: &str = "conflicts";
        let sql = "SELECT c.id, c.master_id, c.field, c.kind, c.detail, c.run_id, c.created_at \
                   FROM conflicts c JOIN masters m ON m.id = c.master_id \
                   WHERE m.status = 'active' AND c.id > $1 AND (CAST($2 AS TEXT) IS NULL OR c.master_id = CAST($2 AS TEXT)) \
                   ORDER BY c.id LIMIT $3";
        on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(after_id)
                .bind(master)
                .bind(limit)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(OP))?
                .iter()
                .map(|row| {
                    let d = Decode::new(row, OP);
                    Ok(ConflictRow {
                        id: d.int("id")?,
                        master_id: d.text("master_id")?,
                        field: d.text("field")?,
                        kind: d.text("kind")?,
                        detail: d.json("detail")?,
                        run_id: d.opt_int("run_id")?.map(RunId),
                        created_at: d.time("created_at")?,
                    })
                })
                .collect()
        })
    }

    /// How many conflicts active masters hold, per kind.
    pub async fn conflict_counts(&self) -> Result<Vec<(String, u64)>> {
        const OP: &str = "conflict_counts";
        self.counts_by_key(
            OP,
            "SELECT c.kind AS k, COUNT(*) AS n FROM conflicts c JOIN masters m ON m.id = c.master_id \
             WHERE m.status = 'active' GROUP BY c.kind ORDER BY c.kind",
        )
        .await
    }

    /// Active masters holding lookup key `value` of `kind`.
    pub async fn masters_by_key(&self, kind: &str, value: &str) -> Result<Vec<String>> {
        const OP: &str = "masters_by_key";
        on_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT k.master_id FROM master_keys k JOIN masters m ON m.id = k.master_id \
                 WHERE k.kind = $1 AND k.value = $2 AND m.status = 'active' ORDER BY k.master_id",
            )
            .bind(kind)
            .bind(value)
            .fetch_all(pool)
            .await
        })
        .map_err(StoreError::query(OP))
    }

    /// Every golden version of a master, oldest first: the replaced ones,
    /// then the current one (none while never built).
    pub async fn golden_versions(&self, master: &str) -> Result<Vec<GoldenVersion>> {
        const OP: &str = "golden_versions";
        on_pool!(self, pool => {
            sqlx::query(
                "SELECT version, golden FROM golden_versions WHERE master_id = $1 \
                 UNION ALL SELECT golden_version AS version, golden FROM masters \
                 WHERE id = $1 AND golden_version > 0 ORDER BY version",
            )
            .bind(master)
            .fetch_all(pool)
            .await
            .map_err(StoreError::query(OP))?
            .iter()
            .map(|row| {
                let d = Decode::new(row, OP);
                Ok(GoldenVersion {
                    version: d.int("version")?,
                    golden: d.json("golden")?,
                })
            })
            .collect()
        })
    }

    /// Up to `limit` active masters with id above `after`, with their
    /// golden records, by id.
    pub async fn active_goldens(&self, after: &str, limit: i64) -> Result<Vec<GoldenRow>> {
        const OP: &str = "active_goldens";
        on_pool!(self, pool => {
            sqlx::query(
                "SELECT id, golden_version, golden FROM masters \
                 WHERE status = 'active' AND id > $1 ORDER BY id LIMIT $2",
            )
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await
            .map_err(StoreError::query(OP))?
            .iter()
            .map(|row| {
                let d = Decode::new(row, OP);
                Ok(GoldenRow {
                    master_id: d.text("id")?,
                    golden_version: d.int("golden_version")?,
                    golden: d.text("golden")?,
                })
            })
            .collect()
        })
    }

    /// Masters merged into `id`, directly or through other tombstones.
    pub async fn absorbed_masters(&self, id: &str) -> Result<Vec<String>> {
        const OP: &str = "absorbed_masters";
        let mut found: Vec<String> = Vec::new();
        let mut frontier = vec![id.to_owned()];
        while let Some(next) = frontier.pop() {
            let children: Vec<String> = on_pool!(self, pool => {
                sqlx::query_scalar("SELECT id FROM masters WHERE merged_into = $1 ORDER BY id")
                    .bind(&next)
                    .fetch_all(pool)
                    .await
            })
            .map_err(StoreError::query(OP))?;
            for child in children {
                if !found.contains(&child) && child != id {
                    found.push(child.clone());
                    frontier.push(child);
                }
            }
        }
        found.sort();
        Ok(found)
    }

    /// Per source, the sum over active masters' golden records of the
    /// fields its records lack and other departments supply (`fills` in
    /// the golden JSON).
    pub async fn fill_totals(&self) -> Result<Vec<(String, u64)>> {
        const OP: &str = "fill_totals";
        let sql = self.dialect((
            "SELECT j.key AS k, CAST(SUM(j.value) AS INTEGER) AS n \
             FROM masters m, json_each(m.golden, '$.fills') j \
             WHERE m.status = 'active' GROUP BY j.key ORDER BY j.key",
            "SELECT j.key AS k, SUM(j.value::bigint)::bigint AS n \
             FROM masters m, jsonb_each_text(m.golden::jsonb -> 'fills') j \
             WHERE m.status = 'active' GROUP BY j.key ORDER BY j.key",
        ));
        self.counts_by_key(OP, sql).await
    }
}
