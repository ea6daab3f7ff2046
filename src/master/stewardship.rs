//! What a data steward's command changes in the master index, decided
//! without I/O from the masters it touches.
//!
//! Stewards' decisions are sticky: every record a steward places is linked
//! by hand (`manual`), and automatic matching keeps a manually linked
//! record with its master forever (records pinned to different masters
//! never share a cluster). A merge pins both masters' records to the
//! survivor; a split pins each side to its own master, so a later run
//! cannot join them again. Accepting a review also records a must-link,
//! rejecting one a cannot-link, which hold even for records not yet
//! linked.

use crate::store::{
    MatchRuleKind, NewEvent, NewMatchRule, RecordRef, Review, ReviewDecision, ReviewVerdict, RunId,
    StewardWrite,
};

/// A master as a steward's command sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterRecords {
    pub id: String,
    /// Creation time as stored (RFC 3339, comparable as text): the older
    /// master survives a merge, as in automatic matching.
    pub created_at: String,
    /// Its linked records (active or not), sorted.
    pub records: Vec<RecordRef>,
}

/// Who is acting and why; every event carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Steward {
    pub by: String,
    pub reason: Option<String>,
    pub run: RunId,
}

/// A command that makes no sense for the index as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StewardError {
    #[error("{record} is not linked to master {master}")]
    NotInMaster { record: String, master: String },
    #[error("master {0} cannot be merged with itself")]
    SameMaster(String),
    #[error("{record} is already linked to master {master}")]
    AlreadyLinked { record: String, master: String },
    #[error("{0} is the only record of its master; there is nothing to unlink it from")]
    AlreadyAlone(String),
    #[error("name at least one record to split off master {0}")]
    NothingToSplit(String),
    #[error("splitting every record off master {0} would leave it empty; name only those that are a different person")]
    SplitAll(String),
}

impl Steward {
    fn event(&self, master: &str, kind: &str, detail: serde_json::Value) -> NewEvent {
        NewEvent {
            master_id: Some(master.to_owned()),
            kind: kind.to_owned(),
            actor: self.by.clone(),
            reason: self.reason.clone(),
            detail,
            run_id: Some(self.run),
        }
    }

    fn write(&self) -> StewardWrite {
        StewardWrite {
            actor: self.by.clone(),
            reason: self.reason.clone(),
            ..StewardWrite::default()
        }
    }

    fn rule(&self, kind: MatchRuleKind, left: &RecordRef, right: &RecordRef) -> NewMatchRule {
        NewMatchRule {
            kind,
            left: left.clone(),
            right: right.clone(),
            actor: self.by.clone(),
            reason: self
                .reason
                .clone()
                .unwrap_or_else(|| "review decision".to_owned()),
        }
    }
}

fn refs(records: &[RecordRef]) -> Vec<String> {
    records.iter().map(RecordRef::to_string).collect()
}

/// Merges two masters: the older survives, the other becomes a tombstone,
/// and every record of both is pinned to the survivor.
pub fn merge(
    a: &MasterRecords,
    b: &MasterRecords,
    who: &Steward,
) -> Result<StewardWrite, StewardError> {
    if a.id == b.id {
        return Err(StewardError::SameMaster(a.id.clone()));
    }
    let (survivor, absorbed) = if (&b.created_at, &b.id) < (&a.created_at, &a.id) {
        (b, a)
    } else {
        (a, b)
    };
    let mut w = who.write();
    add_merge(&mut w, survivor, absorbed, who);
    Ok(w)
}

fn add_merge(
    w: &mut StewardWrite,
    survivor: &MasterRecords,
    absorbed: &MasterRecords,
    who: &Steward,
) {
    for r in survivor.records.iter().chain(&absorbed.records) {
        w.links.push((r.clone(), survivor.id.clone()));
    }
    w.merges.push((absorbed.id.clone(), survivor.id.clone()));
    w.events.push(who.event(
        &absorbed.id,
        "merged",
        serde_json::json!({"into": survivor.id, "records": refs(&absorbed.records)}),
    ));
    w.events.push(who.event(
        &survivor.id,
        "absorbed",
        serde_json::json!({"from": absorbed.id, "records": refs(&absorbed.records)}),
    ));
    w.stale_masters
        .extend([survivor.id.clone(), absorbed.id.clone()]);
}

/// Splits `split` off `master` into a new master `new_id`; both sides are
/// pinned so no later run joins them again.
pub fn unmerge(
    master: &MasterRecords,
    split: &[RecordRef],
    new_id: String,
    who: &Steward,
) -> Result<StewardWrite, StewardError> {
    if split.is_empty() {
        return Err(StewardError::NothingToSplit(master.id.clone()));
    }
    for r in split {
        if !master.records.contains(r) {
            return Err(StewardError::NotInMaster {
                record: r.to_string(),
                master: master.id.clone(),
            });
        }
    }
    let rest: Vec<RecordRef> = master
        .records
        .iter()
        .filter(|r| !split.contains(r))
        .cloned()
        .collect();
    if rest.is_empty() {
        return Err(StewardError::SplitAll(master.id.clone()));
    }
    let mut w = who.write();
    add_split(&mut w, master, split, &rest, new_id, who);
    Ok(w)
}

