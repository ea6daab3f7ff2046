//! The `sql` connector: a table or a query in PostgreSQL, MySQL/MariaDB or
//! SQLite, read in keyset-paginated batches.
//!
//! - **Full pulls** (no cursor column, no stored cursor, or `--full`) read
//!   every row ordered by the key, `batch_size` rows per query
//!   (`WHERE key > last ORDER BY key LIMIT n`), as a `Snapshot`. When a
//!   cursor column is declared, the last batch carries `MAX(cursor)` taken
//!   *before* the first page: any row changed while the pull runs gets a
//!   later cursor value and is read again next time, so nothing is lost
//!   even if it was read in its old state here.
//! - **Incremental pulls** read rows with `cursor >= stored` ordered by
//!   (cursor, key…), paginating on (cursor, key…); each batch carries the
//!   cursor of its last row, which is the greatest in the batch. `>=` re-reads
//!   the rows sharing the stored value (harmless: staging upserts by key) and
//!   so never loses rows that arrived with the same value after the last
//!   pull. Rows whose cursor is NULL are invisible to incremental pulls
//!   (they compare as unknown) and are read by full pulls only.
//! - The key must identify every row: rows with a NULL key column cannot be
//!   paginated, so their presence is a `Config` error rather than a silent
//!   drop.
//! - Identifiers from config are validated and quoted per dialect; every
//!   value is bound, never interpolated. The stored cursor and the last
//!   page's key values are bound as text and cast in SQL to the column's
//!   type, so comparisons are typed (timestamps, integers, decimals) on all
//!   three backends and the cursor text round-trips.
//! - Each query fetches `batch_size + 1` rows: the extra row tells whether
//!   this batch is the last without one more round trip, and is read again
//!   as the first row of the next page.
//!
//! Push-back writes through [`SqlTarget`] (`write.rs`), which shares the
//! connection, quoting, casting and error classification defined here.

mod decode;
pub mod write;

pub use self::write::{ColumnWrite, Expect, SqlTarget, Suggestion, UpdateOutcome};

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde_json::{Map, Value};
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Column, ConnectOptions, Database, Executor, Statement, TypeInfo};

use self::decode::{DecodeRow, Kind};
use super::{
    Batch, BoxFuture, ConnectorError, Origin, PullMode, PullRequest, RawRecord, RowProblem, Source,
};
use crate::config::connector::is_sql_identifier;
use crate::config::{Connector, Location};
use crate::store::redact_url;

/// How long to wait for the server to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long one page query may take before the pull is given up as transient.
const QUERY_TIMEOUT: Duration = Duration::from_secs(300);

/// Whether a connection may change the database. Pulls open SQLite files
/// read-only, so a reader can never modify a department's file; push-back
/// opens them read-write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    ReadOnly,
    ReadWrite,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Postgres,
    MySql,
    Sqlite,
}

enum Conn {
    Pg(PgConnection),
    My(MySqlConnection),
    Lite(SqliteConnection),
}

/// What a placeholder in a page query is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// The cursor committed by the previous pull.
    Stored,
    /// The i-th ordering column's value in the previous page's last row.
    Last(usize),
    /// `batch_size + 1`.
    Limit,
}

/// A page query and what its placeholders are bound to, in order.
#[derive(Debug, Clone)]
struct PageQuery {
    sql: String,
    slots: Vec<Slot>,
}

/// One column of the source as the database describes it.
#[derive(Debug, Clone)]
struct ColumnInfo {
    name: String,
    type_name: String,
}

/// Reads one SQL source batch by batch; see the module docs.
///
/// Pages are read one batch ahead by a task that owns the connection, so
/// the query, the server's work and the decoding of batch k+1 overlap the
/// caller's standardizing and staging of batch k. The channel holds one
/// batch: at most three are in memory. Dropping the source stops the task
/// and closes the connection.
pub struct SqlSource {
    mode: PullMode,
    batches: tokio::sync::mpsc::Receiver<Result<Option<Batch>, ConnectorError>>,
    reader: tokio::task::JoinHandle<()>,
    /// `Ok(None)` or an error was delivered: the reader is finished.
    ended: Option<Ended>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Exhausted,
    Failed,
}

