//! Delivering the outbox: each due row goes through its target — a SQL
//! source's own table (an `UPDATE` guarded by the values we last pulled,
//! or a row in its suggestions table), or a file source's ledger — and its
//! outcome is recorded:
//!
//! * written, or already there (a re-delivery) → `delivered`;
//! * the department changed the value since our pull, or the record is
//!   gone → `superseded` (the next pull brings the change; planning
//!   starts again from it, so their edit is never overwritten);
//! * a transient failure (the database is down, a timeout) → retried with
//!   exponential backoff and jitter; after [`MAX_ATTEMPTS`] the row is
//!   `parked` for an operator (`yici outbox retry`), as is a configuration
//!   error at once.
//!
//! Outcomes are recorded once per page of rows, after their writes (and,
//! for a ledger, after they are on disk), so a delivery killed at any
//! moment redoes at most one page, and redoing it changes nothing (the
//! guard finds our value already there; a ledger skips rows it holds).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;

use super::ledger::Ledger;
use super::plan::{RecordPush, CREATE, SUGGEST};
use crate::config::push::PushSpec;
use crate::config::{Config, Connector, Location};
use crate::connector::http::write::HttpTarget;
use crate::connector::sql::write::SqlTarget;
use crate::connector::target::{ColumnWrite, Expect, Suggestion, UpdateOutcome};
use crate::connector::ConnectorError;
use crate::model::mask::mask_digits_in_text;
use crate::stop::StopRequest;
use crate::store::{OutboxItem, OutboxStatus, Store, StoreError};

/// Failed attempts before a row is parked.
pub const MAX_ATTEMPTS: u32 = 8;

/// Rows read from the outbox at a time.
const PAGE: u64 = 500;

/// The suggestions table of a SQL target without one configured.
pub const DEFAULT_SUGGESTIONS: &str = "yici_suggestions";

/// What delivery did for one target.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TargetDelivery {
    /// Values written into the department's records.
    pub values_written: u64,
    /// Records created for residents it lacked.
    pub records_created: u64,
    /// Rows whose values were already there (re-deliveries).
    pub already_there: u64,
    /// Suggestions written (table rows or ledger lines).
    pub suggested: u64,
    /// Values written to the department's ledger for a worker to enter.
    pub ledgered: u64,
    /// Rows the department made obsolete (its own edit, a deleted record).
    pub superseded: u64,
    /// Rows that failed and will be retried.
    pub retrying: u64,
    /// Rows parked for an operator.
    pub parked: u64,
    /// The first error met, if any (identity numbers and phones masked).
    pub error: Option<String>,
}

/// Per target.
pub type DeliveryReport = BTreeMap<String, TargetDelivery>;

/// A target's writer, opened once per delivery.
enum Writer {
    Sql(SqlTarget),
    Http(HttpTarget),
    Ledger(Ledger),
}

/// Delivers the due outbox rows of `targets` (all push targets when empty).
/// Stops between pages when `stop` asks: the rows not tried stay due.
pub async fn deliver(
    store: &Store,
    config: &Config,
    targets: &[String],
    stop: &StopRequest,
) -> Result<DeliveryReport, StoreError> {
    let mut report = DeliveryReport::new();
    let names: Vec<String> = if targets.is_empty() {
        super::Targets::from_config(config)
            .names()
            .map(str::to_owned)
            .collect()
    } else {
        targets.to_vec()
    };
    for name in names {
        let Some(connector) = config.connectors.get(&name) else {
            continue;
        };
        let Some(spec) = config
            .mappings
            .get(&connector.mapping)
            .and_then(|m| m.push.as_ref())
        else {
            continue;
        };
        let done = deliver_target(store, connector, &config.settings.state_dir, spec, stop).await?;
        report.insert(name, done);
    }
    Ok(report)
}

