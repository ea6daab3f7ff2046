//! The write side of the `sql` connector (`SqlTarget`) against real
//! PostgreSQL and MariaDB servers on 127.0.0.1 and SQLite files.
//!
//! Each case is written once as `async fn case(db: Db)`; `backend_cases!`
//! instantiates it as `postgres::case`, `mariadb::case` and `sqlite::case`.
//! A missing server skips the test loudly, or fails it under `CI=true`.
//! Rows are read back through the pull (`open_source`), so expected values
//! are exactly the text the planner stages.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::{Map, Value};
use sqlx::mysql::MySqlConnection;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};
use yici::config::document::parse;
use yici::config::Connector;
use yici::connector::sql::{ColumnWrite, Expect, SqlTarget, Suggestion, UpdateOutcome};
use yici::connector::{open_source, ConnectorError, PullRequest};

backend_cases!(
    fills_empty_columns_and_redelivery_is_already_done,
    department_edit_since_our_read_is_kept,
    expected_values_are_overwritten_compared_typed,
    missing_key_is_missing,
    composite_key_updates_one_row,
    unknown_columns_and_ambiguous_keys_are_config_errors,
    query_connector_cannot_be_written,
    suggestions_are_written_once,
    quotes_unicode_and_injection_stay_data,
    letter_case_edit_is_a_change,
    non_numbers_for_number_columns_are_refused,
);

// ---------------------------------------------------------------- fixture

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Postgres,
    MariaDb,
    Sqlite,
}

enum Admin {
    Pg(PgConnection),
    My(MySqlConnection),
    Lite(SqliteConnection),
}

#[allow(dead_code)] // held for their Drop
enum Guard {
    Pg(support::postgres::TestDb),
    My(support::mariadb::TestDb),
    Lite(tempfile::TempDir),
}

/// A throwaway database plus the department's own connection to it.
struct Db {
    backend: Backend,
    url: String,
    admin: Admin,
    _guard: Guard,
}

impl Db {
    async fn postgres() -> Option<Db> {
        let db = support::postgres::test_db().await?;
        let conn = PgConnection::connect(db.url()).await.expect("connect pg");
        Some(
            Db::with(
                Backend::Postgres,
                db.url().to_owned(),
                Admin::Pg(conn),
                Guard::Pg(db),
            )
            .await,
        )
    }

    async fn mariadb() -> Option<Db> {
        let db = support::mariadb::test_db().await?;
        let conn = db.connect().await;
        Some(
            Db::with(
                Backend::MariaDb,
                db.url().to_owned(),
                Admin::My(conn),
                Guard::My(db),
            )
            .await,
        )
    }

    async fn sqlite() -> Db {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("register.db");
        let conn = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .connect()
            .await
            .expect("create sqlite file");
        let url = format!("sqlite://{}", path.display());
        Db::with(Backend::Sqlite, url, Admin::Lite(conn), Guard::Lite(dir)).await
    }

