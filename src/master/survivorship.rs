//! Survivorship rules: which of the values the master's source records hold
//! becomes the golden value of a field. Each field has a chain of rules,
//! compared in order like a sort key, so that later rules only break the
//! ties earlier ones leave. The operator writes them in `[survivorship]`
//! of `config/yici.toml`; the mapping files' `[trust]` tables rank sources
//! for fields that have no priority list.
//!
//! Pure: the golden record builder (`golden.rs`) evaluates these rules.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Department names a `source_priority` entry may use instead of a source
/// name (the `department` values of connector files).
pub const DEPARTMENTS: [&str; 5] = ["civil_affairs", "health", "hr", "governance", "other"];

/// Trust assumed for a source and field its mapping does not rate, so a
/// rated source can rank above or below an unrated one.
pub const DEFAULT_TRUST: f64 = 0.5;

/// Bumped whenever the golden record builder changes what it computes from
/// the same rules, so stored golden records are recomputed (it is part of
/// [`Survivorship::fingerprint`]).
const ALGORITHM: &str = "yici-survivorship/1";

/// One survivorship rule. Each ranks candidate values; a chain compares
/// them rule by rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// A value that validates (a valid identity number, a mobile phone, a
    /// birth date or sex agreeing with a valid identity number) beats one
    /// that does not.
    Valid,
    /// The operator's ranking of sources and departments, or the mappings'
    /// trust when the field has no ranking.
    SourcePriority,
    /// The value from the record the source changed last (business time).
    MostRecent,
    /// The value most records agree on.
    MostFrequent,
    /// The more precise value (a full birth date over a month, an address
    /// with house number over one without).
    MostComplete,
}

impl Rule {
    /// Every rule, in the default chain's order.
    pub const ALL: [Rule; 5] = [
        Rule::Valid,
        Rule::SourcePriority,
        Rule::MostRecent,
        Rule::MostFrequent,
        Rule::MostComplete,
    ];

    /// The config spelling (also what provenance records).
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Valid => "valid",
            Rule::SourcePriority => "source_priority",
            Rule::MostRecent => "most_recent",
            Rule::MostFrequent => "most_frequent",
            Rule::MostComplete => "most_complete",
        }
    }

    /// The rule spelt `s` in config.
    pub fn parse(s: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A field of the canonical record that has a golden value, named as the
/// mapping files name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GoldenField {
    IdNumber,
    Name,
    FormerNames,
    Sex,
    BirthDate,
    Ethnicity,
    Phones,
    RegisteredAddress,
    CurrentAddress,
    HouseholdId,
    RelationToHead,
    Deceased,
    MovedOut,
}

impl GoldenField {
    /// Every field, in the canonical record's order.
    pub const ALL: [GoldenField; 13] = [
        GoldenField::IdNumber,
        GoldenField::Name,
        GoldenField::FormerNames,
        GoldenField::Sex,
        GoldenField::BirthDate,
        GoldenField::Ethnicity,
        GoldenField::Phones,
        GoldenField::RegisteredAddress,
        GoldenField::CurrentAddress,
        GoldenField::HouseholdId,
        GoldenField::RelationToHead,
        GoldenField::Deceased,
        GoldenField::MovedOut,
    ];

    /// The name mapping files, trust tables and provenance use.
    pub fn as_str(self) -> &'static str {
        match self {
            GoldenField::IdNumber => "id_number",
            GoldenField::Name => "name",
            GoldenField::FormerNames => "former_names",
            GoldenField::Sex => "sex",
            GoldenField::BirthDate => "birth_date",
            GoldenField::Ethnicity => "ethnicity",
            GoldenField::Phones => "phones",
            GoldenField::RegisteredAddress => "registered_address",
            GoldenField::CurrentAddress => "current_address",
            GoldenField::HouseholdId => "household_id",
            GoldenField::RelationToHead => "relation_to_head",
            GoldenField::Deceased => "deceased",
            GoldenField::MovedOut => "moved_out",
        }
    }

    /// The field spelt `s`.
    pub fn parse(s: &str) -> Option<GoldenField> {
        GoldenField::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// Its key in the canonical record's JSON (the identity number sits in
    /// `id_document`, with its kind).
    pub fn record_key(self) -> &'static str {
        match self {
            GoldenField::IdNumber => "id_document",
            other => other.as_str(),
        }
    }

    /// The field name for a canonical record JSON key (`id_document` →
    /// `id_number`); other keys are returned as they are.
    pub fn name_of_record_key(key: &str) -> &str {
        match GoldenField::ALL.into_iter().find(|f| f.record_key() == key) {
            Some(field) => field.as_str(),
            None => key,
        }
    }
}

