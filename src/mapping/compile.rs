//! Compiling a validated [`Mapping`] into a [`Standardizer`]: every name is
//! resolved, every regex built and every chain type-checked once, so that
//! standardizing a row does no lookups by name and a mapping that cannot
//! work fails at `yici check`, not on the millionth row.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use regex_lite::Regex;

use super::steps::Step;
use super::typed::{accepted_by_field, Typed};
use crate::config::connector::OneOrMany;
use crate::config::mapping::{parse_transform, AttributeType, FieldSpec, CANONICAL_FIELDS};
use crate::config::{ConfigError, Mapping};

/// A mapping compiled for fast, repeated use. Immutable and `Send + Sync`:
/// one instance is shared by every worker thread of a pull.
#[derive(Debug, Clone)]
pub struct Standardizer {
    pub(crate) name: String,
    pub(crate) file: PathBuf,
    /// Every column the mapping reads, sorted; rows are resolved against
    /// this list once and fields refer to it by index (a slot).
    pub(crate) columns: Vec<String>,
    /// Whether `serde_json::Map` iterates in key order (it does unless the
    /// `preserve_order` feature is on somewhere in the build), which allows
    /// resolving a row in one merge pass.
    pub(crate) sorted_rows: bool,
    pub(crate) key: Vec<(String, usize)>,
    pub(crate) updated_at: Option<usize>,
    pub(crate) fields: Vec<Field>,
    pub(crate) attributes: Vec<Attribute>,
}

/// Where a value is read from.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    /// Slots of the columns, in the mapping's order.
    pub(crate) slots: Vec<usize>,
    /// Separator when several columns are concatenated.
    pub(crate) join: String,
    /// Several columns feed a list field without an explicit `join`: each
    /// column is one element (手机 and 固话 must not run together).
    pub(crate) as_list: bool,
}

/// Inline map and text steps, in order.
#[derive(Debug, Clone)]
pub(crate) struct Chain {
    pub(crate) map: Option<HashMap<String, String>>,
    pub(crate) steps: Vec<Step>,
    /// Whether placeholders such as `无` or `NULL` read as empty. Off for
    /// `bool`, where 无 means false.
    pub(crate) placeholders: bool,
}

/// What a canonical field's value becomes.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// `doc_type`: the slot of the document-type column.
    IdNumber {
        doc_type: Option<usize>,
    },
    Name,
    FormerNames,
    Sex {
        fallback: bool,
    },
    BirthDate {
        fallback: bool,
    },
    Ethnicity,
    /// `each_one`: every value is one phone (`phone`), rather than text that
    /// may hold several (`phones`).
    Phones {
        each_one: bool,
    },
    RegisteredAddress,
    CurrentAddress,
    HouseholdId,
    RelationToHead,
    Deceased,
    MovedOut,
}

#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) source: Source,
    pub(crate) chain: Chain,
    pub(crate) target: Target,
}

/// What an attribute's value becomes; text and code attributes may be
/// cleaned by a string-valued normalizer (`name`, `address`, …) first.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AttributeKind {
    Text(Option<Typed>),
    Integer,
    Decimal,
    Bool,
    Date,
}

#[derive(Debug, Clone)]
pub(crate) struct Attribute {
    pub(crate) name: String,
    /// `attributes.NAME`, the prefix of its problems.
    pub(crate) label: String,
    pub(crate) source: Source,
    pub(crate) chain: Chain,
    pub(crate) kind: AttributeKind,
}

/// Typed normalizers whose result is a single string, usable on text and
/// code attributes.
const STRING_NORMALIZERS: &[Typed] = &[
    Typed::IdNumber,
    Typed::Name,
    Typed::Sex,
    Typed::Ethnicity,
    Typed::Relationship,
    Typed::Address,
    Typed::Phone,
];

/// Canonical fields that hold several values and so may be `split`.
const LIST_FIELDS: &[&str] = &["phones", "former_names"];

struct Errors<'a> {
    file: &'a Path,
    list: Vec<ConfigError>,
}

impl Errors<'_> {
    fn push(&mut self, key: &str, message: impl Into<String>) {
        self.list.push(ConfigError {
            file: self.file.to_path_buf(),
            line: None,
            column: None,
            key: Some(key.to_owned()),
            message: message.into(),
        });
    }
}

