//! Estimating m and u from the data, as Splink does: u from random pairs
//! (almost all of which are different people), m by expectation
//! maximisation over pairs found by one blocking rule at a time, leaving
//! out the fields that rule blocked on (they agree by construction), and
//! averaging each field's m over the sessions that could train it.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::blocking::{candidate_pairs, BlockingOptions, BlockingRule};
use super::compare::{Field, Level};
use super::features::Features;
use super::model::{LevelParams, MatchModel, SessionInfo, TrainingInfo};

/// How to train.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Random pairs for u.
    pub random_pairs: usize,
    /// One EM session per rule.
    pub sessions: Vec<BlockingRule>,
    pub max_iterations: u32,
    /// Stop when no m moves by more than this.
    pub tolerance: f64,
    pub max_block_size: usize,
    pub seed: u64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            random_pairs: 2_000_000,
            sessions: vec![
                BlockingRule::IdNumber,
                BlockingRule::PinyinBirthYear,
                BlockingRule::Phone,
            ],
            max_iterations: 25,
            tolerance: 1e-4,
            max_block_size: 200,
            seed: 2026,
        }
    }
}

/// Why training could not produce a model.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("training needs at least 2 records with a name, found {0}")]
    TooFewRecords(usize),
}

/// The fields a blocking rule fixes (so a session on it cannot train them).
fn blocked_fields(rule: BlockingRule) -> &'static [Field] {
    match rule {
        BlockingRule::IdNumber | BlockingRule::IdNumber17 => &[Field::IdNumber],
        BlockingRule::Phone => &[Field::Phone],
        BlockingRule::PinyinBirthYear
        | BlockingRule::SurnameBirthDate
        | BlockingRule::NameBirthMonth => &[Field::Name, Field::BirthDate],
        BlockingRule::BirthDateSexCommunity => &[Field::BirthDate, Field::Sex, Field::Address],
        BlockingRule::BirthDate => &[Field::BirthDate],
        BlockingRule::Name => &[Field::Name],
    }
}

type Levels = [Option<Level>; 7];

fn levels_of(a: &Features, b: &Features) -> Levels {
    Field::ALL.map(|f| f.compare(a, b))
}

fn level_slot(field: Field, level: Level) -> usize {
    field
        .levels()
        .iter()
        .position(|&l| l == level)
        .expect("compare only yields the field's levels")
}

