//! The store's behaviour, run against SQLite and PostgreSQL alike.
//!
//! Each case is written once as `async fn case(store, url)`; `backend_cases!`
//! instantiates it as `sqlite::case` (a file database in a temp dir) and
//! `postgres::case` (a throwaway database; skipped with a loud message when
//! no server answers, a failure when `CI=true`).

mod support;

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use yici::store::{
    content_hash_json, DecidedBy, MatchRuleKind, NewEvent, NewMatchRule, NewOutbox, NewReview,
    OutboxStatus, Pool, QuarantineInput, RecordRef, RecordStatus, ReviewDecision, RunOutcome,
    RunStatus, SourceCounts, StageCounts, StageInput, Store, StoreError,
};

macro_rules! backend_cases {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let dir = tempfile::tempdir().expect("temp dir");
                    let url = format!("sqlite://{}", dir.path().join("store/yici.db").display());
                    let store = yici::store::Store::open(&url).await.expect("open sqlite store");
                    super::$case(store, url).await;
                }
            )+
        }

        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(db) = crate::support::postgres::test_db().await else {
                        return;
                    };
                    let url = db.url().to_owned();
                    let store = yici::store::Store::open(&url).await.expect("open postgres store");
                    super::$case(store.clone(), url).await;
                    store.close().await;
                }
            )+
        }
    };
}

backend_cases!(
    migrations_apply_and_are_idempotent,
    dollar_placeholders_work,
    staging_detects_new_changed_unchanged,
    cursor_commits_only_with_its_batch,
    quarantine_then_release,
    mark_gone_never_deletes,
    runs_and_interrupted_runs,
    master_link_event_round_trip,
    review_queue_is_idempotent,
    match_rules_are_recorded_per_pair,
    outbox_idempotent_due_delivered_parked,
    locks_acquire_contend_expire_release,
    summary_counts,
    concurrent_writers_all_commit,
    repeated_keys_within_a_batch,
    batches_span_statement_chunks,
);

const SRC: &str = "civil_affairs";

/// A JSON document as the text the store takes (callers serialize).
fn json(value: &serde_json::Value) -> String {
    value.to_string()
}

/// A good record whose hash follows its canonical content.
fn rec(key: &str, canonical: serde_json::Value) -> StageInput {
    StageInput {
        source_key: key.to_owned(),
        raw: json(&json!({ "编号": key, "data": canonical })),
        content_hash: content_hash_json(&canonical),
        canonical: json(&canonical),
        problems: json(&json!([])),
        source_updated_at: Some("2024-05-01 08:00:00".to_owned()),
        match_key: None,
    }
}

fn bad(key: &str, reason: &str) -> QuarantineInput {
    QuarantineInput {
        source_key: key.to_owned(),
        raw: json(&json!({ "编号": key, "身份证号": "not a number" })),
        reasons: vec![reason.to_owned()],
    }
}

fn counts(new: u64, changed: u64, unchanged: u64) -> StageCounts {
    StageCounts {
        new,
        changed,
        unchanged,
        ..StageCounts::default()
    }
}

async fn migrations_apply_and_are_idempotent(store: Store, url: String) {
    let before = store.schema().await.unwrap();
    assert!(before.contains_key("staged_records"));

    // Opening again re-runs the migrator: nothing to apply, checksums match.
    let again = Store::open(&url).await.expect("second open");
    assert_eq!(again.schema().await.unwrap(), before);
    let versions: Vec<i64> = match again.pool() {
        Pool::Sqlite(pool) => {
            sqlx::query_scalar(
                "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
            )
            .fetch_all(pool)
            .await
        }
        Pool::Postgres(pool) => {
            sqlx::query_scalar(
                "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
            )
            .fetch_all(pool)
            .await
        }
    }
    .unwrap();
    assert_eq!(versions, vec![1, 2, 3, 4, 5, 6, 7]);
    again.close().await;
}

async fn dollar_placeholders_work(store: Store, _url: String) {
    // Out of order and repeated: both drivers bind by number, not position.
    let sql = "SELECT $2 AS b, $1 AS a, $1 + 1 AS a_plus";
    let (b, a, a_plus): (String, i64, i64) = match store.pool() {
        Pool::Sqlite(pool) => {
            sqlx::query_as(sql)
                .bind(41_i64)
                .bind("二")
                .fetch_one(pool)
                .await
        }
        Pool::Postgres(pool) => {
            sqlx::query_as(sql)
                .bind(41_i64)
                .bind("二")
                .fetch_one(pool)
                .await
        }
    }
    .unwrap();
    assert_eq!((b.as_str(), a, a_plus), ("二", 41, 42));
}

