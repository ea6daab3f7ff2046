//! Showing a resident's values to a person: canonical and golden fields as
//! text, identity numbers and phones masked unless revealed, and every
//! reveal recorded as an audit event.

use serde_json::Value;

use crate::model::id_number::ValidIdNumber;
use crate::model::mask::{mask_digits_in_text, mask_id_number, mask_phone};
use crate::store::{MasterStatus, NewEvent, RecordRef, Store};

/// The canonical fields in the order people read them (JSON key, label).
pub const FIELDS: [(&str, &str); 13] = [
    ("name", "name 姓名"),
    ("id_document", "id number 身份证号"),
    ("sex", "sex 性别"),
    ("birth_date", "birth 出生日期"),
    ("ethnicity", "ethnicity 民族"),
    ("phones", "phones 电话"),
    ("registered_address", "registered 户籍地址"),
    ("current_address", "address 现住址"),
    ("household_id", "household 户号"),
    ("relation_to_head", "relation 与户主关系"),
    ("former_names", "former names 曾用名"),
    ("deceased", "deceased 死亡"),
    ("moved_out", "moved out 迁出"),
];

/// Whether a field holds identity numbers or phones (masked by default).
fn kind_of(field: &str) -> Option<Sensitive> {
    match field {
        "id_document" | "id_number" | "id_numbers" | "id" => Some(Sensitive::Id),
        "phones" | "phone" => Some(Sensitive::Phone),
        _ => None,
    }
}

#[derive(Clone, Copy)]
enum Sensitive {
    Id,
    Phone,
}

/// One value of `field` as text; masked unless `reveal`.
pub fn shown(field: &str, value: &Value, reveal: bool) -> String {
    let text = plain(value);
    if reveal {
        return text;
    }
    match kind_of(field) {
        Some(Sensitive::Id) => match value {
            Value::Array(items) => items
                .iter()
                .map(|v| mask_id_number(&plain(v)))
                .collect::<Vec<_>>()
                .join(", "),
            _ => mask_id_number(&text),
        },
        Some(Sensitive::Phone) => match value {
            Value::Array(items) => items
                .iter()
                .map(|v| mask_phone(&plain(v)))
                .collect::<Vec<_>>()
                .join(", "),
            _ => mask_phone(&text),
        },
        // Free text (an address, a note) may carry a number typed in.
        None => mask_digits_in_text(&text),
    }
}

/// A JSON value as a person reads it: strings bare, an identity document
/// as its number, a code table entry as its name, lists joined.
fn plain(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(true) => "yes".to_owned(),
        Value::Bool(false) => "no".to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => items.iter().map(plain).collect::<Vec<_>>().join(", "),
        Value::Object(map) => {
            // An identity document: its number, or the text as typed.
            if let Some(number) = map.get("number").or_else(|| map.get("raw")) {
                plain(number)
            } else if let Some(name) = map.get("name") {
                plain(name)
            } else {
                value.to_string()
            }
        }
    }
}

/// A stored instant (RFC 3339) as the date it was in China, where every
/// department system keeps its business times.
pub fn china_date(text: &str) -> String {
    let cst = chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&cst).format("%Y-%m-%d").to_string())
        .unwrap_or_else(|_| text.chars().take(10).collect())
}

/// A stored instant (RFC 3339) as China's wall-clock time, to the second.
pub fn china_date_time(text: &str) -> String {
    let cst = chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| {
            t.with_timezone(&cst)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|_| text.to_owned())
}

/// The fields of a canonical record (JSON) that are present, as
/// (label, text) rows.
pub fn record_rows(record: &Value, reveal: bool) -> Vec<(&'static str, String)> {
    FIELDS
        .iter()
        .filter_map(|(key, label)| {
            let v = record.get(*key)?;
            Some((*label, shown(key, v, reveal)))
        })
        .collect()
}

/// Records that `actor` saw unmasked values, and why.
pub async fn record_reveal(
    store: &Store,
    master: Option<&str>,
    command: &str,
    detail: Value,
) -> anyhow::Result<()> {
    let actor = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
    store
        .append_event(&NewEvent {
            master_id: master.map(str::to_owned),
            kind: "revealed".to_owned(),
            actor,
            reason: Some(format!("{command} --reveal")),
            detail,
            run_id: None,
        })
        .await?;
    Ok(())
}

/// Masks every identity number and phone inside a JSON document (runs of
/// seven or more digits in any string), for history and conflict details.
pub fn mask_json(value: &Value) -> Value {
    match value {
        // Master ids are not personal data, and their hex digits are not a number.
        Value::String(s) if uuid::Uuid::try_parse(s).is_ok() => value.clone(),
        Value::String(s) => Value::String(mask_digits_in_text(s)),
        Value::Array(items) => Value::Array(items.iter().map(mask_json).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), mask_json(v))).collect())
        }
        other => other.clone(),
    }
}

/// A golden record's field name for a canonical record key.
pub fn golden_field(key: &str) -> &str {
    crate::master::survivorship::GoldenField::name_of_record_key(key)
}

/// One of a golden record's source records, by its index in `records`:
/// `source:key` and the source's business time.
pub fn golden_source(golden: &Value, index: &Value) -> Option<(String, Option<String>)> {
    let r = &golden["records"][index.as_u64()? as usize];
    Some((
        format!("{}:{}", r["source"].as_str()?, r["key"].as_str()?),
        r["at"].as_str().map(str::to_owned),
    ))
}

