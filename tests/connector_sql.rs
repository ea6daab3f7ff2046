//! The `sql` connector against real PostgreSQL and MariaDB servers on
//! 127.0.0.1 and SQLite files, driven through `yici::connector::open_source`.
//!
//! Each case is written once as `async fn case(db: Db)`; `backend_cases!`
//! instantiates it as `postgres::case`, `mariadb::case` and `sqlite::case`.
//! A missing server skips the test loudly, or fails it under `CI=true`.

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use serde_json::{json, Value};
use sqlx::mysql::MySqlConnection;
use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection, Database};
use yici::config::document::parse;
use yici::config::Connector;
use yici::connector::{open_source, Batch, ConnectorError, PullMode, PullRequest};
use yici::demo::governance::RkxxRow;
use yici::demo::{generate_population, records, DemoOptions, Department};

backend_cases!(
    sample_district_full_then_incremental_then_deletions,
    batches_are_ordered_by_cursor,
    interrupted_pull_resumes_without_loss,
    query_source_with_composite_key_and_integer_cursor,
    reserved_word_identifiers_are_quoted,
    missing_table_is_a_config_error_naming_it,
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

/// A throwaway database plus a read-write connection to set it up.
struct Db {
    backend: Backend,
    url: String,
    admin: Admin,
    _guard: Guard,
}

/// A value inserted by the tests.
#[derive(Debug, Clone)]
enum Val {
    Int(i64),
    Text(Option<String>),
    /// A timestamp, given as `YYYY-MM-DD HH:MM:SS`.
    Ts(String),
}

impl Db {
    async fn postgres() -> Option<Db> {
        let db = support::postgres::test_db().await?;
        let conn = PgConnection::connect(db.url()).await.expect("connect pg");
        Some(Db {
            backend: Backend::Postgres,
            url: db.url().to_owned(),
            admin: Admin::Pg(conn),
            _guard: Guard::Pg(db),
        })
    }

    async fn mariadb() -> Option<Db> {
        let db = support::mariadb::test_db().await?;
        let conn = db.connect().await;
        Some(Db {
            backend: Backend::MariaDb,
            url: db.url().to_owned(),
            admin: Admin::My(conn),
            _guard: Guard::My(db),
        })
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
        Db {
            backend: Backend::Sqlite,
            url: format!("sqlite://{}", path.display()),
            admin: Admin::Lite(conn),
            _guard: Guard::Lite(dir),
        }
    }

    /// Column type of a timestamp column on this backend.
    fn ts_type(&self) -> &'static str {
        match self.backend {
            Backend::Postgres => "TIMESTAMP",
            Backend::MariaDb => "DATETIME",
            Backend::Sqlite => "TEXT",
        }
    }

    /// Column type of an indexable text column.
    fn key_text(&self) -> &'static str {
        match self.backend {
            Backend::MariaDb => "VARCHAR(64)",
            _ => "TEXT",
        }
    }

    fn quote(&self, name: &str) -> String {
        match self.backend {
            Backend::MariaDb => format!("`{name}`"),
            _ => format!("\"{name}\""),
        }
    }

    async fn exec(&mut self, sql: &str) {
        let result = match &mut self.admin {
            Admin::Pg(c) => sqlx::raw_sql(sql).execute(c).await.map(|_| ()),
            Admin::My(c) => sqlx::raw_sql(sql).execute(c).await.map(|_| ()),
            Admin::Lite(c) => sqlx::raw_sql(sql).execute(c).await.map(|_| ()),
        };
        result.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Inserts `rows` into `table` (quoted), 200 rows per statement.
    async fn insert(&mut self, table: &str, columns: &[&str], rows: &[Vec<Val>]) {
        let cols = columns
            .iter()
            .map(|c| self.quote(c))
            .collect::<Vec<_>>()
            .join(", ");
        for chunk in rows.chunks(200) {
            let mut sql = format!("INSERT INTO {} ({cols}) VALUES ", self.quote(table));
            let mut n = 0;
            for (r, row) in chunk.iter().enumerate() {
                sql.push_str(if r == 0 { "(" } else { ", (" });
                for (i, v) in row.iter().enumerate() {
                    n += 1;
                    let p = match self.backend {
                        Backend::Postgres => format!("${n}"),
                        _ => "?".to_owned(),
                    };
                    let p = match (self.backend, v) {
                        (Backend::Postgres, Val::Ts(_)) => format!("CAST({p} AS TIMESTAMP)"),
                        _ => p,
                    };
                    if i > 0 {
                        sql.push_str(", ");
                    }
                    sql.push_str(&p);
                }
                sql.push(')');
            }
            let result = match &mut self.admin {
                Admin::Pg(c) => bind(sqlx::query(&sql), chunk).execute(c).await.map(|_| ()),
                Admin::My(c) => bind(sqlx::query(&sql), chunk).execute(c).await.map(|_| ()),
                Admin::Lite(c) => bind(sqlx::query(&sql), chunk).execute(c).await.map(|_| ()),
            };
            result.unwrap_or_else(|e| panic!("insert into {table}: {e}"));
        }
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
}

fn bind<'q, DB>(
    mut query: sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>>,
    rows: &'q [Vec<Val>],
) -> sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>>
where
    DB: Database,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    for v in rows.iter().flatten() {
        query = match v {
            Val::Int(i) => query.bind(*i),
            Val::Text(s) => query.bind(s.as_deref()),
            Val::Ts(s) => query.bind(s.as_str()),
        };
    }
    query
}

