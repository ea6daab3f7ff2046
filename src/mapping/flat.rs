//! A flat, operator-readable view of a canonical record: one JSON value per
//! canonical field or attribute, written the way a mapping example's
//! `expect` table is. Used to check examples and to show records in
//! messages.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::ResidentRecord;

/// The record as `field → value`: `id_number` the number as stored (the
/// normalized text when invalid), `name` the normalized name, `sex` the
/// GB/T 2261.1 code (`"1"`), `birth_date` `YYYY-MM-DD` or `YYYY-MM`,
/// `ethnicity` and `relation_to_head` their codes, `phones` the canonical
/// strings, addresses normalized, `deceased`/`moved_out` booleans, and each
/// attribute under its own name. Absent values are left out.
pub fn flat_view(record: &ResidentRecord) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut put = |key: &str, value: Value| {
        out.insert(key.to_owned(), value);
    };
    if let Some(doc) = &record.id_document {
        put("id_number", Value::from(doc.number()));
    }
    if let Some(name) = &record.name {
        put("name", Value::from(name.normalized()));
    }
    if !record.former_names.is_empty() {
        let names = record
            .former_names
            .iter()
            .map(|n| Value::from(n.normalized()));
        put("former_names", Value::Array(names.collect()));
    }
    if let Some(sex) = record.sex {
        put("sex", Value::from(sex.code().to_string()));
    }
    if let Some(d) = record.birth_date {
        put("birth_date", Value::from(d.to_string()));
    }
    if let Some(e) = record.ethnicity {
        put("ethnicity", Value::from(e.code()));
    }
    if !record.phones.is_empty() {
        let phones = record.phones.iter().map(|p| Value::from(p.canonical()));
        put("phones", Value::Array(phones.collect()));
    }
    if let Some(a) = &record.registered_address {
        put("registered_address", Value::from(a.normalized()));
    }
    if let Some(a) = &record.current_address {
        put("current_address", Value::from(a.normalized()));
    }
    if let Some(h) = &record.household_id {
        put("household_id", Value::from(h.as_str()));
    }
    if let Some(r) = record.relation_to_head {
        put("relation_to_head", Value::from(r.code()));
    }
    if let Some(b) = record.deceased {
        put("deceased", Value::Bool(b));
    }
    if let Some(b) = record.moved_out {
        put("moved_out", Value::Bool(b));
    }
    for (name, value) in &record.attributes {
        out.insert(name.clone(), value.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{parse_phones, IdDocument, PartialDate, PersonName, Sex};
    use serde_json::json;

    #[test]
    fn flat_values() {
        let mut r = ResidentRecord {
            id_document: Some(IdDocument::parse(None, "11010519491231002x")),
            name: PersonName::parse("張 偉").ok(),
            sex: Some(Sex::Female),
            birth_date: PartialDate::parse("1985.3").ok(),
            phones: parse_phones("138 1234 5678;0574-87654321转8"),
            deceased: Some(false),
            ..ResidentRecord::default()
        };
        r.attributes.insert("grade".into(), json!(2));
        let flat = flat_view(&r);
        assert_eq!(flat["id_number"], "11010519491231002X");
        assert_eq!(flat["name"], "張偉");
        assert_eq!(flat["sex"], "2");
        assert_eq!(flat["birth_date"], "1985-03");
        assert_eq!(flat["phones"], json!(["13812345678", "0574-87654321"]));
        assert_eq!(flat["deceased"], false);
        assert_eq!(flat["grade"], 2);
        assert!(!flat.contains_key("ethnicity"));
        let bad = ResidentRecord {
            id_document: Some(IdDocument::parse(None, "110105 19491231 0023")),
            ..ResidentRecord::default()
        };
        assert_eq!(flat_view(&bad)["id_number"], "110105194912310023");
    }
}