async fn deliver_target(
    store: &Store,
    connector: &Connector,
    state_dir: &Path,
    spec: &PushSpec,
    stop: &StopRequest,
) -> Result<TargetDelivery, StoreError> {
    let suggestions = spec.suggestions.as_deref().unwrap_or(DEFAULT_SUGGESTIONS);
    let mut done = TargetDelivery::default();
    let mut writer: Option<Writer> = None;
    // Rows tried in this delivery are not tried again in it.
    let mut after = 0;
    while !stop.stops_here() {
        let due = store
            .due_outbox_for(&connector.name, after, PAGE, Utc::now())
            .await?;
        let Some(last) = due.last() else { break };
        after = last.id;
        let mut sent: Vec<(OutboxItem, Result<Sent, ConnectorError>)> =
            Vec::with_capacity(due.len());
        for item in due {
            if writer.is_none() {
                match open(connector, state_dir, spec).await {
                    Ok(w) => writer = Some(w),
                    Err(e) => {
                        sent.push((item, Err(e)));
                        continue;
                    }
                }
            }
            let w = writer.as_mut().expect("opened above");
            let result = send(w, &item, suggestions).await;
            // A broken connection is reopened for the next row.
            if matches!(result, Err(ConnectorError::Transient(_))) {
                writer = None;
            }
            sent.push((item, result));
        }
        // A ledger's lines are made durable once per page, before any of
        // them is recorded as delivered.
        if let Some(Writer::Ledger(ledger)) = &writer {
            if let Err(e) = ledger.sync() {
                let message = e.to_string();
                for (_, result) in sent.iter_mut() {
                    if result.is_ok() {
                        *result = Err(ConnectorError::Transient(message.clone()));
                    }
                }
            }
        }
        let mut settled = Vec::with_capacity(sent.len());
        for (item, result) in sent {
            if let Some(outcome) = settle(store, &item, result, &mut done).await? {
                settled.push(outcome);
            }
        }
        // Outcomes of one page in one store transaction.
        store.settle_outbox(&settled).await?;
    }
    Ok(done)
}

/// What one row's delivery came to: the outcome to record, or `None`
/// when it failed (recorded here, with its retry).
async fn settle(
    store: &Store,
    item: &OutboxItem,
    result: Result<Sent, ConnectorError>,
    done: &mut TargetDelivery,
) -> Result<Option<(i64, OutboxStatus, String)>, StoreError> {
    let (status, outcome) = match result {
        Ok(Sent::Written(n)) => {
            done.values_written += n;
            (OutboxStatus::Delivered, "written".to_owned())
        }
        Ok(Sent::Created) => {
            done.records_created += 1;
            (OutboxStatus::Delivered, "created".to_owned())
        }
        Ok(Sent::Already) => {
            done.already_there += 1;
            (OutboxStatus::Delivered, "already there".to_owned())
        }
        Ok(Sent::Suggested(n)) => {
            done.suggested += n;
            (OutboxStatus::Delivered, "suggested".to_owned())
        }
        Ok(Sent::Ledgered(n)) => {
            done.ledgered += n;
            (OutboxStatus::Delivered, "written to the ledger".to_owned())
        }
        Ok(Sent::Obsolete(why)) => {
            done.superseded += 1;
            (OutboxStatus::Superseded, why)
        }
        Err(e) => {
            fail(store, item, &e, done).await?;
            return Ok(None);
        }
    };
    Ok(Some((item.id, status, outcome)))
}

/// What a row's delivery came to.
enum Sent {
    /// This many values written into the record.
    Written(u64),
    /// A record created.
    Created,
    Already,
    Suggested(u64),
    Ledgered(u64),
    /// Not delivered, and never will be: why.
    Obsolete(String),
}

async fn open(
    connector: &Connector,
    state_dir: &Path,
    spec: &PushSpec,
) -> Result<Writer, ConnectorError> {
    match &connector.location {
        Location::Sql { .. } => Ok(Writer::Sql(SqlTarget::open(connector).await?)),
        Location::Csv { .. } | Location::Excel { .. } => Ledger::open(state_dir, &connector.name)
            .map(Writer::Ledger)
            .map_err(|e| ConnectorError::Config(e.to_string())),
        Location::Http { .. } => {
            let url = spec.url.as_deref().ok_or_else(|| {
                ConnectorError::Config(format!("{}: [push] needs url", connector.name))
            })?;
            HttpTarget::open(connector, url, &spec.method, spec.suggestions.as_deref())
                .map(Writer::Http)
        }
    }
}

