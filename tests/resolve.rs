//! Resolution through the CLI, as an operator runs it: pull two small
//! ledgers written here, `yici reconcile`, and check the master index,
//! explanations, stable IDs across re-runs, merges, splits, stewards'
//! rules, the accuracy harness and the link export — on SQLite and on a
//! real PostgreSQL.

mod support;

use std::collections::BTreeMap;

use support::workspace::{stderr, stdout, Workspace};
use yici::store::{MasterStatus, MatchRuleKind, NewMatchRule, RecordRef, Store};

/// A valid identity number from its first 17 digits.
fn valid(first17: &str) -> String {
    format!(
        "{first17}{}",
        yici::model::id_number::check_digit(first17).unwrap()
    )
}

/// Two ledgers, `registry` (identity numbers) and `clinic` (mostly none),
/// each a CSV connector with one mapping.
fn two_ledgers(registry: &str, clinic: &str) -> Workspace {
    let ws = Workspace::with_shipped_config();
    for name in ["civil_affairs", "health", "hr", "governance"] {
        ws.remove(&format!("connectors/{name}.toml"));
        ws.remove(&format!("mappings/{name}.toml"));
    }
    for name in ["registry", "clinic"] {
        ws.write(
            &format!("connectors/{name}.toml"),
            &format!("department = \"civil_affairs\"\nkind = \"csv\"\n[csv]\npath = \"{name}.csv\"\nencoding = \"utf-8\"\n"),
        );
        ws.write(
            &format!("mappings/{name}.toml"),
            "key = \"编号\"\n[fields]\n\
             name = { from = \"姓名\" }\n\
             id_number = { from = \"身份证\" }\n\
             sex = { from = \"性别\", fallback = \"id_number\" }\n\
             birth_date = { from = \"出生日期\", fallback = \"id_number\" }\n\
             phones = { from = \"电话\" }\n\
             current_address = { from = \"住址\" }\n",
        );
    }
    ws.write("registry.csv", registry);
    ws.write("clinic.csv", clinic);
    ws
}

const HEADER: &str = "编号,姓名,身份证,性别,出生日期,电话,住址\n";
const HOME_1: &str = "鼓楼街道中山社区23幢502室";
const HOME_2: &str = "月湖街道青石社区孝闻街27号3幢101室";

/// Twins, a father and son of the same name, and their clinic records with
/// the usual errors (no identity number, traditional characters, two
/// digits swapped, the old 15-digit number).
fn family() -> (String, String) {
    let twin_a = valid("33020320050101123");
    let twin_b = valid("33020320050101125");
    let son = valid("33020319800506001");
    let father = valid("33020319550203001");
    // Two adjacent sequence digits swapped.
    let mut digits: Vec<char> = son.chars().collect();
    digits.swap(15, 16);
    let son_swapped: String = digits.into_iter().collect();
    assert_ne!(son_swapped, son);
    let father_15 = format!("{}{}", &father[..6], &father[8..17]);
    let registry = format!(
        "{HEADER}1,王大明,{twin_a},男,,13812345678,{HOME_1}\n\
         2,王小明,{twin_b},男,,13812345678,{HOME_1}\n\
         3,张伟,{son},男,,13900001111,{HOME_2}\n\
         4,张伟,{father},男,,13900001111,{HOME_2}\n"
    );
    let clinic = format!(
        "{HEADER}c1,王大明,,男,2005-01-01,13812345678,{HOME_1}\n\
         c2,王小明,,男,2005-01-01,13812345678,{HOME_1}\n\
         c3,張偉,{son_swapped},男,1980-05-06,,{HOME_2}\n\
         c4,张伟,{father_15},男,,13900001111,{HOME_2}\n"
    );
    (registry, clinic)
}

