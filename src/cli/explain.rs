//! `yici explain A B`: why two records (or two masters) are, or are not,
//! the same person: each comparison's level and weight, term-frequency
//! adjustments, the prior, the total, hard rules, stewards' rules and the
//! decision. Values are masked unless `--reveal`.

use anyhow::{bail, Result};
use serde::Serialize;

use super::{context, exit, Cli, Output};
use crate::matching::score::HardRule;
use crate::matching::{Explanation, Features, Field};
use crate::model::mask::{mask_digits_in_text, mask_id_number, mask_name, mask_phone};
use crate::store::{MatchRuleKind, RecordRef, Store};
use crate::sync::universe::{load_model, Universe};

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// A record (`source:key`) or a master ID.
    pub left: String,
    /// Another record or master ID.
    pub right: String,
    /// Show identity numbers, phones, names and dates unmasked (recorded
    /// in the audit history).
    #[arg(long)]
    pub reveal: bool,
}

#[derive(Debug, Serialize)]
struct ExplainOutput {
    left: String,
    right: String,
    explanation: Explanation,
    /// A steward's standing rule for the pair, if any.
    steward_rule: Option<String>,
    /// Whether the two are linked to the same master now.
    same_master: Option<bool>,
    values: Vec<(Field, String, String)>,
}

pub async fn run(cli: &Cli, args: &ExplainArgs, out: &Output) -> Result<i32> {
    let config = context::load_config(cli)?;
    let store = context::open_store(&config).await?;
    let universe = Universe::load(&store).await?;
    let model = load_model(&config.settings.matching)?;
    let scorer = universe.scorer(&config.settings.matching, &model)?;
    let left = records_of(&store, &universe, &args.left).await?;
    let right = records_of(&store, &universe, &args.right).await?;
    // For masters, the strongest pair between their records.
    let (a, b) = left
        .iter()
        .flat_map(|&a| right.iter().map(move |&b| (a, b)))
        .filter(|(a, b)| a != b)
        .max_by(|x, y| {
            let w = |(a, b): (u32, u32)| {
                scorer
                    .score(
                        &universe.features[a as usize],
                        &universe.features[b as usize],
                    )
                    .weight
            };
            w(*x).total_cmp(&w(*y))
        })
        .ok_or_else(|| {
            anyhow::anyhow!("`{}` and `{}` are the same record", args.left, args.right)
        })?;
    let (fa, fb) = (
        &universe.features[a as usize],
        &universe.features[b as usize],
    );
    let (ra, rb) = (&universe.refs[a as usize], &universe.refs[b as usize]);
    let explanation = scorer.explain(fa, fb);
    let steward_rule = store
        .match_rules_for(ra)
        .await?
        .into_iter()
        .rfind(|r| &r.left == rb || &r.right == rb)
        .map(|r| {
            let kind = match r.kind {
                MatchRuleKind::MustLink => "must-link",
                MatchRuleKind::CannotLink => "cannot-link",
            };
            format!("{kind} by {} ({})", r.actor, r.reason)
        });
    let (la, lb) = (
        store.master_of(&ra.source, &ra.source_key).await?,
        store.master_of(&rb.source, &rb.source_key).await?,
    );
    let same_master = match (la, lb) {
        (Some(x), Some(y)) => Some(x.master_id == y.master_id),
        _ => None,
    };
    if args.reveal {
        super::resident::record_reveal(
            &store,
            None,
            "yici explain",
            serde_json::json!({"records": [ra.to_string(), rb.to_string()]}),
        )
        .await?;
    }
    store.close().await;
    let values = Field::ALL
        .iter()
        .map(|&f| (f, shown(fa, f, args.reveal), shown(fb, f, args.reveal)))
        .collect();
    let output = ExplainOutput {
        left: shown_ref(ra, args.reveal),
        right: shown_ref(rb, args.reveal),
        explanation,
        steward_rule,
        same_master,
        values,
    };
    let t = config.settings.matching.settings.thresholds;
    out.emit(&output, || render(&output, t.upper, t.lower));
    Ok(exit::OK)
}

