//! The records a resolution works on: every active staged record's
//! comparison view, in a fixed order (source, then key) so every run over
//! the same data sees the same indices, pairs and clusters. Also what
//! `train`, `blocking`, `explain` and `eval` start from.

use std::collections::HashMap;

use crate::config::settings::Matching;
use crate::matching::frequency::{load_name_table, TermFrequencies};
use crate::matching::model::ModelError;
use crate::matching::resolution::generic_ids;
use crate::matching::InputFileError;
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
    Frequencies(#[from] InputFileError),
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
    /// Staged row ids (ascending).
    pub ids: Vec<i64>,
    pub refs: Vec<RecordRef>,
    pub hashes: Vec<String>,
    pub features: Vec<Features>,
    pub links: Vec<Option<LinkInfo>>,
    /// The distinct masters records are linked to.
    pub masters: Vec<String>,
    /// Records whose stored canonical JSON could not be read (left out,
    /// logged; a restage rewrites them).
    pub unreadable: Vec<RecordRef>,
    /// Match keys derived from canonical records this load (rows staged
    /// before match keys existed), by staged row id: a resolve run stores
    /// them so the next load does not derive them again.
    pub derived_keys: Vec<(i64, String)>,
    /// Record indices sorted by reference, built on first lookup.
    by_ref: std::sync::OnceLock<Vec<u32>>,
}

/// Rows per read; each page is turned into comparison views on every core
/// before the next is fetched, so memory holds views, not JSON text.
const PAGE: i64 = 20_000;

impl Universe {
    /// Reads every active staged record with its link.
    pub async fn load(store: &Store) -> Result<Universe, UniverseError> {
        let started = std::time::Instant::now();
        let packed_links = store.link_rows().await?;
        let links = packed_links.rows()?;
        // Records and links both come in row-id order: pair them by merging,
        // page by page, so no page outlives its conversion.
        let mut next_link = links.iter().peekable();
        let mut master_index: HashMap<&str, u32> = HashMap::new();
        let mut universe = Universe::default();
        // Sized once: growing these by doubling copied hundreds of MB at 1M
        // records into fresh pages the kernel had to zero, and held old and
        // new buffers at once.
        let expected = usize::try_from(store.active_record_count().await?).unwrap_or(0);
        universe.ids.reserve_exact(expected);
        universe.refs.reserve_exact(expected);
        universe.hashes.reserve_exact(expected);
        universe.features.reserve_exact(expected);
        universe.links.reserve_exact(expected);
        let mut missing: Vec<usize> = Vec::new();
        let mut after = 0;
        while let Some(page) = store.active_records(after, PAGE).await? {
            after = page.last_id;
            let mut rows = tokio::task::spawn_blocking(move || unpack_page(&page))
                .await
                .expect("parsing staged records panicked")?;
            rows.sort_unstable_by_key(|r| r.id);
            for row in rows {
                while next_link.next_if(|l| l.record_id < row.id).is_some() {}
                let link = next_link.next_if(|l| l.record_id == row.id).map(|l| {
                    let master = *master_index.entry(l.master_id).or_insert_with(|| {
                        universe.masters.push(l.master_id.to_owned());
                        (universe.masters.len() - 1) as u32
                    });
                    LinkInfo {
                        master,
                        manual: l.manual,
                        current: l.content_hash == Some(row.content_hash.as_str()),
                    }
                });
                if row.features.is_none() {
                    missing.push(universe.ids.len());
                }
                universe.ids.push(row.id);
                universe.links.push(link);
                universe.hashes.push(row.content_hash);
                universe.features.push(row.features.unwrap_or_default());
                universe
                    .refs
                    .push(RecordRef::new(row.source, row.source_key));
            }
        }
        if !missing.is_empty() {
            universe.derive_missing(store, &missing).await?;
        }
        tracing::debug!(
            records = universe.len(),
            seconds = started.elapsed().as_secs_f64(),
            "loaded staged records for matching"
        );
        Ok(universe)
    }

    /// Rows staged before match keys were stored (or with an unreadable
    /// one): derive the comparison view from the canonical record; drop
    /// the record from matching if that fails too.
    async fn derive_missing(
        &mut self,
        store: &Store,
        missing: &[usize],
    ) -> Result<(), UniverseError> {
        let ids: Vec<i64> = missing.iter().map(|&i| self.ids[i]).collect();
        let canonical: HashMap<i64, String> =
            store.canonical_records(&ids).await?.into_iter().collect();
        let mut drop = vec![false; self.len()];
        for &i in missing {
            let r = &self.refs[i];
            let derived = canonical.get(&self.ids[i]).and_then(|text| {
                serde_json::from_str::<ResidentRecord>(text)
                    .map(|rec| Features::of(&rec))
                    .map_err(|error| unreadable(&r.source, &r.source_key, &error))
                    .ok()
            });
            match derived {
                Some(f) => {
                    if let Ok(key) = serde_json::to_string(&f) {
                        self.derived_keys.push((self.ids[i], key));
                    }
                    self.features[i] = f;
                }
                None => drop[i] = true,
            }
        }
        if drop.iter().any(|&d| d) {
            self.unreadable = (0..drop.len())
                .filter(|&i| drop[i])
                .map(|i| self.refs[i].clone())
                .collect();
            keep_unless(&mut self.ids, &drop);
            keep_unless(&mut self.links, &drop);
            keep_unless(&mut self.hashes, &drop);
            keep_unless(&mut self.features, &drop);
            keep_unless(&mut self.refs, &drop);
        }
        Ok(())
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

/// Removes the elements whose `drop` flag is set.
fn keep_unless<T>(v: &mut Vec<T>, drop: &[bool]) {
    let mut flags = drop.iter();
    v.retain(|_| !*flags.next().expect("one flag per element"));
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
