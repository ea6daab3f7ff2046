//! `mappings/NAME.toml`: how one source's fields become the canonical
//! resident record. This module checks the file; compiling it into a
//! standardizer belongs to the mapping engine.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::connector::OneOrMany;
use super::document::{Document, Locator};
use super::error::ConfigError;
use super::suggest;

/// Fields of the canonical resident record a mapping may fill.
pub const CANONICAL_FIELDS: &[&str] = &[
    "id_number",
    "name",
    "former_names",
    "sex",
    "birth_date",
    "ethnicity",
    "phones",
    "registered_address",
    "current_address",
    "household_id",
    "relation_to_head",
    "deceased",
    "moved_out",
];

/// Named transforms; those taking an argument are written `name(arg)`.
pub const TRANSFORMS: &[&str] = &[
    "trim",
    "upper",
    "lower",
    "collapse_whitespace",
    "id_number",
    "name",
    "sex",
    "date",
    "phone",
    "phones",
    "ethnicity",
    "relationship",
    "address",
    "bool",
    "integer",
    "decimal",
    "split",
    "regex",
    "code_table",
    "default",
];

/// Transforms that need an argument, and what it is.
const TRANSFORMS_WITH_ARGUMENT: &[(&str, &str)] = &[
    ("split", "a separator"),
    ("regex", "a pattern with one capture group"),
    ("code_table", "the name of a table in [code_tables]"),
    ("default", "a value"),
];

/// `expect` key: the row must be quarantined (`true`) or staged (`false`).
pub const EXPECT_QUARANTINED: &str = "quarantined";
/// `expect` key: the exact problems (staged) or reasons (quarantined), as
/// `field: problem` strings, in any order.
pub const EXPECT_PROBLEMS: &str = "problems";
/// Keys an example may `expect` besides fields and attributes.
pub const EXPECT_OUTCOME_KEYS: &[&str] = &[EXPECT_QUARANTINED, EXPECT_PROBLEMS];

