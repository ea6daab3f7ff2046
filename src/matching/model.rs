//! The Fellegi–Sunter model: for every field and level, m (the chance of
//! that agreement level between two records of the same person) and u (the
//! chance between two different people). A level's match weight is
//! log2(m/u); a pair's weight is the prior plus the sum over fields.
//!
//! The model is a readable, versioned TOML file that `yici train` writes and
//! every run loads; without one the defaults below apply, chosen from what
//! department records of one district look like (most identity numbers
//! present and right, names often in traditional or homophone variants,
//! one phone per household).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::compare::{Field, Level};

/// The model-file format version this build reads and writes.
pub const MODEL_VERSION: u32 = 1;

/// Number of [`Level`] variants (the weight table's width).
const LEVELS: usize = Level::Different as usize + 1;

/// m and u of one level.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelParams {
    /// P(level | same person).
    pub m: f64,
    /// P(level | different people).
    pub u: f64,
}

impl LevelParams {
    /// log2(m/u).
    pub fn weight(&self) -> f64 {
        (self.m / self.u).log2()
    }
}

/// How a model was trained, for the file's reader.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingInfo {
    /// When (RFC 3339).
    pub trained_at: String,
    /// Active staged records it saw.
    pub records: u64,
    /// Random pairs behind the u estimates.
    pub random_pairs: u64,
    /// The EM sessions behind the m estimates, by blocking rule.
    pub sessions: Vec<SessionInfo>,
}

/// One EM session: pairs blocked by one rule, the fields it could train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionInfo {
    pub blocking_rule: String,
    pub pairs: u64,
    pub iterations: u32,
    pub trained_fields: Vec<Field>,
}

/// A complete match model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchModel {
    /// File format version ([`MODEL_VERSION`]).
    pub version: u32,
    /// Expected number of *other* records of the same person per record
    /// (≈ sources per person − 1). The prior for a pair is this over the
    /// number of records, so it stays right as the index grows.
    pub duplicates_per_record: f64,
    /// Present when trained from data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<TrainingInfo>,
    /// m and u per field and level.
    pub fields: BTreeMap<Field, BTreeMap<Level, LevelParams>>,
}

/// Why a model file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{}: {error}", path.display())]
    Parse {
        path: PathBuf,
        error: toml::de::Error,
    },
    #[error("{}: version {found}, this yici reads version {MODEL_VERSION}; run `yici train` again", path.display())]
    Version { path: PathBuf, found: u32 },
    #[error("{}: fields.{field}.{level}: {problem}", path.display())]
    Level {
        path: PathBuf,
        field: Field,
        level: Level,
        problem: String,
    },
    #[error("{}: duplicates_per_record must be a positive number, not {value}", path.display())]
    Prior { path: PathBuf, value: f64 },
}

fn p(m: f64, u: f64) -> LevelParams {
    LevelParams { m, u }
}

impl Default for MatchModel {
    fn default() -> Self {
        use Level::*;
        let table: [(Field, &[(Level, LevelParams)]); 7] = [
            (
                Field::IdNumber,
                &[
                    (Exact, p(0.90, 2e-6)),
                    (Upgraded15, p(0.01, 1e-7)),
                    (OneDigit, p(0.04, 2e-5)),
                    (Transposed, p(0.01, 2e-6)),
                    (Different, p(0.04, 0.999_976)),
                ],
            ),
            (
                Field::Name,
                &[
                    (Exact, p(0.85, 3e-4)),
                    (Folded, p(0.03, 2e-5)),
                    (Homophone, p(0.05, 4e-4)),
                    (Similar, p(0.03, 3e-3)),
                    (OnePart, p(0.01, 2e-3)),
                    (Different, p(0.03, 0.994_3)),
                ],
            ),
            (
                Field::FormerName,
                &[(Shared, p(0.3, 1e-4)), (Different, p(0.7, 0.9999))],
            ),
            (
                Field::BirthDate,
                &[
                    (Exact, p(0.92, 5e-5)),
                    (DayMonthSwapped, p(0.01, 1e-6)),
                    (YearMonth, p(0.03, 1.5e-3)),
                    (OneDigit, p(0.02, 1e-3)),
                    (Different, p(0.02, 0.997_45)),
                ],
            ),
            (
                Field::Sex,
                &[(Agree, p(0.99, 0.5)), (Different, p(0.01, 0.5))],
            ),
            (
                Field::Phone,
                &[(Shared, p(0.6, 1e-5)), (Different, p(0.4, 0.999_99))],
            ),
            (
                Field::Address,
                &[
                    (Exact, p(0.55, 1e-3)),
                    (SameHouse, p(0.1, 2e-3)),
                    (Similar, p(0.1, 2e-4)),
                    (SameCommunity, p(0.1, 0.05)),
                    (Different, p(0.15, 0.9468)),
                ],
            ),
        ];
        MatchModel {
            version: MODEL_VERSION,
            duplicates_per_record: 1.5,
            training: None,
            fields: table
                .into_iter()
                .map(|(field, levels)| (field, levels.iter().copied().collect()))
                .collect(),
        }
    }
}

