//! The comparison view of a record: only what blocking and comparing read,
//! in the forms they compare (folded name, pinyin, 18-digit number, phone
//! canonical forms, address parts). Built once per record per run, so the
//! pair loop never re-normalizes anything.

use serde::{Deserialize, Serialize};

use crate::model::address::Address;
use crate::model::id_number::IdDocument;
use crate::model::name::PersonName;
use crate::model::record::ResidentRecord;
use crate::model::sex::Sex;

/// An identity document as matching sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdKey {
    /// 18-character canonical number when valid; the normalized text when
    /// not (for any document type).
    pub number: String,
    /// Passed area, date and check-digit validation.
    #[serde(default, skip_serializing_if = "is_false")]
    pub valid: bool,
    /// Valid, and recorded in the old 15-digit form.
    #[serde(default, skip_serializing_if = "is_false")]
    pub upgraded_from_15: bool,
    /// A passport or permit rather than a resident identity number (its
    /// type, in Chinese, for display).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_document: Option<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A name as matching sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameKey {
    /// As written, cleaned.
    pub normalized: String,
    /// Simplified characters.
    pub folded: String,
    /// Toneless pinyin without separators.
    pub pinyin: String,
    /// Surname in simplified characters.
    pub surname: String,
    /// `folded` without separators and punctuation, lower-case: `古丽米拉·亚森`
    /// and `古丽米拉亚森`, `JOHNSON, EMMA` and `Johnson Emma` agree here.
    pub letters: String,
}

impl NameKey {
    fn of(name: &PersonName) -> NameKey {
        NameKey {
            normalized: name.normalized().to_owned(),
            folded: name.folded().to_owned(),
            pinyin: name.pinyin().to_owned(),
            surname: name.surname().to_owned(),
            letters: name
                .folded()
                .chars()
                .filter(|c| c.is_alphabetic())
                .flat_map(char::to_lowercase)
                .collect(),
        }
    }
}

/// A birth date: year, month and (when known) day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Birth {
    pub year: i32,
    pub month: u32,
    pub day: Option<u32>,
}

/// An address as matching sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressKey {
    /// Normalized, without the district prefix.
    pub key: String,
    pub street: Option<String>,
    pub community: Option<String>,
    pub house_number: Option<String>,
}

impl AddressKey {
    fn of(address: &Address) -> Option<AddressKey> {
        if address.comparison_key().is_empty() {
            return None;
        }
        Some(AddressKey {
            key: address.comparison_key().to_owned(),
            street: address.street().map(str::to_owned),
            community: address.community().map(str::to_owned),
            house_number: address.house_number().map(str::to_owned),
        })
    }
}

/// One record's comparison view. Stored with the staged record (JSON,
/// empty parts left out) so resolution does not re-derive it. Unknown
/// fields are an error, so a key written in an older shape is noticed and
/// derived again from the canonical record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Features {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<IdKey>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<NameKey>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub former_names: Vec<NameKey>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth: Option<Birth>,
    /// Male or female; unknown and unspecified count as missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    /// Canonical forms of the recognized phones.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<String>,
    /// Registered and current address, whichever are known.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<AddressKey>,
}

impl Features {
    /// The comparison view of a canonical record.
    pub fn of(record: &ResidentRecord) -> Features {
        let id = record.id_document.as_ref().map(|doc| match doc {
            IdDocument::Valid(v) => IdKey {
                number: v.as_str().to_owned(),
                valid: true,
                upgraded_from_15: v.was_upgraded_from_15(),
                other_document: None,
            },
            IdDocument::Invalid(bad) => IdKey {
                number: bad.raw.clone(),
                valid: false,
                upgraded_from_15: false,
                other_document: None,
            },
            IdDocument::Other { doc_type, number } => IdKey {
                number: number.clone(),
                valid: false,
                upgraded_from_15: false,
                other_document: Some(doc_type.label_zh().to_owned()),
            },
        });
        let id = id.filter(|k| !k.number.is_empty());
        // A valid identity number carries the birth date; a record without
        // its own still has one to compare.
        let birth = record
            .birth_date
            .map(|d| Birth {
                year: d.year(),
                month: d.month(),
                day: d.day(),
            })
            .or_else(|| {
                record.valid_id().map(|v| {
                    use chrono::Datelike;
                    let d = v.birth_date();
                    Birth {
                        year: d.year(),
                        month: d.month(),
                        day: Some(d.day()),
                    }
                })
            });
        let sex = record
            .sex
            .filter(|s| matches!(s, Sex::Male | Sex::Female))
            .or_else(|| record.valid_id().map(|v| v.sex()));
        let mut phones: Vec<String> = record
            .phones
            .iter()
            .filter(|p| p.is_recognized())
            .map(|p| p.canonical())
            .collect();
        phones.sort();
        phones.dedup();
        let mut addresses: Vec<AddressKey> = [&record.registered_address, &record.current_address]
            .into_iter()
            .flatten()
            .filter_map(AddressKey::of)
            .collect();
        addresses.dedup_by(|a, b| a.key == b.key);
        Features {
            id,
            name: record.name.as_ref().map(NameKey::of),
            former_names: record.former_names.iter().map(NameKey::of).collect(),
            birth,
            sex,
            phones,
            addresses,
        }
    }

    /// The valid identity number, if any.
    pub fn valid_id(&self) -> Option<&str> {
        self.id
            .as_ref()
            .filter(|k| k.valid)
            .map(|k| k.number.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::testing::features;

    #[test]
    fn birth_and_sex_fall_back_to_the_identity_number() {
        let f = features(serde_json::json!({
            "id_document": {"kind": "resident_id", "number": "11010519491231002X"},
            "name": "張偉"
        }));
        assert_eq!(
            f.birth,
            Some(Birth {
                year: 1949,
                month: 12,
                day: Some(31)
            })
        );
        assert_eq!(f.sex, Some(Sex::Female));
        assert_eq!(f.valid_id(), Some("11010519491231002X"));
        let name = f.name.unwrap();
        assert_eq!(name.folded, "张伟");
        assert_eq!(name.pinyin, "zhangwei");
        assert_eq!(name.surname, "张");
    }

    #[test]
    fn round_trips_through_its_stored_form() {
        let f = features(serde_json::json!({
            "id_document": {"kind": "other_document", "doc_type": "passport", "number": "E12345678"},
            "name": "張偉", "former_names": ["张小伟"], "sex": "male", "birth_date": "1980-02",
            "phones": ["13812345678"], "current_address": "鼓楼街道中山社区23幢502室"
        }));
        let text = serde_json::to_string(&f).unwrap();
        assert_eq!(
            serde_json::from_str::<Features>(&text).unwrap(),
            f,
            "{text}"
        );
        assert_eq!(serde_json::to_string(&Features::default()).unwrap(), "{}");
    }

    #[test]
    fn unrecognized_phones_and_empty_addresses_are_left_out() {
        let f = features(serde_json::json!({
            "name": "李娜",
            "phones": ["13812345678", "无", "13812345678"],
            "registered_address": "",
            "current_address": "鼓楼街道中山社区23幢502室"
        }));
        assert_eq!(f.phones, vec!["13812345678".to_owned()]);
        assert_eq!(f.addresses.len(), 1);
        assert_eq!(f.addresses[0].community.as_deref(), Some("中山社区"));
        assert!(f.id.is_none());
    }
}
