//! The golden record of one master: the best-known value of every field,
//! chosen from the master's source records by the survivorship rules, with
//! where each value came from, every distinct value of the fields people
//! have several of, the conflicts a steward should look at, and what each
//! source lacks that the others know.
//!
//! Pure and deterministic: the same records in any order give the same
//! golden record (ties fall back to source name, then source key), so
//! recomputing an unchanged master changes nothing.
//!
//! Stored compactly: each record of the master is named once in
//! [`Golden::records`] (sorted by source, then key), and provenance and
//! every sighting refer to it by index.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::survivorship::{GoldenField, Rule, Survivorship};
use crate::model::{
    Address, DatePrecision, IdDocument, PartialDate, PersonName, Phone, ResidentRecord, Sex,
    ValidIdNumber,
};

/// Provenance rule when every record holding the field agrees.
pub const UNANIMOUS: &str = "unanimous";
/// Provenance rule when the whole chain tied and source name, then key,
/// decided.
pub const SOURCE_ORDER: &str = "source_order";

/// One staged record of the master, as the builder sees it.
#[derive(Debug, Clone, Copy)]
pub struct SourceRecord<'a> {
    /// Connector name.
    pub source: &'a str,
    /// The connector's department (`civil_affairs`, `health`, `hr`,
    /// `governance`, `other`), which `source_priority` may name instead.
    pub department: &'a str,
    /// The record's key in its source.
    pub source_key: &'a str,
    /// When the source last changed the record (its business timestamp,
    /// not when yici pulled it): what `most_recent` compares.
    pub updated_at: Option<DateTime<Utc>>,
    pub record: &'a ResidentRecord,
}

/// One record of the master, named once; sightings and provenance refer to
/// it by its index in [`Golden::records`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoldenSource {
    /// Connector name.
    pub source: String,
    /// The record's key in its source.
    pub key: String,
    /// The record's business timestamp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
}

impl std::fmt::Display for GoldenSource {
    /// `source:key`, as [`Golden::attributes`] and record references spell it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.source, self.key)
    }
}

/// Where a golden value came from and which rule chose it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// Index into [`Golden::records`] (see [`Golden::provenance_source`]).
    pub record: u32,
    /// A [`Rule`] name, [`UNANIMOUS`] or [`SOURCE_ORDER`].
    pub rule: String,
}

/// A distinct value and every record it was seen in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seen<T = Value> {
    pub value: T,
    /// Indices into [`Golden::records`], ascending (see [`Golden::sources`]).
    pub seen: Vec<u32>,
}

/// What kind of disagreement a steward should resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// Two distinct valid identity numbers: perhaps two people.
    DifferentIdNumbers,
    /// Two distinct birth dates known to the day.
    DifferentBirthDates,
    /// One record says male, another female.
    DifferentSex,
    /// A record says deceased, and another source changed its record of the
    /// person later without saying so.
    DeceasedButActive,
}

impl ConflictKind {
    /// The stored name (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictKind::DifferentIdNumbers => "different_id_numbers",
            ConflictKind::DifferentBirthDates => "different_birth_dates",
            ConflictKind::DifferentSex => "different_sex",
            ConflictKind::DeceasedButActive => "deceased_but_active",
        }
    }
}

/// A disagreement survivorship decided but a steward should confirm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    pub field: String,
    pub kind: ConflictKind,
    /// The disagreeing values (in the record's JSON form), best first.
    pub values: Vec<Seen>,
}

/// A master's golden record, stored as JSON and shown to stewards.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Golden {
    /// The surviving value per field; `phones` and `former_names` hold every
    /// distinct value, best first; `attributes` stays empty (see
    /// [`Golden::attributes`]).
    #[serde(skip_serializing_if = "ResidentRecord::is_empty")]
    pub record: ResidentRecord,
    /// The master's records, sorted by source, then key: what
    /// [`Provenance::record`] and [`Seen::seen`] index.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<GoldenSource>,
    /// Field name → where its value (the first one, for lists) came from.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub provenance: BTreeMap<String, Provenance>,
    /// Every distinct identity document, best first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub id_numbers: Vec<Seen<IdDocument>>,
    /// Every distinct name (by simplified form), best first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<Seen<PersonName>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<Seen<Phone>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub former_names: Vec<Seen<PersonName>>,
    /// Every distinct registered address, best (the golden one) first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub registered_addresses: Vec<Seen<Address>>,
    /// Every distinct current address, best (the golden one) first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub current_addresses: Vec<Seen<Address>>,
    /// `source:key` → that record's department attributes, never blended.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, BTreeMap<String, Value>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<Conflict>,
    /// Source → how many fields of its records are empty where the golden
    /// record has a value: what the other departments can fill in.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fills: BTreeMap<String, u64>,
}

/// The kinds of keys a golden record can be found by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchKey {
    /// A valid 18-digit identity number.
    Id,
    /// A name or former name in simplified characters.
    Name,
    /// Toneless pinyin without spaces (`zhangwei`).
    Pinyin,
    /// A phone's comparison form.
    Phone,
}

impl SearchKey {
    /// The stored name (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            SearchKey::Id => "id",
            SearchKey::Name => "name",
            SearchKey::Pinyin => "pinyin",
            SearchKey::Phone => "phone",
        }
    }
}

impl Golden {
    /// The record at `index` in [`Golden::records`].
    pub fn source_of(&self, index: u32) -> Option<&GoldenSource> {
        self.records.get(usize::try_from(index).ok()?)
    }

    /// The record the golden value of `field` (a [`GoldenField`] name) came
    /// from.
    pub fn provenance_source(&self, field: &str) -> Option<&GoldenSource> {
        self.source_of(self.provenance.get(field)?.record)
    }

    /// The records a value was seen in ([`Seen::seen`]), skipping indices
    /// out of range.
    pub fn sources<'g>(&'g self, seen: &'g [u32]) -> impl Iterator<Item = &'g GoldenSource> + 'g {
        seen.iter().filter_map(|&i| self.source_of(i))
    }

    /// Every key a steward may search this master by: all values seen, not
    /// only the golden ones, so an old phone or a former name still finds
    /// the person.
    pub fn search_keys(&self) -> BTreeSet<(SearchKey, String)> {
        let mut keys = BTreeSet::new();
        for id in &self.id_numbers {
            if let Some(valid) = id.value.valid() {
                keys.insert((SearchKey::Id, valid.as_str().to_owned()));
            }
        }
        for name in self.names.iter().chain(&self.former_names) {
            keys.extend(name_search_keys(&name.value));
        }
        for phone in &self.phones {
            keys.insert((SearchKey::Phone, phone.value.canonical()));
        }
        keys
    }
}

/// The keys a name is stored and searched under: its simplified form and
/// its toneless pinyin without spaces. One function for both sides, so a
/// search for `張偉` finds a master stored as `张伟`.
pub fn name_search_keys(name: &PersonName) -> Vec<(SearchKey, String)> {
    let mut keys = vec![(SearchKey::Name, name.folded().to_owned())];
    let pinyin: String = name
        .pinyin()
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    if !pinyin.is_empty() {
        keys.push((SearchKey::Pinyin, pinyin));
    }
    keys
}

