//! One resolution in memory: block, score every candidate pair on every
//! core, cluster without chaining, and pick the pairs a steward should
//! see. The store-facing run (`sync::resolve`) and the accuracy harness
//! (`yici eval --sweep`) both go through here.

use std::borrow::Borrow;
use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::blocking::{candidate_pairs, BlockingOptions, RuleReport};
use super::cluster::{cluster, Clusterer, Clustering, Constraints, Edge, IdRef, Refusal};
use super::compare::{compare_names, Level};
use super::features::{Features, NameKey};
use super::score::{Scorer, Thresholds};

/// Matching settings from `[matching]` in `yici.toml`.
#[derive(Debug, Clone)]
pub struct MatchSettings {
    pub blocking: BlockingOptions,
    pub thresholds: Thresholds,
    /// A pair scoring below this keeps its two records' clusters apart.
    pub veto_weight: f64,
    /// An identity number carried by records with this many different
    /// names is generic (a placeholder) and stops counting as evidence.
    pub generic_id_names: usize,
}

impl Default for MatchSettings {
    fn default() -> Self {
        MatchSettings {
            blocking: BlockingOptions::default(),
            thresholds: Thresholds {
                upper: 12.0,
                lower: 4.0,
            },
            veto_weight: -6.0,
            generic_id_names: 3,
        }
    }
}

/// A scored candidate pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScoredPair {
    pub a: u32,
    pub b: u32,
    pub weight: f64,
    /// A hard rule forbids linking the pair.
    pub cannot_link: bool,
    /// A hard rule leaves the pair to a steward.
    pub review_only: bool,
    /// A guarded pair the resolver may still link when unambiguous (the
    /// identity number is missing on a side and the sexes agree).
    pub promotable: bool,
    /// Promoted: linked under the stricter identity-number check.
    pub promoted: bool,
}

/// What one resolution found.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    pub pairs: Vec<ScoredPair>,
    pub clustering: Clustering,
    /// Pairs a steward should look at: in the review band and left apart,
    /// or above the link threshold but refused for a strong disagreement.
    pub reviews: Vec<ScoredPair>,
    pub blocking: Vec<RuleReport>,
}

/// Identity numbers carried under `min_names` or more clearly different
/// names: names that agree at no level (spelling variants, homophones and
/// typos of one name count once), i.e. different people.
pub fn generic_ids<F: Borrow<Features>>(records: &[F], min_names: usize) -> HashSet<String> {
    let mut names: HashMap<&str, Vec<&NameKey>> = HashMap::new();
    for f in records {
        let f = f.borrow();
        if let (Some(id), Some(name)) = (&f.id, &f.name) {
            let seen = names.entry(&id.number).or_default();
            if !seen.iter().any(|n| n.pinyin == name.pinyin) {
                seen.push(name);
            }
        }
    }
    let min = min_names.max(2);
    names
        .into_iter()
        .filter(|(_, n)| n.len() >= min && distinct_people(n) >= min)
        .map(|(id, _)| id.to_owned())
        .collect()
}

/// How many groups of mutually unrelated names a list holds (greedy: a
/// name joins the first group whose first name it agrees with at all).
fn distinct_people(names: &[&NameKey]) -> usize {
    let mut heads: Vec<&NameKey> = Vec::new();
    for &n in names {
        if !heads
            .iter()
            .any(|h| compare_names(h, n) != Some(Level::Different))
        {
            heads.push(n);
        }
    }
    heads.len()
}

/// Scores pairs on every core.
pub fn score_pairs<F: Borrow<Features> + Sync>(
    records: &[F],
    pairs: &[(u32, u32)],
    scorer: &Scorer,
) -> Vec<ScoredPair> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = pairs.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = pairs
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|&(a, b)| {
                            let s = scorer
                                .score(records[a as usize].borrow(), records[b as usize].borrow());
                            ScoredPair {
                                a,
                                b,
                                weight: s.weight,
                                cannot_link: s.cannot_link,
                                review_only: s.review_only,
                                promotable: s.promotable,
                                promoted: false,
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("scoring thread panicked"))
            .collect()
    })
}

