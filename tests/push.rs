//! Push-back through the CLI, as an operator runs it: a phone entered in
//! one department reaches the others by their policies — written into a
//! department's own database (SQLite file, PostgreSQL, MariaDB), or into a
//! pre-filled ledger for a file source — never over a department's own
//! later edit, exactly once in effect even when delivery is killed, and a
//! second cycle with nothing new writes nothing.

mod support;

use std::str::FromStr;

use serde_json::Value;
use sqlx::{ConnectOptions, Connection, Executor};
use support::workspace::{stderr, Workspace};

fn valid(first17: &str) -> String {
    format!(
        "{first17}{}",
        yici::model::id_number::check_digit(first17).unwrap()
    )
}

fn id_li() -> String {
    valid("11010519491231002")
}

fn id_wang() -> String {
    valid("33020319600305001")
}

/// Runs SQL against a department database (any of the three backends).
fn exec(url: &str, statements: &[String]) {
    let url = url.to_owned();
    let statements = statements.to_vec();
    support::throwaway::on_fresh_thread(move || async move {
        macro_rules! run {
            ($conn:expr) => {{
                let mut conn = $conn;
                for s in &statements {
                    conn.execute(s.as_str())
                        .await
                        .unwrap_or_else(|e| panic!("{s}: {e}"));
                }
                conn.close().await.unwrap();
            }};
        }
        if url.starts_with("postgres") {
            run!(sqlx::PgConnection::connect(&url).await.unwrap())
        } else if url.starts_with("mysql") {
            run!(sqlx::MySqlConnection::connect(&url).await.unwrap())
        } else {
            run!(sqlx::sqlite::SqliteConnectOptions::from_str(&url)
                .unwrap()
                .create_if_missing(true)
                .connect()
                .await
                .unwrap())
        }
    })
    .unwrap();
}

/// One text cell of a department database.
fn cell(url: &str, sql: &str) -> Option<String> {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    support::throwaway::on_fresh_thread(move || async move {
        macro_rules! one {
            ($conn:expr) => {{
                let mut conn = $conn;
                let v: Option<String> =
                    sqlx::query_scalar(&sql).fetch_one(&mut conn).await.unwrap();
                conn.close().await.unwrap();
                v
            }};
        }
        if url.starts_with("postgres") {
            one!(sqlx::PgConnection::connect(&url).await.unwrap())
        } else if url.starts_with("mysql") {
            one!(sqlx::MySqlConnection::connect(&url).await.unwrap())
        } else {
            one!(sqlx::SqliteConnection::connect(&url).await.unwrap())
        }
    })
    .unwrap()
}

const HEADER: &str = "编号,姓名,身份证,电话,住址\n";