/// The rule chain for one field and the source ranking its
/// `source_priority` rule uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldRules {
    /// Compared in order; each later rule only breaks ties.
    pub rules: Vec<Rule>,
    /// Source (connector) or department names, best first. Empty: the
    /// mappings' trust ranks the sources instead.
    pub source_priority: Vec<String>,
}

impl Default for FieldRules {
    fn default() -> Self {
        FieldRules {
            rules: Rule::ALL.to_vec(),
            source_priority: Vec::new(),
        }
    }
}

impl FieldRules {
    /// Position of a source in `source_priority`: its own name's, else its
    /// department's; unlisted sources come after every listed one.
    pub fn priority_rank(&self, source: &str, department: &str) -> usize {
        let list = &self.source_priority;
        list.iter()
            .position(|p| p == source)
            .or_else(|| list.iter().position(|p| p == department))
            .unwrap_or(list.len())
    }
}

/// All survivorship settings: the default chain, per-field overrides and
/// the mappings' trust per source and field.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Survivorship {
    /// Applies to every field without its own entry.
    pub default: FieldRules,
    /// Per-field chains, already completed from the default by the loader.
    pub fields: BTreeMap<GoldenField, FieldRules>,
    /// Source (connector) name → field name → trust 0.0–1.0, from the
    /// mapping each connector uses.
    pub trust: BTreeMap<String, BTreeMap<String, f64>>,
}

impl Survivorship {
    /// The chain that decides `field`.
    pub fn rules_for(&self, field: GoldenField) -> &FieldRules {
        self.fields.get(&field).unwrap_or(&self.default)
    }

    /// How far `source`'s mapping trusts it for `field` ([`DEFAULT_TRUST`]
    /// when it does not say).
    pub fn trust(&self, source: &str, field: GoldenField) -> f64 {
        self.trust
            .get(source)
            .and_then(|t| t.get(field.as_str()))
            .copied()
            .unwrap_or(DEFAULT_TRUST)
    }

    /// The `source_priority` rule's key for a source (higher is better):
    /// the negated rank in the field's priority list, or, when the field
    /// has none, the trust in millionths.
    pub fn priority_key(&self, field: GoldenField, source: &str, department: &str) -> i64 {
        let rules = self.rules_for(field);
        if rules.source_priority.is_empty() {
            (self.trust(source, field) * 1_000_000.0).round() as i64
        } else {
            -(rules.priority_rank(source, department) as i64)
        }
    }

    /// A stable hex digest of the rules that decide every golden value (the
    /// chains, priorities and the builder's version), so a caller that
    /// stored it with the golden records notices a change and recomputes
    /// them all. Each source's trust has its own digest
    /// ([`Survivorship::trust_fingerprints`]): it only matters to masters
    /// holding a record of that source.
    pub fn fingerprint(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(text, "{ALGORITHM}");
        let mut chain = |name: &str, rules: &FieldRules| {
            let names: Vec<&str> = rules.rules.iter().map(|r| r.as_str()).collect();
            let _ = writeln!(
                text,
                "{name:?} rules={names:?} priority={:?}",
                rules.source_priority
            );
        };
        chain("*", &self.default);
        for (field, rules) in &self.fields {
            chain(field.as_str(), rules);
        }
        hex_digest(&text)
    }

    /// Per source with a `[trust]`, a digest of it: when one changes (or a
    /// source comes or goes), only the masters holding that source's
    /// records need rebuilding.
    pub fn trust_fingerprints(&self) -> BTreeMap<String, String> {
        self.trust
            .iter()
            .filter(|(_, fields)| !fields.is_empty())
            .map(|(source, fields)| {
                let mut text = String::new();
                for (field, trust) in fields {
                    let _ = writeln!(text, "{field:?}={trust:?}");
                }
                (source.clone(), hex_digest(&text))
            })
            .collect()
    }
}

