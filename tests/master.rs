//! The master index through the CLI, as operators and data stewards use
//! it: golden records with provenance and versions, conflicts, the review
//! queue, manual merges and splits that later runs never undo, the audit
//! history, lookups and exports — on SQLite and on a real PostgreSQL.

mod support;

use std::collections::BTreeMap;

use serde_json::Value;
use support::workspace::{stderr, stdout, Workspace};

/// A valid identity number from its first 17 digits.
fn valid(first17: &str) -> String {
    format!(
        "{first17}{}",
        yici::model::id_number::check_digit(first17).unwrap()
    )
}

/// 李娜 (three departments, one with a mistyped check digit).
fn id_li() -> String {
    valid("11010519491231002")
}

/// 王建国 (two departments that disagree on his birth date and death).
fn id_wang() -> String {
    valid("33020319600305001")
}

/// 赵雷 (two departments).
fn id_zhao() -> String {
    valid("33020319850101003")
}

const HEADER: &str = "编号,姓名,身份证,性别,出生日期,电话,住址,死亡,更新时间,低保\n";
const HOME_1: &str = "鼓楼街道中山社区23幢502室";
const HOME_2: &str = "月湖街道青石社区孝闻街27号3幢101室";
const HOME_3: &str = "南门街道尹江社区8幢201室";

fn health_csv(li_phone: &str, li_updated: &str) -> String {
    let (li, wang, zhao) = (id_li(), id_wang(), id_zhao());
    format!(
        "{HEADER}h1,李娜,{li},女,,{li_phone},,否,{li_updated},\n\
         h2,王建国,{wang},男,1960-03-06,13700000001,,否,2025-03-01,\n\
         h3,赵雷,{zhao},男,,13500000005,,否,2024-02-01,\n\
         h4,陈静,,女,1990-07-15,13600000003,{HOME_3},,2024-03-01,\n\
         h5,刘洋,,男,1988-02-02,,海曙区,,2024-03-01,\n"
    )
}

/// Three departments' ledgers (governance, health, civil affairs), each a
/// CSV connector whose mapping carries the source's business time.
fn district() -> Workspace {
    let ws = Workspace::with_shipped_config();
    for name in ["civil_affairs", "health", "hr", "governance"] {
        ws.remove(&format!("connectors/{name}.toml"));
        ws.remove(&format!("mappings/{name}.toml"));
    }
    let (li, wang, zhao) = (id_li(), id_wang(), id_zhao());
    let bad_li = format!("{}{}", &li[..17], if li.ends_with('0') { '1' } else { '0' });
    ws.write(
        "gov.csv",
        &format!(
            "{HEADER}g1,李娜,{li},女,,13811112222,{HOME_1},否,2024-01-01,\n\
             g2,王建国,{wang},男,1960-03-05,13700000001,{HOME_2},是,2024-01-01,\n\
             g3,赵雷,{zhao},男,,13500000005,{HOME_3},否,2024-01-01,\n"
        ),
    );
    ws.write("health.csv", &health_csv("13933334444", "2025-06-01"));
    ws.write(
        "civil.csv",
        &format!(
            "{HEADER}c1,李娜,{bad_li},女,1949-12-31,,{HOME_1},,2023-05-01,A类\n\
             c4,陈静,,女,1990-07-25,,,,2023-05-01,B类\n\
             c5,刘洋,,男,1988-02-12,13900000009,,,2023-05-01,\n"
        ),
    );
    for (name, department) in [
        ("gov", "governance"),
        ("health", "health"),
        ("civil", "civil_affairs"),
    ] {
        ws.write(
            &format!("connectors/{name}.toml"),
            &format!("department = \"{department}\"\nkind = \"csv\"\n[csv]\npath = \"{name}.csv\"\nencoding = \"utf-8\"\n"),
        );
        let attributes = if name == "civil" {
            "[attributes]\ndibao = { from = \"低保\", type = \"text\", transform = [\"trim\"] }\n"
        } else {
            ""
        };
        ws.write(
            &format!("mappings/{name}.toml"),
            &format!(
                "key = \"编号\"\nupdated_at = \"更新时间\"\n[fields]\n\
                 name = {{ from = \"姓名\" }}\n\
                 id_number = {{ from = \"身份证\" }}\n\
                 sex = {{ from = \"性别\", fallback = \"id_number\" }}\n\
                 birth_date = {{ from = \"出生日期\", fallback = \"id_number\" }}\n\
                 phones = {{ from = \"电话\" }}\n\
                 current_address = {{ from = \"住址\" }}\n\
                 deceased = {{ from = \"死亡\", transform = [\"bool\"] }}\n{attributes}"
            ),
        );
    }
    ws
}

