//! Standardizing one raw row: the canonical record plus every problem
//! found, or quarantine when the row lacks what matching needs. Invalid
//! values are kept the way the model keeps them (an identity number with a
//! bad check digit stays, with its reason); nothing is silently fixed or
//! dropped.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::compile::{Attribute, AttributeKind, Chain, Field, Source, Standardizer, Target};
use super::raw::{cell_text, elements, is_placeholder, normalize_timestamp};
use super::steps::{apply_map, Val};
use super::typed::{
    date_problem, name_problem, parse_bool, parse_decimal, parse_integer, unknown_value, Typed,
};
use crate::model::text::is_blank;
use crate::model::{
    parse_phones, Address, Ethnicity, FieldProblem, IdDocument, PartialDate, PersonName, Phone,
    Relationship, ResidentRecord, Sex,
};

/// A row that can be staged: the record and what was wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardized {
    /// The key columns' values as text, `|`-joined for composite keys.
    pub source_key: String,
    pub record: ResidentRecord,
    /// Per-field problems (`id_number: bad check digit: expected X, found 3`).
    pub problems: Vec<FieldProblem>,
    /// The source's own last-modified time, `YYYY-MM-DD HH:MM:SS` where it
    /// could be read, the raw text otherwise.
    pub source_updated_at: Option<String>,
}

/// What became of one raw row.
///
/// Nearly every row is staged, so boxing the large variant would only add
/// an allocation per row.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Staged, even with problems.
    Staged(Standardized),
    /// Lacks what matching needs: no usable name, nothing identifying at
    /// all, or no source key. The reasons say exactly what, followed by the
    /// row's other problems.
    Quarantined {
        /// `None` when a key column is empty.
        source_key: Option<String>,
        reasons: Vec<String>,
    },
}

impl Outcome {
    pub fn source_key(&self) -> Option<&str> {
        match self {
            Outcome::Staged(s) => Some(&s.source_key),
            Outcome::Quarantined { source_key, .. } => source_key.as_deref(),
        }
    }

    pub fn is_quarantined(&self) -> bool {
        matches!(self, Outcome::Quarantined { .. })
    }
}

/// Problems of one row, each under its field.
struct Problems(Vec<FieldProblem>);

impl Problems {
    fn push(&mut self, field: &str, problem: impl std::fmt::Display) {
        self.0.push(FieldProblem::new(field, problem));
    }

    /// Runs `f` with a scratch list of messages and files them under `field`.
    fn under<T>(&mut self, field: &str, f: impl FnOnce(&mut Vec<String>) -> T) -> T {
        let mut messages = Vec::new();
        let out = f(&mut messages);
        for m in messages {
            self.push(field, m);
        }
        out
    }
}

impl Standardizer {
    /// Standardizes one raw row (column → JSON value).
    pub fn standardize(&self, raw: &Map<String, Value>) -> Outcome {
        // Cells live on the stack for any realistic mapping.
        let mut stack = [None; 48];
        let mut heap = Vec::new();
        let cells: &mut [Option<&Value>] = match stack.get_mut(..self.columns.len()) {
            Some(cells) => cells,
            None => {
                heap.resize(self.columns.len(), None);
                &mut heap
            }
        };
        self.fill_cells(raw, cells);
        let raw: &Cells<'_> = cells;
        let mut reasons = Vec::new();
        let source_key = self.source_key(raw, &mut reasons);
        let source_updated_at = self
            .updated_at
            .and_then(|slot| cell(raw, slot))
            .and_then(cell_text)
            .map(|t| normalize_timestamp(&t));

        let mut record = ResidentRecord::default();
        let mut problems = Problems(Vec::new());
        for field in &self.fields {
            field.apply(raw, &mut record, &mut problems);
        }
        for field in &self.fields {
            field.fall_back(&mut record, &mut problems);
        }
        for attribute in &self.attributes {
            attribute.apply(raw, &mut record, &mut problems);
        }

        if record.name.is_none() {
            let name_problems: Vec<&FieldProblem> =
                problems.0.iter().filter(|p| p.field == "name").collect();
            if name_problems.is_empty() {
                reasons.push("name: missing".to_owned());
            } else {
                reasons.extend(name_problems.iter().map(ToString::to_string));
            }
        }
        let identifying = record.id_document.is_some()
            || record.birth_date.is_some()
            || record.phones.iter().any(Phone::is_recognized);
        if !identifying {
            reasons.push("nothing identifying: no identity number, birth date or phone".to_owned());
        }

        match source_key {
            Some(source_key) if reasons.is_empty() => Outcome::Staged(Standardized {
                source_key,
                record,
                problems: problems.0,
                source_updated_at,
            }),
            source_key => {
                reasons.extend(
                    problems
                        .0
                        .iter()
                        .filter(|p| p.field != "name")
                        .map(ToString::to_string),
                );
                Outcome::Quarantined {
                    source_key,
                    reasons,
                }
            }
        }
    }

