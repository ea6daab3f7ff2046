//! Versioned schema migrations, embedded in the binary, one list per dialect.
//!
//! They run through sqlx's migrator (without the `migrate!` macro) so its
//! `_sqlx_migrations` table tracks applied versions and checksums: editing a
//! migration that a store already ran is caught on the next open.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

use super::{Decode, Pool, Result, Store, StoreError};

/// One embedded migration: version, description, SQL.
type Embedded = (i64, &'static str, &'static str);

/// SQLite migrations, oldest first. Append; never edit a released one.
const SQLITE: &[Embedded] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "link hash",
        include_str!("../../migrations/sqlite/0002_link_hash.sql"),
    ),
    (
        3,
        "match key",
        include_str!("../../migrations/sqlite/0003_match_key.sql"),
    ),
    (
        4,
        "link record id",
        include_str!("../../migrations/sqlite/0004_link_record_id.sql"),
    ),
    (
        5,
        "golden records",
        include_str!("../../migrations/sqlite/0005_golden.sql"),
    ),
    (
        6,
        "run runner",
        include_str!("../../migrations/sqlite/0006_run_runner.sql"),
    ),
    (
        7,
        "gone index",
        include_str!("../../migrations/sqlite/0007_gone_index.sql"),
    ),
];

/// PostgreSQL migrations: the same versions as [`SQLITE`], in its dialect.
const POSTGRES: &[Embedded] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "link hash",
        include_str!("../../migrations/postgres/0002_link_hash.sql"),
    ),
    (
        3,
        "match key",
        include_str!("../../migrations/postgres/0003_match_key.sql"),
    ),
    (
        4,
        "link record id",
        include_str!("../../migrations/postgres/0004_link_record_id.sql"),
    ),
    (
        5,
        "golden records",
        include_str!("../../migrations/postgres/0005_golden.sql"),
    ),
    (
        6,
        "run runner",
        include_str!("../../migrations/postgres/0006_run_runner.sql"),
    ),
    (
        7,
        "gone index",
        include_str!("../../migrations/postgres/0007_gone_index.sql"),
    ),
];

/// A migration list compiled into the binary, as a sqlx [`MigrationSource`].
#[derive(Debug)]
struct EmbeddedSource(&'static [Embedded]);

impl<'s> MigrationSource<'s> for EmbeddedSource {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 's>> {
        let migrations = self
            .0
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    description.into(),
                    MigrationType::Simple,
                    sql.into(),
                    false,
                )
            })
            .collect();
        Box::pin(std::future::ready(Ok(migrations)))
    }
}

/// Applies every pending migration for the store's backend.
pub(super) async fn run(store: &Store) -> Result<()> {
    let migrate_err = |error| StoreError::Migrate { error };
    match store.pool() {
        Pool::Sqlite(pool) => {
            let migrator = Migrator::new(EmbeddedSource(SQLITE))
                .await
                .map_err(migrate_err)?;
            migrator.run(pool).await.map_err(migrate_err)
        }
        Pool::Postgres(pool) => {
            let migrator = Migrator::new(EmbeddedSource(POSTGRES))
                .await
                .map_err(migrate_err)?;
            migrator.run(pool).await.map_err(migrate_err)
        }
    }
}

/// One column as the schema reports it, with the type folded to a portable
/// class so the two dialects can be compared.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ColumnInfo {
    /// Column name.
    pub name: String,
    /// `integer`, `text` or `real`; anything else verbatim (lower-case).
    pub kind: String,
    /// Whether the column accepts NULL.
    pub nullable: bool,
}

fn portable_kind(declared: &str) -> String {
    match declared.to_ascii_lowercase().as_str() {
        "integer" | "bigint" => "integer".to_owned(),
        "text" => "text".to_owned(),
        "real" | "double precision" => "real".to_owned(),
        other => other.to_owned(),
    }
}

impl Store {
    /// The store's own tables and their columns (sqlx's bookkeeping table
    /// excluded), for diagnostics and the backend-parity test.
    pub async fn schema(&self) -> Result<BTreeMap<String, Vec<ColumnInfo>>> {
        const OP: &str = "schema";
        let sqlite_sql = "SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type, \
                 CASE WHEN p.\"notnull\" = 0 AND p.pk = 0 THEN 1 ELSE 0 END AS nullable \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations'";
        let postgres_sql =
            "SELECT table_name::text AS table_name, column_name::text AS column_name, \
                 data_type::text AS data_type, \
                 CASE WHEN is_nullable = 'YES' THEN 1::bigint ELSE 0::bigint END AS nullable \
             FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'";
        let rows: Vec<(String, ColumnInfo)> = match self.pool() {
            Pool::Sqlite(pool) => sqlx::query(sqlite_sql)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(OP))?
                .iter()
                .map(|row| column_of(&Decode::new(row, OP)))
                .collect::<Result<_>>()?,
            Pool::Postgres(pool) => sqlx::query(postgres_sql)
                .fetch_all(pool)
                .await
                .map_err(StoreError::query(OP))?
                .iter()
                .map(|row| column_of(&Decode::new(row, OP)))
                .collect::<Result<_>>()?,
        };
        let mut tables: BTreeMap<String, Vec<ColumnInfo>> = BTreeMap::new();
        for (table, column) in rows {
            tables.entry(table).or_default().push(column);
        }
        for columns in tables.values_mut() {
            columns.sort();
        }
        Ok(tables)
    }
}

fn column_of<R: super::PortableRow>(d: &Decode<'_, R>) -> Result<(String, ColumnInfo)> {
    Ok((
        d.text("table_name")?,
        ColumnInfo {
            name: d.text("column_name")?,
            kind: portable_kind(&d.text("data_type")?),
            nullable: d.int("nullable")? != 0,
        },
    ))
}