async fn staging_detects_new_changed_unchanged(store: Store, _url: String) {
    let r1 = store.begin_run("sync").await.unwrap();
    let batch = vec![
        rec("A1", json!({"name": "张三", "birth": "1980-01-02"})),
        rec("A2", json!({"name": "李四", "birth": "1975-11-30"})),
        rec("A3", json!({"name": "王五", "birth": "1990-07-15"})),
    ];
    let got = store.stage_batch(SRC, r1, &batch, None).await.unwrap();
    assert_eq!(got, counts(3, 0, 0));

    let r2 = store.begin_run("sync").await.unwrap();
    let mut batch2 = batch.clone();
    batch2[1] = rec(
        "A2",
        json!({"name": "李四", "birth": "1975-11-30", "phone": "13800138000"}),
    );
    let got = store.stage_batch(SRC, r2, &batch2, None).await.unwrap();
    assert_eq!(got, counts(0, 1, 2));

    let changed = store.staged_record(SRC, "A2").await.unwrap().unwrap();
    assert_eq!(changed.canonical["phone"], "13800138000");
    assert_eq!(changed.content_hash, batch2[1].content_hash);
    assert_eq!((changed.first_seen_run, changed.last_seen_run), (r1, r2));
    assert_eq!(changed.status, RecordStatus::Active);
    assert_eq!(json(&changed.raw), batch2[1].raw);
    assert_eq!(
        changed.source_updated_at.as_deref(),
        Some("2024-05-01 08:00:00")
    );

    let unchanged = store.staged_record(SRC, "A1").await.unwrap().unwrap();
    assert_eq!(
        (unchanged.first_seen_run, unchanged.last_seen_run),
        (r1, r2)
    );
    assert_eq!(
        unchanged.updated_at, unchanged.staged_at,
        "content did not change"
    );

    // Only the hash decides: same hash, different raw is still unchanged.
    let r3 = store.begin_run("sync").await.unwrap();
    let mut same = batch2[0].clone();
    same.raw = json(&json!({"编号": "A1", "extra": "whitespace only"}));
    assert_eq!(
        store.stage_batch(SRC, r3, &[same], None).await.unwrap(),
        counts(0, 0, 1)
    );

    // A key repeated within one batch is handled in order.
    let dup = vec![
        rec("A9", json!({"name": "赵六"})),
        rec("A9", json!({"name": "赵六"})),
        rec("A9", json!({"name": "赵陆"})),
    ];
    assert_eq!(
        store.stage_batch(SRC, r3, &dup, None).await.unwrap(),
        counts(1, 1, 1)
    );

    // Sources are separate key spaces.
    assert_eq!(
        store.stage_batch("health", r3, &batch, None).await.unwrap(),
        counts(3, 0, 0)
    );
    assert_eq!(
        store.count_staged(SRC).await.unwrap(),
        SourceCounts { active: 4, gone: 0 }
    );
    assert!(store.staged_record(SRC, "nope").await.unwrap().is_none());
}

async fn cursor_commits_only_with_its_batch(store: Store, _url: String) {
    let run = store.begin_run("sync").await.unwrap();
    assert_eq!(store.cursor(SRC).await.unwrap(), None);
    let first = [rec("K1", json!({"n": 1})), rec("K2", json!({"n": 2}))];
    store
        .stage_batch(SRC, run, &first, Some("2024-05-01T00:00:00"))
        .await
        .unwrap();
    assert_eq!(
        store.cursor(SRC).await.unwrap().as_deref(),
        Some("2024-05-01T00:00:00")
    );

    // The third record violates a constraint (empty key) after two good
    // rows and a quarantine row were written in the same transaction.
    let failing = [
        rec("K3", json!({"n": 3})),
        rec("K1", json!({"n": 100})),
        rec("", json!({"n": 4})),
    ];
    let err = store
        .stage_and_quarantine(
            SRC,
            run,
            &failing,
            &[bad("Q1", "bad id")],
            Some("2024-06-01T00:00:00"),
        )
        .await
        .expect_err("a batch with an empty key fails");
    assert!(
        matches!(
            err,
            StoreError::Query {
                op: "stage_batch",
                ..
            }
        ),
        "{err}"
    );

    assert_eq!(
        store.cursor(SRC).await.unwrap().as_deref(),
        Some("2024-05-01T00:00:00"),
        "cursor stays with the last committed batch"
    );
    assert!(store.staged_record(SRC, "K3").await.unwrap().is_none());
    let k1 = store.staged_record(SRC, "K1").await.unwrap().unwrap();
    assert_eq!(k1.canonical, json!({"n": 1}), "K1's update was rolled back");
    assert!(store.list_quarantine(None, 10).await.unwrap().is_empty());
    assert_eq!(store.count_staged(SRC).await.unwrap().active, 2);

    // Retrying the corrected batch commits everything together.
    let fixed = [rec("K3", json!({"n": 3})), rec("K1", json!({"n": 100}))];
    let got = store
        .stage_and_quarantine(
            SRC,
            run,
            &fixed,
            &[bad("Q1", "bad id")],
            Some("2024-06-01T00:00:00"),
        )
        .await
        .unwrap();
    assert_eq!(
        got,
        StageCounts {
            new: 1,
            changed: 1,
            unchanged: 0,
            quarantined: 1,
            released: 0
        }
    );
    assert_eq!(
        store.cursor(SRC).await.unwrap().as_deref(),
        Some("2024-06-01T00:00:00")
    );
    assert_eq!(store.cursor("health").await.unwrap(), None);
}

