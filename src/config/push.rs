//! `[push]` in a mapping file: which golden values go back into this
//! department's system, into which column, how they are written there
//! (codes, date format) and under which policy.
//!
//! ```toml
//! [push]
//! suggestions = "yici_suggestions"   # where `suggest` writes (a table, or a ledger file)
//! [push.fields]
//! phones = { column = "lxdh", policy = "fill_missing" }
//! sex = { column = "xb", policy = "fill_missing", values = { male = "1", female = "2" } }
//! birth_date = { column = "csrq", policy = "fill_missing", date_format = "%Y%m%d" }
//! current_address = { column = "xzz", policy = "suggest" }
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use super::document::Locator;
use super::error::ConfigError;
use super::suggest;
use crate::master::survivorship::GoldenField;

/// `[push]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushSection {
    /// Where `suggest` writes: a table in the department's database (SQL
    /// sources) or the URL suggestions are posted to (HTTP sources).
    pub suggestions: Option<String>,
    /// HTTP sources: the record's URL, with `{key}` for its key.
    pub url: Option<String>,
    /// HTTP sources: how a record is updated (`PUT`, `PATCH` or `POST`).
    pub method: Option<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, PushFieldSection>,
    /// Create records for residents the department should hold but lacks.
    pub create: Option<CreateSection>,
}

/// `[push.create]`: which residents the department should hold.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSection {
    /// Residents whose golden address mentions one of these (a street, a
    /// community); every resident when empty.
    #[serde(default)]
    pub address_contains: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushFieldSection {
    pub column: String,
    pub policy: String,
    /// The department's codes for our values (`male = "1"`).
    #[serde(default)]
    pub values: BTreeMap<String, String>,
    /// strftime format of dates in the department's column.
    pub date_format: Option<String>,
}

/// How a golden value may be written into a department's record.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Only where the department's value is empty.
    FillMissing,
    /// The golden value wins (fields the department trusts us with).
    Overwrite,
    /// A suggestion for the department to confirm; its record is untouched.
    Suggest,
}

impl Policy {
    pub const ALL: [Policy; 3] = [Policy::FillMissing, Policy::Overwrite, Policy::Suggest];

    pub fn as_str(self) -> &'static str {
        match self {
            Policy::FillMissing => "fill_missing",
            Policy::Overwrite => "overwrite",
            Policy::Suggest => "suggest",
        }
    }

    pub fn parse(s: &str) -> Option<Policy> {
        Policy::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// One pushed field, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushField {
    pub column: String,
    pub policy: Policy,
    pub values: BTreeMap<String, String>,
    pub date_format: String,
}

/// `[push]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSpec {
    pub suggestions: Option<String>,
    /// HTTP sources: the record URL (with `{key}`).
    pub url: Option<String>,
    /// HTTP sources: `PUT` (default), `PATCH` or `POST`.
    pub method: String,
    pub fields: BTreeMap<GoldenField, PushField>,
    /// Residents to create records for, when the department lacks them.
    pub create: Option<CreateRule>,
}

/// Which residents a department should hold (`[push.create]`): living
/// residents with a valid identity number (the column that tells whether
/// the department has them already) whose address matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRule {
    pub address_contains: Vec<String>,
}

impl PushSpec {
    /// Whether any field is written as a suggestion.
    pub fn suggests(&self) -> bool {
        self.fields.values().any(|f| f.policy == Policy::Suggest)
    }
}

/// Our values a `values` table may translate, per field.
fn codes(field: GoldenField) -> Option<&'static [&'static str]> {
    match field {
        GoldenField::Sex => Some(&["male", "female", "unknown", "unspecified"]),
        GoldenField::Deceased | GoldenField::MovedOut => Some(&["true", "false"]),
        // Ethnicity and relationship codes are the national tables' (GB 3304, GB/T 4761).
        GoldenField::Ethnicity | GoldenField::RelationToHead => Some(&[]),
        _ => None,
    }
}

