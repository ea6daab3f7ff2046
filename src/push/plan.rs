//! What one department record should receive from its resident's golden
//! record, as outbox rows: an `update` (fill_missing and overwrite fields)
//! and a `suggest` (suggest fields), each naming the columns, the value the
//! department held when we last pulled (the guard against overwriting its
//! later edits), the new value and the record it came from.
//!
//! Planning is a pure function of (golden record, staged record): the same
//! inputs give the same rows with the same idempotency keys, so planning
//! again never queues a delivery twice, and a value we pushed that comes
//! back on the next pull agrees with the golden record and plans nothing.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::render::{agrees, has, render};
use crate::config::push::{Policy, PushSpec};
use crate::master::golden::Golden;
use crate::master::survivorship::GoldenField;
use crate::model::record::ResidentRecord;
use crate::store::{content_hash_parts, NewOutbox};

/// A push target: a source with a `[push]` spec.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub name: &'a str,
    /// The columns that identify a row (the mapping's key).
    pub key_columns: &'a [String],
    pub spec: &'a PushSpec,
}

/// A department's record as staged at the last pull.
#[derive(Debug, Clone, Copy)]
pub struct StagedRow<'a> {
    pub source_key: &'a str,
    pub content_hash: &'a str,
    /// Column → value as read.
    pub raw: &'a Map<String, Value>,
    pub record: &'a ResidentRecord,
}

/// One column to write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldWrite {
    pub field: String,
    pub column: String,
    pub policy: Policy,
    /// What the column held at our last pull (`None`: empty); the write
    /// goes ahead only if it still does.
    pub old: Option<String>,
    pub new: String,
    /// The record (`source:key`) the golden value came from.
    pub from: Option<String>,
}

/// The outbox payload: one record's writes of one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordPush {
    /// `source:key`.
    pub record: String,
    /// (column, value) identifying the row.
    pub key: Vec<(String, String)>,
    /// The staged content hash the plan was made on.
    pub base_hash: String,
    pub writes: Vec<FieldWrite>,
}

/// Every source that receives push-back, with what it needs for planning.
#[derive(Debug, Clone, Default)]
pub struct Targets(std::collections::BTreeMap<String, (Vec<String>, PushSpec)>);

impl Targets {
    /// The connectors whose mapping has a `[push]` spec.
    pub fn from_config(config: &crate::config::Config) -> Targets {
        Targets(
            config
                .connectors
                .iter()
                .filter(|(_, c)| c.enabled)
                .filter_map(|(name, c)| {
                    let mapping = config.mappings.get(&c.mapping)?;
                    let spec = mapping.push.clone()?;
                    Some((name.clone(), (mapping.key.clone(), spec)))
                })
                .collect(),
        )
    }