fn hex_digest(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for rule in Rule::ALL {
            assert_eq!(Rule::parse(rule.as_str()), Some(rule));
        }
        for field in GoldenField::ALL {
            assert_eq!(GoldenField::parse(field.as_str()), Some(field));
            let json = serde_json::to_value(field).unwrap();
            assert_eq!(json, field.as_str());
        }
        assert_eq!(Rule::parse("newest"), None);
        assert_eq!(GoldenField::parse("phone"), None);
    }

    #[test]
    fn fields_are_the_mapping_files_canonical_fields() {
        let names: Vec<&str> = GoldenField::ALL.iter().map(|f| f.as_str()).collect();
        assert_eq!(names, crate::config::mapping::CANONICAL_FIELDS);
    }

    #[test]
    fn default_chain() {
        let s = Survivorship::default();
        let rules = s.rules_for(GoldenField::Phones);
        assert_eq!(
            rules.rules,
            [
                Rule::Valid,
                Rule::SourcePriority,
                Rule::MostRecent,
                Rule::MostFrequent,
                Rule::MostComplete
            ]
        );
        assert!(rules.source_priority.is_empty());
        assert!(s.trust.is_empty());
    }

    #[test]
    fn rank_by_source_then_department_then_unlisted() {
        let rules = FieldRules {
            rules: vec![Rule::SourcePriority],
            source_priority: vec!["hr_api".into(), "health".into(), "hr".into()],
        };
        assert_eq!(rules.priority_rank("hr_api", "hr"), 0);
        assert_eq!(rules.priority_rank("clinic", "health"), 1);
        assert_eq!(rules.priority_rank("hr_ledger", "hr"), 2);
        assert_eq!(rules.priority_rank("grid", "governance"), 3);
    }

    #[test]
    fn priority_key_falls_back_to_trust() {
        let mut s = Survivorship::default();
        s.trust
            .entry("hr".into())
            .or_default()
            .insert("id_number".into(), 0.95);
        assert_eq!(s.trust("hr", GoldenField::IdNumber), 0.95);
        assert_eq!(s.trust("hr", GoldenField::Name), DEFAULT_TRUST);
        assert_eq!(s.trust("health", GoldenField::IdNumber), DEFAULT_TRUST);
        assert!(
            s.priority_key(GoldenField::IdNumber, "hr", "hr")
                > s.priority_key(GoldenField::IdNumber, "health", "health")
        );
        s.fields.insert(
            GoldenField::IdNumber,
            FieldRules {
                rules: vec![Rule::SourcePriority],
                source_priority: vec!["health".into()],
            },
        );
        assert!(
            s.priority_key(GoldenField::IdNumber, "hr", "hr")
                < s.priority_key(GoldenField::IdNumber, "health", "health")
        );
    }

    #[test]
    fn fingerprint_changes_with_every_part() {
        let base = Survivorship::default();
        let fp = base.fingerprint();
        assert_eq!(fp.len(), 64);
        assert!(fp.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(fp, Survivorship::default().fingerprint());

        let mut chain = base.clone();
        chain.default.rules.swap(1, 2);
        let mut priority = base.clone();
        priority.default.source_priority.push("hr".into());
        let mut field = base.clone();
        field
            .fields
            .insert(GoldenField::IdNumber, FieldRules::default());
        let mut trust = base.clone();
        trust
            .trust
            .entry("hr".into())
            .or_default()
            .insert("name".into(), 0.9);
        let mut trust2 = trust.clone();
        trust2
            .trust
            .get_mut("hr")
            .unwrap()
            .insert("name".into(), 0.8);
        let all = [
            fp.clone(),
            chain.fingerprint(),
            priority.fingerprint(),
            field.fingerprint(),
        ];
        let distinct: std::collections::BTreeSet<_> = all.iter().collect();
        assert_eq!(distinct.len(), all.len(), "{all:?}");

        // Trust is per source: it leaves the rules' digest alone.
        assert_eq!(trust.fingerprint(), fp);
        assert!(base.trust_fingerprints().is_empty());
        let (one, two) = (trust.trust_fingerprints(), trust2.trust_fingerprints());
        assert_eq!(one.keys().collect::<Vec<_>>(), ["hr"]);
        assert_ne!(one["hr"], two["hr"]);
    }
}