/// Trains a model on `records`, starting from `base` (whose m values seed
/// EM and stand in for fields no session could train).
pub fn train(
    records: &[Features],
    base: &MatchModel,
    options: &TrainOptions,
    trained_at: String,
) -> Result<MatchModel, TrainError> {
    let n = records.len();
    if records.iter().filter(|f| f.name.is_some()).count() < 2 {
        return Err(TrainError::TooFewRecords(n));
    }
    let mut model = base.clone();

    // u from random pairs.
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut counts: Vec<Vec<u64>> = Field::ALL
        .iter()
        .map(|f| vec![0; f.levels().len()])
        .collect();
    for _ in 0..options.random_pairs {
        let i = rng.random_range(0..n);
        let j = rng.random_range(0..n);
        if i == j {
            continue;
        }
        for (field, level) in Field::ALL.iter().zip(levels_of(&records[i], &records[j])) {
            if let Some(level) = level {
                counts[field.index()][level_slot(*field, level)] += 1;
            }
        }
    }
    for field in Field::ALL {
        let c = &counts[field.index()];
        let observed: u64 = c.iter().sum();
        if observed == 0 {
            continue;
        }
        for (slot, &level) in field.levels().iter().enumerate() {
            // A level never seen among random pairs is rarer than one in
            // `observed`: half a pair's worth keeps log2(m/u) finite.
            let u = (c[slot] as f64).max(0.5) / observed as f64;
            set(&mut model, field, level, |p| p.u = u.min(1.0));
        }
    }

    // m by EM, one session per blocking rule.
    let mut m_sums: Vec<Vec<f64>> = Field::ALL
        .iter()
        .map(|f| vec![0.0; f.levels().len()])
        .collect();
    let mut m_sessions = [0u32; 7];
    let mut sessions = Vec::new();
    for &rule in &options.sessions {
        let blocking = BlockingOptions {
            rules: vec![rule],
            max_block_size: options.max_block_size,
            report_largest: 0,
        };
        let pairs = candidate_pairs(records, &blocking, None).pairs;
        if pairs.is_empty() {
            continue;
        }
        let levels: Vec<Levels> = pairs
            .iter()
            .map(|&(i, j)| levels_of(&records[i as usize], &records[j as usize]))
            .collect();
        let fixed = blocked_fields(rule);
        let trained: Vec<Field> = Field::ALL
            .into_iter()
            .filter(|f| !fixed.contains(f))
            .collect();
        let (m, iterations) = expectation_maximisation(&model, &levels, &trained, options);
        for &field in &trained {
            for (slot, v) in m[field.index()].iter().enumerate() {
                m_sums[field.index()][slot] += v;
            }
            m_sessions[field.index()] += 1;
        }
        sessions.push(SessionInfo {
            blocking_rule: rule.as_str().to_owned(),
            pairs: pairs.len() as u64,
            iterations,
            trained_fields: trained,
        });
    }
    for field in Field::ALL {
        let k = m_sessions[field.index()];
        if k == 0 {
            continue;
        }
        for (slot, &level) in field.levels().iter().enumerate() {
            let m = (m_sums[field.index()][slot] / f64::from(k)).max(1e-6);
            set(&mut model, field, level, |p| p.m = m.min(1.0));
        }
    }

    model.duplicates_per_record = estimate_duplicates(records, &model);
    model.training = Some(TrainingInfo {
        trained_at,
        records: n as u64,
        random_pairs: options.random_pairs as u64,
        sessions,
    });
    Ok(model)
}

fn set(model: &mut MatchModel, field: Field, level: Level, f: impl FnOnce(&mut LevelParams)) {
    let params = model
        .fields
        .entry(field)
        .or_default()
        .entry(level)
        .or_insert(LevelParams { m: 0.5, u: 0.5 });
    f(params);
}

/// EM over one session's pairs; returns m per field and level slot.
fn expectation_maximisation(
    start: &MatchModel,
    pairs: &[Levels],
    trained: &[Field],
    options: &TrainOptions,
) -> (Vec<Vec<f64>>, u32) {
    let mut m: Vec<Vec<f64>> = Field::ALL
        .iter()
        .map(|&f| f.levels().iter().map(|&l| start.params(f, l).m).collect())
        .collect();
    let u: Vec<Vec<f64>> = Field::ALL
        .iter()
        .map(|&f| f.levels().iter().map(|&l| start.params(f, l).u).collect())
        .collect();
    let mut lambda = 0.5f64;
    let mut iterations = 0;
    for _ in 0..options.max_iterations {
        iterations += 1;
        let mut num: Vec<Vec<f64>> = m.iter().map(|l| vec![0.0; l.len()]).collect();
        let mut total_p = 0.0;
        for levels in pairs {
            let mut log_ratio = (lambda / (1.0 - lambda)).log2();
            for &field in trained {
                if let Some(level) = levels[field.index()] {
                    let s = level_slot(field, level);
                    log_ratio += (m[field.index()][s] / u[field.index()][s]).log2();
                }
            }
            let p = 1.0 / (1.0 + (-log_ratio).exp2());
            total_p += p;
            for &field in trained {
                if let Some(level) = levels[field.index()] {
                    num[field.index()][level_slot(field, level)] += p;
                }
            }
        }
        let mut moved = 0.0f64;
        for &field in trained {
            let row = &num[field.index()];
            let sum: f64 = row.iter().sum();
            if sum <= 0.0 {
                continue;
            }
            for (slot, v) in row.iter().enumerate() {
                let new = (v / sum).max(1e-6);
                moved = moved.max((new - m[field.index()][slot]).abs());
                m[field.index()][slot] = new;
            }
        }
        lambda = (total_p / pairs.len() as f64).clamp(1e-6, 1.0 - 1e-6);
        if moved < options.tolerance {
            break;
        }
    }
    (m, iterations)
}

