//! Store-wide counts for `yici summary` and health checks.

use std::collections::BTreeMap;

use super::{Decode, Result, SourceCounts, Store, StoreError};

/// How much the store holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreSummary {
    /// Staged records per source, by status.
    pub staged: BTreeMap<String, SourceCounts>,
    /// Records in quarantine (not released).
    pub quarantined: u64,
    /// The same, per source.
    pub quarantined_by_source: BTreeMap<String, u64>,
    /// Active masters.
    pub masters: u64,
    /// Masters merged into another.
    pub merged_masters: u64,
    /// Record-to-master links.
    pub links: u64,
    /// Reviews waiting for a steward.
    pub pending_reviews: u64,
    /// Deliveries waiting to be sent.
    pub outbox_pending: u64,
    /// Deliveries that failed too often.
    pub outbox_parked: u64,
    /// Runs recorded.
    pub runs: u64,
}

impl Store {
    /// Active masters none of whose records is still active at its source:
    /// every department dropped the person (moved away, died and removed).
    /// They keep their ID and history, and come back if a record returns.
    pub async fn masters_without_current_records(&self) -> Result<u64> {
        const OP: &str = "masters_without_current_records";
        on_pool!(self, pool => {
            // Only masters holding a gone record can have none left: they
            // are found through the (small) index of gone records.
            let row = sqlx::query(
                "SELECT COUNT(*) AS n FROM (SELECT DISTINCT l.master_id AS id \
                     FROM staged_records g JOIN links l \
                     ON l.source = g.source AND l.source_key = g.source_key \
                     WHERE g.status = 'gone') c \
                 JOIN masters m ON m.id = c.id \
                 WHERE m.status = 'active' AND NOT EXISTS \
                 (SELECT 1 FROM links l2 JOIN staged_records s ON s.id = l2.record_id \
                  WHERE l2.master_id = c.id AND s.status = 'active')",
            )
            .fetch_one(pool)
            .await
            .map_err(StoreError::query(OP))?;
            Decode::new(&row, OP).count("n")
        })
    }

    /// Counts of everything the CLI summary shows.
    pub async fn summary(&self) -> Result<StoreSummary> {
        const OP: &str = "summary";
        let mut summary = on_pool!(self, pool => {
            let row = sqlx::query(
                "SELECT \
                    (SELECT COUNT(*) FROM quarantine WHERE released_at IS NULL) AS quarantined, \
                    (SELECT COUNT(*) FROM masters WHERE status = 'active') AS masters, \
                    (SELECT COUNT(*) FROM masters WHERE status = 'merged') AS merged_masters, \
                    (SELECT COUNT(*) FROM links) AS links, \
                    (SELECT COUNT(*) FROM review_queue WHERE status = 'pending') AS pending_reviews, \
                    (SELECT COUNT(*) FROM outbox WHERE status = 'pending') AS outbox_pending, \
                    (SELECT COUNT(*) FROM outbox WHERE status = 'parked') AS outbox_parked, \
                    (SELECT COUNT(*) FROM runs) AS runs",
            )
            .fetch_one(pool)
            .await
            .map_err(StoreError::query(OP))?;
            let d = Decode::new(&row, OP);
            StoreSummary {
                staged: BTreeMap::new(),
                quarantined: d.count("quarantined")?,
                quarantined_by_source: BTreeMap::new(),
                masters: d.count("masters")?,
                merged_masters: d.count("merged_masters")?,
                links: d.count("links")?,
                pending_reviews: d.count("pending_reviews")?,
                outbox_pending: d.count("outbox_pending")?,
                outbox_parked: d.count("outbox_parked")?,
                runs: d.count("runs")?,
            }
        });
        let per_source: Vec<(String, String, u64)> = on_pool!(self, pool => {
            sqlx::query(
                "SELECT source, status, COUNT(*) AS n FROM staged_records GROUP BY source, status",
            )
            .fetch_all(pool)
            .await
            .map_err(StoreError::query(OP))?
            .iter()
            .map(|row| {
                let d = Decode::new(row, OP);
                Ok((d.text("source")?, d.text("status")?, d.count("n")?))
            })
            .collect::<Result<_>>()?
        });
        for (source, status, n) in per_source {
            let counts = summary.staged.entry(source).or_default();
            match status.as_str() {
                "active" => counts.active = n,
                "gone" => counts.gone = n,
                other => {
                    return Err(StoreError::Corrupt {
                        op: OP,
                        detail: format!("unknown staged record status `{other}`"),
                    })
                }
            }
        }
        summary.quarantined_by_source = self
            .counts_by_key(
                OP,
                "SELECT source AS k, COUNT(*) AS n FROM quarantine \
                 WHERE released_at IS NULL GROUP BY source",
            )
            .await?
            .into_iter()
            .collect();
        Ok(summary)
    }
}
