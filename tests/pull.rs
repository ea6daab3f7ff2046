//! Pulling department systems into the store, as an operator runs it: the
//! sample district end to end, unchanged re-pulls, quarantine and restage,
//! a source failing midway, and a pull killed at random moments.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use support::workspace::{stderr, Workspace};
use yici::config::{document, Department, Mapping};
use yici::connector::{Batch, BoxFuture, ConnectorError, Origin, PullMode, RawRecord, Source};
use yici::mapping::Standardizer;
use yici::store::Store;
use yici::sync::pull::pull_from;

/// Records written per source, from the demo's JSON report.
fn written(report: &serde_json::Value) -> BTreeMap<String, u64> {
    report["sample"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["department"].as_str().unwrap().to_string(),
                s["records"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_sample_district_is_pulled_with_zero_silent_drops() {
    let ws = Workspace::with_shipped_config();
    let report = ws.json(&["demo", "--persons", "1500"], 0);
    let written = written(&report);
    let pulls = report["pulls"].as_array().unwrap();
    assert_eq!(pulls.len(), 4);
    for pull in pulls {
        let source = pull["source"].as_str().unwrap();
        let pulled = pull["pulled"].as_u64().unwrap();
        let staged = pull["new"].as_u64().unwrap()
            + pull["changed"].as_u64().unwrap()
            + pull["unchanged"].as_u64().unwrap();
        let quarantined = pull["quarantined"].as_u64().unwrap();
        assert_eq!(
            pulled, written[source],
            "{source}: every record written is read"
        );
        assert_eq!(
            pulled,
            staged + quarantined,
            "{source}: pulled = staged + quarantined"
        );
        assert!(pull.get("error").is_none(), "{source}: {pull}");
        // And the store agrees.
        let active = report["staged"]["staged"][source]["active"]
            .as_u64()
            .unwrap();
        assert_eq!(active, staged, "{source}: staged rows in the store");
    }
    // Nothing changed: files are skipped by fingerprint; nothing is gone.
    let again = ws.json(&["pull", "health", "civil_affairs"], 0);
    for pull in again["sources"].as_array().unwrap() {
        assert_eq!(pull["mode"], "unchanged", "{pull}");
        assert_eq!(pull["pulled"], 0);
    }
    // --full re-reads them and finds every record unchanged.
    let full = ws.json(&["pull", "--full", "health"], 0);
    let health = &full["sources"][0];
    assert_eq!(health["mode"], "snapshot");
    assert_eq!(
        health["unchanged"].as_u64().unwrap() + health["quarantined"].as_u64().unwrap(),
        written["health"]
    );
    assert_eq!(health["new"], 0);
    assert_eq!(health["gone"], 0);
}

#[test]
fn pull_names_unknown_sources_and_reports_unreachable_ones() {
    let ws = Workspace::with_shipped_config();
    let o = ws.yici(&["pull", "helth"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no connector named `helth`; did you mean `health`?"),
        "{}",
        stderr(&o)
    );
    // No sample written yet: each source fails with its own reason, the run
    // goes on, and the exit code says "partial".
    let report = ws.json(&["pull", "health", "governance"], 4);
    for pull in report["sources"].as_array().unwrap() {
        let error = &pull["error"];
        assert_eq!(error["class"], "config", "{pull}");
    }
}

/// A ledger of our own: one CSV connector and its mapping.
fn ledger_workspace(rows: &str) -> Workspace {
    let ws = Workspace::with_shipped_config();
    for name in ["civil_affairs", "health", "hr", "governance"] {
        ws.remove(&format!("connectors/{name}.toml"));
        ws.remove(&format!("mappings/{name}.toml"));
    }
    ws.write(
        "connectors/ledger.toml",
        "department = \"civil_affairs\"\nkind = \"csv\"\n[csv]\npath = \"ledger.csv\"\nencoding = \"utf-8\"\n",
    );
    ws.write(
        "mappings/ledger.toml",
        "key = \"编号\"\n[fields]\nname = { from = \"名字\" }\nid_number = { from = \"身份证\" }\nphones = { from = \"电话\" }\n",
    );
    ws.write("ledger.csv", rows);
    ws
}

#[test]
fn unusable_records_are_quarantined_with_masked_reasons_and_restaged_after_a_fix() {
    let ws = ledger_workspace(
        "编号,姓名,身份证,电话\n1,张伟,11010519491231002X,13812345678\n2,,,\n3,李娜,110105194912310021,\n",
    );
    // The mapping reads the name from a column that does not exist: nothing
    // can be matched, so everything is quarantined, not dropped.
    let report = ws.json(&["pull"], 0);
    assert_eq!(report["sources"][0]["pulled"], 3);
    assert_eq!(report["sources"][0]["quarantined"], 3);

    let listed = ws.json(&["quarantine", "ledger"], 0);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 3);
    let text = serde_json::to_string(listed).unwrap();
    assert!(text.contains("name"), "{text}");
    assert!(
        !text.contains("11010519491231002X"),
        "identity numbers are masked: {text}"
    );
    assert!(!text.contains("13812345678"), "phones are masked: {text}");
    assert!(text.contains("110105********002X"), "{text}");

    // Fix the mapping and restage from the stored payloads: no re-pull.
    ws.edit("mappings/ledger.toml", "from = \"名字\"", "from = \"姓名\"");
    std::fs::remove_file(ws.path("ledger.csv")).unwrap();
    let restaged = ws.json(&["restage", "ledger"], 0);
    assert_eq!(restaged[0]["released"], 2, "{restaged}");
    assert_eq!(
        restaged[0]["quarantined"], 1,
        "row 2 has no name: {restaged}"
    );
    let listed = ws.json(&["quarantine"], 0);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["source_key"], "2");
}

#[test]
fn a_wrong_declared_encoding_is_reported_and_nothing_is_staged() {
    let ws = ledger_workspace("");
    let (bytes, _, _) = encoding_rs::GB18030
        .encode("编号,姓名,身份证,电话\n1,张伟,11010519491231002X,13812345678\n");
    std::fs::write(ws.path("ledger.csv"), bytes).unwrap();
    ws.edit("mappings/ledger.toml", "from = \"名字\"", "from = \"姓名\"");
    let report = ws.json(&["pull"], 4);
    let pull = &report["sources"][0];
    assert_eq!(pull["error"]["class"], "data", "{pull}");
    assert!(
        pull["error"]["message"]
            .as_str()
            .unwrap()
            .contains("gb18030"),
        "{pull}"
    );
    assert_eq!(pull["new"], 0);
    // Declared right, it pulls.
    ws.edit("connectors/ledger.toml", "utf-8", "gb18030");
    let report = ws.json(&["pull"], 0);
    assert_eq!(report["sources"][0]["new"], 1);
}

/// A source that delivers `batches` batches of `per_batch` records, each
/// carrying its cursor, after `start`, and fails after `fail_after` batches.
struct FlakySource {
    next: usize,
    end: usize,
    per_batch: usize,
    fail_after: Option<usize>,
    delivered: usize,
    mode: PullMode,
    panic_after: Option<usize>,
}

impl FlakySource {
    fn new(next: usize, end: usize, fail_after: Option<usize>) -> Self {
        FlakySource {
            next,
            end,
            per_batch: 100,
            fail_after,
            delivered: 0,
            mode: PullMode::Incremental,
            panic_after: None,
        }
    }
}

impl Source for FlakySource {
    fn mode(&self) -> PullMode {
        self.mode
    }

    fn next_batch(&mut self) -> BoxFuture<'_, Result<Option<Batch>, ConnectorError>> {
        Box::pin(async move {
            if Some(self.delivered) == self.fail_after {
                return Err(ConnectorError::Transient("connection reset by peer".into()));
            }
            assert!(
                Some(self.delivered) != self.panic_after,
                "a bug in a connector"
            );
            if self.next >= self.end {
                return Ok(None);
            }
            let last = (self.next + self.per_batch).min(self.end);
            let records = (self.next..last)
                .map(|i| RawRecord {
                    fields: serde_json::json!({"id": i, "name": format!("张{}", cjk_digit(i)), "phone": format!("138{i:08}")})
                        .as_object()
                        .unwrap()
                        .clone(),
                    origin: Origin { row: Some(i as u64), ..Origin::default() },
                })
                .collect();
            self.next = last;
            self.delivered += 1;
            Ok(Some(Batch {
                records,
                problems: vec![],
                cursor: Some(format!("{:08}", last - 1)),
            }))
        })
    }
}

fn cjk_digit(i: usize) -> String {
    const DIGITS: [char; 10] = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];
    i.to_string()
        .chars()
        .map(|c| DIGITS[c.to_digit(10).unwrap_or(0) as usize])
        .collect()
}

