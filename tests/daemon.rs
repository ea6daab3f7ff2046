//! `yici run`, the daemon, as systemd would run it: it serves its health
//! endpoints, runs the whole cycle when its schedule says so, reports it in
//! the metrics, and stops cleanly on SIGTERM.

mod support;

use std::time::Duration;

use support::daemon::{free_port, get, get_with, until};
use support::workspace::{stderr, Workspace};

#[test]
fn the_daemon_runs_its_schedule_serves_health_and_stops_on_sigterm() {
    let ws = Workspace::with_shipped_config();
    // The sample district's files, and its HR system's API served as its
    // own process, where the example configuration says (on a free port).
    ws.json(&["demo", "--persons", "200"], 0);
    let hr_port = free_port();
    ws.edit(
        "connectors/hr.toml",
        "http://127.0.0.1:18080",
        &format!("http://127.0.0.1:{hr_port}"),
    );
    let mut hr_api = ws
        .command(&["demo", "--serve-hr"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    until("the sample HR API", || {
        std::net::TcpStream::connect(("127.0.0.1", hr_port)).ok()
    });
    // The whole cycle every two seconds (a 6-field expression).
    ws.edit(
        "config/yici.toml",
        "sync = \"30 1 * * *\"",
        "sync = \"*/2 * * * * *\"",
    );
    let port = free_port();
    let daemon = ws
        .command(&["run", "--listen", &format!("127.0.0.1:{port}")])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (status, body) = until("/healthz", || get(port, "/healthz"));
    assert!(status.contains("200"), "{status}");
    assert_eq!(body.trim(), "ok");
    assert!(get(port, "/readyz").unwrap().0.contains("200"));

    // The cycle ran: a resolve run is recorded, and the metrics say so.
    until("a scheduled sync", || {
        let runs = ws.json(&["runs", "--job", "resolve"], 0);
        (!runs.as_array().unwrap().is_empty()).then_some(())
    });
    let metrics = until("the sync in the metrics", || {
        let (_, body) = get(port, "/metrics")?;
        body.contains("yici_last_run_succeeded{job=\"sync\"} 1")
            .then_some(body)
    });
    assert!(metrics.contains("yici_pending_reviews"), "{metrics}");
    // All four departments pulled, none failed, the HR API included.
    for source in ["civil_affairs", "governance", "health", "hr"] {
        let line = format!("yici_source_last_pull_failed{{source=\"{source}\"}} 0");
        assert!(metrics.contains(&line), "{line} missing in\n{metrics}");
    }
    for line in [
        "yici_last_success_timestamp_seconds{job=\"resolve\"}",
        "yici_last_run_duration_seconds{job=\"push\"}",
        "yici_last_run_failed{job=\"resolve\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} missing in\n{metrics}");
    }

    // The status document, as `yici status --json` has it.
    let (_, body) = get(port, "/status").unwrap();
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(status["next_runs"]["sync"].is_string(), "{status}");
    assert_eq!(status["daemon"]["running"], true, "{status}");
    assert!(metrics.contains("yici_build_info{version="), "{metrics}");
    // One daemon per store.
    let second = ws.yici(&["run", "--listen", &format!("127.0.0.1:{}", free_port())]);
    assert_eq!(second.status.code(), Some(1));
    assert!(
        stderr(&second).contains("another yici daemon"),
        "{}",
        stderr(&second)
    );

    support::daemon::send_signal(daemon.id(), "TERM");
    let out = daemon.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(get(port, "/healthz").is_none(), "stopped serving");
    let after = ws.json(&["status"], 0);
    assert!(
        after["daemon"].is_null(),
        "a clean stop releases the lease: {after}"
    );
    let text = String::from_utf8(ws.yici(&["status"]).stdout).unwrap();
    assert!(text.starts_with("daemon: not running"), "{text}");
    support::daemon::send_signal(hr_api.id(), "TERM");
    assert_eq!(
        hr_api.wait().unwrap().code(),
        Some(0),
        "the HR API stops on SIGTERM"
    );
}

#[test]
fn a_token_guards_all_but_health() {
    let ws = Workspace::with_shipped_config();
    ws.edit(
        "config/yici.toml",
        "listen = \"127.0.0.1:9464\"",
        "listen = \"127.0.0.1:9464\"\ntoken = \"${YICI_HTTP_TOKEN}\"",
    );
    let port = free_port();
    let daemon = ws
        .command(&["run", "--listen", &format!("127.0.0.1:{port}")])
        .env("YICI_HTTP_TOKEN", "s3cret-token")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    until("/healthz", || get(port, "/healthz"));
    assert!(get(port, "/readyz").unwrap().0.contains("200"));
    for path in ["/metrics", "/status"] {
        assert!(get(port, path).unwrap().0.contains("401"), "{path}");
        assert!(
            get_with(port, path, Some("wrong-token!"))
                .unwrap()
                .0
                .contains("401"),
            "{path}"
        );
        assert!(
            get_with(port, path, Some("s3cret-token"))
                .unwrap()
                .0
                .contains("200"),
            "{path}"
        );
    }
    support::daemon::send_signal(daemon.id(), "TERM");
    let out = daemon.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        !stderr(&out).contains("s3cret-token"),
        "the token is never logged"
    );

    // Off loopback, a token is required.
    ws.edit("config/yici.toml", "token = \"${YICI_HTTP_TOKEN}\"\n", "");
    ws.edit(
        "config/yici.toml",
        "listen = \"127.0.0.1:9464\"",
        "listen = \"0.0.0.0:9464\"",
    );
    let o = ws.yici(&["check"]);
    assert_eq!(o.status.code(), Some(3));
    let said = format!("{}{}", support::workspace::stdout(&o), stderr(&o));
    assert!(
        said.contains("http.listen") && said.contains("set http.token"),
        "{said}"
    );
}

