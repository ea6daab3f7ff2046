//! The master index's rules: which master a cluster of records belongs to
//! (stable IDs through merges and splits). Golden records, survivorship and
//! the stewards' operations build on this.

pub mod assign;

pub use assign::{assign, Assignment, ClusterMaster};