/// A file store in a temp folder (kept alive by the returned guard).
async fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("y.db").display());
    (dir, Store::open(&url).await.unwrap())
}

fn flaky_standardizer() -> Arc<Standardizer> {
    let text =
        "key = \"id\"\n[fields]\nname = { from = \"name\" }\nphones = { from = \"phone\" }\n";
    let doc = document::parse(Path::new("mappings/flaky.toml"), text).unwrap();
    let mapping = Mapping::resolve("flaky", doc).unwrap();
    Arc::new(Standardizer::compile(&mapping).unwrap())
}

#[tokio::test]
async fn a_source_dying_midway_keeps_its_cursor_and_the_next_pull_completes_without_duplicates() {
    let (_dir, store) = temp_store().await;
    let standardizer = flaky_standardizer();

    let run = store.begin_run("pull").await.unwrap();
    let source = FlakySource::new(0, 1000, Some(3));
    let report = pull_from(
        &store,
        run,
        "flaky",
        Department::Other,
        Box::new(source),
        Arc::clone(&standardizer),
    )
    .await;
    assert_eq!(report.error.as_ref().unwrap().class, "transient");
    assert_eq!(report.new, 300, "the three complete batches are staged");
    assert_eq!(
        store.cursor("flaky").await.unwrap().as_deref(),
        Some("00000299")
    );

    // Resume after the committed cursor, >= semantics: re-deliver the last row.
    let run = store.begin_run("pull").await.unwrap();
    let source = FlakySource::new(299, 1000, None);
    let report = pull_from(
        &store,
        run,
        "flaky",
        Department::Other,
        Box::new(source),
        standardizer,
    )
    .await;
    assert!(report.error.is_none(), "{:?}", report.error);
    assert_eq!(report.new, 700);
    assert_eq!(report.unchanged, 1);
    assert_eq!(store.count_staged("flaky").await.unwrap().active, 1000);
    assert_eq!(
        store.cursor("flaky").await.unwrap().as_deref(),
        Some("00000999")
    );
}