    /// The database with the department's tables: `rk` (residents, BIGINT
    /// key) and `hj` (household members, composite key).
    async fn with(backend: Backend, url: String, admin: Admin, guard: Guard) -> Db {
        let mut db = Db {
            backend,
            url,
            admin,
            _guard: guard,
        };
        let (key, ts) = match backend {
            Backend::Postgres => ("BIGINT PRIMARY KEY", "TIMESTAMP"),
            Backend::MariaDb => ("BIGINT PRIMARY KEY", "DATETIME"),
            Backend::Sqlite => ("INTEGER PRIMARY KEY", "TEXT"),
        };
        db.exec(&format!(
            "CREATE TABLE rk (rkid {key}, xm VARCHAR(64) NOT NULL, sfzh VARCHAR(18), \
             lxdh VARCHAR(20), csrq DATE, nl INT, sg DECIMAL(5,2), bz TEXT, gxsj {ts})"
        ))
        .await;
        db.exec(
            "INSERT INTO rk (rkid, xm, sfzh, lxdh, csrq, nl, sg, bz, gxsj) VALUES \
             (1, '张三', NULL, NULL, NULL, 30, NULL, NULL, '2025-01-01 08:00:00'), \
             (2, '李四', '110101198502030012', NULL, '1985-02-03', 40, 170.50, '', '2025-01-01 08:00:00'), \
             (3, '王五', NULL, '13800000003', '1990-01-02', 25, 165.00, '\u{3000} ', '2025-01-02 09:30:00'), \
             (4, '重名', NULL, NULL, NULL, NULL, NULL, NULL, NULL), \
             (5, '重名', NULL, NULL, NULL, NULL, NULL, NULL, NULL), \
             (6, 'obrien', NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
        )
        .await;
        db.exec(
            "CREATE TABLE hj (hh VARCHAR(20) NOT NULL, xh INT NOT NULL, xm VARCHAR(64), \
             lxdh VARCHAR(20), PRIMARY KEY (hh, xh))",
        )
        .await;
        db.exec(
            "INSERT INTO hj (hh, xh, xm, lxdh) VALUES ('H1', 1, '赵一', NULL), \
             ('H1', 2, '赵二', NULL), ('H2', 2, '钱二', NULL)",
        )
        .await;
        db
    }

    /// Runs SQL as the department's application would.
    async fn exec(&mut self, sql: &str) {
        let result = match &mut self.admin {
            Admin::Pg(c) => sqlx::raw_sql(sql).execute(c).await.map(|_| ()),
            Admin::My(c) => sqlx::raw_sql(sql).execute(c).await.map(|_| ()),
            Admin::Lite(c) => sqlx::raw_sql(sql).execute(c).await.map(|_| ()),
        };
        result.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// A connector for this database from TOML lines under `[sql]`.
    fn connector(&self, sql_section: &str) -> Connector {
        let text = format!(
            "department = \"governance\"\nkind = \"sql\"\n[sql]\nurl = \"${{DB_URL}}\"\n{sql_section}\n"
        );
        let env: HashMap<String, String> = [("DB_URL".to_owned(), self.url.clone())].into();
        let doc = parse(Path::new("connectors/test.toml"), &text).expect("connector TOML parses");
        Connector::resolve("test", doc, Path::new("/"), &env)
            .unwrap_or_else(|e| panic!("connector resolves: {e:?}"))
    }

    fn residents(&self) -> Connector {
        self.connector("table = \"rk\"\nkey = \"rkid\"")
    }

    fn households(&self) -> Connector {
        self.connector("table = \"hj\"\nkey = [\"hh\", \"xh\"]")
    }

    async fn target(&self, connector: &Connector) -> SqlTarget {
        SqlTarget::open(connector)
            .await
            .unwrap_or_else(|e| panic!("open target ({:?}): {e}", self.backend))
    }
}

// ---------------------------------------------------------------- helpers

type Rows = BTreeMap<String, Map<String, Value>>;

/// Every row of the connector's table as the pull reads it, by key
/// (key values joined with `|`).
async fn pull(connector: &Connector, key: &[&str]) -> Rows {
    let mut source = open_source(connector, PullRequest::default())
        .await
        .unwrap_or_else(|e| panic!("open source: {e}"));
    let mut rows = BTreeMap::new();
    while let Some(batch) = source.next_batch().await.expect("next batch") {
        assert!(batch.problems.is_empty(), "{:?}", batch.problems);
        for record in batch.records {
            let id = key
                .iter()
                .map(|k| text(&record.fields[*k]).unwrap_or_default())
                .collect::<Vec<_>>()
                .join("|");
            rows.insert(id, record.fields);
        }
    }
    rows
}

async fn residents(db: &Db) -> Rows {
    pull(&db.residents(), &["rkid"]).await
}

/// A pulled value as the planner stages it: NULL → None, numbers as text.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn cell(rows: &Rows, id: &str, column: &str) -> Option<String> {
    text(&rows[id][column])
}

fn key(id: &str) -> Vec<(String, String)> {
    vec![("rkid".to_owned(), id.to_owned())]
}