fn pull_and_reconcile(ws: &Workspace) -> Value {
    ws.json(&["pull"], 0);
    ws.json(&["reconcile"], 0)
}

/// `source:key` → master id.
fn links(ws: &Workspace) -> BTreeMap<String, String> {
    let o = ws.yici(&["export", "links"]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .skip(1)
        .map(|l| {
            let mut parts = l.splitn(3, ',');
            let (s, k, m) = (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
            );
            (format!("{s}:{k}"), m.to_owned())
        })
        .collect()
}

/// The one resident `target` names, as `yici show --json` gives it.
fn show(ws: &Workspace, target: &str) -> Value {
    let views = ws.json(&["show", target], 0);
    assert_eq!(views.as_array().unwrap().len(), 1, "{views}");
    views[0].clone()
}

fn field<'a>(view: &'a Value, name: &str) -> &'a Value {
    view["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == name)
        .unwrap_or_else(|| panic!("no field {name} in {view}"))
}

fn events<'a>(history: &'a Value, kind: &str) -> Vec<&'a Value> {
    history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

/// Runs `yici` and expects exit code 2 with `message` on stderr.
fn refused(ws: &Workspace, args: &[&str], message: &str) {
    let o = ws.yici(args);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    assert!(stderr(&o).contains(message), "{args:?}: {}", stderr(&o));
}

#[test]
fn golden_records_carry_provenance_versions_and_conflicts() {
    golden_records_hold(&district());
}

fn golden_records_hold(ws: &Workspace) {
    let report = pull_and_reconcile(ws);
    assert_eq!(report["masters_created"], 7, "{report}");
    let golden = &report["golden"];
    assert_eq!(
        (golden["rebuilt"].as_u64(), golden["changed"].as_u64()),
        (Some(7), Some(7)),
        "{report}"
    );

    // 李娜: the valid number wins over civil affairs' mistyped one, the
    // phone from the most recent business record comes first, and every
    // value names its record and the rule that chose it.
    let li = show(ws, &id_li());
    let id = field(&li, "id_number");
    assert_eq!(id["value"], "110105********002X", "{li}");
    assert_eq!(id["rule"], "valid");
    assert_eq!(
        id["source"], "gov:g1",
        "governance is first in the identity-number priority"
    );
    let phones = field(&li, "phones");
    assert_eq!(phones["value"], "139****4444, 138****2222");
    assert_eq!(
        (phones["source"].as_str(), phones["rule"].as_str()),
        (Some("health:h1"), Some("most_recent"))
    );
    assert!(
        phones["source_updated_at"]
            .as_str()
            .unwrap()
            .starts_with("2025-05-31T16:00:00"),
        "{phones}"
    );
    assert_eq!(li["records"].as_array().unwrap().len(), 3);
    assert_eq!(
        li["attributes"]["civil:c1"]["dibao"], "A类",
        "department attributes stay per source"
    );
    let shown = stdout(&ws.yici(&["show", &id_li()]));
    assert!(
        shown.contains("health:h1 [most_recent] 2025-06-01"),
        "{shown}"
    );
    assert!(
        !shown.contains(&id_li()) && !shown.contains("13933334444"),
        "masked by default: {shown}"
    );

    // 王建国: the birth date his identity number confirms; the departments'
    // contradictions are listed as conflicts with their sources.
    let wang = show(ws, "gov:g2");
    assert_eq!(field(&wang, "birth_date")["value"], "1960-03-05");
    assert_eq!(field(&wang, "birth_date")["rule"], "valid");
    let conflicts = ws.json(&["conflicts"], 0);
    let mut kinds: Vec<&str> = conflicts
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert_eq!(c["master_id"], wang["master_id"]);
            c["kind"].as_str().unwrap()
        })
        .collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["deceased_but_active", "different_birth_dates"]);
    assert_eq!(wang["conflicts"].as_array().unwrap().len(), 2);

    // Nothing changed: nothing is rebuilt.
    let again = ws.json(&["reconcile"], 0);
    assert_eq!(again["golden"]["rebuilt"], 0, "{again}");

    // Health records a new phone: only her golden record is rebuilt, as a
    // new version, and the history says what changed, from where.
    ws.write("health.csv", &health_csv("13955556666", "2025-09-01"));
    let report = pull_and_reconcile(ws);
    assert_eq!(
        (
            report["golden"]["rebuilt"].as_u64(),
            report["golden"]["changed"].as_u64()
        ),
        (Some(1), Some(1)),
        "{report}"
    );
    let li2 = show(ws, &id_li());
    assert_eq!(li2["master_id"], li["master_id"]);
    assert_eq!(li2["golden_version"], 2);
    assert!(field(&li2, "phones")["value"]
        .as_str()
        .unwrap()
        .starts_with("139****6666"));
    let history = ws.json(&["history", li["master_id"].as_str().unwrap()], 0);
    let versions = events(&history, "golden");
    assert_eq!(versions.len(), 2, "{history}");
    assert_eq!(history["golden_versions"], 2);
    let change = &versions[1]["detail"]["changes"][0];
    assert_eq!(change["field"], "phones", "{history}");
    assert_eq!(change["source"], "health:h1");
    let text = stdout(&ws.yici(&["history", &id_li()]));
    assert!(
        text.contains("phones: 139****4444, 138****2222 → 139****6666"),
        "{text}"
    );
    assert!(
        !text.contains("13955556666") && !text.contains(&id_li()),
        "{text}"
    );

    // Governance no longer lists 赵雷: his record is gone, and the address
    // only it knew leaves his golden record.
    let zhao = show(ws, &id_zhao());
    assert_eq!(field(&zhao, "current_address")["source"], "gov:g3");
    let gov = std::fs::read_to_string(ws.path("gov.csv")).unwrap();
    let without: String = gov
        .lines()
        .filter(|l| !l.starts_with("g3,"))
        .map(|l| format!("{l}\n"))
        .collect();
    ws.write("gov.csv", &without);
    let report = pull_and_reconcile(ws);
    assert_eq!(report["golden"]["changed"], 1, "{report}");
    let zhao = show(ws, &id_zhao());
    assert_eq!(zhao["golden_version"], 2);
    assert!(
        zhao["fields"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["field"] != "current_address"),
        "{zhao}"
    );
    assert!(zhao["records"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["record"] == "gov:g3" && r["status"] == "gone"));
}

