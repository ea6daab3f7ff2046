//! The reverse mapping: a canonical value written the way a department's
//! column holds it — its codes for sex, its date format, the identity
//! number as 18 characters — and whether a department's value already
//! says the same as ours.

use crate::config::push::PushField;
use crate::master::survivorship::GoldenField;
use crate::model::date::DatePrecision;
use crate::model::record::ResidentRecord;

/// `field` of `record` as text for the department's column, or `None` when
/// there is nothing (or nothing certain) to write: an invalid identity
/// number, a birth date known only to the month, an unknown sex.
pub fn render(field: GoldenField, record: &ResidentRecord, spec: &PushField) -> Option<String> {
    let coded = |ours: &str, default: &str| {
        spec.values
            .get(ours)
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    };
    match field {
        GoldenField::IdNumber => record.valid_id().map(|id| id.as_str().to_owned()),
        GoldenField::Name => record.name.as_ref().map(ToString::to_string),
        GoldenField::FormerNames => None,
        GoldenField::Sex => {
            use crate::model::sex::Sex;
            match record.sex? {
                Sex::Male => Some(coded("male", "男")),
                Sex::Female => Some(coded("female", "女")),
                Sex::Unknown | Sex::Unspecified => None,
            }
        }
        GoldenField::BirthDate => {
            let date = record.birth_date.as_ref()?;
            (date.precision() == DatePrecision::Day)
                .then(|| date.to_naive_date())
                .flatten()
                .map(|d| d.format(&spec.date_format).to_string())
        }
        GoldenField::Ethnicity => record.ethnicity.map(|e| coded(e.code(), e.name())),
        GoldenField::Phones => record
            .phones
            .iter()
            .find(|p| p.is_recognized())
            .map(ToString::to_string),
        GoldenField::RegisteredAddress => record
            .registered_address
            .as_ref()
            .filter(|a| !a.is_empty())
            .map(ToString::to_string),
        GoldenField::CurrentAddress => record
            .current_address
            .as_ref()
            .filter(|a| !a.is_empty())
            .map(ToString::to_string),
        GoldenField::HouseholdId => record.household_id.clone(),
        GoldenField::RelationToHead => record.relation_to_head.map(|r| coded(&r.code(), r.label())),
        GoldenField::Deceased => record.deceased.map(|d| {
            coded(
                if d { "true" } else { "false" },
                if d { "是" } else { "否" },
            )
        }),
        GoldenField::MovedOut => record.moved_out.map(|d| {
            coded(
                if d { "true" } else { "false" },
                if d { "是" } else { "否" },
            )
        }),
    }
}

/// Whether the department's record already holds `field` at all.
pub fn has(field: GoldenField, record: &ResidentRecord) -> bool {
    match field {
        GoldenField::IdNumber => record.id_document.is_some(),
        GoldenField::Name => record.name.is_some(),
        GoldenField::FormerNames => !record.former_names.is_empty(),
        GoldenField::Sex => record.sex.is_some_and(|s| {
            matches!(
                s,
                crate::model::sex::Sex::Male | crate::model::sex::Sex::Female
            )
        }),
        GoldenField::BirthDate => record.birth_date.is_some(),
        GoldenField::Ethnicity => record.ethnicity.is_some(),
        GoldenField::Phones => record.phones.iter().any(|p| p.is_recognized()),
        GoldenField::RegisteredAddress => record
            .registered_address
            .as_ref()
            .is_some_and(|a| !a.is_empty()),
        GoldenField::CurrentAddress => record
            .current_address
            .as_ref()
            .is_some_and(|a| !a.is_empty()),
        GoldenField::HouseholdId => record.household_id.is_some(),
        GoldenField::RelationToHead => record.relation_to_head.is_some(),
        GoldenField::Deceased => record.deceased.is_some(),
        GoldenField::MovedOut => record.moved_out.is_some(),
    }
}

