//! Scoring a pair: the prior, each field's level weight, term-frequency
//! adjustments, the hard rules, and the decision the total leads to. One
//! code path serves the pair loop (just the total) and `yici explain` (every
//! term), so an explanation is always exactly what the run computed.

use std::collections::HashSet;

use serde::Serialize;

use super::compare::{ids_conflict, Field, Level};
use super::features::Features;
use super::frequency::TermFrequencies;
use super::model::{MatchModel, Weights};

/// Match-weight thresholds from `[matching]` in `yici.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// At or above: link.
    pub upper: f64,
    /// At or above (and below `upper`): a steward reviews. Below: distinct.
    pub lower: f64,
}

/// What a pair's score leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Link,
    Review,
    Distinct,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Link => "link",
            Decision::Review => "review",
            Decision::Distinct => "distinct",
        }
    }
}

/// A rule that decides a pair whatever its weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HardRule {
    /// Two valid identity numbers more than one typo apart: different
    /// people (twins, namesakes in one household).
    DifferentIdNumbers,
    /// Same birth date and household, names that differ beyond spelling,
    /// and no identity number to tell them apart: possibly twins.
    PossibleTwins,
}

impl HardRule {
    pub fn describe(self) -> &'static str {
        match self {
            HardRule::DifferentIdNumbers => {
                "two valid identity numbers more than one typo apart never link"
            }
            HardRule::PossibleTwins => {
                "same birth date and household but different names, no identity number to confirm: possibly twins, a steward decides"
            }
        }
    }
}

/// One field's contribution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldScore {
    pub field: Field,
    /// `None`: missing on either side (weight 0).
    pub level: Option<Level>,
    /// log2(m/u) of the level.
    pub weight: f64,
    /// Added for how common the agreeing value is.
    pub tf_adjustment: f64,
    /// Why a present value was not compared, e.g. a generic identity number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
}

/// Every term of a pair's score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub prior: f64,
    pub fields: Vec<FieldScore>,
    pub total: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hard_rule: Option<HardRule>,
    pub decision: Decision,
}

/// A pair's total and what the hard rules say about it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    pub weight: f64,
    /// Never link.
    pub cannot_link: bool,
    /// Never link automatically: a steward decides (unless the resolver
    /// finds the pair unambiguous, see `resolution`).
    pub review_only: bool,
    /// A review-only pair the resolver may link when it finds it
    /// unambiguous: an identity number is missing on a side (not merely
    /// different) and the sexes agree.
    pub promotable: bool,
}

/// Scores pairs with one model over one set of records.
#[derive(Debug, Clone)]
pub struct Scorer {
    weights: Weights,
    prior: f64,
    tf: TermFrequencies,
    generic_ids: HashSet<String>,
    thresholds: Thresholds,
}