fn fill(column: &str, new: &str) -> ColumnWrite {
    ColumnWrite {
        column: column.to_owned(),
        new: new.to_owned(),
        expect: Expect::Empty,
    }
}

fn overwrite(column: &str, expected: &str, new: &str) -> ColumnWrite {
    ColumnWrite {
        column: column.to_owned(),
        new: new.to_owned(),
        expect: Expect::Value(expected.to_owned()),
    }
}

/// What we staged for `column` of row `id`: the guard's expectation.
fn staged(rows: &Rows, id: &str, column: &str, new: &str) -> ColumnWrite {
    ColumnWrite {
        column: column.to_owned(),
        new: new.to_owned(),
        expect: cell(rows, id, column)
            .filter(|v| !v.trim().is_empty())
            .map_or(Expect::Empty, Expect::Value),
    }
}

async fn update(
    target: &mut SqlTarget,
    key: &[(String, String)],
    set: &[ColumnWrite],
) -> UpdateOutcome {
    target
        .update(key, set)
        .await
        .unwrap_or_else(|e| panic!("update {key:?}: {e}"))
}

fn config_error<T: std::fmt::Debug>(result: Result<T, ConnectorError>) -> String {
    match result {
        Err(ConnectorError::Config(msg)) => msg,
        other => panic!("expected a Config error, got {other:?}"),
    }
}

// ------------------------------------------------------------------ cases

async fn fills_empty_columns_and_redelivery_is_already_done(db: Db) {
    let mut target = db.target(&db.residents()).await;
    let set = [
        fill("lxdh", "13812345678"),
        fill("csrq", "1990-05-17"),
        fill("bz", "已核实"),
    ];
    assert_eq!(
        update(&mut target, &key("1"), &set).await,
        UpdateOutcome::Applied
    );
    let after = residents(&db).await;
    assert_eq!(cell(&after, "1", "lxdh").as_deref(), Some("13812345678"));
    assert_eq!(cell(&after, "1", "csrq").as_deref(), Some("1990-05-17"));
    assert_eq!(cell(&after, "1", "bz").as_deref(), Some("已核实"));
    assert_eq!(cell(&after, "1", "xm").as_deref(), Some("张三"));

    // The same outbox row delivered again: nothing to do, nothing changed.
    assert_eq!(
        update(&mut target, &key("1"), &set).await,
        UpdateOutcome::AlreadyDone
    );
    assert_eq!(residents(&db).await, after);

    // Blank text is empty too: '' (row 2) and an ideographic space (row 3).
    for id in ["2", "3"] {
        assert_eq!(
            update(&mut target, &key(id), &[fill("bz", "补录")]).await,
            UpdateOutcome::Applied,
            "row {id}"
        );
    }
    let after = residents(&db).await;
    assert_eq!(cell(&after, "2", "bz").as_deref(), Some("补录"));
    assert_eq!(cell(&after, "3", "bz").as_deref(), Some("补录"));
    // Nothing else moved.
    assert_eq!(cell(&after, "4", "bz"), None);

    // No columns at all: nothing to do for an existing row.
    assert_eq!(
        update(&mut target, &key("2"), &[]).await,
        UpdateOutcome::AlreadyDone
    );
}

