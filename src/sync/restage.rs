//! Re-standardizing a source from the raw payloads already in the store,
//! after its mapping was fixed: no pull, no cursor movement.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::standardize::prepare;
use crate::connector::{Batch, Origin, RawRecord};
use crate::mapping::Standardizer;
use crate::store::{PayloadSet, RunId, Store, StoreError};

/// How many payloads are re-standardized per store transaction.
const PAGE: i64 = 5_000;

/// What a restage changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RestageReport {
    pub source: String,
    /// Payloads read back (active staged records and open quarantine).
    pub read: u64,
    /// Staged records whose canonical form changed with the new mapping.
    pub changed: u64,
    pub unchanged: u64,
    /// Records (newly or still) in quarantine.
    pub quarantined: u64,
    /// Quarantined records that the new mapping can use.
    pub released: u64,
    pub seconds: f64,
}

/// Re-standardizes every active staged record and every open quarantine
/// entry of `source` with `standardizer`, under `run_id`.
pub async fn restage_source(
    store: &Store,
    run_id: RunId,
    source: &str,
    standardizer: Arc<Standardizer>,
) -> Result<RestageReport, StoreError> {
    let started = Instant::now();
    let mut report = RestageReport {
        source: source.to_string(),
        ..RestageReport::default()
    };
    for set in [PayloadSet::Active, PayloadSet::OpenQuarantine] {
        let mut after = String::new();
        loop {
            let page = store.payloads(source, set, &after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.source_key.clone();
            let records = page
                .into_iter()
                .map(|p| RawRecord {
                    fields: match serde_json::from_str(&p.raw) {
                        Ok(serde_json::Value::Object(map)) => map,
                        _ => serde_json::Map::new(),
                    },
                    origin: Origin::default(),
                })
                .collect();
            let batch = Batch {
                records,
                problems: Vec::new(),
                cursor: None,
            };
            let std = Arc::clone(&standardizer);
            let prepared = tokio::task::spawn_blocking(move || prepare(batch, &std))
                .await
                .map_err(|e| StoreError::InvalidArgument {
                    op: "restage",
                    detail: format!("standardizing failed: {e}"),
                })?;
            let counts = prepared.stage(store, source, run_id).await?;
            report.read += prepared.rows;
            report.changed += counts.changed + counts.new;
            report.unchanged += counts.unchanged;
            report.quarantined += counts.quarantined;
            report.released += counts.released;
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}