impl Drop for SqlSource {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// The state of one pull: the connection, the page queries and where the
/// last page stopped.
struct Reader {
    conn: Conn,
    /// Connector, source and redacted URL, prefixed to every error.
    context: String,
    mode: PullMode,
    names: Vec<String>,
    /// Indices (into `names`) of the ordering columns: cursor first in
    /// incremental pulls, then the key columns.
    order: Vec<usize>,
    first: PageQuery,
    next: PageQuery,
    stored: Option<String>,
    /// The ordering columns' values (as text) in the last row delivered.
    last: Option<Vec<String>>,
    limit: i64,
    batch_size: usize,
    /// Incremental: index of the cursor column, whose last value each batch commits.
    batch_cursor: Option<usize>,
    /// Snapshot with a cursor column: what the last batch commits.
    final_cursor: Option<String>,
    rows_read: u64,
    kinds: Vec<Kind>,
    done: bool,
}

impl SqlSource {
    /// Connects, checks the table/query and its key and cursor columns, and
    /// starts reading. Configuration problems (missing table or column, bad
    /// credentials, NULL keys) surface here, before any batch.
    pub async fn open(connector: &Connector, request: PullRequest) -> Result<Self, ConnectorError> {
        let mut reader = Reader::open(connector, request).await?;
        let mode = reader.mode;
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let task = tokio::spawn(async move {
            loop {
                let result = reader.page().await;
                let last = !matches!(result, Ok(Some(_)));
                if tx.send(result).await.is_err() || last {
                    break;
                }
            }
        });
        Ok(SqlSource {
            mode,
            batches: rx,
            reader: task,
            ended: None,
        })
    }