/// Governance keeps a table in `gov_url` (rows without phones); health is
/// a CSV export where the phones were entered; civil affairs a CSV ledger.
fn district(gov_url: &str) -> Workspace {
    let ws = Workspace::with_shipped_config();
    for name in ["civil_affairs", "health", "hr", "governance"] {
        ws.remove(&format!("connectors/{name}.toml"));
        ws.remove(&format!("mappings/{name}.toml"));
    }
    let text = if gov_url.starts_with("postgres") {
        "TEXT"
    } else {
        "VARCHAR(64)"
    };
    exec(
        gov_url,
        &[
            format!("CREATE TABLE rkxx (rkid INTEGER PRIMARY KEY, xm {text}, sfzh {text}, lxdh {text}, xzz {text})"),
            format!("INSERT INTO rkxx VALUES (1, '李娜', '{}', NULL, '鼓楼街道中山社区23幢502室')", id_li()),
            format!("INSERT INTO rkxx VALUES (2, '王建国', '{}', '', '月湖街道青石社区孝闻街27号')", id_wang()),
        ],
    );
    ws.write(
        "connectors/gov.toml",
        &format!("department = \"governance\"\nkind = \"sql\"\n[sql]\nurl = \"{gov_url}\"\ntable = \"rkxx\"\nkey = \"rkid\"\n"),
    );
    ws.write(
        "mappings/gov.toml",
        "key = \"rkid\"\n[fields]\nname = { from = \"xm\" }\nid_number = { from = \"sfzh\" }\n\
         phones = { from = \"lxdh\" }\ncurrent_address = { from = \"xzz\" }\n\
         [push]\n[push.fields]\nphones = { column = \"lxdh\", policy = \"fill_missing\" }\n",
    );
    for (name, department) in [("health", "health"), ("civil", "civil_affairs")] {
        ws.write(
            &format!("connectors/{name}.toml"),
            &format!("department = \"{department}\"\nkind = \"csv\"\n[csv]\npath = \"{name}.csv\"\nencoding = \"utf-8\"\n"),
        );
        ws.write(
            &format!("mappings/{name}.toml"),
            "key = \"编号\"\n[fields]\nname = { from = \"姓名\" }\nid_number = { from = \"身份证\" }\n\
             phones = { from = \"电话\" }\ncurrent_address = { from = \"住址\" }\n\
             [push]\n[push.fields]\nphones = { column = \"电话\", policy = \"fill_missing\" }\n",
        );
    }
    ws.write(
        "health.csv",
        &format!(
            "{HEADER}h1,李娜,{},13933334444,\nh2,王建国,{},13700000001,\n",
            id_li(),
            id_wang()
        ),
    );
    ws.write("civil.csv", &format!("{HEADER}c1,李娜,{},,\n", id_li()));
    ws
}

fn delivered(report: &Value, target: &str, what: &str) -> u64 {
    report["delivered"][target][what]
        .as_u64()
        .unwrap_or_else(|| panic!("{report}"))
}

fn ledger(ws: &Workspace, source: &str) -> Vec<String> {
    std::fs::read_to_string(ws.path(&format!("var/push/{source}.csv")))
        .unwrap_or_default()
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect()
}

/// The whole story on one department database.
fn enter_once(gov_url: &str) {
    let ws = district(gov_url);
    let phone = |rkid: i64| {
        cell(
            gov_url,
            &format!("SELECT lxdh FROM rkxx WHERE rkid = {rkid}"),
        )
    };

    // What would be written, masked; nothing is written.
    ws.json(&["pull"], 0);
    ws.json(&["reconcile"], 0);
    let plan = ws.json(&["push", "--dry-run"], 0);
    assert_eq!(plan["gov"]["per_policy"]["fill_missing"], 2, "{plan}");
    assert_eq!(plan["civil"]["records"], 1, "{plan}");
    let text = support::workspace::stdout(&ws.yici(&["push", "--dry-run", "gov"]));
    assert!(
        text.contains("∅ → 139****4444") && !text.contains("13933334444"),
        "{text}"
    );
    assert_eq!(phone(1), None);

    // A grid worker types 王建国's phone in after our pull, before we
    // deliver: theirs stays.
    exec(
        gov_url,
        &["UPDATE rkxx SET lxdh = '13600000009' WHERE rkid = 2".to_owned()],
    );
    let report = ws.json(&["push"], 0);
    assert_eq!(phone(1).as_deref(), Some("13933334444"), "{report}");
    assert_eq!(
        phone(2).as_deref(),
        Some("13600000009"),
        "a department's own edit is never overwritten"
    );
    assert_eq!(report["gov"]["values_written"], 1, "{report}");
    assert_eq!(report["gov"]["superseded"], 1, "{report}");
    assert_eq!(report["civil"]["ledgered"], 1, "{report}");
    let lines = ledger(&ws, "civil");
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].contains("civil:c1") && lines[0].contains(",电话,fill_missing,,13933334444,"),
        "{lines:?}"
    );
    let superseded = ws.json(&["outbox", "list", "--status", "superseded"], 0);
    assert!(
        superseded
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["record"] == "2"
                && r["outcome"]
                    .as_str()
                    .unwrap()
                    .contains("the department changed lxdh")),
        "{superseded}"
    );

    // The next cycle sees our own value come back: nothing moves.
    let again = ws.json(&["sync"], 0);
    for target in ["gov", "civil", "health"] {
        for what in ["values_written", "ledgered", "suggested", "superseded"] {
            assert_eq!(
                delivered(&again, target, what),
                0,
                "{target} {what}: {again}"
            );
        }
    }
    assert_eq!(again["reconcile"]["golden"]["queued"], 0, "{again}");
    assert_eq!(ledger(&ws, "civil").len(), 1);

    // Health records a new phone for 李娜: governance already has one
    // (fill_missing leaves it), the civil affairs ledger has nothing new to
    // fill either — it is already waiting for the worker.
    ws.write(
        "health.csv",
        &format!(
            "{HEADER}h1,李娜,{},13955556666,\nh2,王建国,{},13700000001,\n",
            id_li(),
            id_wang()
        ),
    );
    let third = ws.json(&["sync"], 0);
    assert_eq!(phone(1).as_deref(), Some("13933334444"), "{third}");
    assert_eq!(delivered(&third, "gov", "values_written"), 0, "{third}");
}