/// Whether the department's value says what the golden one says: compared
/// as canonical values, so `138-1234-5678` agrees with `13812345678` and a
/// department listing the golden phone among others agrees too.
pub fn agrees(field: GoldenField, department: &ResidentRecord, golden: &ResidentRecord) -> bool {
    match field {
        GoldenField::Phones => match golden.phones.iter().find(|p| p.is_recognized()) {
            Some(primary) => department
                .phones
                .iter()
                .any(|p| p.canonical() == primary.canonical()),
            None => true,
        },
        GoldenField::IdNumber => match (department.valid_id(), golden.valid_id()) {
            (_, None) => true,
            (Some(d), Some(g)) => d == g,
            (None, Some(_)) => false,
        },
        GoldenField::Name => match (&department.name, &golden.name) {
            (Some(d), Some(g)) => d.folded() == g.folded(),
            (_, None) => true,
            (None, Some(_)) => false,
        },
        GoldenField::RegisteredAddress => {
            same_address(&department.registered_address, &golden.registered_address)
        }
        GoldenField::CurrentAddress => {
            same_address(&department.current_address, &golden.current_address)
        }
        _ => {
            let value = |r: &ResidentRecord| {
                serde_json::to_value(r)
                    .ok()
                    .and_then(|v| v.get(field.record_key()).cloned())
            };
            let g = value(golden);
            g.is_none() || value(department) == g
        }
    }
}

fn same_address(
    department: &Option<crate::model::address::Address>,
    golden: &Option<crate::model::address::Address>,
) -> bool {
    match (department, golden) {
        (_, None) => true,
        (Some(d), Some(g)) => d.comparison_key() == g.comparison_key(),
        (None, Some(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::push::Policy;
    use crate::model::address::Address;
    use crate::model::date::PartialDate;
    use crate::model::id_number::IdDocument;
    use crate::model::phone::parse_phones;
    use crate::model::sex::Sex;
    use std::collections::BTreeMap;

    fn spec() -> PushField {
        PushField {
            column: "c".to_owned(),
            policy: Policy::FillMissing,
            values: BTreeMap::new(),
            date_format: "%Y-%m-%d".to_owned(),
        }
    }

    #[test]
    fn values_are_written_the_departments_way() {
        let r = ResidentRecord {
            id_document: Some(IdDocument::parse(None, "11010519491231002x")),
            sex: Some(Sex::Female),
            birth_date: PartialDate::parse("1949-12-31").ok(),
            phones: parse_phones("无；+86 138-1234-5678"),
            ..ResidentRecord::default()
        };
        assert_eq!(
            render(GoldenField::IdNumber, &r, &spec()).as_deref(),
            Some("11010519491231002X")
        );
        assert_eq!(render(GoldenField::Sex, &r, &spec()).as_deref(), Some("女"));
        let coded = PushField {
            values: [("female".to_owned(), "2".to_owned())].into(),
            date_format: "%Y%m%d".to_owned(),
            ..spec()
        };
        assert_eq!(render(GoldenField::Sex, &r, &coded).as_deref(), Some("2"));
        assert_eq!(
            render(GoldenField::BirthDate, &r, &coded).as_deref(),
            Some("19491231")
        );
        assert_eq!(
            render(GoldenField::Phones, &r, &spec()).as_deref(),
            Some("13812345678")
        );
        let month_only = ResidentRecord {
            birth_date: PartialDate::parse("1949-12").ok(),
            id_document: Some(IdDocument::parse(None, "110105194912310021")),
            ..ResidentRecord::default()
        };
        assert_eq!(
            render(GoldenField::BirthDate, &month_only, &spec()),
            None,
            "not certain"
        );
        assert_eq!(
            render(GoldenField::IdNumber, &month_only, &spec()),
            None,
            "invalid"
        );
    }

    #[test]
    fn agreement_is_canonical() {
        let golden = ResidentRecord {
            phones: parse_phones("13812345678"),
            current_address: Some(Address::parse("鼓楼街道中山社区二十三幢五〇二室")),
            sex: Some(Sex::Male),
            ..ResidentRecord::default()
        };
        let dept = ResidentRecord {
            phones: parse_phones("0574-87654321, 138-1234-5678"),
            current_address: Some(Address::parse("鼓楼街道中山社区23幢502室")),
            sex: Some(Sex::Female),
            ..ResidentRecord::default()
        };
        assert!(agrees(GoldenField::Phones, &dept, &golden));
        assert!(agrees(GoldenField::CurrentAddress, &dept, &golden));
        assert!(!agrees(GoldenField::Sex, &dept, &golden));
        assert!(has(GoldenField::Phones, &dept));
        assert!(!has(GoldenField::BirthDate, &dept));
        assert!(
            agrees(GoldenField::BirthDate, &dept, &golden),
            "nothing golden to say"
        );
    }
}