    async fn next(&mut self) -> Result<Option<Batch>, ConnectorError> {
        match self.ended {
            Some(Ended::Exhausted) => return Ok(None),
            Some(Ended::Failed) => {
                return Err(ConnectorError::Transient(
                    "this pull already failed; open the source again to resume".into(),
                ))
            }
            None => {}
        }
        match self.batches.recv().await {
            Some(Ok(Some(batch))) => Ok(Some(batch)),
            Some(Ok(None)) => {
                self.ended = Some(Ended::Exhausted);
                Ok(None)
            }
            Some(Err(e)) => {
                self.ended = Some(Ended::Failed);
                Err(e)
            }
            // The reader stopped without saying why (it panicked or was
            // cancelled): never mistake that for the end of the data.
            None => {
                self.ended = Some(Ended::Failed);
                Err(ConnectorError::Transient(
                    "the SQL reader stopped unexpectedly".into(),
                ))
            }
        }
    }
}

impl Reader {
    /// Connects, checks the table/query and its key and cursor columns, and
    /// prepares the page queries. Nothing is read yet except, for a full
    /// pull with a cursor column, `MAX(cursor)`.
    async fn open(connector: &Connector, request: PullRequest) -> Result<Self, ConnectorError> {
        let Location::Sql {
            url,
            table,
            query,
            key,
            cursor,
            batch_size,
        } = &connector.location
        else {
            return Err(ConnectorError::Config(format!(
                "connector `{}` is not an sql connector",
                connector.name
            )));
        };
        let url = url.expose();
        let shown = redact_url(url);
        let what = match (table, query) {
            (Some(t), _) => format!("table `{t}`"),
            (None, Some(_)) => "query".to_owned(),
            (None, None) => String::new(),
        };
        let context = format!("connector `{}` ({what} at {shown})", connector.name);
        let config = |msg: String| ConnectorError::Config(format!("{context}: {msg}"));

        for name in table.iter().chain(key).chain(cursor) {
            if !is_sql_identifier(name) {
                return Err(config(format!("`{name}` is not a plain SQL identifier")));
            }
        }
        if key.is_empty() {
            return Err(config("declare the key column(s) with `key`".into()));
        }

        let batch_size = (*batch_size).max(1);
        let (backend, mut conn) = connect(url, batch_size, &context, Access::ReadOnly).await?;
        let source = match (table, query) {
            (Some(t), None) => quote_path(backend, t),
            (None, Some(q)) => {
                let q = q.trim().trim_end_matches(';').trim_end();
                if q.is_empty() {
                    return Err(config("`query` is empty".into()));
                }
                format!("({q}) AS src")
            }
            _ => return Err(config("give exactly one of `table` or `query`".into())),
        };

        let columns = describe(&mut conn, &format!("SELECT * FROM {source}"), &context).await?;
        let find = |wanted: &str, role: &str| -> Result<usize, ConnectorError> {
            columns
                .iter()
                .position(|c| c.name == wanted)
                .or_else(|| {
                    columns
                        .iter()
                        .position(|c| c.name.eq_ignore_ascii_case(wanted))
                })
                .ok_or_else(|| {
                    let have: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
                    config(format!(
                        "{role} column `{wanted}` not found (columns: {})",
                        have.join(", ")
                    ))
                })
        };
        let key_idx = key
            .iter()
            .map(|k| find(k, "key"))
            .collect::<Result<Vec<_>, _>>()?;
        let cursor_idx = cursor.as_deref().map(|c| find(c, "cursor")).transpose()?;

        let incremental = cursor_idx.is_some() && request.cursor.is_some() && !request.full;
        let mut order = Vec::new();
        if incremental {
            order.extend(cursor_idx);
        }
        order.extend(&key_idx);

        let q = |i: usize| quote(backend, &columns[i].name);
        let cast = |i: usize, p: &str| cast_param(backend, &columns[i].type_name, p);

        // NULL keys would stop keyset pagination short; refuse them loudly.
        let null_keys = key_idx
            .iter()
            .map(|&i| format!("{} IS NULL", q(i)))
            .collect::<Vec<_>>()
            .join(" OR ");
        let count_sql = format!("SELECT COUNT(*) AS n FROM {source} WHERE {null_keys}");
        let nulls = scalar_text(&mut conn, &count_sql, &context).await?;
        if nulls.as_deref().is_some_and(|n| n != "0") {
            return Err(config(format!(
                "{} row(s) have NULL in key column(s) {}; the key must identify every row",
                nulls.unwrap_or_default(),
                key.join(", ")
            )));
        }

        let not_null = key_idx
            .iter()
            .map(|&i| format!("{} IS NOT NULL", q(i)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let order_by = order.iter().map(|&i| q(i)).collect::<Vec<_>>().join(", ");

        let mut first = PlaceholderWriter::new(backend);
        let mut next = PlaceholderWriter::new(backend);
        if incremental {
            let c = order[0];
            let p = first.param(Slot::Stored);
            first.push(&format!(
                "SELECT * FROM {source} WHERE {} >= {} AND {not_null}",
                q(c),
                cast(c, &p)
            ));
            // c >= last AND (c > last OR (c = last AND keys after last keys))
            let p = next.param(Slot::Last(0));
            next.push(&format!(
                "SELECT * FROM {source} WHERE {not_null} AND {} >= {} AND ",
                q(c),
                cast(c, &p)
            ));
            keyset_after(&mut next, &order, 0, &q, &cast);
        } else {
            first.push(&format!("SELECT * FROM {source} WHERE {not_null}"));
            next.push(&format!("SELECT * FROM {source} WHERE {not_null} AND "));
            // The leading `k1 >= last` lets every backend range-scan the key index.
            let p = next.param(Slot::Last(0));
            next.push(&format!("{} >= {} AND ", q(order[0]), cast(order[0], &p)));
            keyset_after(&mut next, &order, 0, &q, &cast);
        }
        for w in [&mut first, &mut next] {
            w.push(&format!(" ORDER BY {order_by} LIMIT "));
            let p = w.param(Slot::Limit);
            w.push(&p);
        }

        let final_cursor = match (incremental, cursor_idx) {
            (false, Some(c)) => {
                let sql = format!("SELECT MAX({}) AS m FROM {source}", q(c));
                scalar_text(&mut conn, &sql, &context).await?
            }
            _ => None,
        };

        Ok(Reader {
            conn,
            context,
            mode: if incremental {
                PullMode::Incremental
            } else {
                PullMode::Snapshot
            },
            names: columns.into_iter().map(|c| c.name).collect(),
            order,
            first: first.finish(),
            next: next.finish(),
            stored: if incremental { request.cursor } else { None },
            last: None,
            limit: i64::try_from(batch_size).unwrap_or(i64::MAX - 1) + 1,
            batch_size,
            batch_cursor: if incremental { cursor_idx } else { None },
            final_cursor,
            rows_read: 0,
            kinds: Vec::new(),
            done: false,
        })
    }

    async fn page(&mut self) -> Result<Option<Batch>, ConnectorError> {
        if self.done {
            return Ok(None);
        }
        let query = if self.last.is_some() {
            &self.next
        } else {
            &self.first
        };
        let mut binds: Vec<Bind> = Vec::with_capacity(query.slots.len());
        for slot in &query.slots {
            binds.push(match slot {
                Slot::Stored => Bind::Text(self.stored.clone().unwrap_or_default()),
                Slot::Last(i) => Bind::Text(
                    self.last
                        .as_ref()
                        .and_then(|l| l.get(*i))
                        .cloned()
                        .unwrap_or_default(),
                ),
                Slot::Limit => Bind::Int(self.limit),
            });
        }
        let sql = query.sql.clone();
        let fetched = tokio::time::timeout(QUERY_TIMEOUT, async {
            match &mut self.conn {
                Conn::Pg(c) => {
                    let rows = bind_all(sqlx::query(&sql), &binds).fetch_all(c).await?;
                    Ok(self.convert(&rows))
                }
                Conn::My(c) => {
                    let rows = bind_all(sqlx::query(&sql), &binds).fetch_all(c).await?;
                    Ok(self.convert(&rows))
                }
                Conn::Lite(c) => {
                    let rows = bind_all(sqlx::query(&sql), &binds).fetch_all(c).await?;
                    Ok(self.convert(&rows))
                }
            }
        })
        .await;
        let (batch, more) = match fetched {
            Err(_) => {
                return Err(ConnectorError::Transient(format!(
                    "{}: a page query took longer than {} s",
                    self.context,
                    QUERY_TIMEOUT.as_secs()
                )))
            }
            Ok(Err(e)) => return Err(classify(e, &self.context)),
            Ok(Ok(converted)) => converted?,
        };
        if !more {
            self.done = true;
        }
        match batch {
            Some(mut batch) => {
                if self.done && batch.cursor.is_none() {
                    batch.cursor = self.final_cursor.take();
                }
                Ok(Some(batch))
            }
            None => Ok(None),
        }
    }

    /// Turns one page of rows into a batch, remembering the last row's
    /// ordering values. Returns the batch (None for an empty page) and
    /// whether more rows follow.
    fn convert<R: DecodeRow + sqlx::Row>(
        &mut self,
        rows: &[R],
    ) -> Result<(Option<Batch>, bool), ConnectorError> {
        let more = rows.len() > self.batch_size;
        let rows = &rows[..rows.len().min(self.batch_size)];
        let Some(first) = rows.first() else {
            return Ok((None, false));
        };
        if first.columns().len() != self.names.len() {
            return Err(ConnectorError::Config(format!(
                "{}: the source now has {} columns, not {}; the table changed during the pull",
                self.context,
                first.columns().len(),
                self.names.len()
            )));
        }
        if self.kinds.is_empty() {
            self.kinds = first.kinds();
        }
        let mut batch = Batch {
            records: Vec::with_capacity(rows.len()),
            ..Batch::default()
        };
        let mut last_values = None;
        for (n, row) in rows.iter().enumerate() {
            self.rows_read += 1;
            let mut fields = Map::new();
            let problems = row.decode_into(&self.kinds, &self.names, &mut fields);
            let origin = Origin {
                row: Some(self.rows_read),
                ..Origin::default()
            };
            if n + 1 == rows.len() {
                last_values = Some(self.ordering_values(&fields)?);
            }
            if problems.is_empty() {
                batch.records.push(RawRecord { fields, origin });
            } else {
                batch.problems.push(RowProblem {
                    origin,
                    fields,
                    reason: problems.join("; "),
                });
            }
        }
        if let (Some(_), Some(values)) = (self.batch_cursor, &last_values) {
            // Incremental: the cursor column orders first, so the last row's is the greatest.
            batch.cursor = values.first().cloned();
        }
        self.last = last_values;
        Ok((Some(batch), more))
    }

    /// The ordering columns' values of a row as the text bound next page.
    fn ordering_values(&self, fields: &Map<String, Value>) -> Result<Vec<String>, ConnectorError> {
        self.order
            .iter()
            .map(|&i| {
                let name = &self.names[i];
                match fields.get(name) {
                    Some(Value::String(s)) => Ok(s.clone()),
                    Some(Value::Number(n)) => Ok(n.to_string()),
                    Some(Value::Bool(b)) => Ok(b.to_string()),
                    _ => Err(ConnectorError::Config(format!(
                        "{}: column `{name}` could not be read as a key or cursor value \
                         (NULL or an unsupported type) at row {}",
                        self.context, self.rows_read
                    ))),
                }
            })
            .collect()
    }
}

impl Source for SqlSource {
    fn mode(&self) -> PullMode {
        self.mode
    }

    fn next_batch(&mut self) -> BoxFuture<'_, Result<Option<Batch>, ConnectorError>> {
        Box::pin(self.next())
    }
}

/// A value bound into a page query.
enum Bind {
    Text(String),
    Int(i64),
}

fn bind_all<'q, DB>(
    mut query: sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>>,
    binds: &'q [Bind],
) -> sqlx::query::Query<'q, DB, <DB as Database>::Arguments<'q>>
where
    DB: Database,
    &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    for b in binds {
        query = match b {
            Bind::Text(s) => query.bind(s.as_str()),
            Bind::Int(i) => query.bind(*i),
        };
    }
    query
}

