//! `yici conflicts`: residents whose records contradict each other — two
//! valid identity numbers, two birth dates, both sexes, a death recorded in
//! one department and later activity in another — with the values and the
//! records that hold them. Conflicts are data a steward resolves at the
//! source, not noise to average away.

use anyhow::Result;
use serde::Serialize;

use super::resident::{record_reveal, shown};
use super::{context, exit, Cli, Output};

#[derive(Debug, clap::Args)]
pub struct ConflictsArgs {
    /// Only this kind (`different_id_numbers`, `different_birth_dates`,
    /// `different_sex`, `deceased_but_active`).
    #[arg(long)]
    pub kind: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Show identity numbers and phones unmasked (recorded as an audit event).
    #[arg(long)]
    pub reveal: bool,
}

#[derive(Debug, Serialize)]
struct ConflictView {
    id: i64,
    master_id: String,
    field: String,
    kind: String,
    values: Vec<ConflictValue>,
}

/// One of the values in conflict and the records (`source:key`) holding it.
#[derive(Debug, Serialize)]
struct ConflictValue {
    value: String,
    seen: Vec<String>,
}

/// Conflicts read per page.
const PAGE: i64 = 1000;

pub async fn run(cli: &Cli, args: &ConflictsArgs, out: &Output) -> Result<i32> {
    let config = context::load_config(cli)?;
    let store = context::open_store(&config).await?;
    let mut views = Vec::new();
    let mut total = 0usize;
    let mut after = 0;
    loop {
        let page = store.conflicts(None, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for c in page {
            if args.kind.as_deref().is_some_and(|k| k != c.kind) {
                continue;
            }
            total += 1;
            if views.len() < args.limit {
                let values = c.detail["values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|v| ConflictValue {
                        value: shown(&c.field, &v["value"], args.reveal),
                        seen: v["seen"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|x| x.as_str().map(str::to_owned))
                            .collect(),
                    })
                    .collect();
                views.push(ConflictView {
                    id: c.id,
                    master_id: c.master_id,
                    field: c.field,
                    kind: c.kind,
                    values,
                });
            }
        }
    }
    if args.reveal && !views.is_empty() {
        let masters: Vec<&str> = views.iter().map(|v| v.master_id.as_str()).collect();
        record_reveal(
            &store,
            None,
            "yici conflicts",
            serde_json::json!({"masters": masters}),
        )
        .await?;
    }
    store.close().await;
    out.emit(&views, || {
        let mut s = format!(
            "{total} conflicts{}\n",
            if total > views.len() {
                format!(" ({} shown)", views.len())
            } else {
                String::new()
            }
        );
        for v in &views {
            s.push_str(&format!("{} {} {}\n", v.master_id, v.kind, v.field));
            for value in &v.values {
                s.push_str(&format!(
                    "    {:<24} {}\n",
                    value.value,
                    value.seen.join(", ")
                ));
            }
        }
        if total > 0 {
            s.push_str("`yici show MASTER` shows a resident with all linked records.\n");
        }
        s
    });
    Ok(exit::OK)
}