async fn department_edit_since_our_read_is_kept(mut db: Db) {
    let mut target = db.target(&db.residents()).await;
    let ours = residents(&db).await;

    // After our pull the department fills the phone itself.
    db.exec("UPDATE rk SET lxdh = '13900000002' WHERE rkid = 2")
        .await;
    let outcome = update(
        &mut target,
        &key("2"),
        &[staged(&ours, "2", "lxdh", "13812345678")],
    )
    .await;
    assert_eq!(
        outcome,
        UpdateOutcome::Changed {
            column: "lxdh".into(),
            found: Some("13900000002".into())
        }
    );

    // ... and corrects a name we meant to overwrite; the other column of
    // the same update (still as we read it) is not written either.
    db.exec("UPDATE rk SET xm = '王五五' WHERE rkid = 3").await;
    let outcome = update(
        &mut target,
        &key("3"),
        &[
            staged(&ours, "3", "nl", "26"),
            staged(&ours, "3", "xm", "王伍"),
        ],
    )
    .await;
    assert_eq!(
        outcome,
        UpdateOutcome::Changed {
            column: "xm".into(),
            found: Some("王五五".into())
        }
    );
    let after = residents(&db).await;
    assert_eq!(cell(&after, "2", "lxdh").as_deref(), Some("13900000002"));
    assert_eq!(cell(&after, "3", "xm").as_deref(), Some("王五五"));
    assert_eq!(cell(&after, "3", "nl").as_deref(), Some("25"));

    // A value cleared by the department is a change too.
    db.exec("UPDATE rk SET csrq = NULL WHERE rkid = 3").await;
    let outcome = update(
        &mut target,
        &key("3"),
        &[staged(&ours, "3", "csrq", "1990-01-03")],
    )
    .await;
    assert_eq!(
        outcome,
        UpdateOutcome::Changed {
            column: "csrq".into(),
            found: None
        }
    );
}

async fn expected_values_are_overwritten_compared_typed(mut db: Db) {
    let mut target = db.target(&db.residents()).await;
    let ours = residents(&db).await;
    // Expected values are the pull's text: 25 (an INT), 165 (DECIMAL
    // 165.00), 1990-01-02 (a DATE), 2025-01-02 09:30:00 (a timestamp).
    assert_eq!(cell(&ours, "3", "sg").as_deref(), Some("165"));
    let set = [
        staged(&ours, "3", "xm", "王伍"),
        staged(&ours, "3", "csrq", "1990-01-03"),
        staged(&ours, "3", "nl", "26"),
        staged(&ours, "3", "sg", "171.25"),
        staged(&ours, "3", "gxsj", "2025-03-04 05:06:07"),
    ];
    assert_eq!(
        update(&mut target, &key("3"), &set).await,
        UpdateOutcome::Applied
    );
    let after = residents(&db).await;
    for (column, value) in [
        ("xm", "王伍"),
        ("csrq", "1990-01-03"),
        ("nl", "26"),
        ("sg", "171.25"),
        ("gxsj", "2025-03-04 05:06:07"),
    ] {
        assert_eq!(
            cell(&after, "3", column).as_deref(),
            Some(value),
            "{column}"
        );
    }
    assert_eq!(
        update(&mut target, &key("3"), &set).await,
        UpdateOutcome::AlreadyDone
    );

    // Numbers compare as numbers: 171.250 is what the column holds.
    assert_eq!(
        update(
            &mut target,
            &key("3"),
            &[overwrite("sg", "171.25", "171.250")]
        )
        .await,
        UpdateOutcome::AlreadyDone
    );

    // The department already typed one of our values: the rest is applied.
    db.exec("UPDATE rk SET nl = 41 WHERE rkid = 2").await;
    let outcome = update(
        &mut target,
        &key("2"),
        &[
            staged(&ours, "2", "nl", "41"),
            staged(&ours, "2", "sg", "172"),
        ],
    )
    .await;
    assert_eq!(outcome, UpdateOutcome::Applied);
    let after = residents(&db).await;
    assert_eq!(cell(&after, "2", "nl").as_deref(), Some("41"));
    assert_eq!(cell(&after, "2", "sg").as_deref(), Some("172"));
}

async fn missing_key_is_missing(mut db: Db) {
    let mut target = db.target(&db.residents()).await;
    let before = residents(&db).await;
    for id in ["999", "abc", "1 OR 1=1", "-1"] {
        assert_eq!(
            update(&mut target, &key(id), &[fill("lxdh", "13812345678")]).await,
            UpdateOutcome::Missing,
            "key {id:?}"
        );
    }
    // Deleted at the source since our pull.
    db.exec("DELETE FROM rk WHERE rkid = 1").await;
    assert_eq!(
        update(&mut target, &key("1"), &[fill("lxdh", "13812345678")]).await,
        UpdateOutcome::Missing
    );
    let mut expected = before;
    expected.remove("1");
    assert_eq!(residents(&db).await, expected);
}

