//! The daemon when things go wrong: department APIs that are down, slow, fail
//! with 500s or answer garbage (on SQLite and PostgreSQL), a stop asked for
//! in the middle of a pull, a job that will not reach a commit point, and
//! the PostgreSQL store restarting under a running daemon.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use support::daemon::{get, until, until_within, Daemon};
use support::workspace::Workspace;

// ------------------------------------------------------ fake department API

/// How one fake source answers every page.
#[derive(Clone, Copy, Debug)]
enum Behaviour {
    Healthy,
    /// Waits this long before answering each page.
    Slow(Duration),
    /// Answers every request with this status.
    Fails(u16),
    /// `200 OK` with a body that is not JSON.
    Garbled,
    /// Nothing listens: the connector is pointed at a closed port.
    Down,
}

/// One paginated API per source name, on a loopback port.
struct Api {
    port: u16,
    behaviours: Arc<Mutex<HashMap<String, Behaviour>>>,
}

/// Records every source serves: `{source}-{i}` with a name and a valid
/// 18-digit identity number.
const RECORDS: usize = 24;

fn identity_number(i: usize) -> String {
    let body = format!("11010519800101{:03}", i % 1000);
    let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .bytes()
        .zip(weights)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    format!("{body}{}", b"10X98765432"[(sum % 11) as usize] as char)
}

fn page(source: &str, number: usize, size: usize) -> Value {
    const NAMES: [&str; 6] = ["李娜", "王芳", "张伟", "刘洋", "陈静", "杨磊"];
    let list: Vec<Value> = (number.saturating_sub(1) * size..(number * size).min(RECORDS))
        .map(|i| {
            json!({
                "id": format!("{source}-{i}"),
                "name": NAMES[i % NAMES.len()],
                "idcard": identity_number(i + 1),
            })
        })
        .collect();
    json!({"code": 0, "data": {"total": RECORDS, "list": list}})
}

impl Api {
    fn start() -> Api {
        use axum::extract::{Path, Query, State};
        use axum::response::IntoResponse;

        type Shared = Arc<Mutex<HashMap<String, Behaviour>>>;
        async fn serve(
            State(behaviours): State<Shared>,
            Path(source): Path<String>,
            Query(q): Query<HashMap<String, usize>>,
        ) -> axum::response::Response {
            let behaviour = behaviours
                .lock()
                .unwrap()
                .get(&source)
                .copied()
                .unwrap_or(Behaviour::Fails(404));
            let body = || {
                let (n, size) = (q.get("pageNum").copied(), q.get("pageSize").copied());
                axum::Json(page(&source, n.unwrap_or(1), size.unwrap_or(10))).into_response()
            };
            match behaviour {
                Behaviour::Healthy => body(),
                Behaviour::Slow(d) => {
                    tokio::time::sleep(d).await;
                    body()
                }
                Behaviour::Fails(code) => (
                    axum::http::StatusCode::from_u16(code).unwrap(),
                    "upstream gateway error",
                )
                    .into_response(),
                Behaviour::Garbled => "<html><body>系统维护中</body></html>".into_response(),
                Behaviour::Down => unreachable!("a source that is down gets no requests"),
            }
        }

        let behaviours: Shared = Arc::default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = axum::Router::new()
            .route("/{source}", axum::routing::get(serve))
            .with_state(Arc::clone(&behaviours));
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        Api { port, behaviours }
    }

    fn set(&self, source: &str, behaviour: Behaviour) {
        self.behaviours
            .lock()
            .unwrap()
            .insert(source.to_owned(), behaviour);
    }
}

/// A workspace whose only sources are the given ones, each an HTTP source
/// on `api` pulled every second (pages of `page_size`, `timeout_secs`).
fn workspace_with(
    api: &Api,
    sources: &[(&str, Behaviour)],
    page_size: usize,
    timeout_secs: u64,
) -> Workspace {
    let ws = Workspace::with_shipped_config();
    for name in ["civil_affairs", "health", "hr", "governance"] {
        ws.remove(&format!("connectors/{name}.toml"));
        ws.remove(&format!("mappings/{name}.toml"));
    }
    for (name, behaviour) in sources {
        api.set(name, *behaviour);
        let port = match behaviour {
            Behaviour::Down => support::daemon::free_port(),
            _ => api.port,
        };
        ws.write(
            &format!("connectors/{name}.toml"),
            &format!(
                "department = \"health\"\nkind = \"http\"\nschedule = \"* * * * * *\"\n\
                 [http]\nurl = \"http://127.0.0.1:{port}/{name}\"\nrecords = \"data.list\"\n\
                 total = \"data.total\"\ntimeout_secs = {timeout_secs}\nmax_retries = 1\n\
                 [http.pagination]\nstyle = \"page\"\npage_param = \"pageNum\"\n\
                 size_param = \"pageSize\"\nsize = {page_size}\nfirst_page = 1\n",
            ),
        );
        ws.write(
            &format!("mappings/{name}.toml"),
            "key = \"id\"\n[fields]\nname = { from = \"name\", transform = [\"name\"] }\n\
             id_number = { from = \"idcard\", transform = [\"id_number\"] }\n",
        );
    }
    ws
}

