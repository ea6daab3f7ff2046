//! Mapping examples: raw rows an operator wrote into the mapping file with
//! what each must become. `yici check` runs them, so a mapping edit that
//! breaks a known case shows up as a readable diff before any pull.

use std::fmt;
use std::path::Path;

use serde_json::{Map, Value};

use super::compile::Standardizer;
use super::flat::flat_view;
use super::raw::number_text;
use super::standardize::Outcome;
use crate::config::{ConfigError, Mapping};

pub use crate::config::mapping::{EXPECT_PROBLEMS, EXPECT_QUARANTINED};

/// One expected value that did not come out.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    pub key: String,
    pub expected: Value,
    /// `Null` when the outcome has no such value.
    pub actual: Value,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: expected {}, got ", self.key, self.expected)?;
        match &self.actual {
            Value::Null => f.write_str("nothing"),
            v => write!(f, "{v}"),
        }
    }
}

/// An example whose outcome differs from its `expect` table.
#[derive(Debug, Clone, PartialEq)]
pub struct ExampleFailure {
    /// Position in the file's `[[examples]]`.
    pub index: usize,
    /// The example's name, or `#N` (1-based) when it has none.
    pub example: String,
    pub differences: Vec<Difference>,
    /// Why the row was quarantined, when it was and should not have been.
    pub quarantine_reasons: Vec<String>,
}

impl ExampleFailure {
    /// The failure as a configuration error on `examples[i]` of `file`, so
    /// `yici check` reports it next to the file's other problems.
    pub fn to_config_error(&self, file: &Path) -> ConfigError {
        ConfigError {
            file: file.to_path_buf(),
            line: None,
            column: None,
            key: Some(format!("examples[{}]", self.index)),
            message: self.to_string(),
        }
    }
}

impl fmt::Display for ExampleFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "example {:?} does not hold:", self.example)?;
        if !self.quarantine_reasons.is_empty() {
            write!(f, "\n  quarantined: {}", self.quarantine_reasons.join("; "))?;
        }
        for d in &self.differences {
            write!(f, "\n  {d}")?;
        }
        Ok(())
    }
}

/// A TOML value as a connector would deliver it: integral floats as
/// integers, dates and datetimes as text.
pub fn toml_to_json(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(*f as i64),
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(toml_table_to_json(t)),
    }
}

/// A TOML table as a raw row.
pub fn toml_table_to_json(table: &toml::Table) -> Map<String, Value> {
    table
        .iter()
        .map(|(k, v)| (k.clone(), toml_to_json(v)))
        .collect()
}

/// Whether an actual value satisfies an expected one. Lenient about form,
/// strict about content: `sex = 1` and `sex = "1"` both match code "1", and
/// a single expected phone matches a one-phone list.
fn satisfies(expected: &Value, actual: &Value) -> bool {
    if expected == actual {
        return true;
    }
    match (expected, actual) {
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(e, a)| satisfies(e, a))
        }
        (e, Value::Array(a)) if !e.is_array() && a.len() == 1 => satisfies(e, &a[0]),
        (e, a) => scalar_text(e).is_some_and(|e| Some(e) == scalar_text(a)),
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(number_text(n)),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Order-insensitive comparison of expected and actual problem strings.
fn same_problems(expected: &Value, actual: &[String]) -> bool {
    let Value::Array(items) = expected else {
        return false;
    };
    let mut want: Vec<String> = items.iter().filter_map(scalar_text).collect();
    let mut got = actual.to_vec();
    want.sort();
    got.sort();
    want.len() == items.len() && want == got
}