#[test]
fn a_phone_entered_once_reaches_a_sqlite_register_and_a_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("gov.db").display());
    enter_once(&url);
}

#[test]
fn a_phone_entered_once_reaches_a_postgresql_register() {
    let Some(db) = support::throwaway::on_fresh_thread(support::postgres::test_db).flatten() else {
        return;
    };
    enter_once(db.url());
}

#[test]
fn a_phone_entered_once_reaches_a_mariadb_register() {
    let Some(db) = support::throwaway::on_fresh_thread(support::mariadb::test_db).flatten() else {
        return;
    };
    enter_once(db.url());
}

#[test]
fn delivery_killed_and_restarted_delivers_every_row_once() {
    let dir = tempfile::tempdir().unwrap();
    let gov_url = format!("sqlite://{}", dir.path().join("gov.db").display());
    let ws = district(&gov_url);
    // Two thousand residents whose phones only health knows.
    let n = 2000;
    let mut rows = Vec::new();
    let mut health = String::from(HEADER);
    let mut civil = String::from(HEADER);
    let chars = |s: &str| s.chars().collect::<Vec<char>>();
    let (surnames, given) = (
        chars("赵钱孙李周吴郑王"),
        chars("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平"),
    );
    for i in 0..n {
        let id = valid(&format!(
            "330203{:04}01{:02}{:03}",
            1950 + i % 50,
            1 + i / 1000,
            i % 1000
        ));
        let name: String = [surnames[i % 8], given[(i / 8) % 20], given[(i / 160) % 20]]
            .iter()
            .collect();
        rows.push(format!(
            "INSERT INTO rkxx VALUES ({}, '{name}', '{id}', NULL, NULL)",
            100 + i
        ));
        health.push_str(&format!("hx{i},{name},{id},139{i:08},\n"));
        civil.push_str(&format!("cx{i},{name},{id},,\n"));
    }
    exec(&gov_url, &rows);
    ws.write("health.csv", &health);
    ws.write("civil.csv", &civil);
    ws.json(&["pull"], 0);
    let planned = ws.json(&["reconcile"], 0);
    assert_eq!(planned["golden"]["planned"], 2 * n, "{planned}");

    // Kill delivery part-way (waiting a little longer each time, until a
    // kill lands with some rows delivered and some not), then finish it.
    let delivered_so_far = || {
        ws.json(
            &[
                "outbox",
                "list",
                "--status",
                "delivered",
                "--limit",
                "100000",
            ],
            0,
        )
        .as_array()
        .unwrap()
        .len()
    };
    let mut partial = 0;
    for attempt in 0..40u64 {
        let mut child = ws.command(&["push"]).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100 + 40 * attempt));
        let _ = child.kill();
        let _ = child.wait();
        let d = delivered_so_far();
        if d > 0 && d < 2 * n {
            partial += 1;
            if partial == 3 {
                break;
            }
        }
        if d == 2 * n {
            break;
        }
    }
    assert!(partial > 0, "no kill landed mid-delivery");
    let last = ws.json(&["push"], 0);
    let pending = ws.json(&["outbox", "list", "--status", "pending"], 0);
    assert!(pending.as_array().unwrap().is_empty(), "{pending}");

    // Every governance row got its phone, exactly the planned one.
    let filled = cell(
        &gov_url,
        "SELECT CAST(COUNT(*) AS TEXT) FROM rkxx WHERE lxdh LIKE '139%'",
    );
    assert_eq!(filled.as_deref(), Some(n.to_string().as_str()), "{last}");
    let wrong = cell(
        &gov_url,
        "SELECT CAST(COUNT(*) AS TEXT) FROM rkxx WHERE rkid >= 100 AND lxdh <> '139' || substr('00000000' || (rkid - 100), -8, 8)",
    );
    assert_eq!(wrong.as_deref(), Some("0"));
    // Every civil affairs ledger line once.
    let lines = ledger(&ws, "civil");
    let mut ids: Vec<&str> = lines.iter().map(|l| l.split(',').next().unwrap()).collect();
    let total = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!((ids.len(), total), (n, n), "each row once");
    let delivered_rows = ws.json(
        &[
            "outbox",
            "list",
            "--status",
            "delivered",
            "--limit",
            "100000",
        ],
        0,
    );
    assert_eq!(delivered_rows.as_array().unwrap().len(), 2 * n);
}

