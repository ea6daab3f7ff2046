//! Credentials on outgoing requests, behind one [`RequestSigner`] trait so a
//! province's own gateway scheme is one more `impl`, not a change to the
//! connector.
//!
//! # The HMAC-SHA256 scheme (`kind = "hmac_sha256"`)
//!
//! Common to provincial data-sharing gateways (数据共享交换平台): every
//! request, including every retry, carries four headers
//!
//! | header | value |
//! |---|---|
//! | `X-App-Key` | the application key (not secret) |
//! | `X-Timestamp` | unix time in milliseconds |
//! | `X-Nonce` | 32 random lowercase hex digits, new for every request |
//! | `X-Signature` | lowercase hex HMAC-SHA256(secret, string to sign) |
//!
//! where the string to sign is five lines joined by `\n` (no trailing newline):
//!
//! ```text
//! METHOD          GET
//! PATH            /api/v1/insured-persons        (percent-encoded, as sent)
//! SORTED_QUERY    pageNum=2&pageSize=500&updatedSince=2024-01-01+00%3A00%3A00
//! TIMESTAMP       1767225600000
//! NONCE           9f0c…
//! ```
//!
//! `SORTED_QUERY` is the query string exactly as sent (still percent-encoded),
//! split at `&`, empty parts dropped, sorted by parameter name (then by the
//! whole `k=v`, for repeated names) and joined with `&`; empty when there is
//! no query. The server recomputes it from the raw query it received, so no
//! decoding or re-encoding can make the two sides disagree.
//!
//! The server ([`verify_signature`], used by the sample district's gateway and
//! the tests, so both sides share this code) rejects a missing header, another
//! app key, a timestamp more than [`MAX_CLOCK_SKEW`] away from its clock and a
//! wrong signature; it should also refuse a nonce it saw within that window.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use sha2::Sha256;

use super::super::ConnectorError;
use crate::config::Secret;

/// `X-App-Key`
pub const HEADER_APP_KEY: &str = "x-app-key";
/// `X-Timestamp`: unix milliseconds.
pub const HEADER_TIMESTAMP: &str = "x-timestamp";
/// `X-Nonce`: random hex, new per request.
pub const HEADER_NONCE: &str = "x-nonce";
/// `X-Signature`: lowercase hex HMAC-SHA256.
pub const HEADER_SIGNATURE: &str = "x-signature";
/// How far a request's timestamp may be from the server's clock.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// Adds credentials to a request just before it is sent. Called again for
/// every retry, with a fresh time and nonce, so a signature never outlives
/// its attempt.
pub trait RequestSigner: Send + Sync {
    /// Adds headers (or query parameters) to `request`. `now_millis` is unix
    /// time in milliseconds; `nonce` is fresh random hex.
    fn sign(
        &self,
        request: &mut reqwest::Request,
        now_millis: i64,
        nonce: &str,
    ) -> Result<(), ConnectorError>;

    /// Every value that must never appear in a log line or error message
    /// (tokens, passwords, secrets, encodings of them); the connector scrubs
    /// them from anything it reports, including response excerpts.
    fn secrets(&self) -> Vec<String>;
}

/// `Authorization: Bearer <token>`.
pub struct BearerAuth {
    token: Secret,
}

impl BearerAuth {
    pub fn new(token: Secret) -> Self {
        BearerAuth { token }
    }
}

impl RequestSigner for BearerAuth {
    fn sign(&self, request: &mut reqwest::Request, _: i64, _: &str) -> Result<(), ConnectorError> {
        let value = sensitive(&format!("Bearer {}", self.token.expose()), "bearer token")?;
        request.headers_mut().insert(AUTHORIZATION, value);
        Ok(())
    }

    fn secrets(&self) -> Vec<String> {
        vec![self.token.expose().to_string()]
    }
}

/// `Authorization: Basic base64(username:password)`.
pub struct BasicAuth {
    username: String,
    password: Secret,
}

impl BasicAuth {
    pub fn new(username: String, password: Secret) -> Self {
        BasicAuth { username, password }
    }

    fn encoded(&self) -> String {
        base64(format!("{}:{}", self.username, self.password.expose()).as_bytes())
    }
}

impl RequestSigner for BasicAuth {
    fn sign(&self, request: &mut reqwest::Request, _: i64, _: &str) -> Result<(), ConnectorError> {
        let value = sensitive(&format!("Basic {}", self.encoded()), "basic credentials")?;
        request.headers_mut().insert(AUTHORIZATION, value);
        Ok(())
    }

