//! What a resolve run reads and writes: the active staged records in
//! comparison order, the current links with the content hash each was
//! decided on, and — in one transaction — the run's new masters, merges,
//! links, events and review pairs. A run killed before the commit leaves
//! the index as it was; the next run recomputes the same changes.

use std::collections::HashMap;

use sqlx::QueryBuilder;

use super::master_index::{DecidedBy, NewEvent};
use super::review::{MatchRule, NewReview};
use super::{json_text, now_text, Decode, Result, RunId, Store, StoreError, WritePool};

/// A staged record as resolution reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveRecord {
    /// Row id (pagination).
    pub id: i64,
    pub source: String,
    pub source_key: String,
    /// Canonical record JSON.
    pub canonical: String,
    pub content_hash: String,
}

/// A record's current link.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkState {
    pub source: String,
    pub source_key: String,
    pub master_id: String,
    pub decided_by: DecidedBy,
    pub match_weight: Option<f64>,
    /// The staged content hash the link was decided on.
    pub content_hash: Option<String>,
}

/// A link to write.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkWrite {
    pub source: String,
    pub source_key: String,
    pub master_id: String,
    pub match_weight: Option<f64>,
    pub content_hash: String,
}

/// A staged record and the master it is linked to, for exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordLink {
    /// Row id (pagination).
    pub id: i64,
    pub source: String,
    pub source_key: String,
    /// `None` while unresolved.
    pub master_id: Option<String>,
}

/// Everything one resolve run changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResolutionWrite {
    /// Masters to create (empty golden record until survivorship runs).
    pub new_masters: Vec<String>,
    /// (absorbed, survivor): the absorbed master becomes a tombstone.
    pub merges: Vec<(String, String)>,
    /// Links to create or change.
    pub links: Vec<LinkWrite>,
    pub events: Vec<NewEvent>,
    pub reviews: Vec<NewReview>,
}

/// Rows per multi-row statement: well under both drivers' parameter limits
/// at seven parameters a row.
const ROWS_PER_STATEMENT: usize = 1000;