/// Builds the golden record of the master holding `records`.
pub fn build(records: &[SourceRecord<'_>], rules: &Survivorship) -> Golden {
    let mut records = records.to_vec();
    records.sort_by(canonical_order);
    let valid_ids: Vec<&ValidIdNumber> =
        records.iter().filter_map(|r| r.record.valid_id()).collect();
    let ctx = Ctx {
        records: &records,
        rules,
        valid_ids,
    };
    let mut golden = Golden {
        records: records
            .iter()
            .map(|r| GoldenSource {
                source: r.source.to_owned(),
                key: r.source_key.to_owned(),
                at: r.updated_at,
            })
            .collect(),
        ..Golden::default()
    };

    let ids = ctx.rank(
        GoldenField::IdNumber,
        ctx.single(|r| r.id_document.as_ref()),
        |d| d.number().to_owned(),
        |d| match d {
            IdDocument::Valid(_) => 2,
            IdDocument::Other { .. } => 1,
            IdDocument::Invalid(_) => 0,
        },
        |d| i64::from(d.valid().is_some_and(|v| !v.was_upgraded_from_15())),
    );
    let names = ctx.rank(
        GoldenField::Name,
        ctx.single(|r| r.name.as_ref()),
        |n| n.folded().to_owned(),
        |_| 0,
        |_| 0,
    );
    let former_names = ctx.rank(
        GoldenField::FormerNames,
        ctx.multi(|r| &r.former_names),
        |n| n.folded().to_owned(),
        |_| 0,
        |_| 0,
    );
    let sex = ctx.rank(
        GoldenField::Sex,
        ctx.single(|r| r.sex.as_ref()),
        |s| s.code().to_string(),
        |s| ctx.sex_validity(*s),
        |_| 0,
    );
    let birth_date = ctx.rank(
        GoldenField::BirthDate,
        ctx.single(|r| r.birth_date.as_ref()),
        PartialDate::to_string,
        |d| i64::from(ctx.agrees_with_id(d)),
        |d| match d.precision() {
            DatePrecision::Day => 2,
            DatePrecision::Month => 1,
        },
    );
    let ethnicity = ctx.rank(
        GoldenField::Ethnicity,
        ctx.single(|r| r.ethnicity.as_ref()),
        |e| e.code().to_owned(),
        |_| 0,
        |_| 0,
    );
    let phones = ctx.rank(
        GoldenField::Phones,
        ctx.multi(|r| &r.phones),
        Phone::canonical,
        |p| match p {
            Phone::Mobile(_) => 2,
            Phone::Landline { .. } => 1,
            Phone::Unrecognized(_) => 0,
        },
        |_| 0,
    );
    let registered = ctx.rank(
        GoldenField::RegisteredAddress,
        ctx.single(|r| r.registered_address.as_ref().filter(|a| !a.is_empty())),
        |a| a.comparison_key().to_owned(),
        |_| 0,
        address_completeness,
    );
    let current = ctx.rank(
        GoldenField::CurrentAddress,
        ctx.single(|r| r.current_address.as_ref().filter(|a| !a.is_empty())),
        |a| a.comparison_key().to_owned(),
        |_| 0,
        address_completeness,
    );
    let household = ctx.rank(
        GoldenField::HouseholdId,
        ctx.single(|r| r.household_id.as_ref().filter(|h| !h.trim().is_empty())),
        |h| h.trim().to_owned(),
        |_| 0,
        |_| 0,
    );
    let relation = ctx.rank(
        GoldenField::RelationToHead,
        ctx.single(|r| r.relation_to_head.as_ref()),
        |r| r.code(),
        |_| 0,
        |_| 0,
    );
    let deceased = ctx.rank(
        GoldenField::Deceased,
        ctx.single(|r| r.deceased.as_ref()),
        bool::to_string,
        |_| 0,
        |_| 0,
    );
    let moved_out = ctx.rank(
        GoldenField::MovedOut,
        ctx.single(|r| r.moved_out.as_ref()),
        bool::to_string,
        |_| 0,
        |_| 0,
    );

    let rec = &mut golden.record;
    rec.id_document = ids.best().cloned();
    rec.name = names.best().cloned();
    rec.former_names = former_names.values().cloned().collect();
    rec.sex = sex.best().copied();
    rec.birth_date = birth_date.best().copied();
    rec.ethnicity = ethnicity.best().copied();
    rec.phones = phones.values().cloned().collect();
    rec.registered_address = registered.best().cloned();
    rec.current_address = current.best().cloned();
    rec.household_id = household.best().map(|h| h.trim().to_owned());
    rec.relation_to_head = relation.best().copied();
    rec.deceased = deceased.best().copied();
    rec.moved_out = moved_out.best().copied();

    let provenance = [
        ctx.provenance(&ids),
        ctx.provenance(&names),
        ctx.provenance(&former_names),
        ctx.provenance(&sex),
        ctx.provenance(&birth_date),
        ctx.provenance(&ethnicity),
        ctx.provenance(&phones),
        ctx.provenance(&registered),
        ctx.provenance(&current),
        ctx.provenance(&household),
        ctx.provenance(&relation),
        ctx.provenance(&deceased),
        ctx.provenance(&moved_out),
    ];
    golden.provenance = provenance.into_iter().flatten().collect();

    golden.id_numbers = seen_list(&ids);
    golden.names = seen_list(&names);
    golden.phones = seen_list(&phones);
    golden.former_names = seen_list(&former_names);
    golden.registered_addresses = seen_list(&registered);
    golden.current_addresses = seen_list(&current);

    for r in &records {
        if !r.record.attributes.is_empty() {
            golden.attributes.insert(
                format!("{}:{}", r.source, r.source_key),
                r.record.attributes.clone(),
            );
        }
    }

    golden.conflicts = [
        ctx.conflict(&ids, ConflictKind::DifferentIdNumbers, |d| {
            d.valid().is_some()
        }),
        ctx.conflict(&birth_date, ConflictKind::DifferentBirthDates, |d| {
            d.precision() == DatePrecision::Day
        }),
        ctx.conflict(&sex, ConflictKind::DifferentSex, |s| {
            matches!(s, Sex::Male | Sex::Female)
        }),
        ctx.deceased_but_active(),
    ]
    .into_iter()
    .flatten()
    .collect();

    golden.fills = fills(&records, &golden.record);
    golden
}

/// Source name, then key; the rest only so that even duplicated keys give
/// one order.
fn canonical_order(a: &SourceRecord<'_>, b: &SourceRecord<'_>) -> Ordering {
    (a.source, a.source_key, a.updated_at, a.department)
        .cmp(&(b.source, b.source_key, b.updated_at, b.department))
        .then_with(|| {
            let json = |r: &SourceRecord<'_>| serde_json::to_string(r.record).unwrap_or_default();
            json(a).cmp(&json(b))
        })
}

fn address_completeness(a: &Address) -> i64 {
    let parts = [a.street(), a.community(), a.house_number()]
        .iter()
        .filter(|p| p.is_some())
        .count();
    let len = a.normalized().chars().count().min(99_999);
    (parts * 100_000 + len) as i64
}

/// The records of one master, sorted, and the rules.
struct Ctx<'c, 'r> {
    records: &'c [SourceRecord<'r>],
    rules: &'c Survivorship,
    valid_ids: Vec<&'r ValidIdNumber>,
}

