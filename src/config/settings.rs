//! `config/yici.toml`: the daemon's own settings.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use serde::Deserialize;

use super::document::{Document, Locator};
use super::error::ConfigError;
use super::expand::{self, Environment};
use super::schedule::Schedule;
use super::suggest::closest;
use crate::master::survivorship::{FieldRules, GoldenField, Rule, Survivorship, DEPARTMENTS};
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
    #[serde(default)]
    pub survivorship: SurvivorshipSection,
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
    /// Bearer token for everything beyond `/healthz` and `/readyz`
    /// (`${VAR}` only); required off loopback.
    pub token: Option<String>,
}

fn default_listen() -> String {
    "127.0.0.1:9464".to_string()
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            listen: default_listen(),
            token: None,
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

/// `[survivorship]`: how golden values are chosen. The top-level keys are
/// the default for every field; `[survivorship.fields.NAME]` overrides
/// them for one field, inheriting whichever key it leaves out.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurvivorshipSection {
    /// Rule chain, compared in order (see `master::survivorship::Rule`).
    pub rules: Option<Vec<String>>,
    /// Connector or department names, best first; empty or absent: the
    /// mappings' `[trust]` ranks sources.
    pub source_priority: Option<Vec<String>>,
    /// Per canonical field.
    #[serde(default)]
    pub fields: BTreeMap<String, FieldRulesSection>,
}

/// `[survivorship.fields.NAME]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldRulesSection {
    pub rules: Option<Vec<String>>,
    pub source_priority: Option<Vec<String>>,
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
    /// Bearer token for `/metrics` and `/status`.
    pub http_token: Option<super::expand::Secret>,
    pub demo_dir: PathBuf,
    pub demo_persons: usize,
    pub demo_seed: u64,
    /// Survivorship rules; `trust` is filled from the mappings by
    /// [`crate::config::Config::load`].
    pub survivorship: Survivorship,
    /// Every `source_priority` entry as written (dotted key, name), checked
    /// against the connectors once they are loaded.
    priority_entries: Vec<(String, String)>,
    /// Where the settings were read from, to place those errors.
    locator: Locator,
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
        let http_token = file
            .http
            .token
            .as_deref()
            .and_then(|t| expand_at("http.token", t))
            .map(super::expand::Secret::new);

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
        if file
            .http
            .token
            .as_deref()
            .is_some_and(|t| !expand::has_reference(t))
        {
            errors.push(locator.error(
                "http.token",
                "write secrets as a `${VAR}` reference (environment, VAR_FILE or systemd credential), not inline",
            ));
        }
        if let Some(addr) = http_listen {
            if !addr.ip().is_loopback() && http_token.is_none() {
                errors.push(locator.error(
                    "http.listen",
                    format!("{addr} is reachable from other machines: set http.token (a `${{VAR}}` reference) to protect /metrics and /status"),
                ));
            }
        }
        if file.demo.persons == 0 {
            errors.push(locator.error("demo.persons", "must be at least 1"));
        }
        let survivorship = survivorship(&file.survivorship, &locator, &mut errors);
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
                    http_token,
                    demo_dir,
                    demo_persons: file.demo.persons,
                    demo_seed: file.demo.seed,
                    survivorship,
                    priority_entries: priority_entries(&file.survivorship),
                    locator,
                })
            }
            _ => Err(errors),
        }
    }
}

/// Validates `[survivorship]`: every rule and field name known, no rule
/// twice, no empty chain. Field sections inherit the keys they leave out.
fn survivorship(
    section: &SurvivorshipSection,
    locator: &Locator,
    errors: &mut Vec<ConfigError>,
) -> Survivorship {
    let default = FieldRules {
        rules: section.rules.as_ref().map_or_else(
            || Rule::ALL.to_vec(),
            |names| rules(names, "survivorship.rules", locator, errors),
        ),
        source_priority: section.source_priority.clone().unwrap_or_default(),
    };
    let mut fields = BTreeMap::new();
    for (name, spec) in &section.fields {
        let key = format!("survivorship.fields.{name}");
        let Some(field) = GoldenField::parse(name) else {
            let names = GoldenField::ALL.map(GoldenField::as_str);
            let hint = closest(name, names)
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_else(|| format!(" (fields: {})", names.join(", ")));
            errors.push(locator.error(&key, format!("unknown field `{name}`{hint}")));
            continue;
        };
        let chain = match &spec.rules {
            Some(names) => rules(names, &format!("{key}.rules"), locator, errors),
            None => default.rules.clone(),
        };
        let source_priority = spec
            .source_priority
            .clone()
            .unwrap_or_else(|| default.source_priority.clone());
        fields.insert(
            field,
            FieldRules {
                rules: chain,
                source_priority,
            },
        );
    }
    Survivorship {
        default,
        fields,
        trust: BTreeMap::new(),
    }
}

