//! The write side of the `http` connector: push-back into a department's
//! REST API, authenticated the way its records are read (bearer, basic or
//! the signed gateway scheme).
//!
//! One record's update reads the record first (`GET url`) and writes only
//! if every column still holds what we pulled — or already holds our value
//! (a re-delivery: nothing is sent). The write (`PUT`/`PATCH`/`POST url`,
//! a JSON object of the changed columns) carries the record's `ETag` as
//! `If-Match` when the API gives one, so an edit between the read and the
//! write is refused by the API (412) rather than overwritten. Suggestions
//! are `POST`ed with an `Idempotency-Key`.
//!
//! Answers: 2xx written; 404 record gone; 409/412 changed meanwhile;
//! 429, 5xx, timeouts and refused connections transient (the outbox
//! retries with backoff); 401/403 configuration; other 4xx a refused value
//! (data: parked with the API's reason).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderValue, ACCEPT, ETAG, IF_MATCH};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value};

use super::sign::{self, RequestSigner};
use crate::config::{Connector, Location};
use crate::connector::target::{ColumnWrite, Expect, Suggestion, UpdateOutcome};
use crate::connector::ConnectorError;

/// Writes golden values into one department API.
pub struct HttpTarget {
    name: String,
    client: reqwest::Client,
    signer: Option<Arc<dyn RequestSigner>>,
    /// The record URL, with `{key}` for the record's key.
    record_url: String,
    method: Method,
    suggestions_url: Option<String>,
    /// The connector's `rate_limit_per_sec`, shared by every request.
    pacer: Option<tokio::sync::Mutex<super::Pacer>>,
}

impl std::fmt::Debug for HttpTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTarget")
            .field("name", &self.name)
            .field("record_url", &self.record_url)
            .finish_non_exhaustive()
    }
}

impl HttpTarget {
    /// A writer for `connector` (an `http` source): `record_url` holds
    /// `{key}`, `method` is how a record is updated, `suggestions_url`
    /// where suggestions are posted.
    pub fn open(
        connector: &Connector,
        record_url: &str,
        method: &str,
        suggestions_url: Option<&str>,
    ) -> Result<HttpTarget, ConnectorError> {
        let Location::Http {
            auth,
            timeout_secs,
            rate_limit_per_sec,
            ..
        } = &connector.location
        else {
            return Err(ConnectorError::Config(format!(
                "connector `{}` is not an http connector",
                connector.name
            )));
        };
        let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .ok()
            .filter(|m| [Method::PUT, Method::PATCH, Method::POST].contains(m))
            .ok_or_else(|| {
                ConnectorError::Config(format!(
                    "{}: push.method `{method}` is not PUT, PATCH or POST",
                    connector.name
                ))
            })?;
        let pacer = super::Pacer::for_rate(*rate_limit_per_sec).map_err(|why| {
            ConnectorError::Config(format!("{}: http.rate_limit_per_sec {why}", connector.name))
        })?;
        let timeout = (*timeout_secs > 0).then(|| Duration::from_secs(*timeout_secs));
        let client = super::client(timeout).map_err(|e| {
            ConnectorError::Config(format!(
                "{}: cannot set up the HTTP client ({e})",
                connector.name
            ))
        })?;
        Ok(HttpTarget {
            name: connector.name.clone(),
            client,
            signer: super::signer(auth),
            record_url: record_url.to_owned(),
            method,
            suggestions_url: suggestions_url.map(str::to_owned),
            pacer: pacer.map(tokio::sync::Mutex::new),
        })
    }

    fn url_of(&self, key: &str) -> String {
        let encoded: String = key
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        self.record_url.replace("{key}", &encoded)
    }

