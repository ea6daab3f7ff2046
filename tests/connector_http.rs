//! The http connector against real HTTP servers on loopback: a scriptable
//! fake API (pagination styles, faults, auth checks) and the sample
//! district's HR gateway.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use yici::config::Connector;
use yici::connector::http::sign::{self, HmacSha256Signer, RequestSigner};
use yici::connector::http::{verify_signature, HttpSource, SignedRequest};
use yici::connector::{Batch, ConnectorError, PullMode, PullRequest, Source};
use yici::demo::hr_gateway::{self, GatewayAuth};

const SECRET: &str = "hmac-Secret-9f2c";

// ---------------------------------------------------------------- fake API

/// How the fake API pages and wraps its records.
#[derive(Clone, Copy)]
enum Shape {
    /// `?pageNum&pageSize` → `{"code":0,"data":{"total","list"}}`
    Page { total: bool },
    /// `?offset&limit` → `{"result":{"items":[{"rows":[…]}]},"count":N}`
    Offset,
    /// `?limit&after` → `{"data":[…],"paging":{"next":…}}`
    Cursor,
}

enum Fault {
    Status(u16),
    RetryAfter(u64),
    Sleep(Duration),
    Body(&'static str),
}

enum Auth {
    Open,
    Hmac,
    Header(&'static str),
}

struct Api {
    shape: Shape,
    records: Vec<Value>,
    auth: Auth,
    /// Faults by 1-based hit number.
    faults: Mutex<HashMap<usize, Fault>>,
    always: Option<u16>,
    hits: AtomicUsize,
    queries: Mutex<Vec<String>>,
    authorizations: Mutex<Vec<String>>,
}

impl Api {
    fn new(shape: Shape, n: usize) -> Api {
        Api {
            shape,
            records: (0..n).map(record).collect(),
            auth: Auth::Open,
            faults: Mutex::new(HashMap::new()),
            always: None,
            hits: AtomicUsize::new(0),
            queries: Mutex::new(Vec::new()),
            authorizations: Mutex::new(Vec::new()),
        }
    }

