//! The outbox: push-back deliveries written in the same store as the
//! decisions behind them, then delivered (and retried) independently, each
//! exactly once per idempotency key.

use chrono::{DateTime, Utc};

use super::{
    json_text, now_text, timestamp, to_i64, Decode, PortableRow, Result, Store, StoreError,
    WritePool,
};

text_enum! {
    /// Where a delivery stands.
    OutboxStatus {
        /// Waiting for (another) attempt.
        Pending => "pending",
        /// Done.
        Delivered => "delivered",
        /// Failed too often; waits for an operator.
        Parked => "parked",
        /// Not to be delivered: the department changed the value itself,
        /// or a newer plan for the record replaced it.
        Superseded => "superseded",
    }
}

/// A delivery to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutbox {
    /// The target system (connector name).
    pub target: String,
    /// The master whose data is pushed.
    pub master_id: String,
    /// The record's key in the target, when updating an existing one.
    pub target_key: Option<String>,
    /// `create`, `update`, `suggest`, … (the target's policy decides).
    pub operation: String,
    /// What to send.
    pub payload: serde_json::Value,
    /// Same key, same delivery: enqueuing it again is a no-op.
    pub idempotency_key: String,
}

/// A stored delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    /// Row id.
    pub id: i64,
    /// The target system.
    pub target: String,
    /// The master whose data is pushed.
    pub master_id: String,
    /// The record's key in the target.
    pub target_key: Option<String>,
    /// What kind of write.
    pub operation: String,
    /// What to send.
    pub payload: serde_json::Value,
    /// Deduplication key.
    pub idempotency_key: String,
    /// Pending, delivered or parked.
    pub status: OutboxStatus,
    /// Failed attempts so far.
    pub attempts: i64,
    /// The latest failure.
    pub last_error: Option<String>,
    /// How it ended (`applied`, `already there`, why it was superseded).
    pub outcome: Option<String>,
    /// Not to be tried before this.
    pub next_attempt_at: DateTime<Utc>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
}

const OUTBOX_COLUMNS: &str = "id, target, master_id, target_key, operation, payload, \
     idempotency_key, status, attempts, last_error, outcome, next_attempt_at, created_at, delivered_at";

fn item_of<R: PortableRow>(row: &R, op: &'static str) -> Result<OutboxItem> {
    let d = Decode::new(row, op);
    Ok(OutboxItem {
        id: d.int("id")?,
        target: d.text("target")?,
        master_id: d.text("master_id")?,
        target_key: d.opt_text("target_key")?,
        operation: d.text("operation")?,
        payload: d.json("payload")?,
        idempotency_key: d.text("idempotency_key")?,
        status: d.parse("status")?,
        attempts: d.int("attempts")?,
        last_error: d.opt_text("last_error")?,
        outcome: d.opt_text("outcome")?,
        next_attempt_at: d.time("next_attempt_at")?,
        created_at: d.time("created_at")?,
        delivered_at: d.opt_time("delivered_at")?,
    })
}

impl Store {
    /// Queues a delivery, due now; returns `false` if one with the same
    /// idempotency key already exists (whatever its status).
    pub async fn enqueue_outbox(&self, item: &NewOutbox) -> Result<bool> {
        const OP: &str = "enqueue_outbox";
        let now = now_text();
        let payload = json_text(&item.payload);
        let added = on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO outbox (target, master_id, target_key, operation, payload, \
                     idempotency_key, status, attempts, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7) \
                 ON CONFLICT (idempotency_key) DO NOTHING",
            )
            .bind(&item.target)
            .bind(&item.master_id)
            .bind(item.target_key.as_deref())
            .bind(&item.operation)
            .bind(&payload)
            .bind(&item.idempotency_key)
            .bind(&now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(StoreError::query(OP))?;
        Ok(added == 1)
    }

