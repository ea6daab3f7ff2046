//! Loading and validating the operator's files: `config/yici.toml`,
//! `connectors/*.toml` and `mappings/*.toml` under one configuration root.
//!
//! Every problem is reported with file, line and key, and loading carries on
//! past a bad file so that one `yici check` shows them all.

pub mod connector;
pub mod document;
pub mod error;
pub mod expand;
pub mod mapping;
pub mod push;
pub mod schedule;
pub mod settings;
pub mod suggest;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use connector::{Connector, ConnectorKind, Department, Location};
pub use error::{ConfigError, ConfigErrors};
pub use expand::{Environment, ProcessEnv, Secret};
pub use mapping::Mapping;
pub use settings::Settings;

/// Path of the settings file below the configuration root.
pub const SETTINGS_FILE: &str = "config/yici.toml";
/// Folder of connector files below the configuration root.
pub const CONNECTORS_DIR: &str = "connectors";
/// Folder of mapping files below the configuration root.
pub const MAPPINGS_DIR: &str = "mappings";

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub root: PathBuf,
    pub settings: Settings,
    pub connectors: BTreeMap<String, Connector>,
    pub mappings: BTreeMap<String, Mapping>,
}

impl Config {
    /// Loads the tree under `root`, resolving `${VAR}` from the process
    /// environment.
    pub fn load(root: &Path) -> Result<Config, ConfigErrors> {
        Self::load_with(root, &ProcessEnv)
    }

    /// Loads the tree under `root` with references resolved from `env`.
    pub fn load_with(root: &Path, env: &impl Environment) -> Result<Config, ConfigErrors> {
        let mut errors = ConfigErrors::default();
        let settings_path = settings::under_root(root, SETTINGS_FILE);
        let mut settings = match document::read(&settings_path) {
            Ok(doc) => Settings::resolve(doc, root, env)
                .map_err(|e| errors.extend(e))
                .ok(),
            Err(e) => {
                errors.push(e);
                None
            }
        };

        let mut connectors = BTreeMap::new();
        let connector_files = toml_files(root, CONNECTORS_DIR, &mut errors);
        for (name, path) in connector_files.iter().cloned() {
            match document::read(&path) {
                Ok(doc) => match Connector::resolve(&name, doc, root, env) {
                    Ok(c) => {
                        connectors.insert(name, c);
                    }
                    Err(e) => errors.extend(e),
                },
                Err(e) => errors.push(e),
            }
        }
        let mut mappings = BTreeMap::new();
        let mapping_files = toml_files(root, MAPPINGS_DIR, &mut errors);
        for (name, path) in mapping_files.iter().cloned() {
            match document::read(&path) {
                Ok(doc) => match Mapping::resolve(&name, doc) {
                    Ok(m) => {
                        mappings.insert(name, m);
                    }
                    Err(e) => errors.extend(e),
                },
                Err(e) => errors.push(e),
            }
        }
        let files = Files {
            connectors: connector_files.into_iter().map(|(name, _)| name).collect(),
            mappings: mapping_files.into_iter().map(|(name, _)| name).collect(),
        };
        cross_check(root, &files, &connectors, &mappings, &mut errors);
        check_push_targets(&connectors, &mappings, &mut errors);
        if let Some(settings) = settings.as_mut() {
            wire_survivorship(settings, &files, &connectors, &mappings, &mut errors);
        }

        match settings {
            Some(settings) if errors.is_empty() => Ok(Config {
                root: root.to_path_buf(),
                settings,
                connectors,
                mappings,
            }),
            _ => Err(errors),
        }
    }
}

/// The `*.toml` files of one folder as (name, path), sorted by name.
fn toml_files(root: &Path, folder: &str, errors: &mut ConfigErrors) -> Vec<(String, PathBuf)> {
    let dir = settings::under_root(root, folder);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(ConfigError::file(&dir, format!("cannot read folder: {e}")));
            return Vec::new();
        }
    };
    let mut files: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|entry| dir.join(entry.file_name()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .filter_map(|path| {
            let stem = path.file_stem()?.to_str()?.to_string();
            Some((stem, path))
        })
        .collect();
    files.sort();
    files.retain(|(name, path)| {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            errors.push(ConfigError::file(
                path,
                format!("`{name}` is not a valid name: use lower-case letters, digits and _"),
            ));
        }
        valid
    });
    files
}