    fn fault(self, hit: usize, fault: Fault) -> Api {
        self.faults.lock().unwrap().insert(hit, fault);
        self
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn record(i: usize) -> Value {
    json!({
        "aac001": format!("P{i:05}"),
        "aac003": "张伟",
        "aae036": format!("2024-01-{:02} 08:{:02}:00", 1 + i % 28, i % 60),
        "extra": {"tags": [i, "x"]},
    })
}

async fn start(api: Api) -> (String, Arc<Api>) {
    let api = Arc::new(api);
    let app = Router::new().fallback(handle).with_state(Arc::clone(&api));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/api/people"), api)
}

async fn handle(State(api): State<Arc<Api>>, uri: Uri, headers: HeaderMap) -> Response {
    let hit = api.hits.fetch_add(1, Ordering::SeqCst) + 1;
    api.queries
        .lock()
        .unwrap()
        .push(uri.query().unwrap_or("").to_string());
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    api.authorizations
        .lock()
        .unwrap()
        .push(authorization.clone());
    match &api.auth {
        Auth::Open => {}
        Auth::Hmac => {
            let request = SignedRequest {
                method: "GET",
                path: uri.path(),
                query: uri.query(),
                headers: &headers,
            };
            let now = sign::unix_millis(SystemTime::now());
            if let Err(e) = verify_signature(&request, "app-1", SECRET, now) {
                return (StatusCode::UNAUTHORIZED, format!("{{\"error\":\"{e}\"}}"))
                    .into_response();
            }
        }
        Auth::Header(expected) => {
            if authorization != *expected {
                // A careless server echoing the credentials it got.
                let body = format!("{{\"error\":\"bad credentials: {authorization}\"}}");
                return (StatusCode::UNAUTHORIZED, body).into_response();
            }
        }
    }
    if let Some(status) = api.always {
        return StatusCode::from_u16(status).unwrap().into_response();
    }
    let fault = api.faults.lock().unwrap().remove(&hit);
    match fault {
        Some(Fault::Status(s)) => return StatusCode::from_u16(s).unwrap().into_response(),
        Some(Fault::RetryAfter(secs)) => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", secs.to_string())],
                "slow down",
            )
                .into_response()
        }
        Some(Fault::Sleep(d)) => tokio::time::sleep(d).await,
        Some(Fault::Body(body)) => return body.into_response(),
        None => {}
    }
    let q: HashMap<String, String> = axum::extract::Query::try_from_uri(&uri).unwrap().0;
    let num = |k: &str, default: usize| q.get(k).map_or(default, |v| v.parse().unwrap());
    let since = q.get("updatedSince").cloned().unwrap_or_default();
    let rows: Vec<&Value> = api
        .records
        .iter()
        .filter(|r| r["aae036"].as_str().unwrap() >= since.as_str())
        .collect();
    let slice = |start: usize, size: usize| -> Vec<Value> {
        rows.iter()
            .skip(start)
            .take(size)
            .map(|v| (*v).clone())
            .collect()
    };
    let body = match api.shape {
        Shape::Page { total } => {
            let (page, size) = (num("pageNum", 1), num("pageSize", 10));
            let list = slice((page - 1) * size, size);
            if total {
                json!({"code": 0, "data": {"total": rows.len(), "list": list}})
            } else {
                json!({"code": 0, "data": {"list": list}})
            }
        }
        Shape::Offset => {
            let list = slice(num("offset", 0), num("limit", 10));
            json!({"result": {"items": [{"rows": list}]}, "count": rows.len()})
        }
        Shape::Cursor => {
            let start = q
                .get("after")
                .map_or(0, |t| t.trim_start_matches("tok-").parse().unwrap());
            let size = num("limit", 10);
            let list = slice(start, size);
            let end = start + list.len();
            let next = (end < rows.len()).then(|| format!("tok-{end}"));
            json!({"data": list, "paging": {"next": next}})
        }
    };
    axum::Json(body).into_response()
}

// ---------------------------------------------------------------- helpers

fn connector(url: &str, extra: &str, env: &[(&str, &str)]) -> Connector {
    let text = format!("department = \"hr\"\nkind = \"http\"\n[http]\nurl = \"{url}\"\n{extra}");
    connector_from(&text, env)
}

fn connector_from(text: &str, env: &[(&str, &str)]) -> Connector {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let doc = yici::config::document::parse(Path::new("connectors/t.toml"), text).unwrap();
    Connector::resolve("t", doc, Path::new("/etc/yici"), &env).unwrap()
}

const PAGE: &str = "records = \"data.list\"\ntotal = \"data.total\"\nmax_retries = 3\n[http.pagination]\nstyle = \"page\"\npage_param = \"pageNum\"\nsize_param = \"pageSize\"\nsize = 100\n";

fn open(c: &Connector, request: PullRequest) -> HttpSource {
    HttpSource::open(c, request)
        .unwrap()
        .with_backoff(Duration::from_millis(5))
}

async fn pull(source: &mut HttpSource) -> Result<Vec<Batch>, ConnectorError> {
    let mut batches = Vec::new();
    while let Some(b) = source.next_batch().await? {
        batches.push(b);
    }
    Ok(batches)
}

/// Every key exactly once, in order, and the count.
fn keys(batches: &[Batch]) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| &b.records)
        .map(|r| r.fields["aac001"].as_str().unwrap().to_string())
        .collect()
}

fn assert_all_once(batches: &[Batch], n: usize) {
    let keys = keys(batches);
    let expected: Vec<String> = (0..n).map(|i| format!("P{i:05}")).collect();
    assert_eq!(keys, expected);
}