    fn secrets(&self) -> Vec<String> {
        vec![self.password.expose().to_string(), self.encoded()]
    }
}

/// The HMAC-SHA256 gateway scheme described in the module documentation.
pub struct HmacSha256Signer {
    app_key: String,
    secret: Secret,
}

impl HmacSha256Signer {
    pub fn new(app_key: String, secret: Secret) -> Self {
        HmacSha256Signer { app_key, secret }
    }
}

impl RequestSigner for HmacSha256Signer {
    fn sign(
        &self,
        request: &mut reqwest::Request,
        now_millis: i64,
        nonce: &str,
    ) -> Result<(), ConnectorError> {
        let timestamp = now_millis.to_string();
        let text = string_to_sign(
            request.method().as_str(),
            request.url().path(),
            request.url().query(),
            &timestamp,
            nonce,
        );
        let signature = hmac_sha256_hex(self.secret.expose().as_bytes(), &text);
        let headers = request.headers_mut();
        let plain = |v: &str, what| {
            HeaderValue::from_str(v)
                .map_err(|_| ConnectorError::Config(format!("{what} is not a valid header value")))
        };
        headers.insert(
            HeaderName::from_static(HEADER_APP_KEY),
            plain(&self.app_key, "http.auth.app_key")?,
        );
        headers.insert(
            HeaderName::from_static(HEADER_TIMESTAMP),
            plain(&timestamp, "timestamp")?,
        );
        headers.insert(
            HeaderName::from_static(HEADER_NONCE),
            plain(nonce, "nonce")?,
        );
        headers.insert(
            HeaderName::from_static(HEADER_SIGNATURE),
            sensitive(&signature, "signature")?,
        );
        Ok(())
    }

    fn secrets(&self) -> Vec<String> {
        vec![self.secret.expose().to_string()]
    }
}

/// A header value marked sensitive (kept out of hyper's debug output). The
/// error names what it was, never the value.
fn sensitive(value: &str, what: &str) -> Result<HeaderValue, ConnectorError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        ConnectorError::Config(format!(
            "the {what} contains characters not allowed in an HTTP header"
        ))
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// The query string in canonical form: parts as sent, sorted by name.
pub fn canonical_query(raw: Option<&str>) -> String {
    let mut parts: Vec<&str> = raw
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .collect();
    let name = |p: &str| p.split_once('=').map_or(p, |(k, _)| k).to_string();
    parts.sort_by(|a, b| name(a).cmp(&name(b)).then_with(|| a.cmp(b)));
    parts.join("&")
}

/// `METHOD\nPATH\nSORTED_QUERY\nTIMESTAMP\nNONCE`.
pub fn string_to_sign(
    method: &str,
    path: &str,
    query: Option<&str>,
    timestamp: &str,
    nonce: &str,
) -> String {
    format!(
        "{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        path,
        canonical_query(query),
        timestamp,
        nonce
    )
}

/// Lowercase hex HMAC-SHA256 of `message` under `secret`.
pub fn hmac_sha256_hex(secret: &[u8], message: &str) -> String {
    hex(&mac(secret, message).finalize().into_bytes())
}

fn mac(secret: &[u8], message: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(message.as_bytes());
    mac
}

/// A request as the server received it, for [`verify_signature`].
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path as received (percent-encoded).
    pub path: &'a str,
    /// The raw query as received, without `?`.
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
}

/// What a valid signature vouches for; the server uses the nonce to refuse
/// replays within [`MAX_CLOCK_SKEW`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub timestamp_millis: i64,
    pub nonce: String,
}

/// Why a signature was refused. Messages are safe to send back to the
/// client: they never contain the secret or the expected signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("unknown app key")]
    UnknownAppKey,
    #[error("X-Timestamp is not unix milliseconds")]
    BadTimestamp,
    #[error("X-Timestamp is {0} s away from the server clock (at most {max} s allowed)", max = MAX_CLOCK_SKEW.as_secs())]
    ClockSkew(i64),
    #[error("X-Nonce must be 16 to 64 hex digits")]
    BadNonce,
    #[error("signature does not match")]
    Mismatch,
}

