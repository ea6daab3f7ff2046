//! `yici review list|show|accept|reject`: the data steward's queue of pairs
//! the matcher was unsure about.

use anyhow::Result;
use serde::Serialize;

use super::resident::{record_reveal, record_rows};
use super::{context, exit, steward, Cli, Output};
use crate::store::{RecordRef, Review, ReviewDecision, Store};
use crate::sync::steward::StewardCommand;

#[derive(Debug, clap::Args)]
pub struct ReviewArgs {
    #[command(subcommand)]
    pub action: ReviewAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum ReviewAction {
    /// Pending pairs, oldest first, with their match weight.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// One pair side by side with the comparison levels and weights.
    Show {
        id: i64,
        /// Show identity numbers and phones unmasked (recorded as an audit event).
        #[arg(long)]
        reveal: bool,
    },
    /// Same person: link the two records (their masters merge).
    Accept(Verdict),
    /// Different people: keep them apart from now on.
    Reject(Verdict),
}

#[derive(Debug, clap::Args)]
pub struct Verdict {
    pub id: i64,
    /// The steward's name.
    #[arg(long, value_name = "NAME")]
    pub by: String,
    /// Why (recorded in the audit history).
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize)]
struct ReviewItem {
    id: i64,
    left: String,
    right: String,
    match_weight: f64,
    /// Left and right masters now.
    left_master: Option<String>,
    right_master: Option<String>,
    created_at: String,
}

#[derive(Debug, Serialize)]
struct ReviewDetail {
    #[serde(flatten)]
    item: ReviewItem,
    status: String,
    /// (field, left value, right value), masked unless revealed.
    values: Vec<(String, String, String)>,
    explanation: serde_json::Value,
}

pub async fn run(cli: &Cli, args: &ReviewArgs, out: &Output) -> Result<i32> {
    match &args.action {
        ReviewAction::List { limit } => list(cli, *limit, out).await,
        ReviewAction::Show { id, reveal } => show(cli, *id, *reveal, out).await,
        ReviewAction::Accept(v) => decide(cli, v, ReviewDecision::Accept, out).await,
        ReviewAction::Reject(v) => decide(cli, v, ReviewDecision::Reject, out).await,
    }
}

async fn decide(cli: &Cli, v: &Verdict, decision: ReviewDecision, out: &Output) -> Result<i32> {
    let job = match decision {
        ReviewDecision::Accept => "review accept",
        ReviewDecision::Reject => "review reject",
    };
    let command = StewardCommand::Review { id: v.id, decision };
    steward::run(cli, command, job, &v.by, v.reason.as_deref(), out).await
}

async fn item(store: &Store, r: &Review) -> Result<ReviewItem> {
    let master = |x: &RecordRef| {
        let x = x.clone();
        async move {
            store
                .master_of(&x.source, &x.source_key)
                .await
                .map(|l| l.map(|l| l.master_id))
        }
    };
    Ok(ReviewItem {
        id: r.id,
        left: r.left.to_string(),
        right: r.right.to_string(),
        match_weight: (r.match_weight * 100.0).round() / 100.0,
        left_master: master(&r.left).await?,
        right_master: master(&r.right).await?,
        created_at: crate::store::timestamp(r.created_at),
    })
}

async fn list(cli: &Cli, limit: u64, out: &Output) -> Result<i32> {
    let config = context::load_config(cli)?;
    let store = context::open_store(&config).await?;
    let pending = store.pending_reviews(limit).await?;
    let mut items = Vec::with_capacity(pending.len());
    for r in &pending {
        items.push(item(&store, r).await?);
    }
    let total = store.summary().await?.pending_reviews;
    store.close().await;
    out.emit(&items, || {
        let mut text = format!(
            "{total} pairs await review{}\n",
            if total as usize > items.len() {
                format!(" (oldest {} shown)", items.len())
            } else {
                String::new()
            }
        );
        if !items.is_empty() {
            text.push_str(&format!(
                "{:>6}  {:>7}  {:<28} {:<28}\n",
                "id", "weight", "left", "right"
            ));
        }
        for i in &items {
            text.push_str(&format!(
                "{:>6}  {:>+7.2}  {:<28} {:<28}\n",
                i.id, i.match_weight, i.left, i.right
            ));
        }
        if !items.is_empty() {
            text.push_str(
                "`yici review show ID` compares a pair; accept or reject it with --by NAME.\n",
            );
        }
        text
    });
    Ok(exit::OK)
}