/// One text cell of the store at `url` (SQLite or PostgreSQL).
fn store_cell(url: &str, sql: &str) -> String {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    support::throwaway::on_fresh_thread(move || async move {
        let store = yici::store::Store::open(&url).await.unwrap();
        let v: String = match store.pool() {
            yici::store::Pool::Sqlite(pool) => sqlx::query_scalar(&sql).fetch_one(pool).await,
            yici::store::Pool::Postgres(pool) => sqlx::query_scalar(&sql).fetch_one(pool).await,
        }
        .unwrap();
        store.close().await;
        v
    })
    .unwrap()
}

#[test]
fn killing_the_daemon_at_random_points_loses_and_duplicates_nothing() {
    let ws = sample_synced_every_second();
    let url = format!("sqlite://{}", ws.path("var/yici.db").display());
    killed_at_random_points(&ws, &url, 6);
}

#[test]
fn killing_the_daemon_on_postgresql_loses_and_duplicates_nothing() {
    let Some(db) = support::throwaway::on_fresh_thread(support::postgres::test_db).flatten() else {
        return;
    };
    let ws = sample_synced_every_second();
    ws.use_store(db.url());
    killed_at_random_points(&ws, db.url(), 4);
}

/// The sample district's files, with an empty store, the whole cycle every
/// second and the HR API (which runs only inside `yici demo`) disabled.
fn sample_synced_every_second() -> Workspace {
    let ws = Workspace::with_shipped_config();
    ws.json(&["demo", "--persons", "600"], 0);
    std::fs::remove_dir_all(ws.path("var")).unwrap();
    ws.edit(
        "connectors/hr.toml",
        "kind = \"http\"",
        "kind = \"http\"\nenabled = false",
    );
    ws.edit(
        "config/yici.toml",
        "sync = \"30 1 * * *\"",
        "sync = \"* * * * * *\"",
    );
    ws
}

