//! The sample district's 人社 API: serves the HR pages written by the sample
//! (`hr/pages/page-*.json`) the way the provincial platform does, so that
//! `yici demo`, the tests and the benchmarks pull them through the real
//! `http` connector, signature check included.
//!
//! `GET /api/v1/insured-persons?pageNum=1&pageSize=500[&updatedSince=…]`
//! answers `{"code":0,"message":"成功","data":{"total","pageNum","pageSize",
//! "pages","list"}}`; `updatedSince` keeps the records whose `aae036` is at
//! or after it. Requests must carry the HMAC-SHA256 gateway signature
//! (checked by [`verify_signature`], the same code the connector's scheme is
//! defined by); a missing or wrong one, a timestamp more than five minutes
//! off or a replayed nonce get `401` with a JSON error.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::Value;

use crate::config::Secret;
use crate::connector::http::sign::unix_millis;
use crate::connector::http::{verify_signature, SignedRequest, MAX_CLOCK_SKEW};

/// Path of the insured-person list (as in `connectors/hr.toml`).
pub const API_PATH: &str = "/api/v1/insured-persons";
/// The address `connectors/hr.toml` points at by default.
pub const DEFAULT_ADDR: &str = "127.0.0.1:18080";
/// The sample gateway's app key (public: the sample is generated locally).
pub const SAMPLE_APP_KEY: &str = "yici-sample";
/// The sample gateway's secret (public, as above; the default in hr.toml).
pub const SAMPLE_SECRET: &str = "sample-district-gateway";
/// Page size when the request names none.
pub const DEFAULT_PAGE_SIZE: usize = 500;
/// Largest page served; larger requests are refused, never silently cut
/// (a client would take a short page for the last one).
pub const MAX_PAGE_SIZE: usize = 10_000;

/// What the gateway demands of a request.
#[derive(Debug, Clone)]
pub enum GatewayAuth {
    /// Open (for tests of other auth kinds).
    None,
    /// The HMAC-SHA256 signature of `connector::http::sign`.
    HmacSha256 { app_key: String, secret: Secret },
}

impl GatewayAuth {
    /// The sample district's key and secret, matching `connectors/hr.toml`.
    pub fn sample() -> Self {
        GatewayAuth::HmacSha256 {
            app_key: SAMPLE_APP_KEY.to_string(),
            secret: Secret::new(SAMPLE_SECRET.to_string()),
        }
    }
}

/// Why the gateway could not start; names the file.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not an HR page: {reason}")]
    Page { path: PathBuf, reason: String },
    #[error("no page-*.json files in {0}")]
    NoPages(PathBuf),
    #[error("gateway task failed: {0}")]
    Task(String),
}

/// A running gateway. Dropping it (or [`GatewayHandle::stop`]) shuts the
/// server down gracefully: no new connections, open ones finish.
pub struct GatewayHandle {
    addr: SocketAddr,
    state: Arc<Gateway>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl GatewayHandle {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The full URL of the insured-person list.
    pub fn url(&self) -> String {
        format!("http://{}{API_PATH}", self.addr)
    }

    /// Records loaded from the pages.
    pub fn records(&self) -> usize {
        self.state.rows.len()
    }

    /// Requests received so far (answered or refused).
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// Stops accepting, lets open requests finish and waits for the server.
    pub async fn stop(mut self) -> Result<(), GatewayError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(task) => match task.await {
                Ok(result) => result.map_err(|e| GatewayError::Task(e.to_string())),
                Err(e) => Err(GatewayError::Task(e.to_string())),
            },
            None => Ok(()),
        }
    }
}

impl Drop for GatewayHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Loads every `page-*.json` under `pages_dir` (in file-name order) and
/// serves them on `listener` until the handle is stopped or dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    pages_dir: &Path,
    auth: GatewayAuth,
) -> Result<GatewayHandle, GatewayError> {
    let dir = pages_dir.to_path_buf();
    let rows = tokio::task::spawn_blocking(move || load_rows(&dir))
        .await
        .map_err(|e| GatewayError::Task(e.to_string()))??;
    let addr = listener.local_addr().map_err(|source| GatewayError::Io {
        path: pages_dir.to_path_buf(),
        source,
    })?;
    let state = Arc::new(Gateway {
        rows,
        auth,
        nonces: Mutex::new(HashMap::new()),
        filtered: Mutex::new(None),
        requests: AtomicU64::new(0),
    });
    let app = Router::new()
        .route(API_PATH, get(insured_persons))
        .with_state(Arc::clone(&state));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                // A send or a dropped sender both mean stop.
                let _ = rx.await;
            })
            .await
    });
    Ok(GatewayHandle {
        addr,
        state,
        shutdown: Some(tx),
        task: Some(task),
    })
}

/// One record, serialized once at load so a page is a concatenation.
struct Row {
    json: Box<str>,
    /// `aae036`, the update time the `updatedSince` filter compares.
    updated: Box<str>,
}

struct Gateway {
    rows: Vec<Row>,
    auth: GatewayAuth,
    /// Nonces seen within the clock-skew window, with their timestamps.
    nonces: Mutex<HashMap<String, i64>>,
    /// The rows matching the last `updatedSince` (a pull asks for the same
    /// one on every page).
    filtered: Mutex<Option<(String, Arc<Vec<u32>>)>>,
    requests: AtomicU64,
}

