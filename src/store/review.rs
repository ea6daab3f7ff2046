//! Steward work: the review queue of uncertain pairs, and the match rules
//! (must-link / cannot-link) stewards decide, which override the matcher.

use std::str::FromStr;

use chrono::{DateTime, Utc};

use super::{json_text, now_text, to_i64, Decode, PortableRow, Result, RunId, Store, StoreError};

/// A staged record, named by source and key; stored as `source:key`.
///
/// Source names are configuration identifiers and never contain `:`, so
/// the text form splits unambiguously at the first colon.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordRef {
    /// Source name.
    pub source: String,
    /// Key in the source.
    pub source_key: String,
}

impl RecordRef {
    /// A reference to `source_key` in `source`.
    pub fn new(source: impl Into<String>, source_key: impl Into<String>) -> Self {
        RecordRef {
            source: source.into(),
            source_key: source_key.into(),
        }
    }
}

impl std::fmt::Display for RecordRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.source, self.source_key)
    }
}

impl FromStr for RecordRef {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.split_once(':') {
            Some((source, key)) if !source.is_empty() && !key.is_empty() => {
                Ok(RecordRef::new(source, key))
            }
            _ => Err(format!("record reference `{s}` is not `source:key`")),
        }
    }
}

/// Orders a pair so (a, b) and (b, a) are stored as the same row.
pub(super) fn ordered<'a>(a: &'a RecordRef, b: &'a RecordRef) -> (&'a RecordRef, &'a RecordRef) {
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

fn check_source(op: &'static str, r: &RecordRef) -> Result<()> {
    if r.source.is_empty() || r.source.contains(':') || r.source_key.is_empty() {
        return Err(StoreError::InvalidArgument {
            op,
            detail: format!(
                "record reference `{r}` needs a non-empty source without `:` and a non-empty key"
            ),
        });
    }
    Ok(())
}

text_enum! {
    /// Where a review stands.
    ReviewStatus {
        /// Waiting for a steward.
        Pending => "pending",
        /// The steward said: same person.
        Accepted => "accepted",
        /// The steward said: different people.
        Rejected => "rejected",
    }
}

/// A steward's verdict on a review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewDecision {
    /// Same person: link.
    Accept,
    /// Different people: keep apart.
    Reject,
}

/// An uncertain pair to put before a steward.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReview {
    /// One record.
    pub left: RecordRef,
    /// The other.
    pub right: RecordRef,
    /// The matcher's total weight.
    pub match_weight: f64,
    /// Per-comparison weights, for the steward.
    pub explanation: serde_json::Value,
    /// The run that found the pair.
    pub run_id: Option<RunId>,
}

/// A stored review.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    /// Row id.
    pub id: i64,
    /// The lesser record of the pair.
    pub left: RecordRef,
    /// The greater record of the pair.
    pub right: RecordRef,
    /// The matcher's total weight.
    pub match_weight: f64,
    /// Per-comparison weights.
    pub explanation: serde_json::Value,
    /// Pending, accepted or rejected.
    pub status: ReviewStatus,
    /// The steward who decided.
    pub decided_by: Option<String>,
    /// When.
    pub decided_at: Option<DateTime<Utc>>,
    /// Why.
    pub reason: Option<String>,
    /// The run that found the pair.
    pub run_id: Option<RunId>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
}

text_enum! {
    /// A steward's standing rule for a pair.
    MatchRuleKind {
        /// Always the same person.
        MustLink => "must_link",
        /// Never the same person.
        CannotLink => "cannot_link",
    }
}

/// A steward rule to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMatchRule {
    /// Must-link or cannot-link.
    pub kind: MatchRuleKind,
    /// One record.
    pub left: RecordRef,
    /// The other.
    pub right: RecordRef,
    /// The steward.
    pub actor: String,
    /// Why.
    pub reason: String,
}

/// A stored steward rule.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchRule {
    /// Row id; a later rule for the same pair overrides an earlier one.
    pub id: i64,
    /// Must-link or cannot-link.
    pub kind: MatchRuleKind,
    /// The lesser record of the pair.
    pub left: RecordRef,
    /// The greater record of the pair.
    pub right: RecordRef,
    /// The steward.
    pub actor: String,
    /// Why.
    pub reason: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

const REVIEW_COLUMNS: &str = "id, left_ref, right_ref, match_weight, explanation, status, \
     decided_by, decided_at, reason, run_id, created_at";
pub(super) const RULE_COLUMNS: &str = "id, kind, left_ref, right_ref, actor, reason, created_at";

fn parse_ref<R: PortableRow>(d: &Decode<'_, R>, op: &'static str, col: &str) -> Result<RecordRef> {
    d.text(col)?.parse().map_err(|detail| StoreError::Corrupt {
        op,
        detail: format!("column {col}: {detail}"),
    })
}

fn review_of<R: PortableRow>(row: &R, op: &'static str) -> Result<Review> {
    let d = Decode::new(row, op);
    Ok(Review {
        id: d.int("id")?,
        left: parse_ref(&d, op, "left_ref")?,
        right: parse_ref(&d, op, "right_ref")?,
        match_weight: d.float("match_weight")?,
        explanation: d.json("explanation")?,
        status: d.parse("status")?,
        decided_by: d.opt_text("decided_by")?,
        decided_at: d.opt_time("decided_at")?,
        reason: d.opt_text("reason")?,
        run_id: d.opt_int("run_id")?.map(RunId),
        created_at: d.time("created_at")?,
    })
}

pub(super) fn rule_of<R: PortableRow>(row: &R, op: &'static str) -> Result<MatchRule> {
    let d = Decode::new(row, op);
    Ok(MatchRule {
        id: d.int("id")?,
        kind: d.parse("kind")?,
        left: parse_ref(&d, op, "left_ref")?,
        right: parse_ref(&d, op, "right_ref")?,
        actor: d.text("actor")?,
        reason: d.text("reason")?,
        created_at: d.time("created_at")?,
    })
}