/// Kills the daemon with SIGKILL `kills` times at seeded random moments of
/// its cycle, lets a last one finish, then checks the store at `url`.
fn killed_at_random_points(ws: &Workspace, url: &str, kills: usize) {
    // Kill -9 at pseudo-random moments (fixed seed), six times.
    let mut seed: u64 = 2026;
    for _ in 0..kills {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = 150 + (seed >> 33) % 1200;
        let mut daemon = ws
            .command(&["run", "--listen", &format!("127.0.0.1:{}", free_port())])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        daemon.kill().unwrap();
        daemon.wait().unwrap();
    }
    // The last one killed is seen as gone, not running.
    let status = ws.json(&["status"], 0);
    assert_eq!(status["daemon"]["running"], false, "{status}");
    assert!(status["daemon"]["holder"].is_string(), "{status}");
    // Let a daemon finish a whole cycle, then one more cycle by hand.
    let port = free_port();
    let daemon = ws
        .command(&["run", "--listen", &format!("127.0.0.1:{port}")])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    until("a cycle after the kills", || {
        let (_, body) = get(port, "/metrics")?;
        body.contains("yici_last_run_succeeded{job=\"sync\"} 1")
            .then_some(())
    });
    support::daemon::send_signal(daemon.id(), "TERM");
    let out = daemon.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    ws.json(&["sync"], 0);

    // No run is left `running`: the killed ones are marked interrupted.
    let left = store_cell(
        url,
        "SELECT CAST(COUNT(*) AS TEXT) FROM runs WHERE status = 'running'",
    );
    assert_eq!(left, "0");
    let interrupted = ws.json(&["runs", "--failed", "--limit", "100"], 0);
    assert!(
        interrupted
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["status"] == "interrupted"),
        "{interrupted}"
    );

    // Every active record staged once and linked to exactly one master.
    let unlinked = store_cell(
        url,
        "SELECT CAST(COUNT(*) AS TEXT) FROM staged_records s LEFT JOIN links l \
         ON l.source = s.source AND l.source_key = s.source_key \
         WHERE s.status = 'active' AND l.master_id IS NULL",
    );
    assert_eq!(unlinked, "0");
    let to_dead = store_cell(
        url,
        "SELECT CAST(COUNT(*) AS TEXT) FROM links l JOIN masters m ON m.id = l.master_id \
         WHERE m.status <> 'active'",
    );
    assert_eq!(to_dead, "0", "no link points at a tombstone");
    // Every governance row is staged or quarantined, none twice.
    let register = ws.path("sample/governance/population.db");
    let rows: i64 = support::throwaway::on_fresh_thread(move || async move {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", register.display()))
            .await
            .unwrap();
        sqlx::query_scalar("SELECT COUNT(*) FROM rkxx")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    })
    .unwrap();
    let held = store_cell(
        url,
        "SELECT CAST((SELECT COUNT(*) FROM staged_records WHERE source = 'governance') \
         + (SELECT COUNT(*) FROM quarantine WHERE source = 'governance') AS TEXT)",
    );
    assert_eq!(held, rows.to_string());
    // Every delivery done, each ledger row written once.
    let pending = ws.json(&["outbox", "list", "--status", "pending"], 0);
    assert!(pending.as_array().unwrap().is_empty(), "{pending}");
    for ledger in ["health", "civil_affairs"] {
        let text = std::fs::read_to_string(ws.path(&format!("var/push/{ledger}.csv"))).unwrap();
        let mut lines: Vec<(&str, &str)> = text
            .lines()
            .skip(1)
            .map(|l| {
                let mut f = l.splitn(3, ',');
                (f.next().unwrap(), f.next().unwrap())
            })
            .collect();
        let total = lines.len();
        lines.sort_unstable();
        lines.dedup();
        assert_eq!(lines.len(), total, "{ledger}: a ledger row written twice");
    }
}