/// The value of one metric line (`name{labels}`), if present.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

// ------------------------------------------------------------------ tests

fn faulty_sources_fail_alone_and_recover(store_url: Option<&str>) {
    let api = Api::start();
    let ws = workspace_with(
        &api,
        &[
            ("good", Behaviour::Healthy),
            ("slow", Behaviour::Slow(Duration::from_secs(3))),
            ("broken", Behaviour::Fails(500)),
            ("garbled", Behaviour::Garbled),
            ("down", Behaviour::Down),
        ],
        10,
        1,
    );
    if let Some(url) = store_url {
        ws.use_store(url);
    }
    let daemon = Daemon::start(&ws, &[]);
    // Each fault is told apart, in its class; the good source is staged.
    let metrics = daemon.until_metrics(
        "every source pulled at least once",
        &[
            "yici_source_last_pull_failed{source=\"good\"} 0",
            "yici_source_last_pull_failed{source=\"slow\"} 1",
            "yici_source_last_pull_failed{source=\"broken\"} 1",
            "yici_source_last_pull_failed{source=\"garbled\"} 1",
            "yici_source_last_pull_failed{source=\"down\"} 1",
            "yici_pull_failures_total{source=\"down\",class=\"transient\"}",
            "yici_staged_records{source=\"good\"} 24",
            "yici_pull_failures_total{source=\"slow\",class=\"transient\"}",
            "yici_pull_failures_total{source=\"broken\",class=\"transient\"}",
            "yici_pull_failures_total{source=\"garbled\",class=\"data\"}",
        ],
    );
    assert_eq!(
        metric(
            &metrics,
            "yici_pull_records_total{source=\"good\",outcome=\"staged\"}"
        )
        .map(|n| n >= 24.0),
        Some(true),
        "{metrics}"
    );
    assert!(!metrics.contains("yici_staged_records{source=\"broken\"}"));
    assert!(metrics.contains("yici_store_up 1"), "{metrics}");

    // `yici status` shows each source's own error, whatever ran after it.
    let status = ws.json(&["status"], 0);
    let sources = &status["sources"];
    assert!(sources["good"]["error"].is_null(), "{status}");
    assert_eq!(sources["good"]["staged"], 24, "{status}");
    for (name, says) in [
        ("slow", "timed out"),
        ("broken", "500"),
        ("garbled", "malformed JSON"),
        ("down", "127.0.0.1"),
    ] {
        let error = sources[name]["error"].as_str().unwrap_or_default();
        assert!(error.contains(says), "{name}: {error}");
    }
    let text = String::from_utf8(ws.yici(&["status"]).stdout).unwrap();
    assert!(
        text.contains("sources:") && text.contains("malformed JSON"),
        "{text}"
    );

    // Retried at the next slots: once healed, every source comes in.
    for name in ["slow", "broken", "garbled"] {
        api.set(name, Behaviour::Healthy);
    }
    daemon.until_metrics(
        "every source back",
        &[
            "yici_source_last_pull_failed{source=\"slow\"} 0",
            "yici_source_last_pull_failed{source=\"broken\"} 0",
            "yici_source_last_pull_failed{source=\"garbled\"} 0",
            "yici_staged_records{source=\"slow\"} 24",
            "yici_staged_records{source=\"broken\"} 24",
            "yici_staged_records{source=\"garbled\"} 24",
        ],
    );
    let (code, log) = daemon.terminate();
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn down_slow_failing_and_garbled_sources_fail_alone_and_recover_on_sqlite() {
    faulty_sources_fail_alone_and_recover(None);
}

#[test]
fn down_slow_failing_and_garbled_sources_fail_alone_and_recover_on_postgresql() {
    let Some(db) = support::throwaway::on_fresh_thread(support::postgres::test_db).flatten() else {
        return;
    };
    faulty_sources_fail_alone_and_recover(Some(db.url()));
}

/// The store's summary (staged and quarantined records per source).
fn store_summary(url: String) -> yici::store::StoreSummary {
    support::throwaway::on_fresh_thread(move || async move {
        let store = yici::store::Store::open(&url).await.unwrap();
        let summary = store.summary().await.unwrap();
        store.close().await;
        summary
    })
    .unwrap()
}

fn sqlite_url(ws: &Workspace) -> String {
    format!("sqlite://{}", ws.path("var/yici.db").display())
}

/// The latest run of `job`.
fn latest_run(ws: &Workspace, job: &str) -> Value {
    ws.json(&["runs", "--job", job], 0)[0].clone()
}

#[test]
fn sigterm_ends_a_pull_at_its_next_commit_point() {
    let api = Api::start();
    // Twelve pages of two, a quarter of a second each.
    let ws = workspace_with(
        &api,
        &[("paged", Behaviour::Slow(Duration::from_millis(250)))],
        2,
        5,
    );
    let daemon = Daemon::start(&ws, &[]);
    until("a few pages staged", || {
        let n = metric(&daemon.metrics(), "yici_staged_records{source=\"paged\"}")?;
        (n >= 4.0).then_some(())
    });
    let (code, log) = daemon.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("next commit point"), "{log}");

    // The pull ended where it was, recorded as interrupted, not failed.
    let run = latest_run(&ws, "pull");
    assert_eq!(run["status"], "interrupted", "{run}");
    let error = run["error"].as_str().unwrap();
    assert!(error.contains("stopped after"), "{error}");
    let staged = store_summary(sqlite_url(&ws)).staged["paged"].active;
    assert!((4..24).contains(&staged), "{staged} staged");

    // The next pull reads the rest; nothing twice.
    let pulled = ws.json(&["pull", "paged"], 0);
    assert_eq!(pulled["sources"][0]["pulled"], 24, "{pulled}");
    assert_eq!(pulled["sources"][0]["unchanged"], staged, "{pulled}");
    assert_eq!(store_summary(sqlite_url(&ws)).staged["paged"].active, 24);
}