/// Expected other records of the same person per record: the summed match
/// probability of all default-blocked pairs, twice (each pair has two
/// ends), over the records. Iterated because the prior feeds back.
fn estimate_duplicates(records: &[Features], model: &MatchModel) -> f64 {
    let pairs = candidate_pairs(records, &BlockingOptions::default(), None).pairs;
    let n = records.len().max(1);
    let weights = model.weights();
    let bayes: Vec<f64> = pairs
        .iter()
        .map(|&(i, j)| {
            levels_of(&records[i as usize], &records[j as usize])
                .iter()
                .zip(Field::ALL)
                .filter_map(|(l, f)| l.map(|l| weights.weight(f, l)))
                .sum()
        })
        .collect();
    let mut per_record = model.duplicates_per_record;
    for _ in 0..5 {
        let prior = MatchModel {
            duplicates_per_record: per_record,
            ..model.clone()
        }
        .prior_weight(n);
        let expected: f64 = bayes
            .iter()
            .map(|w| 1.0 / (1.0 + (-(prior + w)).exp2()))
            .sum();
        per_record = (2.0 * expected / n as f64).max(0.01);
    }
    per_record
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::record::ResidentRecord;

    /// Persons with two records each; the second has its name in
    /// traditional characters a third of the time.
    fn records() -> Vec<Features> {
        let surnames = ["张", "王", "李", "赵", "陈", "刘"];
        let given = ["伟", "芳", "娜", "敏", "静", "强", "磊", "军"];
        let mut out = Vec::new();
        for p in 0..300u32 {
            let name = format!(
                "{}{}{}",
                surnames[p as usize % 6],
                given[(p / 6) as usize % 8],
                given[(p / 48) as usize % 8]
            );
            let birth = format!("19{:02}-{:02}-{:02}", 40 + p % 50, 1 + p % 12, 1 + p % 28);
            let phone = format!("138{:08}", p);
            for copy in 0..2 {
                let mut json =
                    serde_json::json!({"name": name, "birth_date": birth, "phones": [phone]});
                if copy == 1 && p % 3 == 0 {
                    json["name"] = serde_json::json!(name.replace('张', "張"));
                }
                out.push(Features::of(
                    &serde_json::from_value::<ResidentRecord>(json).unwrap(),
                ));
            }
        }
        out
    }

    #[test]
    fn training_learns_from_the_data() {
        let records = records();
        let options = TrainOptions {
            random_pairs: 20_000,
            sessions: vec![BlockingRule::Phone, BlockingRule::PinyinBirthYear],
            ..TrainOptions::default()
        };
        let model = train(&records, &MatchModel::default(), &options, "now".into()).unwrap();
        let info = model.training.as_ref().unwrap();
        assert_eq!(info.sessions.len(), 2);
        assert_eq!(info.records, 600);
        // Every record has exactly one other record of its person.
        assert!(
            (model.duplicates_per_record - 1.0).abs() < 0.2,
            "{}",
            model.duplicates_per_record
        );
        let name = |l| model.params(Field::Name, l);
        // Random pairs rarely share a name; pairs of one person mostly do.
        assert!(name(Level::Exact).u < 0.05);
        assert!(name(Level::Exact).m > 0.5, "{:?}", name(Level::Exact));
        assert!(model.params(Field::BirthDate, Level::Exact).m > 0.9);
        // The learned model still round-trips through its file.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.toml");
        model.save(&path).unwrap();
        assert_eq!(MatchModel::load(&path).unwrap(), model);
    }

    #[test]
    fn too_few_records_is_an_error() {
        let err = train(
            &[],
            &MatchModel::default(),
            &TrainOptions::default(),
            "now".into(),
        );
        assert!(matches!(err, Err(TrainError::TooFewRecords(0))));
    }
}