#[tokio::test]
async fn a_connector_crashing_in_a_full_pull_marks_nothing_gone() {
    let (_dir, store) = temp_store().await;
    let standardizer = flaky_standardizer();
    let snapshot = |panic_after| FlakySource {
        mode: PullMode::Snapshot,
        panic_after,
        ..FlakySource::new(0, 500, None)
    };

    let run = store.begin_run("pull").await.unwrap();
    let report = pull_from(
        &store,
        run,
        "s",
        Department::Other,
        Box::new(snapshot(None)),
        Arc::clone(&standardizer),
    )
    .await;
    assert!(report.error.is_none());
    assert_eq!(report.new, 500);

    // The next full pull dies after two batches: the 300 records it did not
    // reach are still there, not gone.
    let run = store.begin_run("pull").await.unwrap();
    let report = pull_from(
        &store,
        run,
        "s",
        Department::Other,
        Box::new(snapshot(Some(2))),
        standardizer,
    )
    .await;
    assert!(
        report
            .error
            .as_ref()
            .unwrap()
            .message
            .contains("stopped unexpectedly"),
        "{:?}",
        report.error
    );
    assert_eq!(report.gone, 0);
    let counts = store.count_staged("s").await.unwrap();
    assert_eq!((counts.active, counts.gone), (500, 0));
}

