//! Job locks held by CLI commands across processes sharing a store: the
//! `resolve` lock (one process at a time changes the master index: a
//! reconcile run, a steward's command), the `push` lock (one delivery at a
//! time, so no outbox row is sent by two processes) and the `daemon` lock
//! (one `yici run` per store). The lock of a
//! process that was killed on this host is taken over: its work committed
//! or is redone without effect.

use std::time::Duration;

use anyhow::Result;

use crate::store::{process, LockLease, Store, StoreError};

/// The master index's lock.
const RESOLVE: &str = "resolve";
/// Delivery's lock.
const PUSH: &str = "push";
/// The daemon's lock: one `yici run` per store.
const DAEMON: &str = "daemon";

/// How long the lock holds if this process dies without releasing it.
const LOCK_TTL: Duration = Duration::from_secs(3600);

/// A held lock; [`JobLock::release`] it when done.
pub struct JobLock {
    name: &'static str,
    holder: String,
}

impl JobLock {
    /// Takes the master index's lock, or fails naming who holds it.
    pub async fn acquire(store: &Store) -> Result<JobLock> {
        JobLock::take(
            store,
            RESOLVE,
            "another resolve or steward command is changing the master index",
        )
        .await
    }

    /// Takes delivery's lock, or fails naming who holds it.
    pub async fn acquire_push(store: &Store) -> Result<JobLock> {
        JobLock::take(store, PUSH, "another push is delivering").await
    }

    /// Takes the daemon's lock (one `yici run` per store), or fails naming
    /// who holds it. Renew it with [`JobLock::renew`].
    pub async fn acquire_daemon(store: &Store) -> Result<JobLock> {
        JobLock::take(store, DAEMON, "another yici daemon runs against this store").await
    }

    /// Extends the lease (a held lock expires after an hour otherwise).
    /// `Ok(false)`: another process took it meanwhile; an error: the store
    /// did not answer (the lease still runs).
    pub async fn renew(&self, store: &Store) -> Result<bool, StoreError> {
        store
            .try_acquire_lock(self.name, &self.holder, LOCK_TTL)
            .await
    }

    async fn take(store: &Store, name: &'static str, busy: &str) -> Result<JobLock> {
        let holder = process::this_process();
        if !store.try_acquire_lock(name, &holder, LOCK_TTL).await? {
            let current = store.lock_holder(name).await?;
            let stale = current.clone().filter(|h| process::is_gone(h));
            let taken = match stale {
                Some(dead) => {
                    tracing::warn!(holder = %dead, lock = name, "taking over the lock of a process that is gone");
                    store.release_lock(name, &dead).await?
                        && store.try_acquire_lock(name, &holder, LOCK_TTL).await?
                }
                None => false,
            };
            if !taken {
                anyhow::bail!(
                    "{busy} (lock `{name}` held by {}); try again when it has finished",
                    current.as_deref().unwrap_or("another process")
                );
            }
        }
        Ok(JobLock { name, holder })
    }

    /// The daemon's lease, if a daemon ever ran against this store, and
    /// whether it is alive (not lapsed, its process not gone).
    pub async fn daemon_lease(store: &Store) -> Result<Option<(LockLease, bool)>, StoreError> {
        Ok(store.lock_lease(DAEMON).await?.map(|lease| {
            let alive = lease.expires_at > chrono::Utc::now() && !process::is_gone(&lease.holder);
            (lease, alive)
        }))
    }

    /// Releases the lock.
    pub async fn release(self, store: &Store) -> Result<()> {
        store.release_lock(self.name, &self.holder).await?;
        Ok(())
    }
}
