//! One run's stages, each a plain async function over the store, the
//! configuration and the connectors. Today: pulling sources into staging.

pub mod pull;
pub mod restage;
pub mod standardize;

pub use pull::{pull_source, PullFailure, PullReport};