impl Standardizer {
    /// Runs `mapping`'s examples through this standardizer; one failure per
    /// example that does not hold.
    pub fn run_examples(&self, mapping: &Mapping) -> Vec<ExampleFailure> {
        let mut failures = Vec::new();
        for (index, example) in mapping.examples.iter().enumerate() {
            let raw = toml_table_to_json(&example.raw);
            let expect: Map<String, Value> = toml_table_to_json(&example.expect);
            let outcome = self.standardize(&raw);
            let mut differences = Vec::new();
            let mut quarantine_reasons = Vec::new();
            let want_quarantine = expect
                .get(EXPECT_QUARANTINED)
                .is_some_and(|v| satisfies(v, &Value::Bool(true)));
            match &outcome {
                Outcome::Quarantined { reasons, .. } => {
                    if !want_quarantine {
                        quarantine_reasons = reasons.clone();
                    }
                    if let Some(e) = expect.get(EXPECT_PROBLEMS) {
                        if !same_problems(e, reasons) {
                            differences.push(Difference {
                                key: EXPECT_PROBLEMS.into(),
                                expected: e.clone(),
                                actual: reasons.clone().into(),
                            });
                        }
                    }
                }
                Outcome::Staged(staged) => {
                    if want_quarantine {
                        differences.push(Difference {
                            key: EXPECT_QUARANTINED.into(),
                            expected: Value::Bool(true),
                            actual: Value::Bool(false),
                        });
                    }
                    let flat = flat_view(&staged.record);
                    let problems: Vec<String> =
                        staged.problems.iter().map(ToString::to_string).collect();
                    for (key, expected) in &expect {
                        let actual = match key.as_str() {
                            EXPECT_QUARANTINED => continue,
                            EXPECT_PROBLEMS => {
                                if same_problems(expected, &problems) {
                                    continue;
                                }
                                Value::from(problems.clone())
                            }
                            _ => {
                                let actual = flat.get(key).cloned().unwrap_or(Value::Null);
                                if satisfies(expected, &actual) {
                                    continue;
                                }
                                actual
                            }
                        };
                        differences.push(Difference {
                            key: key.clone(),
                            expected: expected.clone(),
                            actual,
                        });
                    }
                }
            }
            if !differences.is_empty() || !quarantine_reasons.is_empty() {
                failures.push(ExampleFailure {
                    index,
                    example: example
                        .name
                        .clone()
                        .unwrap_or_else(|| format!("#{}", index + 1)),
                    differences,
                    quarantine_reasons,
                });
            }
        }
        failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn leniency() {
        assert!(satisfies(&json!("1"), &json!("1")));
        assert!(satisfies(&json!(1), &json!("1")));
        assert!(satisfies(&json!("2"), &json!(2)));
        assert!(satisfies(&json!("138"), &json!(["138"])));
        assert!(satisfies(&json!(["a", "b"]), &json!(["a", "b"])));
        assert!(!satisfies(&json!(["b", "a"]), &json!(["a", "b"])));
        assert!(!satisfies(&json!("1"), &Value::Null));
        assert!(!satisfies(&json!(true), &json!("yes")));
        assert!(satisfies(&json!(false), &json!(false)));
    }

    #[test]
    fn toml_values() {
        let t: toml::Table =
            toml::from_str("a = 1\nb = 2.0\nc = 2.5\nd = 1985-03-07\ne = [\"x\"]\nf = true")
                .unwrap();
        let j = toml_table_to_json(&t);
        assert_eq!(
            Value::Object(j),
            json!({"a": 1, "b": 2, "c": 2.5, "d": "1985-03-07", "e": ["x"], "f": true})
        );
    }

    #[test]
    fn diff_reads_like_a_diff() {
        let f = ExampleFailure {
            index: 0,
            example: "spaces".into(),
            differences: vec![
                Difference {
                    key: "name".into(),
                    expected: json!("张伟"),
                    actual: json!("张 伟"),
                },
                Difference {
                    key: "birth_date".into(),
                    expected: json!("1949-12-31"),
                    actual: Value::Null,
                },
            ],
            quarantine_reasons: vec![],
        };
        assert_eq!(
            f.to_string(),
            "example \"spaces\" does not hold:\n  name: expected \"张伟\", got \"张 伟\"\n  birth_date: expected \"1949-12-31\", got nothing"
        );
        let e = f.to_config_error(Path::new("mappings/health.toml"));
        assert!(e
            .to_string()
            .starts_with("mappings/health.toml: key `examples[0]`: example \"spaces\""));
    }
}