async fn quarantine_then_release(store: Store, _url: String) {
    let r1 = store.begin_run("sync").await.unwrap();
    let got = store
        .quarantine_batch(
            SRC,
            r1,
            &[bad("B1", "身份证号校验位错误"), bad("B2", "缺少姓名")],
        )
        .await
        .unwrap();
    assert_eq!(got.quarantined, 2);
    let listed = store.list_quarantine(Some(SRC), 10).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].source_key, "B1");
    assert_eq!(listed[0].reasons, vec!["身份证号校验位错误".to_owned()]);
    assert_eq!(listed[0].run_id, r1);
    assert!(store
        .list_quarantine(Some("health"), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.list_quarantine(None, 1).await.unwrap().len(), 1);

    // Still bad on the next pull: the row is updated, not duplicated.
    let r2 = store.begin_run("sync").await.unwrap();
    store
        .quarantine_batch(SRC, r2, &[bad("B1", "出生日期无效")])
        .await
        .unwrap();
    let listed = store.list_quarantine(Some(SRC), 10).await.unwrap();
    assert_eq!(listed.len(), 2);
    let b1 = listed.iter().find(|q| q.source_key == "B1").unwrap();
    assert_eq!(b1.reasons, vec!["出生日期无效".to_owned()]);
    assert_eq!(b1.run_id, r2);

    // Now good: staged and released in the same transaction.
    let got = store
        .stage_batch(SRC, r2, &[rec("B1", json!({"name": "钱七"}))], None)
        .await
        .unwrap();
    assert_eq!((got.new, got.released), (1, 1));
    let listed = store.list_quarantine(Some(SRC), 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].source_key, "B2");
    let released = store.quarantine_record(SRC, "B1").await.unwrap().unwrap();
    assert!(released.released_at.is_some());

    // Staging it again releases nothing more.
    let got = store
        .stage_batch(SRC, r2, &[rec("B1", json!({"name": "钱七"}))], None)
        .await
        .unwrap();
    assert_eq!((got.unchanged, got.released), (1, 0));

    // Bad again: reopened; the good staged version stays and counts as seen.
    let r3 = store.begin_run("sync").await.unwrap();
    store
        .quarantine_batch(SRC, r3, &[bad("B1", "出生日期无效")])
        .await
        .unwrap();
    let reopened = store.quarantine_record(SRC, "B1").await.unwrap().unwrap();
    assert!(reopened.released_at.is_none());
    assert_eq!(reopened.id, released.id);
    assert_eq!(store.mark_gone(SRC, r3, r3).await.unwrap(), 0);
    let staged = store.staged_record(SRC, "B1").await.unwrap().unwrap();
    assert_eq!(
        (staged.status, staged.last_seen_run),
        (RecordStatus::Active, r3)
    );
}

async fn mark_gone_never_deletes(store: Store, _url: String) {
    let r1 = store.begin_run("sync").await.unwrap();
    let all = [
        rec("G1", json!({"n": 1})),
        rec("G2", json!({"n": 2})),
        rec("G3", json!({"n": 3})),
    ];
    store.stage_batch(SRC, r1, &all, None).await.unwrap();
    store.stage_batch("health", r1, &all, None).await.unwrap();

    let r2 = store.begin_run("sync").await.unwrap();
    store.stage_batch(SRC, r2, &all[..2], None).await.unwrap();
    assert_eq!(store.mark_gone(SRC, r2, r2).await.unwrap(), 1);
    assert_eq!(store.mark_gone(SRC, r2, r2).await.unwrap(), 0, "idempotent");

    let gone = store.staged_record(SRC, "G3").await.unwrap().unwrap();
    assert_eq!(gone.status, RecordStatus::Gone);
    assert_eq!(gone.gone_run, Some(r2));
    assert_eq!(gone.canonical, json!({"n": 3}), "content kept");
    assert_eq!(
        store.count_staged(SRC).await.unwrap(),
        SourceCounts { active: 2, gone: 1 }
    );
    assert_eq!(
        store.count_staged("health").await.unwrap(),
        SourceCounts { active: 3, gone: 0 },
        "other sources untouched"
    );

    // It comes back unchanged: reactivated, and reported as changed so
    // matching looks at it again.
    let r3 = store.begin_run("sync").await.unwrap();
    let got = store.stage_batch(SRC, r3, &all, None).await.unwrap();
    assert_eq!(got, counts(0, 1, 2));
    let back = store.staged_record(SRC, "G3").await.unwrap().unwrap();
    assert_eq!((back.status, back.gone_run), (RecordStatus::Active, None));
    assert_eq!(back.id, gone.id, "same row, never deleted");
}

