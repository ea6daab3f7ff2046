//! What the subcommands share before they start: the configuration (every
//! problem printed), compiled mappings, connectors chosen by name, the store.
//! A step that cannot start returns [`Exit`] after saying why.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, Result};

use super::{exit, Cli};
use crate::config::{suggest, Config, ConfigErrors, Connector};
use crate::mapping::{compile_all, Standardizer};
use crate::store::{redact_url, Store};

/// A compiled standardizer per mapping name, shared with the threads that
/// standardize batches.
pub type Standardizers = BTreeMap<String, Arc<Standardizer>>;

/// Ends the command with this exit code; the reason is already printed.
#[derive(Debug)]
pub struct Exit(pub i32);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit code {}", self.0)
    }
}

impl std::error::Error for Exit {}

/// The configuration, or [`Exit`] after printing every problem in it.
pub fn load_config(cli: &Cli) -> Result<Config> {
    Config::load(&cli.config_dir).map_err(|errors| {
        eprintln!("{errors}");
        Exit(exit::CONFIG).into()
    })
}

/// The configuration and a compiled standardizer per mapping.
pub fn load_with_standardizers(cli: &Cli) -> Result<(Config, Standardizers)> {
    let config = load_config(cli)?;
    let compiled = compile_all(&config.mappings).map_err(|errors| {
        eprintln!("{}", ConfigErrors(errors));
        anyhow::Error::from(Exit(exit::CONFIG))
    })?;
    let compiled = compiled
        .into_iter()
        .map(|(k, v)| (k, Arc::new(v)))
        .collect();
    Ok((config, compiled))
}

/// The connectors named on the command line (all enabled ones when none),
/// or [`Exit`] with a usage error for a name that does not exist.
pub fn select<'c>(config: &'c Config, names: &[String]) -> Result<Vec<&'c Connector>> {
    if names.is_empty() {
        return Ok(config.connectors.values().filter(|c| c.enabled).collect());
    }
    names
        .iter()
        .map(|name| {
            config.connectors.get(name).ok_or_else(|| {
                let hint =
                    suggest::did_you_mean(name, config.connectors.keys().map(String::as_str));
                eprintln!("error: no connector named `{name}`{hint}");
                Exit(exit::USAGE).into()
            })
        })
        .collect()
}

/// The compiled mapping a connector reads through.
pub fn standardizer_for(
    standardizers: &Standardizers,
    connector: &Connector,
) -> Result<Arc<Standardizer>> {
    standardizers
        .get(&connector.mapping)
        .cloned()
        .with_context(|| format!("no compiled mapping `{}`", connector.mapping))
}

/// Opens the configured store, naming it (without its password) on failure.
pub async fn open_store(config: &Config) -> Result<Store> {
    let url = &config.settings.store_url;
    Store::open(url)
        .await
        .with_context(|| format!("opening the store {}", redact_url(url)))
}

/// Each source's department (`health`, `hr`, …), for survivorship.
pub fn departments(config: &Config) -> BTreeMap<String, String> {
    config
        .connectors
        .iter()
        .map(|(name, c)| (name.clone(), c.department.as_str().to_owned()))
        .collect()
}