#[test]
fn changed_survivorship_rules_rebuild_every_golden_record() {
    let ws = district();
    pull_and_reconcile(&ws);
    let before = show(&ws, &id_li());
    assert_eq!(field(&before, "phones")["source"], "health:h1");
    let config = std::fs::read_to_string(ws.path("config/yici.toml")).unwrap();
    ws.write(
        "config/yici.toml",
        &format!("{config}\n[survivorship.fields.phones]\nrules = [\"source_priority\"]\nsource_priority = [\"governance\"]\n"),
    );
    let report = ws.json(&["reconcile"], 0);
    assert_eq!(report["golden"]["all"], true, "{report}");
    assert_eq!(report["golden"]["rebuilt"], 7, "{report}");
    let after = show(&ws, &id_li());
    assert_eq!(field(&after, "phones")["source"], "gov:g1");
    assert_eq!(field(&after, "phones")["rule"], "source_priority");
    assert_eq!(field(&after, "phones")["value"], "138****2222, 139****4444");

    ws.edit(
        "config/yici.toml",
        "rules = [\"source_priority\"]",
        "rules = [\"source_priorty\"]",
    );
    let o = ws.yici(&["check"]);
    assert_eq!(o.status.code(), Some(3));
    let said = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        said.contains("config/yici.toml") && said.contains("did you mean `source_priority`"),
        "{said}"
    );
}

/// The pending review between two records, by its pair.
fn review_id(ws: &Workspace, left: &str, right: &str) -> String {
    let list = ws.json(&["review", "list"], 0);
    list.as_array()
        .unwrap()
        .iter()
        .find(|r| r["left"] == left && r["right"] == right)
        .unwrap_or_else(|| panic!("no review {left} ~ {right} in {list}"))["id"]
        .to_string()
}