/// Names of the files found, whether or not they were valid, so that one bad
/// file does not also make its partner look orphaned.
struct Files {
    connectors: Vec<String>,
    mappings: Vec<String>,
}

/// Survivorship ranks sources by the trust of the mapping each connector
/// uses (keyed by connector, as golden records name sources), and its
/// priority lists may only name connectors (found, even if invalid) or
/// departments.
fn wire_survivorship(
    settings: &mut Settings,
    files: &Files,
    connectors: &BTreeMap<String, Connector>,
    mappings: &BTreeMap<String, Mapping>,
    errors: &mut ConfigErrors,
) {
    for (name, connector) in connectors {
        if let Some(mapping) = mappings.get(&connector.mapping) {
            if !mapping.trust.is_empty() {
                settings
                    .survivorship
                    .trust
                    .insert(name.clone(), mapping.trust.clone());
            }
        }
    }
    let sources: Vec<&str> = files.connectors.iter().map(String::as_str).collect();
    errors.extend(settings.check_source_priority(&sources));
}

/// A mapping's `[push]` must suit the connector that uses it: a SQL
/// source is written through its table (not a query) with plain column
/// names; HTTP sources are read-only for now.
fn check_push_targets(
    connectors: &BTreeMap<String, Connector>,
    mappings: &BTreeMap<String, Mapping>,
    errors: &mut ConfigErrors,
) {
    for connector in connectors.values() {
        let Some(mapping) = mappings.get(&connector.mapping) else {
            continue;
        };
        let Some(push) = &mapping.push else { continue };
        let at = |key: String, message: String| ConfigError {
            key: Some(key),
            ..ConfigError::file(&mapping.file, message)
        };
        match &connector.location {
            Location::Sql { table, .. } => {
                if table.is_none() {
                    errors.push(at(
                        "push".to_owned(),
                        format!(
                            "connector `{}` reads a query; push-back writes a table, so it needs `table`",
                            connector.name
                        ),
                    ));
                }
                let suggestions = push
                    .suggestions
                    .iter()
                    .map(|t| ("push.suggestions".to_owned(), t));
                let columns = push
                    .fields
                    .iter()
                    .map(|(f, p)| (format!("push.fields.{}.column", f.as_str()), &p.column));
                for (key, name) in columns.chain(suggestions) {
                    if !connector::is_sql_identifier(name) {
                        errors.push(at(key, format!("`{name}` is not a plain SQL name")));
                    }
                }
            }
            Location::Http { .. } => {
                if push.url.is_none() {
                    errors.push(at(
                        "push.url".to_owned(),
                        format!(
                            "connector `{}` is an HTTP API: push-back needs the record URL, e.g. url = \"https://api.example/residents/{{key}}\"",
                            connector.name
                        ),
                    ));
                }
                if push.create.is_some() {
                    errors.push(at(
                        "push.create".to_owned(),
                        "creating records over HTTP is not supported; create them in the department's system".to_owned(),
                    ));
                }
                if push.suggests() && push.suggestions.is_none() {
                    errors.push(at(
                        "push.suggestions".to_owned(),
                        "a `suggest` field needs the URL suggestions are posted to".to_owned(),
                    ));
                }
            }
            Location::Csv { .. } | Location::Excel { .. } => {}
        }
        if push.url.is_some() && !matches!(connector.location, Location::Http { .. }) {
            errors.push(at(
                "push.url".to_owned(),
                format!(
                    "connector `{}` is not an HTTP API; only HTTP targets take a URL",
                    connector.name
                ),
            ));
        }
    }
}

