//! `yici history MASTER`: a resident's whole story — every event of the
//! master and of the masters merged into it, oldest first: created, linked,
//! merged, split, golden versions with what changed and why, steward
//! decisions with their reasons, reveals.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

use super::resident::{find_masters, golden_changes, mask_json, record_reveal, Target};
use super::{context, exit, Cli, Output};

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// A master ID (a merged one is followed to its survivor), an identity
    /// number or a source record `source:key`.
    pub target: String,
    /// Show identity numbers and phones unmasked (recorded as an audit event).
    #[arg(long)]
    pub reveal: bool,
}

#[derive(Debug, Serialize)]
struct EventView {
    id: i64,
    at: String,
    master_id: Option<String>,
    kind: String,
    actor: String,
    reason: Option<String>,
    run_id: Option<i64>,
    detail: Value,
}

#[derive(Debug, Serialize)]
struct HistoryView {
    master_id: String,
    /// Masters merged into it, directly or not.
    absorbed: Vec<String>,
    golden_versions: usize,
    events: Vec<EventView>,
}

pub async fn run(cli: &Cli, args: &HistoryArgs, out: &Output) -> Result<i32> {
    let config = context::load_config(cli)?;
    let store = context::open_store(&config).await?;
    let masters = find_masters(&store, &Target::parse(&args.target)).await?;
    let Some(master) = masters.first().cloned() else {
        store.close().await;
        eprintln!(
            "error: no resident found for {}",
            crate::model::mask::mask_digits_in_text(&args.target)
        );
        return Ok(exit::USAGE);
    };
    let absorbed = store.absorbed_masters(&master).await?;
    let mut events = Vec::new();
    for id in std::iter::once(&master).chain(&absorbed) {
        events.extend(store.events_for_master(id).await?);
    }
    events.sort_by_key(|e| e.id);
    // Every golden version of these masters, to show what each changed.
    let mut versions: BTreeMap<(String, i64), Value> = BTreeMap::new();
    for id in std::iter::once(&master).chain(&absorbed) {
        for v in store.golden_versions(id).await? {
            versions.insert((id.clone(), v.version), v.golden);
        }
    }
    let golden_versions = versions.keys().filter(|(id, _)| *id == master).count();
    if args.reveal {
        record_reveal(
            &store,
            Some(&master),
            "yici history",
            serde_json::json!({"target": args.target}),
        )
        .await?;
    }
    store.close().await;
    let view = HistoryView {
        master_id: master,
        absorbed,
        golden_versions,
        events: events
            .into_iter()
            .map(|e| {
                // A golden event shows what its version changed, read from
                // the versions themselves.
                let detail = match (&e.master_id, e.detail["version"].as_i64()) {
                    (Some(id), Some(v)) if e.kind == "golden" => {
                        let empty = Value::Null;
                        let version = |n: i64| versions.get(&(id.clone(), n)).unwrap_or(&empty);
                        serde_json::json!({
                            "version": v,
                            "records": e.detail["records"],
                            "changes": golden_changes(version(v - 1), version(v), args.reveal),
                        })
                    }
                    _ if args.reveal => e.detail,
                    _ => mask_json(&e.detail),
                };
                EventView {
                    id: e.id,
                    at: crate::store::timestamp(e.created_at),
                    master_id: e.master_id,
                    kind: e.kind,
                    actor: e.actor,
                    reason: e.reason,
                    run_id: e.run_id.map(|r| r.0),
                    detail,
                }
            })
            .collect(),
    };
    out.emit(&view, || render(&view));
    Ok(exit::OK)
}

/// One line per golden field change: `phones: a → b (health:H1, most_recent)`.
fn change_lines(detail: &Value) -> Vec<String> {
    detail["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let value = |v: &Value| v.as_str().unwrap_or("∅").to_owned();
            format!(
                "{}: {} → {} ({}, {})",
                c["field"].as_str().unwrap_or("?"),
                value(&c["from"]),
                value(&c["to"]),
                c["source"].as_str().unwrap_or("-"),
                c["rule"].as_str().unwrap_or("-")
            )
        })
        .collect()
}

fn render(v: &HistoryView) -> String {
    use std::fmt::Write;
    let mut s = format!(
        "history of resident {} ({} golden versions{})\n",
        v.master_id,
        v.golden_versions,
        if v.absorbed.is_empty() {
            String::new()
        } else {
            format!("; absorbed {}", v.absorbed.join(", "))
        }
    );
    for e in &v.events {
        let who = match &e.reason {
            Some(reason) => format!("{} — {reason}", e.actor),
            None => e.actor.clone(),
        };
        let run = e.run_id.map(|r| format!(" run {r}")).unwrap_or_default();
        let here = match &e.master_id {
            Some(m) if *m != v.master_id => format!(" [{m}]"),
            _ => String::new(),
        };
        let _ = writeln!(s, "{} {:<16} {who}{run}{here}", &e.at[..19], e.kind);
        if e.kind == "golden" {
            let _ = writeln!(s, "    version {}", e.detail["version"]);
            for line in change_lines(&e.detail) {
                let _ = writeln!(s, "    {line}");
            }
        } else if e.detail.as_object().is_some_and(|d| !d.is_empty()) {
            let _ = writeln!(s, "    {}", e.detail);
        }
    }
    s
}
