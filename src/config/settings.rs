//! `config/yici.toml`: the daemon's own settings.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::document::Document;
use super::error::ConfigError;
use super::expand::{self, Environment};
use super::schedule::Schedule;

/// `config/yici.toml` as written by the operator.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsFile {
    /// Where yici keeps its own files (the SQLite store, sample data, locks).
    #[serde(default = "default_state_dir")]
    pub state_dir: String,
    pub store: StoreSection,
    #[serde(default)]
    pub matching: MatchingSection,
    #[serde(default)]
    pub schedule: ScheduleSection,
    #[serde(default)]
    pub http: HttpSection,
    #[serde(default)]
    pub demo: DemoSection,
}

fn default_state_dir() -> String {
    "var".to_string()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// `sqlite://PATH` (the embedded default) or `postgres://…`; `${VAR}` allowed.
    pub url: String,
}

/// Match-weight thresholds (log2 odds): at or above `upper` two records are
/// linked, below `lower` they are distinct, in between a steward reviews.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchingSection {
    #[serde(default = "default_upper")]
    pub upper_threshold: f64,
    #[serde(default = "default_lower")]
    pub lower_threshold: f64,
}

fn default_upper() -> f64 {
    12.0
}

fn default_lower() -> f64 {
    4.0
}

impl Default for MatchingSection {
    fn default() -> Self {
        MatchingSection {
            upper_threshold: default_upper(),
            lower_threshold: default_lower(),
        }
    }
}

/// Cron expressions for the daemon's jobs; connectors carry their own pull
/// schedules.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSection {
    pub sync: Option<String>,
    pub resolve: Option<String>,
    pub push: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    #[serde(default = "default_listen")]
    pub listen: String,
}

fn default_listen() -> String {
    "127.0.0.1:9464".to_string()
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            listen: default_listen(),
        }
    }
}

/// Where `yici demo` writes the sample district and how big it is.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoSection {
    #[serde(default = "default_demo_dir")]
    pub dir: String,
    #[serde(default = "default_persons")]
    pub persons: usize,
    #[serde(default = "default_seed")]
    pub seed: u64,
}

fn default_demo_dir() -> String {
    "sample".to_string()
}

fn default_persons() -> usize {
    5000
}

fn default_seed() -> u64 {
    2026
}

impl Default for DemoSection {
    fn default() -> Self {
        DemoSection {
            dir: default_demo_dir(),
            persons: default_persons(),
            seed: default_seed(),
        }
    }
}

/// Validated settings with references expanded and paths made absolute.
#[derive(Debug, Clone)]
pub struct Settings {
    pub state_dir: PathBuf,
    pub store_url: String,
    pub upper_threshold: f64,
    pub lower_threshold: f64,
    pub sync_schedule: Option<Schedule>,
    pub resolve_schedule: Option<Schedule>,
    pub push_schedule: Option<Schedule>,
    pub http_listen: SocketAddr,
    pub demo_dir: PathBuf,
    pub demo_persons: usize,
    pub demo_seed: u64,
}

impl Settings {
    /// Validates a parsed settings file; relative paths are taken from `root`.
    pub fn resolve(
        doc: Document<SettingsFile>,
        root: &Path,
        env: &impl Environment,
    ) -> Result<Settings, Vec<ConfigError>> {
        let Document {
            value: file,
            locator,
        } = doc;
        let mut errors = Vec::new();
        let mut expand_at = |key: &str, value: &str| match expand::expand(value, env) {
            Ok(v) => Some(v),
            Err(e) => {
                errors.push(locator.error(key, e.to_string()));
                None
            }
        };
        let state_dir = expand_at("state_dir", &file.state_dir).map(|d| under_root(root, d));
        let store_url =
            expand_at("store.url", &file.store.url).map(|u| absolute_sqlite_url(&u, root));
        let demo_dir = expand_at("demo.dir", &file.demo.dir).map(|d| under_root(root, d));

        if let Some(url) = &store_url {
            if !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
            {
                errors.push(locator.error(
                    "store.url",
                    "the store must be `sqlite://PATH` or `postgres://…`",
                ));
            }
        }
        let MatchingSection {
            upper_threshold,
            lower_threshold,
        } = file.matching;
        if !(upper_threshold.is_finite() && lower_threshold.is_finite())
            || upper_threshold <= lower_threshold
        {
            errors.push(locator.error(
                "matching.upper_threshold",
                format!("upper_threshold ({upper_threshold}) must be greater than lower_threshold ({lower_threshold})"),
            ));
        }
        let mut schedule = |key: &str, expr: &Option<String>| {
            expr.as_deref().and_then(|e| match e.parse::<Schedule>() {
                Ok(s) => Some(s),
                Err(message) => {
                    errors.push(locator.error(key, message));
                    None
                }
            })
        };
        let sync_schedule = schedule("schedule.sync", &file.schedule.sync);
        let resolve_schedule = schedule("schedule.resolve", &file.schedule.resolve);
        let push_schedule = schedule("schedule.push", &file.schedule.push);
        let http_listen = match file.http.listen.parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                errors.push(locator.error(
                    "http.listen",
                    format!(
                        "`{}` is not an address:port such as 127.0.0.1:9464",
                        file.http.listen
                    ),
                ));
                None
            }
        };
        if file.demo.persons == 0 {
            errors.push(locator.error("demo.persons", "must be at least 1"));
        }
        match (state_dir, store_url, demo_dir, http_listen) {
            (Some(state_dir), Some(store_url), Some(demo_dir), Some(http_listen))
                if errors.is_empty() =>
            {
                Ok(Settings {
                    state_dir,
                    store_url,
                    upper_threshold,
                    lower_threshold,
                    sync_schedule,
                    resolve_schedule,
                    push_schedule,
                    http_listen,
                    demo_dir,
                    demo_persons: file.demo.persons,
                    demo_seed: file.demo.seed,
                })
            }
            _ => Err(errors),
        }
    }
}

/// `relative` under the configuration root; the root is left out when it is
/// the current folder so that messages show the path the operator would type.
pub fn under_root(root: &Path, relative: impl AsRef<Path>) -> PathBuf {
    let relative = relative.as_ref();
    if root == Path::new(".") || root.as_os_str().is_empty() {
        relative.to_path_buf()
    } else {
        root.join(relative)
    }
}

/// Makes the path of a relative `sqlite:` URL relative to the configuration
/// root rather than to wherever the command happens to run.
pub fn absolute_sqlite_url(url: &str, root: &Path) -> String {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return url.to_string();
    };
    let path = rest.strip_prefix("//").unwrap_or(rest);
    if path.starts_with(':') || path.is_empty() || Path::new(path).is_absolute() {
        return url.to_string();
    }
    format!("sqlite://{}", under_root(root, path).display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_sqlite_paths_follow_the_config_root() {
        let root = Path::new("/etc/yici");
        assert_eq!(
            absolute_sqlite_url("sqlite://var/y.db", root),
            "sqlite:///etc/yici/var/y.db"
        );
        assert_eq!(
            absolute_sqlite_url("sqlite:var/y.db", root),
            "sqlite:///etc/yici/var/y.db"
        );
        assert_eq!(
            absolute_sqlite_url("sqlite:///srv/y.db", root),
            "sqlite:///srv/y.db"
        );
        assert_eq!(
            absolute_sqlite_url("sqlite::memory:", root),
            "sqlite::memory:"
        );
        assert_eq!(
            absolute_sqlite_url("postgres://h/db", root),
            "postgres://h/db"
        );
    }
}
