//! Stable master IDs for a new clustering. A record that stays with the
//! records it was with keeps their master; when clusters join, the oldest
//! master survives and the others become tombstones pointing at it; when a
//! master's records come apart, the part holding most of them keeps the ID
//! and the rest get new ones. Re-assigning an unchanged clustering changes
//! nothing.

use std::collections::{BTreeMap, HashMap};

/// A master that records were linked to before this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousMaster {
    pub id: String,
    /// Creation time as stored (RFC 3339, comparable as text).
    pub created_at: String,
}

/// The outcome for one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterMaster {
    /// The master the cluster's records are linked to.
    pub master: String,
    /// Whether that master is created by this run.
    pub is_new: bool,
    /// Masters folded into this one (tombstoned), oldest first.
    pub absorbed: Vec<String>,
}

/// The assignment for a whole clustering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignment {
    /// Per cluster label.
    pub clusters: BTreeMap<u32, ClusterMaster>,
}

impl Assignment {
    /// The master of a cluster.
    pub fn master_of(&self, label: u32) -> &str {
        &self.clusters[&label].master
    }
}

/// Assigns masters to clusters. `labels[i]` is record i's cluster,
/// `previous[i]` the master it was linked to (if any), `changed[i]`
/// whether the record changed since (a master follows its unchanged
/// records when it comes apart), `anchor[i]` the master a steward pinned
/// it to (wins over everything), `ages` the creation times of previous
/// masters, and `new_id` mints fresh ids.
pub fn assign(
    labels: &[u32],
    previous: &[Option<&str>],
    changed: &[bool],
    anchors: &[Option<&str>],
    ages: &HashMap<String, String>,
    mut new_id: impl FnMut() -> String,
) -> Assignment {
    // How many records of each previous master sit in each cluster:
    // (unchanged ones, all).
    let mut shares: BTreeMap<&str, BTreeMap<u32, (usize, usize)>> = BTreeMap::new();
    for (i, prev) in previous.iter().enumerate() {
        if let Some(m) = prev {
            let share = shares.entry(m).or_default().entry(labels[i]).or_default();
            share.0 += usize::from(!changed[i]);
            share.1 += 1;
        }
    }
    // Each previous master's home: the cluster with most of its unchanged
    // records, then most records, then the smaller label (the cluster of
    // its earliest record).
    let mut claims: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
    for (master, by_cluster) in &shares {
        let (&home, _) = by_cluster
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .expect("a master in `shares` has records");
        claims.entry(home).or_default().push(master);
    }
    let mut anchored: BTreeMap<u32, &str> = BTreeMap::new();
    for (i, a) in anchors.iter().enumerate() {
        if let Some(a) = a {
            anchored.entry(labels[i]).or_insert(a);
        }
    }
    // A master pinned by a steward belongs to its anchor's cluster, even
    // if most of its records now sit elsewhere.
    let pinned: HashMap<&str, u32> = anchored.iter().map(|(&l, &m)| (m, l)).collect();
    let age = |m: &str| ages.get(m).map(String::as_str).unwrap_or("");
    let mut clusters = BTreeMap::new();
    let mut labels_sorted: Vec<u32> = labels.to_vec();
    labels_sorted.sort_unstable();
    labels_sorted.dedup();
    for label in labels_sorted {
        let mut candidates: Vec<&str> = claims.get(&label).cloned().unwrap_or_default();
        candidates.retain(|c| pinned.get(c).is_none_or(|&l| l == label));
        candidates.sort_by(|a, b| age(a).cmp(age(b)).then(a.cmp(b)));
        let survivor = anchored
            .get(&label)
            .copied()
            .or_else(|| candidates.first().copied());
        let outcome = match survivor {
            Some(master) => ClusterMaster {
                master: master.to_owned(),
                is_new: false,
                absorbed: candidates
                    .iter()
                    .filter(|&&c| c != master)
                    .map(|c| (*c).to_owned())
                    .collect(),
            },
            None => ClusterMaster {
                master: new_id(),
                is_new: true,
                absorbed: Vec::new(),
            },
        };
        clusters.insert(label, outcome);
    }
    Assignment { clusters }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ages(list: &[(&str, &str)]) -> HashMap<String, String> {
        list.iter()
            .map(|(m, t)| ((*m).to_owned(), (*t).to_owned()))
            .collect()
    }

    fn minting() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("new{n}")
        }
    }

    #[test]
    fn unchanged_clusters_keep_their_masters() {
        let labels = [0, 0, 2];
        let prev = [Some("A"), Some("A"), Some("B")];
        let a = assign(
            &labels,
            &prev,
            &[false; 3],
            &[None; 3],
            &ages(&[("A", "1"), ("B", "2")]),
            minting(),
        );
        assert_eq!(a.master_of(0), "A");
        assert_eq!(a.master_of(2), "B");
        assert!(a
            .clusters
            .values()
            .all(|c| !c.is_new && c.absorbed.is_empty()));
    }

    #[test]
    fn a_merge_keeps_the_older_id() {
        let labels = [0, 0, 0];
        let prev = [Some("B"), Some("A"), None];
        let a = assign(
            &labels,
            &prev,
            &[false; 3],
            &[None; 3],
            &ages(&[("A", "2024"), ("B", "2025")]),
            minting(),
        );
        assert_eq!(a.clusters[&0].master, "A");
        assert_eq!(a.clusters[&0].absorbed, vec!["B".to_owned()]);
    }

    #[test]
    fn a_split_gives_the_smaller_part_a_new_id() {
        let labels = [0, 0, 2];
        let prev = [Some("A"), Some("A"), Some("A")];
        let a = assign(
            &labels,
            &prev,
            &[false; 3],
            &[None; 3],
            &ages(&[("A", "1")]),
            minting(),
        );
        assert_eq!(a.master_of(0), "A");
        assert_eq!(a.master_of(2), "new1");
        assert!(a.clusters[&2].is_new);
    }

    #[test]
    fn a_master_stays_with_its_unchanged_records() {
        // Two records, one changed and split off: the unchanged one keeps
        // the id even though the changed one sorts first.
        let labels = [0, 1];
        let prev = [Some("A"), Some("A")];
        let a = assign(
            &labels,
            &prev,
            &[true, false],
            &[None; 2],
            &ages(&[("A", "1")]),
            minting(),
        );
        assert_eq!(a.master_of(1), "A");
        assert_eq!(a.master_of(0), "new1");
    }

    #[test]
    fn new_records_get_new_masters() {
        let a = assign(
            &[0, 1],
            &[None, None],
            &[true, true],
            &[None, None],
            &HashMap::new(),
            minting(),
        );
        assert_eq!(a.master_of(0), "new1");
        assert_eq!(a.master_of(1), "new2");
    }

    #[test]
    fn a_stewards_anchor_wins() {
        let labels = [0, 0];
        let prev = [Some("A"), Some("B")];
        let anchors = [None, Some("B")];
        let a = assign(
            &labels,
            &prev,
            &[false; 2],
            &anchors,
            &ages(&[("A", "1"), ("B", "2")]),
            minting(),
        );
        assert_eq!(a.master_of(0), "B");
        assert_eq!(a.clusters[&0].absorbed, vec!["A".to_owned()]);
    }
}