/// `source:key` → master id, from `yici export links`.
fn links(ws: &Workspace) -> BTreeMap<String, String> {
    let o = ws.yici(&["export", "links", "--format", "csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("source,source_key,master_id"));
    lines
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

fn groups(links: &BTreeMap<String, String>) -> Vec<Vec<String>> {
    let mut by_master: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (r, m) in links {
        by_master.entry(m).or_default().push(r.clone());
    }
    let mut out: Vec<Vec<String>> = by_master.into_values().collect();
    out.sort();
    out
}

fn expected_family_groups() -> Vec<Vec<String>> {
    let mut g: Vec<Vec<String>> = [
        ["clinic:c1", "registry:1"],
        ["clinic:c2", "registry:2"],
        ["clinic:c3", "registry:3"],
        ["clinic:c4", "registry:4"],
    ]
    .iter()
    .map(|p| p.iter().map(|s| (*s).to_owned()).collect())
    .collect();
    g.sort();
    g
}

fn family_is_resolved(ws: &Workspace) {
    assert_eq!(
        ws.json(&["pull"], 0)["sources"].as_array().unwrap().len(),
        2
    );
    let report = ws.json(&["reconcile"], 0);
    assert_eq!(report["records"], 8, "{report}");
    assert_eq!(report["masters_created"], 4, "{report}");
    assert_eq!(report["links_changed"], 8, "{report}");
    let first = links(ws);
    assert_eq!(groups(&first), expected_family_groups(), "{first:?}");

    // Nothing new: an incremental run compares nothing and changes nothing.
    let again = ws.json(&["reconcile"], 0);
    assert_eq!(
        (again["changed"].as_u64(), again["pairs"].as_u64()),
        (Some(0), Some(0)),
        "{again}"
    );
    assert_eq!(again["links_changed"], 0);
    // A full run recomputes everything and still changes nothing.
    let full = ws.json(&["reconcile", "--full"], 0);
    assert_eq!(full["compared"], 8, "{full}");
    assert_eq!(
        (
            full["links_changed"].as_u64(),
            full["masters_created"].as_u64(),
            full["masters_merged"].as_u64()
        ),
        (Some(0), Some(0), Some(0)),
        "{full}"
    );
    assert_eq!(links(ws), first, "master ids must be stable across runs");
}

#[test]
fn twins_and_namesakes_stay_apart_and_ids_are_stable() {
    let (registry, clinic) = family();
    let ws = two_ledgers(&registry, &clinic);
    family_is_resolved(&ws);
}

#[test]
fn resolves_on_postgresql_too() {
    let Some(db) = support::throwaway::on_fresh_thread(support::postgres::test_db).flatten() else {
        return;
    };
    let (registry, clinic) = family();
    let ws = two_ledgers(&registry, &clinic);
    ws.edit(
        "config/yici.toml",
        "url = \"${YICI_STORE_URL:-sqlite://var/yici.db}\"",
        &format!("url = \"{}\"", db.url()),
    );
    family_is_resolved(&ws);
    let rows = support::throwaway::on_fresh_thread(|| async move {
        let store = Store::open(db.url()).await.unwrap();
        let summary = store.summary().await.unwrap();
        store.close().await;
        summary
    })
    .unwrap();
    assert_eq!((rows.masters, rows.links), (4, 8));
}

/// The explanation of a pair, without the prior line (it depends on the
/// machine-independent record count only, but keeps golden files short).
fn explain(ws: &Workspace, a: &str, b: &str) -> String {
    let o = ws.yici(&["explain", a, b]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
}

/// Compares with `tests/golden/explain/NAME.txt`; `UPDATE_GOLDEN=1`
/// rewrites the file instead.
fn golden(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/explain")
        .join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    assert_eq!(
        actual,
        expected,
        "explanation differs from {}",
        path.display()
    );
}

#[test]
fn explanations_of_tricky_pairs() {
    let (registry, clinic) = family();
    let ws = two_ledgers(&registry, &clinic);
    ws.json(&["pull"], 0);
    ws.json(&["reconcile"], 0);

    let twins = explain(&ws, "registry:1", "registry:2");
    assert!(
        twins.contains("hard rule: two valid identity numbers"),
        "{twins}"
    );
    assert!(twins.contains("decision: distinct"), "{twins}");
    golden("twins", &twins);

    let father_son = explain(&ws, "registry:3", "registry:4");
    assert!(father_son.contains("decision: distinct"), "{father_son}");
    golden("father_and_son", &father_son);

    let swapped = explain(&ws, "registry:3", "clinic:c3");
    assert!(swapped.contains("transposed"), "{swapped}");
    assert!(swapped.contains("folded"), "{swapped}");
    assert!(swapped.contains("decision: link"), "{swapped}");
    golden("transposed_digits_traditional_name", &swapped);

    let old_number = explain(&ws, "registry:4", "clinic:c4");
    assert!(old_number.contains("upgraded_15"), "{old_number}");
    golden("fifteen_digit_number", &old_number);

    let twin_without_id = explain(&ws, "clinic:c1", "registry:2");
    golden("twin_without_identity_number", &twin_without_id);

    // Masked by default: no identity number or phone appears in full.
    for text in [&twins, &father_son, &swapped, &old_number, &twin_without_id] {
        assert!(
            !text.contains("13812345678") && !text.contains("13900001111"),
            "{text}"
        );
        assert!(!text.contains(&valid("33020320050101123")), "{text}");
    }
    // Masters can be explained too: their strongest pair.
    let l = links(&ws);
    let shown = explain(&ws, &l["registry:3"], &l["registry:4"]);
    assert!(shown.contains("decision: distinct"), "{shown}");
    let bad = ws.yici(&["explain", "registry:3", "nowhere"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("`nowhere` is neither a record"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn homophones_and_households_with_one_candidate_link() {
    // The clinic typed the name through a pinyin input method; the same
    // birth date and household leave one candidate, so it is the person.
    let id = valid("33020319890120463");
    let ws = two_ledgers(
        &format!(
            "{HEADER}1,刘浩,{id},男,,13741251181,{HOME_1}\n2,刘芳,{},女,,13741251181,{HOME_1}\n",
            valid("33020319600303002")
        ),
        &format!("{HEADER}c1,刘昊,,男,1989-01-20,13741251181,{HOME_1}\n"),
    );
    ws.json(&["pull"], 0);
    ws.json(&["reconcile"], 0);
    let l = links(&ws);
    assert_eq!(l["clinic:c1"], l["registry:1"]);
    assert_ne!(l["registry:2"], l["registry:1"]);
    let homophone = explain(&ws, "registry:1", "clinic:c1");
    assert!(homophone.contains("homophone"), "{homophone}");
    golden("homophone_names_one_candidate", &homophone);
}

async fn open(ws: &Workspace) -> Store {
    Store::open(&format!("sqlite://{}", ws.path("var/yici.db").display()))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn merges_keep_the_older_id_and_splits_get_a_new_one() {
    let id = valid("11010519491231002");
    let ws = two_ledgers(
        &format!("{HEADER}1,张三,{id},男,,13812345678,{HOME_1}\n"),
        // Nothing ties the clinic's record to the registry's yet (a birth
        // date one day off, another address).
        &format!("{HEADER}c1,张三,,男,1949-12-30,,{HOME_2}\n"),
    );
    ws.json(&["pull"], 0);
    assert_eq!(ws.json(&["reconcile"], 0)["masters_created"], 2);
    let before = links(&ws);
    let (m1, m2) = (before["registry:1"].clone(), before["clinic:c1"].clone());
    assert_ne!(m1, m2);

    // The clinic records the identity number: the two masters merge.
    ws.write(
        "clinic.csv",
        &format!("{HEADER}c1,张三,{id},男,,,{HOME_2}\n"),
    );
    ws.json(&["pull"], 0);
    let merged = ws.json(&["reconcile"], 0);
    assert_eq!(merged["changed"], 1, "{merged}");
    assert_eq!(merged["masters_merged"], 1, "{merged}");
    let after = links(&ws);
    let survivor = after["clinic:c1"].clone();
    assert_eq!(after["registry:1"], survivor);
    assert!(survivor == m1 || survivor == m2);
    let absorbed = if survivor == m1 { &m2 } else { &m1 };
    let store = open(&ws).await;
    let (s, a) = (
        store.master(&survivor).await.unwrap().unwrap(),
        store.master(absorbed).await.unwrap().unwrap(),
    );
    assert!(s.created_at <= a.created_at, "the older id survives");
    assert_eq!(a.status, MasterStatus::Merged);
    assert_eq!(a.merged_into.as_deref(), Some(survivor.as_str()));
    let kinds: Vec<String> = store
        .events_for_master(absorbed)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, ["created", "golden", "merged"]);

    // The clinic's record turns out to be someone else: it splits off
    // under a new id; the registry keeps the survivor.
    ws.write(
        "clinic.csv",
        &format!(
            "{HEADER}c1,李四,{},女,,,{HOME_2}\n",
            valid("33020319900101002")
        ),
    );
    ws.json(&["pull"], 0);
    let split = ws.json(&["reconcile"], 0);
    assert_eq!(
        (
            split["masters_created"].as_u64(),
            split["masters_split"].as_u64()
        ),
        (Some(1), Some(1)),
        "{split}"
    );
    let last = links(&ws);
    assert_eq!(last["registry:1"], survivor);
    assert_ne!(last["clinic:c1"], survivor);
    assert_ne!(&last["clinic:c1"], absorbed, "ids are never reused");
    let history: Vec<String> = store
        .events_for_master(&survivor)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(
        history.contains(&"absorbed".to_owned()) && history.contains(&"split".to_owned()),
        "{history:?}"
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stewards_rules_hold_over_the_scores() {
    let (registry, clinic) = family();
    let ws = two_ledgers(&registry, &clinic);
    ws.json(&["pull"], 0);
    ws.json(&["reconcile"], 0);
    let store = open(&ws).await;
    let rule = |kind, a: &str, b: &str| NewMatchRule {
        kind,
        left: a.parse::<RecordRef>().unwrap(),
        right: b.parse::<RecordRef>().unwrap(),
        actor: "steward".to_owned(),
        reason: "checked the paper file".to_owned(),
    };
    store
        .add_match_rule(&rule(MatchRuleKind::CannotLink, "registry:3", "clinic:c3"))
        .await
        .unwrap();
    store
        .add_match_rule(&rule(MatchRuleKind::MustLink, "registry:1", "clinic:c4"))
        .await
        .unwrap();
    store.close().await;
    ws.json(&["reconcile", "--full"], 0);
    let l = links(&ws);
    assert_ne!(l["registry:3"], l["clinic:c3"]);
    assert_eq!(l["registry:1"], l["clinic:c4"]);
    let shown = explain(&ws, "registry:3", "clinic:c3");
    assert!(shown.contains("steward: cannot-link by steward"), "{shown}");
    // And they stay that way on the next run.
    ws.json(&["reconcile", "--full"], 0);
    assert_eq!(links(&ws), l);
}

#[test]
fn the_sample_district_resolves_accurately() {
    let ws = Workspace::with_shipped_config();
    let demo = ws.json(&["demo", "--persons", "1500"], 0);
    let masters = demo["staged"]["masters"].as_u64().unwrap();
    assert!(
        (1400..=1600).contains(&masters),
        "{masters} residents for 1,500 persons"
    );
    assert_eq!(
        demo["accuracy"]["false_positives"], 0,
        "{}",
        demo["accuracy"]
    );

    let eval = ws.json(&["eval", "--truth", "sample/truth.csv", "--sweep"], 0);
    let f1 = eval["current"]["f1"].as_f64().unwrap();
    assert!(f1 >= 0.998, "F1 {f1}: {eval}");
    assert_eq!(eval["current"]["false_positives"], 0, "{eval}");
    assert_eq!(eval["unresolved"], 0);
    assert_eq!(eval["sweep"].as_array().unwrap().len(), 17);

    // Every staged record is exported with its master.
    let l = links(&ws);
    let staged: u64 = demo["staged"]["staged"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["active"].as_u64().unwrap())
        .sum();
    assert_eq!(l.len() as u64, staged);
    assert!(l.values().all(|m| !m.is_empty()));

    // Training writes a model that later runs load and that still resolves
    // the district as well.
    let model = ws.json(&["train", "--random-pairs", "100000"], 0);
    assert!(
        model["training"]["sessions"].as_array().unwrap().len() >= 2,
        "{model}"
    );
    assert!(ws.path("var/match-model.toml").exists());
    ws.json(&["reconcile", "--full"], 0);
    let trained = ws.json(&["eval", "--truth", "sample/truth.csv"], 0);
    assert!(
        trained["current"]["f1"].as_f64().unwrap() >= 0.998,
        "{trained}"
    );

    // Blocking reports its rules with masked keys.
    let blocking = ws.json(&["blocking", "--top", "3"], 0);
    assert_eq!(blocking["rules"].as_array().unwrap().len(), 6);
    let text = blocking.to_string();
    let longest_digit_run = text
        .split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    assert!(longest_digit_run < 7, "unmasked number in {text}");

    // A broken model file is a precise error, not a silent default.
    ws.write(
        "var/match-model.toml",
        "version = 1\nduplicates_per_record = 1.5\n[fields.name.exact]\nm = 2\nu = 0.1\n",
    );
    let o = ws.yici(&["reconcile"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("match-model.toml: fields.id_number.exact: missing"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn matching_settings_are_validated() {
    let ws = Workspace::with_shipped_config();
    ws.edit(
        "config/yici.toml",
        "lower_threshold = 4.0",
        "lower_threshold = 4.0\nblocking = [\"id_number\", \"phones\"]",
    );
    let o = ws.yici(&["check"]);
    assert_eq!(o.status.code(), Some(3));
    let said = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        said.contains("config/yici.toml:20:1: key `matching.blocking`: unknown blocking rule `phones`; did you mean `phone`?"),
        "{said}"
    );
}

#[test]
fn a_resolve_killed_at_any_moment_is_redone_cleanly() {
    let ws = Workspace::with_shipped_config();
    ws.json(&["demo", "--persons", "6000"], 0);
    // A second store over the same sample, staged but not resolved (the
    // HR API only runs during the demo, so that source fails: exit 4).
    ws.edit(
        "config/yici.toml",
        "sqlite://var/yici.db",
        "sqlite://var/killed.db",
    );
    ws.json(&["pull"], 4);
    for delay_ms in [30, 80, 130, 180, 230, 280, 330] {
        let mut child = ws.command(&["-q", "reconcile"]).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL: no cleanup, the lock stays behind
        let _ = child.wait();
    }
    // A live holder (this test process) keeps others out; a holder that is
    // gone (as a kill at the wrong moment leaves it) is taken over, not
    // waited on for its whole lease.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let hold = |holder: String| {
        let url = format!("sqlite://{}", ws.path("var/killed.db").display());
        support::throwaway::on_fresh_thread(move || async move {
            let store = Store::open(&url).await.unwrap();
            if let Some(current) = store.lock_holder("resolve").await.unwrap() {
                store.release_lock("resolve", &current).await.unwrap();
            }
            let hour = std::time::Duration::from_secs(3600);
            assert!(store
                .try_acquire_lock("resolve", &holder, hour)
                .await
                .unwrap());
            store.close().await;
        });
    };
    hold(format!("{}:{}", host.trim(), std::process::id()));
    let busy = ws.yici(&["reconcile"]);
    assert_eq!(busy.status.code(), Some(1));
    assert!(
        stderr(&busy).contains("another resolve or steward command is changing the master index"),
        "{}",
        stderr(&busy)
    );
    hold(format!("{}:{}", host.trim(), u32::MAX - 1));
    let done = ws.json(&["reconcile"], 0);
    let l = links(&ws);
    assert!(!l.is_empty());
    assert!(l.values().all(|m| !m.is_empty()), "every record linked");
    assert_eq!(ws.json(&["reconcile"], 0)["changed"], 0, "{done}");
    let full = ws.json(&["reconcile", "--full"], 0);
    assert_eq!(full["links_changed"], 0, "{full}");
    assert_eq!(links(&ws), l);
    let eval = ws.json(&["eval", "--truth", "sample/truth.csv"], 0);
    assert_eq!(eval["current"]["false_positives"], 0, "{eval}");
    assert!(eval["current"]["f1"].as_f64().unwrap() >= 0.998, "{eval}");
}

#[test]
fn records_gone_from_their_source_keep_their_master() {
    let (registry, clinic) = family();
    let ws = two_ledgers(&registry, &clinic);
    ws.json(&["pull"], 0);
    ws.json(&["reconcile"], 0);
    let before = links(&ws);
    // The clinic drops its record of one twin: marked gone, not deleted.
    let fewer: String = clinic
        .lines()
        .filter(|l| !l.starts_with("c2,"))
        .map(|l| format!("{l}\n"))
        .collect();
    ws.write("clinic.csv", &fewer);
    let pulled = ws.json(&["pull", "clinic"], 0);
    assert_eq!(pulled["sources"][0]["gone"], 1, "{pulled}");
    let report = ws.json(&["reconcile"], 0);
    assert_eq!(
        (report["records"].as_u64(), report["changed"].as_u64()),
        (Some(7), Some(0)),
        "{report}"
    );
    // Still exported with the master it had; nothing else moved.
    assert_eq!(links(&ws), before);
    let full = ws.json(&["reconcile", "--full"], 0);
    assert_eq!(full["links_changed"], 0, "{full}");
    assert_eq!(links(&ws), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn records_staged_without_match_keys_are_resolved_and_get_one() {
    let (registry, clinic) = family();
    let ws = two_ledgers(&registry, &clinic);
    ws.json(&["pull"], 0);
    // As a store staged before match keys existed.
    let store = open(&ws).await;
    let yici::store::Pool::Sqlite(pool) = store.pool() else {
        unreachable!("the workspace store is SQLite")
    };
    sqlx::query("UPDATE staged_records SET match_key = NULL")
        .execute(pool)
        .await
        .unwrap();
    ws.json(&["reconcile"], 0);
    assert_eq!(groups(&links(&ws)), expected_family_groups());
    let missing: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM staged_records WHERE match_key IS NULL")
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(missing, 0, "derived match keys are stored back");
    store.close().await;
}
