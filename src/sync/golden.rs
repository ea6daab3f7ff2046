//! The golden step of a run: rebuild the golden record of every master
//! whose records changed (resolve and pulls mark them stale), keep every
//! version, and record what changed as an audit event.
//!
//! Survivorship itself is pure ([`crate::master::golden`]); this stage
//! reads the inputs, compares the result with the stored record and writes
//! in batches. When the survivorship rules change (their fingerprint
//! differs from the one the store was built with) every golden record is
//! rebuilt.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use crate::mapping::business_time;
use crate::master::golden::{build, Golden, SourceRecord};
use crate::master::survivorship::Survivorship;
use crate::model::record::ResidentRecord;
use crate::store::{
    GoldenChange, GoldenInput, GoldenWrite, MasterStatus, NewConflict, NewEvent, RunId, Store,
    StoreError,
};

/// Masters rebuilt per batch (one transaction each).
const BATCH: i64 = 1000;

/// The `store_state` key holding the fingerprint of the rules the golden
/// records were built with.
const RULES_KEY: &str = "survivorship_fingerprint";

/// The actor named in golden events.
pub const ACTOR: &str = "golden";

/// What a golden step did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GoldenReport {
    /// Masters whose golden record was rebuilt.
    pub rebuilt: u64,
    /// Of those, how many came out different (a new version).
    pub changed: u64,
    /// Merged masters whose lookup keys and conflicts were retired.
    pub retired: u64,
    /// Conflicts held by the changed golden records.
    pub conflicts: u64,
    /// Linked records whose canonical JSON could not be read (left out).
    pub unreadable: u64,
    /// Whether every golden record was rebuilt (rules changed, or asked).
    pub all: bool,
    pub seconds: f64,
}

/// Rebuilds stale golden records (all of them with `full`, or when the
/// rules changed). `departments` maps each source to its department.
pub async fn golden_run(
    store: &Store,
    run: RunId,
    rules: &Survivorship,
    departments: &BTreeMap<String, String>,
    full: bool,
) -> Result<GoldenReport, StoreError> {
    let started = Instant::now();
    let mut report = GoldenReport::default();
    let fingerprint = rules.fingerprint();
    if full || store.store_state(RULES_KEY).await?.as_deref() != Some(fingerprint.as_str()) {
        report.all = true;
        store.mark_all_golden_stale().await?;
        // The marks are stored: a run killed from here on resumes them.
        store.set_store_state(RULES_KEY, &fingerprint).await?;
    }
    loop {
        let ids = store.stale_masters(BATCH).await?;
        if ids.is_empty() {
            break;
        }
        let inputs = store.golden_inputs(&ids).await?;
        let writes: Vec<GoldenWrite> = inputs
            .iter()
            .map(|input| rebuild(input, rules, departments, run, &mut report))
            .collect();
        store.write_goldens(Some(run), &writes).await?;
    }
    report.seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    Ok(report)
}

/// Rebuilds one master's golden record from its linked records.
fn rebuild(
    input: &GoldenInput,
    rules: &Survivorship,
    departments: &BTreeMap<String, String>,
    run: RunId,
    report: &mut GoldenReport,
) -> GoldenWrite {
    if input.status == MasterStatus::Merged {
        report.retired += 1;
        return GoldenWrite {
            master_id: input.master_id.clone(),
            change: None,
            retired: true,
        };
    }
    report.rebuilt += 1;
    let parsed: Vec<Option<ResidentRecord>> = input
        .records
        .iter()
        .map(|r| serde_json::from_str(&r.canonical).ok())
        .collect();
    let sources: Vec<SourceRecord<'_>> = input
        .records
        .iter()
        .zip(&parsed)
        .filter_map(|(r, record)| {
            let Some(record) = record else {
                report.unreadable += 1;
                tracing::warn!(
                    master = %input.master_id,
                    source = %r.source,
                    "a linked record's canonical JSON is unreadable; left out of the golden record (run `yici restage`)"
                );
                return None;
            };
            Some(SourceRecord {
                source: &r.source,
                department: departments.get(&r.source).map_or("other", String::as_str),
                source_key: &r.source_key,
                updated_at: r.source_updated_at.as_deref().and_then(business_time),
                record,
            })
        })
        .collect();
    let golden = build(&sources, rules);
    let value = serde_json::to_value(&golden).expect("golden records serialize");
    let old: serde_json::Value =
        serde_json::from_str(&input.golden).unwrap_or(serde_json::Value::Null);
    if value == old {
        return GoldenWrite {
            master_id: input.master_id.clone(),
            change: None,
            retired: false,
        };
    }
    report.changed += 1;
    report.conflicts += golden.conflicts.len() as u64;
    let version = input.golden_version + 1;
    let detail = serde_json::json!({
        "version": version,
        "changes": field_changes(&old, &golden),
        "records": input.records.len(),
    });
    GoldenWrite {
        master_id: input.master_id.clone(),
        change: Some(GoldenChange {
            version,
            conflicts: conflicts(&golden),
            keys: golden
                .search_keys()
                .into_iter()
                .map(|(kind, value)| (kind.as_str().to_owned(), value))
                .collect(),
            event: NewEvent {
                master_id: Some(input.master_id.clone()),
                kind: "golden".to_owned(),
                actor: ACTOR.to_owned(),
                reason: None,
                detail,
                run_id: Some(run),
            },
            golden: value,
        }),
        retired: false,
    }
}

fn conflicts(golden: &Golden) -> Vec<NewConflict> {
    golden
        .conflicts
        .iter()
        .map(|c| NewConflict {
            field: c.field.clone(),
            kind: c.kind.as_str().to_owned(),
            detail: serde_json::to_value(c).expect("conflicts serialize"),
        })
        .collect()
}

/// Per field of the golden record that changed: old and new value, and
/// where the new one came from.
fn field_changes(old: &serde_json::Value, new: &Golden) -> Vec<serde_json::Value> {
    let empty = serde_json::Map::new();
    let before = old
        .get("record")
        .and_then(serde_json::Value::as_object)
        .unwrap_or(&empty);
    let after = serde_json::to_value(&new.record).expect("records serialize");
    let after = after.as_object().unwrap_or(&empty);
    let mut fields: Vec<&String> = before.keys().chain(after.keys()).collect();
    fields.sort();
    fields.dedup();
    fields
        .into_iter()
        .filter(|f| before.get(*f) != after.get(*f))
        .map(|f| {
            // The record keeps the identity document under `id_document`;
            // survivorship names the field `id_number`.
            let field = if f == "id_document" {
                "id_number"
            } else {
                f.as_str()
            };
            let provenance = new.provenance.get(field);
            serde_json::json!({
                "field": f,
                "from": before.get(f),
                "to": after.get(f),
                "source": provenance.map(|p| format!("{}:{}", p.source, p.source_key)),
                "rule": provenance.map(|p| p.rule.as_str()),
            })
        })
        .collect()
}