/// The distinct values of one field, best first, each with the records
/// holding it.
struct Ranked<'r, T> {
    field: GoldenField,
    groups: Vec<Group<'r, T>>,
    /// The rule that put the first value ahead of the second.
    rule: &'static str,
}

struct Group<'r, T> {
    /// The best record holding the value, and its value.
    rep: usize,
    value: &'r T,
    /// Every record holding it (indices into the sorted records).
    members: Vec<usize>,
}

impl<'r, T> Ranked<'r, T> {
    fn best(&self) -> Option<&'r T> {
        self.groups.first().map(|g| g.value)
    }

    fn values(&self) -> impl Iterator<Item = &'r T> + '_ {
        self.groups.iter().map(|g| g.value)
    }
}

impl<'r> Ctx<'_, 'r> {
    /// (record index, value) for a single-valued field.
    fn single<T: 'r>(
        &self,
        get: impl Fn(&'r ResidentRecord) -> Option<&'r T>,
    ) -> Vec<(usize, &'r T)> {
        self.records
            .iter()
            .enumerate()
            .filter_map(|(i, r)| get(r.record).map(|v| (i, v)))
            .collect()
    }

    /// (record index, value) for every value of a list field.
    fn multi<T: 'r>(&self, get: impl Fn(&'r ResidentRecord) -> &'r Vec<T>) -> Vec<(usize, &'r T)> {
        self.records
            .iter()
            .enumerate()
            .flat_map(|(i, r)| get(r.record).iter().map(move |v| (i, v)))
            .collect()
    }

    /// Orders the candidates by the field's chain (ties: source, then
    /// key), groups them by comparison form and names the deciding rule.
    fn rank<T>(
        &self,
        field: GoldenField,
        candidates: Vec<(usize, &'r T)>,
        key: impl Fn(&T) -> String,
        valid: impl Fn(&T) -> i64,
        complete: impl Fn(&T) -> i64,
    ) -> Ranked<'r, T> {
        let chain = &self.rules.rules_for(field).rules;
        let keyed: Vec<(usize, &'r T, String)> = candidates
            .into_iter()
            .map(|(i, v)| (i, v, key(v)))
            .collect();
        // Frequency counts records, not repetitions within one record.
        let mut holders: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
        for (i, _, k) in &keyed {
            holders.entry(k.as_str()).or_default().insert(*i);
        }
        let mut scored: Vec<(Vec<i64>, usize, &'r T, &str)> = keyed
            .iter()
            .map(|(i, v, k)| {
                let r = &self.records[*i];
                let scores = chain
                    .iter()
                    .map(|rule| match rule {
                        Rule::Valid => valid(v),
                        Rule::SourcePriority => {
                            self.rules.priority_key(field, r.source, r.department)
                        }
                        Rule::MostRecent => r.updated_at.map_or(i64::MIN, |t| t.timestamp_micros()),
                        Rule::MostFrequent => holders[k.as_str()].len() as i64,
                        Rule::MostComplete => complete(v),
                    })
                    .collect();
                (scores, *i, *v, k.as_str())
            })
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));

        let mut groups: Vec<Group<'r, T>> = Vec::new();
        let mut group_scores: Vec<&[i64]> = Vec::new();
        let mut seen_keys: Vec<&str> = Vec::new();
        for (scores, i, v, k) in &scored {
            if !seen_keys.contains(k) {
                seen_keys.push(k);
                group_scores.push(scores);
                groups.push(Group {
                    rep: *i,
                    value: v,
                    members: holders[k].iter().copied().collect(),
                });
            }
        }
        let rule = match (group_scores.first(), group_scores.get(1)) {
            (Some(best), Some(next)) => best
                .iter()
                .zip(next.iter())
                .position(|(a, b)| a > b)
                .map_or(SOURCE_ORDER, |p| chain[p].as_str()),
            _ => UNANIMOUS,
        };
        Ranked {
            field,
            groups,
            rule,
        }
    }

    /// Valid-rule key for sex: agreeing with a valid identity number beats
    /// a stated sex that does not, which beats not known / not stated.
    fn sex_validity(&self, sex: Sex) -> i64 {
        if self.valid_ids.iter().any(|id| id.sex() == sex) {
            2
        } else if matches!(sex, Sex::Male | Sex::Female) {
            1
        } else {
            0
        }
    }

    /// Whether a valid identity number of the master encodes this date (a
    /// month-precision date agrees with its month).
    fn agrees_with_id(&self, date: &PartialDate) -> bool {
        self.valid_ids.iter().any(|id| {
            let d = id.birth_date();
            d.year() == date.year()
                && d.month() == date.month()
                && date.day().is_none_or(|day| day == d.day())
        })
    }

    fn provenance<T>(&self, ranked: &Ranked<'r, T>) -> Option<(String, Provenance)> {
        let best = ranked.groups.first()?;
        Some((
            ranked.field.as_str().to_owned(),
            Provenance {
                record: index(best.rep),
                rule: ranked.rule.to_owned(),
            },
        ))
    }

    /// A conflict when two or more distinct values pass `counts`.
    fn conflict<T: Serialize + Clone>(
        &self,
        ranked: &Ranked<'r, T>,
        kind: ConflictKind,
        counts: impl Fn(&T) -> bool,
    ) -> Option<Conflict> {
        let values: Vec<Seen> = seen_list(ranked)
            .into_iter()
            .filter(|s| counts(&s.value))
            .map(|s| Seen {
                value: serde_json::to_value(&s.value).unwrap_or(Value::Null),
                seen: s.seen,
            })
            .collect();
        (values.len() >= 2).then(|| Conflict {
            field: ranked.field.as_str().to_owned(),
            kind,
            values,
        })
    }

    /// A record says deceased and another record that does not say so was
    /// changed later by its source: the person may be alive, or that source
    /// has not heard.
    fn deceased_but_active(&self) -> Option<Conflict> {
        let dead: Vec<(usize, DateTime<Utc>)> = self
            .records
            .iter()
            .enumerate()
            .filter(|(_, r)| r.record.deceased == Some(true))
            .filter_map(|(i, r)| r.updated_at.map(|t| (i, t)))
            .collect();
        let active: Vec<(usize, DateTime<Utc>)> = self
            .records
            .iter()
            .enumerate()
            .filter(|(_, r)| r.record.deceased != Some(true))
            .filter_map(|(i, r)| r.updated_at.map(|t| (i, t)))
            .collect();
        let dead_involved: Vec<usize> = dead
            .iter()
            .filter(|(_, td)| active.iter().any(|(_, ta)| ta > td))
            .map(|(i, _)| *i)
            .collect();
        if dead_involved.is_empty() {
            return None;
        }
        let earliest = dead.iter().map(|(_, t)| *t).min()?;
        let later: Vec<usize> = active
            .iter()
            .filter(|(_, ta)| *ta > earliest)
            .map(|(i, _)| *i)
            .collect();
        let mut values = vec![Seen {
            value: Value::Bool(true),
            seen: dead_involved.iter().map(|&i| index(i)).collect(),
        }];
        for said in [Some(false), None] {
            let seen: Vec<u32> = later
                .iter()
                .filter(|&&i| self.records[i].record.deceased == said)
                .map(|&i| index(i))
                .collect();
            if !seen.is_empty() {
                values.push(Seen {
                    value: said.map_or(Value::Null, Value::Bool),
                    seen,
                });
            }
        }
        Some(Conflict {
            field: GoldenField::Deceased.as_str().to_owned(),
            kind: ConflictKind::DeceasedButActive,
            values,
        })
    }
}

