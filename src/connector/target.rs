//! What push-back asks of a department system, whatever kind it is: the
//! columns of one record to write with the value each must still hold,
//! what became of the write, and a suggestion to confirm. The SQL and HTTP
//! writers answer in these terms, so delivery handles them alike.

/// What a column must hold for our write to go ahead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// NULL or blank text (fill_missing).
    Empty,
    /// Exactly this value, compared as text (what we staged at the last pull).
    Value(String),
}

/// One column of one record to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnWrite {
    pub column: String,
    pub new: String,
    pub expect: Expect,
}

/// What became of one record's update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// The row was updated.
    Applied,
    /// Nothing to do: every column already holds its new value (a re-delivery).
    AlreadyDone,
    /// The department changed the row since we read it: nothing was written.
    Changed {
        column: String,
        found: Option<String>,
    },
    /// No row has this key (deleted at the source since our pull).
    Missing,
}

/// A value for the department to confirm, written to its suggestion table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// The outbox row this came from: what makes writing it idempotent.
    pub outbox_id: i64,
    pub record_key: String,
    pub field: String,
    pub column: String,
    pub current: Option<String>,
    pub suggested: String,
    /// The record (`source:key`) the suggested value came from.
    pub source: String,
    pub reason: String,
}