async fn send(
    w: &mut Writer,
    item: &OutboxItem,
    suggestions: &str,
) -> Result<Sent, ConnectorError> {
    let push: RecordPush = serde_json::from_value(item.payload.clone()).map_err(|e| {
        ConnectorError::Data(format!(
            "outbox row {} has an unreadable payload: {e}",
            item.id
        ))
    })?;
    let n = push.writes.len() as u64;
    match w {
        Writer::Ledger(ledger) => {
            ledger
                .append(item.id, &item.operation, &push)
                .map_err(|e| ConnectorError::Transient(e.to_string()))?;
            Ok(Sent::Ledgered(n))
        }
        Writer::Http(_) if item.operation == CREATE => Err(ConnectorError::Config(format!(
            "{}: creating records over HTTP is not supported",
            item.target
        ))),
        Writer::Http(target) => {
            let key = item.target_key.as_deref().unwrap_or_default();
            if item.operation == SUGGEST {
                for suggestion in suggestions_of(item, &push) {
                    target.suggest(&suggestion).await?;
                }
                return Ok(Sent::Suggested(n));
            }
            Ok(outcome_of(
                target.update(key, &column_writes(&push)).await?,
                n,
            ))
        }
        Writer::Sql(target) if item.operation == CREATE => {
            let identity = push.key.first().ok_or_else(|| {
                ConnectorError::Data(format!(
                    "outbox row {} creates a record without its identity",
                    item.id
                ))
            })?;
            let values: Vec<(String, String)> = push
                .writes
                .iter()
                .map(|w| (w.column.clone(), w.new.clone()))
                .collect();
            Ok(if target.insert(identity, &values).await? {
                Sent::Created
            } else {
                Sent::Already
            })
        }
        Writer::Sql(target) if item.operation == SUGGEST => {
            for suggestion in suggestions_of(item, &push) {
                target.suggest(suggestions, &suggestion).await?;
            }
            Ok(Sent::Suggested(n))
        }
        Writer::Sql(target) => Ok(outcome_of(
            target.update(&push.key, &column_writes(&push)).await?,
            n,
        )),
    }
}

/// The columns of a planned update, each guarded by what we pulled.
fn column_writes(push: &RecordPush) -> Vec<ColumnWrite> {
    push.writes
        .iter()
        .map(|w| ColumnWrite {
            column: w.column.clone(),
            new: w.new.clone(),
            expect: w.old.clone().map_or(Expect::Empty, Expect::Value),
        })
        .collect()
}

/// The suggestions of a planned `suggest` row.
fn suggestions_of(item: &OutboxItem, push: &RecordPush) -> Vec<Suggestion> {
    push.writes
        .iter()
        .map(|write| Suggestion {
            outbox_id: item.id,
            record_key: push.record.clone(),
            field: write.field.clone(),
            column: write.column.clone(),
            current: write.old.clone(),
            suggested: write.new.clone(),
            source: write.from.clone().unwrap_or_default(),
            reason: format!("golden value ({})", write.policy.as_str()),
        })
        .collect()
}

/// What an update's outcome means for its outbox row (`n` values).
fn outcome_of(outcome: UpdateOutcome, n: u64) -> Sent {
    match outcome {
        UpdateOutcome::Applied => Sent::Written(n),
        UpdateOutcome::AlreadyDone => Sent::Already,
        UpdateOutcome::Changed { column, .. } => Sent::Obsolete(format!(
            "the department changed {column} since our last pull; planned again after the next one"
        )),
        UpdateOutcome::Missing => {
            Sent::Obsolete("the record no longer exists in the department's system".to_owned())
        }
    }
}

/// Records a failed attempt: transient errors back off exponentially with
/// jitter; configuration and data errors park the row at once.
async fn fail(
    store: &Store,
    item: &OutboxItem,
    error: &ConnectorError,
    done: &mut TargetDelivery,
) -> Result<(), StoreError> {
    let message = mask_digits_in_text(&error.to_string());
    tracing::warn!(target = %item.target, outbox = item.id, class = error.class(), "delivery failed: {message}");
    done.error.get_or_insert(message.clone());
    let park_after = match error {
        ConnectorError::Transient(_) => MAX_ATTEMPTS,
        ConnectorError::Config(_) | ConnectorError::Data(_) => 1,
    };
    let next = Utc::now() + backoff(item.attempts);
    match store
        .mark_failed(item.id, &message, next, park_after)
        .await?
    {
        OutboxStatus::Parked => done.parked += 1,
        _ => done.retrying += 1,
    }
    Ok(())
}

/// 30 s × 2^attempts, at most an hour, plus up to 20 % jitter so rows that
/// failed together do not all retry together.
fn backoff(attempts: i64) -> chrono::Duration {
    let base = Duration::from_secs(30).saturating_mul(1 << attempts.clamp(0, 7) as u32);
    let capped = base.min(Duration::from_secs(3600));
    let fraction = (crate::connector::http::sign::random_u64() % 1000) as f64 / 1000.0;
    let jitter = capped.mul_f64(fraction * 0.2);
    chrono::Duration::from_std(capped + jitter).unwrap_or(chrono::Duration::hours(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let secs = |a| backoff(a).num_seconds();
        assert!((30..=36).contains(&secs(0)));
        assert!((240..=288).contains(&secs(3)));
        assert!((3600..=4320).contains(&secs(12)));
    }
}