/// Connectors and mappings must refer to each other by name.
fn cross_check(
    root: &Path,
    files: &Files,
    connectors: &BTreeMap<String, Connector>,
    mappings: &BTreeMap<String, Mapping>,
    errors: &mut ConfigErrors,
) {
    for connector in connectors.values() {
        if !files.mappings.contains(&connector.mapping) {
            let names = files.mappings.iter().map(String::as_str);
            let hint = suggest::did_you_mean(&connector.mapping, names);
            errors.push(ConfigError {
                key: Some("mapping".into()),
                ..ConfigError::file(
                    &connector.file,
                    format!(
                        "no mapping file {}/{}.toml{hint}",
                        settings::under_root(root, MAPPINGS_DIR).display(),
                        connector.mapping
                    ),
                )
            });
        }
    }
    for mapping in mappings.values() {
        let used = connectors.values().any(|c| c.mapping == mapping.name)
            || (files.connectors.contains(&mapping.name)
                && !connectors.contains_key(&mapping.name));
        if !used {
            errors.push(ConfigError::file(
                &mapping.file,
                format!(
                    "no connector uses this mapping (expected {}/{}.toml or a connector with mapping = \"{}\")",
                    settings::under_root(root, CONNECTORS_DIR).display(),
                    mapping.name,
                    mapping.name
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::master::survivorship::{GoldenField, DEPARTMENTS};
    use std::collections::HashMap;

    /// A copy of the shipped configuration tree, with `settings` appended to
    /// its `config/yici.toml`.
    fn shipped_tree(settings: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR"));
        for folder in ["config", CONNECTORS_DIR, MAPPINGS_DIR] {
            std::fs::create_dir_all(dir.path().join(folder)).unwrap();
            for entry in std::fs::read_dir(shipped.join(folder)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "toml") {
                    std::fs::copy(
                        &path,
                        dir.path().join(folder).join(path.file_name().unwrap()),
                    )
                    .unwrap();
                }
            }
        }
        let path = dir.path().join(SETTINGS_FILE);
        let text = std::fs::read_to_string(&path).unwrap() + settings;
        std::fs::write(&path, text).unwrap();
        dir
    }

    #[test]
    fn department_names_are_the_connector_files_spelling() {
        for department in [
            Department::CivilAffairs,
            Department::Health,
            Department::Hr,
            Department::Governance,
            Department::Other,
        ] {
            let name = serde_json::to_value(department).unwrap();
            assert!(DEPARTMENTS.contains(&name.as_str().unwrap()), "{name}");
        }
    }

    #[test]
    fn survivorship_gets_each_connectors_mapping_trust() {
        let dir = shipped_tree("");
        let config = Config::load_with(dir.path(), &HashMap::<String, String>::new())
            .unwrap_or_else(|e| panic!("{e}"));
        let s = &config.settings.survivorship;
        assert_eq!(s.trust["hr"]["id_number"], 0.95);
        assert_eq!(s.trust["health"]["phones"], 0.9);
        assert_eq!(s.trust.len(), config.connectors.len());
        let id = s.rules_for(GoldenField::IdNumber);
        assert_eq!(
            id.source_priority,
            ["governance", "health", "hr", "civil_affairs"]
        );
    }

    #[test]
    fn source_priority_must_name_a_connector_or_department() {
        let dir =
            shipped_tree("[survivorship.fields.name]\nsource_priority = [\"hr\", \"helth_csv\"]\n");
        let errors = Config::load_with(dir.path(), &HashMap::<String, String>::new()).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors}");
        let e = &errors.0[0];
        assert_eq!(e.file, dir.path().join(SETTINGS_FILE));
        assert_eq!(
            e.key.as_deref(),
            Some("survivorship.fields.name.source_priority[1]")
        );
        let text = std::fs::read_to_string(dir.path().join(SETTINGS_FILE)).unwrap();
        assert_eq!(e.line, Some(text.lines().count()));
        assert!(e.message.contains("`helth_csv`"), "{}", e.message);
        assert!(
            e.message
                .contains("(known: civil_affairs, governance, health, hr, other)"),
            "{}",
            e.message
        );
    }
}
