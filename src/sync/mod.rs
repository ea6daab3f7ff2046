//! One run's stages, each a plain async function over the store, the
//! configuration and the connectors: pulling sources into staging,
//! re-standardizing stored payloads, and resolving staged records into the
//! master index.

pub mod golden;
pub mod pull;
pub mod resolve;
pub mod restage;
pub mod standardize;
pub mod steward;
pub mod universe;

pub use pull::{pull_source, PullFailure, PullReport};
pub use resolve::{resolve_run, ResolveReport};
pub use universe::{Universe, UniverseError};
