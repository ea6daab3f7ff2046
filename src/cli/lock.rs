//! The `resolve` lock: one process at a time changes the master index
//! (a reconcile run, a steward's command), across processes sharing a store.
//! The lock of a process that was killed on this host is taken over: its
//! work committed in one transaction or not at all.

use std::time::Duration;

use anyhow::Result;

use crate::store::Store;

/// The lock's name in the store.
const LOCK: &str = "resolve";

/// How long the lock holds if this process dies without releasing it.
const LOCK_TTL: Duration = Duration::from_secs(3600);

/// The held lock; [`IndexLock::release`] it when done.
pub struct IndexLock {
    holder: String,
}

impl IndexLock {
    /// Takes the lock, or fails with a message naming who holds it.
    pub async fn acquire(store: &Store) -> Result<IndexLock> {
        let holder = lock_holder_name(std::process::id());
        if !store.try_acquire_lock(LOCK, &holder, LOCK_TTL).await? {
            let current = store.lock_holder(LOCK).await?;
            let stale = current.clone().filter(|h| is_dead_local_holder(h));
            let taken = match stale {
                Some(dead) => {
                    tracing::warn!(holder = %dead, "taking over the resolve lock of a process that is gone");
                    store.release_lock(LOCK, &dead).await?
                        && store.try_acquire_lock(LOCK, &holder, LOCK_TTL).await?
                }
                None => false,
            };
            if !taken {
                anyhow::bail!(
                    "another resolve or steward command is changing the master index (lock `{LOCK}` held by {}); try again when it has finished",
                    current.as_deref().unwrap_or("another process")
                );
            }
        }
        Ok(IndexLock { holder })
    }

    /// Releases the lock.
    pub async fn release(self, store: &Store) -> Result<()> {
        store.release_lock(LOCK, &self.holder).await?;
        Ok(())
    }
}

/// `host:pid`, so a later run on the same host can tell a dead holder.
fn lock_holder_name(pid: u32) -> String {
    format!("{}:{pid}", host_name())
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}

/// Whether `holder` names a process on this host that no longer runs.
fn is_dead_local_holder(holder: &str) -> bool {
    let Some((host, pid)) = holder.rsplit_once(':') else {
        return false;
    };
    let proc = std::path::Path::new("/proc");
    host == host_name()
        && proc.join("self").exists()
        && pid.parse::<u32>().is_ok()
        && !proc.join(pid).exists()
}