#[test]
fn a_job_that_cannot_reach_a_commit_point_is_abandoned_after_the_stop_timeout() {
    let api = Api::start();
    // The first page takes a minute; the request waits for it.
    let ws = workspace_with(
        &api,
        &[("stuck", Behaviour::Slow(Duration::from_secs(60)))],
        10,
        120,
    );
    let daemon = Daemon::start(&ws, &["--stop-timeout", "1"]);
    until("the pull running", || {
        (latest_run(&ws, "pull")["status"] == "running").then_some(())
    });
    let (code, log) = daemon.terminate();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("abandoned"), "{log}");
    let run = latest_run(&ws, "pull");
    assert_eq!(run["status"], "interrupted", "{run}");
    assert!(
        run["error"].as_str().unwrap().contains("abandoned"),
        "{run}"
    );
}

#[test]
fn the_postgresql_store_restarting_fails_the_run_cleanly_and_the_next_succeeds() {
    let Some(cluster) = support::pg_cluster::PrivateCluster::start() else {
        return;
    };
    let api = Api::start();
    let ws = workspace_with(
        &api,
        &[("paged", Behaviour::Slow(Duration::from_millis(200)))],
        2,
        5,
    );
    ws.use_store(&cluster.url());
    let mut daemon = Daemon::start(&ws, &[]);
    until("a pull under way", || {
        let n = metric(&daemon.metrics(), "yici_staged_records{source=\"paged\"}")?;
        (n >= 2.0).then_some(())
    });

    // Down for longer than a job waits for a connection.
    cluster.stop();
    let down = std::time::Instant::now();
    until("readiness to fail", || {
        let (status, _) = get(daemon.port, "/readyz")?;
        status.contains("503").then_some(())
    });
    until_within("the run to fail", Duration::from_secs(90), || {
        let m = daemon.metrics();
        (m.contains("yici_store_up 0")
            && m.contains("yici_last_run_succeeded{job=\"pull paged\"} 0"))
        .then_some(())
    });
    std::thread::sleep(Duration::from_secs(12).saturating_sub(down.elapsed()));
    assert!(daemon.is_running(), "the daemon outlives its store");
    cluster.start_again();

    // The next runs succeed and complete the source, once.
    until_within("the next run", Duration::from_secs(90), || {
        let m = daemon.metrics();
        (m.contains("yici_store_up 1")
            && m.contains("yici_last_run_succeeded{job=\"pull paged\"} 1")
            && m.contains("yici_staged_records{source=\"paged\"} 24"))
        .then_some(())
    });
    let (code, log) = daemon.terminate();
    assert_eq!(code, Some(0), "{log}");
    // The run the restart broke is on record, failed or interrupted, with
    // its reason; none is left `running`.
    let failed = ws.json(&["runs", "--failed", "--job", "pull", "--limit", "100"], 0);
    let failed = failed.as_array().unwrap();
    assert!(!failed.is_empty(), "no failed run recorded");
    assert!(failed.iter().all(|r| r["error"].is_string()), "{failed:?}");
    let all = ws.json(&["runs", "--limit", "500"], 0);
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] != "running"),
        "{all}"
    );
    let summary = store_summary(cluster.url());
    assert_eq!(summary.staged["paged"].active, 24, "{summary:?}");
    assert_eq!(summary.quarantined, 0, "{summary:?}");
}

