//! Push-back: "enter once". Each department system with a `[push]` spec in
//! its mapping receives, per record, the golden values it lacks (or, by
//! policy, has wrong), as outbox rows planned in the same transaction as
//! the golden change behind them and delivered later by its target.
//!
//! `render` writes a canonical value the department's way, `plan` decides a
//! record's writes (pure), `deliver` sends outbox rows through each
//! target's writer and records the outcome.

pub mod deliver;
pub mod ledger;
pub mod plan;
pub mod render;

pub use plan::{
    new_record_key, plan, plan_create, FieldWrite, RecordPush, StagedRow, Target, Targets, CREATE,
    SUGGEST, UPDATE,
};