/// The active records behind an argument: one record, or a master's.
async fn records_of(store: &Store, universe: &Universe, arg: &str) -> Result<Vec<u32>> {
    if let Ok(r) = arg.parse::<RecordRef>() {
        return match universe.position(&r) {
            Some(i) => Ok(vec![i]),
            None => bail!("no active staged record `{}`", shown_ref(&r, false)),
        };
    }
    let links = store.links_of_master(arg).await?;
    let records: Vec<u32> = links
        .iter()
        .filter_map(|l| universe.position(&RecordRef::new(&l.source, &l.source_key)))
        .collect();
    if records.is_empty() {
        bail!("`{arg}` is neither a record (`source:key`) nor a master with active records");
    }
    Ok(records)
}

fn shown_ref(r: &RecordRef, reveal: bool) -> String {
    if reveal {
        r.to_string()
    } else {
        mask_digits_in_text(&r.to_string())
    }
}

/// One field's value as shown: masked unless revealing.
fn shown(f: &Features, field: Field, reveal: bool) -> String {
    let mask = |s: &str, m: fn(&str) -> String| if reveal { s.to_owned() } else { m(s) };
    let value = match field {
        Field::IdNumber => f.id.as_ref().map(|k| {
            let kind = k
                .other_document
                .as_ref()
                .map(|t| format!("{t}:"))
                .unwrap_or_default();
            format!("{kind}{}", mask(&k.number, mask_id_number))
        }),
        Field::Name => f.name.as_ref().map(|n| mask(&n.normalized, mask_name)),
        Field::FormerName => (!f.former_names.is_empty()).then(|| {
            f.former_names
                .iter()
                .map(|n| mask(&n.normalized, mask_name))
                .collect::<Vec<_>>()
                .join("、")
        }),
        Field::BirthDate => f.birth.map(|b| match (reveal, b.day) {
            (true, Some(d)) => format!("{:04}-{:02}-{d:02}", b.year, b.month),
            (true, None) => format!("{:04}-{:02}", b.year, b.month),
            (false, _) => format!("{:04}-**-**", b.year),
        }),
        Field::Sex => f.sex.map(|s| s.label_zh().to_owned()),
        Field::Phone => (!f.phones.is_empty()).then(|| {
            f.phones
                .iter()
                .map(|p| mask(p, mask_phone))
                .collect::<Vec<_>>()
                .join(",")
        }),
        Field::Address => f
            .addresses
            .first()
            .map(|a| mask(&a.key, mask_digits_in_text)),
    };
    value.unwrap_or_else(|| "—".to_owned())
}

fn render(o: &ExplainOutput, upper: f64, lower: f64) -> String {
    use std::fmt::Write;
    let e = &o.explanation;
    let mut s = String::new();
    let _ = writeln!(s, "{}  vs  {}", o.left, o.right);
    let _ = writeln!(
        s,
        "{:<12} {:<22} {:<22} {:<18} {:>8} {:>8}",
        "field", "left", "right", "level", "weight", "tf adj"
    );
    for (score, (_, left, right)) in e.fields.iter().zip(&o.values) {
        let level = score.level.map_or("missing", |l| l.as_str());
        let tf = if score.tf_adjustment == 0.0 {
            String::new()
        } else {
            format!("{:+.2}", score.tf_adjustment)
        };
        let _ = writeln!(
            s,
            "{:<12} {:<22} {:<22} {:<18} {:>+8.2} {:>8}",
            score.field.as_str(),
            left,
            right,
            level,
            score.weight,
            tf
        );
        if let Some(note) = score.note {
            let _ = writeln!(s, "{:<12} ({note})", "");
        }
    }
    let _ = writeln!(s, "{:<76} {:>+8.2}", "prior", e.prior);
    let _ = writeln!(s, "{:<76} {:>+8.2}", "total", e.total);
    if let Some(rule) = e.hard_rule {
        let _ = writeln!(s, "hard rule: {}", rule.describe());
    }
    if let Some(rule) = &o.steward_rule {
        let _ = writeln!(s, "steward: {rule}");
    }
    let _ = writeln!(
        s,
        "decision: {} (link at ≥ {upper}, review at ≥ {lower})",
        e.decision.as_str()
    );
    match o.same_master {
        Some(true) if e.hard_rule == Some(HardRule::PossibleTwins) => s.push_str(
            "now: linked to the same master (the only such candidate: no twin to tell apart)\n",
        ),
        Some(true) => s.push_str("now: linked to the same master\n"),
        Some(false) => s.push_str("now: linked to different masters\n"),
        None => s.push_str("now: not resolved yet (run `yici reconcile`)\n"),
    }
    s
}