fn review_decisions_hold(ws: &Workspace) {
    pull_and_reconcile(ws);
    let accept = review_id(ws, "civil:c4", "health:h4");
    let reject = review_id(ws, "civil:c5", "health:h5");
    let shown = stdout(&ws.yici(&["review", "show", &accept]));
    assert!(
        shown.contains("陈静") && shown.contains("year_month"),
        "{shown}"
    );
    assert!(
        shown.contains("136****0003") && !shown.contains("13600000003"),
        "{shown}"
    );

    let done = ws.json(
        &[
            "review",
            "accept",
            &accept,
            "--by",
            "李丽",
            "--reason",
            "同一人，电话核实",
        ],
        0,
    );
    assert_eq!(done["merged"].as_array().unwrap().len(), 1, "{done}");
    ws.json(&["review", "reject", &reject, "--by", "李丽"], 0);
    refused(
        ws,
        &["review", "accept", &accept, "--by", "王芳"],
        "already accepted by 李丽",
    );
    assert_eq!(ws.json(&["review", "list"], 0).as_array().unwrap().len(), 0);

    let l = links(ws);
    assert_eq!(l["civil:c4"], l["health:h4"]);
    assert_ne!(l["civil:c5"], l["health:h5"]);
    // A full re-run keeps the stewards' decisions.
    ws.json(&["reconcile", "--full"], 0);
    assert_eq!(
        links(ws),
        l,
        "stewards' decisions must survive automatic runs"
    );

    let history = ws.json(&["history", "civil:c4"], 0);
    let accepted = events(&history, "review_accepted");
    assert_eq!(accepted.len(), 1, "{history}");
    assert_eq!(accepted[0]["actor"], "李丽");
    assert_eq!(accepted[0]["reason"], "同一人，电话核实");
    assert!(accepted[0]["run_id"].is_i64());
    assert_eq!(events(&history, "absorbed").len(), 1, "{history}");
    assert_eq!(history["absorbed"].as_array().unwrap().len(), 1);
}

#[test]
fn review_decisions_are_sticky() {
    review_decisions_hold(&district());
}

#[test]
fn manual_merges_and_splits_hold_across_full_runs() {
    manual_operations_hold(&district());
}

fn manual_operations_hold(ws: &Workspace) {
    pull_and_reconcile(ws);
    let first = links(ws);
    let li = first["gov:g1"].clone();
    let by = ["--by", "王芳", "--reason", "核对户籍后"];

    // Split civil affairs' 李娜 off; a full run does not join them again.
    let split = ws.json(
        &[&["unmerge", &li, "--records", "civil:c1"][..], &by].concat(),
        0,
    );
    let new_master = split["created"][0].as_str().unwrap().to_owned();
    ws.json(&["reconcile", "--full"], 0);
    let l = links(ws);
    assert_eq!(l["civil:c1"], new_master);
    assert_eq!((&l["gov:g1"], &l["health:h1"]), (&li, &li));

    // Link it back by hand: the emptied master is retired into 李娜's.
    ws.json(&[&["link", "civil:c1", &li][..], &by].concat(), 0);
    ws.json(&["reconcile", "--full"], 0);
    assert_eq!(links(ws)["civil:c1"], li);
    assert_eq!(
        show(ws, &new_master)["master_id"],
        li.as_str(),
        "a tombstone leads to its survivor"
    );

    // Unlink 赵雷's health record, then merge the two masters by hand.
    ws.json(&[&["unlink", "health:h3"][..], &by].concat(), 0);
    ws.json(&["reconcile", "--full"], 0);
    let l = links(ws);
    assert_ne!(l["health:h3"], l["gov:g3"]);
    ws.json(
        &[&["merge", &l["health:h3"], &l["gov:g3"]][..], &by].concat(),
        0,
    );
    ws.json(&["reconcile", "--full"], 0);
    let l = links(ws);
    assert_eq!(l["health:h3"], l["gov:g3"]);
    let zhao = show(ws, &id_zhao());
    assert!(zhao["records"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["decided_by"] == "manual"));

    // Commands that make no sense change nothing and say why.
    refused(
        ws,
        &[&["merge", &li, &li][..], &by].concat(),
        "cannot be merged with itself",
    );
    refused(
        ws,
        &[&["unmerge", &li, "--records", "gov:g3"][..], &by].concat(),
        "is not linked to master",
    );
    refused(
        ws,
        &[&["unlink", "civil:c4"][..], &by].concat(),
        "only record of its master",
    );
    refused(
        ws,
        &[&["link", "gov:g1", "no-such-master"][..], &by].concat(),
        "no master no-such-master",
    );
    let o = ws.yici(&["merge", &li, &l["gov:g3"], "--by", "王芳"]);
    assert_eq!(o.status.code(), Some(2), "a manual merge needs a reason");

    // The audit trail: every manual change names the steward, the reason
    // and its run; every master was created and has a golden version.
    let history = ws.json(&["history", &li], 0);
    for kind in ["split", "linked", "unlinked", "absorbed"] {
        let found = events(&history, kind);
        assert!(!found.is_empty(), "no {kind} event in {history}");
        for e in found.iter().filter(|e| e["actor"] != "resolve") {
            assert_eq!(e["actor"], "王芳", "{e}");
            assert_eq!(e["reason"], "核对户籍后", "{e}");
            assert!(e["run_id"].is_i64(), "{e}");
        }
    }
    for master in links(ws).values() {
        let h = ws.json(&["history", master], 0);
        assert!(!events(&h, "created").is_empty(), "{h}");
        assert!(!events(&h, "golden").is_empty(), "{h}");
    }
}