fn load_rows(dir: &Path) -> Result<Vec<Row>, GatewayError> {
    let io = |path: &Path, source| GatewayError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("page-") && n.ends_with(".json"))
        })
        .collect();
    if files.is_empty() {
        return Err(GatewayError::NoPages(dir.to_path_buf()));
    }
    files.sort();
    let mut rows = Vec::new();
    for path in files {
        let bad = |reason: String| GatewayError::Page {
            path: path.clone(),
            reason,
        };
        let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
        let mut page: Value =
            serde_json::from_slice(&bytes).map_err(|e| bad(format!("invalid JSON ({e})")))?;
        let list = match page.pointer_mut("/data/list").map(Value::take) {
            Some(Value::Array(list)) => list,
            _ => return Err(bad("no array at data.list".into())),
        };
        for item in list {
            let updated = item
                .get("aae036")
                .and_then(Value::as_str)
                .unwrap_or("")
                .into();
            let json = serde_json::to_string(&item)
                .map_err(|e| bad(format!("cannot re-encode a record ({e})")))?
                .into_boxed_str();
            rows.push(Row { json, updated });
        }
    }
    Ok(rows)
}

async fn insured_persons(
    State(gateway): State<Arc<Gateway>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    gateway.requests.fetch_add(1, Ordering::Relaxed);
    if let Err(why) = gateway.check_signature(&method, &uri, &headers) {
        return error(StatusCode::UNAUTHORIZED, &format!("签名验证失败: {why}"));
    }
    let query: HashMap<String, String> = match Query::try_from_uri(&uri) {
        Ok(Query(q)) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("参数错误: {e}")),
    };
    let number = |name: &str, default: usize| match query.get(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<usize>()
            .map_err(|_| format!("参数错误: {name} 必须是正整数")),
    };
    let (page_num, page_size) = match (number("pageNum", 1), number("pageSize", DEFAULT_PAGE_SIZE))
    {
        (Ok(n), Ok(s)) if n >= 1 && (1..=MAX_PAGE_SIZE).contains(&s) => (n, s),
        (Err(e), _) | (_, Err(e)) => return error(StatusCode::BAD_REQUEST, &e),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("参数错误: pageNum ≥ 1, 1 ≤ pageSize ≤ {MAX_PAGE_SIZE}"),
            )
        }
    };
    let selected = query
        .get("updatedSince")
        .filter(|s| !s.is_empty())
        .map(|since| gateway.since(since));
    let total = selected.as_ref().map_or(gateway.rows.len(), |s| s.len());
    let start = (page_num - 1).saturating_mul(page_size).min(total);
    let end = start.saturating_add(page_size).min(total);
    let pages = total.div_ceil(page_size);

    let mut body = String::with_capacity(128 + (end - start) * 400);
    body.push_str(&format!(
        r#"{{"code":0,"message":"成功","data":{{"total":{total},"pageNum":{page_num},"pageSize":{page_size},"pages":{pages},"list":["#
    ));
    for (n, i) in (start..end).enumerate() {
        if n > 0 {
            body.push(',');
        }
        let row = match &selected {
            Some(s) => &gateway.rows[s[i] as usize],
            None => &gateway.rows[i],
        };
        body.push_str(&row.json);
    }
    body.push_str("]}}");
    (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response()
}

impl Gateway {
    fn check_signature(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Result<(), String> {
        let GatewayAuth::HmacSha256 { app_key, secret } = &self.auth else {
            return Ok(());
        };
        let now = unix_millis(SystemTime::now());
        let verified = verify_signature(
            &SignedRequest {
                method: method.as_str(),
                path: uri.path(),
                query: uri.query(),
                headers,
            },
            app_key,
            secret.expose(),
            now,
        )
        .map_err(|e| e.to_string())?;
        let window = i64::try_from(MAX_CLOCK_SKEW.as_millis()).unwrap_or(i64::MAX);
        let mut nonces = self.nonces.lock().unwrap_or_else(|p| p.into_inner());
        if nonces.len() > 4096 {
            nonces.retain(|_, at| (now - *at).abs() <= window);
        }
        if nonces
            .insert(verified.nonce, verified.timestamp_millis)
            .is_some()
        {
            return Err("nonce already used".into());
        }
        Ok(())
    }

    /// Indexes of the rows updated at or after `since`, in page order.
    fn since(&self, since: &str) -> Arc<Vec<u32>> {
        let mut cache = self.filtered.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((key, rows)) = cache.as_ref() {
            if key == since {
                return Arc::clone(rows);
            }
        }
        let rows: Arc<Vec<u32>> = Arc::new(
            self.rows
                .iter()
                .enumerate()
                .filter(|(_, r)| &*r.updated >= since)
                .map(|(i, _)| i as u32)
                .collect(),
        );
        *cache = Some((since.to_string(), Arc::clone(&rows)));
        rows
    }
}

/// `{"code":<status>,"message":…}` with that status.
fn error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({"code": status.as_u16(), "message": message, "data": null});
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}
