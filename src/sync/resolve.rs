//! One resolve run: decide which staged records are the same person and
//! record it in the master index under stable IDs.
//!
//! Incremental by default: only records that are new or changed since
//! their link was decided are blocked against everything; the records they
//! touch, and every record of the masters those belong to, form the
//! neighbourhood that is re-clustered. Nothing else is compared, so the
//! cost follows the change. `full` re-clusters everything. Either way
//! master IDs stay stable ([`crate::master::assign()`]), stewards' manual
//! links and must/cannot-links hold, and all changes commit in one
//! transaction.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::settings::Matching;
use crate::master::assign;
use crate::matching::blocking::candidate_pairs;
use crate::matching::cluster::Constraints;
use crate::matching::resolution::{resolve, Resolved};
use crate::matching::{Features, MatchModel, Scorer};
use crate::store::{
    LinkWrite, MatchRuleKind, NewEvent, NewReview, RecordRef, ResolutionWrite, RunId, Store,
};

use super::universe::{Universe, UniverseError};

/// The actor named in automatic events.
const ACTOR: &str = "resolve";

/// What a resolve run did, with where the time went.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ResolveReport {
    /// Active staged records.
    pub records: u64,
    /// New or changed since last resolved.
    pub changed: u64,
    /// Records re-clustered (the changed ones and their neighbourhood).
    pub compared: u64,
    /// Candidate pairs scored.
    pub pairs: u64,
    /// Links created or moved to another master.
    pub links_changed: u64,
    pub masters_created: u64,
    pub masters_merged: u64,
    /// Masters that lost records to a new master.
    pub masters_split: u64,
    pub reviews_queued: u64,
    /// Identity numbers found shared by different people.
    pub generic_ids: u64,
    /// Blocks over the size cap, skipped.
    pub skipped_blocks: u64,
    /// Records whose canonical JSON could not be read.
    pub unreadable: u64,
    pub timings: Timings,
}

/// Seconds per phase.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub load: f64,
    pub blocking_and_scoring: f64,
    pub clustering_and_ids: f64,
    pub writing: f64,
    pub total: f64,
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// Resolves the staged records into the master index.
pub async fn resolve_run(
    store: &Store,
    run: RunId,
    matching: &Matching,
    model: &MatchModel,
    full: bool,
) -> Result<ResolveReport, UniverseError> {
    let started = Instant::now();
    // Nothing new or changed: the index stands as it is, unread.
    if !full && store.newest_unresolved_record().await?.is_none() {
        let seconds = secs(started.elapsed());
        return Ok(ResolveReport {
            records: store.active_record_count().await?,
            timings: Timings {
                load: seconds,
                total: seconds,
                ..Timings::default()
            },
            ..ResolveReport::default()
        });
    }
    let mut universe = Universe::load(store).await?;
    let ages = store.master_ages().await?;
    let rules = store.all_match_rules().await?;
    let mut report = ResolveReport {
        records: universe.len() as u64,
        unreadable: universe.unreadable.len() as u64,
        ..ResolveReport::default()
    };
    let changed: Vec<bool> = universe
        .links
        .iter()
        .map(|l| l.is_none_or(|l| !l.current))
        .collect();
    report.changed = changed.iter().filter(|&&c| c).count() as u64;
    let focus = if full {
        vec![true; changed.len()]
    } else {
        changed.clone()
    };
    report.timings.load = secs(started.elapsed());
    if report.changed == 0 && !full {
        if !universe.derived_keys.is_empty() {
            let keys = ResolutionWrite {
                match_keys: universe.derived_keys,
                ..ResolutionWrite::default()
            };
            store.apply_resolution(run, &keys).await?;
        }
        report.timings.total = secs(started.elapsed());
        return Ok(report);
    }

    let phase = Instant::now();
    let scorer = universe.scorer(matching, model)?;
    tracing::debug!(
        seconds = phase.elapsed().as_secs_f64(),
        "scorer ready (frequencies, generic ids)"
    );
    report.generic_ids = scorer.generic_id_count() as u64;
    let hood = neighbourhood(&universe, &focus, matching, full);
    report.compared = hood.len() as u64;
    let sub: Vec<&Features> = hood
        .iter()
        .map(|&i| &universe.features[i as usize])
        .collect();
    let constraints = constraints(&universe, &hood, &rules);
    let resolved = resolve(&sub, &scorer, &constraints.clustering, &matching.settings);
    report.pairs = resolved.pairs.len() as u64;
    report.skipped_blocks = resolved.blocking.iter().map(|r| r.skipped_blocks).sum();
    report.timings.blocking_and_scoring = secs(phase.elapsed());

    let phase = Instant::now();
    let previous: Vec<Option<&str>> = hood
        .iter()
        .map(|&i| universe.master_of(i as usize))
        .collect();
    let hood_changed: Vec<bool> = hood.iter().map(|&i| changed[i as usize]).collect();
    let assignment = assign(
        &resolved.clustering.labels,
        &previous,
        &hood_changed,
        &constraints.anchor_masters,
        &ages,
        || uuid::Uuid::now_v7().to_string(),
    );
    let decided = Decided {
        universe: &universe,
        hood: &hood,
        previous: &previous,
        resolved: &resolved,
        assignment: &assignment,
        scorer: &scorer,
        rules: &rules,
        run,
    };
    let mut write = changes(&decided, &mut report);
    write.match_keys = std::mem::take(&mut universe.derived_keys);
    report.timings.clustering_and_ids = secs(phase.elapsed());

    let phase = Instant::now();
    report.reviews_queued = store.apply_resolution(run, &write).await?;
    report.timings.writing = secs(phase.elapsed());
    report.timings.total = secs(started.elapsed());
    Ok(report)
}

