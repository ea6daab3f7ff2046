//! The synthetic sample district behind `yici demo`, tests and benchmarks.
//!
//! A deterministic (per seed) population of a Ningbo district (宁波市海曙区)
//! and the records four department systems keep about it, each in its native
//! format and with its own realistic errors:
//!
//! | department | file | format |
//! |---|---|---|
//! | 民政 civil affairs | `civil_affairs/ledger.xlsx` | Excel ledger, merged two-row header |
//! | 卫健 health | `health/jmjkda.csv` | GB18030 CSV, CRLF |
//! | 人社 HR | `hr/pages/page-0001.json` … | paginated REST JSON |
//! | 综治 governance | `governance/population.db` | SQLite (`schema.sql` alongside) |
//!
//! plus `truth.csv` (which person each record is) and a `README.md`.
//! [`generate_population`] and [`records`] give the same data in memory.

mod civil_affairs;
pub mod governance;
mod health;
mod hr;
pub mod hr_gateway;
mod names;
mod noise;
mod people;
mod places;
mod random;
mod readme;
mod records;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

pub use noise::{noise_rates, Noise, NoiseRates, NOISE_TABLE};
pub use people::{
    generate_population, reference_date, Document, Hardship, Household, Person, PersonId,
    Population, PopulationStats, Registration, Relation, Residence, Sex,
};
pub use places::Address;
pub use records::{
    records, Assistance, DemoRecord, Details, DocumentType, InsuranceStatus, Records,
};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DemoOptions {
    /// Number of true persons (households are filled up to exactly this).
    pub persons: usize,
    /// Seed: the same seed and `persons` give byte-identical files.
    pub seed: u64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            persons: 2_000,
            seed: 20_261_101,
        }
    }
}

/// Largest supported sample (person ids are written with 7 digits).
pub const MAX_PERSONS: usize = 9_999_999;

/// The department systems of the sample district.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Department {
    /// 民政
    CivilAffairs,
    /// 卫健
    Health,
    /// 人社
    Hr,
    /// 综治
    Governance,
}

impl Department {
    /// All departments, in the order files and truth rows are written.
    pub const ALL: [Department; 4] = [
        Department::CivilAffairs,
        Department::Health,
        Department::Hr,
        Department::Governance,
    ];

    /// The source name used in `truth.csv` and in code.
    pub fn as_str(self) -> &'static str {
        match self {
            Department::CivilAffairs => "civil_affairs",
            Department::Health => "health",
            Department::Hr => "hr",
            Department::Governance => "governance",
        }
    }

    /// The Chinese name operators know the department by.
    pub fn label(self) -> &'static str {
        match self {
            Department::CivilAffairs => "民政",
            Department::Health => "卫健",
            Department::Hr => "人社",
            Department::Governance => "综治",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Why a sample could not be written; every I/O error names its file.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("invalid demo options: {0}")]
    InvalidOptions(String),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write workbook {path}: {source}")]
    Xlsx {
        path: PathBuf,
        #[source]
        source: rust_xlsxwriter::XlsxError,
    },
    #[error("cannot write JSON page {path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot write SQLite database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: sqlx::Error,
    },
    #[error("sample generation task failed: {0}")]
    Task(String),
}

impl DemoError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        DemoError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What one department's writer produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceSummary {
    pub department: Department,
    /// Records written (including duplicates).
    pub records: usize,
    /// Records that are a second registration of a person.
    pub duplicates: usize,
    /// Files written, in order (one per page for HR).
    pub files: Vec<PathBuf>,
}

/// What `write_sample_district` wrote (printed by `yici demo --json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DemoSummary {
    pub dir: PathBuf,
    pub seed: u64,
    pub persons: usize,
    pub households: usize,
    pub population: PopulationStats,
    pub sources: Vec<SourceSummary>,
    pub truth: PathBuf,
    pub readme: PathBuf,
}

impl DemoSummary {
    /// The summary of `department`.
    pub fn source(&self, department: Department) -> Option<&SourceSummary> {
        self.sources.iter().find(|s| s.department == department)
    }
}

/// A department's writer output: its summary and its `truth.csv` lines.
pub(crate) struct Written {
    pub(crate) summary: SourceSummary,
    pub(crate) truth: Vec<u8>,
}

impl Written {
    pub(crate) fn new(department: Department) -> Self {
        Written {
            summary: SourceSummary {
                department,
                records: 0,
                duplicates: 0,
                files: Vec::new(),
            },
            truth: Vec::new(),
        }
    }

    /// Notes one written record for the ground truth.
    pub(crate) fn record(&mut self, record: &DemoRecord) {
        use std::io::Write as _;
        self.summary.records += 1;
        self.summary.duplicates += usize::from(record.noise.contains(&Noise::Duplicate));
        // Writing to a Vec cannot fail.
        let _ = writeln!(
            self.truth,
            "{},{},{}",
            record.department.as_str(),
            record.source_key,
            record.person
        );
    }
}

/// Generates the sample district into `dir` (created if needed; files of a
/// previous sample are replaced). CPU-bound writers run on blocking threads.
pub async fn write_sample_district(
    dir: &Path,
    opts: &DemoOptions,
) -> Result<DemoSummary, DemoError> {
    if opts.persons == 0 || opts.persons > MAX_PERSONS {
        return Err(DemoError::InvalidOptions(format!(
            "persons must be between 1 and {MAX_PERSONS}, got {}",
            opts.persons
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| DemoError::io(dir, e))?;
    let opts = *opts;
    let population = Arc::new(
        tokio::task::spawn_blocking(move || generate_population(&opts))
            .await
            .map_err(|e| DemoError::Task(e.to_string()))?,
    );

    let blocking = |f: fn(&Path, &Population) -> Result<Written, DemoError>| {
        let (dir, pop) = (dir.to_path_buf(), Arc::clone(&population));
        tokio::task::spawn_blocking(move || f(&dir, &pop))
    };
    let civil = blocking(civil_affairs::write);
    let health = blocking(health::write);
    let hr = blocking(hr::write);
    let governance = governance::write(dir, &population).await;
    let join = |r: Result<Result<Written, DemoError>, tokio::task::JoinError>| {
        r.map_err(|e| DemoError::Task(e.to_string()))?
    };
    let written = [
        join(civil.await)?,
        join(health.await)?,
        join(hr.await)?,
        governance?,
    ];

    let truth = dir.join("truth.csv");
    let mut bytes = b"source,source_key,person_id\n".to_vec();
    for w in &written {
        bytes.extend_from_slice(&w.truth);
    }
    std::fs::write(&truth, bytes).map_err(|e| DemoError::io(&truth, e))?;

    let summary = DemoSummary {
        dir: dir.to_path_buf(),
        seed: opts.seed,
        persons: population.persons.len(),
        households: population.households.len(),
        population: population.stats(),
        sources: written.into_iter().map(|w| w.summary).collect(),
        truth,
        readme: dir.join("README.md"),
    };
    let text = readme::render(&summary);
    std::fs::write(&summary.readme, text).map_err(|e| DemoError::io(&summary.readme, e))?;
    Ok(summary)
}

/// Creates `dir` and returns it; the error names the directory.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), DemoError> {
    std::fs::create_dir_all(dir).map_err(|e| DemoError::io(dir, e))
}
