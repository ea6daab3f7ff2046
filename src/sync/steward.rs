//! A data steward's command against the store: read the masters it
//! touches, decide the change ([`crate::master::stewardship`]), write it in
//! one transaction and rebuild the golden records it affects.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::master::stewardship::{self, MasterRecords, Steward, StewardError};
use crate::master::survivorship::Survivorship;
use crate::push::Targets;
use crate::stop::StopRequest;
use crate::store::{MasterStatus, RecordRef, ReviewDecision, ReviewStatus, Store, StoreError};

use super::golden::{golden_run, GoldenReport};

/// What a steward asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum StewardCommand {
    Merge {
        a: String,
        b: String,
    },
    Unmerge {
        master: String,
        records: Vec<RecordRef>,
    },
    Link {
        record: RecordRef,
        master: String,
    },
    Unlink {
        record: RecordRef,
    },
    Review {
        id: i64,
        decision: ReviewDecision,
    },
}

/// Why a steward's command was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum StewardRunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Refused(#[from] StewardError),
    #[error("no master {0}")]
    NoSuchMaster(String),
    #[error("master {id} was merged into {into}; act on {into}")]
    Merged { id: String, into: String },
    #[error("no staged record {0}")]
    NoSuchRecord(String),
    #[error("{0} is not linked to any master yet; run `yici reconcile` first")]
    NotLinked(String),
    #[error("no review {0}")]
    NoSuchReview(i64),
    #[error("review {id} was already {status} by {by}")]
    AlreadyDecided {
        id: i64,
        status: ReviewStatus,
        by: String,
    },
}

/// What a steward's command changed.
#[derive(Debug, Clone, Serialize)]
pub struct StewardReport {
    pub run: i64,
    /// Masters created, with their ids.
    pub created: Vec<String>,
    /// (absorbed, survivor).
    pub merged: Vec<(String, String)>,
    /// Records now linked by hand.
    pub links: usize,
    /// Must-link / cannot-link rules recorded.
    pub rules: usize,
    pub golden: GoldenReport,
}

/// Runs one steward command as `who`; `departments` maps sources to their
/// department and `targets` are planned for, in the golden rebuild.
pub async fn steward_run(
    store: &Store,
    command: &StewardCommand,
    who: &Steward,
    rules: &Survivorship,
    departments: &BTreeMap<String, String>,
    targets: &Targets,
) -> Result<StewardReport, StewardRunError> {
    let new_id = || uuid::Uuid::now_v7().to_string();
    let write = match command {
        StewardCommand::Merge { a, b } => {
            let (a, b) = (
                active_master(store, a).await?,
                active_master(store, b).await?,
            );
            stewardship::merge(&a, &b, who)?
        }
        StewardCommand::Unmerge { master, records } => {
            let m = active_master(store, master).await?;
            stewardship::unmerge(&m, records, new_id(), who)?
        }
        StewardCommand::Link { record, master } => {
            let to = active_master(store, master).await?;
            let from = master_of_record(store, record).await?;
            stewardship::link(record, &from, &to, who)?
        }
        StewardCommand::Unlink { record } => {
            let from = master_of_record(store, record).await?;
            stewardship::unlink(record, &from, new_id(), who)?
        }
        StewardCommand::Review { id, decision } => {
            let review = store
                .review(*id)
                .await?
                .ok_or(StewardRunError::NoSuchReview(*id))?;
            if review.status != ReviewStatus::Pending {
                return Err(StewardRunError::AlreadyDecided {
                    id: *id,
                    status: review.status,
                    by: review.decided_by.unwrap_or_default(),
                });
            }
            let left = master_of_record(store, &review.left).await?;
            let right = master_of_record(store, &review.right).await?;
            stewardship::decide(&review, *decision, &left, &right, new_id(), who)
        }
    };
    store.apply_steward(who.run, &write).await?;
    let golden = golden_run(
        store,
        who.run,
        rules,
        departments,
        targets,
        false,
        &StopRequest::default(),
    )
    .await?;
    Ok(StewardReport {
        run: who.run.0,
        created: write.new_masters.clone(),
        merged: write.merges.clone(),
        links: write.links.len(),
        rules: write.rules.len(),
        golden,
    })
}

/// An active master with its records; a tombstone names its survivor.
pub async fn active_master(store: &Store, id: &str) -> Result<MasterRecords, StewardRunError> {
    let master = store
        .master(id)
        .await?
        .ok_or_else(|| StewardRunError::NoSuchMaster(id.to_owned()))?;
    if master.status == MasterStatus::Merged {
        return Err(StewardRunError::Merged {
            id: id.to_owned(),
            into: master.merged_into.unwrap_or_default(),
        });
    }
    let records = store
        .links_of_master(id)
        .await?
        .into_iter()
        .map(|l| RecordRef::new(l.source, l.source_key))
        .collect();
    Ok(MasterRecords {
        id: master.id,
        created_at: crate::store::timestamp(master.created_at),
        records,
    })
}

/// The master a staged record is linked to.
async fn master_of_record(
    store: &Store,
    record: &RecordRef,
) -> Result<MasterRecords, StewardRunError> {
    if store
        .staged_record(&record.source, &record.source_key)
        .await?
        .is_none()
    {
        return Err(StewardRunError::NoSuchRecord(record.to_string()));
    }
    let link = store
        .master_of(&record.source, &record.source_key)
        .await?
        .ok_or_else(|| StewardRunError::NotLinked(record.to_string()))?;
    active_master(store, &link.master_id).await
}