/// The records to re-cluster: everything for a full run; otherwise the
/// changed records, the records they are blocked with, and every record of
/// the masters any of those belong to.
fn neighbourhood(universe: &Universe, focus: &[bool], matching: &Matching, full: bool) -> Vec<u32> {
    if full {
        return (0..universe.len() as u32).collect();
    }
    let candidates = candidate_pairs(&universe.features, &matching.settings.blocking, Some(focus));
    let mut touched = vec![false; universe.len()];
    for (i, &f) in focus.iter().enumerate() {
        touched[i] = f;
    }
    for (a, b) in candidates.pairs {
        touched[a as usize] = true;
        touched[b as usize] = true;
    }
    let mut masters = vec![false; universe.masters.len()];
    for (i, _) in touched.iter().enumerate().filter(|(_, &t)| t) {
        if let Some(l) = universe.links[i] {
            masters[l.master as usize] = true;
        }
    }
    (0..universe.len())
        .filter(|&i| touched[i] || universe.links[i].is_some_and(|l| masters[l.master as usize]))
        .map(|i| i as u32)
        .collect()
}

struct Steward<'a> {
    clustering: Constraints,
    /// Per neighbourhood record, the master a steward linked it to.
    anchor_masters: Vec<Option<&'a str>>,
}

/// Stewards' decisions as clustering constraints over the neighbourhood
/// (`hood`, ascending universe indices):
/// the latest rule per pair, and manual links as anchors.
fn constraints<'a>(
    universe: &'a Universe,
    hood: &[u32],
    rules: &[crate::store::MatchRule],
) -> Steward<'a> {
    let mut latest: BTreeMap<(&RecordRef, &RecordRef), MatchRuleKind> = BTreeMap::new();
    for rule in rules {
        latest.insert((&rule.left, &rule.right), rule.kind);
    }
    let mut clustering = Constraints::default();
    for ((left, right), kind) in latest {
        // The neighbourhood is in index order: a record's place in it is a
        // binary search away.
        let local = |r: &RecordRef| {
            let i = universe.position(r)?;
            hood.binary_search(&i).ok().map(|k| k as u32)
        };
        let (Some(a), Some(b)) = (local(left), local(right)) else {
            continue;
        };
        match kind {
            MatchRuleKind::MustLink => clustering.must_link.push((a, b)),
            MatchRuleKind::CannotLink => clustering.cannot_link.push((a, b)),
        }
    }
    let anchor_masters: Vec<Option<&str>> = hood
        .iter()
        .map(|&i| {
            universe.links[i as usize]
                .filter(|l| l.manual)
                .map(|l| universe.masters[l.master as usize].as_str())
        })
        .collect();
    let mut anchor_ids: HashMap<&str, u32> = HashMap::new();
    clustering.anchors = anchor_masters
        .iter()
        .map(|m| {
            m.map(|m| {
                let next = anchor_ids.len() as u32;
                *anchor_ids.entry(m).or_insert(next)
            })
        })
        .collect();
    Steward {
        clustering,
        anchor_masters,
    }
}

/// Everything a run decided, over the neighbourhood `hood` (indices into
/// the universe) whose records were linked to `previous` masters before.
struct Decided<'a> {
    universe: &'a Universe,
    hood: &'a [u32],
    previous: &'a [Option<&'a str>],
    resolved: &'a Resolved,
    assignment: &'a crate::master::Assignment,
    scorer: &'a Scorer,
    rules: &'a [crate::store::MatchRule],
    run: RunId,
}