#[test]
fn push_specs_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("gov.db").display());
    let ws = district(&url);
    ws.edit(
        "mappings/gov.toml",
        "policy = \"fill_missing\"",
        "policy = \"fill_mising\"",
    );
    ws.edit("mappings/civil.toml", "column = \"电话\"", "column = \"\"");
    let o = ws.yici(&["check"]);
    assert_eq!(o.status.code(), Some(3));
    let said = format!("{}{}", support::workspace::stdout(&o), stderr(&o));
    assert!(
        said.contains("mappings/gov.toml") && said.contains("did you mean `fill_missing`"),
        "{said}"
    );
    assert!(
        said.contains("mappings/civil.toml") && said.contains("push.fields.phones.column"),
        "{said}"
    );
}

#[test]
fn residents_a_department_should_hold_are_created_once() {
    let dir = tempfile::tempdir().unwrap();
    let gov_url = format!("sqlite://{}", dir.path().join("gov.db").display());
    let ws = district(&gov_url);
    ws.write(
        "mappings/gov.toml",
        "key = \"rkid\"\n[fields]\nname = { from = \"xm\" }\nid_number = { from = \"sfzh\" }\n\
         phones = { from = \"lxdh\" }\ncurrent_address = { from = \"xzz\" }\n\
         [push]\n[push.fields]\nname = { column = \"xm\", policy = \"fill_missing\" }\n\
         id_number = { column = \"sfzh\", policy = \"fill_missing\" }\n\
         phones = { column = \"lxdh\", policy = \"fill_missing\" }\n\
         current_address = { column = \"xzz\", policy = \"fill_missing\" }\n\
         [push.create]\naddress_contains = [\"鼓楼街道\"]\n",
    );
    let (zhou, wu) = (valid("33020319900707003"), valid("33020319910808004"));
    ws.write(
        "health.csv",
        &format!(
            "{HEADER}h1,李娜,{},13933334444,\nh3,周杰,{zhou},13512340000,鼓楼街道中山社区8幢1号\n\
             h4,吴敏,{wu},13612340000,月湖街道青石社区2号\n",
            id_li()
        ),
    );
    let count = |sql: &str| cell(&gov_url, sql).unwrap_or_default();
    let first = ws.json(&["sync"], 0);
    assert_eq!(delivered(&first, "gov", "records_created"), 1, "{first}");
    assert_eq!(
        count(&format!(
            "SELECT xm || '|' || lxdh || '|' || xzz FROM rkxx WHERE sfzh = '{zhou}'"
        )),
        "周杰|13512340000|鼓楼街道中山社区8幢1号"
    );
    assert_eq!(
        count(&format!(
            "SELECT CAST(COUNT(*) AS TEXT) FROM rkxx WHERE sfzh = '{wu}'"
        )),
        "0",
        "not this department's resident"
    );
    // The created record comes back on the next pull, joins 周杰, and
    // nothing is created again.
    let again = ws.json(&["sync"], 0);
    assert_eq!(delivered(&again, "gov", "records_created"), 0, "{again}");
    assert_eq!(again["reconcile"]["golden"]["queued"], 0, "{again}");
    assert_eq!(
        count(&format!(
            "SELECT CAST(COUNT(*) AS TEXT) FROM rkxx WHERE sfzh = '{zhou}'"
        )),
        "1"
    );
    let zhou_master = ws.json(&["show", &zhou], 0);
    let records: Vec<&str> = zhou_master[0]["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["record"].as_str().unwrap())
        .collect();
    assert!(records.iter().any(|r| r.starts_with("gov:")), "{records:?}");
}

/// A SQL literal.
fn lit(v: Option<&str>) -> String {
    v.map_or("NULL".to_owned(), |s| {
        format!("'{}'", s.replace('\'', "''"))
    })
}

/// The sample district's governance register, loaded into `url`'s
/// database, receives the whole cycle: the phones and identity numbers
/// other departments know are written where it had none, and a second
/// cycle writes nothing.
fn sample_register(url: &str) {
    let ws = Workspace::with_shipped_config();
    let persons = 300;
    // The sample's files (its own run writes them), then a fresh store.
    ws.json(&["demo", "--persons", &persons.to_string()], 0);
    std::fs::remove_dir_all(ws.path("var")).unwrap();
    let options = yici::demo::DemoOptions {
        persons,
        seed: 2026,
    };
    let population = yici::demo::generate_population(&options);
    let (text, generated) = if url.starts_with("postgres") {
        (
            "TEXT",
            "GENERATED BY DEFAULT AS IDENTITY (START WITH 10000000)",
        )
    } else {
        ("VARCHAR(255)", "AUTO_INCREMENT")
    };
    let mut sql = vec![format!(
        "CREATE TABLE rkxx (rkid BIGINT {generated} PRIMARY KEY, xm {text}, xb {text}, sfzh {text}, csrq {text}, \
         mz {text}, lxdh {text}, hjdz {text}, xzz {text}, rylx {text}, hh {text}, yhzgx {text}, \
         wgbm {text}, sqmc {text}, sfsw INTEGER, gxsj {text})"
    )];
    for r in yici::demo::records(&population, yici::demo::Department::Governance) {
        let row = yici::demo::governance::RkxxRow::of(&r);
        sql.push(format!(
            "INSERT INTO rkxx VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
            row.rkid,
            lit(Some(&row.xm)),
            lit(Some(row.xb)),
            lit(row.sfzh.as_deref()),
            lit(Some(&row.csrq)),
            lit(row.mz),
            lit(row.lxdh.as_deref()),
            lit(row.hjdz.as_deref()),
            lit(row.xzz.as_deref()),
            lit(Some(row.rylx)),
            lit(Some(&row.hh)),
            lit(Some(row.yhzgx)),
            lit(Some(&row.wgbm)),
            lit(Some(row.sqmc)),
            row.sfsw,
            lit(Some(&row.gxsj)),
        ));
    }
    exec(url, &sql);
    ws.edit(
        "connectors/governance.toml",
        "url = \"${YICI_GOVERNANCE_DB_URL:-sqlite://${YICI_SAMPLE_DIR:-sample}/governance/population.db}\"",
        &format!("url = \"{url}\""),
    );
    // The grid should hold every resident of the district it lacks.
    let mapping = std::fs::read_to_string(ws.path("mappings/governance.toml")).unwrap();
    let mapping = mapping.replace(
        "current_address = { column = \"xzz\", policy = \"suggest\" }\n",
        "current_address = { column = \"xzz\", policy = \"suggest\" }\nname = { column = \"xm\", policy = \"fill_missing\" }\n\n[push.create]\naddress_contains = [\"海曙区\"]\n",
    );
    assert!(mapping.contains("[push.create]"));
    ws.write("mappings/governance.toml", &mapping);
    let rows = |url: &str| {
        cell(url, "SELECT CAST(COUNT(*) AS CHAR(20)) FROM rkxx")
            .unwrap()
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    let rows_before = rows(url);
    // The sample's HR API runs only inside `yici demo`.
    ws.edit(
        "connectors/hr.toml",
        "kind = \"http\"",
        "kind = \"http\"\nenabled = false",
    );
    let without_phone = |url: &str| {
        cell(
            url,
            "SELECT CAST(COUNT(*) AS CHAR(20)) FROM rkxx WHERE lxdh IS NULL OR lxdh = ''",
        )
        .unwrap()
        .trim()
        .parse::<u64>()
        .unwrap()
    };
    let before = without_phone(url);
    let first = ws.json(&["sync"], 0);
    let written = delivered(&first, "governance", "values_written");
    assert!(written > 0, "{first}");
    let after = without_phone(url);
    assert!(after < before, "{before} → {after}: {first}");
    assert!(
        delivered(&first, "governance", "superseded") == 0,
        "{first}"
    );
    let created = delivered(&first, "governance", "records_created");
    assert!(created > 0, "{first}");
    assert_eq!(rows(url), rows_before + created);
    let again = ws.json(&["sync"], 0);
    for target in ["governance", "health", "civil_affairs"] {
        assert_eq!(delivered(&again, target, "values_written"), 0, "{again}");
        assert_eq!(delivered(&again, target, "ledgered"), 0, "{again}");
    }
    assert_eq!(without_phone(url), after);
    assert_eq!(
        delivered(&again, "governance", "records_created"),
        0,
        "{again}"
    );
    assert_eq!(rows(url), rows_before + created, "nothing created twice");
    // The created rows came back on the next incremental pull (by the
    // `gxsj` cursor): the register's records are all staged.
    let governance = again["pulls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["source"] == "governance")
        .unwrap();
    assert_eq!(governance["mode"], "incremental", "{governance}");
    assert_eq!(governance["new"], created, "{governance}");
}

#[test]
fn the_sample_register_in_postgresql_receives_the_whole_cycle() {
    let Some(db) = support::throwaway::on_fresh_thread(support::postgres::test_db).flatten() else {
        return;
    };
    sample_register(db.url());
}

#[test]
fn the_sample_register_in_mariadb_receives_the_whole_cycle() {
    let Some(db) = support::throwaway::on_fresh_thread(support::mariadb::test_db).flatten() else {
        return;
    };
    sample_register(db.url());
}

#[test]
fn one_delivery_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("gov.db").display());
    let ws = district(&url);
    ws.json(&["pull"], 0);
    ws.json(&["reconcile"], 0);
    // Another live process (this test) is delivering.
    let db = ws.path("var/yici.db");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let holder = format!("{}:{}", host.trim(), std::process::id());
    support::throwaway::on_fresh_thread(move || async move {
        let store = yici::store::Store::open(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let hour = std::time::Duration::from_secs(3600);
        assert!(store.try_acquire_lock("push", &holder, hour).await.unwrap());
        store.close().await;
    });
    let busy = ws.yici(&["push"]);
    assert_eq!(busy.status.code(), Some(1));
    assert!(
        stderr(&busy).contains("another push is delivering"),
        "{}",
        stderr(&busy)
    );
    assert_eq!(
        cell(&url, "SELECT lxdh FROM rkxx WHERE rkid = 1"),
        None,
        "nothing delivered"
    );
}