/// Builds SQL with placeholders, recording what each is bound to. Every
/// occurrence gets its own placeholder (MySQL's `?` cannot be reused).
struct PlaceholderWriter {
    backend: Backend,
    sql: String,
    slots: Vec<Slot>,
}

impl PlaceholderWriter {
    fn new(backend: Backend) -> Self {
        PlaceholderWriter {
            backend,
            sql: String::new(),
            slots: Vec::new(),
        }
    }

    fn push(&mut self, s: &str) {
        self.sql.push_str(s);
    }

    /// A new placeholder bound to `slot`.
    fn param(&mut self, slot: Slot) -> String {
        self.slots.push(slot);
        match self.backend {
            Backend::Postgres => format!("${}", self.slots.len()),
            Backend::MySql | Backend::Sqlite => "?".to_owned(),
        }
    }

    fn finish(self) -> PageQuery {
        PageQuery {
            sql: self.sql,
            slots: self.slots,
        }
    }
}

/// Appends "(ordering columns from `from` on) come after the last row's":
/// `(a > $a OR (a = $a AND (b > $b OR (b = $b AND c > $c))))`.
fn keyset_after(
    w: &mut PlaceholderWriter,
    order: &[usize],
    from: usize,
    q: &dyn Fn(usize) -> String,
    cast: &dyn Fn(usize, &str) -> String,
) {
    let col = order[from];
    let p = w.param(Slot::Last(from));
    w.push(&format!("({} > {}", q(col), cast(col, &p)));
    if from + 1 < order.len() {
        let p = w.param(Slot::Last(from));
        w.push(&format!(" OR ({} = {} AND ", q(col), cast(col, &p)));
        keyset_after(w, order, from + 1, q, cast);
        w.push(")");
    }
    w.push(")");
}