/// A sorted record's index in [`Golden::records`] (the same order).
fn index(i: usize) -> u32 {
    u32::try_from(i).expect("a master holds fewer than 2^32 records")
}

/// Every distinct value of a field, best first, with the records holding
/// it (ascending).
fn seen_list<T: Clone>(ranked: &Ranked<'_, T>) -> Vec<Seen<T>> {
    ranked
        .groups
        .iter()
        .map(|g| Seen {
            value: g.value.clone(),
            seen: g.members.iter().map(|&i| index(i)).collect(),
        })
        .collect()
}

/// Per source, the fields its records lack that the golden record has (sex
/// counts as lacking when not known).
fn fills(records: &[SourceRecord<'_>], golden: &ResidentRecord) -> BTreeMap<String, u64> {
    let mut fills = BTreeMap::new();
    for r in records {
        let x = r.record;
        let lacking = [
            x.id_document.is_none() && golden.id_document.is_some(),
            x.name.is_none() && golden.name.is_some(),
            matches!(x.sex, None | Some(Sex::Unknown))
                && golden.sex.is_some_and(|s| s != Sex::Unknown),
            x.birth_date.is_none() && golden.birth_date.is_some(),
            x.ethnicity.is_none() && golden.ethnicity.is_some(),
            x.registered_address.as_ref().is_none_or(Address::is_empty)
                && golden.registered_address.is_some(),
            x.current_address.as_ref().is_none_or(Address::is_empty)
                && golden.current_address.is_some(),
            x.household_id
                .as_deref()
                .is_none_or(|h| h.trim().is_empty())
                && golden.household_id.is_some(),
            x.relation_to_head.is_none() && golden.relation_to_head.is_some(),
            x.phones.is_empty() && !golden.phones.is_empty(),
        ];
        let n = lacking.iter().filter(|l| **l).count() as u64;
        if n > 0 {
            *fills.entry(r.source.to_owned()).or_insert(0) += n;
        }
    }
    fills
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::master::survivorship::FieldRules;
    use crate::model::{Ethnicity, PartialDate};

    /// Born 1985-03-02, male.
    const ID_A: &str = "330203198503020015";
    /// The same number in its old 15-digit form.
    const ID_A15: &str = "330203850302001";
    /// Born 1990-01-01, male.
    const ID_B: &str = "330203199001010030";
    /// ID_A with a wrong check digit.
    const ID_BAD: &str = "330203198503020016";

    /// A source record the test owns.
    #[derive(Clone)]
    struct Row {
        source: &'static str,
        department: &'static str,
        key: &'static str,
        at: Option<DateTime<Utc>>,
        record: ResidentRecord,
    }

    /// A record of `source` (whose department has the same name).
    fn row(source: &'static str, key: &'static str) -> Row {
        Row {
            source,
            department: source,
            key,
            at: None,
            record: ResidentRecord::default(),
        }
    }

    fn time(day: &str) -> DateTime<Utc> {
        format!("{day}T08:00:00Z").parse().unwrap()
    }

    impl Row {
        fn dept(mut self, department: &'static str) -> Row {
            self.department = department;
            self
        }
        fn at(mut self, day: &str) -> Row {
            self.at = Some(time(day));
            self
        }
        fn id(mut self, number: &str) -> Row {
            self.record.id_document = Some(IdDocument::parse(None, number));
            self
        }
        fn name(mut self, name: &str) -> Row {
            self.record.name = Some(PersonName::parse(name).unwrap());
            self
        }
        fn former(mut self, name: &str) -> Row {
            self.record
                .former_names
                .push(PersonName::parse(name).unwrap());
            self
        }
        fn sex(mut self, sex: Sex) -> Row {
            self.record.sex = Some(sex);
            self
        }
        fn born(mut self, date: &str) -> Row {
            self.record.birth_date = Some(PartialDate::parse(date).unwrap());
            self
        }
        fn ethnicity(mut self, e: &str) -> Row {
            self.record.ethnicity = Some(Ethnicity::parse(e).unwrap());
            self
        }
        fn phones(mut self, raw: &str) -> Row {
            self.record.phones = crate::model::parse_phones(raw);
            self
        }
        fn current(mut self, address: &str) -> Row {
            self.record.current_address = Some(Address::parse(address));
            self
        }
        fn registered(mut self, address: &str) -> Row {
            self.record.registered_address = Some(Address::parse(address));
            self
        }
        fn deceased(mut self, deceased: bool) -> Row {
            self.record.deceased = Some(deceased);
            self
        }
        fn attribute(mut self, key: &str, value: Value) -> Row {
            self.record.attributes.insert(key.to_owned(), value);
            self
        }
    }

    fn build_rows(rows: &[Row], rules: &Survivorship) -> Golden {
        let records: Vec<SourceRecord<'_>> = rows
            .iter()
            .map(|r| SourceRecord {
                source: r.source,
                department: r.department,
                source_key: r.key,
                updated_at: r.at,
                record: &r.record,
            })
            .collect();
        build(&records, rules)
    }

    fn defaults(rows: &[Row]) -> Golden {
        build_rows(rows, &Survivorship::default())
    }

    fn rule_of<'g>(g: &'g Golden, field: &str) -> &'g str {
        &g.provenance[field].rule
    }

    fn source_of<'g>(g: &'g Golden, field: &str) -> (&'g str, &'g str) {
        let r = g.provenance_source(field).unwrap();
        (&r.source, &r.key)
    }

    /// The sources of a value's sightings, in order.
    fn sources_of<'g>(g: &'g Golden, seen: &'g [u32]) -> Vec<&'g str> {
        g.sources(seen).map(|r| r.source.as_str()).collect()
    }

    fn source(source: &str, key: &str, at: Option<&str>) -> GoldenSource {
        GoldenSource {
            source: source.into(),
            key: key.into(),
            at: at.map(time),
        }
    }

    fn id_of(g: &Golden) -> &str {
        g.record.id_document.as_ref().unwrap().number()
    }

    /// The shipped sample's identity-number rules.
    fn id_priority() -> Survivorship {
        let mut s = Survivorship::default();
        s.fields.insert(
            GoldenField::IdNumber,
            FieldRules {
                rules: vec![Rule::Valid, Rule::SourcePriority, Rule::MostRecent],
                source_priority: ["governance", "health", "hr", "civil_affairs"]
                    .map(String::from)
                    .to_vec(),
            },
        );
        s
    }

    fn with_trust(mut s: Survivorship, source: &str, field: &str, trust: f64) -> Survivorship {
        s.trust
            .entry(source.to_owned())
            .or_default()
            .insert(field.to_owned(), trust);
        s
    }

    #[test]
    fn valid_id_beats_invalid_from_a_higher_priority_source() {
        let rows = [
            row("governance", "g1").id(ID_BAD).at("2024-05-01"),
            row("hr", "h1").id(ID_A).at("2020-01-01"),
        ];
        let g = build_rows(&rows, &id_priority());
        assert_eq!(id_of(&g), ID_A);
        assert_eq!(
            g.records,
            [
                source("governance", "g1", Some("2024-05-01")),
                source("hr", "h1", Some("2020-01-01")),
            ]
        );
        assert_eq!(
            g.provenance["id_number"],
            Provenance {
                record: 1,
                rule: "valid".into(),
            }
        );
        assert_eq!(
            g.provenance_source("id_number"),
            Some(&source("hr", "h1", Some("2020-01-01")))
        );
        assert_eq!(g.provenance_source("name"), None);
        assert_eq!(g.source_of(2), None);
        // The invalid number is still listed, after the valid one.
        let listed: Vec<&str> = g.id_numbers.iter().map(|s| s.value.number()).collect();
        assert_eq!(listed, [ID_A, ID_BAD]);
        assert!(g.conflicts.is_empty(), "{:?}", g.conflicts);
    }

    #[test]
    fn source_priority_decides_between_valid_numbers() {
        let rows = [
            row("hr", "h1").id(ID_B).at("2024-05-01"),
            row("governance", "g1").id(ID_A).at("2020-01-01"),
        ];
        let g = build_rows(&rows, &id_priority());
        assert_eq!(id_of(&g), ID_A);
        assert_eq!(rule_of(&g, "id_number"), "source_priority");
        assert_eq!(source_of(&g, "id_number"), ("governance", "g1"));
    }

    #[test]
    fn a_source_name_ranks_before_its_department() {
        let mut s = id_priority();
        s.fields
            .get_mut(&GoldenField::IdNumber)
            .unwrap()
            .source_priority = vec!["hr_api".into(), "governance".into()];
        let rows = [
            row("grid", "g1").dept("governance").id(ID_A),
            row("hr_api", "h1").dept("hr").id(ID_B),
            row("hr_ledger", "l1").dept("hr").id(ID_BAD),
        ];
        let g = build_rows(&rows, &s);
        assert_eq!(id_of(&g), ID_B);
        assert_eq!(source_of(&g, "id_number"), ("hr_api", "h1"));
        // Unlisted after listed: drop hr_api, and grid (as governance) wins.
        let g = build_rows(&[rows[0].clone(), rows[2].clone()], &s);
        assert_eq!(source_of(&g, "id_number"), ("grid", "g1"));
    }

    #[test]
    fn same_priority_most_recent_by_business_time_not_input_order() {
        let old = row("health", "a-old").name("王芳").at("2019-03-01");
        let new = row("health", "z-new").name("王芳芳").at("2024-03-01");
        for rows in [[old.clone(), new.clone()], [new.clone(), old.clone()]] {
            let g = build_rows(&rows, &id_priority());
            assert_eq!(g.record.name.as_ref().unwrap().to_string(), "王芳芳");
            assert_eq!(rule_of(&g, "name"), "most_recent");
            assert_eq!(source_of(&g, "name"), ("health", "z-new"));
            assert_eq!(
                g.provenance_source("name").unwrap().at,
                Some(time("2024-03-01"))
            );
        }
        // A missing timestamp counts as oldest.
        let undated = row("health", "0-undated").name("王小芳");
        let g = defaults(&[undated, old]);
        assert_eq!(source_of(&g, "name"), ("health", "a-old"));
    }

    #[test]
    fn most_frequent_decides_when_earlier_rules_tie() {
        let rows = [
            row("civil_affairs", "c1").ethnicity("回"),
            row("health", "h1").ethnicity("汉族"),
            row("hr", "r1").ethnicity("01"),
        ];
        let g = defaults(&rows);
        assert_eq!(g.record.ethnicity, Some(Ethnicity::HAN));
        assert_eq!(rule_of(&g, "ethnicity"), "most_frequent");
        assert_eq!(source_of(&g, "ethnicity"), ("health", "h1"));
    }

    #[test]
    fn most_complete_decides_when_earlier_rules_tie() {
        let rows = [
            row("civil_affairs", "c1")
                .born("1985-03")
                .current("鼓楼街道中山社区"),
            row("health", "h1")
                .born("1985-03-02")
                .current("鼓楼街道中山社区23幢502室"),
        ];
        let g = defaults(&rows);
        assert_eq!(g.record.birth_date.unwrap().to_string(), "1985-03-02");
        assert_eq!(rule_of(&g, "birth_date"), "most_complete");
        assert_eq!(
            g.record.current_address.as_ref().unwrap().to_string(),
            "鼓楼街道中山社区23幢502室"
        );
        assert_eq!(rule_of(&g, "current_address"), "most_complete");
    }

    #[test]
    fn birth_date_and_sex_agreeing_with_a_valid_number_win() {
        let s = with_trust(Survivorship::default(), "hr", "birth_date", 0.9);
        let s = with_trust(s, "hr", "sex", 0.9);
        let rows = [
            row("hr", "r1").born("1985-02-03").sex(Sex::Female),
            row("health", "h1")
                .id(ID_A)
                .born("1985-03-02")
                .sex(Sex::Male),
        ];
        let g = build_rows(&rows, &s);
        assert_eq!(g.record.birth_date.unwrap().to_string(), "1985-03-02");
        assert_eq!(rule_of(&g, "birth_date"), "valid");
        assert_eq!(g.record.sex, Some(Sex::Male));
        assert_eq!(rule_of(&g, "sex"), "valid");
        // Without the number, trust decides.
        let mut no_id = rows.clone();
        no_id[1].record.id_document = None;
        let g = build_rows(&no_id, &s);
        assert_eq!(g.record.birth_date.unwrap().to_string(), "1985-02-03");
        assert_eq!(rule_of(&g, "birth_date"), "source_priority");
    }

    #[test]
    fn stated_sex_beats_unknown() {
        let rows = [
            row("civil_affairs", "c1").sex(Sex::Unknown),
            row("health", "h1").sex(Sex::Female),
        ];
        let g = defaults(&rows);
        assert_eq!(g.record.sex, Some(Sex::Female));
        assert_eq!(rule_of(&g, "sex"), "valid");
        assert!(g.conflicts.is_empty());
    }

    #[test]
    fn per_field_chain_overrides_the_default() {
        let mut s = Survivorship::default();
        s.default.rules = vec![Rule::MostRecent];
        s.fields.insert(
            GoldenField::Name,
            FieldRules {
                rules: vec![Rule::SourcePriority],
                source_priority: vec!["hr".into()],
            },
        );
        let rows = [
            row("hr", "r1")
                .name("李娜")
                .ethnicity("汉")
                .at("2018-01-01"),
            row("health", "h1")
                .name("李哪")
                .ethnicity("回")
                .at("2024-01-01"),
        ];
        let g = build_rows(&rows, &s);
        assert_eq!(g.record.name.as_ref().unwrap().to_string(), "李娜");
        assert_eq!(rule_of(&g, "name"), "source_priority");
        assert_eq!(g.record.ethnicity.unwrap().short_name(), "回");
        assert_eq!(rule_of(&g, "ethnicity"), "most_recent");
    }

    #[test]
    fn trust_ranks_sources_without_a_priority_list() {
        let s = with_trust(Survivorship::default(), "hr", "id_number", 0.95);
        let s = with_trust(s, "governance", "id_number", 0.8);
        let rows = [
            row("governance", "g1").id(ID_A).at("2024-01-01"),
            row("hr", "r1").id(ID_B),
            row("health", "h1").id(ID_A).at("2024-02-01"),
        ];
        let g = build_rows(&rows, &s);
        assert_eq!(id_of(&g), ID_B);
        assert_eq!(rule_of(&g, "id_number"), "source_priority");
        // An unrated source counts 0.5: below governance's 0.8.
        let g = build_rows(&[rows[0].clone(), rows[2].clone()], &s);
        assert_eq!(source_of(&g, "id_number"), ("governance", "g1"));
        assert_eq!(rule_of(&g, "id_number"), UNANIMOUS);
        // A priority list replaces trust.
        let mut listed = s.clone();
        listed.default.source_priority = vec!["governance".into()];
        let g = build_rows(&rows, &listed);
        assert_eq!(id_of(&g), ID_A);
        assert_eq!(source_of(&g, "id_number"), ("governance", "g1"));
    }

    #[test]
    fn unanimous_and_source_order() {
        // 張偉 and 张伟 are one name; the chain ties, so the first source
        // by name is cited.
        let rows = [
            row("hr", "r1").name("张伟"),
            row("civil_affairs", "c9").name("張偉"),
        ];
        let g = defaults(&rows);
        assert_eq!(rule_of(&g, "name"), UNANIMOUS);
        assert_eq!(source_of(&g, "name"), ("civil_affairs", "c9"));
        assert_eq!(g.names.len(), 1);
        assert_eq!(g.names[0].seen.len(), 2);
        // Two names and nothing to choose: source, then key.
        let rows = [
            row("health", "k2").name("陈静"),
            row("health", "k1").name("陈晶"),
            row("hr", "a0").name("陈京"),
        ];
        let g = defaults(&rows);
        assert_eq!(rule_of(&g, "name"), SOURCE_ORDER);
        assert_eq!(source_of(&g, "name"), ("health", "k1"));
        assert_eq!(g.record.name.as_ref().unwrap().to_string(), "陈晶");
    }

    #[test]
    fn phones_all_kept_best_first_with_sightings() {
        let rows = [
            row("health", "h1")
                .phones("0574-87654321转8；13812345678")
                .at("2024-01-01"),
            row("hr", "r1").phones("+86 138 1234 5678、12345"),
        ];
        let g = defaults(&rows);
        let phones: Vec<String> = g.record.phones.iter().map(Phone::to_string).collect();
        assert_eq!(phones, ["13812345678", "0574-87654321转8", "12345"]);
        assert_eq!(rule_of(&g, "phones"), "valid");
        assert_eq!(source_of(&g, "phones"), ("health", "h1"));
        let seen: Vec<(String, usize)> = g
            .phones
            .iter()
            .map(|s| (s.value.canonical(), s.seen.len()))
            .collect();
        assert_eq!(
            seen,
            [
                ("13812345678".to_owned(), 2),
                ("0574-87654321".to_owned(), 1),
                ("12345".to_owned(), 1)
            ]
        );
        assert_eq!(g.phones[0].seen, [0, 1]);
        assert_eq!(g.phones[2].seen, [1]);
        let seen: Vec<&GoldenSource> = g.sources(&g.phones[0].seen).collect();
        assert_eq!(
            seen,
            [
                &source("health", "h1", Some("2024-01-01")),
                &source("hr", "r1", None)
            ]
        );
    }

    #[test]
    fn phones_seen_more_often_come_first_among_equals() {
        let rows = [
            row("civil_affairs", "c1").phones("13900000001"),
            row("health", "h1").phones("13800000002；13900000001"),
        ];
        let g = defaults(&rows);
        let phones: Vec<String> = g.record.phones.iter().map(Phone::canonical).collect();
        assert_eq!(phones, ["13900000001", "13800000002"]);
        assert_eq!(rule_of(&g, "phones"), "most_frequent");
    }

    #[test]
    fn former_names_all_kept() {
        let rows = [
            row("hr", "r1").former("王小红").former("王红"),
            row("governance", "g1").former("王紅"),
        ];
        let g = defaults(&rows);
        let names: Vec<String> = g
            .record
            .former_names
            .iter()
            .map(|n| n.folded().to_owned())
            .collect();
        assert_eq!(names, ["王红", "王小红"]);
        assert_eq!(g.former_names[0].seen.len(), 2);
        assert_eq!(rule_of(&g, "former_names"), "most_frequent");
    }

    #[test]
    fn addresses_listed_per_field_golden_first() {
        let rows = [
            row("governance", "g1")
                .current("鼓楼街道中山社区23幢502室")
                .registered("海曙区南门街道1号"),
            row("hr", "r1").registered("浙江省宁波市海曙区鼓楼街道中山社区二十三幢五〇二室"),
        ];
        let s = with_trust(Survivorship::default(), "hr", "registered_address", 0.9);
        let g = build_rows(&rows, &s);
        let keys = |list: &[Seen<Address>]| -> Vec<(String, Vec<u32>)> {
            list.iter()
                .map(|a| (a.value.comparison_key().to_owned(), a.seen.clone()))
                .collect()
        };
        // The same place in both fields stays apart: each list is its own
        // field's ranking.
        assert_eq!(
            keys(&g.current_addresses),
            [("鼓楼街道中山社区23幢502室".to_owned(), vec![0])]
        );
        let registered = keys(&g.registered_addresses);
        assert_eq!(registered.len(), 2);
        assert_eq!(
            registered[0],
            ("鼓楼街道中山社区23幢502室".to_owned(), vec![1])
        );
        assert_eq!(registered[1].1, [0]);
        assert_eq!(source_of(&g, "registered_address"), ("hr", "r1"));
        assert_eq!(
            g.record.registered_address.as_ref(),
            Some(&g.registered_addresses[0].value)
        );
        assert_eq!(
            g.record.current_address.as_ref(),
            Some(&g.current_addresses[0].value)
        );
        // Trusting governance instead puts its address first.
        let s = with_trust(
            Survivorship::default(),
            "governance",
            "registered_address",
            0.9,
        );
        let g = build_rows(&rows, &s);
        assert_eq!(source_of(&g, "registered_address"), ("governance", "g1"));
        assert_eq!(g.registered_addresses[0].seen, [0]);
        assert_eq!(
            g.record.registered_address.as_ref(),
            Some(&g.registered_addresses[0].value)
        );
    }

    #[test]
    fn attributes_stay_per_source_record() {
        let rows = [
            row("civil_affairs", "MZ1").attribute("assistance_category", "dibao".into()),
            row("hr", "R1").attribute("insurance_status", "paying".into()),
            row("hr", "R2").attribute("insurance_status", "stopped".into()),
            row("health", "H1"),
        ];
        let g = defaults(&rows);
        assert!(g.record.attributes.is_empty());
        let keys: Vec<&str> = g.attributes.keys().map(String::as_str).collect();
        assert_eq!(keys, ["civil_affairs:MZ1", "hr:R1", "hr:R2"]);
        assert_eq!(g.attributes["hr:R2"]["insurance_status"], "stopped");
    }

    fn kinds(g: &Golden) -> Vec<ConflictKind> {
        g.conflicts.iter().map(|c| c.kind).collect()
    }

    #[test]
    fn different_valid_numbers_conflict() {
        let rows = [
            row("hr", "r1").id(ID_A),
            row("governance", "g1").id(ID_B),
            row("health", "h1").id(ID_BAD),
        ];
        let g = build_rows(&rows, &id_priority());
        assert_eq!(kinds(&g), [ConflictKind::DifferentIdNumbers]);
        let c = &g.conflicts[0];
        assert_eq!(c.field, "id_number");
        let numbers: Vec<&Value> = c.values.iter().map(|v| &v.value["number"]).collect();
        assert_eq!(numbers, [ID_B, ID_A]);
        assert_eq!(c.values[1].seen, [2]);
        assert_eq!(sources_of(&g, &c.values[1].seen), ["hr"]);
    }

    #[test]
    fn an_upgraded_15_digit_number_is_the_same_number() {
        let rows = [row("hr", "r1").id(ID_A15), row("health", "h1").id(ID_A)];
        let g = defaults(&rows);
        assert!(g.conflicts.is_empty(), "{:?}", g.conflicts);
        assert_eq!(g.id_numbers.len(), 1);
        assert_eq!(g.id_numbers[0].seen.len(), 2);
        assert_eq!(rule_of(&g, "id_number"), UNANIMOUS);
        // The native 18-digit record is cited, though hr ranks first by name.
        assert_eq!(source_of(&g, "id_number"), ("health", "h1"));
        assert!(!g.record.valid_id().unwrap().was_upgraded_from_15());
    }

    #[test]
    fn different_day_birth_dates_conflict() {
        let rows = [
            row("hr", "r1").born("1985-03-02"),
            row("health", "h1").born("1985-02-03"),
            row("civil_affairs", "c1").born("1985-03"),
        ];
        let g = defaults(&rows);
        assert_eq!(kinds(&g), [ConflictKind::DifferentBirthDates]);
        let dates: Vec<&Value> = g.conflicts[0].values.iter().map(|v| &v.value).collect();
        assert_eq!(dates.len(), 2);
        assert!(dates.contains(&&Value::from("1985-03-02")));
        assert!(dates.contains(&&Value::from("1985-02-03")));
    }

    #[test]
    fn dates_known_only_to_the_month_do_not_conflict() {
        let rows = [
            row("hr", "r1").born("1985-03-02"),
            row("health", "h1").born("1985-04"),
            row("civil_affairs", "c1").born("1986-01"),
        ];
        assert!(defaults(&rows).conflicts.is_empty());
    }

    #[test]
    fn male_and_female_conflict_unknown_does_not() {
        let rows = [
            row("hr", "r1").sex(Sex::Male),
            row("health", "h1").sex(Sex::Female),
            row("civil_affairs", "c1").sex(Sex::Unknown),
        ];
        let g = defaults(&rows);
        assert_eq!(kinds(&g), [ConflictKind::DifferentSex]);
        let values: Vec<&Value> = g.conflicts[0].values.iter().map(|v| &v.value).collect();
        assert_eq!(values.len(), 2);
        assert!(defaults(&[rows[0].clone(), rows[2].clone()])
            .conflicts
            .is_empty());
    }

    #[test]
    fn deceased_but_changed_later_elsewhere() {
        let dead = row("governance", "g1").deceased(true).at("2024-01-01");
        let later = row("health", "h1").at("2024-06-01");
        let later_alive = row("hr", "r1").deceased(false).at("2024-03-01");
        let earlier = row("civil_affairs", "c1").at("2023-06-01");
        let g = defaults(&[
            dead.clone(),
            later.clone(),
            later_alive.clone(),
            earlier.clone(),
        ]);
        assert_eq!(kinds(&g), [ConflictKind::DeceasedButActive]);
        let c = &g.conflicts[0];
        assert_eq!(c.field, "deceased");
        let summary: Vec<(Value, Vec<&str>)> = c
            .values
            .iter()
            .map(|v| (v.value.clone(), sources_of(&g, &v.seen)))
            .collect();
        assert_eq!(
            summary,
            [
                (Value::Bool(true), vec!["governance"]),
                (Value::Bool(false), vec!["hr"]),
                (Value::Null, vec!["health"]),
            ]
        );
        // Only earlier or undated records: no conflict.
        let undated = row("health", "h2");
        assert!(defaults(&[dead.clone(), earlier, undated])
            .conflicts
            .is_empty());
        // An undated death cannot be compared.
        let mut undated_dead = dead;
        undated_dead.at = None;
        assert!(defaults(&[undated_dead, later]).conflicts.is_empty());
    }

    #[test]
    fn fills_count_what_each_source_lacks() {
        let rows = [
            row("hr", "r1")
                .id(ID_A)
                .name("赵敏")
                .sex(Sex::Male)
                .born("1985-03-02")
                .ethnicity("汉")
                .phones("13812345678"),
            // Lacks id, sex (unknown), birth date, ethnicity, phones.
            row("health", "h1")
                .name("赵敏")
                .sex(Sex::Unknown)
                .current("鼓楼街道中山社区23幢502室"),
            // Lacks the same and the name too, in two records.
            row("civil_affairs", "c1").current("鼓楼街道中山社区23幢"),
            row("civil_affairs", "c2").id(ID_A).current("鼓楼街道"),
        ];
        let g = defaults(&rows);
        let fills: Vec<(&str, u64)> = g.fills.iter().map(|(s, n)| (s.as_str(), *n)).collect();
        // hr lacks the current address; civil affairs 6 + 5.
        assert_eq!(fills, [("civil_affairs", 11), ("health", 5), ("hr", 1)]);
    }

    #[test]
    fn search_keys_cover_every_value_seen() {
        let rows = [
            row("civil_affairs", "c1")
                .name("張偉")
                .phones("0574-87654321转8"),
            row("hr", "r1")
                .id(ID_A15)
                .name("张伟")
                .former("张小伟")
                .phones("13812345678"),
            row("health", "h1").id(ID_BAD).name("章伟"),
        ];
        let g = defaults(&rows);
        let keys = g.search_keys();
        let expected = [
            (SearchKey::Id, ID_A),
            (SearchKey::Name, "张伟"),
            (SearchKey::Name, "章伟"),
            (SearchKey::Name, "张小伟"),
            (SearchKey::Pinyin, "zhangwei"),
            (SearchKey::Pinyin, "zhangxiaowei"),
            (SearchKey::Phone, "13812345678"),
            (SearchKey::Phone, "0574-87654321"),
        ];
        let expected: BTreeSet<(SearchKey, String)> = expected
            .iter()
            .map(|(k, v)| (*k, (*v).to_owned()))
            .collect();
        assert_eq!(keys, expected);
    }

    #[test]
    fn traditional_names_are_found_by_simplified_and_pinyin() {
        let name = PersonName::parse("張偉").unwrap();
        assert_eq!(
            name_search_keys(&name),
            [
                (SearchKey::Name, "张伟".to_owned()),
                (SearchKey::Pinyin, "zhangwei".to_owned())
            ]
        );
        let g = defaults(&[row("civil_affairs", "c1").name("張 偉")]);
        assert_eq!(g.record.name.as_ref().unwrap().to_string(), "張偉");
        let keys = g.search_keys();
        assert!(
            keys.contains(&(SearchKey::Name, "张伟".to_owned())),
            "{keys:?}"
        );
        assert!(
            keys.contains(&(SearchKey::Pinyin, "zhangwei".to_owned())),
            "{keys:?}"
        );
    }

    /// Every permutation of `items` (Heap's algorithm).
    fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
        fn go<T: Clone>(k: usize, items: &mut Vec<T>, out: &mut Vec<Vec<T>>) {
            if k <= 1 {
                out.push(items.clone());
                return;
            }
            for i in 0..k {
                go(k - 1, items, out);
                let j = if k.is_multiple_of(2) { i } else { 0 };
                items.swap(j, k - 1);
            }
        }
        let mut items = items.to_vec();
        let mut out = Vec::new();
        go(items.len(), &mut items, &mut out);
        out
    }

    #[test]
    fn input_order_does_not_matter() {
        let rows = [
            row("health", "h2")
                .name("刘丽")
                .phones("13900000001")
                .born("1956-03")
                .current("鼓楼街道中山社区"),
            row("health", "h1")
                .name("劉麗")
                .phones("13900000002；0574-87654321")
                .born("1956-03-07"),
            row("civil_affairs", "c1")
                .id(ID_BAD)
                .name("刘莉")
                .sex(Sex::Female)
                .current("鼓楼街道中山社区5号")
                .attribute("assistance_category", "dibao".into()),
            row("governance", "g1")
                .id(ID_B)
                .deceased(true)
                .at("2024-01-01")
                .phones("13900000002"),
            row("hr", "r1")
                .id(ID_A)
                .sex(Sex::Male)
                .at("2024-02-01")
                .former("刘小丽"),
        ];
        let all = permutations(&rows);
        assert_eq!(all.len(), 120);
        let reference = defaults(&rows);
        assert_eq!(reference.conflicts.len(), 3, "{:?}", reference.conflicts);
        for perm in &all {
            assert_eq!(defaults(perm), reference);
        }
    }

    #[test]
    fn json_is_compact_and_reads_back() {
        assert_eq!(serde_json::to_string(&Golden::default()).unwrap(), "{}");
        let rows = [
            row("hr", "HR-0001")
                .id(ID_A)
                .name("王伟")
                .phones("13812345678")
                .registered("海曙区南门街道1号")
                .at("2024-02-01"),
            row("health", "HL-0002")
                .id(ID_B)
                .name("王薇")
                .phones("13812345678")
                .current("鼓楼街道中山社区23幢502室")
                .attribute("chronic", true.into())
                .at("2023-07-15"),
            row("civil_affairs", "CA-0003")
                .name("王伟")
                .sex(Sex::Male)
                .current("鼓楼街道中山社区23幢502室"),
            row("governance", "GV-0004")
                .id(ID_A)
                .born("1985-03-02")
                .registered("海曙区南门街道1号"),
        ];
        let g = defaults(&rows);
        let json = serde_json::to_value(&g).unwrap();
        assert!(json["record"].get("attributes").is_none());
        let records: Vec<(&str, &str)> = g
            .records
            .iter()
            .map(|r| (r.source.as_str(), r.key.as_str()))
            .collect();
        assert_eq!(
            records,
            [
                ("civil_affairs", "CA-0003"),
                ("governance", "GV-0004"),
                ("health", "HL-0002"),
                ("hr", "HR-0001")
            ]
        );
        assert_eq!(json["records"][3]["at"], "2024-02-01T08:00:00Z");
        assert!(json["records"][0].get("at").is_none());
        assert_eq!(
            json["provenance"]["name"],
            serde_json::json!({"record": 3, "rule": "most_recent"})
        );
        assert_eq!(json["phones"][0]["seen"], serde_json::json!([2, 3]));
        assert_eq!(
            json["registered_addresses"][0]["seen"],
            serde_json::json!([1, 3])
        );
        assert_eq!(
            json["current_addresses"][0]["seen"],
            serde_json::json!([0, 2])
        );
        assert!(json.get("addresses").is_none());
        assert_eq!(json["conflicts"][0]["kind"], "different_id_numbers");
        // Each record is named once: outside `records`, only indices (and
        // the per-record attributes' `source:key`).
        let mut without_attributes = json.clone();
        without_attributes
            .as_object_mut()
            .unwrap()
            .remove("attributes");
        let text = without_attributes.to_string();
        for r in &g.records {
            assert_eq!(
                text.matches(r.key.as_str()).count(),
                1,
                "{} in {text}",
                r.key
            );
        }
        for at in ["2024-02-01T08:00:00Z", "2023-07-15T08:00:00Z"] {
            assert_eq!(text.matches(at).count(), 1, "{at} in {text}");
        }
        let back: Golden = serde_json::from_value(json).unwrap();
        assert_eq!(back, g);
    }
}