/// Checks a request signed with [`HmacSha256Signer`] against the expected
/// app key and secret, at server time `now_millis`. The comparison runs in
/// constant time.
pub fn verify_signature(
    request: &SignedRequest<'_>,
    app_key: &str,
    secret: &str,
    now_millis: i64,
) -> Result<Verified, SignatureError> {
    let header = |name: &'static str| {
        request
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .ok_or(SignatureError::MissingHeader(display_name(name)))
    };
    let key = header(HEADER_APP_KEY)?;
    let timestamp = header(HEADER_TIMESTAMP)?;
    let nonce = header(HEADER_NONCE)?;
    let signature = header(HEADER_SIGNATURE)?;
    if key != app_key {
        return Err(SignatureError::UnknownAppKey);
    }
    let millis: i64 = timestamp
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    let skew = now_millis.saturating_sub(millis) / 1000;
    if skew.unsigned_abs() > MAX_CLOCK_SKEW.as_secs() {
        return Err(SignatureError::ClockSkew(skew));
    }
    if !(16..=64).contains(&nonce.len()) || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(SignatureError::BadNonce);
    }
    let given = unhex(signature).ok_or(SignatureError::Mismatch)?;
    let text = string_to_sign(
        request.method,
        request.path,
        request.query,
        timestamp,
        nonce,
    );
    mac(secret.as_bytes(), &text)
        .verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)?;
    Ok(Verified {
        timestamp_millis: millis,
        nonce: nonce.to_string(),
    })
}

fn display_name(name: &'static str) -> &'static str {
    match name {
        HEADER_APP_KEY => "X-App-Key",
        HEADER_TIMESTAMP => "X-Timestamp",
        HEADER_NONCE => "X-Nonce",
        HEADER_SIGNATURE => "X-Signature",
        other => other,
    }
}

/// Unix time in milliseconds (0 if the clock is before 1970).
pub fn unix_millis(now: SystemTime) -> i64 {
    now.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// 128 random bits as 32 hex digits. The crate's `rand` is built without an
/// OS generator, so this draws on the standard library's per-process random
/// SipHash keys (seeded from the OS) over a counter and the clock: unique and
/// unpredictable enough for a nonce, which only has to never repeat.
pub fn new_nonce() -> String {
    format!("{:016x}{:016x}", random_u64(), random_u64())
}

/// A random `u64` (see [`new_nonce`] for the source); also used for jitter.
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16);
    text.as_bytes()
        .chunks(2)
        .map(|p| Some((digit(p[0])? * 16 + digit(p[1])?) as u8))
        .collect()
}

/// Standard base64 with padding (for `Basic`), kept here rather than pulling
/// a crate in for eight lines.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("Aladdin:open sesame", "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        assert_eq!(
            hmac_sha256_hex(b"Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn query_is_sorted_by_name_as_sent() {
        assert_eq!(canonical_query(None), "");
        assert_eq!(
            canonical_query(Some("pageSize=500&b=2&pageNum=1&&a=%E4%B8%AD&b=1")),
            "a=%E4%B8%AD&b=1&b=2&pageNum=1&pageSize=500"
        );
    }

    #[test]
    fn signatures_round_trip_and_fail_closed() {
        let signer = HmacSha256Signer::new("k".into(), Secret::new("s3cret".into()));
        let url = "http://h/api/x?pageSize=5&pageNum=2&updatedSince=2024-01-01+00%3A00%3A00";
        let mut request = reqwest::Request::new(reqwest::Method::GET, url.parse().unwrap());
        let now = 1_767_225_600_000;
        let nonce = new_nonce();
        signer.sign(&mut request, now, &nonce).unwrap();
        let check = |headers: &HeaderMap, query, key, secret, at| {
            verify_signature(
                &SignedRequest {
                    method: "GET",
                    path: "/api/x",
                    query,
                    headers,
                },
                key,
                secret,
                at,
            )
        };
        let q = request.url().query();
        let h = request.headers();
        assert_eq!(check(h, q, "k", "s3cret", now).unwrap().nonce, nonce);
        assert_eq!(
            check(h, q, "k", "wrong", now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(h, q, "k2", "s3cret", now),
            Err(SignatureError::UnknownAppKey)
        );
        assert_eq!(
            check(h, Some("pageNum=3&pageSize=5"), "k", "s3cret", now),
            Err(SignatureError::Mismatch)
        );
        assert!(matches!(
            check(h, q, "k", "s3cret", now + 301_000),
            Err(SignatureError::ClockSkew(301))
        ));
        let mut missing = h.clone();
        missing.remove(HEADER_SIGNATURE);
        assert_eq!(
            check(&missing, q, "k", "s3cret", now),
            Err(SignatureError::MissingHeader("X-Signature"))
        );
        assert_ne!(new_nonce(), new_nonce());
    }
}