#[test]
fn a_pull_killed_at_any_moment_restarts_with_no_duplicates_and_no_loss() {
    let ws = Workspace::with_shipped_config();
    let report = ws.json(&["demo", "--persons", "6000"], 0);
    let written = written(&report);
    // Without the sample HR API (served only during `yici demo`) pull the
    // three file and database sources, into a fresh store each round.
    ws.remove("connectors/hr.toml");
    ws.remove("mappings/hr.toml");
    for (round, delay_ms) in [40u64, 120, 250, 400].into_iter().enumerate() {
        let store = format!(
            "sqlite://{}",
            ws.path(&format!("var/killed-{round}.db")).display()
        );
        let mut child = ws
            .command(&["-q", "pull"])
            .env("YICI_STORE_URL", &store)
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let o = ws
            .command(&["pull", "--json"])
            .env("YICI_STORE_URL", &store)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "round {round}: {}", stderr(&o));
        let rt = tokio::runtime::Runtime::new().unwrap();
        let counts = rt.block_on(async {
            let store = Store::open(&store).await.unwrap();
            let mut counts = BTreeMap::new();
            for source in ["civil_affairs", "governance", "health"] {
                let staged = store.count_staged(source).await.unwrap();
                let quarantined = store
                    .list_quarantine(Some(source), 1_000_000)
                    .await
                    .unwrap()
                    .len() as u64;
                counts.insert(source, (staged.active, staged.gone, quarantined));
            }
            counts
        });
        for (source, (active, gone, quarantined)) in counts {
            assert_eq!(
                active + quarantined,
                written[source],
                "round {round} ({delay_ms} ms): {source}"
            );
            assert_eq!(gone, 0, "round {round}: {source}");
        }
    }
}

#[test]
fn records_deleted_at_the_source_are_marked_gone_never_deleted() {
    let ws = Workspace::with_shipped_config();
    ws.json(&["demo", "--persons", "400"], 0);

    // Three people leave the governance register; one health record goes.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let url = format!(
            "sqlite://{}",
            ws.path("sample/governance/population.db").display()
        );
        let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let deleted = sqlx::query(
            "DELETE FROM rkxx WHERE rkid IN (SELECT rkid FROM rkxx ORDER BY rkid LIMIT 3)",
        )
        .execute(&mut db)
        .await
        .unwrap();
        assert_eq!(deleted.rows_affected(), 3);
    });
    let csv = ws.path("sample/health/jmjkda.csv");
    let bytes = std::fs::read(&csv).unwrap();
    let second_line_end = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(1)
        .unwrap()
        .0;
    let first_line_end = bytes.iter().position(|b| *b == b'\n').unwrap();
    let mut shorter = bytes[..=first_line_end].to_vec();
    shorter.extend_from_slice(&bytes[second_line_end + 1..]);
    std::fs::write(&csv, shorter).unwrap();

    // An incremental pull cannot see deletions; a snapshot can.
    let incremental = ws.json(&["pull", "governance"], 0);
    assert_eq!(incremental["sources"][0]["gone"], 0);
    let full = ws.json(&["pull", "--full", "governance"], 0);
    assert_eq!(full["sources"][0]["gone"], 3, "{full}");
    let health = ws.json(&["pull", "health"], 0);
    assert_eq!(health["sources"][0]["mode"], "snapshot");
    assert_eq!(health["sources"][0]["gone"], 1, "{health}");

    rt.block_on(async {
        let url = format!("sqlite://{}", ws.path("var/yici.db").display());
        let store = Store::open(&url).await.unwrap();
        assert_eq!(store.count_staged("governance").await.unwrap().gone, 3);
        assert_eq!(store.count_staged("health").await.unwrap().gone, 1);
    });
}