    /// The target `source`, if it receives push-back.
    pub fn get(&self, source: &str) -> Option<Target<'_>> {
        self.0
            .get_key_value(source)
            .map(|(name, (keys, spec))| Target {
                name,
                key_columns: keys,
                spec,
            })
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every target.
    pub fn all(&self) -> impl Iterator<Item = Target<'_>> {
        self.0.iter().map(|(name, (keys, spec))| Target {
            name,
            key_columns: keys,
            spec,
        })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

/// Outbox operation of fill_missing / overwrite writes.
pub const UPDATE: &str = "update";
/// Outbox operation of suggestions.
pub const SUGGEST: &str = "suggest";

/// A raw cell as text, the way the department holds it.
fn cell(raw: &Map<String, Value>, column: &str) -> Option<String> {
    match raw.get(column)? {
        Value::Null => None,
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// The outbox rows for one staged record of `target` (none, one or two),
/// with `master` the resident it is linked to.
pub fn plan(
    golden: &Golden,
    master: &str,
    target: Target<'_>,
    row: StagedRow<'_>,
) -> Vec<NewOutbox> {
    let mut updates = Vec::new();
    let mut suggestions = Vec::new();
    for (&field, spec) in &target.spec.fields {
        let Some(new) = render(field, &golden.record, spec) else {
            continue;
        };
        let wanted = match spec.policy {
            Policy::FillMissing => !has(field, row.record),
            Policy::Overwrite | Policy::Suggest => !agrees(field, row.record, &golden.record),
        };
        let old = cell(row.raw, &spec.column);
        if !wanted || old.as_deref() == Some(new.as_str()) {
            continue;
        }
        let write = FieldWrite {
            field: field.as_str().to_owned(),
            column: spec.column.clone(),
            policy: spec.policy,
            old,
            new,
            from: golden
                .provenance_source(field.as_str())
                .map(ToString::to_string),
        };
        match spec.policy {
            Policy::Suggest => suggestions.push(write),
            _ => updates.push(write),
        }
    }
    let key: Vec<(String, String)> = target
        .key_columns
        .iter()
        .map(|c| (c.clone(), cell(row.raw, c).unwrap_or_default()))
        .collect();
    [(UPDATE, updates), (SUGGEST, suggestions)]
        .into_iter()
        .filter(|(_, writes)| !writes.is_empty())
        .map(|(operation, writes)| {
            let payload = RecordPush {
                record: format!("{}:{}", target.name, row.source_key),
                key: key.clone(),
                base_hash: row.content_hash.to_owned(),
                writes,
            };
            // The key names what would be written and on what: a plan that
            // differs only in where the golden value came from is the same
            // delivery, never a second one.
            let what: Vec<String> = payload
                .writes
                .iter()
                .map(|w| format!("{}\u{1f}{:?}\u{1f}{}", w.column, w.old, w.new))
                .collect();
            let idempotency_key = content_hash_parts(&[
                target.name.as_bytes(),
                row.source_key.as_bytes(),
                operation.as_bytes(),
                row.content_hash.as_bytes(),
                what.join("\u{1e}").as_bytes(),
            ]);
            let payload = serde_json::to_value(&payload).expect("push payloads serialize");
            NewOutbox {
                target: target.name.to_owned(),
                master_id: master.to_owned(),
                target_key: Some(row.source_key.to_owned()),
                operation: operation.to_owned(),
                payload,
                idempotency_key,
            }
        })
        .collect()
}

/// Outbox operation creating a record.
pub const CREATE: &str = "create";

/// The record to create in `target` for the resident `master` when the
/// department lacks one and should hold them (`[push.create]`): every
/// pushed field's golden value, identified by the identity number.
pub fn plan_create(golden: &Golden, master: &str, target: Target<'_>) -> Option<NewOutbox> {
    let rule = target.spec.create.as_ref()?;
    let id = golden.record.valid_id()?;
    if golden.record.deceased == Some(true) || golden.record.moved_out == Some(true) {
        return None;
    }
    if !rule.address_contains.is_empty() {
        let addresses = [
            &golden.record.current_address,
            &golden.record.registered_address,
        ];
        let here = addresses.iter().flat_map(|a| a.as_ref()).any(|a| {
            rule.address_contains
                .iter()
                .any(|part| a.normalized().contains(part.as_str()))
        });
        if !here {
            return None;
        }
    }
    let id_column = &target.spec.fields.get(&GoldenField::IdNumber)?.column;
    let writes: Vec<FieldWrite> = target
        .spec
        .fields
        .iter()
        .filter_map(|(&field, spec)| {
            Some(FieldWrite {
                field: field.as_str().to_owned(),
                column: spec.column.clone(),
                policy: spec.policy,
                old: None,
                new: render(field, &golden.record, spec)?,
                from: golden
                    .provenance_source(field.as_str())
                    .map(ToString::to_string),
            })
        })
        .collect();
    let what: Vec<String> = writes
        .iter()
        .map(|w| format!("{}\u{1f}{}", w.column, w.new))
        .collect();
    let idempotency_key = content_hash_parts(&[
        target.name.as_bytes(),
        master.as_bytes(),
        CREATE.as_bytes(),
        what.join("\u{1e}").as_bytes(),
    ]);
    let payload = RecordPush {
        record: format!("{}:new", target.name),
        key: vec![(id_column.clone(), id.as_str().to_owned())],
        base_hash: String::new(),
        writes,
    };
    Some(NewOutbox {
        target: target.name.to_owned(),
        master_id: master.to_owned(),
        target_key: Some(new_record_key(master)),
        operation: CREATE.to_owned(),
        payload: serde_json::to_value(&payload).expect("push payloads serialize"),
        idempotency_key,
    })
}

/// The outbox's name for a record yet to be created for `master`.
pub fn new_record_key(master: &str) -> String {
    format!("new:{master}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::push::PushField;
    use crate::master::survivorship::GoldenField;
    use crate::model::phone::parse_phones;
    use std::collections::BTreeMap;

    fn spec(fields: &[(GoldenField, &str, Policy)]) -> PushSpec {
        PushSpec {
            suggestions: None,
            url: None,
            method: "PUT".to_owned(),
            create: None,
            fields: fields
                .iter()
                .map(|(f, c, p)| {
                    (
                        *f,
                        PushField {
                            column: (*c).to_owned(),
                            policy: *p,
                            values: BTreeMap::new(),
                            date_format: "%Y-%m-%d".to_owned(),
                        },
                    )
                })
                .collect(),
        }
    }

    fn golden() -> Golden {
        Golden {
            record: ResidentRecord {
                phones: parse_phones("13812345678"),
                current_address: Some(crate::model::address::Address::parse("中山路1号")),
                ..ResidentRecord::default()
            },
            ..Golden::default()
        }
    }

    fn raw(pairs: &[(&str, Value)]) -> Map<String, Value> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn fills_what_is_missing_and_suggests_what_differs() {
        let s = spec(&[
            (GoldenField::Phones, "lxdh", Policy::FillMissing),
            (GoldenField::CurrentAddress, "xzz", Policy::Suggest),
        ]);
        let keys = ["rkid".to_owned()];
        let target = Target {
            name: "gov",
            key_columns: &keys,
            spec: &s,
        };
        let record = ResidentRecord {
            current_address: Some(crate::model::address::Address::parse("解放路9号")),
            ..ResidentRecord::default()
        };
        let cells = raw(&[
            ("rkid", Value::from(7)),
            ("lxdh", Value::from("无")),
            ("xzz", Value::from("解放路9号")),
        ]);
        let row = StagedRow {
            source_key: "7",
            content_hash: "h1",
            raw: &cells,
            record: &record,
        };
        let rows = plan(&golden(), "M", target, row);
        assert_eq!(rows.len(), 2);
        let update: RecordPush = serde_json::from_value(rows[0].payload.clone()).unwrap();
        assert_eq!(rows[0].operation, UPDATE);
        assert_eq!(update.key, vec![("rkid".to_owned(), "7".to_owned())]);
        assert_eq!(
            update.writes[0].old.as_deref(),
            Some("无"),
            "garbage is replaced only if still there"
        );
        assert_eq!(update.writes[0].new, "13812345678");
        assert_eq!(rows[1].operation, SUGGEST);
        // The same inputs plan the same rows, with the same keys; a value
        // now credited to another record is still the same delivery.
        assert_eq!(plan(&golden(), "M", target, row), rows);
        let mut elsewhere = golden();
        elsewhere.records = vec![crate::master::golden::GoldenSource {
            source: "hr".to_owned(),
            key: "9".to_owned(),
            at: None,
        }];
        elsewhere.provenance.insert(
            "phones".to_owned(),
            crate::master::golden::Provenance {
                record: 0,
                rule: "most_recent".to_owned(),
            },
        );
        let again = plan(&elsewhere, "M", target, row);
        assert_ne!(again[0].payload, rows[0].payload);
        assert_eq!(again[0].idempotency_key, rows[0].idempotency_key);

        // Once the department holds the values, nothing is planned.
        let done = ResidentRecord {
            phones: parse_phones("13812345678"),
            current_address: Some(crate::model::address::Address::parse("中山路1号")),
            ..ResidentRecord::default()
        };
        let cells = raw(&[
            ("rkid", Value::from(7)),
            ("lxdh", Value::from("13812345678")),
        ]);
        let row = StagedRow {
            source_key: "7",
            content_hash: "h2",
            raw: &cells,
            record: &done,
        };
        assert!(plan(&golden(), "M", target, row).is_empty());
    }

    #[test]
    fn overwrite_only_where_it_differs() {
        let s = spec(&[(GoldenField::Phones, "dh", Policy::Overwrite)]);
        let keys = ["id".to_owned()];
        let target = Target {
            name: "hr",
            key_columns: &keys,
            spec: &s,
        };
        let other = ResidentRecord {
            phones: parse_phones("13900000000"),
            ..ResidentRecord::default()
        };
        let cells = raw(&[("id", Value::from("a")), ("dh", Value::from("13900000000"))]);
        let row = StagedRow {
            source_key: "a",
            content_hash: "h",
            raw: &cells,
            record: &other,
        };
        let rows = plan(&golden(), "M", target, row);
        let push: RecordPush = serde_json::from_value(rows[0].payload.clone()).unwrap();
        assert_eq!(push.writes[0].old.as_deref(), Some("13900000000"));
        let with_both = ResidentRecord {
            phones: parse_phones("13900000000;13812345678"),
            ..ResidentRecord::default()
        };
        let row = StagedRow {
            record: &with_both,
            ..row
        };
        assert!(
            plan(&golden(), "M", target, row).is_empty(),
            "it already lists the golden phone"
        );
    }
}