async fn composite_key_updates_one_row(db: Db) {
    let connector = db.households();
    let mut target = db.target(&connector).await;
    let household = |hh: &str, xh: &str| {
        vec![
            ("hh".to_owned(), hh.to_owned()),
            ("xh".to_owned(), xh.to_owned()),
        ]
    };
    assert_eq!(
        update(
            &mut target,
            &household("H1", "2"),
            &[fill("lxdh", "13812340002")]
        )
        .await,
        UpdateOutcome::Applied
    );
    let rows = pull(&connector, &["hh", "xh"]).await;
    assert_eq!(cell(&rows, "H1|2", "lxdh").as_deref(), Some("13812340002"));
    assert_eq!(cell(&rows, "H1|1", "lxdh"), None);
    assert_eq!(cell(&rows, "H2|2", "lxdh"), None);
    assert_eq!(
        update(
            &mut target,
            &household("H1", "3"),
            &[fill("lxdh", "13812340003")]
        )
        .await,
        UpdateOutcome::Missing
    );
    // The key's columns in another order name the same row.
    let reversed = vec![
        ("xh".to_owned(), "2".to_owned()),
        ("hh".to_owned(), "H1".to_owned()),
    ];
    assert_eq!(
        update(&mut target, &reversed, &[fill("lxdh", "13812340002")]).await,
        UpdateOutcome::AlreadyDone
    );
}

async fn unknown_columns_and_ambiguous_keys_are_config_errors(db: Db) {
    let mut target = db.target(&db.residents()).await;
    let before = residents(&db).await;

    let msg = config_error(target.update(&key("1"), &[fill("dianhua", "1")]).await);
    assert!(msg.contains("`dianhua`"), "{msg}");
    assert!(msg.contains("connector `test`"), "{msg}");
    let wrong_key = vec![("bianhao".to_owned(), "1".to_owned())];
    let msg = config_error(target.update(&wrong_key, &[fill("lxdh", "1")]).await);
    assert!(msg.contains("`bianhao`"), "{msg}");
    let msg = config_error(
        target
            .update(&key("1"), &[fill("rk; DROP TABLE rk", "1")])
            .await,
    );
    assert!(msg.contains("not a plain SQL identifier"), "{msg}");
    let msg = config_error(target.update(&key("1"), &[fill("rkid", "7")]).await);
    assert!(msg.contains("part of the key"), "{msg}");

    // A "key" that matches two rows writes nothing.
    let by_name = vec![("xm".to_owned(), "重名".to_owned())];
    let msg = config_error(
        target
            .update(&by_name, &[fill("lxdh", "13812345678")])
            .await,
    );
    assert!(msg.contains("matches 2 rows"), "{msg}");
    assert_eq!(residents(&db).await, before);

    // The target stays usable after refused requests.
    assert_eq!(
        update(&mut target, &key("1"), &[fill("lxdh", "13812345678")]).await,
        UpdateOutcome::Applied
    );
}

async fn query_connector_cannot_be_written(db: Db) {
    let connector = db.connector("query = \"SELECT * FROM rk\"\nkey = \"rkid\"");
    let msg = config_error(SqlTarget::open(&connector).await);
    assert!(msg.contains("connector `test`"), "{msg}");
    assert!(msg.contains("query"), "{msg}");
}