impl Standardizer {
    /// Compiles `mapping`, reporting every problem found (not only the first),
    /// each naming the mapping file and the key.
    pub fn compile(mapping: &Mapping) -> Result<Standardizer, Vec<ConfigError>> {
        let mut errors = Errors {
            file: &mapping.file,
            list: Vec::new(),
        };
        if mapping.key.is_empty() || mapping.key.iter().any(|c| c.trim().is_empty()) {
            errors.push("key", "name the column(s) that identify a record");
        }
        if !mapping.fields.contains_key("name") {
            errors.push(
                "fields",
                "map `name`: records without a name cannot be matched and would all be quarantined",
            );
        }
        let tables: HashMap<&str, Arc<HashMap<String, String>>> = mapping
            .code_tables
            .iter()
            .map(|(name, table)| {
                let table = table
                    .iter()
                    .map(|(k, v)| (k.trim().to_owned(), v.clone()))
                    .collect();
                (name.as_str(), Arc::new(table))
            })
            .collect();

        let slots = Slots::of_mapping(mapping);
        let mut fields = Vec::new();
        for (name, spec) in &mapping.fields {
            if let Some(field) = compile_field(name, spec, &tables, &slots, &mut errors) {
                fields.push(field);
            }
        }
        let mut attributes = Vec::new();
        for (name, spec) in &mapping.attributes {
            let label = format!("attributes.{name}");
            if CANONICAL_FIELDS.contains(&name.as_str()) {
                errors.push(
                    &label,
                    format!("`{name}` is a canonical field; map it under [fields]"),
                );
                continue;
            }
            let source = compile_source(
                &label,
                &spec.from.to_vec(),
                None,
                false,
                &slots,
                &mut errors,
            );
            let chain = compile_chain(
                &label,
                &spec.transform,
                spec.map.as_ref(),
                &tables,
                false,
                &mut errors,
            );
            let Some((chain, typed)) = chain else {
                continue;
            };
            let kind = match (spec.kind, typed) {
                (AttributeType::Text | AttributeType::Code, t)
                    if t.is_none_or(|t| STRING_NORMALIZERS.contains(&t)) =>
                {
                    AttributeKind::Text(t)
                }
                (AttributeType::Integer, None | Some(Typed::Integer)) => AttributeKind::Integer,
                (AttributeType::Decimal, None | Some(Typed::Decimal)) => AttributeKind::Decimal,
                (AttributeType::Bool, None | Some(Typed::Bool)) => AttributeKind::Bool,
                (AttributeType::Date, None | Some(Typed::Date)) => AttributeKind::Date,
                (kind, Some(t)) => {
                    let at = typed_step_key(&label, &spec.transform);
                    errors.push(
                        &at,
                        format!(
                            "`{}` does not produce a {} value; drop it or change the attribute's type",
                            t.name(),
                            type_name(kind)
                        ),
                    );
                    continue;
                }
                (_, None) => continue,
            };
            let placeholders = !matches!(kind, AttributeKind::Bool);
            attributes.push(Attribute {
                name: name.clone(),
                label,
                source,
                chain: Chain {
                    placeholders,
                    ..chain
                },
                kind,
            });
        }

        if !errors.list.is_empty() {
            return Err(errors.list);
        }
        Ok(Standardizer {
            name: mapping.name.clone(),
            file: mapping.file.clone(),
            key: mapping
                .key
                .iter()
                .map(|c| (c.clone(), slots.of(c)))
                .collect(),
            updated_at: mapping.updated_at.as_deref().map(|c| slots.of(c)),
            columns: slots.columns,
            sorted_rows: maps_are_sorted(),
            fields,
            attributes,
        })
    }

    /// The mapping's name (its file stem).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The mapping file, for messages.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Every source column the mapping reads, so a connector's header can be
    /// checked against it (a misspelt column would otherwise read as empty
    /// on every row).
    pub fn columns(&self) -> BTreeSet<&str> {
        self.columns.iter().map(String::as_str).collect()
    }
}

/// The sorted list of every column a mapping reads.
struct Slots {
    columns: Vec<String>,
}

impl Slots {
    fn of_mapping(mapping: &Mapping) -> Slots {
        let mut all: BTreeSet<&str> = mapping.key.iter().map(String::as_str).collect();
        all.extend(mapping.updated_at.as_deref());
        for spec in mapping.fields.values() {
            all.extend(column_names(&spec.from));
            all.extend(spec.doc_type_from.as_deref());
        }
        for spec in mapping.attributes.values() {
            all.extend(column_names(&spec.from));
        }
        Slots {
            columns: all.into_iter().map(str::to_owned).collect(),
        }
    }