impl Scorer {
    /// `records` is the number of records being resolved (for the prior);
    /// `generic_ids` are identity numbers shared by clearly different
    /// people, which stop counting as evidence.
    pub fn new(
        model: &MatchModel,
        records: usize,
        tf: TermFrequencies,
        generic_ids: HashSet<String>,
        thresholds: Thresholds,
    ) -> Scorer {
        Scorer {
            weights: model.weights(),
            prior: model.prior_weight(records),
            tf,
            generic_ids,
            thresholds,
        }
    }

    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }

    /// How many identity numbers were found generic.
    pub fn generic_id_count(&self) -> usize {
        self.generic_ids.len()
    }

    /// The pair's total weight and hard-rule verdict.
    pub fn score(&self, a: &Features, b: &Features) -> Score {
        self.evaluate(a, b, |_| {})
    }

    /// The decision a score leads to.
    pub fn decide(&self, score: Score) -> Decision {
        if score.cannot_link {
            Decision::Distinct
        } else if score.weight >= self.thresholds.upper && !score.review_only {
            Decision::Link
        } else if score.weight >= self.thresholds.lower {
            Decision::Review
        } else {
            Decision::Distinct
        }
    }

    /// Every term of the pair's score.
    pub fn explain(&self, a: &Features, b: &Features) -> Explanation {
        let mut fields = Vec::with_capacity(Field::ALL.len());
        let score = self.evaluate(a, b, |f| fields.push(f));
        Explanation {
            prior: self.prior,
            fields,
            total: score.weight,
            hard_rule: if score.cannot_link {
                Some(HardRule::DifferentIdNumbers)
            } else if score.review_only {
                Some(HardRule::PossibleTwins)
            } else {
                None
            },
            decision: self.decide(score),
        }
    }

    fn evaluate(&self, a: &Features, b: &Features, mut each: impl FnMut(FieldScore)) -> Score {
        let generic = self.either_generic(a, b);
        let levels: [Option<Level>; 7] = Field::ALL.map(|field| {
            if field == Field::IdNumber && generic {
                None
            } else {
                field.compare(a, b)
            }
        });
        let level_of = |field: Field| levels[field.index()];
        let phone_shared = level_of(Field::Phone) == Some(Level::Shared);
        let mut total = self.prior;
        for field in Field::ALL {
            let level = level_of(field);
            let mut note = (field == Field::IdNumber && generic)
                .then_some("generic identity number (shared by different people) ignored");
            let (mut weight, mut tf_adjustment) = match level {
                Some(level) => (
                    self.weights.weight(field, level),
                    self.tf_adjustment(field, level, a, b),
                ),
                None => (0.0, 0.0),
            };
            // A shared phone and a shared address are one fact, not two:
            // the same household. Counting both would make every pair of
            // relatives living together look like one person.
            if field == Field::Address
                && phone_shared
                && matches!(
                    level,
                    Some(Level::Exact | Level::SameHouse | Level::SameCommunity)
                )
            {
                (weight, tf_adjustment) = (0.0, 0.0);
                note = Some("same household as the shared phone already shows; counted once");
            }
            total += weight + tf_adjustment;
            each(FieldScore {
                field,
                level,
                weight,
                tf_adjustment,
                note,
            });
        }
        let cannot_link = level_of(Field::IdNumber) == Some(Level::Different)
            && matches!((a.valid_id(), b.valid_id()), (Some(x), Some(y)) if ids_conflict(x, y));
        let id_confirms = matches!(
            level_of(Field::IdNumber),
            Some(Level::Exact | Level::Upgraded15 | Level::OneDigit | Level::Transposed)
        );
        let same_household = phone_shared
            || matches!(
                level_of(Field::Address),
                Some(Level::Exact | Level::SameHouse)
            );
        let possible_twin = !id_confirms
            && level_of(Field::BirthDate) == Some(Level::Exact)
            && same_household
            && !matches!(level_of(Field::Name), Some(Level::Exact | Level::Folded));
        Score {
            weight: total,
            cannot_link,
            review_only: possible_twin && !cannot_link,
            promotable: level_of(Field::IdNumber).is_none()
                && level_of(Field::Sex) != Some(Level::Different),
        }
    }

    fn either_generic(&self, a: &Features, b: &Features) -> bool {
        !self.generic_ids.is_empty()
            && [a, b].iter().any(|f| {
                f.id.as_ref()
                    .is_some_and(|k| self.generic_ids.contains(&k.number))
            })
    }

    /// Splink's adjustment: an exact agreement on a value with relative
    /// frequency tf weighs log2(m/tf) instead of log2(m/u).
    fn tf_adjustment(&self, field: Field, level: Level, a: &Features, b: &Features) -> f64 {
        let tf = match (field, level) {
            (Field::Name, Level::Exact | Level::Folded) => {
                let (Some(x), Some(y)) = (&a.name, &b.name) else {
                    return 0.0;
                };
                self.tf.name(&x.folded).max(self.tf.name(&y.folded))
            }
            (Field::Phone, Level::Shared) => a
                .phones
                .iter()
                .filter(|p| b.phones.contains(p))
                .map(|p| self.tf.phone(p))
                .fold(f64::INFINITY, f64::min),
            _ => return 0.0,
        };
        if !tf.is_finite() || tf <= 0.0 {
            return 0.0;
        }
        // Relative to the u of exact agreement: folding only removes the
        // spelling noise, the value agreed on is as common as ever.
        let exact = if field == Field::Name {
            Level::Exact
        } else {
            level
        };
        (self.weights.u(field, exact) / tf).log2()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::testing::{district_frequencies, features, id, valid};

    /// A scorer for a district of a million records, of which `records`
    /// are a few.
    fn scorer(records: &[Features]) -> Scorer {
        Scorer::new(
            &MatchModel::default(),
            1_000_000,
            district_frequencies(records),
            HashSet::new(),
            Thresholds {
                upper: 12.0,
                lower: 4.0,
            },
        )
    }

    #[test]
    fn total_is_prior_plus_field_weights() {
        let a = features(serde_json::json!({
            "id_document": id("11010519491231002X"), "name": "张伟", "sex": "female",
            "phones": ["13812345678"]
        }));
        let b = features(serde_json::json!({
            "id_document": id("11010519491231002X"), "name": "張偉", "sex": "female"
        }));
        let s = scorer(&[a.clone(), b.clone()]);
        let e = s.explain(&a, &b);
        let sum: f64 = e.prior
            + e.fields
                .iter()
                .map(|f| f.weight + f.tf_adjustment)
                .sum::<f64>();
        assert!((e.total - sum).abs() < 1e-9);
        assert_eq!(s.score(&a, &b).weight, e.total);
        let level = |field| e.fields.iter().find(|f| f.field == field).unwrap().level;
        assert_eq!(level(Field::IdNumber), Some(Level::Exact));
        assert_eq!(level(Field::Name), Some(Level::Folded));
        assert_eq!(level(Field::BirthDate), Some(Level::Exact));
        assert_eq!(level(Field::Phone), None);
        assert_eq!(e.decision, Decision::Link);
    }

    #[test]
    fn missing_values_weigh_nothing() {
        let a = features(serde_json::json!({"name": "张伟"}));
        let b = features(serde_json::json!({"name": "李娜", "birth_date": "1980-01-01"}));
        let e = scorer(&[]).explain(&a, &b);
        for f in &e.fields {
            if f.field != Field::Name {
                assert_eq!((f.level, f.weight, f.tf_adjustment), (None, 0.0, 0.0));
            }
        }
    }

    #[test]
    fn different_valid_ids_never_link() {
        // Twins: same surname, birth date, address, phone; different numbers.
        let twin = |id_no: &str, name: &str| {
            features(serde_json::json!({
                "id_document": id(id_no), "name": name, "phones": ["13812345678"],
                "current_address": "鼓楼街道中山社区23幢502室"
            }))
        };
        let a = twin(&valid("33020320050101123"), "王大明");
        let b = twin(&valid("33020320050101125"), "王小明");
        let s = scorer(&[a.clone(), b.clone()]);
        let score = s.score(&a, &b);
        assert!(score.cannot_link);
        assert_eq!(s.decide(score), Decision::Distinct);
        assert_eq!(
            s.explain(&a, &b).hard_rule,
            Some(HardRule::DifferentIdNumbers)
        );
        // One typo apart is not a conflict.
        let mut typo = valid("33020320050101123");
        typo.replace_range(16..17, "4");
        let c = twin(&typo, "王大明");
        assert!(!s.score(&a, &c).cannot_link);
    }

    #[test]
    fn common_names_weigh_less_than_rare_ones() {
        let mut records: Vec<Features> = (0..50)
            .map(|_| features(serde_json::json!({"name": "张伟"})))
            .collect();
        records.push(features(serde_json::json!({"name": "欧阳翠花"})));
        records.push(features(serde_json::json!({"name": "欧阳翠花"})));
        let s = scorer(&records);
        let common = s.explain(&records[0], &records[1]);
        let rare = s.explain(&records[50], &records[51]);
        let name = |e: &Explanation| e.fields[Field::Name.index()].clone();
        assert_eq!(name(&common).weight, name(&rare).weight);
        assert!(name(&common).tf_adjustment < name(&rare).tf_adjustment);
        assert!(common.total < rare.total);
    }

    #[test]
    fn generic_ids_are_ignored() {
        let a =
            features(serde_json::json!({"id_document": id("11010519491231002X"), "name": "张伟"}));
        let b =
            features(serde_json::json!({"id_document": id("11010519491231002X"), "name": "李娜"}));
        let mut generic = HashSet::new();
        generic.insert("11010519491231002X".to_owned());
        let s = Scorer::new(
            &MatchModel::default(),
            1_000,
            TermFrequencies::default(),
            generic,
            Thresholds {
                upper: 12.0,
                lower: 4.0,
            },
        );
        let e = s.explain(&a, &b);
        assert_eq!(e.fields[0].level, None);
        assert!(e.fields[0].note.is_some());
    }
}
