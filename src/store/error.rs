//! Store errors: each one names the operation that failed, so a log line is
//! actionable without a backtrace, and none ever carries a connection password.

use std::path::PathBuf;

/// Result of a store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Why a store operation failed.
///
/// The underlying cause is part of the message (operators read one line);
/// it is kept as a plain field rather than a `source()` so that chained
/// reporters such as `anyhow`'s `{:#}` do not print it twice.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no backend we speak.
    #[error("unsupported store URL `{url}`: expected sqlite:…, postgres://… or postgresql://…")]
    UnsupportedUrl {
        /// The URL with any password replaced by `***`.
        url: String,
    },

    /// The directory for a SQLite file could not be created.
    #[error("cannot create directory {} for the SQLite store: {error}", path.display())]
    CreateDir {
        /// The directory we tried to create.
        path: PathBuf,
        /// What the file system said.
        error: std::io::Error,
    },

    /// Connecting to (or creating) the database failed.
    #[error("cannot open store `{url}`: {error}")]
    Open {
        /// The URL with any password replaced by `***`.
        url: String,
        /// The driver's error.
        error: sqlx::Error,
    },

    /// Applying the embedded schema migrations failed.
    #[error("migrating the store schema failed: {error}")]
    Migrate {
        /// sqlx's migrator error (includes checksum mismatches).
        error: sqlx::migrate::MigrateError,
    },

    /// A query failed.
    #[error("{op}: {error}")]
    Query {
        /// The store operation, e.g. `stage_batch`.
        op: &'static str,
        /// The driver's error.
        error: sqlx::Error,
    },

    /// A stored value could not be decoded (bad JSON, timestamp or status).
    #[error("{op}: stored data is invalid: {detail}")]
    Corrupt {
        /// The store operation.
        op: &'static str,
        /// What was wrong.
        detail: String,
    },

    /// The row the operation targets does not exist.
    #[error("{op}: {what} not found")]
    NotFound {
        /// The store operation.
        op: &'static str,
        /// Which row, e.g. `run 42`.
        what: String,
    },

    /// The caller passed a value the store cannot represent.
    #[error("{op}: invalid argument: {detail}")]
    InvalidArgument {
        /// The store operation.
        op: &'static str,
        /// What was wrong.
        detail: String,
    },
}

impl StoreError {
    /// Wraps a driver error with the operation it happened in.
    pub(crate) fn query(op: &'static str) -> impl Fn(sqlx::Error) -> StoreError + Copy {
        move |error| StoreError::Query { op, error }
    }

    /// Whether the failure is a unique-constraint violation (useful to callers
    /// that race on idempotent inserts).
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Query {
                error: sqlx::Error::Database(db),
                ..
            } => db.is_unique_violation(),
            _ => false,
        }
    }
}
