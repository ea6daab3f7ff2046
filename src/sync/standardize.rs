//! Turning raw rows into what the store stages: standardized on every core,
//! serialized, hashed; unusable rows become quarantine entries with their
//! position, never dropped.

use crate::connector::{Batch, Origin, RowProblem};
use crate::mapping::{Outcome, Standardizer};
use crate::matching::Features;
use crate::store::{
    content_hash_parts, QuarantineInput, RunId, StageCounts, StageInput, Store, StoreError,
};

/// A batch made ready for the store.
pub struct Prepared {
    pub staged: Vec<StageInput>,
    pub quarantined: Vec<QuarantineInput>,
    pub cursor: Option<String>,
    /// Rows read (records and unreadable rows).
    pub rows: u64,
}

impl Prepared {
    /// Stages the batch: its records, quarantine entries and cursor commit
    /// together or not at all.
    pub async fn stage(
        &self,
        store: &Store,
        source: &str,
        run_id: RunId,
    ) -> Result<StageCounts, StoreError> {
        store
            .stage_and_quarantine(
                source,
                run_id,
                &self.staged,
                &self.quarantined,
                self.cursor.as_deref(),
            )
            .await
    }
}

/// Cores to standardize on, looked up once: on Linux the lookup reads cgroup
/// files, which is not work to repeat for every batch.
static THREADS: std::sync::LazyLock<usize> =
    std::sync::LazyLock::new(|| std::thread::available_parallelism().map_or(1, usize::from));

/// Standardizes a batch on every core and serializes what the store needs.
pub fn prepare(batch: Batch, standardizer: &Standardizer) -> Prepared {
    let rows = (batch.records.len() + batch.problems.len()) as u64;
    let threads = *THREADS;
    let chunk = batch.records.len().div_ceil(threads).max(256);
    let mut staged = Vec::with_capacity(batch.records.len());
    let mut quarantined = Vec::new();
    std::thread::scope(|scope| {
        let workers: Vec<_> = batch
            .records
            .chunks(chunk)
            .map(|records| {
                scope.spawn(move || {
                    let mut staged = Vec::with_capacity(records.len());
                    let mut quarantined = Vec::new();
                    for record in records {
                        match standardize_one(standardizer, &record.fields, &record.origin) {
                            Ok(input) => staged.push(input),
                            Err(q) => quarantined.push(q),
                        }
                    }
                    (staged, quarantined)
                })
            })
            .collect();
        for worker in workers {
            match worker.join() {
                Ok((s, q)) => {
                    staged.extend(s);
                    quarantined.extend(q);
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    quarantined.extend(batch.problems.iter().map(|p| unreadable(standardizer, p)));
    Prepared {
        staged,
        quarantined,
        cursor: batch.cursor,
        rows,
    }
}

fn standardize_one(
    standardizer: &Standardizer,
    fields: &serde_json::Map<String, serde_json::Value>,
    origin: &Origin,
) -> Result<StageInput, QuarantineInput> {
    let raw = serde_json::to_string(fields).unwrap_or_else(|_| "{}".to_string());
    match standardizer.standardize(fields) {
        Outcome::Staged(s) => {
            let canonical = serde_json::to_string(&s.record).unwrap_or_else(|_| "{}".to_string());
            let problems: Vec<String> = s.problems.iter().map(ToString::to_string).collect();
            let problems = serde_json::to_string(&problems).unwrap_or_else(|_| "[]".to_string());
            // Changes in what was pulled *or* in how it standardizes (after
            // a mapping fix) both re-stage the record.
            let content_hash = content_hash_parts(&[raw.as_bytes(), canonical.as_bytes()]);
            let match_key = serde_json::to_string(&Features::of(&s.record)).ok();
            Ok(StageInput {
                source_key: s.source_key,
                raw,
                canonical,
                problems,
                content_hash,
                source_updated_at: s.source_updated_at,
                match_key,
            })
        }
        Outcome::Quarantined {
            source_key,
            reasons,
        } => Err(QuarantineInput {
            source_key: source_key.unwrap_or_else(|| position_key(origin)),
            raw,
            reasons: reasons
                .into_iter()
                .map(|r| format!("{origin}: {r}"))
                .collect(),
        }),
    }
}

/// A row the connector could not read: quarantined under its key when the
/// key columns were readable, else under its position.
fn unreadable(standardizer: &Standardizer, problem: &RowProblem) -> QuarantineInput {
    let key = match standardizer.standardize(&problem.fields) {
        Outcome::Staged(s) => Some(s.source_key),
        Outcome::Quarantined { source_key, .. } => source_key,
    };
    QuarantineInput {
        source_key: key.unwrap_or_else(|| position_key(&problem.origin)),
        raw: serde_json::to_string(&problem.fields).unwrap_or_else(|_| "{}".to_string()),
        reasons: vec![format!("{}: {}", problem.origin, problem.reason)],
    }
}

/// A stable stand-in key for a row without a readable key: its position.
fn position_key(origin: &Origin) -> String {
    format!("@{origin}")
}
