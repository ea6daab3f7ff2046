//! The write side of the `sql` connector: push-back delivers golden values
//! into a department's own table, or leaves a suggestion beside it.
//!
//! A department's table is its system of record, so every write is guarded:
//!
//! - **Bound values, checked identifiers.** Every value (new, expected,
//!   key) is a bound parameter; table and column names come from config,
//!   are checked with [`is_sql_identifier`], must exist in the table and are
//!   quoted per dialect.
//! - **Never over a department's edit.** One record's update is ONE
//!   `UPDATE … WHERE key AND guard(c1) AND …` statement: each column must
//!   still hold what we read at the last pull (or be empty, for
//!   fill-missing), so a value the department changed since is never
//!   overwritten — the check and the write are the same statement, with no
//!   window between them. A column that already holds our new value passes
//!   its guard too (writing it again changes nothing).
//! - **Idempotent.** The statement also requires that at least one column
//!   differs from its new value, so a re-delivery updates nothing and is
//!   reported as [`UpdateOutcome::AlreadyDone`]; suggestions are keyed by
//!   their outbox id.
//! - **Compared the way the pull read them.** Expected values are the text
//!   `decode.rs` produced (numbers as `12.5`, dates as `YYYY-MM-DD`,
//!   timestamps as `YYYY-MM-DD HH:MM:SS[.ffffff]`, `timestamptz` as UTC wall
//!   time). Typed columns compare typed (`c = CAST($v AS type)`), so `12.50`
//!   and `12.5` agree; text compares exactly (MySQL's case-insensitive
//!   collations would hide a department's edit of letter case, so MySQL
//!   text is compared as utf8mb4 bytes). "Empty" is what the planner calls
//!   empty: NULL, blank text (ASCII whitespace, no-break and ideographic
//!   spaces) and MySQL zero dates (which the pull reads as NULL).
//! - **One row per key.** The update runs in a transaction that is rolled
//!   back when the key matched more than one row: a key that does not
//!   identify a row is a configuration error, never a mass update. (MySQL
//!   MyISAM tables cannot roll back; use InnoDB.)
//! - **Strict values.** Numbers are checked before they are sent; MySQL
//!   sessions add `STRICT_ALL_TABLES`, so a value that does not fit its
//!   column is refused rather than silently truncated or zeroed; refused
//!   values are `Data` errors naming the columns but not the values
//!   (which may be identity numbers).
//! - **Bounded waits.** Every statement has a timeout. After one, the
//!   statement's outcome is unknown and the connection is not reused; the
//!   guards make delivering the same update again safe.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Map, Value};
use sqlx::error::ErrorKind;
use sqlx::mysql::MySqlDatabaseError;
use sqlx::{Column, Connection, Database, Executor, Statement, TypeInfo};

use super::decode::{mysql_kind, pg_kind, DecodeRow, Kind};
use super::{cast_param, classify, connect, quote, quote_path, scalar_text, Access, Backend, Conn};
use crate::config::connector::is_sql_identifier;
use crate::config::{Connector, Location};
use crate::connector::ConnectorError;
use crate::store::redact_url;

/// How long one statement (an update with its transaction, a read-back, a
/// suggestion) may take before it is given up as transient. One row's
/// write is quick; a longer wait means a lock held by the department's
/// application, which a later delivery will outlast.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// How often an update is tried when the row changes between our update
/// and the read that explains why it matched nothing.
const ATTEMPTS: usize = 3;

/// Blank characters besides ASCII whitespace, as `str::trim` sees them:
/// the no-break space and the ideographic space Chinese input methods type.
const UNICODE_BLANKS: [&str; 2] = ["\u{a0}", "\u{3000}"];
const ASCII_BLANKS: [&str; 6] = [" ", "\t", "\n", "\r", "\u{b}", "\u{c}"];

pub use crate::connector::target::{ColumnWrite, Expect, Suggestion, UpdateOutcome};

/// How a column's values are written and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// Text, compared exactly.
    Text,
    /// PostgreSQL `char(n)`: read blank-padded, compared ignoring the padding.
    Padded,
    /// A PostgreSQL enum: written cast to its type, compared as text.
    Enum,
    /// Integers: values must be integers.
    Integer,
    /// Decimals and floats: values must be numbers.
    Number,
    /// MySQL dates and datetimes, whose zero dates the pull reads as NULL.
    ZeroableDate,
    /// Other typed values (dates, times, timestamps, booleans, uuids),
    /// compared typed.
    Typed,
    /// Binary, JSON, bit strings and types yici does not know: not written.
    Unsupported,
}

impl Family {
    fn is_text(self) -> bool {
        matches!(self, Family::Text | Family::Padded | Family::Enum)
    }
}

/// One column of the target table.
#[derive(Debug, Clone)]
struct TargetColumn {
    name: String,
    type_name: String,
    family: Family,
}

/// A value bound into a write.
#[derive(Debug, Clone)]
enum Arg {
    Text(String),
    Int(i64),
    Null,
}

/// Builds SQL with placeholders in the order they appear in the text.
struct Writer {
    backend: Backend,
    sql: String,
    args: Vec<Arg>,
}

impl Writer {
    fn new(backend: Backend) -> Self {
        Writer {
            backend,
            sql: String::new(),
            args: Vec::new(),
        }
    }

    fn push(&mut self, s: &str) {
        self.sql.push_str(s);
    }

    /// A new placeholder bound to `arg`. Allocate placeholders in the order
    /// they will appear in the text: MySQL and SQLite `?` are positional.
    fn arg(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        match self.backend {
            Backend::Postgres => format!("${}", self.args.len()),
            Backend::MySql | Backend::Sqlite => "?".to_owned(),
        }
    }

    fn text(&mut self, value: &str) -> String {
        self.arg(Arg::Text(value.to_owned()))
    }
}

/// A resolved key column and the value identifying the row.
struct KeyPart<'a> {
    column: usize,
    value: &'a str,
}

