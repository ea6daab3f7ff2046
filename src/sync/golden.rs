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
use crate::push::{new_record_key, plan, plan_create, StagedRow, Targets};
use crate::stop::StopRequest;
use crate::store::{
    GoldenChange, GoldenInput, GoldenWrite, MasterStatus, NewConflict, NewEvent, RunId, Store,
    StoreError,
};

/// Stale masters from which a rebuild first refreshes the store's
/// statistics.
const BIG_REBUILD: u64 = 10_000;

/// Masters rebuilt per batch (one transaction each).
const BATCH: i64 = 1000;

/// The `store_state` key holding the fingerprint of the rules the golden
/// records were built with.
const RULES_KEY: &str = "survivorship_fingerprint";

/// The `store_state` key holding each source's trust digest (JSON object)
/// the golden records were built with.
const TRUST_KEY: &str = "survivorship_trust";

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
    /// Push-back deliveries planned for the rebuilt masters' records.
    pub planned: u64,
    /// Of those, how many were new to the outbox (the rest were already
    /// queued or delivered).
    pub queued: u64,
    /// Whether every golden record was rebuilt (rules changed, or asked).
    pub all: bool,
    pub seconds: f64,
}

/// Rebuilds stale golden records (all of them with `full`, or when the
/// rules changed), and plans push-back for their records in `targets`.
/// `departments` maps each source to its department. Stops between batches
/// when `stop` asks (the masters left stale are rebuilt by the next run).
pub async fn golden_run(
    store: &Store,
    run: RunId,
    rules: &Survivorship,
    departments: &BTreeMap<String, String>,
    targets: &Targets,
    full: bool,
    stop: &StopRequest,
) -> Result<GoldenReport, StoreError> {
    let started = Instant::now();
    let mut report = GoldenReport::default();
    let fingerprint = rules.fingerprint();
    let trust = rules.trust_fingerprints();
    let trust_text = serde_json::to_string(&trust).unwrap_or_default();
    if full || store.store_state(RULES_KEY).await?.as_deref() != Some(fingerprint.as_str()) {
        report.all = true;
        store.mark_all_golden_stale().await?;
        // The marks are stored: a run killed from here on resumes them.
        store.set_store_state(TRUST_KEY, &trust_text).await?;
        store.set_store_state(RULES_KEY, &fingerprint).await?;
    } else {
        // A source's trust changed, or a source with trust came or went:
        // only masters holding its records can change.
        let stored: BTreeMap<String, String> = store
            .store_state(TRUST_KEY)
            .await?
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        let changed: Vec<String> = stored
            .keys()
            .chain(trust.keys())
            .filter(|s| stored.get(*s) != trust.get(*s))
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if !changed.is_empty() {
            store.mark_golden_stale_for_sources(&changed).await?;
            store.set_store_state(TRUST_KEY, &trust_text).await?;
        }
    }
    // A big rebuild follows bulk writes (a first resolution, a full run):
    // the planner needs the tables' real sizes first.
    if store.stale_master_count().await? >= BIG_REBUILD {
        store.refresh_statistics().await?;
    }
    let (mut read, mut built, mut written) = (0.0, 0.0, 0.0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    while !stop.stops_here() {
        let t = Instant::now();
        let ids = store.stale_masters(BATCH).await?;
        if ids.is_empty() {
            break;
        }
        let inputs = store.golden_inputs(&ids).await?;
        read += t.elapsed().as_secs_f64();
        let t = Instant::now();
        // Survivorship is pure and per master: every core takes a share.
        let share = inputs.len().div_ceil(threads).max(1);
        let rebuilt: Vec<(GoldenWrite, GoldenReport)> = std::thread::scope(|scope| {
            let workers: Vec<_> = inputs
                .chunks(share)
                .map(|chunk| {
                    scope.spawn(move || {
                        chunk
                            .iter()
                            .map(|input| rebuild(input, rules, departments, targets, run))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().expect("golden record builders do not panic"))
                .collect()
        });
        let mut writes = Vec::with_capacity(rebuilt.len());
        for (write, counts) in rebuilt {
            report.add(&counts);
            writes.push(write);
        }
        built += t.elapsed().as_secs_f64();
        let t = Instant::now();
        report.queued += store.write_goldens(Some(run), &writes).await?;
        written += t.elapsed().as_secs_f64();
    }
    tracing::debug!(read, built, written, "golden records rebuilt");
    report.seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    Ok(report)
}

impl GoldenReport {
    fn add(&mut self, other: &GoldenReport) {
        self.rebuilt += other.rebuilt;
        self.changed += other.changed;
        self.retired += other.retired;
        self.conflicts += other.conflicts;
        self.unreadable += other.unreadable;
        self.planned += other.planned;
    }
}

/// Rebuilds one master's golden record from its linked records; the counts
/// say what happened.
fn rebuild(
    input: &GoldenInput,
    rules: &Survivorship,
    departments: &BTreeMap<String, String>,
    targets: &Targets,
    run: RunId,
) -> (GoldenWrite, GoldenReport) {
    let mut counts = GoldenReport::default();
    if input.status == MasterStatus::Merged {
        counts.retired = 1;
        let write = GoldenWrite {
            master_id: input.master_id.clone(),
            change: None,
            retired: true,
            outbox: Vec::new(),
            planned: Vec::new(),
        };
        return (write, counts);
    }
    counts.rebuilt = 1;
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
                counts.unreadable += 1;
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
    // Push-back is planned whether or not the golden record changed: a
    // department may have emptied a value since.
    let mut outbox = Vec::new();
    let mut planned = Vec::new();
    for (r, record) in input.records.iter().zip(&parsed) {
        let (Some(target), Some(record)) = (targets.get(&r.source), record) else {
            continue;
        };
        let raw: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&r.raw).unwrap_or_default();
        let row = StagedRow {
            source_key: &r.source_key,
            content_hash: &r.content_hash,
            raw: &raw,
            record,
        };
        outbox.extend(plan(&golden, &input.master_id, target, row));
        planned.push((r.source.clone(), r.source_key.clone()));
    }
    // Departments that should hold this resident but have no record.
    for target in targets.all().filter(|t| t.spec.create.is_some()) {
        if input.records.iter().any(|r| r.source == target.name) {
            continue;
        }
        outbox.extend(plan_create(&golden, &input.master_id, target));
        planned.push((target.name.to_owned(), new_record_key(&input.master_id)));
    }
    counts.planned = outbox.len() as u64;
    let value = serde_json::to_value(&golden).expect("golden records serialize");
    let old: serde_json::Value =
        serde_json::from_str(&input.golden).unwrap_or(serde_json::Value::Null);
    if value == old {
        let write = GoldenWrite {
            master_id: input.master_id.clone(),
            change: None,
            retired: false,
            outbox,
            planned,
        };
        return (write, counts);
    }
    counts.changed = 1;
    counts.conflicts = golden.conflicts.len() as u64;
    let version = input.golden_version + 1;
    // What changed is read from the versions themselves (`yici history`);
    // the event names the fields and where the new values came from.
    let detail = serde_json::json!({
        "version": version,
        "records": input.records.len(),
        "fields": changed_fields(&old, &value),
    });
    let write = GoldenWrite {
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
        outbox,
        planned,
    };
    (write, counts)
}

/// Conflicts as stored on their own: each value with the records holding
/// it (`source:key`), readable without the golden record.
fn conflicts(golden: &Golden) -> Vec<NewConflict> {
    golden
        .conflicts
        .iter()
        .map(|c| {
            let values: Vec<serde_json::Value> = c
                .values
                .iter()
                .map(|v| {
                    let seen: Vec<String> = v
                        .seen
                        .iter()
                        .filter_map(|&i| golden.source_of(i))
                        .map(|s| format!("{}:{}", s.source, s.key))
                        .collect();
                    serde_json::json!({"value": v.value, "seen": seen})
                })
                .collect();
            NewConflict {
                field: c.field.clone(),
                kind: c.kind.as_str().to_owned(),
                detail: serde_json::json!({"field": c.field, "kind": c.kind, "values": values}),
            }
        })
        .collect()
}

/// The golden record's fields whose value differs between two versions.
fn changed_fields(old: &serde_json::Value, new: &serde_json::Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let before = old["record"].as_object().unwrap_or(&empty);
    let after = new["record"].as_object().unwrap_or(&empty);
    let mut fields: Vec<&String> = before.keys().chain(after.keys()).collect();
    fields.sort();
    fields.dedup();
    fields
        .into_iter()
        .filter(|f| before.get(*f) != after.get(*f))
        .cloned()
        .collect()
}
