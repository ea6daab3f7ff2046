//! A data steward's change to the master index — a merge, a split, a
//! record moved, a review decided — written in one transaction: new
//! masters, tombstones, manual links (which automatic matching never
//! undoes), match rules, the review's verdict and the audit events.

use sqlx::QueryBuilder;

use super::master_index::{DecidedBy, NewEvent};
use super::review::{NewMatchRule, RecordRef, ReviewDecision, ReviewStatus};
use super::{now_text, push_in_list, Result, RunId, Store, StoreError, WritePool};

/// A steward's verdict on a pending review.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewVerdict {
    pub id: i64,
    pub decision: ReviewDecision,
}

/// Everything one steward operation changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StewardWrite {
    /// The steward.
    pub actor: String,
    pub reason: Option<String>,
    /// Masters to create.
    pub new_masters: Vec<String>,
    /// (absorbed, survivor): the absorbed master becomes a tombstone.
    pub merges: Vec<(String, String)>,
    /// Records to link by hand (sticky: `decided_by = manual`).
    pub links: Vec<(RecordRef, String)>,
    pub rules: Vec<NewMatchRule>,
    pub review: Option<ReviewVerdict>,
    pub events: Vec<NewEvent>,
    /// Masters whose golden records must be rebuilt.
    pub stale_masters: Vec<String>,
}

impl Store {
    /// Writes a steward operation in one transaction. Fails with
    /// `NotFound` (and writes nothing) if the review was decided meanwhile.
    pub async fn apply_steward(&self, run: RunId, w: &StewardWrite) -> Result<()> {
        const OP: &str = "apply_steward";
        let q = StoreError::query(OP);
        let now = now_text();
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(q)?;
            if let Some(verdict) = &w.review {
                let status = match verdict.decision {
                    ReviewDecision::Accept => ReviewStatus::Accepted,
                    ReviewDecision::Reject => ReviewStatus::Rejected,
                };
                let done = sqlx::query(
                    "UPDATE review_queue SET status = $2, decided_by = $3, decided_at = $4, reason = $5 \
                     WHERE id = $1 AND status = 'pending'",
                )
                .bind(verdict.id)
                .bind(status.as_str())
                .bind(&w.actor)
                .bind(&now)
                .bind(w.reason.as_deref())
                .execute(&mut *tx)
                .await
                .map_err(q)?
                .rows_affected();
                if done == 0 {
                    return Err(StoreError::NotFound {
                        op: OP,
                        what: format!("pending review {}", verdict.id),
                    });
                }
            }
            for id in &w.new_masters {
                sqlx::query(
                    "INSERT INTO masters (id, status, golden, golden_version, created_run, created_at, updated_at) \
                     VALUES ($1, 'active', '{}', 0, $2, $3, $3)",
                )
                .bind(id)
                .bind(run.0)
                .bind(&now)
                .execute(&mut *tx)
                .await
                .map_err(q)?;
            }
            for (record, master) in &w.links {
                sqlx::query(
                    "INSERT INTO links (source, source_key, master_id, decided_by, match_weight, run_id, \
                        linked_at, content_hash, record_id) \
                     SELECT s.source, s.source_key, $3, $4, NULL, $5, $6, s.content_hash, s.id \
                     FROM staged_records s WHERE s.source = $1 AND s.source_key = $2 \
                     ON CONFLICT (source, source_key) DO UPDATE SET \
                        master_id = excluded.master_id, decided_by = excluded.decided_by, \
                        match_weight = NULL, run_id = excluded.run_id, linked_at = excluded.linked_at",
                )
                .bind(&record.source)
                .bind(&record.source_key)
                .bind(master)
                .bind(DecidedBy::Manual.as_str())
                .bind(run.0)
                .bind(&now)
                .execute(&mut *tx)
                .await
                .map_err(q)?;
            }
            for (absorbed, survivor) in &w.merges {
                merge_master!(tx, absorbed, survivor, &now).await.map_err(q)?;
            }
            for rule in &w.rules {
                let (left, right) = super::review::ordered(&rule.left, &rule.right);
                sqlx::query(
                    "INSERT INTO match_rules (kind, left_ref, right_ref, actor, reason, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(rule.kind.as_str())
                .bind(left.to_string())
                .bind(right.to_string())
                .bind(&rule.actor)
                .bind(&rule.reason)
                .bind(&now)
                .execute(&mut *tx)
                .await
                .map_err(q)?;
            }
            for e in &w.events {
                bind_event!(sqlx::query(super::INSERT_EVENT), e, &now)
                    .execute(&mut *tx)
                    .await
                    .map_err(q)?;
            }
            if !w.stale_masters.is_empty() {
                let mut b = QueryBuilder::new("UPDATE masters SET golden_stale = 1 WHERE id IN ");
                push_in_list(&mut b, &w.stale_masters);
                b.build().execute(&mut *tx).await.map_err(q)?;
            }
            tx.commit().await.map_err(q)
        })
    }
}