/// Where a birth date missing from the source may be taken from.
pub const FALLBACKS: &[&str] = &["id_number"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingFile {
    pub description: Option<String>,
    /// Column(s) that identify a record in the source.
    pub key: OneOrMany,
    /// Column holding the source's own last-modified time (business time).
    pub updated_at: Option<String>,
    /// Value tables shared by several fields (`code_table(NAME)`).
    #[serde(default)]
    pub code_tables: BTreeMap<String, BTreeMap<String, String>>,
    pub fields: BTreeMap<String, FieldSpec>,
    /// Department attributes carried alongside the canonical record.
    #[serde(default)]
    pub attributes: BTreeMap<String, AttributeSpec>,
    /// How far survivorship trusts this source per field, 0.0–1.0.
    #[serde(default)]
    pub trust: BTreeMap<String, f64>,
    /// Which golden values go back into this system, and how.
    pub push: Option<super::push::PushSection>,
    #[serde(default)]
    pub examples: Vec<ExampleSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub from: OneOrMany,
    /// Separator when several columns are concatenated.
    pub join: Option<String>,
    #[serde(default)]
    pub transform: Vec<String>,
    /// Inline value map applied before the transforms.
    pub map: Option<BTreeMap<String, String>>,
    /// Column holding the document type, for `id_number`.
    pub doc_type_from: Option<String>,
    /// Where to take the value from when the source has none.
    pub fallback: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributeType {
    Text,
    Integer,
    Decimal,
    Bool,
    Date,
    Code,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeSpec {
    pub from: OneOrMany,
    #[serde(rename = "type")]
    pub kind: AttributeType,
    #[serde(default)]
    pub transform: Vec<String>,
    pub map: Option<BTreeMap<String, String>>,
}

/// A raw row and what it must become; `yici check` runs these.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExampleSpec {
    pub name: Option<String>,
    pub raw: toml::Table,
    pub expect: toml::Table,
}

/// A validated mapping.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub name: String,
    pub file: PathBuf,
    pub description: Option<String>,
    pub key: Vec<String>,
    pub updated_at: Option<String>,
    pub code_tables: BTreeMap<String, BTreeMap<String, String>>,
    pub fields: BTreeMap<String, FieldSpec>,
    pub attributes: BTreeMap<String, AttributeSpec>,
    pub trust: BTreeMap<String, f64>,
    /// Push-back into this system; `None` when it receives nothing.
    pub push: Option<super::push::PushSpec>,
    pub examples: Vec<ExampleSpec>,
}

/// A transform call split into its name and optional argument.
pub fn parse_transform(text: &str) -> (&str, Option<&str>) {
    match text.split_once('(') {
        Some((name, rest)) => (name.trim(), Some(rest.strip_suffix(')').unwrap_or(rest))),
        None => (text.trim(), None),
    }
}

fn check_transforms(
    locator: &Locator,
    code_tables: &BTreeMap<String, BTreeMap<String, String>>,
    key: &str,
    transforms: &[String],
    errors: &mut Vec<ConfigError>,
) {
    for (i, t) in transforms.iter().enumerate() {
        let (name, arg) = parse_transform(t);
        let at = format!("{key}.transform[{i}]");
        if !TRANSFORMS.contains(&name) {
            let hint = suggest::did_you_mean(name, TRANSFORMS.iter().copied());
            errors.push(locator.error(&at, format!("unknown transform `{name}`{hint}")));
            continue;
        }
        let needs = TRANSFORMS_WITH_ARGUMENT.iter().find(|(n, _)| *n == name);
        match (needs, arg) {
            (Some((_, what)), None) => errors.push(locator.error(
                &at,
                format!("`{name}` needs an argument: {name}(…) with {what}"),
            )),
            (None, Some(_)) => {
                errors.push(locator.error(&at, format!("`{name}` takes no argument")))
            }
            _ => {}
        }
        if let ("code_table", Some(table)) = (name, arg) {
            if !code_tables.contains_key(table) {
                let hint = suggest::did_you_mean(table, code_tables.keys().map(String::as_str));
                errors.push(locator.error(
                    &at,
                    format!("no code table `{table}` in [code_tables]{hint}"),
                ));
            }
        }
    }
}

impl Mapping {
    /// Validates a parsed mapping file named `name`.
    pub fn resolve(name: &str, doc: Document<MappingFile>) -> Result<Mapping, Vec<ConfigError>> {
        let Document {
            value: file,
            locator,
        } = doc;
        let mut errors = Vec::new();
        if !file.fields.contains_key("name") {
            errors.push(locator.error(
                "fields",
                "map `name`: records without a name cannot be matched and would all be quarantined",
            ));
        }
        for (field, spec) in &file.fields {
            let key = format!("fields.{field}");
            if !CANONICAL_FIELDS.contains(&field.as_str()) {
                let hint = suggest::did_you_mean(field, CANONICAL_FIELDS.iter().copied());
                errors
                    .push(locator.error(&key, format!("unknown canonical field `{field}`{hint}")));
                continue;
            }
            check_transforms(
                &locator,
                &file.code_tables,
                &key,
                &spec.transform,
                &mut errors,
            );
            if let Some(fallback) = &spec.fallback {
                let allowed = matches!(field.as_str(), "birth_date" | "sex");
                if !allowed || !FALLBACKS.contains(&fallback.as_str()) {
                    errors.push(locator.error(
                        &format!("{key}.fallback"),
                        format!("only birth_date and sex can fall back, and only to `id_number` (got `{fallback}`)"),
                    ));
                }
            }
            if spec.doc_type_from.is_some() && field != "id_number" {
                errors.push(locator.error(
                    &format!("{key}.doc_type_from"),
                    "only id_number has a document type",
                ));
            }
        }
        for (attribute, spec) in &file.attributes {
            if CANONICAL_FIELDS.contains(&attribute.as_str()) {
                errors.push(locator.error(
                    &format!("attributes.{attribute}"),
                    format!("`{attribute}` is a canonical field; map it under [fields]"),
                ));
            }
            let key = format!("attributes.{attribute}");
            check_transforms(
                &locator,
                &file.code_tables,
                &key,
                &spec.transform,
                &mut errors,
            );
        }
        for (field, trust) in &file.trust {
            let key = format!("trust.{field}");
            if !CANONICAL_FIELDS.contains(&field.as_str()) {
                let hint = suggest::did_you_mean(field, CANONICAL_FIELDS.iter().copied());
                errors
                    .push(locator.error(&key, format!("unknown canonical field `{field}`{hint}")));
            } else if !(0.0..=1.0).contains(trust) {
                errors.push(locator.error(
                    &key,
                    format!("trust must be between 0.0 and 1.0 (got {trust})"),
                ));
            }
        }
        for (i, example) in file.examples.iter().enumerate() {
            for field in example.expect.keys() {
                let known = CANONICAL_FIELDS.contains(&field.as_str())
                    || EXPECT_OUTCOME_KEYS.contains(&field.as_str())
                    || file.attributes.contains_key(field);
                if !known {
                    let candidates = CANONICAL_FIELDS
                        .iter()
                        .copied()
                        .chain(file.attributes.keys().map(String::as_str));
                    let hint = suggest::did_you_mean(field, candidates);
                    errors.push(locator.error(
                        &format!("examples[{i}].expect.{field}"),
                        format!("`{field}` is neither a canonical field nor an attribute of this mapping{hint}"),
                    ));
                }
            }
        }
        let push = file
            .push
            .and_then(|section| super::push::resolve(section, &locator, &mut errors));
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Mapping {
            name: name.to_string(),
            file: locator.file().to_path_buf(),
            description: file.description,
            key: file.key.to_vec(),
            updated_at: file.updated_at,
            code_tables: file.code_tables,
            fields: file.fields,
            attributes: file.attributes,
            trust: file.trust,
            push,
            examples: file.examples,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn resolve(text: &str) -> Result<Mapping, Vec<ConfigError>> {
        let doc = super::super::document::parse(Path::new("mappings/health.toml"), text)
            .map_err(|e| vec![e])?;
        Mapping::resolve("health", doc)
    }

    #[test]
    fn typos_get_suggestions_with_lines() {
        let errs = resolve(
            "key = \"GRDAH\"\n[fields]\nname = { from = \"XM\", transform = [\"nmae\"] }\nbrith_date = { from = \"CSRQ\" }\n[trust]\nid_numbr = 0.5\n",
        )
        .unwrap_err();
        let messages: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(errs.len(), 3, "{messages:#?}");
        assert!(
            messages[0].starts_with("mappings/health.toml:4:1: key `fields.brith_date`"),
            "{}",
            messages[0]
        );
        assert!(messages[0].contains("did you mean `birth_date`"));
        assert!(
            messages[1].contains("key `fields.name.transform[0]`"),
            "{}",
            messages[1]
        );
        assert!(messages[1].contains("did you mean `name`"));
        assert!(
            messages[2].starts_with("mappings/health.toml:6:1"),
            "{}",
            messages[2]
        );
        assert!(messages[2].contains("did you mean `id_number`"));
    }

    #[test]
    fn transform_arguments_are_checked() {
        let errs = resolve(
            "key = \"K\"\n[code_tables.lb]\n\"1\" = \"低保\"\n[fields]\nname = { from = \"XM\", transform = [\"regex\", \"trim(x)\", \"code_table(lbb)\"] }\n",
        )
        .unwrap_err();
        assert_eq!(errs.len(), 3, "{errs:#?}");
        assert!(errs[0].message.contains("needs an argument"));
        assert!(errs[1].message.contains("takes no argument"));
        assert!(errs[2].message.contains("did you mean `lb`"));
    }

    #[test]
    fn a_good_mapping_resolves() {
        let m = resolve(
            "key = [\"A\", \"B\"]\n[fields]\nname = { from = \"XM\", transform = [\"name\"] }\nbirth_date = { from = \"CSRQ\", transform = [\"date\"], fallback = \"id_number\" }\n[attributes.chronic]\nfrom = \"MXBBZ\"\ntype = \"bool\"\n[[examples]]\nraw = { XM = \"张 伟\" }\nexpect = { name = \"张伟\", chronic = true }\n",
        )
        .unwrap();
        assert_eq!(m.key, vec!["A", "B"]);
        assert_eq!(m.examples.len(), 1);
    }
}