/// Resolves `records` from scratch: block, score, cluster.
pub fn resolve<F: Borrow<Features> + Sync>(
    records: &[F],
    scorer: &Scorer,
    constraints: &Constraints,
    settings: &MatchSettings,
) -> Resolved {
    let t = std::time::Instant::now();
    let candidates = candidate_pairs(records, &settings.blocking, None);
    let blocking = t.elapsed();
    let mut pairs = score_pairs(records, &candidates.pairs, scorer);
    let scoring = t.elapsed() - blocking;
    let upper = settings.thresholds.upper;
    let (ids, id_text) = identity_numbers(records);
    let edges = edges(&pairs, settings.thresholds);
    let mut clusterer = Clusterer::new(
        records.len(),
        &ids,
        &id_text,
        &edges,
        settings.veto_weight,
        constraints,
    );
    let links: Vec<Edge> = edges
        .iter()
        .filter(|e| e.weight >= upper)
        .copied()
        .collect();
    drop(edges);
    clusterer.follow(links);
    // Possible twins that turn out unambiguous are linked last, under the
    // stricter identity-number check.
    let promoted = unambiguous_guarded_pairs(&pairs, &clusterer.labels(), upper);
    let mut strict = Vec::with_capacity(promoted.len());
    for k in promoted {
        let p = &mut pairs[k];
        p.review_only = false;
        p.promoted = true;
        strict.push(Edge {
            a: p.a,
            b: p.b,
            weight: p.weight,
            strict: true,
        });
    }
    clusterer.follow(strict);
    let clustering = clusterer.finish();
    tracing::debug!(
        pairs = pairs.len(),
        blocking_s = blocking.as_secs_f64(),
        scoring_s = scoring.as_secs_f64(),
        clustering_s = (t.elapsed() - blocking - scoring).as_secs_f64(),
        "resolved in memory"
    );
    let reviews = reviews(&pairs, &clustering, settings.thresholds);
    Resolved {
        pairs,
        clustering,
        reviews,
        blocking: candidates.rules,
    }
}

/// The possible-twin pairs that are not ambiguous after all. A record
/// without an identity number that agrees with someone on birth date and
/// household, under a homophone of their name, is that person — unless it
/// agrees like that with two different people (twins), or the sexes
/// differ. Promoted pairs join clusters only if no identity numbers
/// conflict, valid or not. Returns indices into `pairs` of guarded pairs above the link
/// threshold whose both ends point at a single other cluster.
fn unambiguous_guarded_pairs(pairs: &[ScoredPair], labels: &[u32], upper: f64) -> Vec<usize> {
    let guarded: Vec<usize> = (0..pairs.len())
        .filter(|&k| pairs[k].review_only && pairs[k].weight >= upper)
        .collect();
    // Per record: the clusters its guarded pairs point at (or None when a
    // pair is not promotable, which rules the record out).
    if guarded.is_empty() {
        return guarded;
    }
    let mut targets: HashMap<u32, Option<HashSet<u32>>> = HashMap::new();
    for &k in &guarded {
        let p = &pairs[k];
        for (x, y) in [(p.a, p.b), (p.b, p.a)] {
            let entry = targets.entry(x).or_insert_with(|| Some(HashSet::new()));
            match (entry.as_mut(), p.promotable) {
                (Some(set), true) => {
                    set.insert(labels[y as usize]);
                }
                _ => *entry = None,
            }
        }
    }
    let single = |x: u32| {
        targets
            .get(&x)
            .and_then(Option::as_ref)
            .is_some_and(|s| s.len() == 1)
    };
    guarded
        .into_iter()
        .filter(|&k| single(pairs[k].a) && single(pairs[k].b))
        .collect()
}

/// Clusters scored pairs at the given thresholds (the sweep re-clusters
/// one scoring at many).
pub fn cluster_pairs<F: Borrow<Features>>(
    records: &[F],
    pairs: &[ScoredPair],
    constraints: &Constraints,
    settings: &MatchSettings,
    thresholds: Thresholds,
) -> Clustering {
    let (ids, id_text) = identity_numbers(records);
    let edges = edges(pairs, thresholds);
    cluster(
        records.len(),
        &ids,
        &id_text,
        &edges,
        thresholds.upper,
        settings.veto_weight,
        constraints,
    )
}