/// Every `source_priority` entry written in `[survivorship]`, with its key.
fn priority_entries(section: &SurvivorshipSection) -> Vec<(String, String)> {
    let lists = std::iter::once((
        "survivorship.source_priority".to_owned(),
        &section.source_priority,
    ))
    .chain(section.fields.iter().map(|(field, spec)| {
        (
            format!("survivorship.fields.{field}.source_priority"),
            &spec.source_priority,
        )
    }));
    let mut entries = Vec::new();
    for (key, list) in lists {
        for (i, name) in list.iter().flatten().enumerate() {
            entries.push((format!("{key}[{i}]"), name.clone()));
        }
    }
    entries
}

/// One rule chain; problems are reported at the entry (`key[i]`).
fn rules(
    names: &[String],
    key: &str,
    locator: &Locator,
    errors: &mut Vec<ConfigError>,
) -> Vec<Rule> {
    let mut chain = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let at = format!("{key}[{i}]");
        match Rule::parse(name) {
            Some(rule) if !chain.contains(&rule) => chain.push(rule),
            Some(_) => {
                errors.push(locator.error(&at, format!("rule `{name}` is listed twice")));
            }
            None => {
                let names = Rule::ALL.map(Rule::as_str);
                let hint = closest(name, names)
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_else(|| format!(" (rules: {})", names.join(", ")));
                errors
                    .push(locator.error(&at, format!("unknown survivorship rule `{name}`{hint}")));
            }
        }
    }
    if names.is_empty() {
        errors.push(locator.error(key, "needs at least one rule"));
    }
    chain
}