/// Where a golden field's value came from: (`source:key`, business time,
/// rule).
pub fn provenance(golden: &Value, field: &str) -> (Option<String>, Option<String>, Option<String>) {
    let p = &golden["provenance"][golden_field(field)];
    let rule = p["rule"].as_str().map(str::to_owned);
    match golden_source(golden, &p["record"]) {
        Some((source, at)) => (Some(source), at, rule),
        None => (None, None, rule),
    }
}

/// Per field of the golden record that differs between two versions: old
/// and new value (masked unless `reveal`), and where the new one came from.
pub fn golden_changes(before: &Value, after: &Value, reveal: bool) -> Vec<Value> {
    let empty = serde_json::Map::new();
    let old = before["record"].as_object().unwrap_or(&empty);
    let new = after["record"].as_object().unwrap_or(&empty);
    let mut fields: Vec<&String> = old.keys().chain(new.keys()).collect();
    fields.sort();
    fields.dedup();
    fields
        .into_iter()
        .filter(|f| old.get(*f) != new.get(*f))
        .map(|f| {
            let value = |v: Option<&Value>| v.map(|v| shown(f, v, reveal));
            let (source, _, rule) = provenance(after, f);
            serde_json::json!({
                "field": golden_field(f),
                "from": value(old.get(f)),
                "to": value(new.get(f)),
                "source": source,
                "rule": rule,
            })
        })
        .collect()
}

/// What a person typed to name a resident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A master ID.
    Master(String),
    /// An identity number (15 or 18 characters; 15-digit ones upgraded).
    IdNumber(String),
    /// A source record, `source:key`.
    Record(RecordRef),
}

impl Target {
    pub fn parse(text: &str) -> Target {
        let text = text.trim();
        if let Ok(r) = text.parse::<RecordRef>() {
            return Target::Record(r);
        }
        match ValidIdNumber::parse(text) {
            Ok(id) => Target::IdNumber(id.as_str().to_owned()),
            Err(_) => Target::Master(text.to_owned()),
        }
    }
}

/// The active masters `target` names: a tombstone is followed to its
/// survivor, an identity number may name several (a conflict).
pub async fn find_masters(store: &Store, target: &Target) -> anyhow::Result<Vec<String>> {
    let start = match target {
        Target::Master(id) => id.clone(),
        Target::IdNumber(number) => return Ok(store.masters_by_key("id", number).await?),
        Target::Record(r) => match store.master_of(&r.source, &r.source_key).await? {
            Some(link) => link.master_id,
            None => return Ok(Vec::new()),
        },
    };
    let mut id = start;
    // Follow merges to the survivor (bounded: ids are never reused).
    for _ in 0..64 {
        match store.master(&id).await? {
            Some(m) => match m.merged_into {
                Some(next) if m.status == MasterStatus::Merged => id = next,
                _ => return Ok(vec![m.id]),
            },
            None => return Ok(Vec::new()),
        }
    }
    Ok(vec![id])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identity_numbers_and_phones_are_masked_unless_revealed() {
        let id = json!({"kind": "resident_id", "number": "33021119850101123X"});
        assert_eq!(shown("id_document", &id, false), "330211********123X");
        assert_eq!(shown("id_document", &id, true), "33021119850101123X");
        let phones = json!(["13812345678", "0574-87654321"]);
        assert_eq!(
            shown("phones", &phones, false),
            "138****5678, 0574-****4321"
        );
        assert_eq!(shown("name", &json!("张伟"), false), "张伟");
        assert_eq!(
            shown(
                "current_address",
                &json!("中山路1号 电话13812345678"),
                false
            ),
            "中山路1号 电话138****5678"
        );
        assert_eq!(
            shown("ethnicity", &json!({"code": "01", "name": "汉族"}), false),
            "汉族"
        );
    }

    #[test]
    fn business_dates_are_shown_in_china_time() {
        assert_eq!(china_date("2025-05-31T16:00:00Z"), "2025-06-01");
        assert_eq!(china_date("garbage text"), "garbage te");
    }

    #[test]
    fn targets_are_told_apart() {
        assert_eq!(
            Target::parse("health:H001"),
            Target::Record(RecordRef::new("health", "H001"))
        );
        assert_eq!(
            Target::parse("11010519491231002x"),
            Target::IdNumber("11010519491231002X".to_owned())
        );
        assert_eq!(
            Target::parse("0190a1b2-0000-7000-8000-000000000001"),
            Target::Master("0190a1b2-0000-7000-8000-000000000001".to_owned())
        );
    }

    #[test]
    fn json_details_are_masked_everywhere() {
        let v = json!({"changes": [{"to": {"number": "33021119850101123X"}, "phones": ["13812345678"]}], "n": 3,
            "into": "01a21e03-51f1-73b2-8f7f-d304412401b6"});
        let text = mask_json(&v).to_string();
        assert!(
            text.contains("01a21e03-51f1-73b2-8f7f-d304412401b6"),
            "{text}"
        );
        assert!(
            !text.contains("19850101") && !text.contains("12345678"),
            "{text}"
        );
        assert!(text.contains("330211********123X") && text.contains("138****5678"));
    }
}
