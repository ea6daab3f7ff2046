//! `yici show MASTER|IDNUMBER|SOURCE:KEY`: one resident as the district
//! knows them — the golden record and where each value came from, every
//! linked source record, department attributes, conflicts and pending
//! reviews. Identity numbers and phones are masked unless `--reveal`.

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

use super::resident::{
    china_date, find_masters, golden_field, golden_source, mask_json, provenance, record_reveal,
    shown, Target, FIELDS,
};
use super::{context, exit, Cli, Output};
use crate::store::{RecordRef, Store};

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// A master ID, an identity number, or a source record `source:key`.
    pub target: String,
    /// Show identity numbers and phones unmasked (recorded as an audit event).
    #[arg(long)]
    pub reveal: bool,
}

/// One golden field with its provenance.
#[derive(Debug, Serialize)]
struct FieldView {
    field: String,
    value: String,
    /// `source:key` of the record it came from.
    source: Option<String>,
    /// The source's business time of that record.
    source_updated_at: Option<String>,
    /// The survivorship rule that chose it.
    rule: Option<String>,
}

#[derive(Debug, Serialize)]
struct SeenView {
    value: String,
    seen: Vec<String>,
}

#[derive(Debug, Serialize)]
struct RecordView {
    record: String,
    status: String,
    decided_by: String,
    match_weight: Option<f64>,
    name: String,
    id_number: String,
}

#[derive(Debug, Serialize)]
struct ConflictView {
    field: String,
    kind: String,
    values: Vec<SeenView>,
}

#[derive(Debug, Serialize)]
struct ResidentView {
    master_id: String,
    golden_version: i64,
    fields: Vec<FieldView>,
    phones: Vec<SeenView>,
    names: Vec<SeenView>,
    current_addresses: Vec<SeenView>,
    registered_addresses: Vec<SeenView>,
    records: Vec<RecordView>,
    attributes: Value,
    conflicts: Vec<ConflictView>,
    pending_reviews: Vec<(i64, String, String, f64)>,
}

pub async fn run(cli: &Cli, args: &ShowArgs, out: &Output) -> Result<i32> {
    let config = context::load_config(cli)?;
    let store = context::open_store(&config).await?;
    let target = Target::parse(&args.target);
    let masters = find_masters(&store, &target).await?;
    if masters.is_empty() {
        store.close().await;
        let what = match &target {
            Target::IdNumber(n) => crate::model::mask::mask_id_number(n),
            _ => args.target.clone(),
        };
        eprintln!("error: no resident found for {what}");
        return Ok(exit::USAGE);
    }
    let mut views = Vec::with_capacity(masters.len());
    for id in &masters {
        views.push(view(&store, id, args.reveal).await?);
    }
    if args.reveal {
        for id in &masters {
            record_reveal(
                &store,
                Some(id),
                "yici show",
                serde_json::json!({"target": args.target}),
            )
            .await?;
        }
    }
    store.close().await;
    out.emit(&views, || {
        views.iter().map(render).collect::<Vec<_>>().join("\n")
    });
    Ok(exit::OK)
}