async fn runs_and_interrupted_runs(store: Store, url: String) {
    let r1 = store.begin_run("sync").await.unwrap();
    store
        .finish_run(
            r1,
            RunOutcome {
                status: RunStatus::Succeeded,
                counts: json!({"pulled": 3, "staged": 3}),
                error: None,
            },
        )
        .await
        .unwrap();
    let r2 = store.begin_run("sync").await.unwrap();
    let r3 = store.begin_run("push").await.unwrap();
    drop(store); // the process "dies" with r2 and r3 running

    let store = Store::open(&url).await.unwrap();
    let runs = store.recent_runs(10).await.unwrap();
    assert_eq!(
        runs.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![r3, r2, r1],
        "newest first"
    );
    assert_eq!(runs[2].status, RunStatus::Succeeded);
    assert_eq!(runs[2].counts, json!({"pulled": 3, "staged": 3}));
    assert!(runs[2].finished_at.unwrap() >= runs[2].started_at);
    assert_eq!(runs[1].status, RunStatus::Running);

    assert_eq!(store.mark_interrupted_runs(Some("sync")).await.unwrap(), 1);
    let r2_row = store.run(r2).await.unwrap().unwrap();
    assert_eq!(r2_row.status, RunStatus::Interrupted);
    assert!(r2_row.finished_at.is_some());
    assert_eq!(
        store.run(r3).await.unwrap().unwrap().status,
        RunStatus::Running
    );
    assert_eq!(store.mark_interrupted_runs(None).await.unwrap(), 1);
    assert_eq!(
        store.run(r3).await.unwrap().unwrap().status,
        RunStatus::Interrupted
    );
    assert_eq!(
        store.run(r1).await.unwrap().unwrap().status,
        RunStatus::Succeeded
    );

    let r4 = store.begin_run("sync").await.unwrap();
    store
        .finish_run(
            r4,
            RunOutcome {
                status: RunStatus::Failed,
                counts: json!({}),
                error: Some("source unreachable".to_owned()),
            },
        )
        .await
        .unwrap();
    let r4_row = store.run(r4).await.unwrap().unwrap();
    assert_eq!(r4_row.error.as_deref(), Some("source unreachable"));
    assert_eq!(store.recent_runs(1).await.unwrap()[0].id, r4);

    let missing = yici::store::RunId(r4.0 + 1000);
    let err = store
        .finish_run(
            missing,
            RunOutcome {
                status: RunStatus::Succeeded,
                counts: json!({}),
                error: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");

    // A run left `running` by a process that is gone (on this host) is
    // marked interrupted when the next run begins; this process's own
    // unfinished run only when it asks.
    let mine = store.begin_run("pull").await.unwrap();
    let host = yici::store::process::this_process()
        .rsplit_once(':')
        .unwrap()
        .0
        .to_owned();
    let dead = format!("{host}:99999999");
    let set_runner = |id: yici::store::RunId| {
        let (store, dead) = (store.clone(), dead.clone());
        async move {
            let sql = "UPDATE runs SET runner = $1 WHERE id = $2";
            let done = match store.pool() {
                Pool::Sqlite(pool) => sqlx::query(sql)
                    .bind(&dead)
                    .bind(id.0)
                    .execute(pool)
                    .await
                    .map(|r| r.rows_affected()),
                Pool::Postgres(pool) => sqlx::query(sql)
                    .bind(&dead)
                    .bind(id.0)
                    .execute(pool)
                    .await
                    .map(|r| r.rows_affected()),
            };
            assert_eq!(done.unwrap(), 1);
        }
    };
    set_runner(r4).await;
    let orphan = store.begin_run("resolve").await.unwrap();
    set_runner(orphan).await;
    let next = store.begin_run("push").await.unwrap();
    let status = |id| {
        let store = store.clone();
        async move { store.run(id).await.unwrap().unwrap().status }
    };
    assert_eq!(status(orphan).await, RunStatus::Interrupted);
    assert_eq!(status(r4).await, RunStatus::Failed, "finished runs stay");
    assert_eq!(status(mine).await, RunStatus::Running);
    assert_eq!(store.mark_abandoned_runs(true).await.unwrap(), 2);
    assert_eq!(status(mine).await, RunStatus::Interrupted);
    assert_eq!(status(next).await, RunStatus::Interrupted);
    store.close().await;
}

async fn master_link_event_round_trip(store: Store, _url: String) {
    let run = store.begin_run("sync").await.unwrap();
    store
        .stage_batch(SRC, run, &[rec("M1", json!({"name": "孙八"}))], None)
        .await
        .unwrap();
    store
        .stage_batch("health", run, &[rec("H1", json!({"name": "孙八"}))], None)
        .await
        .unwrap();

    let id = "01HZX3J5K8Q9V2W4Y6Z8A0B1C2";
    let golden = json!({"name": {"value": "孙八", "source": SRC, "key": "M1"}});
    store.create_master(id, &golden, Some(run)).await.unwrap();
    let master = store.master(id).await.unwrap().unwrap();
    assert_eq!(master.golden, golden);
    assert_eq!(master.golden_version, 1);
    assert_eq!(master.created_run, Some(run));
    assert!(master.merged_into.is_none());
    assert!(store
        .create_master(id, &golden, None)
        .await
        .unwrap_err()
        .is_unique_violation());
    assert!(store.master("nope").await.unwrap().is_none());

    store
        .link_record(SRC, "M1", id, DecidedBy::Auto, Some(23.5), Some(run))
        .await
        .unwrap();
    store
        .link_record("health", "H1", id, DecidedBy::Manual, None, None)
        .await
        .unwrap();
    let link = store.master_of(SRC, "M1").await.unwrap().unwrap();
    assert_eq!(link.master_id, id);
    assert_eq!(link.decided_by, DecidedBy::Auto);
    assert_eq!(link.match_weight, Some(23.5));
    assert_eq!(link.run_id, Some(run));
    assert_eq!(store.links_of_master(id).await.unwrap().len(), 2);
    assert!(store.master_of(SRC, "M2").await.unwrap().is_none());

    // Relinking replaces (one master per record); unknown masters and
    // unstaged records are refused.
    let other = "01HZX3J5K8Q9V2W4Y6Z8A0B1C3";
    store
        .create_master(other, &json!({}), Some(run))
        .await
        .unwrap();
    store
        .link_record(SRC, "M1", other, DecidedBy::Manual, None, Some(run))
        .await
        .unwrap();
    assert_eq!(
        store.master_of(SRC, "M1").await.unwrap().unwrap().master_id,
        other
    );
    assert!(store
        .link_record(SRC, "M1", "no-such-master", DecidedBy::Auto, None, None)
        .await
        .is_err());
    assert!(store
        .link_record(SRC, "never-staged", id, DecidedBy::Auto, None, None)
        .await
        .is_err());

    for (kind, reason) in [("created", None), ("linked", Some("steward confirmed"))] {
        store
            .append_event(&NewEvent {
                master_id: Some(id.to_owned()),
                kind: kind.to_owned(),
                actor: "张社工".to_owned(),
                reason: reason.map(str::to_owned),
                detail: json!({"source": SRC, "key": "M1"}),
                run_id: Some(run),
            })
            .await
            .unwrap();
    }
    store
        .append_event(&NewEvent {
            master_id: None,
            kind: "note".to_owned(),
            actor: "system".to_owned(),
            reason: None,
            detail: json!({}),
            run_id: None,
        })
        .await
        .unwrap();
    let events = store.events_for_master(id).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["created", "linked"]
    );
    assert_eq!(events[1].reason.as_deref(), Some("steward confirmed"));
    assert_eq!(events[1].actor, "张社工");
    assert_eq!(events[0].detail, json!({"source": SRC, "key": "M1"}));
    assert!(events[0].id < events[1].id);
}

async fn review_queue_is_idempotent(store: Store, _url: String) {
    let run = store.begin_run("sync").await.unwrap();
    let a = RecordRef::new("health", "H:7"); // keys may contain ':'
    let b = RecordRef::new(SRC, "C7");
    let review = NewReview {
        left: a.clone(),
        right: b.clone(),
        match_weight: 4.25,
        explanation: json!({"name": 3.1, "birth": 1.15}),
        run_id: Some(run),
    };
    assert!(store.enqueue_review(&review).await.unwrap());
    assert!(!store.enqueue_review(&review).await.unwrap());
    let swapped = NewReview {
        left: b.clone(),
        right: a.clone(),
        ..review.clone()
    };
    assert!(
        !store.enqueue_review(&swapped).await.unwrap(),
        "pair is unordered"
    );

    let pending = store.pending_reviews(10).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (&pending[0].left, &pending[0].right),
        (&b, &a),
        "stored in canonical order"
    );
    assert_eq!(pending[0].match_weight, 4.25);
    assert_eq!(pending[0].explanation, json!({"name": 3.1, "birth": 1.15}));

    store
        .decide_review(
            pending[0].id,
            ReviewDecision::Reject,
            "李干事",
            Some("双胞胎"),
        )
        .await
        .unwrap();
    assert!(store.pending_reviews(10).await.unwrap().is_empty());
    assert!(
        !store.enqueue_review(&review).await.unwrap(),
        "decided pairs are not re-asked"
    );
    let err = store
        .decide_review(pending[0].id, ReviewDecision::Accept, "x", None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }));

    let bad_ref = NewReview {
        left: RecordRef::new("", "k"),
        ..review
    };
    assert!(matches!(
        store.enqueue_review(&bad_ref).await.unwrap_err(),
        StoreError::InvalidArgument { .. }
    ));
}

