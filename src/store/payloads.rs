//! Reading pulled payloads back, page by page, so a fixed mapping can
//! re-standardize a source without pulling it again (`yici restage`).

use super::{Decode, Result, Store, StoreError};

/// One stored raw payload (JSON text) under its source key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    pub source_key: String,
    pub raw: String,
}

/// Which payloads to read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadSet {
    /// Staged records still present at their source.
    Active,
    /// Records in quarantine that no later pull has released.
    OpenQuarantine,
}

impl Store {
    /// Up to `limit` payloads of `source` with keys after `after_key`, in key
    /// order (keyset pagination: stable while the caller writes).
    pub async fn payloads(
        &self,
        source: &str,
        set: PayloadSet,
        after_key: &str,
        limit: i64,
    ) -> Result<Vec<Payload>> {
        const OP: &str = "payloads";
        let sql = match set {
            PayloadSet::Active => {
                "SELECT source_key, raw FROM staged_records \
                 WHERE source = $1 AND status = 'active' AND source_key > $2 \
                 ORDER BY source_key LIMIT $3"
            }
            PayloadSet::OpenQuarantine => {
                "SELECT source_key, raw FROM quarantine \
                 WHERE source = $1 AND released_at IS NULL AND source_key > $2 \
                 ORDER BY source_key LIMIT $3"
            }
        };
        on_pool!(self, pool => {
            sqlx::query(sql)
                .bind(source)
                .bind(after_key)
                .bind(limit)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(OP))?
                .iter()
                .map(|row| {
                    let d = Decode::new(row, OP);
                    Ok(Payload {
                        source_key: d.text("source_key")?,
                        raw: d.text("raw")?,
                    })
                })
                .collect()
        })
    }
}