/// `"name"` (PostgreSQL, SQLite) or `` `name` `` (MySQL).
fn quote(backend: Backend, name: &str) -> String {
    match backend {
        Backend::MySql => format!("`{}`", name.replace('`', "``")),
        Backend::Postgres | Backend::Sqlite => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

/// A possibly schema-qualified name, each part quoted.
fn quote_path(backend: Backend, name: &str) -> String {
    name.split('.')
        .map(|part| quote(backend, part))
        .collect::<Vec<_>>()
        .join(".")
}

/// The placeholder `p` (bound as text) cast to a column's type, so the
/// comparison is typed: timestamps compare as timestamps, not as text.
fn cast_param(backend: Backend, type_name: &str, p: &str) -> String {
    let upper = type_name.to_ascii_uppercase();
    match backend {
        Backend::Postgres => match upper.as_str() {
            "INT2" | "INT4" | "INT8" | "OID" | "NUMERIC" | "FLOAT4" | "FLOAT8" | "DATE"
            | "TIME" | "TIMESTAMP" | "UUID" | "BOOL" => format!("CAST({p} AS {upper})"),
            // Cursor text of a timestamptz is its UTC wall time.
            "TIMESTAMPTZ" => format!("(CAST({p} AS TIMESTAMP) AT TIME ZONE 'UTC')"),
            _ => p.to_owned(),
        },
        Backend::MySql => {
            let target = match upper.as_str() {
                "BOOLEAN" | "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" => {
                    "SIGNED"
                }
                t if t.ends_with(" UNSIGNED") => "UNSIGNED",
                "DECIMAL" => "DECIMAL(65,30)",
                "FLOAT" | "DOUBLE" => "DOUBLE",
                "DATE" => "DATE",
                "DATETIME" | "TIMESTAMP" => "DATETIME(6)",
                "TIME" => "TIME(6)",
                _ => return p.to_owned(),
            };
            format!("CAST({p} AS {target})")
        }
        Backend::Sqlite => {
            // Declared-type affinity, as SQLite itself decides it.
            if upper.contains("INT") {
                format!("CAST({p} AS INTEGER)")
            } else if upper.contains("REAL") || upper.contains("FLOA") || upper.contains("DOUB") {
                format!("CAST({p} AS REAL)")
            } else {
                p.to_owned()
            }
        }
    }
}

/// Connects to the URL's backend within [`CONNECT_TIMEOUT`]. `access`
/// matters for SQLite only: server databases enforce what the URL's
/// account may do.
async fn connect(
    url: &str,
    batch_size: usize,
    context: &str,
    access: Access,
) -> Result<(Backend, Conn), ConnectorError> {
    let bad_url = |e: sqlx::Error| ConnectorError::Config(format!("{context}: invalid URL: {e}"));
    let lower = url.to_ascii_lowercase();
    let connecting = async {
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)
                .map_err(bad_url)?
                .application_name("yici");
            let conn = timed_connect(options.connect(), context).await?;
            Ok((Backend::Postgres, Conn::Pg(conn)))
        } else if lower.starts_with("mysql://") || lower.starts_with("mariadb://") {
            let url = match lower.starts_with("mariadb://") {
                true => format!("mysql://{}", &url["mariadb://".len()..]),
                false => url.to_owned(),
            };
            let options = MySqlConnectOptions::from_str(&url).map_err(bad_url)?;
            let conn = timed_connect(options.connect(), context).await?;
            Ok((Backend::MySql, Conn::My(conn)))
        } else if lower.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(bad_url)?
                .read_only(access == Access::ReadOnly)
                .create_if_missing(false)
                // sqlx's SQLite worker thread hands rows over through a
                // channel; one that holds a whole page avoids a thread
                // switch per row (8× faster reads).
                .row_buffer_size(batch_size.saturating_add(1));
            let file = options.get_filename();
            if file != Path::new(":memory:") && !file.exists() {
                return Err(ConnectorError::Config(format!(
                    "{context}: database file {} does not exist",
                    file.display()
                )));
            }
            let conn = timed_connect(options.connect(), context).await?;
            Ok((Backend::Sqlite, Conn::Lite(conn)))
        } else {
            Err(ConnectorError::Config(format!(
                "{context}: unsupported URL scheme (use postgres://, mysql://, mariadb:// or sqlite:)"
            )))
        }
    };
    connecting.await
}

