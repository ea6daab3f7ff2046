//! The master index's rules: which master a cluster of records belongs to
//! (stable IDs through merges and splits), and the golden record built from
//! a master's records by the survivorship rules. Pure: no I/O, no clock.

pub mod assign;
pub mod golden;
pub mod stewardship;
pub mod survivorship;

pub use assign::{assign, Assignment, ClusterMaster};
pub use golden::{
    build as build_golden, name_search_keys, Conflict, ConflictKind, Golden, GoldenSource,
    Provenance, SearchKey, Seen, SourceRecord,
};
pub use survivorship::{FieldRules, GoldenField, Rule, Survivorship};