async fn match_rules_are_recorded_per_pair(store: Store, _url: String) {
    let a = RecordRef::new(SRC, "A");
    let b = RecordRef::new("health", "B");
    let first = store
        .add_match_rule(&NewMatchRule {
            kind: MatchRuleKind::CannotLink,
            left: a.clone(),
            right: b.clone(),
            actor: "李干事".to_owned(),
            reason: "双胞胎".to_owned(),
        })
        .await
        .unwrap();
    let second = store
        .add_match_rule(&NewMatchRule {
            kind: MatchRuleKind::MustLink,
            left: b.clone(),
            right: a.clone(),
            actor: "王主任".to_owned(),
            reason: "核实为同一人".to_owned(),
        })
        .await
        .unwrap();
    assert!(first < second);
    let rules = store.match_rules_for(&a).await.unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[1].kind, MatchRuleKind::MustLink);
    assert_eq!(
        (&rules[1].left, &rules[1].right),
        (&rules[0].left, &rules[0].right)
    );
    assert_eq!(store.match_rules_for(&b).await.unwrap().len(), 2);
    assert!(store
        .match_rules_for(&RecordRef::new(SRC, "Z"))
        .await
        .unwrap()
        .is_empty());
}

async fn outbox_idempotent_due_delivered_parked(store: Store, _url: String) {
    let master = "01HZX3J5K8Q9V2W4Y6Z8A0B1D4";
    store.create_master(master, &json!({}), None).await.unwrap();
    let item = |key: &str| NewOutbox {
        target: "health".to_owned(),
        master_id: master.to_owned(),
        target_key: Some("H1".to_owned()),
        operation: "fill_blanks".to_owned(),
        payload: json!({"phone": "13800138000"}),
        idempotency_key: key.to_owned(),
    };
    assert!(store.enqueue_outbox(&item("push-1")).await.unwrap());
    assert!(!store.enqueue_outbox(&item("push-1")).await.unwrap());
    assert!(store.enqueue_outbox(&item("push-2")).await.unwrap());

    let now = Utc::now() + chrono::Duration::seconds(1);
    let due = store.due_outbox(10, now).await.unwrap();
    assert_eq!(due.len(), 2);
    let (first, second) = (due[0].id, due[1].id);
    assert_eq!(due[0].idempotency_key, "push-1");
    assert_eq!(due[0].payload, json!({"phone": "13800138000"}));
    assert_eq!(due[0].status, OutboxStatus::Pending);
    assert_eq!(store.due_outbox(1, now).await.unwrap().len(), 1);

    store.mark_delivered(second).await.unwrap();
    let delivered = store.outbox_item(second).await.unwrap().unwrap();
    assert_eq!(delivered.status, OutboxStatus::Delivered);
    assert!(delivered.delivered_at.is_some());
    assert!(matches!(
        store.mark_delivered(second).await.unwrap_err(),
        StoreError::NotFound { .. }
    ));
    assert!(
        !store.enqueue_outbox(&item("push-2")).await.unwrap(),
        "delivered stays delivered"
    );

    // Fail, back off, fail, fail → parked after 3 attempts.
    let later = now + chrono::Duration::hours(1);
    assert_eq!(
        store
            .mark_failed(first, "HTTP 503", later, 3)
            .await
            .unwrap(),
        OutboxStatus::Pending
    );
    assert!(
        store.due_outbox(10, now).await.unwrap().is_empty(),
        "backing off"
    );
    let retry = store.due_outbox(10, later).await.unwrap();
    assert_eq!((retry.len(), retry[0].attempts), (1, 1));
    assert_eq!(retry[0].last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(
        store
            .mark_failed(first, "HTTP 503", later, 3)
            .await
            .unwrap(),
        OutboxStatus::Pending
    );
    assert_eq!(
        store.mark_failed(first, "timeout", later, 3).await.unwrap(),
        OutboxStatus::Parked
    );
    assert!(store
        .due_outbox(10, later + chrono::Duration::days(1))
        .await
        .unwrap()
        .is_empty());
    let parked = store.outbox_item(first).await.unwrap().unwrap();
    assert_eq!((parked.status, parked.attempts), (OutboxStatus::Parked, 3));
    assert_eq!(parked.last_error.as_deref(), Some("timeout"));
    assert!(store.mark_failed(first, "again", later, 3).await.is_err());

    // Outbox rows need a real master.
    let mut orphan = item("push-3");
    orphan.master_id = "missing".to_owned();
    assert!(store.enqueue_outbox(&orphan).await.is_err());
}

async fn locks_acquire_contend_expire_release(store: Store, _url: String) {
    let minute = Duration::from_secs(60);
    assert!(store
        .try_acquire_lock("sync:civil_affairs", "host-a:1", minute)
        .await
        .unwrap());
    assert!(!store
        .try_acquire_lock("sync:civil_affairs", "host-b:2", minute)
        .await
        .unwrap());
    assert!(
        store
            .try_acquire_lock("sync:civil_affairs", "host-a:1", minute)
            .await
            .unwrap(),
        "the holder renews"
    );
    assert!(
        store
            .try_acquire_lock("push", "host-b:2", minute)
            .await
            .unwrap(),
        "independent"
    );
    assert!(!store
        .release_lock("sync:civil_affairs", "host-b:2")
        .await
        .unwrap());
    assert!(store
        .release_lock("sync:civil_affairs", "host-a:1")
        .await
        .unwrap());
    assert!(!store
        .release_lock("sync:civil_affairs", "host-a:1")
        .await
        .unwrap());

    // A lease that runs out is taken over.
    let short = Duration::from_millis(50);
    assert!(store
        .try_acquire_lock("sync:civil_affairs", "host-b:2", short)
        .await
        .unwrap());
    assert!(!store
        .try_acquire_lock("sync:civil_affairs", "host-c:3", minute)
        .await
        .unwrap());
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(store
        .try_acquire_lock("sync:civil_affairs", "host-c:3", minute)
        .await
        .unwrap());
    assert!(!store
        .release_lock("sync:civil_affairs", "host-b:2")
        .await
        .unwrap());
}

async fn summary_counts(store: Store, _url: String) {
    let empty = store.summary().await.unwrap();
    assert_eq!(empty, yici::store::StoreSummary::default());

    let run = store.begin_run("sync").await.unwrap();
    store
        .stage_and_quarantine(
            SRC,
            run,
            &[rec("S1", json!({"n": 1})), rec("S2", json!({"n": 2}))],
            &[bad("S3", "bad")],
            None,
        )
        .await
        .unwrap();
    store
        .stage_batch("health", run, &[rec("H1", json!({"n": 1}))], None)
        .await
        .unwrap();
    let run2 = store.begin_run("sync").await.unwrap();
    store
        .stage_batch(SRC, run2, &[rec("S1", json!({"n": 1}))], None)
        .await
        .unwrap();
    store.mark_gone(SRC, run2, run2).await.unwrap();
    store
        .create_master("m1", &json!({}), Some(run))
        .await
        .unwrap();
    store
        .link_record(SRC, "S1", "m1", DecidedBy::Auto, Some(20.0), Some(run))
        .await
        .unwrap();
    store
        .enqueue_review(&NewReview {
            left: RecordRef::new(SRC, "S1"),
            right: RecordRef::new("health", "H1"),
            match_weight: 2.0,
            explanation: json!({}),
            run_id: Some(run),
        })
        .await
        .unwrap();
    for key in ["o1", "o2"] {
        store
            .enqueue_outbox(&NewOutbox {
                target: "health".to_owned(),
                master_id: "m1".to_owned(),
                target_key: None,
                operation: "create".to_owned(),
                payload: json!({}),
                idempotency_key: key.to_owned(),
            })
            .await
            .unwrap();
    }
    let o2 = store.due_outbox(10, Utc::now()).await.unwrap()[1].id;
    store.mark_failed(o2, "boom", Utc::now(), 1).await.unwrap();

    let summary = store.summary().await.unwrap();
    assert_eq!(summary.staged[SRC], SourceCounts { active: 1, gone: 1 });
    assert_eq!(
        summary.staged["health"],
        SourceCounts { active: 1, gone: 0 }
    );
    assert_eq!(summary.staged.len(), 2);
    assert_eq!(summary.quarantined, 1);
    assert_eq!((summary.masters, summary.merged_masters), (1, 0));
    assert_eq!(summary.links, 1);
    assert_eq!(summary.pending_reviews, 1);
    assert_eq!((summary.outbox_pending, summary.outbox_parked), (1, 1));
    assert_eq!(summary.runs, 2);
}

async fn concurrent_writers_all_commit(store: Store, _url: String) {
    let run = store.begin_run("sync").await.unwrap();
    let mut tasks = Vec::new();
    for worker in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let source = format!("source_{worker}");
            for batch in 0..5 {
                let records: Vec<StageInput> = (0..50)
                    .map(|i| rec(&format!("{batch}-{i}"), json!({ "w": worker, "i": i })))
                    .collect();
                let cursor = format!("{batch}");
                store
                    .stage_batch(&source, run, &records, Some(&cursor))
                    .await
                    .expect("concurrent batch commits");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    for worker in 0..4 {
        let source = format!("source_{worker}");
        assert_eq!(store.count_staged(&source).await.unwrap().active, 250);
        assert_eq!(store.cursor(&source).await.unwrap().as_deref(), Some("4"));
    }

    // Eight processes race for one free lock: exactly one wins.
    let mut racers = Vec::new();
    for holder in 0..8 {
        let store = store.clone();
        racers.push(tokio::spawn(async move {
            store
                .try_acquire_lock("push", &format!("holder-{holder}"), Duration::from_secs(60))
                .await
                .unwrap()
        }));
    }
    let mut winners = 0;
    for racer in racers {
        winners += usize::from(racer.await.unwrap());
    }
    assert_eq!(winners, 1);
}

/// Repeated keys in one call: counted and stored as if each copy were
/// staged one after the other (the batch statements write each key once).
async fn repeated_keys_within_a_batch(store: Store, _url: String) {
    let r1 = store.begin_run("sync").await.unwrap();
    let first = rec("D1", json!({"v": 1}));
    let mut same_other_raw = first.clone();
    same_other_raw.raw = json(&json!({"编号": "D1", "copy": 2}));
    let batch = vec![
        first.clone(),
        rec("D2", json!({"v": 1})),
        same_other_raw,             // unchanged against `first`
        rec("D1", json!({"v": 2})), // changed
        rec("D3", json!({"v": 1})),
        rec("D1", json!({"v": 3})), // changed again: this one stays
        rec("D2", json!({"v": 1})), // unchanged
    ];
    assert_eq!(
        store.stage_batch(SRC, r1, &batch, None).await.unwrap(),
        counts(3, 2, 2)
    );
    let d1 = store.staged_record(SRC, "D1").await.unwrap().unwrap();
    assert_eq!(d1.canonical, json!({"v": 3}));
    assert_eq!((d1.first_seen_run, d1.last_seen_run), (r1, r1));
    let d2 = store.staged_record(SRC, "D2").await.unwrap().unwrap();
    let d3 = store.staged_record(SRC, "D3").await.unwrap().unwrap();
    assert!(
        d1.id < d2.id && d2.id < d3.id,
        "ids follow first appearance"
    );

    // The stored raw is the last copy that was written, not a later
    // unchanged copy (only the hash decides).
    let r2 = store.begin_run("sync").await.unwrap();
    let mut later = rec("D2", json!({"v": 1}));
    later.raw = json(&json!({"编号": "D2", "later": true}));
    assert_eq!(
        store
            .stage_batch(
                SRC,
                r2,
                &[
                    rec("D2", json!({"v": 9})),
                    rec("D2", json!({"v": 1})),
                    later
                ],
                None
            )
            .await
            .unwrap(),
        counts(0, 2, 1)
    );
    let d2 = store.staged_record(SRC, "D2").await.unwrap().unwrap();
    assert_eq!(d2.canonical, json!({"v": 1}));
    assert_eq!(d2.raw, json!({"编号": "D2", "data": {"v": 1}}));
    assert_eq!(d2.last_seen_run, r2);

    // A gone record repeated: reactivated (changed) once, then unchanged.
    assert_eq!(store.mark_gone(SRC, r2, r2).await.unwrap(), 2);
    let r3 = store.begin_run("sync").await.unwrap();
    let d3_again = rec("D3", json!({"v": 1}));
    assert_eq!(
        store
            .stage_batch(SRC, r3, &[d3_again.clone(), d3_again], None)
            .await
            .unwrap(),
        counts(0, 1, 1)
    );
    let d3 = store.staged_record(SRC, "D3").await.unwrap().unwrap();
    assert_eq!((d3.status, d3.gone_run), (RecordStatus::Active, None));

    // Repeated bad copies: each counted, the last one kept.
    let got = store
        .quarantine_batch(
            SRC,
            r3,
            &[
                bad("Q1", "缺少姓名"),
                bad("Q2", "x"),
                bad("Q1", "出生日期无效"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(got.quarantined, 3);
    let q1 = store.quarantine_record(SRC, "Q1").await.unwrap().unwrap();
    assert_eq!(q1.reasons, vec!["出生日期无效".to_owned()]);
    assert_eq!(store.list_quarantine(Some(SRC), 10).await.unwrap().len(), 2);

    // Bad and good in one call: the good copy wins and releases it once,
    // however often it repeats.
    let got = store
        .stage_and_quarantine(
            SRC,
            r3,
            &[
                rec("Q1", json!({"v": 1})),
                rec("Q1", json!({"v": 1})),
                rec("Q2", json!({"v": 1})),
            ],
            &[bad("Q2", "again")],
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        got,
        StageCounts {
            new: 2,
            changed: 0,
            unchanged: 1,
            quarantined: 1,
            released: 2
        }
    );
    assert!(store
        .list_quarantine(Some(SRC), 10)
        .await
        .unwrap()
        .is_empty());
}

/// Batches larger than one statement (SQLite inserts 1,024 rows and looks
/// up 8,192 keys per statement; PostgreSQL sends 8,192 per array), with a
/// repeated key across chunk boundaries.
async fn batches_span_statement_chunks(store: Store, _url: String) {
    const N: usize = 9_000;
    let r1 = store.begin_run("sync").await.unwrap();
    let mut batch: Vec<StageInput> = (0..N)
        .map(|i| rec(&format!("C{i:05}"), json!({ "n": i })))
        .collect();
    batch.push(rec("C00001", json!({"n": "late"})));
    assert_eq!(
        store
            .stage_batch(SRC, r1, &batch, Some("c1"))
            .await
            .unwrap(),
        counts(9_000, 1, 0)
    );
    let late = store.staged_record(SRC, "C00001").await.unwrap().unwrap();
    assert_eq!(late.canonical, json!({"n": "late"}));
    let last = store.staged_record(SRC, "C08999").await.unwrap().unwrap();
    assert!(late.id < last.id, "row ids follow the batch");

    let r2 = store.begin_run("sync").await.unwrap();
    batch.pop();
    for i in (0..N).step_by(10) {
        batch[i] = rec(&format!("C{i:05}"), json!({ "n": i, "changed": true }));
    }
    let quarantined: Vec<QuarantineInput> = (0..N)
        .step_by(3)
        .map(|i| bad(&format!("C{i:05}"), "x"))
        .collect();
    let got = store
        .stage_and_quarantine(SRC, r2, &batch, &quarantined, Some("c2"))
        .await
        .unwrap();
    assert_eq!(
        got,
        StageCounts {
            new: 0,
            changed: 901, // every tenth, and C00001 back from "late"
            unchanged: 8_099,
            quarantined: 3_000,
            released: 3_000,
        }
    );
    assert_eq!(store.mark_gone(SRC, r2, r2).await.unwrap(), 0);
    assert_eq!(store.count_staged(SRC).await.unwrap().active, 9_000);
    assert!(store
        .list_quarantine(Some(SRC), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.cursor(SRC).await.unwrap().as_deref(), Some("c2"));
}

// ---- tests that are not per backend ----------------------------------------

const TABLES: [&str; 15] = [
    "conflicts",
    "cursors",
    "events",
    "golden_versions",
    "job_locks",
    "links",
    "master_keys",
    "masters",
    "match_rules",
    "outbox",
    "quarantine",
    "review_queue",
    "runs",
    "staged_records",
    "store_state",
];

/// Both dialects' migrations end with the same tables, columns, portable
/// types and nullability.
#[tokio::test]
async fn both_backends_have_the_same_schema() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open(&format!("sqlite://{}", dir.path().join("s.db").display()))
        .await
        .unwrap();
    let sqlite_schema = sqlite.schema().await.unwrap();
    assert_eq!(
        sqlite_schema.keys().map(String::as_str).collect::<Vec<_>>(),
        TABLES
    );
    for (table, columns) in &sqlite_schema {
        for column in columns {
            assert!(
                ["integer", "text", "real"].contains(&column.kind.as_str()),
                "{table}.{} has non-portable type {}",
                column.name,
                column.kind
            );
        }
    }

    let Some(db) = support::postgres::test_db().await else {
        return;
    };
    let pg = Store::open(db.url()).await.unwrap();
    let pg_schema = pg.schema().await.unwrap();
    pg.close().await;
    for table in TABLES {
        assert_eq!(
            sqlite_schema[table], pg_schema[table],
            "table {table} differs"
        );
    }
    assert_eq!(sqlite_schema, pg_schema);
}

#[tokio::test]
async fn sqlite_file_store_uses_wal_and_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dirs/yici.db");
    let store = Store::open(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    assert!(path.exists(), "file and parent directories are created");
    let Pool::Sqlite(pool) = store.pool() else {
        panic!("sqlite: URL opened {}", store.backend_name());
    };
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(fk, 1);
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(sync, 1, "NORMAL");
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(busy >= 5000);
}

#[tokio::test]
async fn sqlite_memory_store_works() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    assert_eq!(store.backend_name(), "sqlite");
    let run = store.begin_run("sync").await.unwrap();
    let got = store
        .stage_batch(SRC, run, &[rec("X", json!({"n": 1}))], Some("c"))
        .await
        .unwrap();
    assert_eq!(got.new, 1);
    assert_eq!(store.cursor(SRC).await.unwrap().as_deref(), Some("c"));
    // A second, separate memory store does not see the first one's data.
    let other = Store::open("sqlite::memory:").await.unwrap();
    assert_eq!(other.cursor(SRC).await.unwrap(), None);
}

#[tokio::test]
async fn large_batch_spans_lookup_chunks() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let run = store.begin_run("sync").await.unwrap();
    let batch: Vec<StageInput> = (0..1000)
        .map(|i| rec(&format!("K{i:05}"), json!({ "n": i })))
        .collect();
    assert_eq!(
        store.stage_batch(SRC, run, &batch, None).await.unwrap(),
        counts(1000, 0, 0)
    );
    let mut again = batch.clone();
    again[999] = rec("K00999", json!({"n": "changed"}));
    assert_eq!(
        store.stage_batch(SRC, run, &again, None).await.unwrap(),
        counts(0, 1, 999)
    );
}

#[tokio::test]
async fn unsupported_urls_are_refused_without_leaking_passwords() {
    let err = Store::open("mysql://yici:hunter2@db/yici")
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, StoreError::UnsupportedUrl { .. }));
    assert!(!message.contains("hunter2"), "{message}");
    assert!(message.contains("yici:***@db"), "{message}");

    // A refused connection names the URL, redacted.
    let err = Store::open("postgres://yici:hunter2@127.0.0.1:1/yici?connect_timeout=1")
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(!message.contains("hunter2"), "{message}");
    assert!(message.contains("cannot open store"), "{message}");
}