async fn show(cli: &Cli, id: i64, reveal: bool, out: &Output) -> Result<i32> {
    let config = context::load_config(cli)?;
    let store = context::open_store(&config).await?;
    let Some(review) = store.review(id).await? else {
        store.close().await;
        eprintln!("error: no review {id} (`yici review list` shows the pending ones)");
        return Ok(exit::USAGE);
    };
    let canonical = |r: &RecordRef| {
        let r = r.clone();
        let store = &store;
        async move {
            Ok::<_, anyhow::Error>(
                store
                    .staged_record(&r.source, &r.source_key)
                    .await?
                    .map(|s| s.canonical)
                    .unwrap_or(serde_json::Value::Null),
            )
        }
    };
    let (left, right) = (
        canonical(&review.left).await?,
        canonical(&review.right).await?,
    );
    let (lrows, rrows) = (record_rows(&left, reveal), record_rows(&right, reveal));
    let mut values: Vec<(String, String, String)> = Vec::new();
    for (label, _) in super::resident::FIELDS.iter().map(|(k, l)| (*l, *k)) {
        let l = lrows
            .iter()
            .find(|(x, _)| *x == label)
            .map(|(_, v)| v.clone());
        let r = rrows
            .iter()
            .find(|(x, _)| *x == label)
            .map(|(_, v)| v.clone());
        if l.is_some() || r.is_some() {
            values.push((
                label.to_owned(),
                l.unwrap_or_default(),
                r.unwrap_or_default(),
            ));
        }
    }
    if reveal {
        record_reveal(
            &store,
            None,
            "yici review show",
            serde_json::json!({"review": id, "records": [review.left.to_string(), review.right.to_string()]}),
        )
        .await?;
    }
    let detail = ReviewDetail {
        item: item(&store, &review).await?,
        status: review.status.to_string(),
        values,
        explanation: review.explanation.clone(),
    };
    store.close().await;
    out.emit(&detail, || render(&detail));
    Ok(exit::OK)
}

fn render(d: &ReviewDetail) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let i = &d.item;
    let _ = writeln!(
        s,
        "review {} ({}): match weight {:+.2}",
        i.id, d.status, i.match_weight
    );
    let _ = writeln!(s, "{:<22} {:<30} {:<30}", "", i.left, i.right);
    let _ = writeln!(
        s,
        "{:<22} {:<30} {:<30}",
        "master",
        i.left_master.as_deref().unwrap_or("-"),
        i.right_master.as_deref().unwrap_or("-")
    );
    for (label, l, r) in &d.values {
        let _ = writeln!(s, "{label:<22} {l:<30} {r:<30}");
    }
    if let Some(fields) = d.explanation.get("fields").and_then(|f| f.as_array()) {
        let _ = writeln!(
            s,
            "\n{:<14} {:<18} {:>8} {:>8}",
            "comparison", "level", "weight", "tf adj"
        );
        for f in fields {
            let level = f.get("level").and_then(|l| l.as_str()).unwrap_or("missing");
            let num = |k: &str| f.get(k).and_then(|v| v.as_f64()).unwrap_or(0.0);
            let _ = writeln!(
                s,
                "{:<14} {:<18} {:>+8.2} {:>8}",
                f.get("field").and_then(|v| v.as_str()).unwrap_or("?"),
                level,
                num("weight"),
                if num("tf_adjustment") == 0.0 {
                    String::new()
                } else {
                    format!("{:+.2}", num("tf_adjustment"))
                }
            );
        }
        let total = |k: &str| d.explanation.get(k).and_then(|v| v.as_f64()).unwrap_or(0.0);
        let _ = writeln!(s, "{:<33} {:>+8.2}", "prior", total("prior"));
        let _ = writeln!(s, "{:<33} {:>+8.2}", "total", total("total"));
        if let Some(rule) = d.explanation.get("hard_rule").and_then(|v| v.as_str()) {
            let _ = writeln!(s, "hard rule: {rule}");
        }
    }
    let _ = writeln!(
        s,
        "\n`yici review accept {0} --by NAME` links them; `yici review reject {0} --by NAME` keeps them apart.",
        i.id
    );
    s
}