// ------------------------------------------------------------ pulling

/// Everything one pull delivered.
struct Pulled {
    mode: PullMode,
    batches: Vec<Batch>,
}

impl Pulled {
    /// The last cursor any batch carried (what the caller would have committed).
    fn cursor(&self) -> Option<String> {
        self.batches.iter().rev().find_map(|b| b.cursor.clone())
    }

    fn rows(&self) -> impl Iterator<Item = &serde_json::Map<String, Value>> {
        self.batches
            .iter()
            .flat_map(|b| b.records.iter().map(|r| &r.fields))
    }

    fn count(&self) -> usize {
        self.batches.iter().map(|b| b.records.len()).sum()
    }

    fn problems(&self) -> usize {
        self.batches.iter().map(|b| b.problems.len()).sum()
    }

    /// The `column` value of every row, as text, in delivery order.
    fn keys(&self, column: &str) -> Vec<String> {
        self.rows().map(|r| text(&r[column])).collect()
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

async fn pull(connector: &Connector, cursor: Option<String>, full: bool) -> Pulled {
    let mut source = open_source(connector, PullRequest { cursor, full })
        .await
        .unwrap_or_else(|e| panic!("open {}: {e}", connector.name));
    let mode = source.mode();
    let mut batches = Vec::new();
    while let Some(batch) = source.next_batch().await.expect("next batch") {
        batches.push(batch);
    }
    Pulled { mode, batches }
}

// ------------------------------------------------------------ data

const RKXX: [&str; 16] = yici::demo::governance::COLUMNS;

async fn create_rkxx(db: &mut Db, table: &str) {
    let t = db.key_text();
    let ts = db.ts_type();
    let sql = format!(
        "CREATE TABLE {} (rkid BIGINT PRIMARY KEY, xm {t}, xb {t}, sfzh {t}, csrq {t}, mz {t}, \
         lxdh {t}, hjdz TEXT, xzz TEXT, rylx {t}, hh {t}, yhzgx {t}, wgbm {t}, sqmc {t}, \
         sfsw INTEGER, gxsj {ts})",
        db.quote(table)
    );
    db.exec(&sql).await;
    db.exec(&format!(
        "CREATE INDEX idx_{table}_gxsj ON {} (gxsj)",
        db.quote(table)
    ))
    .await;
}

/// The sample district's governance register as rows of `rkxx`, as the
/// demo writes them.
fn sample_rows() -> Vec<Vec<Val>> {
    let population = generate_population(&DemoOptions::default());
    records(&population, Department::Governance)
        .map(|r| {
            let row = RkxxRow::of(&r);
            let text = |v: &str| Val::Text(Some(v.to_owned()));
            vec![
                Val::Int(row.rkid),
                Val::Text(Some(row.xm)),
                text(row.xb),
                Val::Text(row.sfzh),
                Val::Text(Some(row.csrq)),
                Val::Text(row.mz.map(str::to_owned)),
                Val::Text(row.lxdh),
                Val::Text(row.hjdz),
                Val::Text(row.xzz),
                text(row.rylx),
                Val::Text(Some(row.hh)),
                text(row.yhzgx),
                Val::Text(Some(row.wgbm)),
                text(row.sqmc),
                Val::Int(row.sfsw),
                Val::Ts(row.gxsj),
            ]
        })
        .collect()
}

/// A synthetic `rkxx` row whose gxsj is `base + second` seconds.
fn synthetic_row(rkid: i64, second: i64) -> Vec<Val> {
    let mut row = vec![Val::Int(rkid)];
    row.extend((0..13).map(|i| Val::Text(Some(format!("v{rkid}_{i}")))));
    row.push(Val::Int(0));
    row.push(Val::Ts(ts(second)));
    row
}

fn ts(second: i64) -> String {
    let base: NaiveDateTime = NaiveDate::from_ymd_opt(2025, 1, 1)
        .unwrap()
        .and_hms_opt(8, 0, 0)
        .unwrap();
    (base + Duration::seconds(second))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn as_int(v: &Val) -> i64 {
    match v {
        Val::Int(i) => *i,
        other => panic!("not an int: {other:?}"),
    }
}

fn as_ts(v: &Val) -> String {
    match v {
        Val::Ts(s) => s.clone(),
        other => panic!("not a timestamp: {other:?}"),
    }
}

const RKXX_SECTION: &str = "table = \"rkxx\"\nkey = \"rkid\"\ncursor = \"gxsj\"\n";

// ------------------------------------------------------------ cases

async fn sample_district_full_then_incremental_then_deletions(mut db: Db) {
    create_rkxx(&mut db, "rkxx").await;
    let rows = sample_rows();
    assert!(
        rows.len() > 1000,
        "sample has {} governance rows",
        rows.len()
    );
    db.insert("rkxx", &RKXX, &rows).await;
    // The source as the test believes it to be: rkid → gxsj.
    let mut model: BTreeMap<i64, String> = rows
        .iter()
        .map(|r| (as_int(&r[0]), as_ts(&r[15])))
        .collect();
    let connector = db.connector(&format!("{RKXX_SECTION}batch_size = 500"));

    // 1. First pull: everything, as a snapshot carrying the max cursor.
    let first = pull(&connector, None, false).await;
    assert_eq!(first.mode, PullMode::Snapshot);
    assert_eq!(first.count(), rows.len());
    assert_eq!(first.problems(), 0);
    let keys: Vec<i64> = first
        .keys("rkid")
        .iter()
        .map(|k| k.parse().unwrap())
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "full pull in key order"
    );
    assert_eq!(keys.len(), model.len());
    let max = model.values().max().unwrap().clone();
    assert_eq!(first.cursor(), Some(max.clone()));
    // Only the last batch of a full pull commits a cursor.
    assert!(first.batches[..first.batches.len() - 1]
        .iter()
        .all(|b| b.cursor.is_none()));
    // Values are typed per column.
    let row = first.rows().next().unwrap();
    let original = &rows.iter().find(|r| as_int(&r[0]) == keys[0]).unwrap();
    assert_eq!(row["rkid"], json!(keys[0]));
    assert_eq!(row["sfsw"], json!(as_int(&original[14])));
    assert_eq!(row["gxsj"], json!(as_ts(&original[15])));
    if let Val::Text(Some(name)) = &original[1] {
        assert_eq!(row["xm"], json!(name));
    }
    assert_eq!(row.len(), RKXX.len());

    // 2. Between runs: new rows, updates, rows sharing the last cursor value.
    let later = |s: i64| {
        let t = NaiveDateTime::parse_from_str(&max, "%Y-%m-%d %H:%M:%S").unwrap();
        (t + Duration::seconds(s))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    };
    let new: Vec<Vec<Val>> = (0..5)
        .map(|i| {
            let mut r = synthetic_row(9_000_000 + i, 0);
            r[15] = Val::Ts(later(10 + i));
            r
        })
        .collect();
    let same: Vec<Vec<Val>> = (0..3)
        .map(|i| {
            let mut r = synthetic_row(9_100_000 + i, 0);
            r[15] = Val::Ts(max.clone());
            r
        })
        .collect();
    db.insert("rkxx", &RKXX, &new).await;
    db.insert("rkxx", &RKXX, &same).await;
    for r in new.iter().chain(&same) {
        model.insert(as_int(&r[0]), as_ts(&r[15]));
    }
    let updated: Vec<i64> = model.keys().copied().step_by(97).take(4).collect();
    for (i, k) in updated.iter().enumerate() {
        let when = later(100 + i as i64);
        let set = match db.backend {
            Backend::Postgres => format!("CAST('{when}' AS TIMESTAMP)"),
            _ => format!("'{when}'"),
        };
        db.exec(&format!(
            "UPDATE rkxx SET gxsj = {set}, xzz = 'moved' WHERE rkid = {k}"
        ))
        .await;
        model.insert(*k, when);
    }

    let second = pull(&connector, Some(max.clone()), false).await;
    assert_eq!(second.mode, PullMode::Incremental);
    let got: BTreeSet<i64> = second
        .keys("rkid")
        .iter()
        .map(|k| k.parse().unwrap())
        .collect();
    let expected: BTreeSet<i64> = model
        .iter()
        .filter(|(_, t)| **t >= max)
        .map(|(k, _)| *k)
        .collect();
    assert_eq!(
        got, expected,
        "exactly the new, changed and same-cursor rows"
    );
    assert_eq!(second.count(), expected.len(), "no row twice");
    for r in &same {
        assert!(got.contains(&as_int(&r[0])), "same-cursor row kept");
    }
    let cursors: Vec<String> = second.keys("gxsj");
    assert!(cursors.windows(2).all(|w| w[0] <= w[1]), "cursor order");
    let newest = model.values().max().unwrap().clone();
    assert_eq!(second.cursor(), Some(newest.clone()));
    for row in second.rows() {
        if updated.contains(&row["rkid"].as_i64().unwrap()) {
            assert_eq!(row["xzz"], json!("moved"));
        }
    }

    // 3. Nothing changed: only the rows at the last cursor value come back.
    let third = pull(&connector, Some(newest.clone()), false).await;
    assert_eq!(third.mode, PullMode::Incremental);
    let at_newest = model.values().filter(|t| **t == newest).count();
    assert_eq!(third.count(), at_newest);

    // 4. Deletions: a full refresh no longer delivers the deleted keys.
    let deleted: Vec<i64> = model.keys().copied().skip(5).step_by(113).take(6).collect();
    let list = deleted
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    db.exec(&format!("DELETE FROM rkxx WHERE rkid IN ({list})"))
        .await;
    for k in &deleted {
        model.remove(k);
    }
    let fourth = pull(&connector, Some(newest.clone()), true).await;
    assert_eq!(fourth.mode, PullMode::Snapshot);
    let got: BTreeSet<i64> = fourth
        .keys("rkid")
        .iter()
        .map(|k| k.parse().unwrap())
        .collect();
    assert_eq!(got, model.keys().copied().collect::<BTreeSet<_>>());
    assert!(deleted.iter().all(|k| !got.contains(k)));
    assert_eq!(fourth.cursor(), Some(newest));
}

async fn batches_are_ordered_by_cursor(mut db: Db) {
    create_rkxx(&mut db, "rkxx").await;
    // Three rows per second, so equal cursor values straddle batch boundaries.
    let rows: Vec<Vec<Val>> = (1..=1000).map(|i| synthetic_row(i, i / 3)).collect();
    db.insert("rkxx", &RKXX, &rows).await;
    let connector = db.connector(&format!("{RKXX_SECTION}batch_size = 100"));

    let pulled = pull(&connector, Some(ts(-1)), false).await;
    assert_eq!(pulled.mode, PullMode::Incremental);
    assert_eq!(pulled.batches.len(), 10);
    let mut previous = String::new();
    for batch in &pulled.batches {
        assert_eq!(batch.records.len(), 100);
        let cursor = batch.cursor.clone().expect("each batch carries its cursor");
        let greatest = batch
            .records
            .iter()
            .map(|r| text(&r.fields["gxsj"]))
            .max()
            .unwrap();
        assert_eq!(cursor, greatest);
        assert!(cursor >= previous);
        previous = cursor;
    }
    let keys: BTreeSet<String> = pulled.keys("rkid").into_iter().collect();
    assert_eq!(keys.len(), 1000);
    let rows_seen: Vec<u64> = pulled
        .batches
        .iter()
        .flat_map(|b| b.records.iter().map(|r| r.origin.row.unwrap()))
        .collect();
    assert_eq!(rows_seen, (1..=1000).collect::<Vec<u64>>());

    let full = pull(&connector, None, false).await;
    assert_eq!(full.mode, PullMode::Snapshot);
    assert_eq!(full.batches.len(), 10);
    assert_eq!(full.count(), 1000);
    assert_eq!(full.cursor(), Some(ts(1000 / 3)));
}

async fn interrupted_pull_resumes_without_loss(mut db: Db) {
    create_rkxx(&mut db, "rkxx").await;
    let rows: Vec<Vec<Val>> = (1..=1000).map(|i| synthetic_row(i, i / 7)).collect();
    db.insert("rkxx", &RKXX, &rows).await;
    let connector = db.connector(&format!("{RKXX_SECTION}batch_size = 100"));

    // Read 4 batches, committing each batch's cursor, then die.
    let mut committed = Some(ts(-1));
    let mut staged: BTreeSet<String> = BTreeSet::new();
    {
        let mut source = open_source(
            &connector,
            PullRequest {
                cursor: committed.clone(),
                full: false,
            },
        )
        .await
        .expect("open");
        for _ in 0..4 {
            let batch = source.next_batch().await.expect("batch").expect("rows");
            staged.extend(batch.records.iter().map(|r| text(&r.fields["rkid"])));
            committed = batch.cursor.clone();
        }
        drop(source);
    }
    assert_eq!(staged.len(), 400);

    let resumed = pull(&connector, committed.clone(), false).await;
    let resumed_keys = resumed.keys("rkid");
    // Only rows at or after the committed cursor are read again.
    let committed = committed.unwrap();
    assert!(resumed.keys("gxsj").iter().all(|t| *t >= committed));
    let unique: BTreeSet<&String> = resumed_keys.iter().collect();
    assert_eq!(
        unique.len(),
        resumed_keys.len(),
        "no duplicates in one pull"
    );
    staged.extend(resumed_keys);
    assert_eq!(staged.len(), 1000, "every key delivered");
}

async fn query_source_with_composite_key_and_integer_cursor(mut db: Db) {
    let t = db.key_text();
    db.exec(&format!(
        "CREATE TABLE members (hh {t} NOT NULL, seq INTEGER NOT NULL, xm {t}, ver BIGINT, \
         PRIMARY KEY (hh, seq))"
    ))
    .await;
    // 40 households × 5 members; versions repeat so pages split equal values.
    let rows: Vec<Vec<Val>> = (0..200)
        .map(|i| {
            vec![
                Val::Text(Some(format!("H{:03}", i / 5))),
                Val::Int(i % 5 + 1),
                Val::Text(Some(format!("成员{i}"))),
                Val::Int(i / 9),
            ]
        })
        .collect();
    db.insert("members", &["hh", "seq", "xm", "ver"], &rows)
        .await;
    let connector = db.connector(
        "query = \"SELECT hh, seq, xm, ver FROM members WHERE seq <= 4\"\n\
         key = [\"hh\", \"seq\"]\ncursor = \"ver\"\nbatch_size = 7",
    );
    let full = pull(&connector, None, false).await;
    assert_eq!(full.mode, PullMode::Snapshot);
    assert_eq!(full.count(), 160);
    let pairs: Vec<(String, i64)> = full
        .rows()
        .map(|r| (text(&r["hh"]), r["seq"].as_i64().unwrap()))
        .collect();
    let mut sorted = pairs.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(pairs, sorted, "ordered by (hh, seq), no duplicates");
    assert_eq!(full.cursor(), Some((199 / 9).to_string()));

    // Incremental from version 10: integer comparison (not text: "9" > "10").
    let inc = pull(&connector, Some("10".into()), false).await;
    assert_eq!(inc.mode, PullMode::Incremental);
    let expected = (0..200i64).filter(|i| i % 5 < 4 && i / 9 >= 10).count();
    assert_eq!(inc.count(), expected);
    assert!(inc.rows().all(|r| r["ver"].as_i64().unwrap() >= 10));
    let triples: Vec<(i64, String, i64)> = inc
        .rows()
        .map(|r| {
            (
                r["ver"].as_i64().unwrap(),
                text(&r["hh"]),
                r["seq"].as_i64().unwrap(),
            )
        })
        .collect();
    let mut sorted = triples.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(triples, sorted, "ordered by (ver, hh, seq), no duplicates");
}

async fn reserved_word_identifiers_are_quoted(mut db: Db) {
    let t = db.key_text();
    let (order, group, select) = (db.quote("order"), db.quote("group"), db.quote("select"));
    db.exec(&format!(
        "CREATE TABLE {order} ({group} {t} PRIMARY KEY, {select} INTEGER)"
    ))
    .await;
    let rows: Vec<Vec<Val>> = (0..25)
        .map(|i| vec![Val::Text(Some(format!("g{i:02}"))), Val::Int(i)])
        .collect();
    db.insert("order", &["group", "select"], &rows).await;
    let connector =
        db.connector("table = \"order\"\nkey = \"group\"\ncursor = \"select\"\nbatch_size = 10");
    let full = pull(&connector, None, false).await;
    assert_eq!(full.count(), 25);
    assert_eq!(full.batches.len(), 3);
    assert_eq!(full.cursor(), Some("24".into()));
    let inc = pull(&connector, Some("20".into()), false).await;
    assert_eq!(inc.keys("group"), vec!["g20", "g21", "g22", "g23", "g24"]);
}

async fn missing_table_is_a_config_error_naming_it(db: Db) {
    let connector = db.connector("table = \"no_such_table\"\nkey = \"id\"");
    let err = open_source(&connector, PullRequest::default())
        .await
        .err()
        .expect("missing table fails");
    assert!(matches!(err, ConnectorError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("no_such_table"), "{err}");
}

// ------------------------------------------------------ per-backend cases

fn connector_for(url: &str, section: &str) -> Connector {
    let text = format!(
        "department = \"governance\"\nkind = \"sql\"\n[sql]\nurl = \"${{DB_URL}}\"\n{section}\n"
    );
    let env: HashMap<String, String> = [("DB_URL".to_owned(), url.to_owned())].into();
    let doc = parse(Path::new("connectors/test.toml"), &text).expect("parses");
    Connector::resolve("test", doc, Path::new("/"), &env).expect("resolves")
}

async fn open_err(url: &str) -> ConnectorError {
    let connector = connector_for(url, "table = \"rkxx\"\nkey = \"rkid\"");
    open_source(&connector, PullRequest::default())
        .await
        .err()
        .expect("open fails")
}

#[tokio::test]
async fn refused_connections_are_transient_and_hide_the_password() {
    for url in [
        "postgres://yici:hunter2secret@127.0.0.1:1/db",
        "mysql://yici:hunter2secret@127.0.0.1:1/db",
        "mariadb://yici:hunter2secret@127.0.0.1:1/db",
    ] {
        let err = open_err(url).await;
        assert!(
            matches!(err, ConnectorError::Transient(_)),
            "{url}: {err:?}"
        );
        let msg = err.to_string();
        assert!(!msg.contains("hunter2secret"), "{msg}");
        assert!(msg.contains("127.0.0.1:1"), "{msg}");
    }
}

#[tokio::test]
async fn wrong_credentials_are_config_errors_without_the_password() {
    if let Some(db) = support::postgres::test_db().await {
        let url = strip_userinfo_dupe(&db.url().replacen(
            "://",
            "://yici_no_such_role:hunter2secret@",
            1,
        ));
        let err = open_err(&url).await;
        assert!(matches!(err, ConnectorError::Config(_)), "{err:?}");
        assert!(!err.to_string().contains("hunter2secret"), "{err}");
    }
    if let Some(db) = support::mariadb::test_db().await {
        let url = strip_userinfo_dupe(&db.url().replacen("://", "://root:hunter2secret@", 1));
        let err = open_err(&url).await;
        assert!(matches!(err, ConnectorError::Config(_)), "{err:?}");
        assert!(!err.to_string().contains("hunter2secret"), "{err}");
    }
}

/// `scheme://new@old@host` → `scheme://new@host` (the helper URLs carry a user).
fn strip_userinfo_dupe(url: &str) -> String {
    let start = url.find("://").unwrap() + 3;
    let authority_end = url[start..].find('/').map_or(url.len(), |i| start + i);
    let authority = &url[start..authority_end];
    let parts: Vec<&str> = authority.split('@').collect();
    if parts.len() <= 2 {
        return url.to_owned();
    }
    format!(
        "{}{}@{}{}",
        &url[..start],
        parts[0],
        parts[parts.len() - 1],
        &url[authority_end..]
    )
}

#[tokio::test]
async fn sqlite_missing_file_is_config_and_never_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.db");
    let err = open_err(&format!("sqlite://{}", path.display())).await;
    assert!(matches!(err, ConnectorError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("absent.db"), "{err}");
    assert!(!path.exists(), "the connector must not create the file");
}

#[tokio::test]
async fn sqlite_source_is_opened_read_only() {
    let db = Db::sqlite().await;
    let mut db = db;
    create_rkxx(&mut db, "rkxx").await;
    db.insert("rkxx", &RKXX, &[synthetic_row(1, 0)]).await;
    // A query that would write is refused by the read-only connection.
    let connector = db
        .connector("query = \"INSERT INTO rkxx (rkid) VALUES (2) RETURNING rkid\"\nkey = \"rkid\"");
    let result = open_source(&connector, PullRequest::default()).await;
    let failed = match result {
        Err(_) => true,
        Ok(mut s) => s.next_batch().await.is_err(),
    };
    assert!(
        failed,
        "a writing query must fail on the read-only connection"
    );
}

#[tokio::test]
async fn postgres_column_types_become_json() {
    let Some(mut db) = Db::postgres().await else {
        return;
    };
    db.exec(
        "CREATE TABLE t (id INT PRIMARY KEY, flag BOOL, small INT2, big INT8, f4 FLOAT4, \
         f8 FLOAT8, amount NUMERIC(12,2), huge NUMERIC, d DATE, ts TIMESTAMP(6), \
         tz TIMESTAMPTZ, tm TIME, u UUID, j JSONB, b BYTEA, c CHAR(3), nothing TEXT, \
         iv INTERVAL);
         INSERT INTO t VALUES (1, true, -3, 9007199254740993, 1.5, 13812345678, 12.50, \
         123456789012345678901234567890.5, '2024-02-29', '2024-02-29 13:14:15.25', \
         '2024-02-29 13:14:15+08', '07:08:09', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', \
         '{\"a\": [1, 2]}', '\\xdeadbeef', 'ab', NULL, NULL), \
         (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
         NULL, NULL, NULL, '1 day');",
    )
    .await;
    let connector = db.connector("table = \"t\"\nkey = \"id\"\ncursor = \"tz\"");
    let pulled = pull(&connector, None, false).await;
    assert_eq!(pulled.count(), 1);
    let r = pulled.rows().next().unwrap();
    assert_eq!(r["flag"], json!(true));
    assert_eq!(r["small"], json!(-3));
    assert_eq!(r["big"], json!(9_007_199_254_740_993_i64));
    assert_eq!(r["f4"], json!(1.5));
    assert_eq!(r["f8"], json!(13_812_345_678_i64));
    assert_eq!(r["amount"], json!(12.5));
    assert_eq!(r["huge"], json!("123456789012345678901234567890.5"));
    assert_eq!(r["d"], json!("2024-02-29"));
    assert_eq!(r["ts"], json!("2024-02-29 13:14:15.250000"));
    assert_eq!(r["tz"], json!("2024-02-29 05:14:15"));
    assert_eq!(r["tm"], json!("07:08:09"));
    assert_eq!(r["u"], json!("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
    assert_eq!(r["j"], json!({"a": [1, 2]}));
    assert_eq!(r["b"], json!("deadbeef"));
    assert_eq!(r["c"], json!("ab "));
    assert_eq!(r["nothing"], Value::Null);
    // An interval has no decoder: that row is a problem naming the column.
    assert_eq!(pulled.problems(), 1);
    let problem = &pulled.batches[0].problems[0];
    assert!(problem.reason.contains("`iv`"), "{}", problem.reason);
    assert_eq!(problem.fields["id"], json!(2));
    // The timestamptz cursor round-trips (UTC wall time).
    assert_eq!(pulled.cursor(), Some("2024-02-29 05:14:15".into()));
    let inc = pull(&connector, pulled.cursor(), false).await;
    assert_eq!(inc.count(), 1);
}

#[tokio::test]
async fn mariadb_column_types_become_json() {
    let Some(mut db) = Db::mariadb().await else {
        return;
    };
    db.exec(
        "CREATE TABLE t (id INT PRIMARY KEY, flag TINYINT(1), tiny TINYINT, uns BIGINT UNSIGNED, \
         f FLOAT, dbl DOUBLE, amount DECIMAL(12,2), huge DECIMAL(40,1), d DATE, \
         dt DATETIME(6), ts TIMESTAMP NULL, tm TIME, bits BIT(3), bin VARBINARY(8), \
         txt TEXT, e ENUM('x','y'), y YEAR, nothing VARCHAR(3)) CHARACTER SET utf8mb4;
         INSERT INTO t VALUES (1, 1, -5, 18446744073709551615, 1.5, 13812345678, 12.50, \
         123456789012345678901234567890123456789.5, '2024-02-29', '2024-02-29 13:14:15.25', \
         '2024-02-29 13:14:15', '-26:03:04', b'101', x'deadbeef', '欧阳翠花 😀', 'y', 2024, \
         NULL);",
    )
    .await;
    let connector = db.connector("table = \"t\"\nkey = \"id\"\ncursor = \"dt\"");
    let pulled = pull(&connector, None, false).await;
    assert_eq!(pulled.problems(), 0);
    let r = pulled.rows().next().unwrap();
    assert_eq!(r["flag"], json!(1));
    assert_eq!(r["tiny"], json!(-5));
    assert_eq!(r["uns"], json!(u64::MAX));
    assert_eq!(r["f"], json!(1.5));
    assert_eq!(r["dbl"], json!(13_812_345_678_i64));
    assert_eq!(r["amount"], json!(12.5));
    assert_eq!(
        r["huge"],
        json!("123456789012345678901234567890123456789.5")
    );
    assert_eq!(r["d"], json!("2024-02-29"));
    assert_eq!(r["dt"], json!("2024-02-29 13:14:15.250000"));
    assert_eq!(r["ts"], json!("2024-02-29 13:14:15"));
    assert_eq!(r["tm"], json!("-26:03:04"));
    assert_eq!(r["bits"], json!(5));
    assert_eq!(r["bin"], json!("deadbeef"));
    assert_eq!(r["txt"], json!("欧阳翠花 😀"));
    assert_eq!(r["e"], json!("y"));
    assert_eq!(r["y"], json!(2024));
    assert_eq!(r["nothing"], Value::Null);
    // A DATETIME(6) cursor with fractions round-trips.
    assert_eq!(pulled.cursor(), Some("2024-02-29 13:14:15.250000".into()));
    let inc = pull(&connector, pulled.cursor(), false).await;
    assert_eq!(inc.count(), 1);
}

#[tokio::test]
async fn sqlite_values_follow_storage_class() {
    let mut db = Db::sqlite().await;
    db.exec(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, r REAL, s TEXT, b BLOB, x);
         INSERT INTO t VALUES (1, 42, 2.5, '张伟', x'0a0b', 13812345678.0), \
         (2, NULL, NULL, NULL, NULL, 'text in untyped');",
    )
    .await;
    let connector = db.connector("table = \"t\"\nkey = \"id\"");
    let pulled = pull(&connector, None, false).await;
    let rows: Vec<_> = pulled.rows().collect();
    assert_eq!(rows[0]["n"], json!(42));
    assert_eq!(rows[0]["r"], json!(2.5));
    assert_eq!(rows[0]["s"], json!("张伟"));
    assert_eq!(rows[0]["b"], json!("0a0b"));
    assert_eq!(rows[0]["x"], json!(13_812_345_678_i64));
    assert_eq!(rows[1]["n"], Value::Null);
    assert_eq!(rows[1]["x"], json!("text in untyped"));
}

#[tokio::test]
async fn null_keys_are_refused_not_dropped() {
    let mut db = Db::sqlite().await;
    db.exec("CREATE TABLE t (id INTEGER, v TEXT); INSERT INTO t VALUES (1, 'a'), (NULL, 'b');")
        .await;
    let connector = db.connector("table = \"t\"\nkey = \"id\"");
    let err = open_source(&connector, PullRequest::default())
        .await
        .err()
        .expect("NULL keys fail");
    assert!(matches!(err, ConnectorError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("NULL"), "{err}");
}

#[tokio::test]
async fn missing_key_column_is_named() {
    let mut db = Db::sqlite().await;
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        .await;
    let connector = db.connector("table = \"t\"\nkey = \"rkid\"\ncursor = \"gxsj\"");
    let err = open_source(&connector, PullRequest::default())
        .await
        .err()
        .expect("missing column fails");
    assert!(matches!(err, ConnectorError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("`rkid`"), "{err}");
}

// ------------------------------------------------------------ throughput
