//! What the throwaway-database helpers for each server share: naming,
//! URLs, stale-database detection, skipping loudly (or failing under CI), and
//! cleaning up from `Drop`.
#![allow(dead_code)] // each test binary uses a different part

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU32, Ordering};

/// Prefix of every database the helpers create.
pub const PREFIX: &str = "yici_test_";

/// `yici_test_<pid>_<counter>_<random>`: unique per test, and naming the
/// process so databases left by killed runs can be found.
pub fn unique_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let random = RandomState::new().build_hasher().finish() & 0xffff_ffff;
    format!(
        "{PREFIX}{}_{}_{random:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// True for a helper-made database whose process is gone (Linux: no
/// `/proc/<pid>`).
pub fn is_stale(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(PREFIX) else {
        return false;
    };
    let pid = rest.split('_').next().unwrap_or("");
    !pid.parse::<u32>().is_ok_and(|pid| {
        pid == std::process::id() || std::path::Path::new(&format!("/proc/{pid}")).exists()
    })
}

/// `url` with its database path replaced by `name` (query string kept).
pub fn database_url(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// No server answered: a failure under `CI=true`, otherwise a loud skip.
pub fn unreachable(server: &str, admin_url: &str, error: &dyn std::fmt::Display, env_var: &str) {
    let shown = yici::store::redact_url(admin_url);
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{server} not reachable at {shown} (required when CI=true): {error}");
    }
    eprintln!(
        "SKIPPED: {server} not reachable at {shown}: {error} \
         (set {env_var} to test against {server})"
    );
}

/// Runs `work` to completion on a new thread with its own runtime: `Drop`
/// may run inside a runtime and must not block it on its own futures.
pub fn on_fresh_thread<F, Fut, T>(work: F) -> Option<T>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime for test database cleanup");
        runtime.block_on(work())
    })
    .join()
    .ok()
}
