//! Deciding which records are the same person: blocking, comparisons with
//! levels, the Fellegi–Sunter model with term-frequency adjustments, hard
//! rules, clustering that does not chain, training and the accuracy
//! harness. Pure: records in, pairs, weights and clusters out; the store
//! side lives in `sync::resolve` and `master`.

pub mod blocking;
pub mod cluster;
pub mod compare;
pub mod eval;
pub mod features;
pub mod frequency;
pub mod model;
pub mod resolution;
pub mod score;
pub mod train;

pub use blocking::{BlockingOptions, BlockingRule};

/// Why an operator's input file (a name-frequency table, a truth file)
/// could not be read: the file, and the line when one is at fault.
#[derive(Debug, thiserror::Error)]
pub enum InputFileError {
    #[error("{}: {error}", path.display())]
    Io {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
    #[error("{}:{line}: {problem}", path.display())]
    Line {
        path: std::path::PathBuf,
        line: u64,
        problem: String,
    },
}
pub use compare::{Field, Level};
pub use features::Features;
pub use model::MatchModel;
pub use resolution::MatchSettings;
pub use score::{Decision, Explanation, Scorer, Thresholds};

/// Helpers the unit tests of this module share.
#[cfg(test)]
pub(crate) mod testing {
    use super::features::Features;
    use super::frequency::TermFrequencies;
    use crate::model::record::ResidentRecord;

    /// The comparison view of a canonical record written as JSON.
    pub fn features(json: serde_json::Value) -> Features {
        Features::of(&serde_json::from_value::<ResidentRecord>(json).unwrap())
    }

    /// An identity document as canonical JSON.
    pub fn id(number: &str) -> serde_json::Value {
        serde_json::to_value(crate::model::id_number::IdDocument::parse(None, number)).unwrap()
    }

    /// A valid identity number from its first 17 digits.
    pub fn valid(first17: &str) -> String {
        format!(
            "{first17}{}",
            crate::model::id_number::check_digit(first17).unwrap()
        )
    }

    /// Term frequencies of `records` inside a district where 2,000 other
    /// records carry names and phones of their own, so agreeing on a value
    /// the test records share is not automatically weak evidence.
    pub fn district_frequencies(records: &[Features]) -> TermFrequencies {
        let mut all = records.to_vec();
        all.extend((0..2_000u32).map(|i| {
            let name: String = (0..4)
                .map(|k| char::from(b'a' + ((i >> (k * 3)) % 26) as u8))
                .collect();
            features(serde_json::json!({
                "name": format!("Filler {name}"),
                "phones": [format!("139{i:08}")]
            }))
        }));
        TermFrequencies::count(&all)
    }
}