/// The values of a multi-valued golden list with where each was seen.
fn seen_views(golden: &Value, list: &str, field: &str, reveal: bool) -> Vec<SeenView> {
    golden[list]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| SeenView {
                    value: shown(field, &item["value"], reveal),
                    seen: item["seen"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|i| golden_source(golden, i))
                        .map(|(source, at)| match at {
                            Some(at) => format!("{source} @{}", china_date(&at)),
                            None => source,
                        })
                        .collect(),
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn view(store: &Store, id: &str, reveal: bool) -> Result<ResidentView> {
    let master = store
        .master(id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("master {id} vanished"))?;
    let golden = &master.golden;
    let record = &golden["record"];
    let fields = FIELDS
        .iter()
        .filter_map(|(key, _)| {
            let value = record.get(*key)?;
            let (source, source_updated_at, rule) = provenance(golden, key);
            Some(FieldView {
                field: golden_field(key).to_owned(),
                value: shown(key, value, reveal),
                source,
                source_updated_at,
                rule,
            })
        })
        .collect();
    let mut records = Vec::new();
    let mut refs = Vec::new();
    for link in store.links_of_master(id).await? {
        let staged = store.staged_record(&link.source, &link.source_key).await?;
        let r = RecordRef::new(link.source.clone(), link.source_key.clone());
        let canonical = staged.as_ref().map(|s| &s.canonical);
        records.push(RecordView {
            record: r.to_string(),
            status: staged
                .as_ref()
                .map_or("missing".to_owned(), |s| s.status.to_string()),
            decided_by: link.decided_by.to_string(),
            match_weight: link.match_weight.map(|w| (w * 100.0).round() / 100.0),
            name: canonical
                .and_then(|c| c.get("name"))
                .map(|v| shown("name", v, reveal))
                .unwrap_or_default(),
            id_number: canonical
                .and_then(|c| c.get("id_document"))
                .map(|v| shown("id_document", v, reveal))
                .unwrap_or_default(),
        });
        refs.push(r);
    }
    let conflicts = store
        .conflicts(Some(id), 0, 1000)
        .await?
        .into_iter()
        .map(|c| ConflictView {
            values: c.detail["values"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| SeenView {
                    value: shown(&c.field, &v["value"], reveal),
                    seen: v["seen"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect(),
                })
                .collect(),
            field: c.field,
            kind: c.kind,
        })
        .collect();
    let pending_reviews = store
        .pending_reviews_for(&refs)
        .await?
        .into_iter()
        .map(|r| {
            (
                r.id,
                r.left.to_string(),
                r.right.to_string(),
                r.match_weight,
            )
        })
        .collect();
    let attributes = if reveal {
        golden["attributes"].clone()
    } else {
        mask_json(&golden["attributes"])
    };
    Ok(ResidentView {
        master_id: master.id.clone(),
        golden_version: master.golden_version,
        fields,
        phones: seen_views(golden, "phones", "phones", reveal),
        names: seen_views(golden, "names", "name", reveal),
        current_addresses: seen_views(golden, "current_addresses", "address", reveal),
        registered_addresses: seen_views(golden, "registered_addresses", "address", reveal),
        records,
        attributes,
        conflicts,
        pending_reviews,
    })
}

fn render(v: &ResidentView) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "resident {} (golden version {})",
        v.master_id, v.golden_version
    );
    if v.fields.is_empty() {
        let _ = writeln!(s, "  no golden record yet: run `yici reconcile`");
    }
    for f in &v.fields {
        let label = FIELDS
            .iter()
            .find(|(k, _)| golden_field(k) == f.field)
            .map_or(f.field.as_str(), |(_, l)| l);
        let _ = writeln!(
            s,
            "  {:<22} {:<32} ← {} [{}]{}",
            label,
            f.value,
            f.source.as_deref().unwrap_or("?"),
            f.rule.as_deref().unwrap_or("?"),
            f.source_updated_at
                .as_deref()
                .map(|t| format!(" {}", china_date(t)))
                .unwrap_or_default()
        );
    }
    let list = |s: &mut String, title: &str, items: &[SeenView]| {
        if items.len() > 1 {
            let _ = writeln!(s, "  all {title}:");
            for i in items {
                let _ = writeln!(s, "    {:<30} seen in {}", i.value, i.seen.join(", "));
            }
        }
    };
    list(&mut s, "names", &v.names);
    list(&mut s, "phones", &v.phones);
    list(&mut s, "current addresses", &v.current_addresses);
    list(&mut s, "registered addresses", &v.registered_addresses);
    let _ = writeln!(s, "  linked records ({}):", v.records.len());
    for r in &v.records {
        let weight = r
            .match_weight
            .map(|w| format!(" {w:+.1}"))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "    {:<28} {:<8} {:<10} {:<8} {}{}",
            r.record, r.status, r.name, r.decided_by, r.id_number, weight
        );
    }
    if let Some(attrs) = v.attributes.as_object().filter(|a| !a.is_empty()) {
        let _ = writeln!(s, "  department attributes:");
        for (source, values) in attrs {
            let _ = writeln!(s, "    {source}: {values}");
        }
    }
    if !v.conflicts.is_empty() {
        let _ = writeln!(s, "  conflicts:");
        for c in &v.conflicts {
            let values: Vec<String> = c
                .values
                .iter()
                .map(|x| format!("{} ({})", x.value, x.seen.join(", ")))
                .collect();
            let _ = writeln!(s, "    {} {}: {}", c.field, c.kind, values.join(" vs "));
        }
    }
    if !v.pending_reviews.is_empty() {
        let _ = writeln!(s, "  pending reviews:");
        for (id, l, r, w) in &v.pending_reviews {
            let _ = writeln!(s, "    #{id} {l} ~ {r} ({w:+.2}); `yici review show {id}`");
        }
    }
    s
}
