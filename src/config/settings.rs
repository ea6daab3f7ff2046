//! `config/yici.toml`: the daemon's own settings.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::document::Document;
use super::error::ConfigError;
use super::expand::{self, Environment};
use super::schedule::Schedule;
use super::suggest::closest;
use crate::matching::{BlockingOptions, BlockingRule, MatchSettings, Thresholds};

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
/// The rest tunes blocking and clustering; the defaults suit a district.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchingSection {
    #[serde(default = "default_upper")]
    pub upper_threshold: f64,
    #[serde(default = "default_lower")]
    pub lower_threshold: f64,
    /// A pair scoring below this keeps the two records' clusters apart.
    #[serde(default = "default_veto")]
    pub veto_weight: f64,
    /// Blocking rules, OR-ed, in order.
    pub blocking: Option<Vec<String>>,
    /// Blocks with more records are skipped (and reported).
    #[serde(default = "default_max_block")]
    pub max_block_size: usize,
    /// An identity number carried under this many different names is a
    /// placeholder and stops counting as evidence.
    #[serde(default = "default_generic_id_names")]
    pub generic_id_names: usize,
    /// The trained model (`yici train` writes it); defaults apply while it
    /// does not exist. Relative to the state directory.
    #[serde(default = "default_model")]
    pub model: String,
    /// Optional `name,frequency` CSV overriding name frequencies counted
    /// from the data. Relative to the configuration root.
    pub name_frequencies: Option<String>,
}

fn default_veto() -> f64 {
    crate::matching::MatchSettings::default().veto_weight
}

fn default_max_block() -> usize {
    crate::matching::BlockingOptions::default().max_block_size
}

fn default_generic_id_names() -> usize {
    crate::matching::MatchSettings::default().generic_id_names
}

fn default_model() -> String {
    "match-model.toml".to_owned()
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
            veto_weight: default_veto(),
            blocking: None,
            max_block_size: default_max_block(),
            generic_id_names: default_generic_id_names(),
            model: default_model(),
            name_frequencies: None,
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

/// Validated `[matching]`.
#[derive(Debug, Clone)]
pub struct Matching {
    pub settings: MatchSettings,
    /// Where the trained model lives (may not exist yet).
    pub model_path: PathBuf,
    pub name_frequencies: Option<PathBuf>,
}

/// Validated settings with references expanded and paths made absolute.
#[derive(Debug, Clone)]
pub struct Settings {
    pub state_dir: PathBuf,
    pub store_url: String,
    pub matching: Matching,
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
        let m = file.matching;
        let model_path = expand_at("matching.model", &m.model);
        let name_frequencies = m
            .name_frequencies
            .as_deref()
            .and_then(|p| expand_at("matching.name_frequencies", p))
            .map(|p| under_root(root, p));

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
        if !(m.upper_threshold.is_finite() && m.lower_threshold.is_finite())
            || m.upper_threshold <= m.lower_threshold
        {
            errors.push(locator.error(
                "matching.upper_threshold",
                format!(
                    "upper_threshold ({}) must be greater than lower_threshold ({})",
                    m.upper_threshold, m.lower_threshold
                ),
            ));
        }
        if !m.veto_weight.is_finite() || m.veto_weight >= m.lower_threshold {
            errors.push(locator.error(
                "matching.veto_weight",
                format!(
                    "veto_weight ({}) must be below lower_threshold ({})",
                    m.veto_weight, m.lower_threshold
                ),
            ));
        }
        if m.max_block_size < 2 {
            errors.push(locator.error("matching.max_block_size", "must be at least 2"));
        }
        let mut rules = Vec::new();
        for name in m.blocking.clone().unwrap_or_else(|| {
            BlockingRule::DEFAULTS
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect()
        }) {
            match BlockingRule::parse(&name) {
                Some(rule) if !rules.contains(&rule) => rules.push(rule),
                Some(_) => errors.push(locator.error(
                    "matching.blocking",
                    format!("blocking rule `{name}` is listed twice"),
                )),
                None => {
                    let names = BlockingRule::ALL.map(BlockingRule::as_str);
                    let hint = closest(&name, names)
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_else(|| format!(" (rules: {})", names.join(", ")));
                    errors.push(locator.error(
                        "matching.blocking",
                        format!("unknown blocking rule `{name}`{hint}"),
                    ));
                }
            }
        }
        if rules.is_empty() {
            errors.push(locator.error("matching.blocking", "needs at least one rule"));
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
        match (state_dir, store_url, demo_dir, http_listen, model_path) {
            (Some(state_dir), Some(store_url), Some(demo_dir), Some(http_listen), Some(model))
                if errors.is_empty() =>
            {
                let matching = Matching {
                    settings: MatchSettings {
                        blocking: BlockingOptions {
                            rules,
                            max_block_size: m.max_block_size,
                            ..BlockingOptions::default()
                        },
                        thresholds: Thresholds {
                            upper: m.upper_threshold,
                            lower: m.lower_threshold,
                        },
                        veto_weight: m.veto_weight,
                        generic_id_names: m.generic_id_names,
                    },
                    model_path: state_dir.join(model),
                    name_frequencies,
                };
                Ok(Settings {
                    state_dir,
                    store_url,
                    matching,
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