#[test]
fn residents_are_found_by_variant_pinyin_phone_and_number() {
    let ws = district();
    pull_and_reconcile(&ws);
    let zhao = show(&ws, &id_zhao())["master_id"].clone();
    let hits = |args: &[&str]| -> Vec<Value> {
        let found = ws.json(&[&["search"][..], args].concat(), 0);
        found.as_array().unwrap().clone()
    };
    for args in [
        &["--name", "赵雷"][..],
        &["--name", "趙雷"],
        &["--name", "zhao lei"],
        &["--name", "赵蕾"],
        &["--phone", "135-0000-0005"],
        &["--id", &id_zhao()],
        &["--name", "赵雷", "--birth", "1985"],
    ] {
        let found = hits(args);
        assert_eq!(found.len(), 1, "{args:?}: {found:?}");
        assert_eq!(found[0]["master_id"], zhao, "{args:?}");
    }
    assert_eq!(
        hits(&["--name", "趙雷"])[0]["matched"],
        serde_json::json!(["name", "pinyin"])
    );
    assert_eq!(
        hits(&["--name", "赵蕾"])[0]["matched"],
        serde_json::json!(["pinyin"])
    );
    assert!(hits(&["--name", "赵雷", "--birth", "1990"]).is_empty());
    assert_eq!(ws.yici(&["search"]).status.code(), Some(2));
}