    /// The slot of `column`, which [`Slots::of_mapping`] collected.
    fn of(&self, column: &str) -> usize {
        self.columns
            .binary_search_by(|c| c.as_str().cmp(column))
            .unwrap_or_default()
    }
}

fn column_names(from: &OneOrMany) -> Vec<&str> {
    match from {
        OneOrMany::One(c) => vec![c.as_str()],
        OneOrMany::Many(cs) => cs.iter().map(String::as_str).collect(),
    }
}

/// Probes whether `serde_json::Map` keeps keys sorted (a `BTreeMap`) or in
/// insertion order (`preserve_order`).
fn maps_are_sorted() -> bool {
    let mut probe = serde_json::Map::new();
    probe.insert("b".into(), serde_json::Value::Null);
    probe.insert("a".into(), serde_json::Value::Null);
    probe.keys().next().is_some_and(|k| k == "a")
}

fn type_name(kind: AttributeType) -> &'static str {
    match kind {
        AttributeType::Text => "text",
        AttributeType::Integer => "integer",
        AttributeType::Decimal => "decimal",
        AttributeType::Bool => "bool",
        AttributeType::Date => "date",
        AttributeType::Code => "code",
    }
}

/// The key of the (last) typed step of a chain, for error messages.
fn typed_step_key(prefix: &str, transforms: &[String]) -> String {
    let i = transforms
        .iter()
        .rposition(|t| Typed::from_name(parse_transform(t).0).is_some())
        .unwrap_or(0);
    format!("{prefix}.transform[{i}]")
}

