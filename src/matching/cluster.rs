//! Clustering that does not chain. Plain connected components over links
//! merge two different people through one record that lacks an identity
//! number (a household member, a twin, a namesake with the same birth
//! date): that is where Splink's false merges come from. Here links are
//! taken strongest first, and two clusters are joined only if nothing
//! forbids it:
//!
//! * they would hold two valid identity numbers more than one typo apart;
//! * a steward's cannot-link separates a member of one from a member of the
//!   other, or they are anchored to different masters by stewards' manual
//!   links;
//! * some pair across them scored below the veto weight (strong evidence
//!   they are different people).
//!
//! Stewards' must-links are applied first and unconditionally.

use super::compare::ids_conflict;

/// A scored pair (indices into the record list).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Edge {
    pub a: u32,
    pub b: u32,
    pub weight: f64,
    /// Joining along this edge also requires unvalidated identity numbers
    /// (a bad check digit, a wrong date) not to conflict: for links the
    /// scores alone would not have made.
    pub strict: bool,
}

/// What constrains clustering besides the scores.
#[derive(Debug, Clone, Default)]
pub struct Constraints {
    /// Pairs a steward declared the same person.
    pub must_link: Vec<(u32, u32)>,
    /// Pairs a steward declared different people.
    pub cannot_link: Vec<(u32, u32)>,
    /// Per record, the master a steward linked it to by hand (as an index
    /// into the caller's list of such masters).
    pub anchors: Vec<Option<u32>>,
}

/// Why an edge above the link threshold was not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Two different valid identity numbers would end in one cluster.
    IdConflict,
    /// A steward's cannot-link or conflicting manual links.
    Steward,
    /// A pair across the clusters scored below the veto weight.
    Veto,
}

/// The clustering of one set of records.
#[derive(Debug, Clone, Default)]
pub struct Clustering {
    /// Cluster label per record: the smallest record index in its cluster.
    pub labels: Vec<u32>,
    /// Link edges that were refused, with the reason.
    pub refused: Vec<(Edge, Refusal)>,
}

struct Cluster {
    members: Vec<u32>,
    /// Valid identity numbers.
    ids: Vec<u32>,
    /// Resident identity numbers that failed validation.
    unverified: Vec<u32>,
    anchor: Option<u32>,
}

/// A record's resident identity number, as an index into the caller's
/// table of distinct numbers, and whether it is valid.
pub type IdRef = Option<(u32, bool)>;

/// Clusters `n` records. `ids[i]` is record i's resident identity number
/// (an index into a table of distinct numbers, `id_text`); `edges` are all
/// scored pairs; those at or above `link` are followed, those below `veto`
/// forbid joining their endpoints' clusters.
pub fn cluster(
    n: usize,
    ids: &[IdRef],
    id_text: &[&str],
    edges: &[Edge],
    link: f64,
    veto: f64,
    constraints: &Constraints,
) -> Clustering {
    let mut clusterer = Clusterer::new(n, ids, id_text, edges, veto, constraints);
    clusterer.follow(edges.iter().filter(|e| e.weight >= link).copied().collect());
    clusterer.finish()
}

/// Clustering in steps: stewards' must-links when created, then batches of
/// links, each batch strongest first, every join checked against what the
/// clusters hold by then. Lets the resolver add a second, weaker batch
/// (promoted pairs) without starting over.
pub struct Clusterer<'a> {
    parent: Vec<u32>,
    clusters: Vec<Option<Cluster>>,
    /// Per record: partners it must not share a cluster with.
    apart: Vec<Vec<u32>>,
    /// Per record: partners it scored below the veto weight with.
    vetoes: Vec<Vec<u32>>,
    id_text: &'a [&'a str],
    refused: Vec<(Edge, Refusal)>,
}