impl Settings {
    /// Checks that every `source_priority` entry names a connector (among
    /// `sources`) or a department; the settings alone cannot know the
    /// connectors, so the loader calls this once they are read.
    pub(super) fn check_source_priority(&self, sources: &[&str]) -> Vec<ConfigError> {
        let mut known: Vec<&str> = sources.to_vec();
        known.extend(DEPARTMENTS.iter().filter(|d| !sources.contains(d)));
        self.priority_entries
            .iter()
            .filter(|(_, name)| !known.contains(&name.as_str()))
            .map(|(key, name)| {
                let hint = closest(name, known.iter().copied())
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                self.locator.error(
                    key,
                    format!(
                        "`{name}` is neither a connector nor a department{hint} (known: {})",
                        known.join(", ")
                    ),
                )
            })
            .collect()
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

    fn resolve_text(text: &str) -> Result<Settings, Vec<ConfigError>> {
        let text = format!("[store]\nurl = \"sqlite://var/y.db\"\n{text}");
        let doc = super::super::document::parse(Path::new("config/yici.toml"), &text)
            .map_err(|e| vec![e])?;
        Settings::resolve(
            doc,
            Path::new("/etc/yici"),
            &std::collections::HashMap::new(),
        )
    }

    #[test]
    fn survivorship_defaults_when_absent() {
        let settings = resolve_text("").unwrap();
        assert_eq!(settings.survivorship, Survivorship::default());
        assert!(settings.priority_entries.is_empty());
    }

    #[test]
    fn survivorship_section_parses_with_inheritance() {
        let settings = resolve_text(
            r#"
[survivorship]
rules = ["valid", "most_recent"]
source_priority = ["hr"]
[survivorship.fields.id_number]
rules = ["valid", "source_priority", "most_recent"]
source_priority = ["governance", "health", "hr", "civil_affairs"]
[survivorship.fields.phones]
rules = ["most_frequent"]
[survivorship.fields.name]
source_priority = []
"#,
        )
        .unwrap();
        let s = &settings.survivorship;
        assert_eq!(s.default.rules, [Rule::Valid, Rule::MostRecent]);
        assert_eq!(s.default.source_priority, ["hr"]);
        let id = s.rules_for(GoldenField::IdNumber);
        assert_eq!(
            id.rules,
            [Rule::Valid, Rule::SourcePriority, Rule::MostRecent]
        );
        assert_eq!(
            id.source_priority,
            ["governance", "health", "hr", "civil_affairs"]
        );
        // Keys a field leaves out come from the default.
        let phones = s.rules_for(GoldenField::Phones);
        assert_eq!(phones.rules, [Rule::MostFrequent]);
        assert_eq!(phones.source_priority, ["hr"]);
        let name = s.rules_for(GoldenField::Name);
        assert_eq!(name.rules, [Rule::Valid, Rule::MostRecent]);
        assert!(name.source_priority.is_empty());
        assert_eq!(s.rules_for(GoldenField::Sex), &s.default);
        assert_eq!(
            settings.priority_entries,
            [
                (
                    "survivorship.source_priority[0]".to_owned(),
                    "hr".to_owned()
                ),
                (
                    "survivorship.fields.id_number.source_priority[0]".to_owned(),
                    "governance".to_owned()
                ),
                (
                    "survivorship.fields.id_number.source_priority[1]".to_owned(),
                    "health".to_owned()
                ),
                (
                    "survivorship.fields.id_number.source_priority[2]".to_owned(),
                    "hr".to_owned()
                ),
                (
                    "survivorship.fields.id_number.source_priority[3]".to_owned(),
                    "civil_affairs".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn survivorship_errors_are_all_reported_with_their_keys() {
        let errors = resolve_text(
            r#"
[survivorship]
rules = ["valid", "most_recnt"]
[survivorship.fields.id_numbr]
rules = ["valid"]
[survivorship.fields.name]
rules = ["valid", "most_recent", "valid"]
[survivorship.fields.phones]
rules = []
[survivorship.fields.sex]
rules = ["newest"]
"#,
        )
        .unwrap_err();
        let found: Vec<(Option<usize>, Option<&str>, &str)> = errors
            .iter()
            .map(|e| (e.line, e.key.as_deref(), e.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    Some(5),
                    Some("survivorship.rules[1]"),
                    "unknown survivorship rule `most_recnt`; did you mean `most_recent`?"
                ),
                (
                    Some(6),
                    Some("survivorship.fields.id_numbr"),
                    "unknown field `id_numbr`; did you mean `id_number`?"
                ),
                (
                    Some(9),
                    Some("survivorship.fields.name.rules[2]"),
                    "rule `valid` is listed twice"
                ),
                (
                    Some(11),
                    Some("survivorship.fields.phones.rules"),
                    "needs at least one rule"
                ),
                (
                    Some(13),
                    Some("survivorship.fields.sex.rules[0]"),
                    "unknown survivorship rule `newest` (rules: valid, source_priority, most_recent, most_frequent, most_complete)"
                ),
            ],
            "{errors:#?}"
        );
        assert!(errors
            .iter()
            .all(|e| e.file == Path::new("config/yici.toml")));
    }

    #[test]
    fn survivorship_unknown_keys_are_rejected() {
        let errors = resolve_text("[survivorship]\nsource_priorty = [\"hr\"]\n").unwrap_err();
        assert_eq!(
            errors[0].key.as_deref(),
            Some("survivorship.source_priorty")
        );
        assert_eq!(errors[0].line, Some(4));
        assert!(
            errors[0].message.contains("did you mean `source_priority`"),
            "{}",
            errors[0].message
        );
        let errors = resolve_text("[survivorship.fields.name]\nrule = [\"valid\"]\n").unwrap_err();
        assert_eq!(
            errors[0].key.as_deref(),
            Some("survivorship.fields.name.rule"),
            "{errors:?}"
        );
    }

    #[test]
    fn source_priority_names_a_connector_or_a_department() {
        let settings = resolve_text(
            "[survivorship]\nsource_priority = [\"hr_api\", \"health\"]\n[survivorship.fields.name]\nsource_priority = [\"helth\", \"grid\"]\n",
        )
        .unwrap();
        let only_typo = settings.check_source_priority(&["hr_api", "grid"]);
        assert_eq!(only_typo.len(), 1, "{only_typo:?}");
        let errors = settings.check_source_priority(&["hr_api"]);
        let found: Vec<(Option<usize>, Option<&str>)> =
            errors.iter().map(|e| (e.line, e.key.as_deref())).collect();
        assert_eq!(
            found,
            [
                (Some(6), Some("survivorship.fields.name.source_priority[0]")),
                (Some(6), Some("survivorship.fields.name.source_priority[1]")),
            ]
        );
        assert_eq!(
            errors[0].message,
            "`helth` is neither a connector nor a department; did you mean `health`? \
             (known: hr_api, civil_affairs, health, hr, governance, other)"
        );
    }
}
