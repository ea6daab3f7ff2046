//! Accuracy against a ground truth: pairwise precision, recall and F1 (the
//! measure Splink reports), and the wrong pairs sorted by cause so an
//! operator sees *why* the resolver erred, not just how often.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;

use super::compare::{Field, Level};
use super::features::Features;
use super::InputFileError;

/// `source,source_key,person_id` rows.
#[derive(Debug, Clone, Default)]
pub struct Truth {
    persons: HashMap<(String, String), String>,
}

impl Truth {
    /// Reads a CSV with the header `source,source_key,person_id`.
    pub fn load(path: &Path) -> Result<Truth, InputFileError> {
        let mut reader = csv::Reader::from_path(path).map_err(|e| InputFileError::Io {
            path: path.to_owned(),
            error: std::io::Error::other(e),
        })?;
        let headers = reader.headers().map_err(|e| InputFileError::Line {
            path: path.to_owned(),
            line: 1,
            problem: e.to_string(),
        })?;
        if headers.iter().collect::<Vec<_>>() != ["source", "source_key", "person_id"] {
            return Err(InputFileError::Line {
                path: path.to_owned(),
                line: 1,
                problem: "the header must be `source,source_key,person_id`".to_owned(),
            });
        }
        let mut persons = HashMap::new();
        for row in reader.records() {
            let row = row.map_err(|e| InputFileError::Line {
                path: path.to_owned(),
                line: e.position().map_or(0, |p| p.line()),
                problem: e.to_string(),
            })?;
            let line = row.position().map_or(0, |p| p.line());
            let (Some(source), Some(key), Some(person)) = (row.get(0), row.get(1), row.get(2))
            else {
                return Err(InputFileError::Line {
                    path: path.to_owned(),
                    line,
                    problem: "expected 3 fields".to_owned(),
                });
            };
            persons.insert((source.to_owned(), key.to_owned()), person.to_owned());
        }
        Ok(Truth { persons })
    }

    /// Builds a truth from pairs (for tests and generated data).
    pub fn from_rows(rows: impl IntoIterator<Item = (String, String, String)>) -> Truth {
        Truth {
            persons: rows.into_iter().map(|(s, k, p)| ((s, k), p)).collect(),
        }
    }

    /// The true person of a record.
    pub fn person(&self, source: &str, key: &str) -> Option<&str> {
        self.persons
            .get(&(source.to_owned(), key.to_owned()))
            .map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.persons.len()
    }

    pub fn is_empty(&self) -> bool {
        self.persons.is_empty()
    }
}

/// Pairwise accuracy of one clustering.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Records present in both the resolution and the truth.
    pub records: u64,
    /// Resolved records the truth does not name (left out of the counts).
    pub records_without_truth: u64,
    pub true_positives: u64,
    /// Pairs put together that are different people (false merges).
    pub false_positives: u64,
    /// Pairs of one person left apart (missed links).
    pub false_negatives: u64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Scores `clusters[i]` (any label per record) against `persons[i]` (the
/// true person, `None` when unknown).
pub fn pairwise<C: Eq + std::hash::Hash, P: Eq + std::hash::Hash>(
    clusters: &[C],
    persons: &[Option<P>],
) -> Metrics {
    let mut joint: HashMap<(&C, &P), u64> = HashMap::new();
    let mut by_cluster: HashMap<&C, u64> = HashMap::new();
    let mut by_person: HashMap<&P, u64> = HashMap::new();
    let mut without = 0;
    for (c, p) in clusters.iter().zip(persons) {
        let Some(p) = p else {
            without += 1;
            continue;
        };
        *joint.entry((c, p)).or_default() += 1;
        *by_cluster.entry(c).or_default() += 1;
        *by_person.entry(p).or_default() += 1;
    }
    let tp: u64 = joint.values().map(|&n| pairs(n)).sum();
    let predicted: u64 = by_cluster.values().map(|&n| pairs(n)).sum();
    let actual: u64 = by_person.values().map(|&n| pairs(n)).sum();
    let ratio = |a: u64, b: u64| if b == 0 { 1.0 } else { a as f64 / b as f64 };
    let precision = ratio(tp, predicted);
    let recall = ratio(tp, actual);
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    Metrics {
        records: clusters.len() as u64 - without,
        records_without_truth: without,
        true_positives: tp,
        false_positives: predicted - tp,
        false_negatives: actual - tp,
        precision,
        recall,
        f1,
    }
}

/// Why two different people ended in one cluster.
pub fn false_merge_cause(a: &Features, b: &Features) -> &'static str {
    match Field::IdNumber.compare(a, b) {
        None => "chained through a record without an identity number",
        Some(Level::Exact | Level::Upgraded15) => "same identity number on both",
        Some(Level::OneDigit | Level::Transposed) => "identity numbers one typo apart",
        Some(_) => {
            if Field::Name.compare(a, b) == Some(Level::Exact)
                && Field::BirthDate.compare(a, b) == Some(Level::Exact)
            {
                "same name and birth date"
            } else {
                "other"
            }
        }
    }
}

