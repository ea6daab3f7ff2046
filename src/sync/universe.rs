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
use crate::store::{unpack_record, RecordRef, Store, StoreError};

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

/// A record's current link, as resolution needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkInfo {
    /// Index into [`Universe::masters`].
    pub master: u32,
    /// A steward made the link: the record stays with that master.
    pub manual: bool,
    /// The record is unchanged since the link was decided.
    pub current: bool,
}

/// Active staged records as matching sees them, in row-id order (stable
/// from run to run, so the same data gives the same pairs and clusters).
#[derive(Debug, Default)]
pub struct Universe {
    pub refs: Vec<RecordRef>,
    pub hashes: Vec<String>,
    pub features: Vec<Features>,
    pub links: Vec<Option<LinkInfo>>,
    /// The distinct masters records are linked to.
    pub masters: Vec<String>,
    /// Records whose stored canonical JSON could not be read (left out,
    /// logged; a restage rewrites them).
    pub unreadable: Vec<RecordRef>,
    /// Record indices sorted by reference, built on first lookup.
    by_ref: std::sync::OnceLock<Vec<u32>>,
}

/// Rows per read; each page is turned into comparison views on every core
/// before the next is fetched, so memory holds views, not JSON text.
const PAGE: i64 = 20_000;

impl Universe {
    /// Reads every active staged record with its link.
    pub async fn load(store: &Store) -> Result<Universe, UniverseError> {
        // Links are read alongside the records, on another connection.
        let links = {
            let store = store.clone();
            tokio::spawn(async move { store.link_rows().await })
        };
        let started = std::time::Instant::now();
        let mut rows: Vec<Unpacked> = Vec::new();
        let mut after = 0;
        let mut fetching = std::time::Duration::ZERO;
        loop {
            let t = std::time::Instant::now();
            let Some(page) = store.active_records(after, PAGE).await? else {
                break;
            };
            fetching += t.elapsed();
            after = page.last_id;
            let parsed = tokio::task::spawn_blocking(move || unpack_page(&page))
                .await
                .expect("parsing staged records panicked")?;
            rows.extend(parsed);
        }
        // Rows staged before match keys were stored: derive them.
        let missing: Vec<i64> = rows
            .iter()
            .filter(|r| r.features.is_none())
            .map(|r| r.id)
            .collect();
        if !missing.is_empty() {
            let canonical: HashMap<i64, String> = store
                .canonical_records(&missing)
                .await?
                .into_iter()
                .collect();
            for row in rows.iter_mut().filter(|r| r.features.is_none()) {
                row.features = canonical.get(&row.id).and_then(|text| {
                    serde_json::from_str::<ResidentRecord>(text)
                        .map(|r| Features::of(&r))
                        .map_err(|error| unreadable(&row.source, &row.source_key, &error))
                        .ok()
                });
            }
        }
        let read = started.elapsed();
        let links = links.await.expect("reading links panicked")?;
        let mut by_source: HashMap<String, HashMap<String, crate::store::LinkRow>> = HashMap::new();
        for l in links {
            by_source
                .entry(l.source.clone())
                .or_default()
                .insert(l.source_key.clone(), l);
        }
        let mut universe = Universe::default();
        let mut master_index: HashMap<String, u32> = HashMap::new();
        for row in rows {
            let r = RecordRef::new(row.source, row.source_key);
            let Some(features) = row.features else {
                universe.unreadable.push(r);
                continue;
            };
            let link = by_source
                .get_mut(r.source.as_str())
                .and_then(|m| m.remove(r.source_key.as_str()))
                .map(|l| {
                    let master = match master_index.get(&l.master_id) {
                        Some(&i) => i,
                        None => {
                            let i = universe.masters.len() as u32;
                            universe.masters.push(l.master_id.clone());
                            master_index.insert(l.master_id, i);
                            i
                        }
                    };
                    LinkInfo {
                        master,
                        manual: l.manual,
                        current: l.content_hash.as_deref() == Some(row.content_hash.as_str()),
                    }
                });
            universe.links.push(link);
            universe.hashes.push(row.content_hash);
            universe.features.push(features);
            universe.refs.push(r);
        }
        tracing::debug!(
            records = universe.len(),
            fetching_s = fetching.as_secs_f64(),
            reading_and_parsing_s = read.as_secs_f64(),
            total_s = started.elapsed().as_secs_f64(),
            "loaded staged records for matching"
        );
        Ok(universe)
    }

    /// The master id a record is linked to.
    pub fn master_of(&self, i: usize) -> Option<&str> {
        self.links[i].map(|l| self.masters[l.master as usize].as_str())
    }

    pub fn len(&self) -> usize {
        self.refs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }

    /// The index of a record, if it is active.
    pub fn position(&self, r: &RecordRef) -> Option<u32> {
        let order = self.by_ref.get_or_init(|| {
            let mut order: Vec<u32> = (0..self.refs.len() as u32).collect();
            order.sort_unstable_by(|&a, &b| self.refs[a as usize].cmp(&self.refs[b as usize]));
            order
        });
        order
            .binary_search_by(|&i| self.refs[i as usize].cmp(r))
            .ok()
            .map(|k| order[k])
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

/// One staged record, unpacked; `features` is `None` while it has to be
/// derived from the canonical record (or could not be).
struct Unpacked {
    id: i64,
    source: String,
    source_key: String,
    content_hash: String,
    features: Option<Features>,
}

/// Unpacks a page on every core.
fn unpack_page(page: &crate::store::PackedPage) -> Result<Vec<Unpacked>, UniverseError> {
    let records: Vec<&str> = page.records().collect();
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = records.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = records
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|t| unpack_one(t)).collect::<Vec<_>>()))
            .collect();
        let mut out = Vec::with_capacity(records.len());
        for h in handles {
            for r in h.join().expect("parsing thread panicked") {
                out.push(r?);
            }
        }
        Ok(out)
    })
}

fn unpack_one(text: &str) -> Result<Unpacked, UniverseError> {
    let r = unpack_record(text)?;
    let features = if r.match_key.is_empty() {
        None
    } else {
        serde_json::from_str::<Features>(r.match_key)
            .map_err(|error| unreadable(r.source, &r.source_key, &error))
            .ok()
    };
    Ok(Unpacked {
        id: r.id,
        source: r.source.to_owned(),
        source_key: r.source_key,
        content_hash: r.content_hash.to_owned(),
        features,
    })
}

fn unreadable(source: &str, key: &str, error: &dyn std::fmt::Display) {
    tracing::warn!(
        record = %crate::model::mask::mask_digits_in_text(&format!("{source}:{key}")),
        %error,
        "staged record unreadable; left out of matching (yici restage fixes it)"
    );
}