impl Store {
    /// Queues a pair for review; returns whether a row was added. A pair
    /// already queued (in either order, pending or decided) is left as it
    /// is, so re-running the matcher never re-asks a decided question.
    pub async fn enqueue_review(&self, review: &NewReview) -> Result<bool> {
        const OP: &str = "enqueue_review";
        check_source(OP, &review.left)?;
        check_source(OP, &review.right)?;
        let (left, right) = ordered(&review.left, &review.right);
        let now = now_text();
        let explanation = json_text(&review.explanation);
        let added = on_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO review_queue \
                    (left_ref, right_ref, match_weight, explanation, status, run_id, created_at) \
                 VALUES ($1, $2, $3, $4, 'pending', $5, $6) \
                 ON CONFLICT (left_ref, right_ref) DO NOTHING",
            )
            .bind(left.to_string())
            .bind(right.to_string())
            .bind(review.match_weight)
            .bind(&explanation)
            .bind(review.run_id.map(|r| r.0))
            .bind(&now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(StoreError::query(OP))?;
        Ok(added == 1)
    }

    /// Pending reviews, oldest first.
    pub async fn pending_reviews(&self, limit: u64) -> Result<Vec<Review>> {
        const OP: &str = "pending_reviews";
        let limit = to_i64(OP, limit)?;
        let sql = format!(
            "SELECT {REVIEW_COLUMNS} FROM review_queue WHERE status = 'pending' ORDER BY id LIMIT $1"
        );
        on_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(limit)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(OP))?
                .iter()
                .map(|row| review_of(row, OP))
                .collect()
        })
    }

    /// One review by id.
    pub async fn review(&self, id: i64) -> Result<Option<Review>> {
        const OP: &str = "review";
        let sql = format!("SELECT {REVIEW_COLUMNS} FROM review_queue WHERE id = $1");
        on_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(StoreError::query(OP))?
                .map(|row| review_of(&row, OP))
                .transpose()
        })
    }

    /// Pending reviews touching any of `records`, oldest first.
    pub async fn pending_reviews_for(&self, records: &[RecordRef]) -> Result<Vec<Review>> {
        const OP: &str = "pending_reviews_for";
        let mut found: Vec<Review> = Vec::new();
        let sql = format!(
            "SELECT {REVIEW_COLUMNS} FROM review_queue \
             WHERE status = 'pending' AND (left_ref = $1 OR right_ref = $1) ORDER BY id"
        );
        for record in records {
            let rows: Vec<Review> = on_pool!(self, pool => {
                sqlx::query(&sql)
                    .bind(record.to_string())
                    .fetch_all(pool)
                    .await
                    .map_err(StoreError::query(OP))?
                    .iter()
                    .map(|row| review_of(row, OP))
                    .collect::<Result<_>>()?
            });
            for r in rows {
                if !found.iter().any(|f| f.id == r.id) {
                    found.push(r);
                }
            }
        }
        found.sort_by_key(|r| r.id);
        Ok(found)
    }

    /// Records a steward's decision on a pending review. Fails with
    /// `NotFound` if the review does not exist or was already decided.
    pub async fn decide_review(
        &self,
        id: i64,
        decision: ReviewDecision,
        actor: &str,
        reason: Option<&str>,
    ) -> Result<()> {
        const OP: &str = "decide_review";
        let status = match decision {
            ReviewDecision::Accept => ReviewStatus::Accepted,
            ReviewDecision::Reject => ReviewStatus::Rejected,
        };
        let now = now_text();
        let done = on_pool!(self, pool => {
            sqlx::query(
                "UPDATE review_queue SET status = $2, decided_by = $3, decided_at = $4, reason = $5 \
                 WHERE id = $1 AND status = 'pending'",
            )
            .bind(id)
            .bind(status.as_str())
            .bind(actor)
            .bind(&now)
            .bind(reason)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        })
        .map_err(StoreError::query(OP))?;
        if done == 0 {
            return Err(StoreError::NotFound {
                op: OP,
                what: format!("pending review {id}"),
            });
        }
        Ok(())
    }

    /// Records a steward rule and returns its id. Rules are history: a new
    /// rule for a pair supersedes older ones rather than replacing them.
    pub async fn add_match_rule(&self, rule: &NewMatchRule) -> Result<i64> {
        const OP: &str = "add_match_rule";
        check_source(OP, &rule.left)?;
        check_source(OP, &rule.right)?;
        let (left, right) = ordered(&rule.left, &rule.right);
        let now = now_text();
        on_pool!(self, pool => {
            sqlx::query_scalar(
                "INSERT INTO match_rules (kind, left_ref, right_ref, actor, reason, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(rule.kind.as_str())
            .bind(left.to_string())
            .bind(right.to_string())
            .bind(&rule.actor)
            .bind(&rule.reason)
            .bind(&now)
            .fetch_one(pool)
            .await
        })
        .map_err(StoreError::query(OP))
    }

    /// Every rule that mentions `record`, oldest first.
    pub async fn match_rules_for(&self, record: &RecordRef) -> Result<Vec<MatchRule>> {
        const OP: &str = "match_rules_for";
        let sql = format!(
            "SELECT {RULE_COLUMNS} FROM match_rules WHERE left_ref = $1 OR right_ref = $1 ORDER BY id"
        );
        on_pool!(self, pool => {
            sqlx::query(&sql)
                .bind(record.to_string())
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(OP))?
                .iter()
                .map(|row| rule_of(row, OP))
                .collect()
        })
    }
}
