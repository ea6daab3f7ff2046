//! yici (一次, "once"): enter a resident's data once and let every
//! department system see it.
//!
//! The crate is a library with one binary on top. See ARCHITECTURE.md for the
//! code map; the modules below are listed in dependency order, each one only
//! using those above it.

pub mod cli;
pub mod config;
pub mod connector;
pub mod daemon;
pub mod demo;
pub mod mapping;
pub mod master;
pub mod matching;
pub mod model;
pub mod push;
pub mod stop;
pub mod store;
pub mod sync;
