//! `yici push [--dry-run] [NAME…]`: deliver what each department should
//! receive from the golden records (planned by `yici reconcile`, kept in
//! the outbox); `--dry-run` shows it, field by field, without writing.
//! `yici outbox list|retry`: the deliveries and the parked ones.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use super::lock::JobLock;
use super::resident::shown;
use super::{context, exit, Cli, Output};
use crate::config::Config;
use crate::push::deliver::{deliver, DeliveryReport};
use crate::push::{RecordPush, Targets};
use crate::stop::StopRequest;
use crate::store::{OutboxStatus, RunOutcome, Store};

#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// Targets to deliver to (default: every source with a `[push]` spec).
    pub names: Vec<String>,
    /// Show what would be written, per target and field; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: at most this many records listed per target.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

#[derive(Debug, clap::Args)]
pub struct OutboxArgs {
    #[command(subcommand)]
    pub action: OutboxAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum OutboxAction {
    /// Deliveries, newest first.
    List {
        /// `pending`, `delivered`, `parked` or `superseded`.
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        target: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Put parked deliveries back in the queue (all when no id is given).
    Retry { ids: Vec<i64> },
}

/// One planned field write, as shown.
#[derive(Debug, Serialize)]
struct PlannedWrite {
    record: String,
    operation: String,
    field: String,
    column: String,
    policy: String,
    old: String,
    new: String,
    from: String,
}

#[derive(Debug, Default, Serialize)]
struct TargetPlan {
    /// Field writes per policy.
    per_policy: BTreeMap<String, u64>,
    records: u64,
    writes: Vec<PlannedWrite>,
}

pub async fn run(cli: &Cli, args: &PushArgs, out: &Output) -> Result<i32> {
    let config = context::load_config(cli)?;
    let targets = Targets::from_config(&config);
    for name in &args.names {
        if targets.get(name).is_none() {
            let hint = crate::config::suggest::did_you_mean(name, targets.names());
            eprintln!(
                "error: `{name}` is not a push target (a source whose mapping has [push]){hint}"
            );
            return Ok(exit::USAGE);
        }
    }
    let store = context::open_store(&config).await?;
    let result = if args.dry_run {
        dry_run(&store, &targets, args).await.map(|plan| {
            out.emit(&plan, || render_plan(&plan));
            exit::OK
        })
    } else {
        let stop = super::interrupt::stop_on_ctrl_c();
        push(&config, &store, &args.names, &stop)
            .await
            .map(|report| {
                out.emit(&report, || render_delivery(&report));
                exit::of(stop.cut_short(), report.values().any(|t| t.error.is_some()))
            })
    };
    store.close().await;
    result
}

/// Delivers under the push lock and a `push` run; shared with `yici sync`,
/// `yici demo` and the daemon (whose `stop` may end it between pages).
pub async fn push(
    config: &Config,
    store: &Store,
    names: &[String],
    stop: &StopRequest,
) -> Result<DeliveryReport> {
    let lock = JobLock::acquire_push(store).await?;
    let run = store.begin_run("push").await?;
    let result = deliver(store, config, names, stop).await;
    store
        .finish_run(run, RunOutcome::of(&result, stop.cut_short()))
        .await?;
    lock.release(store).await?;
    Ok(result?)
}

async fn dry_run(
    store: &Store,
    targets: &Targets,
    args: &PushArgs,
) -> Result<BTreeMap<String, TargetPlan>> {
    let names: Vec<&str> = if args.names.is_empty() {
        targets.names().collect()
    } else {
        args.names.iter().map(String::as_str).collect()
    };
    let mut plans = BTreeMap::new();
    for name in names {
        let mut plan = TargetPlan::default();
        let mut after = 0;
        loop {
            let due = store
                .due_outbox_for(
                    name,
                    after,
                    1000,
                    chrono::Utc::now() + chrono::Duration::days(36500),
                )
                .await?;
            let Some(last) = due.last() else { break };
            after = last.id;
            for item in due {
                let Ok(push) = serde_json::from_value::<RecordPush>(item.payload) else {
                    continue;
                };
                plan.records += 1;
                for w in push.writes {
                    *plan
                        .per_policy
                        .entry(w.policy.as_str().to_owned())
                        .or_default() += 1;
                    if plan.records as usize <= args.limit {
                        let value = |v: &str| {
                            shown(&w.field, &serde_json::Value::String(v.to_owned()), false)
                        };
                        plan.writes.push(PlannedWrite {
                            record: push.record.clone(),
                            operation: item.operation.clone(),
                            field: w.field.clone(),
                            column: w.column,
                            policy: w.policy.as_str().to_owned(),
                            old: w.old.as_deref().map(value).unwrap_or_default(),
                            new: value(&w.new),
                            from: w.from.unwrap_or_default(),
                        });
                    }
                }
            }
        }
        plans.insert(name.to_owned(), plan);
    }
    Ok(plans)
}

fn render_plan(plans: &BTreeMap<String, TargetPlan>) -> String {
    let mut s = String::from("push plan (dry run: nothing is written)\n");
    for (target, plan) in plans {
        let counts: Vec<String> = plan
            .per_policy
            .iter()
            .map(|(p, n)| format!("{n} {p}"))
            .collect();
        s.push_str(&format!(
            "\n{target}: {} records, {}\n",
            plan.records,
            if counts.is_empty() {
                "nothing to deliver".to_owned()
            } else {
                counts.join(", ")
            }
        ));
        for w in &plan.writes {
            let old = if w.old.is_empty() { "∅" } else { &w.old };
            s.push_str(&format!(
                "  {:<28} {:<16} {:<10} {} → {}  [{}; from {}]\n",
                w.record, w.field, w.column, old, w.new, w.policy, w.from
            ));
        }
        if plan.records as usize
            > plan
                .writes
                .iter()
                .map(|w| &w.record)
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        {
            s.push_str("  … (--limit N shows more)\n");
        }
    }
    s
}

/// The delivery report as a department's office reads it.
pub fn render_delivery(report: &DeliveryReport) -> String {
    let mut s = String::new();
    if report.is_empty() {
        s.push_str("no push targets (add [push] to a mapping)\n");
    }
    for (target, d) in report {
        s.push_str(&format!(
            "{target}: {} values written, {} records created, {} to its ledger, {} suggestions, {} already there, {} superseded by the department's own edits, {} retrying, {} parked\n",
            d.values_written, d.records_created, d.ledgered, d.suggested, d.already_there, d.superseded, d.retrying, d.parked
        ));
        if let Some(e) = &d.error {
            s.push_str(&format!("  error: {e}\n"));
        }
    }
    s
}

pub async fn outbox(cli: &Cli, args: &OutboxArgs, out: &Output) -> Result<i32> {
    let config = context::load_config(cli)?;
    let store = context::open_store(&config).await?;
    let code = match &args.action {
        OutboxAction::List {
            status,
            target,
            limit,
        } => {
            let status = match status
                .as_deref()
                .map(str::parse::<OutboxStatus>)
                .transpose()
            {
                Ok(s) => s,
                Err(e) => {
                    store.close().await;
                    eprintln!("error: {e} (pending, delivered, parked, superseded)");
                    return Ok(exit::USAGE);
                }
            };
            let items = store
                .outbox_items(status, target.as_deref(), *limit)
                .await?;
            let counts = store.outbox_counts().await?;
            #[derive(Serialize)]
            struct Row {
                id: i64,
                target: String,
                record: Option<String>,
                operation: String,
                status: String,
                attempts: i64,
                outcome: Option<String>,
                last_error: Option<String>,
            }
            let rows: Vec<Row> = items
                .into_iter()
                .map(|i| Row {
                    id: i.id,
                    target: i.target,
                    record: i.target_key,
                    operation: i.operation,
                    status: i.status.to_string(),
                    attempts: i.attempts,
                    outcome: i.outcome,
                    last_error: i
                        .last_error
                        .as_deref()
                        .map(crate::model::mask::mask_digits_in_text),
                })
                .collect();
            out.emit(&rows, || {
                let mut s = String::new();
                for (target, op, status, n) in &counts {
                    s.push_str(&format!("{target} {op} {status}: {n}\n"));
                }
                for r in &rows {
                    s.push_str(&format!(
                        "#{:<6} {:<14} {:<20} {:<8} {:<10} tries {} {}\n",
                        r.id,
                        r.target,
                        r.record.as_deref().unwrap_or(""),
                        r.operation,
                        r.status,
                        r.attempts,
                        r.last_error
                            .as_deref()
                            .or(r.outcome.as_deref())
                            .unwrap_or("")
                    ));
                }
                s
            });
            exit::OK
        }
        OutboxAction::Retry { ids } => {
            let n = store.retry_outbox(ids).await?;
            out.emit(&serde_json::json!({"requeued": n}), || {
                format!("{n} parked deliveries back in the queue; `yici push` delivers them\n")
            });
            exit::OK
        }
    };
    store.close().await;
    Ok(code)
}