/// Each record's resident identity number as an index into a table of the
/// distinct numbers, for clustering's conflict checks.
fn identity_numbers<F: Borrow<Features>>(records: &[F]) -> (Vec<IdRef>, Vec<&str>) {
    let mut id_index: HashMap<&str, u32> = HashMap::new();
    let mut id_text: Vec<&str> = Vec::new();
    let ids = records
        .iter()
        .map(|f| {
            let id = f
                .borrow()
                .id
                .as_ref()
                .filter(|k| k.other_document.is_none())?;
            let n = *id_index.entry(&id.number).or_insert_with(|| {
                id_text.push(&id.number);
                (id_text.len() - 1) as u32
            });
            Some((n, id.valid))
        })
        .collect();
    (ids, id_text)
}

/// Scored pairs as clustering edges: a hard rule's pair vetoes, a
/// review-only pair is never followed (but does not veto).
fn edges(pairs: &[ScoredPair], thresholds: Thresholds) -> Vec<Edge> {
    pairs
        .iter()
        .map(|p| Edge {
            a: p.a,
            b: p.b,
            weight: if p.cannot_link {
                f64::NEG_INFINITY
            } else if p.review_only {
                p.weight.min(thresholds.upper - 1e-6)
            } else {
                p.weight
            },
            strict: p.promoted,
        })
        .collect()
}

/// The pairs a steward should see, strongest first.
pub fn reviews(pairs: &[ScoredPair], clustering: &Clustering, t: Thresholds) -> Vec<ScoredPair> {
    let labels = &clustering.labels;
    let vetoed: HashSet<(u32, u32)> = clustering
        .refused
        .iter()
        .filter(|(_, r)| *r == Refusal::Veto)
        .map(|(e, _)| (e.a, e.b))
        .collect();
    let mut out: Vec<ScoredPair> = pairs
        .iter()
        .filter(|p| !p.cannot_link && labels[p.a as usize] != labels[p.b as usize])
        .filter(|p| (p.weight >= t.lower && p.weight < t.upper) || vetoed.contains(&(p.a, p.b)))
        .copied()
        .collect();
    out.sort_by(|x, y| {
        y.weight
            .total_cmp(&x.weight)
            .then(x.a.cmp(&y.a))
            .then(x.b.cmp(&y.b))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::model::MatchModel;
    use crate::matching::testing::{district_frequencies, features as f, id, valid};

    #[test]
    fn twins_and_their_id_less_records_stay_apart() {
        let home = "鼓楼街道中山社区23幢502室";
        let records = vec![
            // Twin A in the police register and health, twin B likewise;
            // health has no identity numbers.
            f(
                serde_json::json!({"id_document": id(&valid("33020320050101123")), "name": "王大明", "sex": "male", "phones": ["13812345678"], "current_address": home}),
            ),
            f(
                serde_json::json!({"name": "王大明", "birth_date": "2005-01-01", "sex": "male", "phones": ["13812345678"], "current_address": home}),
            ),
            f(
                serde_json::json!({"id_document": id(&valid("33020320050101125")), "name": "王小明", "sex": "male", "phones": ["13812345678"], "current_address": home}),
            ),
            f(
                serde_json::json!({"name": "王小明", "birth_date": "2005-01-01", "sex": "male", "phones": ["13812345678"], "current_address": home}),
            ),
        ];
        let settings = MatchSettings::default();
        let scorer = Scorer::new(
            &MatchModel::default(),
            100_000,
            district_frequencies(&records),
            generic_ids(&records, 3),
            settings.thresholds,
        );
        let r = resolve(&records, &scorer, &Constraints::default(), &settings);
        let l = &r.clustering.labels;
        assert_eq!(l[0], l[1]);
        assert_eq!(l[2], l[3]);
        assert_ne!(l[0], l[2]);
    }

    #[test]
    fn placeholder_ids_are_generic() {
        let typos: Vec<Features> = [
            "Jonathan Smith",
            "Jonathon Smith",
            "Jonathan Smyth",
            "Smith Jonathan",
        ]
        .iter()
        .map(|n| f(serde_json::json!({"id_document": id("7234561"), "name": n})))
        .collect();
        assert!(
            generic_ids(&typos, 3).is_empty(),
            "spellings of one name are one person"
        );
        let records: Vec<Features> = ["张伟", "李娜", "王芳", "王芳"]
            .iter()
            .map(|n| f(serde_json::json!({"id_document": id("000000000000000000"), "name": n})))
            .collect();
        let generic = generic_ids(&records, 3);
        assert!(generic.contains("000000000000000000"));
        assert!(generic_ids(&records[2..], 3).is_empty());
    }
}