    /// Sends one signed request; classifies what went wrong.
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        headers: &[(reqwest::header::HeaderName, String)],
    ) -> Result<reqwest::Response, ConnectorError> {
        let at = format!(
            "{} {method} {}",
            self.name,
            url.split('?').next().unwrap_or(url)
        );
        let mut builder = self
            .client
            .request(method, url)
            .header(ACCEPT, "application/json");
        if let Some(body) = body {
            builder = builder.json(body);
        }
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        let mut request = builder
            .build()
            .map_err(|e| ConnectorError::Config(format!("{at}: cannot build the request ({e})")))?;
        if let Some(pacer) = &self.pacer {
            pacer.lock().await.wait().await;
        }
        // Signed after pacing, so the timestamp is the sending time.
        if let Some(signer) = &self.signer {
            signer.sign(
                &mut request,
                sign::unix_millis(SystemTime::now()),
                &sign::new_nonce(),
            )?;
        }
        self.client.execute(request).await.map_err(|e| {
            ConnectorError::Transient(if e.is_timeout() {
                format!("{at}: timed out")
            } else {
                format!("{at}: {}", super::describe(e))
            })
        })
    }

    /// A failed answer as an error, with the API's reason.
    async fn refused(&self, what: &str, response: reqwest::Response) -> ConnectorError {
        let code = response.status();
        let body = response
            .bytes()
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
        let reason = if body.is_empty() {
            String::new()
        } else {
            format!(": {}", super::excerpt(&body))
        };
        let message = format!("{} {what}: HTTP {}{reason}", self.name, code.as_u16());
        match code {
            StatusCode::TOO_MANY_REQUESTS | StatusCode::REQUEST_TIMEOUT => {
                ConnectorError::Transient(message)
            }
            s if s.is_server_error() => ConnectorError::Transient(message),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                ConnectorError::Config(format!("{message}; check [http.auth] and its secret"))
            }
            _ => ConnectorError::Data(message),
        }
    }

    /// One record's update; see the module docs.
    pub async fn update(
        &mut self,
        key: &str,
        set: &[ColumnWrite],
    ) -> Result<UpdateOutcome, ConnectorError> {
        let url = self.url_of(key);
        let response = self.send(Method::GET, &url, None, &[]).await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(UpdateOutcome::Missing);
        }
        if !response.status().is_success() {
            return Err(self.refused("reading the record", response).await);
        }
        let etag = response
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body: Value = response.json().await.map_err(|e| {
            ConnectorError::Data(format!("{} GET {url}: not a JSON record ({e})", self.name))
        })?;
        let record = match body.get("data") {
            Some(Value::Object(data)) => data.clone(),
            _ => body.as_object().cloned().unwrap_or_default(),
        };
        let mut changes = Map::new();
        for w in set {
            let now = text(record.get(&w.column));
            if now.as_deref() == Some(w.new.as_str()) {
                continue;
            }
            let expected = match &w.expect {
                Expect::Empty => now.as_deref().is_none_or(|v| v.trim().is_empty()),
                Expect::Value(v) => now.as_deref() == Some(v.as_str()),
            };
            if !expected {
                return Ok(UpdateOutcome::Changed {
                    column: w.column.clone(),
                    found: now,
                });
            }
            changes.insert(w.column.clone(), Value::String(w.new.clone()));
        }
        if changes.is_empty() {
            return Ok(UpdateOutcome::AlreadyDone);
        }
        let headers: Vec<_> = etag.into_iter().map(|e| (IF_MATCH, e)).collect();
        let body = Value::Object(changes);
        let response = self
            .send(self.method.clone(), &url, Some(&body), &headers)
            .await?;
        match response.status() {
            s if s.is_success() => Ok(UpdateOutcome::Applied),
            StatusCode::NOT_FOUND => Ok(UpdateOutcome::Missing),
            StatusCode::CONFLICT | StatusCode::PRECONDITION_FAILED => Ok(UpdateOutcome::Changed {
                column: set.first().map(|w| w.column.clone()).unwrap_or_default(),
                found: None,
            }),
            _ => Err(self.refused("writing the record", response).await),
        }
    }

    /// Posts a suggestion; `false` when the API already has it (409).
    pub async fn suggest(&mut self, s: &Suggestion) -> Result<bool, ConnectorError> {
        let Some(url) = self.suggestions_url.clone() else {
            return Err(ConnectorError::Config(format!(
                "{}: a suggest field needs push.suggestions, the URL suggestions are posted to",
                self.name
            )));
        };
        let body = serde_json::json!({
            "outbox_id": s.outbox_id,
            "record": s.record_key,
            "field": s.field,
            "column": s.column,
            "current": s.current,
            "suggested": s.suggested,
            "source": s.source,
            "reason": s.reason,
        });
        let key = HeaderValue::from_str(&format!("yici-{}-{}", s.outbox_id, s.column))
            .map(|v| v.to_str().unwrap_or_default().to_owned())
            .unwrap_or_else(|_| format!("yici-{}", s.outbox_id));
        let headers = [(
            reqwest::header::HeaderName::from_static("idempotency-key"),
            key,
        )];
        let response = self.send(Method::POST, &url, Some(&body), &headers).await?;
        match response.status() {
            s if s.is_success() => Ok(true),
            StatusCode::CONFLICT => Ok(false),
            _ => Err(self.refused("posting a suggestion", response).await),
        }
    }
}

/// A JSON value as the text we compare with what we pulled.
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}