async fn timed_connect<C>(
    connecting: impl std::future::Future<Output = Result<C, sqlx::Error>>,
    context: &str,
) -> Result<C, ConnectorError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(classify(e, context)),
        Err(_) => Err(ConnectorError::Transient(format!(
            "{context}: no connection within {} s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// The columns of `sql` (prepared, not run): a missing table or column is
/// a `Config` error here, before anything is read.
async fn describe(
    conn: &mut Conn,
    sql: &str,
    context: &str,
) -> Result<Vec<ColumnInfo>, ConnectorError> {
    fn columns<C: Column>(cols: &[C]) -> Vec<ColumnInfo> {
        cols.iter()
            .map(|c| ColumnInfo {
                name: c.name().to_owned(),
                type_name: c.type_info().name().to_owned(),
            })
            .collect()
    }
    let described = tokio::time::timeout(QUERY_TIMEOUT, async {
        match conn {
            Conn::Pg(c) => c.prepare(sql).await.map(|s| columns(s.columns())),
            Conn::My(c) => c.prepare(sql).await.map(|s| columns(s.columns())),
            Conn::Lite(c) => c.prepare(sql).await.map(|s| columns(s.columns())),
        }
    })
    .await
    .map_err(|_| ConnectorError::Transient(format!("{context}: describing the source timed out")))?
    .map_err(|e| classify(e, context))?;
    if described.is_empty() {
        return Err(ConnectorError::Config(format!(
            "{context}: the source has no columns"
        )));
    }
    Ok(described)
}

/// The single value `sql` returns, as cursor text (None for NULL/no row).
async fn scalar_text(
    conn: &mut Conn,
    sql: &str,
    context: &str,
) -> Result<Option<String>, ConnectorError> {
    fn first<R: DecodeRow + sqlx::Row>(rows: &[R]) -> Option<String> {
        let row = rows.first()?;
        let name = row.columns().first()?.name().to_owned();
        let mut out = Map::new();
        let problems = row.decode_into(&row.kinds(), std::slice::from_ref(&name), &mut out);
        if !problems.is_empty() {
            return None;
        }
        match out.remove(&name)? {
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    let fetched = tokio::time::timeout(QUERY_TIMEOUT, async {
        match conn {
            Conn::Pg(c) => sqlx::query(sql).fetch_all(c).await.map(|r| first(&r)),
            Conn::My(c) => sqlx::query(sql).fetch_all(c).await.map(|r| first(&r)),
            Conn::Lite(c) => sqlx::query(sql).fetch_all(c).await.map(|r| first(&r)),
        }
    })
    .await
    .map_err(|_| ConnectorError::Transient(format!("{context}: query timed out")))?;
    fetched.map_err(|e| classify(e, context))
}

/// Config (the operator must fix it) or transient (try again later).
fn classify(e: sqlx::Error, context: &str) -> ConnectorError {
    use sqlx::Error as E;
    match &e {
        E::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let transient = matches!(
                code.as_str(),
                // PostgreSQL: connection exceptions, serialization/deadlock,
                // too many connections, shutdown, cancelled by timeout.
                "08000" | "08003" | "08006" | "08001" | "08004" | "40001" | "40P01" | "53300"
                    | "57P01" | "57P02" | "57P03" | "57014"
                    // MySQL: too many connections, lock wait, deadlock, server gone.
                    | "1040" | "1205" | "1213" | "2006" | "2013"
                    // SQLite: busy, locked.
                    | "5" | "6" | "261" | "517"
            ) || code.starts_with("08");
            let msg = format!("{context}: {}", db.message());
            if transient {
                ConnectorError::Transient(msg)
            } else {
                ConnectorError::Config(msg)
            }
        }
        E::Io(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed | E::Protocol(_) => {
            ConnectorError::Transient(format!("{context}: {e}"))
        }
        _ => ConnectorError::Config(format!("{context}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyset_conditions_nest_over_composite_keys() {
        let mut w = PlaceholderWriter::new(Backend::Postgres);
        let names = ["c", "k1", "k2"];
        let q = |i: usize| quote(Backend::Postgres, names[i]);
        let cast = |_: usize, p: &str| p.to_owned();
        keyset_after(&mut w, &[0, 1, 2], 0, &q, &cast);
        let page = w.finish();
        assert_eq!(
            page.sql,
            "(\"c\" > $1 OR (\"c\" = $2 AND (\"k1\" > $3 OR (\"k1\" = $4 AND (\"k2\" > $5)))))"
        );
        assert_eq!(
            page.slots,
            vec![
                Slot::Last(0),
                Slot::Last(0),
                Slot::Last(1),
                Slot::Last(1),
                Slot::Last(2)
            ]
        );
    }

    #[test]
    fn identifiers_are_quoted_per_dialect() {
        assert_eq!(quote_path(Backend::MySql, "gov.order"), "`gov`.`order`");
        assert_eq!(quote_path(Backend::Postgres, "order"), "\"order\"");
        assert_eq!(
            cast_param(Backend::Postgres, "TIMESTAMPTZ", "$1"),
            "(CAST($1 AS TIMESTAMP) AT TIME ZONE 'UTC')"
        );
        assert_eq!(
            cast_param(Backend::MySql, "DATETIME", "?"),
            "CAST(? AS DATETIME(6))"
        );
        assert_eq!(cast_param(Backend::Sqlite, "TEXT", "?"), "?");
    }
}