impl<'a> Clusterer<'a> {
    /// Singletons, with vetoes from `edges` below `veto`, stewards'
    /// cannot-links and anchors, and their must-links already applied.
    pub fn new(
        n: usize,
        ids: &[IdRef],
        id_text: &'a [&'a str],
        edges: &[Edge],
        veto: f64,
        constraints: &Constraints,
    ) -> Clusterer<'a> {
        let clusters = (0..n)
            .map(|i| {
                Some(Cluster {
                    members: vec![i as u32],
                    ids: ids[i]
                        .filter(|id| id.1)
                        .map(|id| id.0)
                        .into_iter()
                        .collect(),
                    unverified: ids[i]
                        .filter(|id| !id.1)
                        .map(|id| id.0)
                        .into_iter()
                        .collect(),
                    anchor: constraints.anchors.get(i).copied().flatten(),
                })
            })
            .collect();
        let mut apart: Vec<Vec<u32>> = vec![Vec::new(); n];
        for &(a, b) in &constraints.cannot_link {
            apart[a as usize].push(b);
            apart[b as usize].push(a);
        }
        let mut vetoes: Vec<Vec<u32>> = vec![Vec::new(); n];
        for e in edges.iter().filter(|e| e.weight < veto) {
            vetoes[e.a as usize].push(e.b);
            vetoes[e.b as usize].push(e.a);
        }
        let mut c = Clusterer {
            parent: (0..n as u32).collect(),
            clusters,
            apart,
            vetoes,
            id_text,
            refused: Vec::new(),
        };
        for &(a, b) in &constraints.must_link {
            let (ra, rb) = (find_root(&mut c.parent, a), find_root(&mut c.parent, b));
            if ra != rb {
                union(&mut c.parent, &mut c.clusters, ra, rb);
            }
        }
        c
    }

    /// Follows `links`, strongest first, refusing the joins the rules
    /// forbid.
    pub fn follow(&mut self, mut links: Vec<Edge>) {
        links.sort_by(|x, y| {
            y.weight
                .total_cmp(&x.weight)
                .then(x.a.cmp(&y.a))
                .then(x.b.cmp(&y.b))
        });
        for e in links {
            let parent = &mut self.parent;
            let (ra, rb) = (find_root(parent, e.a), find_root(parent, e.b));
            if ra == rb {
                continue;
            }
            let (ca, cb) = (
                self.clusters[ra as usize]
                    .as_ref()
                    .expect("root has a cluster"),
                self.clusters[rb as usize]
                    .as_ref()
                    .expect("root has a cluster"),
            );
            let id_text = self.id_text;
            let conflict = |xs: &[u32], ys: &[u32]| {
                xs.iter().any(|&x| {
                    ys.iter()
                        .any(|&y| ids_conflict(id_text[x as usize], id_text[y as usize]))
                })
            };
            let strict_conflict = e.strict
                && (conflict(&ca.unverified, &cb.ids)
                    || conflict(&ca.ids, &cb.unverified)
                    || conflict(&ca.unverified, &cb.unverified));
            let refusal = if conflict(&ca.ids, &cb.ids) || strict_conflict {
                Some(Refusal::IdConflict)
            } else if matches!((ca.anchor, cb.anchor), (Some(x), Some(y)) if x != y)
                || crosses(parent, (ca, ra), (cb, rb), &self.apart)
            {
                Some(Refusal::Steward)
            } else if crosses(parent, (ca, ra), (cb, rb), &self.vetoes) {
                Some(Refusal::Veto)
            } else {
                None
            };
            match refusal {
                Some(r) => self.refused.push((e, r)),
                None => union(&mut self.parent, &mut self.clusters, ra, rb),
            }
        }
    }

    /// Cluster label per record so far: the smallest index in its cluster.
    pub fn labels(&mut self) -> Vec<u32> {
        // Records are visited in index order, so the first one seen of each
        // cluster is its smallest.
        let mut label_of_root: Vec<Option<u32>> = vec![None; self.parent.len()];
        (0..self.parent.len() as u32)
            .map(|i| {
                let root = find_root(&mut self.parent, i) as usize;
                *label_of_root[root].get_or_insert(i)
            })
            .collect()
    }

    /// The final clustering.
    pub fn finish(mut self) -> Clustering {
        Clustering {
            labels: self.labels(),
            refused: self.refused,
        }
    }
}

/// Whether any member of cluster `a` (root `ra`) has a partner (in
/// `partners`) inside cluster `b` (root `rb`). Walks the smaller side.
fn crosses(
    parent: &mut [u32],
    (a, ra): (&Cluster, u32),
    (b, rb): (&Cluster, u32),
    partners: &[Vec<u32>],
) -> bool {
    let (small, other_root) = if a.members.len() <= b.members.len() {
        (a, rb)
    } else {
        (b, ra)
    };
    small.members.iter().any(|&m| {
        partners[m as usize]
            .iter()
            .any(|&p| find_root(parent, p) == other_root)
    })
}

fn find_root(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        let p = parent[parent[x as usize] as usize];
        parent[x as usize] = p;
        x = p;
    }
    x
}