// ---------------------------------------------------------------- pagination

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_style_reads_every_record_once_and_honours_total() {
    let (url, api) = start(Api::new(Shape::Page { total: true }, 1234)).await;
    let c = connector(&url, PAGE, &[]);
    let mut source = open(&c, PullRequest::default());
    assert_eq!(source.mode(), PullMode::Snapshot);
    let batches = pull(&mut source).await.unwrap();
    assert_all_once(&batches, 1234);
    assert_eq!(batches.len(), 13);
    assert_eq!(api.hits(), 13, "the total stops the pull after page 13");
    for (i, b) in batches.iter().enumerate() {
        assert!(b.cursor.is_none(), "no cursor_field, no cursor");
        assert!(b
            .records
            .iter()
            .all(|r| r.origin.page == Some(i as u64 + 1)));
    }
    assert_eq!(batches[0].records[4].origin.row, Some(5));
    // Nested values are kept as they are.
    assert_eq!(
        batches[0].records[3].fields["extra"],
        json!({"tags": [3, "x"]})
    );
    let queries = api.queries.lock().unwrap().clone();
    assert_eq!(queries[0], "pageNum=1&pageSize=100");
    assert_eq!(queries[12], "pageNum=13&pageSize=100");
    // Exhausted sources stay exhausted.
    assert!(source.next_batch().await.unwrap().is_none());
}

#[tokio::test]
async fn page_style_without_total_stops_on_a_short_or_empty_page() {
    for (n, requests) in [(250, 3), (200, 3), (0, 1)] {
        let (url, api) = start(Api::new(Shape::Page { total: false }, n)).await;
        let c = connector(&url, &PAGE.replace("total = \"data.total\"\n", ""), &[]);
        let batches = pull(&mut open(&c, PullRequest::default())).await.unwrap();
        assert_all_once(&batches, n);
        assert_eq!(api.hits(), requests, "{n} records");
    }
}

#[tokio::test]
async fn offset_style_with_a_nested_record_path() {
    let (url, api) = start(Api::new(Shape::Offset, 1001)).await;
    let extra = "records = \"result.items[0].rows\"\ntotal = \"count\"\n[http.pagination]\nstyle = \"offset\"\noffset_param = \"offset\"\nsize_param = \"limit\"\nsize = 250\n";
    let c = connector(&url, extra, &[]);
    let batches = pull(&mut open(&c, PullRequest::default())).await.unwrap();
    assert_all_once(&batches, 1001);
    assert_eq!(api.hits(), 5);
    assert_eq!(api.queries.lock().unwrap()[4], "offset=1000&limit=250");
}

#[tokio::test]
async fn cursor_style_follows_next_tokens() {
    let (url, api) = start(Api::new(Shape::Cursor, 1000)).await;
    let extra = "records = \"data\"\n[http.pagination]\nstyle = \"cursor\"\ncursor_param = \"after\"\nsize_param = \"limit\"\nnext_cursor = \"paging.next\"\nsize = 300\n";
    let c = connector(&url, extra, &[]);
    let batches = pull(&mut open(&c, PullRequest::default())).await.unwrap();
    assert_all_once(&batches, 1000);
    assert_eq!(api.hits(), 4);
    let queries = api.queries.lock().unwrap();
    assert_eq!(queries[0], "limit=300");
    assert_eq!(queries[3], "limit=300&after=tok-900");
}

#[tokio::test]
async fn items_that_are_not_objects_become_row_problems() {
    let (url, _api) = start(Api::new(Shape::Page { total: false }, 0).fault(
        1,
        Fault::Body(r#"{"data":{"list":[{"aac001":"P1"},"oops",null,{"aac001":"P2"}]}}"#),
    ))
    .await;
    let c = connector(&url, PAGE, &[]);
    let batches = pull(&mut open(&c, PullRequest::default())).await.unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].records.len(), 2);
    let problems = &batches[0].problems;
    assert_eq!(problems.len(), 2);
    assert_eq!(problems[0].origin.row, Some(2));
    assert_eq!(problems[0].fields["value"], json!("oops"));
    assert!(
        problems[0].reason.contains("a string, not an object"),
        "{}",
        problems[0].reason
    );
}

// ---------------------------------------------------------------- faults

#[tokio::test]
async fn server_errors_are_retried_until_the_page_arrives() {
    let api = Api::new(Shape::Page { total: true }, 250)
        .fault(2, Fault::Status(500))
        .fault(3, Fault::Status(503));
    let (url, api) = start(api).await;
    let c = connector(&url, PAGE, &[]);
    let batches = pull(&mut open(&c, PullRequest::default())).await.unwrap();
    assert_all_once(&batches, 250);
    assert_eq!(api.hits(), 3 + 2);
}

