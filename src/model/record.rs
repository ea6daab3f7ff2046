//! The canonical resident record every source row is standardized into and
//! every golden record is built from. Stored as JSON, so the shape is kept
//! readable and stable: absent values are left out rather than written as
//! null, and each normalized value serializes to something that reads back
//! equal.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::address::Address;
use super::date::PartialDate;
use super::ethnicity::Ethnicity;
use super::id_number::IdDocument;
use super::name::PersonName;
use super::phone::Phone;
use super::relationship::Relationship;
use super::sex::Sex;

/// One resident as one source system (or the golden record) knows them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ResidentRecord {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_document: Option<IdDocument>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<PersonName>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub former_names: Vec<PersonName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<PartialDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ethnicity: Option<Ethnicity>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<Phone>,
    /// 户籍地址.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registered_address: Option<Address>,
    /// 现住址.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_address: Option<Address>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub household_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relation_to_head: Option<Relationship>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deceased: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved_out: Option<bool>,
    /// Department attributes (低保 category, disability grade, …): owned by
    /// their source and carried alongside, never blended into the fields
    /// above.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

impl ResidentRecord {
    /// The validated identity number, if the record has one.
    pub fn valid_id(&self) -> Option<&super::id_number::ValidIdNumber> {
        self.id_document.as_ref().and_then(IdDocument::valid)
    }

    /// Whether nothing at all is known (such a row is quarantined, not
    /// staged).
    pub fn is_empty(&self) -> bool {
        *self == ResidentRecord::default()
    }
}

/// A value that could not be standardized: which field, and why. Collected
/// by the mapping step so a quarantined row says exactly what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct FieldProblem {
    pub field: String,
    pub problem: String,
}

impl FieldProblem {
    pub fn new(field: impl Into<String>, problem: impl std::fmt::Display) -> FieldProblem {
        FieldProblem {
            field: field.into(),
            problem: problem.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::phone::parse_phones;

    fn full_record() -> ResidentRecord {
        let mut attributes = BTreeMap::new();
        attributes.insert("dibao_category".to_owned(), serde_json::json!("A"));
        attributes.insert("disability_grade".to_owned(), serde_json::json!(2));
        ResidentRecord {
            id_document: Some(IdDocument::parse(None, "11010519491231002x")),
            name: PersonName::parse("張 偉").ok(),
            former_names: vec![PersonName::parse("张小伟").unwrap()],
            sex: Some(Sex::Female),
            birth_date: PartialDate::parse("1949年12月31日").ok(),
            ethnicity: Ethnicity::parse("汉").ok(),
            phones: parse_phones("13812345678；0574-87654321转8；无"),
            registered_address: Some(Address::parse(
                "浙江省宁波市海曙区鼓楼街道中山社区二十三幢五〇二室",
            )),
            current_address: Some(Address::parse("鼓楼街道中山社区23幢502室")),
            household_id: Some("H0001".to_owned()),
            relation_to_head: Relationship::parse("妻").ok(),
            deceased: Some(false),
            moved_out: None,
            attributes,
        }
    }

    #[test]
    fn empty_record_is_empty_json() {
        let r = ResidentRecord::default();
        assert!(r.is_empty());
        assert_eq!(serde_json::to_string(&r).unwrap(), "{}");
        assert_eq!(serde_json::from_str::<ResidentRecord>("{}").unwrap(), r);
    }

    #[test]
    fn full_record_round_trips() {
        let r = full_record();
        assert!(!r.is_empty());
        assert_eq!(r.valid_id().map(|i| i.as_str()), Some("11010519491231002X"));
        let json = serde_json::to_string_pretty(&r).unwrap();
        let back: ResidentRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r, "{json}");
    }

    #[test]
    fn json_shape_is_readable() {
        let r = full_record();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v["id_document"],
            serde_json::json!({"kind": "resident_id", "number": "11010519491231002X"})
        );
        assert_eq!(v["name"], "張偉");
        assert_eq!(v["sex"], "female");
        assert_eq!(v["birth_date"], "1949-12-31");
        assert_eq!(
            v["ethnicity"],
            serde_json::json!({"code": "01", "name": "汉族"})
        );
        assert_eq!(
            v["phones"],
            serde_json::json!(["13812345678", "0574-87654321转8", "无"])
        );
        assert_eq!(v["current_address"], "鼓楼街道中山社区23幢502室");
        assert_eq!(
            v["relation_to_head"],
            serde_json::json!({"code": "12", "label": "妻"})
        );
        assert!(v.get("moved_out").is_none());
        assert_eq!(v["attributes"]["disability_grade"], 2);
    }

    #[test]
    fn invalid_values_are_rejected_on_load() {
        assert!(serde_json::from_str::<ResidentRecord>(r#"{"birth_date": "2023-02-30"}"#).is_err());
        assert!(serde_json::from_str::<ResidentRecord>(r#"{"name": "123"}"#).is_err());
        assert!(
            serde_json::from_str::<ResidentRecord>(r#"{"ethnicity": {"code": "77"}}"#).is_err()
        );
    }

    #[test]
    fn field_problem_message() {
        let p = FieldProblem::new("birth_date", "invalid date 2023-02-30");
        assert_eq!(p.to_string(), "birth_date: invalid date 2023-02-30");
    }
}
