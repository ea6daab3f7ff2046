//! Push-back into a department's REST API on loopback, as an operator runs
//! it: the API accepts a record update, refuses a value (parked with its
//! reason), fails with 500s and times out (retried with backoff until it
//! answers), and refuses a write whose record changed (412): the
//! department's edit stays.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use support::workspace::Workspace;

fn valid(first17: &str) -> String {
    format!(
        "{first17}{}",
        yici::model::id_number::check_digit(first17).unwrap()
    )
}

/// How the API answers record writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Accept,
    /// 422 with a reason.
    Reject,
    /// 500.
    Fail,
    /// Answers after the client gave up.
    Slow,
}

#[derive(Default)]
struct Api {
    /// key → (record, version).
    records: Mutex<BTreeMap<String, (Value, u64)>>,
    mode: Mutex<Option<Mode>>,
    writes: Mutex<Vec<String>>,
    /// When each request for one record (read or write) arrived.
    arrivals: Mutex<Vec<std::time::Instant>>,
}

async fn handle(
    State(api): State<Arc<Api>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    if path == "/api/people" {
        let records = api.records.lock().unwrap();
        let page: usize = uri
            .query()
            .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("page=")))
            .and_then(|p| p.parse().ok())
            .unwrap_or(1);
        let list: Vec<Value> = if page == 1 {
            records.values().map(|(r, _)| r.clone()).collect()
        } else {
            Vec::new()
        };
        return axum::Json(json!({"data": {"list": list, "total": records.len()}})).into_response();
    }
    let Some(key) = path.strip_prefix("/api/people/") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    api.arrivals.lock().unwrap().push(std::time::Instant::now());
    let key = key.to_owned();
    if method == Method::GET {
        let records = api.records.lock().unwrap();
        return match records.get(&key) {
            Some((r, version)) => {
                ([("etag", format!("\"v{version}\""))], axum::Json(r.clone())).into_response()
            }
            None => StatusCode::NOT_FOUND.into_response(),
        };
    }
    let mode = api.mode.lock().unwrap().unwrap_or(Mode::Accept);
    match mode {
        Mode::Reject => {
            return (StatusCode::UNPROCESSABLE_ENTITY, "aae005: 号码格式不符").into_response()
        }
        Mode::Fail => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Mode::Slow => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            return StatusCode::GATEWAY_TIMEOUT.into_response();
        }
        Mode::Accept => {}
    }
    let mut records = api.records.lock().unwrap();
    let Some((record, version)) = records.get_mut(&key) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let expected = format!("\"v{version}\"");
    if headers.get("if-match").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return StatusCode::PRECONDITION_FAILED.into_response();
    }
    let changes: Value = serde_json::from_slice(&body).unwrap();
    for (k, v) in changes.as_object().unwrap() {
        record[k] = v.clone();
    }
    *version += 1;
    api.writes.lock().unwrap().push(format!("{key} {changes}"));
    StatusCode::NO_CONTENT.into_response()
}

/// Serves `api` on a loopback port from its own thread; returns the URL.
fn serve(api: Arc<Api>) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = Router::new().fallback(handle).with_state(api);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    format!("http://{}", rx.recv().unwrap())
}

const HEADER: &str = "编号,姓名,身份证,电话\n";

/// A department API holding `names` without phones, the health export
/// knowing their phones, and a workspace pulling both with the API as a
/// push target (`extra_http` added to its `[http]` section); pulled and
/// reconciled, the phones queued for the API.
fn district(names: &[&str], extra_http: &str) -> (Arc<Api>, Workspace, Vec<String>) {
    let ids: Vec<String> = (1..=names.len())
        .map(|i| valid(&format!("3302031985010100{i}")))
        .collect();
    let api = Arc::new(Api::default());
    for (i, (id, name)) in ids.iter().zip(names.iter().copied()).enumerate() {
        api.records.lock().unwrap().insert(
            format!("P{i}"),
            (
                json!({"aac001": format!("P{i}"), "aac003": name, "aac002": id, "aae005": null}),
                1,
            ),
        );
    }
    let base = serve(Arc::clone(&api));

    let ws = Workspace::with_shipped_config();
    for name in ["civil_affairs", "health", "hr", "governance"] {
        ws.remove(&format!("connectors/{name}.toml"));
        ws.remove(&format!("mappings/{name}.toml"));
    }
    ws.write(
        "connectors/hr.toml",
        &format!(
            "department = \"hr\"\nkind = \"http\"\n[http]\nurl = \"{base}/api/people\"\nrecords = \"data.list\"\n\
             total = \"data.total\"\ntimeout_secs = 1\nmax_retries = 0\n{extra_http}\
             [http.pagination]\nstyle = \"page\"\npage_param = \"page\"\nsize_param = \"size\"\nsize = 100\nfirst_page = 1\n"
        ),
    );
    ws.write(
        "mappings/hr.toml",
        &format!(
            "key = \"aac001\"\n[fields]\nname = {{ from = \"aac003\" }}\nid_number = {{ from = \"aac002\" }}\n\
             phones = {{ from = \"aae005\" }}\n\
             [push]\nurl = \"{base}/api/people/{{key}}\"\nmethod = \"PATCH\"\n\
             [push.fields]\nphones = {{ column = \"aae005\", policy = \"fill_missing\" }}\n"
        ),
    );
    ws.write(
        "connectors/health.toml",
        "department = \"health\"\nkind = \"csv\"\n[csv]\npath = \"health.csv\"\nencoding = \"utf-8\"\n",
    );
    ws.write(
        "mappings/health.toml",
        "key = \"编号\"\n[fields]\nname = { from = \"姓名\" }\nid_number = { from = \"身份证\" }\nphones = { from = \"电话\" }\n",
    );
    let mut health = String::from(HEADER);
    for (i, (id, name)) in ids.iter().zip(names.iter().copied()).enumerate() {
        health.push_str(&format!("h{i},{name},{id},1390000000{i}\n"));
    }
    ws.write("health.csv", &health);
    ws.json(&["pull"], 0);
    assert_eq!(ws.json(&["reconcile"], 0)["golden"]["queued"], names.len());
    (api, ws, ids)
}

