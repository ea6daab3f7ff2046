//! The `yici` binary as an operator runs it: against the shipped example
//! configuration, against broken copies of it, and on the sample district.

use std::path::Path;
use std::process::Output;

mod support;

use support::workspace::{stderr, stdout, yici_command, Workspace};

fn yici_in(dir: &Path, args: &[&str]) -> Output {
    yici_command(dir, args).output().expect("run yici")
}

fn line_of(path: &Path, needle: &str) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle present")
        + 1
}

#[test]
fn help_reads_well_and_documents_exit_codes() {
    let o = yici_in(Path::new(env!("CARGO_MANIFEST_DIR")), &["--help"]);
    assert!(o.status.success());
    let text = stdout(&o);
    for needle in [
        "check",
        "demo",
        "--config",
        "--json",
        "Exit codes",
        "3  configuration invalid",
    ] {
        assert!(text.contains(needle), "help lacks {needle:?}:\n{text}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let o = yici_in(Path::new(env!("CARGO_MANIFEST_DIR")), &["chek"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("check"), "{}", stderr(&o));
}

#[test]
fn check_passes_on_the_shipped_configuration() {
    let o = yici_in(Path::new(env!("CARGO_MANIFEST_DIR")), &["check"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("Configuration OK: 4 connectors, 4 mappings"),
        "{text}"
    );
}

#[test]
fn check_json_lists_connectors() {
    let ws = Workspace::with_shipped_config();
    let o = ws.yici(&["check", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(
        report["connectors"],
        serde_json::json!(["civil_affairs", "governance", "health", "hr"])
    );
}

#[test]
fn check_names_file_line_and_key_of_a_typo() {
    let ws = Workspace::with_shipped_config();
    ws.edit("config/yici.toml", "upper_threshold", "uper_threshold");
    let line = line_of(&ws.path("config/yici.toml"), "uper_threshold");
    let o = ws.yici(&["check"]);
    assert_eq!(o.status.code(), Some(3));
    let text = stdout(&o);
    let expected = format!("config/yici.toml:{line}:1: key `matching.uper_threshold`: unknown key `uper_threshold`; did you mean `upper_threshold`?");
    assert!(
        text.contains(&expected),
        "expected {expected:?} in:\n{text}"
    );
}

#[test]
fn check_reports_every_broken_file_at_once() {
    let ws = Workspace::with_shipped_config();
    ws.edit("mappings/health.toml", "birth_date = {", "brith_date = {");
    ws.edit(
        "connectors/hr.toml",
        "${YICI_HR_APP_SECRET:-sample-district-gateway}",
        "${YICI_HR_APP_SECRET}",
    );
    ws.edit(
        "connectors/governance.toml",
        "table = \"rkxx\"",
        "table = \"rkxx; drop table rkxx\"",
    );
    let mapping_line = line_of(&ws.path("mappings/health.toml"), "brith_date");
    let secret_line = line_of(&ws.path("connectors/hr.toml"), "secret = ");
    let o = ws.yici(&["check", "--json"]);
    assert_eq!(o.status.code(), Some(3));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["ok"], false);
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 3, "{errors:#?}");
    let find = |file: &str| {
        errors
            .iter()
            .find(|e| e["file"].as_str().unwrap().ends_with(file))
            .unwrap_or_else(|| panic!("no error for {file}: {errors:#?}"))
    };
    let hr = find("connectors/hr.toml");
    assert_eq!(hr["line"], secret_line);
    assert_eq!(hr["key"], "http.auth.secret");
    assert!(hr["message"]
        .as_str()
        .unwrap()
        .contains("YICI_HR_APP_SECRET is not set"));
    let health = find("mappings/health.toml");
    assert_eq!(health["line"], mapping_line);
    assert_eq!(health["key"], "fields.brith_date");
    assert!(health["message"]
        .as_str()
        .unwrap()
        .contains("did you mean `birth_date`"));
    let gov = find("connectors/governance.toml");
    assert_eq!(gov["key"], "sql.table");
}

#[test]
fn secrets_come_from_the_environment_and_never_print() {
    let ws = Workspace::with_shipped_config();
    ws.edit(
        "connectors/hr.toml",
        "${YICI_HR_APP_SECRET:-sample-district-gateway}",
        "${YICI_HR_APP_SECRET}",
    );
    let o = ws
        .command(&["check", "-vv"])
        .env("YICI_HR_APP_SECRET", "very-secret-value")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stdout(&o).contains("very-secret-value"));
    assert!(!stderr(&o).contains("very-secret-value"));
}

#[test]
fn check_connect_reaches_sources_and_reports_the_missing_ones() {
    let ws = Workspace::with_shipped_config();
    // Before `yici demo` the sample files do not exist: each file source fails
    // with its path; the store is created and reachable.
    let o = ws.yici(&["check", "--connect", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let probes = report["connections"].as_array().unwrap();
    let probe = |name: &str| probes.iter().find(|p| p["name"] == name).unwrap().clone();
    assert_eq!(probe("store")["ok"], true, "{probes:#?}");
    assert_eq!(probe("health")["ok"], false);
    assert!(probe("health")["detail"]
        .as_str()
        .unwrap()
        .contains("jmjkda.csv"));
}

/// Every file below `dir` with its bytes, keyed by relative path. The SQLite
/// register is left out: its pages carry no meaning-free guarantee of layout.
fn files_below(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_none_or(|e| e != "db") {
                let rel = path.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

#[test]
fn demo_writes_the_four_sources_identically_for_a_seed() {
    let a = Workspace::with_shipped_config();
    let b = Workspace::with_shipped_config();
    let c = Workspace::with_shipped_config();
    let oa = a.yici(&["demo", "--persons", "2000", "--seed", "11", "--json"]);
    assert_eq!(oa.status.code(), Some(0), "{}", stderr(&oa));
    let ob = b.yici(&["demo", "--persons", "2000", "--seed", "11"]);
    assert_eq!(ob.status.code(), Some(0), "{}", stderr(&ob));
    let oc = c.yici(&["demo", "--persons", "2000", "--seed", "12"]);
    assert_eq!(oc.status.code(), Some(0), "{}", stderr(&oc));

    let report: serde_json::Value = serde_json::from_slice(&oa.stdout).unwrap();
    assert_eq!(report["sample"]["persons"], 2000);
    let sources = report["sample"]["sources"].as_array().unwrap();
    let departments: Vec<&str> = sources
        .iter()
        .map(|s| s["department"].as_str().unwrap())
        .collect();
    assert_eq!(departments, ["civil_affairs", "health", "hr", "governance"]);

    let files_a = files_below(&a.path("sample"));
    let files_b = files_below(&b.path("sample"));
    for expected in [
        "civil_affairs/ledger.xlsx",
        "health/jmjkda.csv",
        "hr/pages/page-0001.json",
        "governance/schema.sql",
        "truth.csv",
    ] {
        assert!(
            files_a.contains_key(expected),
            "missing {expected}: {:?}",
            files_a.keys()
        );
    }
    assert!(a.path("sample/governance/population.db").exists());
    assert_eq!(
        files_a.keys().collect::<Vec<_>>(),
        files_b.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &files_a {
        assert!(
            bytes == &files_b[name],
            "{name} differs between two runs with the same seed"
        );
    }
    let files_c = files_below(&c.path("sample"));
    assert_ne!(
        files_a["truth.csv"], files_c["truth.csv"],
        "another seed, another district"
    );

    // The ground truth covers every record written, source by source.
    let truth = String::from_utf8(files_a["truth.csv"].clone()).unwrap();
    let mut lines = truth.lines();
    assert_eq!(lines.next(), Some("source,source_key,person_id"));
    let rows: Vec<&str> = lines.collect();
    for source in sources {
        let name = source["department"].as_str().unwrap();
        let n = rows
            .iter()
            .filter(|r| r.starts_with(&format!("{name},")))
            .count();
        assert_eq!(n as u64, source["records"].as_u64().unwrap(), "{name}");
    }
    // The pull is recorded as a run in the embedded store.
    assert!(a.path("var/yici.db").exists());
    assert_eq!(report["pull_run_id"], 1);
}

#[test]
fn demo_prints_a_short_summary_without_personal_data() {
    let ws = Workspace::with_shipped_config();
    let o = ws.yici(&["demo", "--persons", "300"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    for needle in [
        "Sample district",
        "民政 civil_affairs",
        "卫健 health",
        "人社 hr",
        "综治 governance",
        "Pulled into sqlite://var/yici.db",
        "staged",
    ] {
        assert!(text.contains(needle), "summary lacks {needle:?}:\n{text}");
    }
    // No identity number (18 digits in a row) reaches the summary or the log.
    let all = format!("{text}{}", stderr(&o));
    let digits_run = all
        .as_bytes()
        .split(|b| !b.is_ascii_digit())
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0);
    assert!(digits_run < 15, "a long digit run in output:\n{all}");
}

#[test]
fn check_runs_mapping_examples_and_shows_the_difference() {
    let ws = Workspace::with_shipped_config();
    ws.edit(
        "mappings/hr.toml",
        "expect = { id_number = \"11010519491231002X\", name = \"王芳\"",
        "expect = { id_number = \"11010519491231002X\", name = \"王芬\"",
    );
    let o = ws.yici(&["check"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("mappings/hr.toml"), "{text}");
    assert!(text.contains("examples[0]"), "{text}");
    assert!(text.contains("expected \"王芬\", got \"王芳\""), "{text}");
}

#[test]
fn status_and_runs_show_jobs_failures_schedules_and_queues() {
    let ws = Workspace::with_shipped_config();
    // The sample's files are missing: every pull fails, and says so.
    let failed = ws.yici(&["pull", "health"]);
    assert_eq!(failed.status.code(), Some(4), "{}", stderr(&failed));
    ws.json(&["reconcile"], 0);
    let status = ws.json(&["status"], 0);
    let jobs: Vec<&str> = status["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job"].as_str().unwrap())
        .collect();
    assert_eq!(jobs, ["pull", "resolve"], "{status}");
    assert_eq!(status["jobs"][1]["status"], "succeeded");
    // The shipped schedules: sync nightly, push every ten minutes, and
    // each connector's pull.
    for job in ["sync", "push", "pull health", "pull governance"] {
        assert!(status["next_runs"][job].is_string(), "{job}: {status}");
    }
    assert_eq!(status["outbox_pending"], 0);
    let text = stdout(&ws.yici(&["status"]));
    assert!(
        text.contains("next runs (China time):") && text.contains("sync"),
        "{text}"
    );

    let all = ws.json(&["runs"], 0);
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    let only_resolve = ws.json(&["runs", "--job", "resolve"], 0);
    assert_eq!(only_resolve.as_array().unwrap().len(), 1);
    assert!(ws
        .json(&["runs", "--failed"], 0)
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["status"] != "succeeded"));
}