#[test]
fn a_stop_request_ends_golden_rebuilds_and_deliveries_between_batches() {
    use yici::stop::StopRequest;

    let ws = Workspace::with_shipped_config();
    ws.json(&["demo", "--persons", "200"], 0);
    std::fs::remove_dir_all(ws.path("var")).unwrap();
    ws.edit(
        "connectors/hr.toml",
        "kind = \"http\"",
        "kind = \"http\"\nenabled = false",
    );
    // Pulled and resolved, nothing delivered yet.
    ws.json(&["pull"], 0);
    ws.json(&["reconcile"], 0);
    let (root, url) = (ws.path("."), sqlite_url(&ws));
    support::throwaway::on_fresh_thread(move || async move {
        let config = yici::config::Config::load(&root).unwrap();
        let store = yici::store::Store::open(&url).await.unwrap();
        let pending = || async {
            store
                .outbox_counts()
                .await
                .unwrap()
                .into_iter()
                .filter(|(_, _, status, _)| *status == yici::store::OutboxStatus::Pending)
                .map(|(_, _, _, n)| n)
                .sum::<u64>()
        };
        let waiting = pending().await;
        assert!(waiting > 0, "the sample district has push-backs to deliver");

        let stopped = StopRequest::default();
        stopped.request();
        let report = yici::push::deliver::deliver(&store, &config, &[], &stopped)
            .await
            .unwrap();
        assert!(stopped.cut_short());
        assert!(
            report.values().all(|t| t.values_written + t.ledgered == 0),
            "{report:?}"
        );
        assert_eq!(pending().await, waiting, "nothing sent, nothing lost");

        let masters = store.mark_all_golden_stale().await.unwrap();
        assert!(masters > 0);
        let departments = config
            .connectors
            .iter()
            .map(|(n, c)| (n.clone(), c.department.as_str().to_owned()))
            .collect();
        let targets = yici::push::Targets::from_config(&config);
        let rules = &config.settings.survivorship;
        let run = store.begin_run("test").await.unwrap();
        let golden = |stop: StopRequest| {
            let (store, departments, targets) = (&store, &departments, &targets);
            async move {
                yici::sync::golden::golden_run(
                    store,
                    run,
                    rules,
                    departments,
                    targets,
                    false,
                    &stop,
                )
                .await
                .unwrap()
            }
        };
        assert_eq!(golden(stopped.clone()).await.rebuilt, 0);
        assert_eq!(
            store.stale_master_count().await.unwrap(),
            masters,
            "left stale for the next run"
        );

        // Unstopped, the next runs finish the work.
        assert_eq!(golden(StopRequest::default()).await.rebuilt, masters);
        assert_eq!(store.stale_master_count().await.unwrap(), 0);
        yici::push::deliver::deliver(&store, &config, &[], &StopRequest::default())
            .await
            .unwrap();
        assert_eq!(pending().await, 0);
        store.close().await;
    })
    .unwrap();
}

#[test]
fn ctrl_c_stops_a_cli_pull_at_a_commit_point_and_the_next_sync_goes_on() {
    let api = Api::start();
    let ws = workspace_with(
        &api,
        &[("paged", Behaviour::Slow(Duration::from_millis(250)))],
        2,
        5,
    );
    let pull = ws
        .command(&["pull", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    until("a few pages staged", || {
        if !ws.path("var/yici.db").exists() {
            return None;
        }
        let staged = store_summary(sqlite_url(&ws))
            .staged
            .get("paged")
            .map_or(0, |c| c.active);
        (staged >= 4).then_some(())
    });
    support::daemon::send_signal(pull.id(), "INT");
    let out = pull.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{said}");
    assert!(said.contains("next commit point"), "{said}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["sources"][0]["error"]["class"], "stopped",
        "{report}"
    );
    assert_eq!(latest_run(&ws, "pull")["status"], "interrupted");
    let staged = store_summary(sqlite_url(&ws)).staged["paged"].active;
    assert!((4..24).contains(&staged), "{staged} staged");

    // The next cycle reads the rest, resolves and delivers.
    let synced = ws.json(&["sync"], 0);
    assert_eq!(synced["pulls"][0]["pulled"], 24, "{synced}");
    assert_eq!(synced["reconcile"]["records"], 24, "{synced}");
    assert_eq!(synced["reconcile"]["golden"]["rebuilt"], 24, "{synced}");
    assert_eq!(store_summary(sqlite_url(&ws)).staged["paged"].active, 24);
}