    /// Fills `cells` (one per mapped column) from the row: one merge pass
    /// over a key-ordered row instead of a tree search per column.
    fn fill_cells<'a>(&self, raw: &'a Map<String, Value>, cells: &mut [Option<&'a Value>]) {
        if self.sorted_rows && raw.len() <= 4 * self.columns.len() + 16 {
            let mut slot = 0;
            for (key, value) in raw {
                while let Some(column) = self.columns.get(slot) {
                    // Rows usually hold exactly the mapped columns, so
                    // equality is the common case and checked first.
                    if column == key {
                        if let Some(c) = cells.get_mut(slot) {
                            *c = Some(value);
                        }
                        slot += 1;
                        break;
                    }
                    if column.as_str() > key.as_str() {
                        break;
                    }
                    slot += 1;
                }
                if slot == self.columns.len() {
                    break;
                }
            }
        } else {
            for (c, column) in cells.iter_mut().zip(&self.columns) {
                *c = raw.get(column);
            }
        }
    }

    fn source_key(&self, raw: &[Option<&Value>], reasons: &mut Vec<String>) -> Option<String> {
        let mut key = String::new();
        let mut complete = true;
        for (i, (column, slot)) in self.key.iter().enumerate() {
            let text = cell(raw, *slot).and_then(cell_text);
            let text = text.as_deref().map(|t| t.trim_matches(is_blank));
            match text {
                Some(t) if !t.is_empty() => {
                    if i > 0 {
                        key.push('|');
                    }
                    key.push_str(t);
                }
                _ => {
                    complete = false;
                    reasons.push(format!("key: column {column} is empty"));
                }
            }
        }
        complete.then_some(key)
    }
}

/// A row resolved to the mapping's columns, by slot.
type Cells<'a> = [Option<&'a Value>];

fn cell<'a>(raw: &Cells<'a>, slot: usize) -> Option<&'a Value> {
    raw.get(slot).copied().flatten()
}

/// Reads a source's columns into a value, before any step.
fn gather<'a>(raw: &Cells<'a>, source: &Source, chain: &Chain) -> Val<'a> {
    let usable = |t: &Cow<'_, str>| {
        !(chain.placeholders
            && is_placeholder(t)
            && !chain
                .map
                .as_ref()
                .is_some_and(|m| m.contains_key(t.trim_matches(is_blank))))
    };
    if let [slot] = source.slots.as_slice() {
        return match cell(raw, *slot) {
            Some(Value::Array(items)) => {
                Val::many(elements(items).into_iter().filter(usable).collect())
            }
            Some(v) => match cell_text(v) {
                Some(t) if usable(&t) => Val::one(t),
                _ => Val::Empty,
            },
            None => Val::Empty,
        };
    }
    let mut parts: Vec<Cow<'a, str>> = Vec::with_capacity(source.slots.len());
    for slot in &source.slots {
        match cell(raw, *slot) {
            Some(Value::Array(items)) => parts.extend(elements(items).into_iter().filter(usable)),
            Some(v) => parts.extend(cell_text(v).filter(usable)),
            None => {}
        }
    }
    if source.as_list {
        return Val::many(parts);
    }
    let joined: Vec<&str> = parts.iter().map(|p| p.trim_matches(is_blank)).collect();
    Val::one(Cow::Owned(joined.join(&source.join)))
}

/// Gathers and runs the chain (inline map, then text steps).
fn text_value<'a>(
    raw: &Cells<'a>,
    source: &Source,
    chain: &Chain,
    messages: &mut Vec<String>,
) -> Val<'a> {
    let mut value = gather(raw, source, chain);
    if let Some(map) = &chain.map {
        value = apply_map(map, value);
    }
    for step in &chain.steps {
        value = step.apply(value, messages);
    }
    value
}