fn add_split(
    w: &mut StewardWrite,
    master: &MasterRecords,
    split: &[RecordRef],
    rest: &[RecordRef],
    new_id: String,
    who: &Steward,
) {
    let mut split: Vec<RecordRef> = split.to_vec();
    split.sort();
    split.dedup();
    for r in &split {
        w.links.push((r.clone(), new_id.clone()));
    }
    for r in rest {
        w.links.push((r.clone(), master.id.clone()));
    }
    w.events.push(who.event(
        &master.id,
        "split",
        serde_json::json!({"into": new_id, "records": refs(&split)}),
    ));
    w.events.push(who.event(
        &new_id,
        "created",
        serde_json::json!({"records": refs(&split), "split_from": [master.id]}),
    ));
    w.stale_masters.extend([master.id.clone(), new_id.clone()]);
    w.new_masters.push(new_id);
}

/// Moves `record` from its master `from` to `to`. A master left without
/// records becomes a tombstone pointing at `to`.
pub fn link(
    record: &RecordRef,
    from: &MasterRecords,
    to: &MasterRecords,
    who: &Steward,
) -> Result<StewardWrite, StewardError> {
    if from.id == to.id {
        return Err(StewardError::AlreadyLinked {
            record: record.to_string(),
            master: to.id.clone(),
        });
    }
    if !from.records.contains(record) {
        return Err(StewardError::NotInMaster {
            record: record.to_string(),
            master: from.id.clone(),
        });
    }
    let mut w = who.write();
    w.links.push((record.clone(), to.id.clone()));
    w.events.push(who.event(
        &to.id,
        "linked",
        serde_json::json!({"records": [{"record": record.to_string(), "from": from.id}]}),
    ));
    w.events.push(who.event(
        &from.id,
        "unlinked",
        serde_json::json!({"record": record.to_string(), "to": to.id}),
    ));
    if from.records.len() == 1 {
        w.merges.push((from.id.clone(), to.id.clone()));
        w.events.push(who.event(
            &from.id,
            "merged",
            serde_json::json!({"into": to.id, "records": []}),
        ));
        w.events.push(who.event(
            &to.id,
            "absorbed",
            serde_json::json!({"from": from.id, "records": []}),
        ));
    }
    w.stale_masters.extend([from.id.clone(), to.id.clone()]);
    Ok(w)
}

/// Takes `record` out of its master into a new master of its own.
pub fn unlink(
    record: &RecordRef,
    from: &MasterRecords,
    new_id: String,
    who: &Steward,
) -> Result<StewardWrite, StewardError> {
    if !from.records.contains(record) {
        return Err(StewardError::NotInMaster {
            record: record.to_string(),
            master: from.id.clone(),
        });
    }
    if from.records.len() == 1 {
        return Err(StewardError::AlreadyAlone(record.to_string()));
    }
    unmerge(from, std::slice::from_ref(record), new_id, who)
}