#[test]
fn a_source_that_is_down_fails_alone_and_is_retried_on_schedule() {
    let ws = Workspace::with_shipped_config();
    for name in ["civil_affairs", "health", "hr", "governance"] {
        ws.remove(&format!("connectors/{name}.toml"));
        ws.remove(&format!("mappings/{name}.toml"));
    }
    // `good` answers; `down` points at a file that is not there. Both are
    // pulled every second; the nightly sync and the push never come.
    for name in ["good", "down"] {
        ws.write(
            &format!("connectors/{name}.toml"),
            &format!("department = \"health\"\nkind = \"csv\"\nschedule = \"* * * * * *\"\n[csv]\npath = \"{name}.csv\"\nencoding = \"utf-8\"\n"),
        );
        ws.write(
            &format!("mappings/{name}.toml"),
            "key = \"编号\"\n[fields]\nname = { from = \"姓名\" }\nid_number = { from = \"身份证\" }\n",
        );
    }
    ws.write("good.csv", "编号,姓名,身份证\n1,李娜,11010519491231002X\n");
    let port = free_port();
    let daemon = ws
        .command(&["run", "--listen", &format!("127.0.0.1:{port}")])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let metrics = until("both pulls", || {
        let (_, body) = get(port, "/metrics")?;
        let ok = body.contains("yici_last_run_succeeded{job=\"pull good\"} 1")
            && body.contains("yici_last_run_succeeded{job=\"pull down\"} 0")
            && body.contains("yici_staged_records{source=\"good\"} 1");
        ok.then_some(body)
    });
    assert!(
        metrics.contains("yici_last_run_failed{job=\"pull\"}"),
        "{metrics}"
    );
    // The failure is visible, with its reason, and retried each second.
    until("a retry", || {
        let failures = ws.json(&["runs", "--failed"], 0);
        let failures = failures.as_array().unwrap().clone();
        (failures.len() >= 2).then_some(())
    });
    let failures = ws.json(&["runs", "--failed"], 0);
    assert!(
        failures[0]["error"].as_str().unwrap().contains("down.csv"),
        "{failures}"
    );
    // Once the file is there, the next pull succeeds.
    ws.write("down.csv", "编号,姓名,身份证\n9,赵雷,11010519491231002X\n");
    until("the source back", || {
        let (_, body) = get(port, "/metrics")?;
        body.contains("yici_last_run_succeeded{job=\"pull down\"} 1")
            .then_some(())
    });
    support::daemon::send_signal(daemon.id(), "TERM");
    assert_eq!(daemon.wait_with_output().unwrap().status.code(), Some(0));
}

#[test]
fn sighup_rereads_the_configuration_and_keeps_the_old_one_when_the_new_is_invalid() {
    let ws = Workspace::with_shipped_config();
    for name in ["civil_affairs", "health", "hr", "governance"] {
        ws.remove(&format!("connectors/{name}.toml"));
        ws.remove(&format!("mappings/{name}.toml"));
    }
    let daemon = support::daemon::Daemon::start(&ws, &[]);
    let hup = || {
        support::daemon::send_signal(daemon.pid(), "HUP");
    };
    let next_sync = || {
        let (_, body) = get(daemon.port, "/status").unwrap();
        let status: serde_json::Value = serde_json::from_str(&body).unwrap();
        status["next_runs"]["sync"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let nightly = next_sync();
    assert!(!nightly.is_empty());

    // A typo: refused with where and why; the old configuration stays.
    ws.edit(
        "config/yici.toml",
        "upper_threshold = 12.0",
        "upper_treshold = 12.0",
    );
    hup();
    let log = until("the refusal", || {
        let log = daemon.log();
        log.contains("keeping the old one").then_some(log)
    });
    assert!(
        log.contains("config/yici.toml") && log.contains("upper_treshold"),
        "{log}"
    );
    assert_eq!(next_sync(), nightly, "the old schedule holds");
    assert!(get(daemon.port, "/healthz").is_some());

    // Fixed, with a new schedule (and a new listen address, which needs a
    // restart): taken at once.
    ws.edit(
        "config/yici.toml",
        "upper_treshold = 12.0",
        "upper_threshold = 12.0",
    );
    ws.edit(
        "config/yici.toml",
        "sync = \"30 1 * * *\"",
        "sync = \"*/2 * * * * *\"",
    );
    ws.edit(
        "config/yici.toml",
        "listen = \"127.0.0.1:9464\"",
        "listen = \"127.0.0.1:9465\"",
    );
    hup();
    until("the new schedule", || {
        (next_sync() != nightly).then_some(())
    });
    let log = daemon.log();
    assert!(log.contains("configuration re-read"), "{log}");
    assert!(log.contains("restart yici to listen there"), "{log}");
    until("a sync on the new schedule", || {
        let runs = ws.json(&["runs", "--job", "resolve"], 0);
        (!runs.as_array().unwrap().is_empty()).then_some(())
    });
    let (code, log) = daemon.terminate();
    assert_eq!(code, Some(0), "{log}");
}