/// Why two records of one person were left apart.
pub fn missed_link_cause(a: &Features, b: &Features) -> &'static str {
    let level = |f: Field| f.compare(a, b);
    match level(Field::IdNumber) {
        Some(Level::Different) => return "identity numbers differ",
        None if a.id.is_none() && b.id.is_none() => {}
        None => return "identity number missing on one side",
        _ => {}
    }
    if level(Field::Name) == Some(Level::Different) {
        "names differ"
    } else if level(Field::BirthDate) == Some(Level::Different) {
        "birth dates differ"
    } else if a.id.is_none() && b.id.is_none() {
        "no identity number on either, weight below the link threshold"
    } else {
        "weight below the link threshold"
    }
}

/// Counts of wrong pairs by cause, enumerating at most `limit` pairs of
/// each kind (a giant false cluster would otherwise take forever).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Causes {
    pub false_merges: BTreeMap<String, u64>,
    pub missed_links: BTreeMap<String, u64>,
}

/// Sorts the wrong pairs of a clustering by cause.
pub fn causes<C: Eq + std::hash::Hash + Clone, P: Eq + std::hash::Hash + Clone>(
    features: &[Features],
    clusters: &[C],
    persons: &[Option<P>],
    limit: usize,
) -> Causes {
    let mut out = Causes::default();
    let mut by_cluster: HashMap<C, Vec<usize>> = HashMap::new();
    let mut by_person: HashMap<P, Vec<usize>> = HashMap::new();
    for (i, (c, p)) in clusters.iter().zip(persons).enumerate() {
        if let Some(p) = p {
            by_cluster.entry(c.clone()).or_default().push(i);
            by_person.entry(p.clone()).or_default().push(i);
        }
    }
    let mut seen = 0;
    'merges: for members in by_cluster.values() {
        for (x, &i) in members.iter().enumerate() {
            for &j in &members[x + 1..] {
                if persons[i] != persons[j] {
                    let cause = false_merge_cause(&features[i], &features[j]);
                    *out.false_merges.entry(cause.to_owned()).or_default() += 1;
                    seen += 1;
                    if seen >= limit {
                        break 'merges;
                    }
                }
            }
        }
    }
    seen = 0;
    'missed: for members in by_person.values() {
        for (x, &i) in members.iter().enumerate() {
            for &j in &members[x + 1..] {
                if clusters[i] != clusters[j] {
                    let cause = missed_link_cause(&features[i], &features[j]);
                    *out.missed_links.entry(cause.to_owned()).or_default() += 1;
                    seen += 1;
                    if seen >= limit {
                        break 'missed;
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_counts() {
        // Truth: {0,1,2} {3,4}; predicted: {0,1} {2,3,4}.
        let clusters = [1, 1, 2, 2, 2];
        let persons = [Some("a"), Some("a"), Some("a"), Some("b"), Some("b")];
        let m = pairwise(&clusters, &persons);
        assert_eq!(
            (m.true_positives, m.false_positives, m.false_negatives),
            (2, 2, 2)
        );
        assert!((m.precision - 0.5).abs() < 1e-12);
        assert!((m.recall - 0.5).abs() < 1e-12);
        assert!((m.f1 - 0.5).abs() < 1e-12);
    }

    #[test]
    fn perfect_and_unknown() {
        let clusters = ["x", "x", "y", "z"];
        let persons = [Some(1), Some(1), Some(2), None];
        let m = pairwise(&clusters, &persons);
        assert_eq!(m.f1, 1.0);
        assert_eq!((m.records, m.records_without_truth), (3, 1));
    }

    #[test]
    fn reads_truth_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("truth.csv");
        std::fs::write(&path, "source,source_key,person_id\nhealth,1,P1\nhr,9,P1\n").unwrap();
        let t = Truth::load(&path).unwrap();
        assert_eq!(t.person("hr", "9"), Some("P1"));
        assert_eq!(t.len(), 2);
        std::fs::write(&path, "a,b\n1,2\n").unwrap();
        let err = Truth::load(&path).unwrap_err().to_string();
        assert!(err.contains(":1: the header must be"), "{err}");
    }

    #[test]
    fn causes_name_the_culprit() {
        let f = crate::matching::testing::features;
        let a = f(serde_json::json!({"name": "张伟", "birth_date": "1980-01-01"}));
        let b = f(serde_json::json!({"name": "张伟", "birth_date": "1980-01-01"}));
        let c = f(serde_json::json!({"name": "李娜", "birth_date": "1990-01-01"}));
        let features = vec![a, b, c];
        // 0 and 1 are different people put together; 0 and 2 one person kept apart.
        let causes = causes(
            &features,
            &[1, 1, 2],
            &[Some("p"), Some("q"), Some("p")],
            100,
        );
        assert_eq!(
            causes
                .false_merges
                .get("chained through a record without an identity number"),
            Some(&1)
        );
        assert_eq!(causes.missed_links.get("names differ"), Some(&1));
    }
}