#[tokio::test]
async fn too_many_requests_waits_for_retry_after() {
    let api = Api::new(Shape::Page { total: true }, 150).fault(1, Fault::RetryAfter(1));
    let (url, api) = start(api).await;
    let c = connector(&url, PAGE, &[]);
    let started = Instant::now();
    let batches = pull(&mut open(&c, PullRequest::default())).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_all_once(&batches, 150);
    assert_eq!(api.hits(), 3);
}

#[tokio::test]
async fn timeouts_are_retried() {
    let api = Api::new(Shape::Page { total: true }, 150)
        .fault(1, Fault::Sleep(Duration::from_millis(1600)));
    let (url, api) = start(api).await;
    let c = connector(&url, &format!("timeout_secs = 1\n{PAGE}"), &[]);
    let batches = pull(&mut open(&c, PullRequest::default())).await.unwrap();
    assert_all_once(&batches, 150);
    assert_eq!(api.hits(), 3);
}

#[tokio::test]
async fn persistent_server_errors_are_transient_after_max_retries() {
    let mut api = Api::new(Shape::Page { total: true }, 150);
    api.always = Some(500);
    let (url, api) = start(api).await;
    let c = connector(&url, PAGE, &[]); // max_retries = 3
    let err = pull(&mut open(&c, PullRequest::default()))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err:?}");
    assert_eq!(api.hits(), 1 + 3);
    let text = err.to_string();
    assert!(text.contains(&url) && text.contains("page 1"), "{text}");
    assert!(
        text.contains("HTTP 500") && text.contains("4 attempt"),
        "{text}"
    );
}

#[tokio::test]
async fn refused_connections_are_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api", listener.local_addr().unwrap());
    drop(listener);
    let c = connector(
        &url,
        &PAGE.replace("max_retries = 3", "max_retries = 1"),
        &[],
    );
    let err = pull(&mut open(&c, PullRequest::default()))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err:?}");
    assert!(err.to_string().contains("page 1"), "{err}");
}

#[tokio::test]
async fn client_errors_are_config_errors_without_retry() {
    for (status, words) in [
        (401, "authentication failed (HTTP 401)"),
        (403, "authentication failed (HTTP 403)"),
        (404, "not found (HTTP 404)"),
        (400, "HTTP 400"),
    ] {
        let mut api = Api::new(Shape::Page { total: true }, 10);
        api.always = Some(status);
        let (url, api) = start(api).await;
        let c = connector(&url, PAGE, &[]);
        let mut source = open(&c, PullRequest::default());
        let err = pull(&mut source).await.unwrap_err();
        assert!(matches!(err, ConnectorError::Config(_)), "{err:?}");
        assert!(err.to_string().contains(words), "{err}");
        assert_eq!(api.hits(), 1, "HTTP {status} must not be retried");
        // A failed pull does not carry on.
        assert!(source.next_batch().await.is_err());
    }
}