async fn suggestions_are_written_once(db: Db) {
    let mut target = db.target(&db.residents()).await;
    let suggestion = Suggestion {
        outbox_id: 42,
        record_key: "governance:3".into(),
        field: "name".into(),
        column: "xm".into(),
        current: Some("王五".into()),
        suggested: "王伍".into(),
        source: "civil_affairs:A-17".into(),
        reason: "golden value (suggest); O'Brien's rule".into(),
    };
    assert!(target
        .suggest("yici_suggestion", &suggestion)
        .await
        .unwrap());
    assert!(!target
        .suggest("yici_suggestion", &suggestion)
        .await
        .unwrap());
    // A second target (a later run) finds the table and the row.
    let mut again = db.target(&db.residents()).await;
    assert!(!again.suggest("yici_suggestion", &suggestion).await.unwrap());
    // The same outbox row suggesting another column of the record.
    let phone = Suggestion {
        column: "lxdh".into(),
        field: "phones".into(),
        current: None,
        suggested: "13812345678".into(),
        ..suggestion.clone()
    };
    assert!(again.suggest("yici_suggestion", &phone).await.unwrap());

    let rows = pull(
        &db.connector("table = \"yici_suggestion\"\nkey = \"id\""),
        &["column_name"],
    )
    .await;
    assert_eq!(rows.len(), 2);
    let row = &rows["xm"];
    for (column, value) in [
        ("outbox_id", "42"),
        ("record_key", "governance:3"),
        ("field", "name"),
        ("current_value", "王五"),
        ("suggested_value", "王伍"),
        ("source", "civil_affairs:A-17"),
        ("reason", "golden value (suggest); O'Brien's rule"),
    ] {
        assert_eq!(text(&row[column]).as_deref(), Some(value), "{column}");
    }
    assert!(text(&row["created_at"]).is_some_and(|t| t.len() >= 19));
    assert_eq!(text(&rows["lxdh"]["current_value"]), None);

    // A suggestion about a column the table does not have is refused.
    let ghost = Suggestion {
        column: "dianhua".into(),
        ..suggestion
    };
    let msg = config_error(target.suggest("yici_suggestion", &ghost).await);
    assert!(msg.contains("`dianhua`"), "{msg}");
    let msg = config_error(target.suggest("s; DROP TABLE rk", &phone).await);
    assert!(msg.contains("not a plain SQL identifier"), "{msg}");
}

async fn quotes_unicode_and_injection_stay_data(db: Db) {
    let mut target = db.target(&db.residents()).await;
    let ours = residents(&db).await;
    let injection = "x'); DROP TABLE rk; --";
    let quoted = "张伟 \"引号\" \\ 反斜杠 ` 反引号";
    let set = [
        staged(&ours, "1", "xm", "O'Brien"),
        fill("bz", injection),
        fill("sfzh", "11010119900101001X"),
        fill("lxdh", quoted),
    ];
    assert_eq!(
        update(&mut target, &key("1"), &set).await,
        UpdateOutcome::Applied
    );
    let after = residents(&db).await;
    assert_eq!(after.len(), ours.len(), "the table is intact");
    assert_eq!(cell(&after, "1", "xm").as_deref(), Some("O'Brien"));
    assert_eq!(cell(&after, "1", "bz").as_deref(), Some(injection));
    assert_eq!(cell(&after, "1", "lxdh").as_deref(), Some(quoted));
    assert_eq!(
        update(&mut target, &key("1"), &set).await,
        UpdateOutcome::AlreadyDone
    );

    // Injection in expected values and keys matches nothing.
    let outcome = update(
        &mut target,
        &key("2"),
        &[overwrite("xm", "' OR '1'='1", "黑客")],
    )
    .await;
    assert_eq!(
        outcome,
        UpdateOutcome::Changed {
            column: "xm".into(),
            found: Some("李四".into())
        }
    );
    let household = vec![
        ("hh".to_owned(), "H1' OR '1'='1".to_owned()),
        ("xh".to_owned(), "1".to_owned()),
    ];
    let mut households = db.target(&db.households()).await;
    assert_eq!(
        update(&mut households, &household, &[fill("lxdh", "1")]).await,
        UpdateOutcome::Missing
    );
    assert_eq!(residents(&db).await, after);

    // Overwriting the quoted values with their own kind works too.
    let now = residents(&db).await;
    assert_eq!(
        update(
            &mut target,
            &key("1"),
            &[
                staged(&now, "1", "xm", "张伟"),
                staged(&now, "1", "bz", "O'Brien")
            ]
        )
        .await,
        UpdateOutcome::Applied
    );
    let after = residents(&db).await;
    assert_eq!(cell(&after, "1", "xm").as_deref(), Some("张伟"));
    assert_eq!(cell(&after, "1", "bz").as_deref(), Some("O'Brien"));
}