/// Validates `[push]` of a mapping.
pub fn resolve(
    section: PushSection,
    locator: &Locator,
    errors: &mut Vec<ConfigError>,
) -> Option<PushSpec> {
    let before = errors.len();
    let mut fields = BTreeMap::new();
    for (name, f) in section.fields {
        let key = format!("push.fields.{name}");
        let Some(field) = GoldenField::parse(&name) else {
            let hint = suggest::did_you_mean(&name, GoldenField::ALL.iter().map(|f| f.as_str()));
            errors.push(locator.error(&key, format!("unknown canonical field `{name}`{hint}")));
            continue;
        };
        if field == GoldenField::FormerNames {
            errors.push(locator.error(
                &key,
                "former names are not pushed (a department keeps its own history)",
            ));
        }
        if f.column.trim().is_empty() {
            errors.push(locator.error(&format!("{key}.column"), "needs the department's column"));
        }
        let policy = match Policy::parse(&f.policy) {
            Some(p) => p,
            None => {
                let names = Policy::ALL.map(Policy::as_str);
                let hint = suggest::closest(&f.policy, names)
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_else(|| format!(" (policies: {})", names.join(", ")));
                errors.push(locator.error(
                    &format!("{key}.policy"),
                    format!("unknown policy `{}`{hint}", f.policy),
                ));
                continue;
            }
        };
        if !f.values.is_empty() {
            match codes(field) {
                None => errors.push(locator.error(
                    &format!("{key}.values"),
                    format!("`{name}` is written as text; only coded fields take a values table"),
                )),
                Some(known) if !known.is_empty() => {
                    for ours in f.values.keys() {
                        if !known.contains(&ours.as_str()) {
                            errors.push(locator.error(
                                &format!("{key}.values.{ours}"),
                                format!(
                                    "`{ours}` is not a value of `{name}` ({})",
                                    known.join(", ")
                                ),
                            ));
                        }
                    }
                }
                Some(_) => {}
            }
        }
        if f.date_format.is_some() && field != GoldenField::BirthDate {
            errors.push(locator.error(&format!("{key}.date_format"), "only birth_date is a date"));
        }
        let date_format = f.date_format.unwrap_or_else(|| "%Y-%m-%d".to_owned());
        if field == GoldenField::BirthDate && !valid_date_format(&date_format) {
            errors.push(locator.error(
                &format!("{key}.date_format"),
                format!(
                    "`{date_format}` is not a date format (e.g. %Y-%m-%d, %Y%m%d, %Y年%m月%d日)"
                ),
            ));
        }
        fields.insert(
            field,
            PushField {
                column: f.column.trim().to_owned(),
                policy,
                values: f.values,
                date_format,
            },
        );
    }
    let method = section
        .method
        .unwrap_or_else(|| "PUT".to_owned())
        .to_ascii_uppercase();
    if !["PUT", "PATCH", "POST"].contains(&method.as_str()) {
        errors.push(locator.error(
            "push.method",
            format!("`{method}` is not PUT, PATCH or POST"),
        ));
    }
    if let Some(url) = &section.url {
        if !url.contains("{key}") {
            errors.push(locator.error(
                "push.url",
                "needs `{key}` where the record's key goes (e.g. https://api.example/residents/{key})",
            ));
        }
    }
    if section.create.is_some() && !fields.contains_key(&GoldenField::IdNumber) {
        errors.push(locator.error(
            "push.create",
            "creating records needs push.fields.id_number: its column tells whether the department holds a resident already",
        ));
    }
    (errors.len() == before).then_some(PushSpec {
        suggestions: section.suggestions,
        url: section.url,
        method,
        fields,
        create: section.create.map(|c| CreateRule {
            address_contains: c.address_contains,
        }),
    })
}

/// Whether `format` renders a date (and only a date) without error.
fn valid_date_format(format: &str) -> bool {
    use chrono::format::{Item, StrftimeItems};
    use std::fmt::Write;
    if StrftimeItems::new(format).any(|i| matches!(i, Item::Error)) {
        return false;
    }
    let date = chrono::NaiveDate::from_ymd_opt(1985, 3, 2).expect("a real date");
    let mut out = String::new();
    write!(out, "{}", date.format(format)).is_ok() && out.contains("1985")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn check(text: &str) -> Result<PushSpec, Vec<String>> {
        #[derive(Deserialize)]
        struct File {
            push: PushSection,
        }
        let doc = super::super::document::parse::<File>(Path::new("mappings/gov.toml"), text)
            .map_err(|e| vec![e.to_string()])?;
        let mut errors = Vec::new();
        let spec = resolve(doc.value.push, &doc.locator, &mut errors);
        match spec {
            Some(spec) if errors.is_empty() => Ok(spec),
            _ => Err(errors.iter().map(ToString::to_string).collect()),
        }
    }

    #[test]
    fn a_push_section_reads() {
        let spec = check(
            "[push]\nsuggestions = \"yici_suggestions\"\n[push.fields]\n\
             phones = { column = \"lxdh\", policy = \"fill_missing\" }\n\
             sex = { column = \"xb\", policy = \"overwrite\", values = { male = \"1\", female = \"2\" } }\n\
             birth_date = { column = \"csrq\", policy = \"fill_missing\", date_format = \"%Y%m%d\" }\n\
             current_address = { column = \"xzz\", policy = \"suggest\" }\n",
        )
        .unwrap();
        assert_eq!(
            spec.fields[&GoldenField::Phones].policy,
            Policy::FillMissing
        );
        assert_eq!(spec.fields[&GoldenField::Sex].values["male"], "1");
        assert_eq!(spec.fields[&GoldenField::BirthDate].date_format, "%Y%m%d");
        assert_eq!(spec.fields[&GoldenField::Phones].date_format, "%Y-%m-%d");
        assert!(spec.suggests());
    }

    #[test]
    fn mistakes_are_named_with_line_and_key() {
        let errors = check(
            "[push.fields]\n\
             phone = { column = \"lxdh\", policy = \"fill_missing\" }\n\
             sex = { column = \"xb\", policy = \"fil_missing\" }\n\
             name = { column = \"xm\", policy = \"overwrite\", values = { a = \"b\" } }\n\
             birth_date = { column = \"\", policy = \"suggest\", date_format = \"%Q\" }\n\
             deceased = { column = \"sfsw\", policy = \"overwrite\", values = { yes = \"1\" } }\n",
        )
        .unwrap_err()
        .join("\n");
        for expected in [
            ":2:1: key `push.fields.phone`: unknown canonical field `phone`; did you mean `phones`?",
            "key `push.fields.sex.policy`: unknown policy `fil_missing`; did you mean `fill_missing`?",
            "key `push.fields.name.values`: `name` is written as text",
            "key `push.fields.birth_date.column`: needs the department's column",
            "key `push.fields.birth_date.date_format`: `%Q` is not a date format",
            "key `push.fields.deceased.values.yes`: `yes` is not a value of `deceased`",
        ] {
            assert!(errors.contains(expected), "missing {expected:?} in\n{errors}");
        }
    }
}