fn union(parent: &mut [u32], clusters: &mut [Option<Cluster>], ra: u32, rb: u32) {
    let size =
        |r: u32, c: &[Option<Cluster>]| c[r as usize].as_ref().map_or(0, |c| c.members.len());
    let (big, small) = if size(ra, clusters) >= size(rb, clusters) {
        (ra, rb)
    } else {
        (rb, ra)
    };
    let moved = clusters[small as usize].take().expect("root has a cluster");
    parent[small as usize] = big;
    let target = clusters[big as usize].as_mut().expect("root has a cluster");
    target.members.extend(moved.members);
    for id in moved.ids {
        if !target.ids.contains(&id) {
            target.ids.push(id);
        }
    }
    for id in moved.unverified {
        if !target.unverified.contains(&id) {
            target.unverified.push(id);
        }
    }
    target.anchor = target.anchor.or(moved.anchor);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(a: u32, b: u32, weight: f64) -> Edge {
        Edge {
            a,
            b,
            weight,
            strict: false,
        }
    }

    fn valid(ids: &[Option<u32>]) -> Vec<IdRef> {
        ids.iter().map(|i| i.map(|i| (i, true))).collect()
    }

    fn groups(c: &Clustering) -> Vec<Vec<u32>> {
        let mut map: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
        for (i, &l) in c.labels.iter().enumerate() {
            map.entry(l).or_default().push(i as u32);
        }
        map.into_values().collect()
    }

    #[test]
    fn links_form_clusters() {
        let c = cluster(
            4,
            &[None; 4],
            &[],
            &[e(0, 1, 20.0), e(1, 2, 15.0), e(2, 3, 5.0)],
            12.0,
            -10.0,
            &Constraints::default(),
        );
        assert_eq!(groups(&c), vec![vec![0, 1, 2], vec![3]]);
    }

    #[test]
    fn does_not_chain_two_identity_numbers() {
        // Twin A (id 0), twin B (id 1), and a record without an id that
        // links to both: it joins the stronger, the twins stay apart.
        let ids = ["330203200501011234", "330203200501011250"];
        let c = cluster(
            3,
            &valid(&[Some(0), Some(1), None]),
            &ids,
            &[e(0, 2, 18.0), e(1, 2, 14.0)],
            12.0,
            -10.0,
            &Constraints::default(),
        );
        assert_eq!(groups(&c), vec![vec![0, 2], vec![1]]);
        assert_eq!(c.refused, vec![(e(1, 2, 14.0), Refusal::IdConflict)]);
    }

    #[test]
    fn one_typo_apart_is_the_same_number() {
        let ids = ["11010519491231002X", "11010519491231003X"];
        let c = cluster(
            2,
            &valid(&[Some(0), Some(1)]),
            &ids,
            &[e(0, 1, 15.0)],
            12.0,
            -10.0,
            &Constraints::default(),
        );
        assert_eq!(groups(&c), vec![vec![0, 1]]);
    }

    #[test]
    fn a_strong_disagreement_vetoes_a_chain() {
        // 0–1 and 1–2 link, but 0 and 2 are clearly different people.
        let c = cluster(
            3,
            &[None; 3],
            &[],
            &[e(0, 1, 20.0), e(1, 2, 13.0), e(0, 2, -15.0)],
            12.0,
            -10.0,
            &Constraints::default(),
        );
        assert_eq!(groups(&c), vec![vec![0, 1], vec![2]]);
        assert_eq!(c.refused[0].1, Refusal::Veto);
    }

    #[test]
    fn strict_edges_respect_unverified_numbers() {
        // A promoted link may not join a record whose mistyped number is
        // clearly another person's to a cluster with a valid number.
        let ids = ["330203200501011234", "330203200501019999"];
        let numbers = [Some((0, true)), Some((1, false))];
        let strict = Edge {
            strict: true,
            ..e(0, 1, 15.0)
        };
        let c = cluster(
            2,
            &numbers,
            &ids,
            &[strict],
            12.0,
            -10.0,
            &Constraints::default(),
        );
        assert_eq!(groups(&c), vec![vec![0], vec![1]]);
        let c = cluster(
            2,
            &numbers,
            &ids,
            &[e(0, 1, 15.0)],
            12.0,
            -10.0,
            &Constraints::default(),
        );
        assert_eq!(groups(&c), vec![vec![0, 1]]);
    }

    #[test]
    fn steward_decisions_come_first() {
        let constraints = Constraints {
            must_link: vec![(2, 3)],
            cannot_link: vec![(0, 1)],
            anchors: vec![None, None, Some(0), Some(1)],
        };
        let c = cluster(
            4,
            &[None; 4],
            &[],
            &[e(0, 1, 30.0), e(1, 2, 14.0)],
            12.0,
            -10.0,
            &constraints,
        );
        // The must-link joins 2 and 3 despite their different anchors; the
        // cannot-link keeps 0 and 1 apart despite a strong score.
        assert_eq!(groups(&c), vec![vec![0], vec![1, 2, 3]]);

        let anchored = Constraints {
            anchors: vec![Some(0), Some(1)],
            ..Constraints::default()
        };
        let c = cluster(2, &[None; 2], &[], &[e(0, 1, 30.0)], 12.0, -10.0, &anchored);
        assert_eq!(groups(&c), vec![vec![0], vec![1]]);
        assert_eq!(c.refused[0].1, Refusal::Steward);
    }
}