/// The single text of a value; a list (only possible for list fields)
/// never reaches here, but would read as its first element.
fn single(value: Val<'_>) -> Option<Cow<'_, str>> {
    match value {
        Val::Empty => None,
        Val::One(t) => Some(t),
        Val::Many(items) => items.into_iter().next(),
    }
}

fn values(value: Val<'_>) -> Vec<Cow<'_, str>> {
    match value {
        Val::Empty => Vec::new(),
        Val::One(t) => vec![t],
        Val::Many(items) => items,
    }
}

/// Separators between several former names typed into one cell. Not `·`,
/// which separates the parts of one minority name.
const NAME_LIST_SEPARATORS: &[char] = &['、', ',', '，', ';', '；', '/', '|'];

impl Field {
    fn apply(&self, raw: &Cells<'_>, record: &mut ResidentRecord, problems: &mut Problems) {
        let field = self.name;
        let value = problems.under(field, |m| text_value(raw, &self.source, &self.chain, m));
        match &self.target {
            Target::IdNumber { doc_type } => {
                let Some(number) = single(value) else { return };
                let doc_type = doc_type
                    .and_then(|slot| cell(raw, slot))
                    .and_then(cell_text);
                let doc = IdDocument::parse(doc_type.as_deref(), &number);
                if let IdDocument::Invalid(bad) = &doc {
                    problems.push(field, &bad.problem);
                }
                record.id_document = Some(doc);
            }
            Target::Name => {
                let Some(text) = single(value) else { return };
                match PersonName::parse(&text) {
                    Ok(name) => record.name = Some(name),
                    Err(e) => problems.push(field, name_problem(&text, &e)),
                }
            }
            Target::FormerNames => {
                let items = values(value);
                let split = items.len() == 1;
                for item in &items {
                    let pieces: Vec<&str> = if split {
                        item.split(NAME_LIST_SEPARATORS).collect()
                    } else {
                        vec![item]
                    };
                    for piece in pieces.into_iter().filter(|p| !p.chars().all(is_blank)) {
                        match PersonName::parse(piece) {
                            Ok(name) if !record.former_names.contains(&name) => {
                                record.former_names.push(name);
                            }
                            Ok(_) => {}
                            Err(e) => problems.push(field, name_problem(piece, &e)),
                        }
                    }
                }
            }
            Target::Sex { .. } => {
                let Some(text) = single(value) else { return };
                match Sex::parse(&text) {
                    Ok(sex) => record.sex = Some(sex),
                    Err(_) => problems.push(field, unknown_value(&text)),
                }
            }
            Target::BirthDate { .. } => {
                let Some(text) = single(value) else { return };
                match PartialDate::parse(&text) {
                    Ok(d) => record.birth_date = Some(d),
                    Err(e) => problems.push(field, date_problem(&text, &e)),
                }
            }
            Target::Ethnicity => {
                let Some(text) = single(value) else { return };
                match Ethnicity::parse(&text) {
                    Ok(e) => record.ethnicity = Some(e),
                    Err(_) => problems.push(field, unknown_value(&text)),
                }
            }
            Target::Phones { each_one } => {
                for item in values(value) {
                    let parsed = if *each_one {
                        vec![Phone::parse(&item)]
                    } else {
                        parse_phones(&item)
                    };
                    for phone in parsed {
                        if !phone.is_recognized() {
                            problems.push(
                                field,
                                format!("{:?} is not a phone number", phone.canonical()),
                            );
                        }
                        if !record.phones.contains(&phone) {
                            record.phones.push(phone);
                        }
                    }
                }
            }
            Target::RegisteredAddress | Target::CurrentAddress => {
                let Some(text) = single(value) else { return };
                let address = Address::parse(&text);
                if address.is_empty() {
                    return;
                }
                if matches!(self.target, Target::RegisteredAddress) {
                    record.registered_address = Some(address);
                } else {
                    record.current_address = Some(address);
                }
            }
            Target::HouseholdId => {
                if let Some(text) = single(value) {
                    record.household_id = Some(text.trim_matches(is_blank).to_owned());
                }
            }
            Target::RelationToHead => {
                let Some(text) = single(value) else { return };
                match Relationship::parse(&text) {
                    Ok(r) => record.relation_to_head = Some(r),
                    Err(_) => problems.push(field, unknown_value(&text)),
                }
            }
            Target::Deceased | Target::MovedOut => {
                let Some(text) = single(value) else { return };
                match parse_bool(&text) {
                    Ok(b) if matches!(self.target, Target::Deceased) => record.deceased = Some(b),
                    Ok(b) => record.moved_out = Some(b),
                    Err(e) => problems.push(field, e),
                }
            }
        }
    }

    /// `fallback = "id_number"`: fills an empty sex or birth date from a
    /// valid identity number, and flags a source value that disagrees with
    /// it (kept: a day–month swap is exactly what the matcher must see).
    fn fall_back(&self, record: &mut ResidentRecord, problems: &mut Problems) {
        let Some(id) = record.valid_id() else { return };
        match self.target {
            Target::BirthDate { fallback: true } => {
                let from_id = PartialDate::from(id.birth_date());
                match record.birth_date {
                    None => record.birth_date = Some(from_id),
                    Some(d) => {
                        let agrees = d.year() == from_id.year()
                            && d.month() == from_id.month()
                            && d.day().is_none_or(|day| Some(day) == from_id.day());
                        if !agrees {
                            problems.push(
                                self.name,
                                format!("{d} disagrees with the identity number ({from_id})"),
                            );
                        }
                    }
                }
            }
            Target::Sex { fallback: true } => {
                let from_id = id.sex();
                match record.sex {
                    None | Some(Sex::Unknown) => record.sex = Some(from_id),
                    Some(s) if s != from_id && s != Sex::Unspecified => problems.push(
                        self.name,
                        format!(
                            "{} ({}) disagrees with the identity number ({} {})",
                            s.code(),
                            s.label_zh(),
                            from_id.code(),
                            from_id.label_zh()
                        ),
                    ),
                    Some(_) => {}
                }
            }
            _ => {}
        }
    }
}

impl Attribute {
    fn apply(&self, raw: &Cells<'_>, record: &mut ResidentRecord, problems: &mut Problems) {
        let label = self.label.as_str();
        let value = problems.under(label, |m| text_value(raw, &self.source, &self.chain, m));
        let Some(text) = single(value) else { return };
        let parsed: Result<Value, String> = match self.kind {
            AttributeKind::Text(typed) => text_attribute(&text, typed),
            AttributeKind::Integer => parse_integer(&text).map(Value::from),
            AttributeKind::Decimal => parse_decimal(&text).map(Value::from),
            AttributeKind::Bool => parse_bool(&text).map(Value::Bool),
            AttributeKind::Date => PartialDate::parse(&text)
                .map(|d| Value::String(d.to_string()))
                .map_err(|e| date_problem(&text, &e)),
        };
        match parsed {
            Ok(Value::String(s)) if s.is_empty() => {}
            Ok(v) => {
                record.attributes.insert(self.name.clone(), v);
            }
            Err(e) => problems.push(label, e),
        }
    }
}

/// A text or code attribute, optionally cleaned by a string-valued
/// normalizer.
fn text_attribute(text: &str, typed: Option<Typed>) -> Result<Value, String> {
    let s = match typed {
        None => text.trim_matches(is_blank).to_owned(),
        Some(Typed::IdNumber) => match IdDocument::parse(None, text) {
            IdDocument::Invalid(bad) => return Err(bad.problem.to_string()),
            doc => doc.number().to_owned(),
        },
        Some(Typed::Name) => PersonName::parse(text)
            .map_err(|e| name_problem(text, &e))?
            .normalized()
            .to_owned(),
        Some(Typed::Sex) => Sex::parse(text)
            .map_err(|_| unknown_value(text))?
            .code()
            .to_string(),
        Some(Typed::Ethnicity) => Ethnicity::parse(text)
            .map_err(|_| unknown_value(text))?
            .code()
            .to_owned(),
        Some(Typed::Relationship) => Relationship::parse(text)
            .map_err(|_| unknown_value(text))?
            .code(),
        Some(Typed::Address) => Address::parse(text).normalized().to_owned(),
        Some(Typed::Phone) => {
            let phone = Phone::parse(text);
            if !phone.is_recognized() {
                return Err(format!("{:?} is not a phone number", phone.canonical()));
            }
            phone.canonical()
        }
        // Rejected at compile time for text attributes.
        Some(other) => return Err(format!("`{}` does not produce text", other.name())),
    };
    Ok(Value::String(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mapping;
    use serde_json::json;

    fn standardizer() -> Standardizer {
        let text =
            "key = \"b\"\n[fields]\nname = { from = \"d\" }\nphones = { from = [\"a\", \"f\"] }\n";
        let doc = crate::config::document::parse(std::path::Path::new("m.toml"), text).unwrap();
        Standardizer::compile(&Mapping::resolve("m", doc).unwrap()).unwrap()
    }

    #[test]
    fn cells_resolve_with_extra_and_missing_columns() {
        let mut s = standardizer();
        let row =
            json!({"0": 1, "a": "13812345678", "b": "k", "c": "x", "d": "张伟", "e": 2, "zz": 3});
        let row = row.as_object().unwrap();
        for sorted in [true, false] {
            s.sorted_rows = sorted;
            let mut cells = vec![None; s.columns.len()];
            s.fill_cells(row, &mut cells);
            assert_eq!(s.columns, ["a", "b", "d", "f"]);
            assert_eq!(
                cells,
                [
                    Some(&json!("13812345678")),
                    Some(&json!("k")),
                    Some(&json!("张伟")),
                    None
                ]
            );
            let Outcome::Staged(st) = s.standardize(row) else {
                panic!("quarantined")
            };
            assert_eq!(st.source_key, "k");
        }
    }
}