/// A resolved column write.
struct Write<'a> {
    column: usize,
    request: &'a ColumnWrite,
}

/// A column of the row as the read-back found it.
struct ColumnState {
    found: Option<String>,
    /// Its guard holds (it is as we read it, or empty for fill-missing).
    as_expected: bool,
    /// It already holds the new value.
    is_new: bool,
}

/// A department table that push-back writes into; see the module docs.
pub struct SqlTarget {
    backend: Backend,
    conn: Conn,
    /// Connector, table and redacted URL, prefixed to every error.
    context: String,
    /// The table, quoted.
    table: String,
    columns: Vec<TargetColumn>,
    /// What counts as blank around a value on this database.
    blanks: Vec<&'static str>,
    /// Suggestion tables created (or found) on this connection.
    suggestion_tables: HashSet<String>,
    /// A statement timed out mid-flight: the connection's state is unknown.
    broken: bool,
    /// The connector's cursor column, unless it is (part of) the key:
    /// a created row carries the table's newest cursor value in it.
    cursor: Option<String>,
}

impl std::fmt::Debug for SqlTarget {
    /// The connection is left out; the context carries the redacted URL.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlTarget")
            .field("backend", &self.backend)
            .field("context", &self.context)
            .field("columns", &self.columns)
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl SqlTarget {
    /// Opens a writable connection to the connector's database
    /// (`Location::Sql` url). `table` is required: a `query` source cannot
    /// be written. Reads the table's column names and types once, so
    /// values bound as text can be cast to each column's type.
    pub async fn open(connector: &Connector) -> Result<SqlTarget, ConnectorError> {
        let Location::Sql {
            url,
            table,
            query,
            key,
            cursor,
            ..
        } = &connector.location
        else {
            return Err(ConnectorError::Config(format!(
                "connector `{}` is not an sql connector; push-back writes only sql tables",
                connector.name
            )));
        };
        let Some(table) = table else {
            let why = if query.is_some() {
                "reads a `query`, which cannot be written; push-back needs `table`"
            } else {
                "has no `table` to write to"
            };
            return Err(ConnectorError::Config(format!(
                "connector `{}` {why}",
                connector.name
            )));
        };
        let url = url.expose();
        let context = format!(
            "connector `{}` (table `{table}` at {})",
            connector.name,
            redact_url(url)
        );
        if !is_sql_identifier(table) {
            return Err(ConnectorError::Config(format!(
                "{context}: `{table}` is not a plain SQL identifier"
            )));
        }

        let (backend, mut conn) = connect(url, 1, &context, Access::ReadWrite).await?;
        let mut blanks = ASCII_BLANKS.to_vec();
        match backend {
            Backend::MySql => {
                // Refuse values that do not fit rather than truncating or
                // zeroing them, whatever the server's default mode is.
                let strict =
                    "SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',STRICT_ALL_TABLES')";
                tokio::time::timeout(WRITE_TIMEOUT, execute(&mut conn, strict, &[]))
                    .await
                    .map_err(|_| {
                        ConnectorError::Transient(format!(
                            "{context}: setting up the session timed out"
                        ))
                    })?
                    .map_err(|e| classify_write(e, &context))?;
                blanks.extend(UNICODE_BLANKS);
            }
            Backend::Postgres => {
                // The blank set is bound as text: a database whose encoding
                // cannot hold the Unicode spaces would refuse every check.
                let encoding = scalar_text(&mut conn, "SHOW server_encoding", &context).await?;
                if encoding.as_deref() == Some("UTF8") {
                    blanks.extend(UNICODE_BLANKS);
                }
            }
            Backend::Sqlite => blanks.extend(UNICODE_BLANKS),
        }

        let quoted = quote_path(backend, table);
        let mut columns = describe_table(
            &mut conn,
            &format!("SELECT * FROM {quoted} WHERE 1 = 0"),
            &context,
        )
        .await?;
        if backend == Backend::Sqlite {
            declared_types(&mut conn, table, &mut columns, &context).await?;
        }
        Ok(SqlTarget {
            backend,
            conn,
            context,
            table: quoted,
            columns,
            blanks,
            suggestion_tables: HashSet::new(),
            broken: false,
            cursor: cursor.clone().filter(|c| !key.contains(c)),
        })
    }

    /// One record's update, in ONE statement:
    /// `UPDATE t SET c1 = $new1, … WHERE key1 = $k1 AND … AND guard(c1) AND …
    /// AND NOT (every column already new)`.
    ///
    /// When nothing was updated, the row is read by key to say why:
    /// absent → `Missing`; every column already equal to its new value →
    /// `AlreadyDone`; otherwise `Changed` with the first column (in `set`
    /// order) that is neither its expected nor its new value. A column that
    /// is not in the table is a `Config` error naming it; a key that matches
    /// more than one row is a `Config` error and nothing is written.
    pub async fn update(
        &mut self,
        key: &[(String, String)],
        set: &[ColumnWrite],
    ) -> Result<UpdateOutcome, ConnectorError> {
        self.usable()?;
        let keys = self.resolve_key(key)?;
        let writes = self.resolve_writes(set, &keys)?;
        if !self.key_can_match(&keys) {
            // Text where the key column holds numbers: no row has it, and
            // MySQL's lenient CAST('7 OR 1=1' AS SIGNED) must never see it.
            return Ok(UpdateOutcome::Missing);
        }
        let columns = self.column_list(&writes);
        for _ in 0..ATTEMPTS {
            if !writes.is_empty() {
                let (sql, args) = self.update_sql(&keys, &writes);
                let conn = &mut self.conn;
                let result =
                    tokio::time::timeout(WRITE_TIMEOUT, execute_one(conn, &sql, &args)).await;
                let matched = self.settle(result, "an update", &columns)?;
                match matched {
                    1 => return Ok(UpdateOutcome::Applied),
                    0 => {}
                    n => return Err(self.ambiguous(&keys, n)),
                }
            }
            let Some(states) = self.read_back(&keys, &writes, &columns).await? else {
                return Ok(UpdateOutcome::Missing);
            };
            if states.iter().all(|s| s.is_new) {
                return Ok(UpdateOutcome::AlreadyDone);
            }
            if let Some((w, s)) = writes
                .iter()
                .zip(states)
                .find(|(_, s)| !s.as_expected && !s.is_new)
            {
                return Ok(UpdateOutcome::Changed {
                    column: w.request.column.clone(),
                    found: s.found,
                });
            }
            // The row passes the guards now: it changed between our update
            // and the read. Try again.
        }
        Err(ConnectorError::Transient(format!(
            "{}: the row kept changing while we wrote column(s) {columns}; nothing was written",
            self.context
        )))
    }

    /// Creates a record for a resident the department lacks, unless a row
    /// already has the same `identity` (column, value) — the resident's
    /// identity number: a re-delivery, or the department entered them
    /// meanwhile. `values` are the columns to fill; the key is left to the
    /// table (a generated id). One statement: `INSERT … SELECT … WHERE NOT
    /// EXISTS`. Returns whether a row was added.
    pub async fn insert(
        &mut self,
        identity: &(String, String),
        values: &[(String, String)],
    ) -> Result<bool, ConnectorError> {
        self.usable()?;
        let keys = self.resolve_key(std::slice::from_ref(identity))?;
        if !self.key_can_match(&keys) {
            return Err(ConnectorError::Data(format!(
                "{}: column `{}` cannot hold the identity number",
                self.context, identity.0
            )));
        }
        let mut columns = Vec::with_capacity(values.len());
        for (name, value) in values {
            let i = self.find_usable(name, "push")?;
            if columns.contains(&i) {
                return Err(ConnectorError::Config(format!(
                    "{}: column `{name}` is written twice in one record",
                    self.context
                )));
            }
            if !fits(self.columns[i].family, value) {
                return Err(ConnectorError::Data(format!(
                    "{}: column `{name}` ({}) holds numbers; the value to write is not one",
                    self.context, self.columns[i].type_name
                )));
            }
            columns.push(i);
        }
        // The new row takes the table's newest cursor value, so the next
        // incremental pull (reading from the last value on, `>=`) reads it
        // back whatever the column's format; the department's own writes
        // move the cursor on as before.
        let cursor = match &self.cursor {
            Some(name) => {
                let i = self.find(name, "the cursor")?;
                (!columns.contains(&i)).then_some(i)
            }
            None => None,
        };
        let mut w = Writer::new(self.backend);
        let mut names: Vec<String> = columns
            .iter()
            .map(|&i| quote(self.backend, &self.columns[i].name))
            .collect();
        if let Some(i) = cursor {
            names.push(quote(self.backend, &self.columns[i].name));
        }
        w.push(&format!(
            "INSERT INTO {} ({}) SELECT ",
            self.table,
            names.join(", ")
        ));
        for (n, (&i, (_, value))) in columns.iter().zip(values).enumerate() {
            if n > 0 {
                w.push(", ");
            }
            let p = w.text(value);
            let assigned = self.assigned(&self.columns[i], &p);
            w.push(&assigned);
        }
        if let Some(i) = cursor {
            w.push(&format!(
                ", (SELECT MAX({}) FROM {})",
                quote(self.backend, &self.columns[i].name),
                self.table
            ));
        }
        if self.backend == Backend::MySql {
            w.push(" FROM DUAL");
        }
        w.push(&format!(
            " WHERE NOT EXISTS (SELECT 1 FROM {} WHERE ",
            self.table
        ));
        self.push_key(&mut w, &keys);
        w.push(")");
        let list = names.join(", ");
        let conn = &mut self.conn;
        let result = tokio::time::timeout(WRITE_TIMEOUT, execute_one(conn, &w.sql, &w.args)).await;
        let added = self.settle(result, "an insert", &list)?;
        Ok(added == 1)
    }

    /// Writes a suggestion for the department to confirm into `table` in the
    /// same database, creating it if missing (`id` auto, `outbox_id BIGINT`,
    /// `record_key`, `field`, `column_name VARCHAR(64)`, `current_value`,
    /// `suggested_value`, `source`, `reason`, `created_at` text, unique on
    /// `(outbox_id, column_name)`). Idempotent by outbox row and column —
    /// one outbox row may suggest several columns of a record — and returns
    /// whether a row was added.
    pub async fn suggest(&mut self, table: &str, s: &Suggestion) -> Result<bool, ConnectorError> {
        self.usable()?;
        if !is_sql_identifier(table) {
            return Err(ConnectorError::Config(format!(
                "{}: suggestion table `{table}` is not a plain SQL identifier",
                self.context
            )));
        }
        // The suggestion is about a column of the target table.
        self.find(&s.column, "suggested")?;
        let quoted = quote_path(self.backend, table);
        if !self.suggestion_tables.contains(&quoted) {
            let ddl = suggestion_ddl(self.backend, &quoted);
            let conn = &mut self.conn;
            let result = tokio::time::timeout(WRITE_TIMEOUT, execute(conn, &ddl, &[])).await;
            self.settle(result, "creating the suggestion table", "")?;
            self.suggestion_tables.insert(quoted.clone());
        }

        // NOT EXISTS keeps re-deliveries out even of a table someone made
        // without the unique key; the unique key settles concurrent ones.
        // (Not INSERT IGNORE: MySQL would also silently truncate values.)
        let mut w = Writer::new(self.backend);
        w.push(&format!(
            "INSERT INTO {quoted} (outbox_id, record_key, field, column_name, current_value, \
             suggested_value, source, reason, created_at) SELECT "
        ));
        let created = chrono::Local::now()
            .format("%Y-%m-%d %H:%M:%S%:z")
            .to_string();
        let values = [
            Arg::Int(s.outbox_id),
            Arg::Text(s.record_key.clone()),
            Arg::Text(s.field.clone()),
            Arg::Text(s.column.clone()),
            s.current.clone().map_or(Arg::Null, Arg::Text),
            Arg::Text(s.suggested.clone()),
            Arg::Text(s.source.clone()),
            Arg::Text(s.reason.clone()),
            Arg::Text(created),
        ];
        let placeholders: Vec<String> = values.into_iter().map(|v| w.arg(v)).collect();
        w.push(&placeholders.join(", "));
        if self.backend == Backend::MySql {
            w.push(" FROM DUAL");
        }
        w.push(&format!(
            " WHERE NOT EXISTS (SELECT 1 FROM {quoted} WHERE outbox_id = "
        ));
        let p = w.arg(Arg::Int(s.outbox_id));
        w.push(&format!("{p} AND column_name = "));
        let p = w.text(&s.column);
        w.push(&format!("{p})"));

        let conn = &mut self.conn;
        let result = tokio::time::timeout(WRITE_TIMEOUT, execute(conn, &w.sql, &w.args)).await;
        match result {
            Ok(Err(sqlx::Error::Database(db))) if db.is_unique_violation() => {
                // A concurrent delivery of the same suggestion won the race,
                // or the unique violation is another key's: tell them apart.
                let mut check = Writer::new(self.backend);
                let id = check.arg(Arg::Int(s.outbox_id));
                let column = check.text(&s.column);
                check.push(&format!(
                    "SELECT COUNT(*) AS n FROM {quoted} WHERE outbox_id = {id} \
                     AND column_name = {column}"
                ));
                let names = ["n".to_owned()];
                let conn = &mut self.conn;
                let result = tokio::time::timeout(
                    WRITE_TIMEOUT,
                    fetch(conn, &check.sql, &check.args, &names),
                )
                .await;
                let rows = self.settle(result, "checking a suggestion", "")?;
                if rows
                    .first()
                    .and_then(|r| r.get("n"))
                    .is_some_and(|n| n != &Value::from(0))
                {
                    Ok(false)
                } else {
                    Err(self.refused(&*db, ""))
                }
            }
            other => Ok(self.settle(other, "writing a suggestion", "")? == 1),
        }
    }

    /// Refuses work on a connection whose last statement timed out.
    fn usable(&self) -> Result<(), ConnectorError> {
        if self.broken {
            return Err(ConnectorError::Transient(format!(
                "{}: a statement timed out on this connection; open the target again",
                self.context
            )));
        }
        Ok(())
    }

    /// The index of `name` in the table: exact first, then ignoring ASCII
    /// case (as the read side finds columns).
    fn find(&self, name: &str, role: &str) -> Result<usize, ConnectorError> {
        let column_config =
            |msg: String| ConnectorError::Config(format!("{}: {msg}", self.context));
        if !is_sql_identifier(name) || name.contains('.') {
            return Err(column_config(format!(
                "{role} column `{name}` is not a plain SQL identifier"
            )));
        }
        let i = self
            .columns
            .iter()
            .position(|c| c.name == name)
            .or_else(|| {
                self.columns
                    .iter()
                    .position(|c| c.name.eq_ignore_ascii_case(name))
            })
            .ok_or_else(|| {
                let have: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
                column_config(format!(
                    "{role} column `{name}` not found (columns: {})",
                    have.join(", ")
                ))
            })?;
        Ok(i)
    }

    /// [`SqlTarget::find`], for a column that is written or matched.
    fn find_usable(&self, name: &str, role: &str) -> Result<usize, ConnectorError> {
        let i = self.find(name, role)?;
        let column = &self.columns[i];
        if column.family == Family::Unsupported {
            return Err(ConnectorError::Config(format!(
                "{}: {role} column `{}` has type {}, which push-back does not write or match",
                self.context, column.name, column.type_name
            )));
        }
        Ok(i)
    }

    fn resolve_key<'a>(
        &self,
        key: &'a [(String, String)],
    ) -> Result<Vec<KeyPart<'a>>, ConnectorError> {
        if key.is_empty() {
            return Err(ConnectorError::Config(format!(
                "{}: an update needs the key identifying the row",
                self.context
            )));
        }
        let mut seen = HashSet::new();
        let mut parts = Vec::with_capacity(key.len());
        for (name, value) in key {
            let column = self.find_usable(name, "key")?;
            if !seen.insert(column) {
                return Err(ConnectorError::Config(format!(
                    "{}: key column `{name}` is given twice",
                    self.context
                )));
            }
            parts.push(KeyPart { column, value });
        }
        Ok(parts)
    }

    fn resolve_writes<'a>(
        &self,
        set: &'a [ColumnWrite],
        keys: &[KeyPart<'_>],
    ) -> Result<Vec<Write<'a>>, ConnectorError> {
        let mut seen = HashSet::new();
        let mut writes = Vec::with_capacity(set.len());
        for request in set {
            let column = self.find_usable(&request.column, "push")?;
            let col = &self.columns[column];
            if keys.iter().any(|k| k.column == column) {
                return Err(ConnectorError::Config(format!(
                    "{}: column `{}` is part of the key and is never written",
                    self.context, col.name
                )));
            }
            if !seen.insert(column) {
                return Err(ConnectorError::Config(format!(
                    "{}: column `{}` is written twice in one update",
                    self.context, col.name
                )));
            }
            // Numbers are checked here: MySQL's CAST and SQLite's affinity
            // would otherwise turn `男` or `12abc` into 0, 12 or stored text.
            if !fits(col.family, &request.new) {
                return Err(ConnectorError::Data(format!(
                    "{}: column `{}` ({}) holds {}; the value to write is not one",
                    self.context,
                    col.name,
                    col.type_name,
                    if col.family == Family::Integer {
                        "integers"
                    } else {
                        "numbers"
                    }
                )));
            }
            writes.push(Write { column, request });
        }
        Ok(writes)
    }

    /// False when a key value cannot be held by its (numeric) column on a
    /// server database. SQLite columns may hold any value, and its
    /// comparison converts only what converts losslessly, so it is asked.
    fn key_can_match(&self, keys: &[KeyPart<'_>]) -> bool {
        self.backend == Backend::Sqlite
            || keys
                .iter()
                .all(|k| fits(self.columns[k.column].family, k.value))
    }

    fn column_list(&self, writes: &[Write<'_>]) -> String {
        writes
            .iter()
            .map(|w| self.columns[w.column].name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The UPDATE statement and its arguments; see [`SqlTarget::update`].
    fn update_sql(&self, keys: &[KeyPart<'_>], writes: &[Write<'_>]) -> (String, Vec<Arg>) {
        let mut w = Writer::new(self.backend);
        w.push(&format!("UPDATE {} SET ", self.table));
        for (i, write) in writes.iter().enumerate() {
            if i > 0 {
                w.push(", ");
            }
            let col = &self.columns[write.column];
            let p = w.text(&write.request.new);
            let value = self.assigned(col, &p);
            w.push(&format!("{} = {value}", quote(self.backend, &col.name)));
        }
        w.push(" WHERE ");
        self.push_key(&mut w, keys);
        for write in writes {
            let col = &self.columns[write.column];
            w.push(" AND (");
            let guard = self.guard(&mut w, col, &write.request.expect);
            w.push(&guard);
            w.push(" OR ");
            let done = self.equals(&mut w, col, &write.request.new);
            w.push(&done);
            w.push(")");
        }
        // A re-delivery matches no row, so it is told from a fresh write on
        // every backend (MySQL counts matched rows here, not changed ones).
        w.push(" AND NOT (");
        for (i, write) in writes.iter().enumerate() {
            if i > 0 {
                w.push(" AND ");
            }
            let done = self.equals(&mut w, &self.columns[write.column], &write.request.new);
            w.push(&done);
        }
        w.push(")");
        (w.sql, w.args)
    }

    /// Reads the row by key: each written column's value, whether its guard
    /// holds and whether it already holds the new value. `None` when no
    /// row has the key.
    async fn read_back(
        &mut self,
        keys: &[KeyPart<'_>],
        writes: &[Write<'_>],
        columns: &str,
    ) -> Result<Option<Vec<ColumnState>>, ConnectorError> {
        let mut w = Writer::new(self.backend);
        let mut items = Vec::new();
        let mut names = Vec::new();
        for (i, write) in writes.iter().enumerate() {
            items.push(quote(self.backend, &self.columns[write.column].name));
            names.push(format!("v{i}"));
        }
        for (i, write) in writes.iter().enumerate() {
            let col = &self.columns[write.column];
            let guard = self.guard(&mut w, col, &write.request.expect);
            items.push(format!("CASE WHEN {guard} THEN 1 ELSE 0 END"));
            names.push(format!("g{i}"));
            let done = self.equals(&mut w, col, &write.request.new);
            items.push(format!("CASE WHEN {done} THEN 1 ELSE 0 END"));
            names.push(format!("n{i}"));
        }
        if items.is_empty() {
            items.push("1".to_owned());
            names.push("present".to_owned());
        }
        // The SELECT list's placeholders come first in the text, so the
        // list is assembled before the key's are allocated.
        let mut select = Writer::new(self.backend);
        select.args = std::mem::take(&mut w.args);
        select.push(&format!(
            "SELECT {} FROM {} WHERE ",
            items.join(", "),
            self.table
        ));
        self.push_key(&mut select, keys);
        select.push(" LIMIT 2");

        let conn = &mut self.conn;
        let result = tokio::time::timeout(
            WRITE_TIMEOUT,
            fetch(conn, &select.sql, &select.args, &names),
        )
        .await;
        let rows = self.settle(result, "reading the row back", columns)?;
        match rows.len() {
            0 => return Ok(None),
            1 => {}
            n => return Err(self.ambiguous(keys, n as u64)),
        }
        let row = &rows[0];
        let flag = |name: String| row.get(&name).is_some_and(|v| v == &Value::from(1));
        Ok(Some(
            (0..writes.len())
                .map(|i| ColumnState {
                    found: row.get(&format!("v{i}")).and_then(as_text),
                    as_expected: flag(format!("g{i}")),
                    is_new: flag(format!("n{i}")),
                })
                .collect(),
        ))
    }

    /// `k1 = $1 AND k2 = $2`, typed so the key's index is used.
    fn push_key(&self, w: &mut Writer, keys: &[KeyPart<'_>]) {
        for (i, k) in keys.iter().enumerate() {
            if i > 0 {
                w.push(" AND ");
            }
            let col = &self.columns[k.column];
            let p = w.text(k.value);
            let value = self.typed(col, &p);
            w.push(&format!("{} = {value}", quote(self.backend, &col.name)));
        }
    }

    /// The placeholder `p` as a value of the column's type, for comparing
    /// against the column (keys, typed guards).
    fn typed(&self, col: &TargetColumn, p: &str) -> String {
        match (self.backend, col.family) {
            (Backend::Postgres, Family::Text) | (Backend::MySql, Family::Text) => p.to_owned(),
            (Backend::Postgres, Family::Padded) => format!("CAST({p} AS BPCHAR)"),
            (Backend::Postgres, Family::Enum) => {
                format!("CAST({p} AS {})", quote(Backend::Postgres, &col.type_name))
            }
            // SQLite converts a bound text to the column's affinity itself,
            // and only when that is lossless; a CAST would turn `abc` into 0.
            (Backend::Sqlite, _) => p.to_owned(),
            (backend, _) => cast_param(backend, &col.type_name, p),
        }
    }

    /// The placeholder `p` as assigned in `SET`. MySQL and SQLite convert
    /// the text on assignment (MySQL strictly, in our strict session);
    /// PostgreSQL needs the explicit cast.
    fn assigned(&self, col: &TargetColumn, p: &str) -> String {
        match self.backend {
            Backend::Postgres => self.typed(col, p),
            Backend::MySql | Backend::Sqlite => p.to_owned(),
        }
    }

    /// A predicate, never NULL: the column holds `value`.
    fn equals(&self, w: &mut Writer, col: &TargetColumn, value: &str) -> String {
        let c = quote(self.backend, &col.name);
        let p = w.text(value);
        let test = match (self.backend, col.family) {
            (Backend::Postgres, Family::Enum) => format!("CAST({c} AS TEXT) = {p}"),
            // Bytes, not the column's (often case-insensitive) collation.
            (Backend::MySql, Family::Text) => {
                format!("CAST(CONVERT({c} USING utf8mb4) AS BINARY) = CAST({p} AS BINARY)")
            }
            (Backend::Sqlite, _) => format!("{c} = {p} COLLATE BINARY"),
            _ => format!("{c} = {}", self.typed(col, &p)),
        };
        format!("COALESCE({test}, FALSE)")
    }

    /// A predicate, never NULL: the column holds what `expect` says.
    fn guard(&self, w: &mut Writer, col: &TargetColumn, expect: &Expect) -> String {
        match expect {
            Expect::Value(v) => self.equals(w, col, v),
            Expect::Empty => self.blank(w, col),
        }
    }

    /// NULL, blank text, or (MySQL) a zero date: what the pull reads as
    /// nothing and the planner fills.
    fn blank(&self, w: &mut Writer, col: &TargetColumn) -> String {
        let c = quote(self.backend, &col.name);
        let mut tests = vec![format!("{c} IS NULL")];
        match self.backend {
            Backend::Postgres if col.family.is_text() => {
                let set = w.text(&self.blanks.concat());
                tests.push(format!("BTRIM(CAST({c} AS TEXT), {set}) = ''"));
            }
            Backend::Sqlite => {
                let set = w.text(&self.blanks.concat());
                tests.push(format!("TRIM(CAST({c} AS TEXT), {set}) = ''"));
            }
            Backend::MySql if col.family == Family::Text => {
                // MySQL's TRIM removes one string, not a set: remove every
                // blank character and see whether anything is left.
                let mut text = format!("CAST({c} AS CHAR)");
                for blank in &self.blanks {
                    let p = w.text(blank);
                    text = format!("REPLACE({text}, {p}, '')");
                }
                tests.push(format!("{text} = ''"));
            }
            Backend::MySql if col.family == Family::ZeroableDate => {
                tests.push(format!(
                    "YEAR({c}) = 0 OR MONTH({c}) = 0 OR DAYOFMONTH({c}) = 0"
                ));
            }
            _ => {}
        }
        format!("COALESCE({}, FALSE)", tests.join(" OR "))
    }

    /// Maps a statement's result, marking the connection unusable after a
    /// timeout (the statement may still be running, or have committed).
    fn settle<T>(
        &mut self,
        result: Result<Result<T, sqlx::Error>, tokio::time::error::Elapsed>,
        what: &str,
        columns: &str,
    ) -> Result<T, ConnectorError> {
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(sqlx::Error::Database(db))) if is_refused_value(self.backend, &*db) => {
                Err(self.refused(&*db, columns))
            }
            Ok(Err(e)) => Err(classify_write(e, &self.context)),
            Err(_) => {
                self.broken = true;
                Err(ConnectorError::Transient(format!(
                    "{}: {what} took longer than {} s; its outcome is unknown \
                     (delivering again is safe)",
                    self.context,
                    WRITE_TIMEOUT.as_secs()
                )))
            }
        }
    }

    /// The database refused a value. Its own message is not repeated: it
    /// may quote the value, and values are personal data.
    fn refused(&self, db: &dyn sqlx::error::DatabaseError, columns: &str) -> ConnectorError {
        let what = match db.kind() {
            ErrorKind::UniqueViolation => "it would duplicate a unique key",
            ErrorKind::ForeignKeyViolation => "it breaks a foreign key",
            ErrorKind::NotNullViolation => "a required column would be empty",
            ErrorKind::CheckViolation => "it breaks a check constraint",
            _ => "it does not fit its column",
        };
        let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
        let constraint = db
            .constraint()
            .map(|c| format!(", constraint `{c}`"))
            .unwrap_or_default();
        let target = if columns.is_empty() {
            String::new()
        } else {
            format!(" for column(s) {columns}")
        };
        ConnectorError::Data(format!(
            "{}: the database refused the value{target}: {what} (code {code}{constraint})",
            self.context
        ))
    }

    fn ambiguous(&self, keys: &[KeyPart<'_>], n: u64) -> ConnectorError {
        let names: Vec<&str> = keys
            .iter()
            .map(|k| self.columns[k.column].name.as_str())
            .collect();
        ConnectorError::Config(format!(
            "{}: the key ({}) matches {n} rows; it must identify one row, so nothing was written",
            self.context,
            names.join(", ")
        ))
    }
}

/// Whether `value` can be held by a column of `family`: integers for
/// integer columns, decimal numbers for numeric ones, anything otherwise.
fn fits(family: Family, value: &str) -> bool {
    match family {
        Family::Integer => is_integer(value),
        Family::Number => is_number(value),
        _ => true,
    }
}

fn is_integer(s: &str) -> bool {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// `[+-]digits[.digits][e[+-]digits]`, at least one digit in the mantissa.
fn is_number(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    (!int.is_empty() || !frac.is_empty())
        && all_digits(int)
        && all_digits(frac)
        && exponent.is_none_or(is_integer)
}

/// A decoded value as the text the planner compares (`None` for NULL).
fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Errors that mean "this value cannot go into this column": the push is
/// wrong for this record, retrying will not help and the configuration
/// is not necessarily at fault.
fn is_refused_value(backend: Backend, db: &dyn sqlx::error::DatabaseError) -> bool {
    if matches!(
        db.kind(),
        ErrorKind::UniqueViolation
            | ErrorKind::ForeignKeyViolation
            | ErrorKind::NotNullViolation
            | ErrorKind::CheckViolation
    ) {
        return true;
    }
    let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
    match backend {
        // Class 22: data exception (bad number/date text, too long, out of range).
        Backend::Postgres => code.starts_with("22"),
        Backend::MySql => {
            code.starts_with("22")
                || code == "23000"
                || db
                    .try_downcast_ref::<MySqlDatabaseError>()
                    .is_some_and(|e| {
                        // Column cannot be null, duplicate, out of range,
                        // truncated, incorrect value, too long, foreign key,
                        // check constraint (MySQL, MariaDB).
                        matches!(
                            e.number(),
                            1048 | 1062 | 1264 | 1265 | 1292 | 1366 | 1406 | 1452 | 3819 | 4025
                        )
                    })
        }
        // TOOBIG, CONSTRAINT (and its extended codes), MISMATCH.
        Backend::Sqlite => code
            .parse::<i64>()
            .is_ok_and(|c| matches!(c & 0xff, 18..=20)),
    }
}

/// The read side's classification, plus a MySQL lock wait, which a later
/// delivery outlasts. (MySQL reports SQLSTATE `HY000` for it, so the read
/// side's error-number list does not catch it.)
fn classify_write(e: sqlx::Error, context: &str) -> ConnectorError {
    if let sqlx::Error::Database(db) = &e {
        if db
            .try_downcast_ref::<MySqlDatabaseError>()
            .is_some_and(|m| matches!(m.number(), 1205 | 1213))
        {
            return ConnectorError::Transient(format!("{context}: {}", db.message()));
        }
    }
    classify(e, context)
}

/// `CREATE TABLE IF NOT EXISTS` for a suggestion table.
fn suggestion_ddl(backend: Backend, table: &str) -> String {
    let (id, outbox, suffix) = match backend {
        Backend::Postgres => ("id BIGSERIAL PRIMARY KEY", "BIGINT", ""),
        // utf8mb4 whatever the database's default: suggestions are Chinese text.
        Backend::MySql => (
            "id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY",
            "BIGINT",
            " DEFAULT CHARSET = utf8mb4",
        ),
        Backend::Sqlite => ("id INTEGER PRIMARY KEY AUTOINCREMENT", "INTEGER", ""),
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {table} ({id}, outbox_id {outbox} NOT NULL, \
         record_key TEXT NOT NULL, field TEXT NOT NULL, column_name VARCHAR(64) NOT NULL, \
         current_value TEXT, suggested_value TEXT NOT NULL, source TEXT NOT NULL, \
         reason TEXT NOT NULL, created_at TEXT NOT NULL, \
         UNIQUE (outbox_id, column_name)){suffix}"
    )
}

/// The table's columns and how each is written (prepared, not run).
async fn describe_table(
    conn: &mut Conn,
    sql: &str,
    context: &str,
) -> Result<Vec<TargetColumn>, ConnectorError> {
    let column = |c: &dyn ColumnLike| TargetColumn {
        name: c.name().to_owned(),
        type_name: c.type_name(),
        family: c.family(),
    };
    let described = tokio::time::timeout(WRITE_TIMEOUT, async {
        match conn {
            Conn::Pg(c) => c
                .prepare(sql)
                .await
                .map(|s| s.columns().iter().map(|c| column(c)).collect::<Vec<_>>()),
            Conn::My(c) => c
                .prepare(sql)
                .await
                .map(|s| s.columns().iter().map(|c| column(c)).collect()),
            Conn::Lite(c) => c
                .prepare(sql)
                .await
                .map(|s| s.columns().iter().map(|c| column(c)).collect()),
        }
    })
    .await
    .map_err(|_| ConnectorError::Transient(format!("{context}: describing the table timed out")))?
    .map_err(|e| classify_write(e, context))?;
    if described.is_empty() {
        return Err(ConnectorError::Config(format!(
            "{context}: the table has no columns"
        )));
    }
    Ok(described)
}

/// A described column of any backend: its name, type and [`Family`].
trait ColumnLike {
    fn name(&self) -> &str;
    fn type_name(&self) -> String;
    fn family(&self) -> Family;
}

impl ColumnLike for sqlx::postgres::PgColumn {
    fn name(&self) -> &str {
        Column::name(self)
    }
    fn type_name(&self) -> String {
        self.type_info().name().to_owned()
    }
    fn family(&self) -> Family {
        let ty = self.type_info();
        match pg_kind(ty) {
            Kind::Text => match ty.name() {
                "BPCHAR" => Family::Padded,
                "TEXT" | "VARCHAR" | "NAME" | "CHAR" | "UNKNOWN" | "citext" | "CITEXT" => {
                    Family::Text
                }
                _ => Family::Enum,
            },
            Kind::Int | Kind::UInt => Family::Integer,
            Kind::Float | Kind::Decimal => Family::Number,
            Kind::Bool
            | Kind::Date
            | Kind::Time
            | Kind::Timestamp
            | Kind::TimestampTz
            | Kind::Uuid => Family::Typed,
            _ => Family::Unsupported,
        }
    }
}

impl ColumnLike for sqlx::mysql::MySqlColumn {
    fn name(&self) -> &str {
        Column::name(self)
    }
    fn type_name(&self) -> String {
        self.type_info().name().to_owned()
    }
    fn family(&self) -> Family {
        match mysql_kind(self.type_info()) {
            Kind::Text => Family::Text,
            Kind::Int | Kind::UInt => Family::Integer,
            Kind::Float | Kind::Decimal => Family::Number,
            Kind::Date | Kind::Timestamp => Family::ZeroableDate,
            Kind::Time => Family::Typed,
            _ => Family::Unsupported,
        }
    }
}

impl ColumnLike for sqlx::sqlite::SqliteColumn {
    fn name(&self) -> &str {
        Column::name(self)
    }
    fn type_name(&self) -> String {
        self.type_info().name().to_owned()
    }
    /// Refined from the declared type by [`declared_types`].
    fn family(&self) -> Family {
        sqlite_family(self.type_info().name())
    }
}

/// A SQLite column's family from its declared type, by SQLite's affinity
/// rules. Any column may hold text, so only the numeric declarations
/// constrain what is written: INTEGER affinity, REAL affinity and the
/// NUMERIC-affinity decimals (not DATE or BOOLEAN, whose values are text
/// or codes in the departments' files).
fn sqlite_family(declared: &str) -> Family {
    let t = declared.to_ascii_uppercase();
    if t.contains("INT") {
        Family::Integer
    } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
        Family::Text
    } else if t.contains("BLOB") {
        Family::Unsupported
    } else if t.contains("REAL")
        || t.contains("FLOA")
        || t.contains("DOUB")
        || t.contains("DEC")
        || t.contains("NUMERIC")
    {
        Family::Number
    } else {
        Family::Text
    }
}

/// SQLite: the declared types as written in the schema. sqlx reports only
/// the types it maps (`DECIMAL(5,2)` is not one of them).
async fn declared_types(
    conn: &mut Conn,
    table: &str,
    columns: &mut [TargetColumn],
    context: &str,
) -> Result<(), ConnectorError> {
    let (schema, name) = table.split_once('.').unwrap_or(("main", table));
    let args = [Arg::Text(name.to_owned()), Arg::Text(schema.to_owned())];
    let names = ["name".to_owned(), "type".to_owned()];
    let sql = "SELECT name, type FROM pragma_table_info(?, ?)";
    let rows = tokio::time::timeout(WRITE_TIMEOUT, fetch(conn, sql, &args, &names))
        .await
        .map_err(|_| {
            ConnectorError::Transient(format!("{context}: describing the table timed out"))
        })?
        .map_err(|e| classify_write(e, context))?;
    for row in rows {
        let (Some(Value::String(name)), Some(Value::String(declared))) =
            (row.get("name"), row.get("type"))
        else {
            continue;
        };
        if let Some(column) = columns.iter_mut().find(|c| &c.name == name) {
            column.family = sqlite_family(declared);
            column.type_name = declared.clone();
        }
    }
    Ok(())
}

fn bind_args<'q, DB>(
    mut query: sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>>,
    args: &'q [Arg],
) -> sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>>
where
    DB: Database,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<&'q str>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    for a in args {
        query = match a {
            Arg::Text(s) => query.bind(s.as_str()),
            Arg::Int(i) => query.bind(*i),
            Arg::Null => query.bind(None::<&str>),
        };
    }
    query
}

/// Runs `sql` (an UPDATE) in a transaction, committing only when it
/// matched at most one row. Returns the number of rows it matched.
async fn execute_one(conn: &mut Conn, sql: &str, args: &[Arg]) -> Result<u64, sqlx::Error> {
    macro_rules! in_transaction {
        ($c:expr) => {{
            let mut tx = $c.begin().await?;
            let n = bind_args(sqlx::query(sql), args)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n > 1 {
                tx.rollback().await?;
            } else {
                tx.commit().await?;
            }
            Ok(n)
        }};
    }
    match conn {
        Conn::Pg(c) => in_transaction!(c),
        Conn::My(c) => in_transaction!(c),
        Conn::Lite(c) => in_transaction!(c),
    }
}

/// Runs `sql`, returning the number of rows it affected.
async fn execute(conn: &mut Conn, sql: &str, args: &[Arg]) -> Result<u64, sqlx::Error> {
    Ok(match conn {
        Conn::Pg(c) => bind_args(sqlx::query(sql), args)
            .execute(c)
            .await?
            .rows_affected(),
        Conn::My(c) => bind_args(sqlx::query(sql), args)
            .execute(c)
            .await?
            .rows_affected(),
        Conn::Lite(c) => bind_args(sqlx::query(sql), args)
            .execute(c)
            .await?
            .rows_affected(),
    })
}

/// Runs `sql` and decodes its rows as the pull would, under `names`.
async fn fetch(
    conn: &mut Conn,
    sql: &str,
    args: &[Arg],
    names: &[String],
) -> Result<Vec<Map<String, Value>>, sqlx::Error> {
    fn decode<R: DecodeRow + sqlx::Row>(rows: &[R], names: &[String]) -> Vec<Map<String, Value>> {
        rows.iter()
            .map(|row| {
                let mut out = Map::new();
                // An undecodable value reads as NULL; it is only reported.
                let _ = row.decode_into(&row.kinds(), names, &mut out);
                out
            })
            .collect()
    }
    match conn {
        Conn::Pg(c) => bind_args(sqlx::query(sql), args)
            .fetch_all(c)
            .await
            .map(|rows| decode(&rows, names)),
        Conn::My(c) => bind_args(sqlx::query(sql), args)
            .fetch_all(c)
            .await
            .map(|rows| decode(&rows, names)),
        Conn::Lite(c) => bind_args(sqlx::query(sql), args)
            .fetch_all(c)
            .await
            .map(|rows| decode(&rows, names)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_checked_strictly() {
        for ok in ["0", "-12", "+7", "0012"] {
            assert!(is_integer(ok), "{ok}");
        }
        for bad in ["", "-", "1.0", "12abc", "1 OR 1=1", "１２"] {
            assert!(!is_integer(bad), "{bad}");
        }
        for ok in ["12.5", "-0.001", ".5", "5.", "1e10", "2.5E-3"] {
            assert!(is_number(ok), "{ok}");
        }
        for bad in ["", ".", "e5", "1e", "NaN", "inf", "1,5", "12.5.1", " 1"] {
            assert!(!is_number(bad), "{bad}");
        }
    }

    #[test]
    fn suggestion_tables_are_created_per_dialect() {
        let ddl = suggestion_ddl(Backend::MySql, "`push_suggestion`");
        assert!(ddl.starts_with("CREATE TABLE IF NOT EXISTS `push_suggestion` (id BIGINT"));
        assert!(ddl.contains("UNIQUE (outbox_id, column_name)"));
        assert!(ddl.ends_with("DEFAULT CHARSET = utf8mb4"));
        assert!(suggestion_ddl(Backend::Sqlite, "\"s\"").contains("AUTOINCREMENT"));
    }
}