impl MatchModel {
    /// Reads and validates a model file.
    pub fn load(path: &Path) -> Result<MatchModel, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|error| ModelError::Io {
            path: path.to_owned(),
            error,
        })?;
        let model: MatchModel = toml::from_str(&text).map_err(|error| ModelError::Parse {
            path: path.to_owned(),
            error,
        })?;
        model.validate(path)?;
        Ok(model)
    }

    /// The model at `path` if the file exists, the defaults otherwise.
    pub fn load_or_default(path: &Path) -> Result<MatchModel, ModelError> {
        if path.exists() {
            MatchModel::load(path)
        } else {
            Ok(MatchModel::default())
        }
    }

    /// Writes the model (atomically: a temporary file renamed into place).
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let io = |error| ModelError::Io {
            path: path.to_owned(),
            error,
        };
        let mut text = String::from(
            "# yici match model (Fellegi–Sunter). m = P(level | same person),\n\
             # u = P(level | different people); weight = log2(m/u).\n\
             # Written by `yici train`; edit with care, `yici check` validates it.\n\n",
        );
        text.push_str(&toml::to_string(self).expect("a model always serializes"));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    fn validate(&self, path: &Path) -> Result<(), ModelError> {
        if self.version != MODEL_VERSION {
            return Err(ModelError::Version {
                path: path.to_owned(),
                found: self.version,
            });
        }
        if !(self.duplicates_per_record.is_finite() && self.duplicates_per_record > 0.0) {
            return Err(ModelError::Prior {
                path: path.to_owned(),
                value: self.duplicates_per_record,
            });
        }
        for field in Field::ALL {
            for &level in field.levels() {
                let problem = |problem: String| ModelError::Level {
                    path: path.to_owned(),
                    field,
                    level,
                    problem,
                };
                let Some(params) = self.fields.get(&field).and_then(|l| l.get(&level)) else {
                    return Err(problem("missing".to_owned()));
                };
                for (name, v) in [("m", params.m), ("u", params.u)] {
                    if !(v > 0.0 && v <= 1.0) {
                        return Err(problem(format!("{name} = {v} is not in (0, 1]")));
                    }
                }
            }
            if let Some(levels) = self.fields.get(&field) {
                if let Some(extra) = levels.keys().find(|l| !field.levels().contains(l)) {
                    return Err(ModelError::Level {
                        path: path.to_owned(),
                        field,
                        level: *extra,
                        problem: format!(
                            "not a level of {field} (levels: {})",
                            field
                                .levels()
                                .iter()
                                .map(|l| l.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// m and u of one level (the defaults' if the model lacks it, which a
    /// validated model never does).
    pub fn params(&self, field: Field, level: Level) -> LevelParams {
        self.fields
            .get(&field)
            .and_then(|l| l.get(&level))
            .copied()
            .unwrap_or_else(|| MatchModel::default().fields[&field][&level])
    }

    /// The prior weight, log2 of the odds that two records picked at random
    /// from `records` are the same person.
    pub fn prior_weight(&self, records: usize) -> f64 {
        let n = records.max(2) as f64;
        let p = (self.duplicates_per_record / (n - 1.0)).min(0.5);
        (p / (1.0 - p)).log2()
    }

    /// The weight table the pair loop reads.
    pub fn weights(&self) -> Weights {
        let mut table = [[0.0; LEVELS]; Field::ALL.len()];
        let mut u = [[1.0; LEVELS]; Field::ALL.len()];
        for field in Field::ALL {
            for &level in field.levels() {
                let params = self.params(field, level);
                table[field.index()][level as usize] = params.weight();
                u[field.index()][level as usize] = params.u;
            }
        }
        Weights { table, u }
    }
}

/// Level weights and u values indexed by field and level, for the hot loop.
#[derive(Debug, Clone)]
pub struct Weights {
    table: [[f64; LEVELS]; 7],
    u: [[f64; LEVELS]; 7],
}

impl Weights {
    /// log2(m/u) of a level.
    pub fn weight(&self, field: Field, level: Level) -> f64 {
        self.table[field.index()][level as usize]
    }

    /// u of a level (for term-frequency adjustments).
    pub fn u(&self, field: Field, level: Level) -> f64 {
        self.u[field.index()][level as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_ordered() {
        let model = MatchModel::default();
        model.validate(Path::new("default")).unwrap();
        let w = model.weights();
        for field in Field::ALL {
            let levels = field.levels();
            // Agreement is evidence for a match, disagreement against.
            assert!(w.weight(field, levels[0]) > 0.0, "{field}");
            assert!(w.weight(field, Level::Different) < 0.0, "{field}");
        }
        // Identity numbers weigh more than names, names more than sex.
        assert!(w.weight(Field::IdNumber, Level::Exact) > w.weight(Field::Name, Level::Exact));
        assert!(w.weight(Field::Name, Level::Exact) > w.weight(Field::Sex, Level::Agree));
    }

    #[test]
    fn weight_is_log2_of_m_over_u() {
        let p = LevelParams { m: 0.9, u: 0.0009 };
        assert!((p.weight() - 1000f64.log2()).abs() < 1e-12);
    }

    #[test]
    fn prior_scales_with_the_index() {
        let model = MatchModel::default();
        let small = model.prior_weight(1_000);
        let large = model.prior_weight(1_000_000);
        assert!(
            (small - large - 1000f64.log2()).abs() < 0.01,
            "{small} {large}"
        );
        // 1.5 duplicates among 999 others: odds 1.5 : 997.5.
        assert!((small - (1.5f64 / 997.5).log2()).abs() < 1e-9);
    }

    #[test]
    fn round_trips_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.toml");
        let model = MatchModel {
            duplicates_per_record: 2.25,
            ..MatchModel::default()
        };
        model.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("[fields.id_number.exact]"), "{text}");
        assert_eq!(MatchModel::load(&path).unwrap(), model);
    }

    #[test]
    fn bad_files_say_where() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.toml");
        let mut model = MatchModel::default();
        model
            .fields
            .get_mut(&Field::Name)
            .unwrap()
            .insert(Level::Exact, LevelParams { m: 1.5, u: 0.1 });
        model.save(&path).unwrap();
        let err = MatchModel::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("fields.name.exact: m = 1.5 is not in (0, 1]"),
            "{err}"
        );

        model = MatchModel::default();
        model
            .fields
            .get_mut(&Field::Sex)
            .unwrap()
            .remove(&Level::Agree);
        model.save(&path).unwrap();
        let err = MatchModel::load(&path).unwrap_err().to_string();
        assert!(err.contains("fields.sex.agree: missing"), "{err}");

        std::fs::write(
            &path,
            "version = 7\nduplicates_per_record = 1.0\n[fields]\n",
        )
        .unwrap();
        let err = MatchModel::load(&path).unwrap_err().to_string();
        assert!(err.contains("version 7"), "{err}");
    }
}
