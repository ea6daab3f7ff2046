//! The records a resolution works on: every active staged record's
//! comparison view, in a fixed order (source, then key) so every run over
//! the same data sees the same indices, pairs and clusters. Also what
//! `train`, `blocking`, `explain` and `eval` start from.

use std::collections::HashMap;

use crate::config::settings::Matching;
use crate::matching::frequency::{load_name_table, FrequencyTableError, TermFrequencies};
use crate::matching::model::ModelError;
use crate::matching::resolution::generic_ids;
use crate::matching::{Features, MatchModel, Scorer};
use crate::model::record::ResidentRecord;
use crate::store::{RecordRef, Store, StoreError};

/// Why the records or the model could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum UniverseError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("match model {0}")]
    Model(#[from] ModelError),
    #[error("name frequencies {0}")]
    Frequencies(#[from] FrequencyTableError),
}

/// Active staged records as matching sees them.
#[derive(Debug, Default)]
pub struct Universe {
    pub refs: Vec<RecordRef>,
    pub hashes: Vec<String>,
    pub features: Vec<Features>,
    /// Records whose stored canonical JSON could not be read (left out,
    /// logged; a restage rewrites them).
    pub unreadable: Vec<RecordRef>,
    index: HashMap<RecordRef, u32>,
}

/// Rows per read; each page is turned into comparison views on every core
/// before the next is fetched, so memory holds views, not JSON text.
const PAGE: i64 = 20_000;

impl Universe {
    /// Reads every active staged record.
    pub async fn load(store: &Store) -> Result<Universe, UniverseError> {
        let mut rows: Vec<(RecordRef, String, Features)> = Vec::new();
        let mut unreadable = Vec::new();
        let mut after = 0;
        loop {
            let page = store.active_records(after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            let parsed = tokio::task::spawn_blocking(move || parse_page(page))
                .await
                .expect("parsing canonical records panicked");
            for (r, hash, features) in parsed {
                match features {
                    Some(f) => rows.push((r, hash, f)),
                    None => unreadable.push(r),
                }
            }
        }
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut universe = Universe {
            unreadable,
            ..Universe::default()
        };
        for (i, (r, hash, f)) in rows.into_iter().enumerate() {
            universe.index.insert(r.clone(), i as u32);
            universe.refs.push(r);
            universe.hashes.push(hash);
            universe.features.push(f);
        }
        Ok(universe)
    }

    pub fn len(&self) -> usize {
        self.refs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }

    /// The index of a record, if it is active.
    pub fn position(&self, r: &RecordRef) -> Option<u32> {
        self.index.get(r).copied()
    }

    /// A scorer for these records: the model, term frequencies counted
    /// here (or the operator's table), and the generic identity numbers
    /// found here.
    pub fn scorer(&self, matching: &Matching, model: &MatchModel) -> Result<Scorer, UniverseError> {
        let mut tf = TermFrequencies::count(&self.features);
        if let Some(path) = &matching.name_frequencies {
            tf = tf.with_name_table(load_name_table(path)?);
        }
        let generic = generic_ids(&self.features, matching.settings.generic_id_names);
        for id in &generic {
            tracing::warn!(
                id_number = %crate::model::mask::mask_id_number(id),
                "identity number carried under several different names; not used as evidence"
            );
        }
        Ok(Scorer::new(
            model,
            self.len(),
            tf,
            generic,
            matching.settings.thresholds,
        ))
    }
}

/// Loads the model the settings name (defaults when it does not exist yet).
pub fn load_model(matching: &Matching) -> Result<MatchModel, UniverseError> {
    Ok(MatchModel::load_or_default(&matching.model_path)?)
}

type Parsed = (RecordRef, String, Option<Features>);

fn parse_page(page: Vec<crate::store::ActiveRecord>) -> Vec<Parsed> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = page.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = page
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(parse_one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("parsing thread panicked"))
            .collect()
    })
}

fn parse_one(row: &crate::store::ActiveRecord) -> Parsed {
    let r = RecordRef::new(&row.source, &row.source_key);
    let features = match serde_json::from_str::<ResidentRecord>(&row.canonical) {
        Ok(record) => Some(Features::of(&record)),
        Err(error) => {
            tracing::warn!(
                record = %crate::model::mask::mask_digits_in_text(&r.to_string()),
                %error,
                "staged canonical record unreadable; left out of matching (yici restage fixes it)"
            );
            None
        }
    };
    (r, row.content_hash.clone(), features)
}
