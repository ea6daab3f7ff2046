//! Job locks: leases that keep a job (a source's sync, the push worker)
//! single-instance across processes sharing a store, and that expire so a
//! killed holder does not block the job forever.

use std::time::Duration;

use chrono::Utc;

use super::{timestamp, Decode, Result, Store, StoreError};

impl Store {
    /// Takes the lock `name` for `holder` for `ttl`; returns whether it got
    /// it. Succeeds when the lock is free, expired, or already `holder`'s
    /// (which renews it — call again before `ttl` runs out to keep it).
    pub async fn try_acquire_lock(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool> {
        const OP: &str = "try_acquire_lock";
        let ttl = chrono::Duration::from_std(ttl).map_err(|e| StoreError::InvalidArgument {
            op: OP,
            detail: format!("ttl: {e}"),
        })?;
        let now = Utc::now();
        let expires = now
            .checked_add_signed(ttl)
            .ok_or_else(|| StoreError::InvalidArgument {
                op: OP,
                detail: "ttl is too long".to_owned(),
            })?;
        let (now, expires) = (timestamp(now), timestamp(expires));
        let taken = on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO job_locks (name, holder, acquired_at, expires_at) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (name) DO UPDATE SET \
                    holder = excluded.holder, acquired_at = excluded.acquired_at, \
                    expires_at = excluded.expires_at \
                 WHERE job_locks.expires_at <= $3 OR job_locks.holder = $2",
            )
            .bind(name)
            .bind(holder)
            .bind(&now)
            .bind(&expires)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(StoreError::query(OP))?;
        Ok(taken == 1)
    }

    /// Releases `name` if `holder` holds it; returns whether it did.
    pub async fn release_lock(&self, name: &str, holder: &str) -> Result<bool> {
        const OP: &str = "release_lock";
        let released = on_pool!(self, pool => {
            sqlx::query("DELETE FROM job_locks WHERE name = $1 AND holder = $2")
                .bind(name)
                .bind(holder)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })
        .map_err(StoreError::query(OP))?;
        Ok(released == 1)
    }

    /// Who holds `name` now (expired or not), if anyone.
    pub async fn lock_holder(&self, name: &str) -> Result<Option<String>> {
        const OP: &str = "lock_holder";
        on_pool!(self, pool => {
            sqlx::query_scalar("SELECT holder FROM job_locks WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await
        })
        .map_err(StoreError::query(OP))
    }

    /// The lease on `name`, if anyone holds or held it.
    pub async fn lock_lease(&self, name: &str) -> Result<Option<LockLease>> {
        const OP: &str = "lock_lease";
        on_pool!(self, pool => {
            let row = sqlx::query(
                "SELECT holder, acquired_at, expires_at FROM job_locks WHERE name = $1",
            )
            .bind(name)
            .fetch_optional(pool)
            .await
            .map_err(StoreError::query(OP))?;
            row.map(|row| {
                let d = Decode::new(&row, OP);
                Ok(LockLease {
                    holder: d.text("holder")?,
                    renewed_at: d.time("acquired_at")?,
                    expires_at: d.time("expires_at")?,
                })
            })
            .transpose()
        })
    }
}

/// Who holds a lock, as [`Store::lock_lease`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockLease {
    /// `host:pid` (see [`super::process`]).
    pub holder: String,
    /// When the holder last took or renewed it.
    pub renewed_at: chrono::DateTime<Utc>,
    /// When it lapses unless renewed.
    pub expires_at: chrono::DateTime<Utc>,
}