#[test]
fn residents_export_as_csv_jsonl_and_xlsx_masked_unless_revealed() {
    let ws = district();
    pull_and_reconcile(&ws);
    let o = ws.yici(&["export", "residents", "--format", "csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = stdout(&o);
    let mut lines = csv.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("master_id,golden_version,name,id_number"));
    assert_eq!(lines.count(), 7);
    assert!(
        csv.contains("110105********002X") && !csv.contains(&id_li()),
        "{csv}"
    );

    let o = ws.yici(&["export", "residents", "--format", "csv", "--reveal"]);
    assert!(stdout(&o).contains(&id_li()) && stdout(&o).contains("13933334444"));

    let o = ws.yici(&["export", "residents", "--format", "jsonl"]);
    let rows: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 7);
    assert!(rows
        .iter()
        .any(|r| r["name"] == "李娜" && r["phones"] == "139****4444, 138****2222"));

    let path = ws.path("residents.xlsx");
    let o = ws.yici(&[
        "export",
        "residents",
        "--format",
        "xlsx",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(&path).unwrap();
    let sheet = book.worksheet_range("residents").unwrap();
    assert_eq!(sheet.height(), 8);
    assert_eq!(sheet.get((0, 0)).unwrap().to_string(), "master_id");
    refused(
        &ws,
        &["export", "residents", "--format", "xlsx"],
        "needs --output",
    );

    // The reveal was recorded.
    let db = ws.path("var/yici.db");
    let revealed = support::throwaway::on_fresh_thread(|| async move {
        let store = yici::store::Store::open(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let yici::store::Pool::Sqlite(pool) = store.pool() else {
            unreachable!()
        };
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE kind = 'revealed'")
            .fetch_one(pool)
            .await
            .unwrap();
        store.close().await;
        n
    })
    .unwrap();
    assert_eq!(revealed, 1);
}

/// A workspace whose store is a fresh PostgreSQL database, or `None` when
/// no server answers (a failure under CI).
fn on_postgresql() -> Option<(Workspace, support::postgres::TestDb)> {
    let db = support::throwaway::on_fresh_thread(support::postgres::test_db).flatten()?;
    let ws = district();
    ws.edit(
        "config/yici.toml",
        "url = \"${YICI_STORE_URL:-sqlite://var/yici.db}\"",
        &format!("url = \"{}\"", db.url()),
    );
    Some((ws, db))
}

#[test]
fn golden_records_on_postgresql_too() {
    if let Some((ws, _db)) = on_postgresql() {
        golden_records_hold(&ws);
    }
}

#[test]
fn manual_operations_on_postgresql_too() {
    if let Some((ws, _db)) = on_postgresql() {
        manual_operations_hold(&ws);
    }
}

#[test]
fn master_index_on_postgresql_too() {
    let Some((ws, _db)) = on_postgresql() else {
        return;
    };
    review_decisions_hold(&ws);
    let li = show(&ws, &id_li());
    assert_eq!(field(&li, "id_number")["rule"], "valid");
    // 王建国's two, and 陈静's two birth dates once the review joined her.
    assert_eq!(ws.json(&["conflicts"], 0).as_array().unwrap().len(), 3);
    let by = ["--by", "王芳", "--reason", "核对"];
    ws.json(
        &[
            &[
                "unmerge",
                li["master_id"].as_str().unwrap(),
                "--records",
                "civil:c1",
            ][..],
            &by,
        ]
        .concat(),
        0,
    );
    ws.json(&["reconcile", "--full"], 0);
    let l = links(&ws);
    assert_ne!(l["civil:c1"], l["gov:g1"]);
    assert_eq!(
        ws.json(&["search", "--name", "zhaolei"], 0)
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let o = ws.yici(&["export", "residents"]);
    assert_eq!(stdout(&o).lines().count(), 8, "{}", stdout(&o));
}

#[test]
fn a_sources_changed_trust_rebuilds_only_the_masters_holding_its_records() {
    let ws = district();
    pull_and_reconcile(&ws);
    // Masters holding a civil affairs record.
    let civil: std::collections::BTreeSet<String> = links(&ws)
        .into_iter()
        .filter(|(record, _)| record.starts_with("civil:"))
        .map(|(_, master)| master)
        .collect();
    assert!(!civil.is_empty() && civil.len() < 7, "{civil:?}");
    let mapping = std::fs::read_to_string(ws.path("mappings/civil.toml")).unwrap();
    ws.write(
        "mappings/civil.toml",
        &format!("{mapping}\n[trust]\nphones = 0.9\n"),
    );
    let report = ws.json(&["reconcile"], 0);
    assert_eq!(report["golden"]["all"], false, "{report}");
    assert_eq!(report["golden"]["rebuilt"], civil.len(), "{report}");
    // Applied once.
    let again = ws.json(&["reconcile"], 0);
    assert_eq!(again["golden"]["rebuilt"], 0, "{again}");
}

#[test]
fn a_resident_every_department_dropped_is_no_longer_counted_but_kept() {
    let ws = district();
    let first = ws.json(&["sync"], 0);
    let residents = first["district"]["residents"].as_u64().unwrap();
    assert_eq!(first["district"]["without_current_records"], 0, "{first}");
    let zhao = show(&ws, &id_zhao());
    // 赵雷 leaves: governance and health both drop him.
    for (file, prefix) in [("gov.csv", "g3,"), ("health.csv", "h3,")] {
        let text = std::fs::read_to_string(ws.path(file)).unwrap();
        let without: String = text
            .lines()
            .filter(|l| !l.starts_with(prefix))
            .map(|l| format!("{l}\n"))
            .collect();
        ws.write(file, &without);
    }
    let after = ws.json(&["sync"], 0);
    assert_eq!(after["district"]["residents"], residents - 1, "{after}");
    assert_eq!(after["district"]["without_current_records"], 1, "{after}");
    let text = stdout(&ws.yici(&["sync"]));
    assert!(text.contains("已无在册记录"), "{text}");
    // His master keeps its ID and history.
    let kept = show(&ws, zhao["master_id"].as_str().unwrap());
    assert_eq!(kept["master_id"], zhao["master_id"]);
}