    /// Pending deliveries due at `now`, earliest first.
    pub async fn due_outbox(&self, limit: u64, now: DateTime<Utc>) -> Result<Vec<OutboxItem>> {
        const OP: &str = "due_outbox";
        let limit = to_i64(OP, limit)?;
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox \
             WHERE status = 'pending' AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, id LIMIT $2"
        );
        let now = timestamp(now);
        on_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(&now)
                .bind(limit)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(OP))?
                .iter()
                .map(|row| item_of(row, OP))
                .collect()
        })
    }

    /// Pending deliveries of `target` due at `now`, with id above
    /// `after_id`, in id order (one pass over what is due).
    pub async fn due_outbox_for(
        &self,
        target: &str,
        after_id: i64,
        limit: u64,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxItem>> {
        const OP: &str = "due_outbox_for";
        let limit = to_i64(OP, limit)?;
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox \
             WHERE status = 'pending' AND target = $1 AND id > $2 AND next_attempt_at <= $3 \
             ORDER BY id LIMIT $4"
        );
        let now = timestamp(now);
        on_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(target)
                .bind(after_id)
                .bind(&now)
                .bind(limit)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(OP))?
                .iter()
                .map(|row| item_of(row, OP))
                .collect()
        })
    }

    /// One delivery by id.
    pub async fn outbox_item(&self, id: i64) -> Result<Option<OutboxItem>> {
        const OP: &str = "outbox_item";
        let sql = format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = $1");
        on_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(StoreError::query(OP))?
                .map(|row| item_of(&row, OP))
                .transpose()
        })
    }

    /// Records a successful delivery of a pending item.
    pub async fn mark_delivered(&self, id: i64) -> Result<()> {
        const OP: &str = "mark_delivered";
        let now = now_text();
        let done = on_pool!(self, pool => {
            sqlx::query(
                "UPDATE outbox SET status = 'delivered', delivered_at = $2, last_error = NULL \
                 WHERE id = $1 AND status = 'pending'",
            )
            .bind(id)
            .bind(&now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(StoreError::query(OP))?;
        if done == 0 {
            return Err(StoreError::NotFound {
                op: OP,
                what: format!("pending outbox item {id}"),
            });
        }
        Ok(())
    }

    /// Ends pending items, each as its status (delivered or superseded)
    /// with what happened, in one transaction; returns how many were still
    /// pending.
    pub async fn settle_outbox(&self, settled: &[(i64, OutboxStatus, String)]) -> Result<u64> {
        const OP: &str = "settle_outbox";
        let q = StoreError::query(OP);
        let now = now_text();
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(q)?;
            let mut done = 0;
            for (id, status, outcome) in settled {
                done += sqlx::query(
                    "UPDATE outbox SET status = $2, outcome = $3, delivered_at = $4, last_error = NULL \
                     WHERE id = $1 AND status = 'pending'",
                )
                .bind(id)
                .bind(status.as_str())
                .bind(outcome)
                .bind(&now)
                .execute(&mut *tx)
                .await
                .map_err(q)?
                .rows_affected();
            }
            tx.commit().await.map_err(q)?;
            Ok(done)
        })
    }

    /// Deliveries, newest first, filtered by status and target.
    pub async fn outbox_items(
        &self,
        status: Option<OutboxStatus>,
        target: Option<&str>,
        limit: u64,
    ) -> Result<Vec<OutboxItem>> {
        const OP: &str = "outbox_items";
        let limit = to_i64(OP, limit)?;
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox \
             WHERE (CAST($1 AS TEXT) IS NULL OR status = CAST($1 AS TEXT)) \
               AND (CAST($2 AS TEXT) IS NULL OR target = CAST($2 AS TEXT)) \
             ORDER BY id DESC LIMIT $3"
        );
        on_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(status.map(OutboxStatus::as_str))
                .bind(target)
                .bind(limit)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(OP))?
                .iter()
                .map(|row| item_of(row, OP))
                .collect()
        })
    }

    /// Counts per (target, operation, status).
    pub async fn outbox_counts(&self) -> Result<Vec<(String, String, OutboxStatus, u64)>> {
        const OP: &str = "outbox_counts";
        on_pool!(self, pool => {
            sqlx::query(
                "SELECT target, operation, status, COUNT(*) AS n FROM outbox \
                 GROUP BY target, operation, status ORDER BY target, operation, status",
            )
            .fetch_all(pool)
            .await
            .map_err(StoreError::query(OP))?
            .iter()
            .map(|row| {
                let d = Decode::new(row, OP);
                Ok((d.text("target")?, d.text("operation")?, d.parse("status")?, d.count("n")?))
            })
            .collect()
        })
    }

    /// Puts parked items (all, or those named) back in the queue, due now,
    /// with their attempts reset; returns how many.
    pub async fn retry_outbox(&self, ids: &[i64]) -> Result<u64> {
        const OP: &str = "retry_outbox";
        let now = now_text();
        let mut changed = 0;
        let all = ids.is_empty();
        for id in if all { &[0][..] } else { ids } {
            changed += on_pool!(self, pool => {
                sqlx::query(
                    "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $1 \
                     WHERE status = 'parked' AND ($2 OR id = $3)",
                )
                .bind(&now)
                .bind(all)
                .bind(*id)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
            })
            .map_err(StoreError::query(OP))?;
        }
        Ok(changed)
    }

    /// Records a failed attempt: counts it, keeps the error, and either
    /// schedules the next attempt or, once `park_after_attempts` attempts
    /// have failed, parks the item for an operator. Returns the new status.
    pub async fn mark_failed(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: DateTime<Utc>,
        park_after_attempts: u32,
    ) -> Result<OutboxStatus> {
        const OP: &str = "mark_failed";
        let next = timestamp(next_attempt_at);
        let status: Option<String> = on_pool!(self, pool => {
            sqlx::query_scalar(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3, \
                     status = CASE WHEN attempts + 1 >= $4 THEN 'parked' ELSE status END \
                 WHERE id = $1 AND status = 'pending' RETURNING status",
            )
            .bind(id)
            .bind(error)
            .bind(&next)
            .bind(i64::from(park_after_attempts))
            .fetch_optional(pool)
            .await
        })
        .map_err(StoreError::query(OP))?;
        let status = status.ok_or_else(|| StoreError::NotFound {
            op: OP,
            what: format!("pending outbox item {id}"),
        })?;
        status
            .parse()
            .map_err(|detail| StoreError::Corrupt { op: OP, detail })
    }
}