#[test]
fn a_phone_reaches_a_department_api_through_failures() {
    let (api, ws, _) = district(&["李娜", "王芳", "赵雷", "陈静"], "");

    let phone = |key: &str| api.records.lock().unwrap()[key].0["aae005"].clone();
    let set_mode = |m: Mode| *api.mode.lock().unwrap() = Some(m);

    // The API fails with 500s: every row waits for a retry; nothing written.
    set_mode(Mode::Fail);
    let report = ws.json(&["push"], 4);
    assert_eq!(report["hr"]["retrying"], 4, "{report}");
    assert!(
        report["hr"]["error"].as_str().unwrap().contains("HTTP 500"),
        "{report}"
    );
    // Timeouts are transient too.
    let retry = ws.json(&["outbox", "list", "--status", "pending"], 0);
    assert_eq!(retry.as_array().unwrap().len(), 4);
    assert!(retry[0]["last_error"]
        .as_str()
        .unwrap()
        .contains("HTTP 500"));
    ws.json(&["outbox", "list"], 0);

    // Not due yet: the backoff holds them.
    set_mode(Mode::Accept);
    let early = ws.json(&["push"], 0);
    assert_eq!(early["hr"]["values_written"], 0, "{early}");
    assert_eq!(phone("P0"), Value::Null);

    // Make them due (as time passing would), with one record changed by
    // the department in between, and one value the API refuses.
    let db = ws.path("var/yici.db");
    let sql = |s: &str| {
        let (db, s) = (db.clone(), s.to_owned());
        support::throwaway::on_fresh_thread(move || async move {
            let store = yici::store::Store::open(&format!("sqlite://{}", db.display()))
                .await
                .unwrap();
            let yici::store::Pool::Sqlite(pool) = store.pool() else {
                unreachable!()
            };
            sqlx::query(&s).execute(pool).await.unwrap();
            store.close().await;
        });
    };
    sql("UPDATE outbox SET next_attempt_at = '2000-01-01T00:00:00.000000Z'");
    api.records.lock().unwrap().get_mut("P1").unwrap().0["aae005"] = json!("13611112222");
    let report = ws.json(&["push"], 0);
    assert_eq!(report["hr"]["values_written"], 3, "{report}");
    assert_eq!(report["hr"]["superseded"], 1, "{report}");
    assert_eq!(phone("P0"), json!("13900000000"));
    assert_eq!(
        phone("P1"),
        json!("13611112222"),
        "the department's own edit stays"
    );

    // A refused value is parked with the API's reason; a timeout retries.
    api.records.lock().unwrap().get_mut("P3").unwrap().0["aae005"] = Value::Null;
    sql("UPDATE outbox SET status = 'pending', next_attempt_at = '2000-01-01T00:00:00.000000Z' WHERE target_key = 'P3'");
    set_mode(Mode::Reject);
    let refused = ws.json(&["push"], 4);
    assert_eq!(refused["hr"]["parked"], 1, "{refused}");
    let parked = ws.json(&["outbox", "list", "--status", "parked"], 0);
    assert!(
        parked[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("号码格式不符"),
        "{parked}"
    );
    set_mode(Mode::Slow);
    ws.json(&["outbox", "retry"], 0);
    let slow = ws.json(&["push"], 4);
    assert_eq!(slow["hr"]["retrying"], 1, "{slow}");
    assert!(
        slow["hr"]["error"].as_str().unwrap().contains("timed out"),
        "{slow}"
    );
    set_mode(Mode::Accept);
    sql("UPDATE outbox SET next_attempt_at = '2000-01-01T00:00:00.000000Z' WHERE status = 'pending'");
    let done = ws.json(&["push"], 0);
    assert_eq!(done["hr"]["values_written"], 1, "{done}");
    assert_eq!(phone("P3"), json!("13900000003"));
    // Every value written once.
    assert_eq!(
        api.writes.lock().unwrap().len(),
        4,
        "{:?}",
        api.writes.lock().unwrap()
    );
}

#[test]
fn push_back_keeps_to_the_connectors_rate_limit() {
    // Four requests a second: each record is read, then written.
    let (api, ws, _) = district(
        &["李娜", "王芳", "赵雷", "陈静", "刘洋"],
        "rate_limit_per_sec = 4.0\n",
    );
    api.arrivals.lock().unwrap().clear();
    let report = ws.json(&["push"], 0);
    assert_eq!(report["hr"]["values_written"], 5, "{report}");
    let arrivals = api.arrivals.lock().unwrap().clone();
    assert_eq!(arrivals.len(), 10, "a read and a write per record");
    let closest = arrivals.windows(2).map(|w| w[1] - w[0]).min().unwrap();
    assert!(
        closest >= Duration::from_millis(200),
        "requests {closest:?} apart at 4 per second"
    );
}