impl Store {
    /// Up to `limit` active staged records with row id above `after_id`.
    pub async fn active_records(&self, after_id: i64, limit: i64) -> Result<Vec<ActiveRecord>> {
        const OP: &str = "active_records";
        let sql = "SELECT id, source, source_key, canonical, content_hash FROM staged_records \
                   WHERE status = 'active' AND id > $1 ORDER BY id LIMIT $2";
        on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(after_id)
                .bind(limit)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(OP))?
                .iter()
                .map(|row| {
                    let d = Decode::new(row, OP);
                    Ok(ActiveRecord {
                        id: d.int("id")?,
                        source: d.text("source")?,
                        source_key: d.text("source_key")?,
                        canonical: d.text("canonical")?,
                        content_hash: d.text("content_hash")?,
                    })
                })
                .collect()
        })
    }

    /// Up to `limit` staged records (active or gone) after row `after_id`,
    /// each with its master.
    pub async fn record_links(&self, after_id: i64, limit: i64) -> Result<Vec<RecordLink>> {
        const OP: &str = "record_links";
        let sql = "SELECT s.id, s.source, s.source_key, l.master_id FROM staged_records s \
                   LEFT JOIN links l ON l.source = s.source AND l.source_key = s.source_key \
                   WHERE s.id > $1 ORDER BY s.id LIMIT $2";
        on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(after_id)
                .bind(limit)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(OP))?
                .iter()
                .map(|row| {
                    let d = Decode::new(row, OP);
                    Ok(RecordLink {
                        id: d.int("id")?,
                        source: d.text("source")?,
                        source_key: d.text("source_key")?,
                        master_id: d.opt_text("master_id")?,
                    })
                })
                .collect()
        })
    }

    /// Every link.
    pub async fn link_states(&self) -> Result<Vec<LinkState>> {
        const OP: &str = "link_states";
        let sql = "SELECT source, source_key, master_id, decided_by, match_weight, content_hash \
                   FROM links";
        on_pool!(self, pool => {
            sqlx::query(sql)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(OP))?
                .iter()
                .map(|row| {
                    let d = Decode::new(row, OP);
                    Ok(LinkState {
                        source: d.text("source")?,
                        source_key: d.text("source_key")?,
                        master_id: d.text("master_id")?,
                        decided_by: d.parse("decided_by")?,
                        match_weight: d.opt_float("match_weight")?,
                        content_hash: d.opt_text("content_hash")?,
                    })
                })
                .collect()
        })
    }

    /// Creation time of every active master, by id.
    pub async fn master_ages(&self) -> Result<HashMap<String, String>> {
        const OP: &str = "master_ages";
        let sql = "SELECT id, created_at FROM masters WHERE status = 'active'";
        on_pool!(self, pool => {
            sqlx::query(sql)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(OP))?
                .iter()
                .map(|row| {
                    let d = Decode::new(row, OP);
                    Ok((d.text("id")?, d.text("created_at")?))
                })
                .collect()
        })
    }

    /// Every steward rule, oldest first (a later rule for a pair wins).
    pub async fn all_match_rules(&self) -> Result<Vec<MatchRule>> {
        const OP: &str = "all_match_rules";
        let sql = format!(
            "SELECT {} FROM match_rules ORDER BY id",
            super::review::RULE_COLUMNS
        );
        on_pool!(self, pool => {
            sqlx::query(&sql)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(OP))?
                .iter()
                .map(|row| super::review::rule_of(row, OP))
                .collect()
        })
    }

    /// Writes one run's changes in a single transaction; returns how many
    /// review pairs were newly queued (a pair asked before is not re-asked).
    pub async fn apply_resolution(&self, run: RunId, w: &ResolutionWrite) -> Result<u64> {
        const OP: &str = "apply_resolution";
        let now = now_text();
        let q = StoreError::query(OP);
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(q)?;
            for chunk in w.new_masters.chunks(ROWS_PER_STATEMENT) {
                let mut b = QueryBuilder::new(
                    "INSERT INTO masters (id, status, golden, golden_version, created_run, created_at, updated_at) ",
                );
                b.push_values(chunk, |mut row, id| {
                    row.push_bind(id)
                        .push_bind("active")
                        .push_bind("{}")
                        .push_bind(1i64)
                        .push_bind(run.0)
                        .push_bind(&now)
                        .push_bind(&now);
                });
                b.build().execute(&mut *tx).await.map_err(q)?;
            }
            for chunk in w.links.chunks(ROWS_PER_STATEMENT) {
                let mut b = QueryBuilder::new(
                    "INSERT INTO links (source, source_key, master_id, decided_by, match_weight, run_id, linked_at, content_hash) ",
                );
                b.push_values(chunk, |mut row, l| {
                    row.push_bind(&l.source)
                        .push_bind(&l.source_key)
                        .push_bind(&l.master_id)
                        .push_bind(DecidedBy::Auto.as_str())
                        .push_bind(l.match_weight)
                        .push_bind(run.0)
                        .push_bind(&now)
                        .push_bind(&l.content_hash);
                });
                // A steward's link keeps its author; the matcher only
                // records the hash it re-checked it against.
                b.push(
                    " ON CONFLICT (source, source_key) DO UPDATE SET \
                       master_id = excluded.master_id, match_weight = excluded.match_weight, \
                       run_id = excluded.run_id, linked_at = excluded.linked_at, \
                       content_hash = excluded.content_hash",
                );
                b.build().execute(&mut *tx).await.map_err(q)?;
            }
            for (absorbed, survivor) in &w.merges {
                sqlx::query(
                    "UPDATE masters SET status = 'merged', merged_into = $1, updated_at = $2 WHERE id = $3",
                )
                .bind(survivor)
                .bind(&now)
                .bind(absorbed)
                .execute(&mut *tx)
                .await
                .map_err(q)?;
                // Records no longer at their source follow their master.
                sqlx::query("UPDATE links SET master_id = $1 WHERE master_id = $2")
                    .bind(survivor)
                    .bind(absorbed)
                    .execute(&mut *tx)
                    .await
                    .map_err(q)?;
            }
            for chunk in w.events.chunks(ROWS_PER_STATEMENT) {
                let mut b = QueryBuilder::new(
                    "INSERT INTO events (master_id, kind, actor, reason, detail, run_id, created_at) ",
                );
                b.push_values(chunk, |mut row, e| {
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
            let mut queued = 0;
            for chunk in w.reviews.chunks(ROWS_PER_STATEMENT) {
                let mut b = QueryBuilder::new(
                    "INSERT INTO review_queue (left_ref, right_ref, match_weight, explanation, status, run_id, created_at) ",
                );
                b.push_values(chunk, |mut row, r| {
                    let (left, right) = super::review::ordered(&r.left, &r.right);
                    row.push_bind(left.to_string())
                        .push_bind(right.to_string())
                        .push_bind(r.match_weight)
                        .push_bind(json_text(&r.explanation))
                        .push_bind("pending")
                        .push_bind(r.run_id.map(|r| r.0))
                        .push_bind(&now);
                });
                b.push(" ON CONFLICT (left_ref, right_ref) DO NOTHING");
                queued += b.build().execute(&mut *tx).await.map_err(q)?.rows_affected();
            }
            tx.commit().await.map_err(q)?;
            Ok(queued)
        })
    }
}