fn compile_field(
    name: &str,
    spec: &FieldSpec,
    tables: &HashMap<&str, Arc<HashMap<String, String>>>,
    slots: &Slots,
    errors: &mut Errors<'_>,
) -> Option<Field> {
    let prefix = format!("fields.{name}");
    let Some(&field_name) = CANONICAL_FIELDS.iter().find(|f| **f == name) else {
        errors.push(&prefix, format!("unknown canonical field `{name}`"));
        return None;
    };
    let list = LIST_FIELDS.contains(&field_name);
    let source = compile_source(
        &prefix,
        &spec.from.to_vec(),
        spec.join.as_deref(),
        list,
        slots,
        errors,
    );
    let (mut chain, typed) = compile_chain(
        &prefix,
        &spec.transform,
        spec.map.as_ref(),
        tables,
        list,
        errors,
    )?;
    let accepted = accepted_by_field(field_name);
    if let Some(t) = typed {
        if !accepted.contains(&t) {
            let fits = match accepted {
                [] => format!("`{field_name}` is kept as text and takes no typed transform"),
                _ => format!(
                    "`{field_name}` takes {}",
                    accepted
                        .iter()
                        .map(|t| format!("`{}`", t.name()))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            };
            errors.push(
                &typed_step_key(&prefix, &spec.transform),
                format!("`{}` cannot normalize `{field_name}`: {fits}", t.name()),
            );
            return None;
        }
    }
    if spec.doc_type_from.is_some() && field_name != "id_number" {
        errors.push(
            &format!("{prefix}.doc_type_from"),
            "only id_number has a document type",
        );
    }
    let fallback = match spec.fallback.as_deref() {
        None => false,
        Some("id_number") if matches!(field_name, "birth_date" | "sex") => true,
        Some(other) => {
            errors.push(
                &format!("{prefix}.fallback"),
                format!(
                    "only birth_date and sex can fall back, and only to `id_number` (got `{other}`)"
                ),
            );
            false
        }
    };
    let target = match field_name {
        "id_number" => Target::IdNumber {
            doc_type: spec.doc_type_from.as_deref().map(|c| slots.of(c)),
        },
        "name" => Target::Name,
        "former_names" => Target::FormerNames,
        "sex" => Target::Sex { fallback },
        "birth_date" => Target::BirthDate { fallback },
        "ethnicity" => Target::Ethnicity,
        "phones" => Target::Phones {
            each_one: typed == Some(Typed::Phone),
        },
        "registered_address" => Target::RegisteredAddress,
        "current_address" => Target::CurrentAddress,
        "household_id" => Target::HouseholdId,
        "relation_to_head" => Target::RelationToHead,
        "deceased" => Target::Deceased,
        "moved_out" => Target::MovedOut,
        _ => {
            errors.push(&prefix, format!("`{field_name}` is not supported yet"));
            return None;
        }
    };
    chain.placeholders = !matches!(target, Target::Deceased | Target::MovedOut);
    Some(Field {
        name: field_name,
        source,
        chain,
        target,
    })
}

fn compile_source(
    prefix: &str,
    columns: &[String],
    join: Option<&str>,
    list: bool,
    slots: &Slots,
    errors: &mut Errors<'_>,
) -> Source {
    if columns.is_empty() || columns.iter().any(|c| c.trim().is_empty()) {
        errors.push(&format!("{prefix}.from"), "name at least one source column");
    }
    Source {
        slots: columns.iter().map(|c| slots.of(c)).collect(),
        join: join.unwrap_or_default().to_owned(),
        as_list: list && join.is_none() && columns.len() > 1,
    }
}

/// Compiles the inline map and the transform list; returns the chain and
/// its typed normalizer, if it names one (which must come last).
fn compile_chain(
    prefix: &str,
    transforms: &[String],
    map: Option<&BTreeMap<String, String>>,
    tables: &HashMap<&str, Arc<HashMap<String, String>>>,
    list: bool,
    errors: &mut Errors<'_>,
) -> Option<(Chain, Option<Typed>)> {
    let before = errors.list.len();
    let mut steps = Vec::new();
    let mut typed: Option<Typed> = None;
    for (i, text) in transforms.iter().enumerate() {
        let at = format!("{prefix}.transform[{i}]");
        let (name, arg) = parse_transform(text);
        if let Some(t) = Typed::from_name(name) {
            if arg.is_some() {
                errors.push(&at, format!("`{name}` takes no argument"));
            } else if let Some(first) = typed {
                errors.push(
                    &at,
                    format!(
                        "a chain has one typed transform; `{}` already comes before `{name}`",
                        first.name()
                    ),
                );
            } else if i + 1 != transforms.len() {
                errors.push(
                    &at,
                    format!("`{name}` turns the text into a typed value, so it must come last"),
                );
            }
            typed = typed.or(Some(t));
            continue;
        }
        let step = match (name, arg) {
            ("trim", None) => Step::Trim,
            ("upper", None) => Step::Upper,
            ("lower", None) => Step::Lower,
            ("collapse_whitespace", None) => Step::CollapseWhitespace,
            ("split", Some(sep)) => {
                let sep = unquote(sep);
                if sep.is_empty() {
                    errors.push(&at, "`split` needs a non-empty separator");
                    continue;
                }
                if !list {
                    errors.push(
                        &at,
                        "`split` makes a list; only phones and former_names hold several values",
                    );
                    continue;
                }
                Step::Split(sep.to_owned())
            }
            ("regex", Some(pattern)) => match Regex::new(unquote(pattern)) {
                Ok(re) => Step::Regex(re),
                Err(e) => {
                    errors.push(&at, format!("invalid regex: {e}"));
                    continue;
                }
            },
            ("code_table", Some(table)) => match tables.get(table.trim()) {
                Some(t) => Step::CodeTable {
                    name: table.trim().to_owned(),
                    table: Arc::clone(t),
                },
                None => {
                    errors.push(&at, format!("no code table `{table}` in [code_tables]"));
                    continue;
                }
            },
            ("default", Some(value)) => Step::Default(unquote(value).to_owned()),
            ("trim" | "upper" | "lower" | "collapse_whitespace", Some(_)) => {
                errors.push(&at, format!("`{name}` takes no argument"));
                continue;
            }
            ("split" | "regex" | "code_table" | "default", None) => {
                errors.push(&at, format!("`{name}` needs an argument: {name}(…)"));
                continue;
            }
            _ => {
                errors.push(&at, format!("unknown transform `{name}`"));
                continue;
            }
        };
        steps.push(step);
    }
    if errors.list.len() > before {
        return None;
    }
    let map = map.map(|m| {
        m.iter()
            .map(|(k, v)| (k.trim().to_owned(), v.clone()))
            .collect()
    });
    Some((
        Chain {
            map,
            steps,
            placeholders: true,
        },
        typed,
    ))
}

/// `split(",")` and `split(,)` mean the same; quotes let an operator write
/// a separator that is a blank or a parenthesis.
fn unquote(arg: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = arg.strip_prefix(q).and_then(|rest| rest.strip_suffix(q)) {
            return inner;
        }
    }
    arg
}