/// Decides a review. Accepting records a must-link and merges the two
/// masters (if apart); rejecting records a cannot-link and, if the two
/// records share a master, splits the right one off into `new_id`.
pub fn decide(
    review: &Review,
    decision: ReviewDecision,
    left: &MasterRecords,
    right: &MasterRecords,
    new_id: String,
    who: &Steward,
) -> StewardWrite {
    let mut w = who.write();
    w.review = Some(ReviewVerdict {
        id: review.id,
        decision,
    });
    let detail = serde_json::json!({
        "review": review.id,
        "left": review.left.to_string(),
        "right": review.right.to_string(),
        "weight": review.match_weight,
    });
    match decision {
        ReviewDecision::Accept => {
            w.rules
                .push(who.rule(MatchRuleKind::MustLink, &review.left, &review.right));
            w.events
                .push(who.event(&left.id, "review_accepted", detail));
            if left.id != right.id {
                let (survivor, absorbed) =
                    if (&right.created_at, &right.id) < (&left.created_at, &left.id) {
                        (right, left)
                    } else {
                        (left, right)
                    };
                add_merge(&mut w, survivor, absorbed, who);
            }
        }
        ReviewDecision::Reject => {
            w.rules
                .push(who.rule(MatchRuleKind::CannotLink, &review.left, &review.right));
            w.events
                .push(who.event(&left.id, "review_rejected", detail.clone()));
            if left.id == right.id {
                let rest: Vec<RecordRef> = left
                    .records
                    .iter()
                    .filter(|r| **r != review.right)
                    .cloned()
                    .collect();
                add_split(
                    &mut w,
                    left,
                    std::slice::from_ref(&review.right),
                    &rest,
                    new_id,
                    who,
                );
            } else {
                w.events
                    .push(who.event(&right.id, "review_rejected", detail));
            }
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ReviewStatus;

    fn r(s: &str) -> RecordRef {
        s.parse().unwrap()
    }

    fn master(id: &str, created: &str, records: &[&str]) -> MasterRecords {
        MasterRecords {
            id: id.to_owned(),
            created_at: created.to_owned(),
            records: records.iter().map(|s| r(s)).collect(),
        }
    }

    fn who() -> Steward {
        Steward {
            by: "li".to_owned(),
            reason: Some("same person, checked by phone".to_owned()),
            run: RunId(7),
        }
    }

    fn review(left: &str, right: &str) -> Review {
        Review {
            id: 3,
            left: r(left),
            right: r(right),
            match_weight: 6.5,
            explanation: serde_json::json!({}),
            status: ReviewStatus::Pending,
            decided_by: None,
            decided_at: None,
            reason: None,
            run_id: None,
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn merge_keeps_the_older_master_and_pins_every_record() {
        let a = master("B", "2026-02", &["h:1"]);
        let b = master("A", "2026-01", &["g:1", "g:2"]);
        let w = merge(&a, &b, &who()).unwrap();
        assert_eq!(w.merges, vec![("B".to_owned(), "A".to_owned())]);
        assert_eq!(w.links.len(), 3);
        assert!(w.links.iter().all(|(_, m)| m == "A"));
        assert!(w
            .events
            .iter()
            .all(|e| e.actor == "li" && e.run_id == Some(RunId(7)) && e.reason.is_some()));
        assert_eq!(
            merge(&a, &a, &who()),
            Err(StewardError::SameMaster("B".into()))
        );
    }

    #[test]
    fn unmerge_pins_both_sides_apart() {
        let m = master("M", "1", &["a:1", "a:2", "b:1"]);
        let w = unmerge(&m, &[r("b:1")], "N".to_owned(), &who()).unwrap();
        assert_eq!(w.new_masters, vec!["N".to_owned()]);
        let to = |rec: &str| {
            w.links
                .iter()
                .find(|(x, _)| *x == r(rec))
                .map(|(_, m)| m.as_str())
        };
        assert_eq!(to("b:1"), Some("N"));
        assert_eq!(to("a:1"), Some("M"));
        assert_eq!(to("a:2"), Some("M"));
        assert!(matches!(
            unmerge(&m, &[r("c:9")], "N".into(), &who()),
            Err(StewardError::NotInMaster { .. })
        ));
        assert_eq!(
            unmerge(&m, &[r("a:1"), r("a:2"), r("b:1")], "N".into(), &who()),
            Err(StewardError::SplitAll("M".into()))
        );
        assert_eq!(
            unmerge(&m, &[], "N".into(), &who()),
            Err(StewardError::NothingToSplit("M".into()))
        );
    }

    #[test]
    fn link_moves_a_record_and_retires_an_emptied_master() {
        let from = master("P", "1", &["a:1"]);
        let to = master("Q", "2", &["b:1"]);
        let w = link(&r("a:1"), &from, &to, &who()).unwrap();
        assert_eq!(w.links, vec![(r("a:1"), "Q".to_owned())]);
        assert_eq!(w.merges, vec![("P".to_owned(), "Q".to_owned())]);
        let from2 = master("P", "1", &["a:1", "a:2"]);
        let w = link(&r("a:1"), &from2, &to, &who()).unwrap();
        assert!(w.merges.is_empty());
        assert!(matches!(
            link(&r("a:1"), &from2, &from2, &who()),
            Err(StewardError::AlreadyLinked { .. })
        ));
    }

    #[test]
    fn unlink_needs_company() {
        let alone = master("P", "1", &["a:1"]);
        assert!(matches!(
            unlink(&r("a:1"), &alone, "N".into(), &who()),
            Err(StewardError::AlreadyAlone(_))
        ));
        let two = master("P", "1", &["a:1", "a:2"]);
        let w = unlink(&r("a:1"), &two, "N".into(), &who()).unwrap();
        assert_eq!(w.new_masters, vec!["N".to_owned()]);
    }

    #[test]
    fn accepting_links_and_merges_rejecting_keeps_apart() {
        let left = master("A", "1", &["a:1"]);
        let right = master("B", "2", &["b:1"]);
        let rv = review("a:1", "b:1");
        let w = decide(
            &rv,
            ReviewDecision::Accept,
            &left,
            &right,
            "N".into(),
            &who(),
        );
        assert_eq!(w.rules[0].kind, MatchRuleKind::MustLink);
        assert_eq!(w.merges, vec![("B".to_owned(), "A".to_owned())]);
        assert_eq!(w.review.as_ref().unwrap().id, 3);

        let w = decide(
            &rv,
            ReviewDecision::Reject,
            &left,
            &right,
            "N".into(),
            &who(),
        );
        assert_eq!(w.rules[0].kind, MatchRuleKind::CannotLink);
        assert!(w.merges.is_empty() && w.new_masters.is_empty());

        // Rejected while already together: the right record is split off.
        let both = master("A", "1", &["a:1", "b:1"]);
        let w = decide(
            &rv,
            ReviewDecision::Reject,
            &both,
            &both,
            "N".into(),
            &who(),
        );
        assert_eq!(w.new_masters, vec!["N".to_owned()]);
        assert!(w.links.contains(&(r("b:1"), "N".to_owned())));
        assert!(w.links.contains(&(r("a:1"), "A".to_owned())));
    }
}
