//! `yici quarantine`: the records that could not be used, and why.

use anyhow::Result;
use serde::Serialize;

use super::{context, exit, Cli, Output};
use crate::model::{mask_digits_in_text, mask_id_number};

#[derive(Debug, clap::Args)]
pub struct QuarantineArgs {
    /// Only this source.
    pub name: Option<String>,
    /// At most this many records.
    #[arg(long, default_value_t = 50)]
    pub limit: u64,
}

/// A quarantined record as shown to an operator: personal numbers masked.
#[derive(Debug, Serialize)]
struct Shown {
    source: String,
    source_key: String,
    reasons: Vec<String>,
    raw: serde_json::Map<String, serde_json::Value>,
    since: String,
}

pub async fn run(cli: &Cli, args: &QuarantineArgs, out: &Output) -> Result<i32> {
    let config = context::load_config(cli)?;
    if let Some(name) = &args.name {
        context::select(&config, std::slice::from_ref(name))?;
    }
    let store = context::open_store(&config).await?;
    let records = store
        .list_quarantine(args.name.as_deref(), args.limit)
        .await?;
    store.close().await;
    let shown: Vec<Shown> = records
        .into_iter()
        .map(|r| Shown {
            source: r.source,
            source_key: mask_key(&r.source_key),
            reasons: r.reasons.iter().map(|x| mask_digits_in_text(x)).collect(),
            raw: mask_values(&r.raw),
            since: r.created_at.format("%Y-%m-%d %H:%M").to_string(),
        })
        .collect();
    out.emit(&shown, || {
        if shown.is_empty() {
            return "No records in quarantine.\n".to_string();
        }
        let mut text = format!(
            "{} record(s) in quarantine (numbers masked):\n",
            shown.len()
        );
        for s in &shown {
            text.push_str(&format!(
                "{} {}  (since {})\n",
                s.source, s.source_key, s.since
            ));
            for reason in &s.reasons {
                text.push_str(&format!("    - {reason}\n"));
            }
        }
        text
    });
    Ok(exit::OK)
}

/// Keys are shown as they are, unless the source keys its rows by identity
/// number.
fn mask_key(key: &str) -> String {
    let id_like = matches!(key.len(), 15 | 18)
        && key
            .char_indices()
            .all(|(i, c)| c.is_ascii_digit() || (i == key.len() - 1 && matches!(c, 'X' | 'x')));
    if id_like {
        mask_id_number(key)
    } else {
        key.to_string()
    }
}

/// Every text value with its long digit runs masked.
fn mask_values(raw: &serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    let Some(map) = raw.as_object() else {
        return serde_json::Map::new();
    };
    map.iter()
        .map(|(k, v)| {
            let masked = match v {
                serde_json::Value::String(s) => serde_json::Value::String(mask_digits_in_text(s)),
                serde_json::Value::Number(n) => {
                    serde_json::Value::String(mask_digits_in_text(&n.to_string()))
                }
                other => other.clone(),
            };
            (k.clone(), masked)
        })
        .collect()
}