/// MariaDB's default collations ignore letter case; a department's edit of
/// case alone must still stop our write.
async fn letter_case_edit_is_a_change(mut db: Db) {
    let mut target = db.target(&db.residents()).await;
    let ours = residents(&db).await;
    db.exec("UPDATE rk SET xm = 'OBRIEN' WHERE rkid = 6").await;
    let outcome = update(
        &mut target,
        &key("6"),
        &[staged(&ours, "6", "xm", "O'Brien")],
    )
    .await;
    assert_eq!(
        outcome,
        UpdateOutcome::Changed {
            column: "xm".into(),
            found: Some("OBRIEN".into())
        }
    );
    // And our value differing from theirs only by case is not "done".
    let outcome = update(
        &mut target,
        &key("6"),
        &[overwrite("xm", "OBRIEN", "obrien")],
    )
    .await;
    assert_eq!(outcome, UpdateOutcome::Applied);
    assert_eq!(
        cell(&residents(&db).await, "6", "xm").as_deref(),
        Some("obrien")
    );
}

async fn non_numbers_for_number_columns_are_refused(db: Db) {
    let mut target = db.target(&db.residents()).await;
    let before = residents(&db).await;
    for (column, value) in [("nl", "男"), ("nl", "12abc"), ("nl", "1.5"), ("sg", "1,5")] {
        match target.update(&key("1"), &[fill(column, value)]).await {
            Err(ConnectorError::Data(msg)) => {
                assert!(msg.contains(&format!("`{column}`")), "{msg}");
                assert!(!msg.contains(value), "values stay out of messages: {msg}");
            }
            other => panic!("{column} = {value:?}: expected a Data error, got {other:?}"),
        }
    }
    assert_eq!(residents(&db).await, before);
}

// -------------------------------------------------- backend-specific cases

/// A value the database itself refuses (too long for VARCHAR(18)) is a
/// Data error naming the column, and nothing is written.
#[tokio::test]
async fn postgres_refused_value_is_a_data_error() {
    let Some(db) = Db::postgres().await else {
        return;
    };
    refused_value_is_a_data_error(db).await;
}

#[tokio::test]
async fn mariadb_refused_value_is_a_data_error() {
    let Some(db) = Db::mariadb().await else {
        return;
    };
    refused_value_is_a_data_error(db).await;
}

async fn refused_value_is_a_data_error(db: Db) {
    let mut target = db.target(&db.residents()).await;
    let before = residents(&db).await;
    let long = "1101011990010100121234";
    match target
        .update(
            &key("1"),
            &[fill("sfzh", long), fill("lxdh", "13812345678")],
        )
        .await
    {
        Err(ConnectorError::Data(msg)) => {
            assert!(msg.contains("sfzh"), "{msg}");
            assert!(!msg.contains(long), "values stay out of messages: {msg}");
        }
        other => panic!("expected a Data error, got {other:?}"),
    }
    assert_eq!(residents(&db).await, before);
}

/// MariaDB zero dates read as NULL, so fill-missing fills them.
#[tokio::test]
async fn mariadb_zero_date_is_empty() {
    let Some(mut db) = Db::mariadb().await else {
        return;
    };
    db.exec("SET SESSION sql_mode = ''").await;
    db.exec("UPDATE rk SET csrq = '0000-00-00' WHERE rkid = 1")
        .await;
    let ours = residents(&db).await;
    assert_eq!(cell(&ours, "1", "csrq"), None);
    let mut target = db.target(&db.residents()).await;
    assert_eq!(
        update(
            &mut target,
            &key("1"),
            &[staged(&ours, "1", "csrq", "1990-05-17")]
        )
        .await,
        UpdateOutcome::Applied
    );
    assert_eq!(
        cell(&residents(&db).await, "1", "csrq").as_deref(),
        Some("1990-05-17")
    );
}