#[tokio::test]
async fn malformed_json_and_a_missing_record_path_are_data_errors() {
    let api = Api::new(Shape::Page { total: true }, 300)
        .fault(2, Fault::Body("{\"data\": {\"list\": [1,\n  2,,]}}"));
    let (url, _api) = start(api).await;
    let c = connector(&url, PAGE, &[]);
    let mut source = open(&c, PullRequest::default());
    assert!(source.next_batch().await.unwrap().is_some());
    let err = source.next_batch().await.unwrap_err();
    assert!(matches!(err, ConnectorError::Data(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("page 2") && text.contains("malformed JSON at byte 26"),
        "{text}"
    );

    let api = Api::new(Shape::Page { total: true }, 10)
        .fault(1, Fault::Body(r#"{"code":500,"message":"系统繁忙"}"#));
    let (url, _api) = start(api).await;
    let c = connector(&url, PAGE, &[]);
    let err = pull(&mut open(&c, PullRequest::default()))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Data(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("page 1") && text.contains("`data.list`") && text.contains("系统繁忙"),
        "{text}"
    );
}

#[tokio::test]
async fn a_cancelled_read_loses_nothing() {
    for prefetch in [true, false] {
        let api = Api::new(Shape::Page { total: true }, 250)
            .fault(2, Fault::Sleep(Duration::from_millis(400)));
        let (url, api) = start(api).await;
        let c = connector(&url, PAGE, &[]);
        let mut source = open(&c, PullRequest::default()).with_prefetch(prefetch);
        let mut batches = vec![source.next_batch().await.unwrap().unwrap()];
        let cut = tokio::time::timeout(Duration::from_millis(50), source.next_batch()).await;
        assert!(cut.is_err(), "page 2 is slow");
        batches.extend(pull(&mut source).await.unwrap());
        assert_all_once(&batches, 250);
        assert_eq!(api.hits(), if prefetch { 3 } else { 4 });
    }
}

// ---------------------------------------------------------------- auth

const HMAC: &str = "[http.auth]\nkind = \"hmac_sha256\"\napp_key = \"app-1\"\nsecret = \"${S}\"\n";

#[tokio::test]
async fn hmac_signatures_are_verified_by_the_server() {
    let mut api = Api::new(Shape::Page { total: true }, 250);
    api.auth = Auth::Hmac;
    let (url, api) = start(api).await;
    let c = connector(&url, &format!("{PAGE}{HMAC}"), &[("S", SECRET)]);
    let batches = pull(&mut open(&c, PullRequest::default())).await.unwrap();
    assert_all_once(&batches, 250);
    assert_eq!(api.hits(), 3);

    let wrong = "wrong-Secret-1234";
    let c = connector(&url, &format!("{PAGE}{HMAC}"), &[("S", wrong)]);
    let err = pull(&mut open(&c, PullRequest::default()))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Config(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("authentication failed (HTTP 401)"), "{text}");
    assert!(text.contains("signature does not match"), "{text}");
    assert!(!text.contains(wrong) && !text.contains(SECRET), "{text}");
    assert_eq!(api.hits(), 3 + 1);
}

#[tokio::test]
async fn bearer_and_basic_send_their_header_and_never_echo_it() {
    for (auth, env, header) in [
        (
            "kind = \"bearer\"\ntoken = \"${T}\"\n",
            ("T", "tok-123456"),
            "Bearer tok-123456",
        ),
        (
            "kind = \"basic\"\nusername = \"user\"\npassword = \"${T}\"\n",
            ("T", "password"),
            "Basic dXNlcjpwYXNzd29yZA==",
        ),
    ] {
        let mut api = Api::new(Shape::Page { total: true }, 150);
        api.auth = Auth::Header(header);
        let (url, api) = start(api).await;
        let extra = format!("{PAGE}[http.auth]\n{auth}");
        let c = connector(&url, &extra, &[env]);
        let batches = pull(&mut open(&c, PullRequest::default())).await.unwrap();
        assert_all_once(&batches, 150);
        assert!(api
            .authorizations
            .lock()
            .unwrap()
            .iter()
            .all(|h| h == header));

        // The server echoes what it got; the error must not repeat it.
        let c = connector(&url, &extra, &[(env.0, "other-credential")]);
        let err = pull(&mut open(&c, PullRequest::default()))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("authentication failed (HTTP 401)"), "{text}");
        assert!(!text.contains("other-credential"), "{text}");
        assert!(!text.contains("b3RoZXItY3JlZGVudGlhbA"), "{text}");
    }
}

#[tokio::test]
async fn a_custom_signer_replaces_the_configured_one() {
    let mut api = Api::new(Shape::Page { total: true }, 50);
    api.auth = Auth::Hmac;
    let (url, _api) = start(api).await;
    let c = connector(&url, PAGE, &[]);
    let signer: Arc<dyn RequestSigner> = Arc::new(HmacSha256Signer::new(
        "app-1".into(),
        yici::config::Secret::new(SECRET.into()),
    ));
    let mut source = open(&c, PullRequest::default()).with_signer(signer);
    assert_eq!(source.probe().await.unwrap(), 50);
}

// ---------------------------------------------------------------- pacing

#[tokio::test]
async fn requests_are_paced_to_the_rate_limit() {
    let (url, api) = start(Api::new(Shape::Page { total: true }, 1000)).await;
    let c = connector(&url, &format!("rate_limit_per_sec = 20.0\n{PAGE}"), &[]);
    let started = Instant::now();
    let batches = pull(&mut open(&c, PullRequest::default())).await.unwrap();
    let elapsed = started.elapsed();
    assert_all_once(&batches, 1000);
    assert_eq!(api.hits(), 10);
    assert!(elapsed >= Duration::from_millis(9 * 50), "{elapsed:?}");
}

// ---------------------------------------------------------------- incremental

const INCREMENTAL: &str = "updated_since_param = \"updatedSince\"\ncursor_field = \"aae036\"\n";

#[tokio::test]
async fn incremental_pulls_send_the_cursor_and_advance_it_on_the_last_batch() {
    let (url, api) = start(Api::new(Shape::Page { total: true }, 450)).await;
    let c = connector(&url, &format!("{INCREMENTAL}{PAGE}"), &[]);
    let mut source = open(&c, PullRequest::default());
    assert_eq!(source.mode(), PullMode::Snapshot);
    let batches = pull(&mut source).await.unwrap();
    assert_all_once(&batches, 450);
    let max = (0..450)
        .map(|i| record(i)["aae036"].as_str().unwrap().to_string())
        .max()
        .unwrap();
    let (last, earlier) = batches.split_last().unwrap();
    assert!(earlier.iter().all(|b| b.cursor.is_none()));
    assert_eq!(last.cursor.as_deref(), Some(max.as_str()));

    let since = "2024-01-25 00:00:00";
    let request = PullRequest {
        cursor: Some(since.into()),
        full: false,
    };
    let mut source = open(&c, request.clone());
    assert_eq!(source.mode(), PullMode::Incremental);
    let batches = pull(&mut source).await.unwrap();
    let expected: BTreeSet<String> = (0..450)
        .filter(|i| record(*i)["aae036"].as_str().unwrap() >= since)
        .map(|i| format!("P{i:05}"))
        .collect();
    assert!(!expected.is_empty() && expected.len() < 450);
    assert_eq!(
        keys(&batches).into_iter().collect::<BTreeSet<_>>(),
        expected
    );
    assert_eq!(
        batches.last().unwrap().cursor.as_deref(),
        Some(max.as_str())
    );
    let last_query = api.queries.lock().unwrap().last().unwrap().clone();
    assert!(
        last_query.ends_with("&updatedSince=2024-01-25+00%3A00%3A00"),
        "{last_query}"
    );

    // --full ignores the cursor.
    let source = open(
        &c,
        PullRequest {
            full: true,
            ..request
        },
    );
    assert_eq!(source.mode(), PullMode::Snapshot);
}

#[tokio::test]
async fn a_failed_pull_never_reports_a_cursor() {
    let api = Api::new(Shape::Page { total: true }, 300).fault(3, Fault::Status(404));
    let (url, _api) = start(api).await;
    let c = connector(&url, &format!("{INCREMENTAL}{PAGE}"), &[]);
    let mut source = open(&c, PullRequest::default());
    let mut cursors = Vec::new();
    let err = loop {
        match source.next_batch().await {
            Ok(Some(b)) => cursors.push(b.cursor),
            Ok(None) => panic!("the pull should fail on page 3"),
            Err(e) => break e,
        }
    };
    assert!(err.to_string().contains("page 3"), "{err}");
    assert_eq!(cursors, vec![None, None]);
}

// ---------------------------------------------------------------- sample gateway

async fn sample(persons: usize) -> (tempfile::TempDir, usize) {
    let dir = tempfile::tempdir().unwrap();
    let opts = yici::demo::DemoOptions {
        persons,
        ..Default::default()
    };
    let summary = yici::demo::write_sample_district(dir.path(), &opts)
        .await
        .unwrap();
    let hr = summary.source(yici::demo::Department::Hr).unwrap().records;
    (dir, hr)
}

fn shipped_hr_connector(url: &str, secret: Option<&str>) -> Connector {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/connectors/hr.toml"))
        .unwrap();
    let mut env = vec![("YICI_HR_API_URL", url)];
    if let Some(s) = secret {
        env.push(("YICI_HR_APP_SECRET", s));
    }
    connector_from(&text, &env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_connector_pulls_the_whole_sample_gateway() {
    let (dir, hr_records) = sample(300).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = hr_gateway::serve(
        listener,
        &dir.path().join("hr/pages"),
        GatewayAuth::sample(),
    )
    .await
    .unwrap();
    assert_eq!(gateway.records(), hr_records);

    let c = shipped_hr_connector(&gateway.url(), None);
    let mut source = HttpSource::open(&c, PullRequest::default()).unwrap();
    let batches = pull(&mut source).await.unwrap();
    let pulled: usize = batches.iter().map(|b| b.records.len()).sum();
    assert_eq!(pulled, hr_records);
    assert!(batches.iter().all(|b| b.problems.is_empty()));
    let unique: BTreeSet<&str> = batches
        .iter()
        .flat_map(|b| &b.records)
        .map(|r| r.fields["aac001"].as_str().unwrap())
        .collect();
    assert_eq!(unique.len(), hr_records);
    let cursor = batches.last().unwrap().cursor.clone().unwrap();

    // Incremental: only rows at or after the cursor come back.
    let request = PullRequest {
        cursor: Some(cursor.clone()),
        full: false,
    };
    let batches = pull(&mut HttpSource::open(&c, request).unwrap())
        .await
        .unwrap();
    let again: Vec<_> = batches.iter().flat_map(|b| &b.records).collect();
    assert!(!again.is_empty() && again.len() < hr_records);
    assert!(again
        .iter()
        .all(|r| r.fields["aae036"].as_str().unwrap() >= cursor.as_str()));

    // A wrong secret is an authentication error that does not show it.
    let c = shipped_hr_connector(&gateway.url(), Some("not-the-Secret-42"));
    let before = gateway.requests();
    let err = pull(&mut HttpSource::open(&c, PullRequest::default()).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Config(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("authentication failed (HTTP 401)"), "{text}");
    assert!(text.contains("signature does not match"), "{text}");
    assert!(!text.contains("not-the-Secret-42"), "{text}");
    assert_eq!(gateway.requests(), before + 1);
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn the_gateway_refuses_unsigned_and_replayed_requests_and_stops_on_drop() {
    let (dir, _) = sample(50).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = hr_gateway::serve(
        listener,
        &dir.path().join("hr/pages"),
        GatewayAuth::sample(),
    )
    .await
    .unwrap();
    let url = format!("{}?pageNum=1&pageSize=10", gateway.url());
    let client = reqwest::Client::new();

    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], 401);
    assert!(
        body["message"].as_str().unwrap().contains("X-App-Key"),
        "{body}"
    );

    let signer = HmacSha256Signer::new(
        hr_gateway::SAMPLE_APP_KEY.into(),
        yici::config::Secret::new(hr_gateway::SAMPLE_SECRET.into()),
    );
    let mut request = client.get(&url).build().unwrap();
    let now = sign::unix_millis(SystemTime::now());
    signer.sign(&mut request, now, &sign::new_nonce()).unwrap();
    let replay = request.try_clone().unwrap();
    let response = client.execute(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"]["list"].as_array().unwrap().len(), 10);
    assert_eq!(body["data"]["pageNum"], 1);
    let response = client.execute(replay).await.unwrap();
    assert_eq!(response.status(), 401);

    // A stale timestamp.
    let mut request = client.get(&url).build().unwrap();
    signer
        .sign(&mut request, now - 6 * 60 * 1000, &sign::new_nonce())
        .unwrap();
    assert_eq!(client.execute(request).await.unwrap().status(), 401);

    let addr = gateway.addr();
    drop(gateway);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let fresh = reqwest::Client::new();
    assert!(fresh.get(format!("http://{addr}/")).send().await.is_err());
}

// ---------------------------------------------------------------- throughput