/// Compiles every mapping; errors of all of them are reported together.
pub fn compile_all(
    mappings: &BTreeMap<String, Mapping>,
) -> Result<BTreeMap<String, Standardizer>, Vec<ConfigError>> {
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    for (name, mapping) in mappings {
        match Standardizer::compile(mapping) {
            Ok(s) => {
                out.insert(name.clone(), s);
            }
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(fields: &[(&str, &str, &[&str])]) -> Mapping {
        let mut m = Mapping {
            name: "t".into(),
            file: PathBuf::from("mappings/t.toml"),
            description: None,
            key: vec!["K".into()],
            updated_at: None,
            code_tables: BTreeMap::from([(
                "lb".to_owned(),
                BTreeMap::from([("1".to_owned(), "低保".to_owned())]),
            )]),
            fields: BTreeMap::new(),
            attributes: BTreeMap::new(),
            trust: BTreeMap::new(),
            push: None,
            examples: Vec::new(),
        };
        for (field, from, transform) in fields {
            m.fields.insert(
                (*field).to_owned(),
                FieldSpec {
                    from: OneOrMany::One((*from).to_owned()),
                    join: None,
                    transform: transform.iter().map(|t| (*t).to_owned()).collect(),
                    map: None,
                    doc_type_from: None,
                    fallback: None,
                },
            );
        }
        m
    }

    fn errors(m: &Mapping) -> Vec<String> {
        Standardizer::compile(m)
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn compiles_and_is_send_sync() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Standardizer>();
        let s = Standardizer::compile(&mapping(&[
            ("name", "XM", &["trim", "name"]),
            ("phones", "DH", &["split(;)", "phone"]),
        ]))
        .unwrap();
        assert_eq!(
            s.columns().into_iter().collect::<Vec<_>>(),
            ["DH", "K", "XM"]
        );
    }

    #[test]
    fn bad_regex_names_file_and_key() {
        let e = errors(&mapping(&[("name", "XM", &["trim", "regex(([a-z)"])]));
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("mappings/t.toml: key `fields.name.transform[1]`: invalid regex"),
            "{}",
            e[0]
        );
    }

    #[test]
    fn typed_step_must_fit_the_field() {
        let e = errors(&mapping(&[
            ("name", "XM", &["name"]),
            ("phones", "DH", &["date"]),
            ("household_id", "HH", &["integer"]),
        ]));
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(
            e[0].contains("key `fields.household_id.transform[0]`"),
            "{}",
            e[0]
        );
        assert!(e[0].contains("kept as text"), "{}", e[0]);
        assert!(
            e[1].contains("key `fields.phones.transform[0]`"),
            "{}",
            e[1]
        );
        assert!(
            e[1].contains("`phones` takes `phones` or `phone`"),
            "{}",
            e[1]
        );
    }

    #[test]
    fn typed_step_comes_last_and_once() {
        let e = errors(&mapping(&[("name", "XM", &["name", "trim"])]));
        assert!(e[0].contains("must come last"), "{e:?}");
        let e = errors(&mapping(&[
            ("sex", "XB", &["sex", "sex"]),
            ("name", "XM", &[]),
        ]));
        assert!(e.iter().any(|e| e.contains("one typed transform")), "{e:?}");
    }

    #[test]
    fn split_only_for_lists_and_arguments_checked() {
        let e = errors(&mapping(&[(
            "name",
            "XM",
            &[
                "split(/)",
                "trim(x)",
                "default",
                "code_table(nope)",
                "frobnicate",
            ],
        )]));
        assert_eq!(e.len(), 5, "{e:?}");
        assert!(e[0].contains("only phones and former_names"));
        assert!(e[1].contains("takes no argument"));
        assert!(e[2].contains("needs an argument"));
        assert!(e[3].contains("no code table `nope`"));
        assert!(e[4].contains("unknown transform `frobnicate`"));
    }

    #[test]
    fn attribute_types_are_checked() {
        let mut m = mapping(&[("name", "XM", &[])]);
        let attr = |kind, transform: &[&str]| crate::config::mapping::AttributeSpec {
            from: OneOrMany::One("A".into()),
            kind,
            transform: transform.iter().map(|t| (*t).to_owned()).collect(),
            map: None,
        };
        m.attributes.insert(
            "grade".into(),
            attr(AttributeType::Integer, &["trim", "integer"]),
        );
        m.attributes
            .insert("doctor".into(), attr(AttributeType::Text, &["name"]));
        assert!(Standardizer::compile(&m).is_ok());
        m.attributes
            .insert("opened".into(), attr(AttributeType::Bool, &["date"]));
        let e = errors(&m);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].contains("attributes.opened.transform[0]"), "{}", e[0]);
    }

    #[test]
    fn unquoting() {
        assert_eq!(unquote("\" \""), " ");
        assert_eq!(unquote("'、'"), "、");
        assert_eq!(unquote(";"), ";");
        assert_eq!(unquote("\""), "\"");
    }
}