/// Turns the new clustering into store writes and events.
fn changes<'a>(d: &Decided<'a>, report: &mut ResolveReport) -> ResolutionWrite {
    let Decided {
        universe,
        hood,
        previous,
        resolved,
        assignment,
        scorer,
        rules,
        run,
    } = *d;
    let labels = &resolved.clustering.labels;
    let refs = |k: usize| &universe.refs[hood[k] as usize];
    // The strongest link that holds each record in its cluster.
    let mut weight: Vec<Option<f64>> = vec![None; hood.len()];
    for p in &resolved.pairs {
        let (a, b) = (p.a as usize, p.b as usize);
        if labels[a] == labels[b] && !p.cannot_link {
            for k in [a, b] {
                if weight[k].is_none_or(|w| p.weight > w) {
                    weight[k] = Some(p.weight);
                }
            }
        }
    }
    let mut write = ResolutionWrite::default();
    let mut members: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (k, &label) in labels.iter().enumerate() {
        members.entry(label).or_default().push(k);
    }
    let event = |master: &str, kind: &str, detail: serde_json::Value| NewEvent {
        master_id: Some(master.to_owned()),
        kind: kind.to_owned(),
        actor: ACTOR.to_owned(),
        reason: None,
        detail,
        run_id: Some(run),
    };
    let mut split_from: BTreeSet<&'a str> = BTreeSet::new();
    // Masters whose set of records, or a record's content, changed.
    let mut stale: BTreeSet<&str> = BTreeSet::new();
    for (label, ks) in &members {
        let outcome = &assignment.clusters[label];
        let master = outcome.master.as_str();
        let mut moved: Vec<serde_json::Value> = Vec::new();
        for &k in ks {
            let i = hood[k] as usize;
            let prev = previous[k];
            let hash_changed = universe.links[i].is_none_or(|l| !l.current);
            if prev != Some(master) {
                report.links_changed += 1;
                if !outcome.is_new {
                    moved.push(serde_json::json!({
                        "record": refs(k).to_string(),
                        "from": prev,
                        "weight": weight[k],
                    }));
                }
            }
            if prev != Some(master) || hash_changed {
                stale.extend(prev);
                stale.insert(master);
                write.links.push(LinkWrite {
                    record_id: universe.ids[i],
                    source: universe.refs[i].source.clone(),
                    source_key: universe.refs[i].source_key.clone(),
                    master_id: master.to_owned(),
                    match_weight: weight[k],
                    content_hash: universe.hashes[i].clone(),
                });
            }
        }
        if outcome.is_new {
            report.masters_created += 1;
            write.new_masters.push(master.to_owned());
            let records: Vec<String> = ks.iter().map(|&k| refs(k).to_string()).collect();
            let from: BTreeSet<&'a str> = ks.iter().filter_map(|&k| previous[k]).collect();
            let detail = serde_json::json!({
                "records": records,
                "split_from": from,
                "weight": ks.iter().filter_map(|&k| weight[k]).fold(None, |m: Option<f64>, w| Some(m.map_or(w, |m| m.max(w)))),
            });
            write.events.push(event(master, "created", detail));
            for old in from {
                split_from.insert(old);
                write.events.push(event(
                    old,
                    "split",
                    serde_json::json!({"into": master, "records": records}),
                ));
            }
        }
        for absorbed in &outcome.absorbed {
            report.masters_merged += 1;
            write.merges.push((absorbed.clone(), master.to_owned()));
            stale.insert(absorbed);
            stale.insert(master);
            write.events.push(event(
                absorbed,
                "merged",
                serde_json::json!({"into": master}),
            ));
            write.events.push(event(
                master,
                "absorbed",
                serde_json::json!({"from": absorbed}),
            ));
        }
        if !moved.is_empty() {
            write.events.push(event(
                master,
                "linked",
                serde_json::json!({"records": moved}),
            ));
        }
    }
    report.masters_split = split_from.len() as u64;
    write.stale_masters = stale.into_iter().map(str::to_owned).collect();

    let decided: HashSet<(&RecordRef, &RecordRef)> =
        rules.iter().map(|r| (&r.left, &r.right)).collect();
    for p in &resolved.reviews {
        let (a, b) = (refs(p.a as usize), refs(p.b as usize));
        let (left, right) = if a <= b { (a, b) } else { (b, a) };
        if decided.contains(&(left, right)) {
            continue;
        }
        let explanation = scorer.explain(
            &universe.features[hood[p.a as usize] as usize],
            &universe.features[hood[p.b as usize] as usize],
        );
        write.reviews.push(NewReview {
            left: left.clone(),
            right: right.clone(),
            match_weight: p.weight,
            explanation: serde_json::to_value(&explanation).expect("explanations serialize"),
            run_id: Some(run),
        });
    }
    write
}
