//! The mapping engine: compiles an operator's `mappings/NAME.toml` into a
//! [`Standardizer`] that turns raw source rows into canonical resident
//! records, with per-field problems, or quarantines them with reasons.
//!
//! A field's value is read from one or several columns (joined with `join`,
//! default nothing; several columns of a list field without a `join` become
//! a list), looked up in the inline `map`, passed through the text steps of
//! its `transform` chain and finally through one typed normalizer from the
//! model (the chain's last step, or the field's natural one). Placeholders
//! such as `无`, `NULL` or `-` read as empty, except for yes/no values.
//!
//! | module | owns |
//! |---|---|
//! | `compile` | resolving and type-checking a mapping once |
//! | `steps` | the text steps (`trim`, `split`, `regex`, `code_table`, …) |
//! | `typed` | which normalizer fits which field; bool/integer/decimal |
//! | `standardize` | one row → [`Outcome`]: staged with problems, or quarantined |
//! | `flat` | the flat `field → value` view examples are written against |
//! | `examples` | running a mapping's examples and reporting diffs |
//! | `raw` | JSON cell values as text; source timestamps |

mod compile;
mod examples;
mod flat;
mod raw;
mod standardize;
mod steps;
mod typed;

pub use compile::{compile_all, Standardizer};
pub use examples::{
    toml_table_to_json, toml_to_json, Difference, ExampleFailure, EXPECT_PROBLEMS,
    EXPECT_QUARANTINED,
};
pub use flat::flat_view;
pub use raw::business_time;
pub use standardize::{Outcome, Standardized};
