//! Throwaway MariaDB/MySQL databases for integration tests.
//!
//! Each test gets its own database (`yici_test_<pid>_<counter>_<random>`) on
//! the server at `YICI_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306/`),
//! dropped when the returned [`TestDb`] goes out of scope. Databases left
//! behind by killed test processes are dropped the first time this process
//! creates one.
//!
//! No server: with `CI=true` that is a failure (panic); otherwise the test
//! prints `SKIPPED: …` to stderr and returns early:
//!
//! ```ignore
//! let Some(db) = support::mariadb::test_db().await else { return };
//! ```
#![allow(dead_code)] // each test binary uses a different part

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::throwaway::{database_url, is_stale, on_fresh_thread, unique_name};

use sqlx::mysql::MySqlConnectOptions;
use sqlx::{ConnectOptions, Connection, MySqlConnection, Row};

/// Server used when `YICI_TEST_MYSQL_URL` is not set.
pub const DEFAULT_URL: &str = "mysql://root@127.0.0.1:3306/";

/// The admin URL (a server account that may create databases).
pub fn admin_url() -> String {
    std::env::var("YICI_TEST_MYSQL_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

/// A database that exists for one test and is dropped with this value.
#[derive(Debug)]
pub struct TestDb {
    name: String,
    url: String,
    admin_url: String,
}

impl TestDb {
    /// Connection URL of the throwaway database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A new connection to it.
    pub async fn connect(&self) -> MySqlConnection {
        connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to test database {}: {e}", self.name))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop may run inside a runtime (and must not block it on its own
        // futures), so clean up from a fresh thread with its own runtime.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let outcome = on_fresh_thread(move || async move {
            let mut conn = connect(&admin_url).await?;
            drop_database(&mut conn, &name).await
        });
        if let Some(Err(e)) = outcome {
            eprintln!("warning: could not drop test database {}: {e}", self.name);
        }
    }
}

/// Creates a fresh database, or returns `None` (after saying so) when no
/// server answers and `CI` is not `true`.
pub async fn test_db() -> Option<TestDb> {
    let admin_url = admin_url();
    let mut conn = match connect(&admin_url).await {
        Ok(conn) => conn,
        Err(e) => {
            super::throwaway::unreachable("MariaDB", &admin_url, &e, "YICI_TEST_MYSQL_URL");
            return None;
        }
    };
    drop_stale_once(&mut conn).await;

    let name = unique_name();
    sqlx::query(&format!(
        "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    ))
    .execute(&mut conn)
    .await
    .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
    let _ = conn.close().await;

    let url = database_url(&admin_url, &name);
    Some(TestDb {
        name,
        url,
        admin_url,
    })
}

async fn connect(url: &str) -> Result<MySqlConnection, sqlx::Error> {
    let options = MySqlConnectOptions::from_str(url)?;
    tokio::time::timeout(Duration::from_secs(5), options.connect())
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)?
}

async fn drop_database(conn: &mut MySqlConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("DROP DATABASE IF EXISTS `{name}`"))
        .execute(conn)
        .await
        .map(|_| ())
}

/// Drops `yici_test_<pid>_…` databases whose process is gone (Linux: no
/// `/proc/<pid>`), once per test process.
async fn drop_stale_once(conn: &mut MySqlConnection) {
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.swap(true, Ordering::SeqCst) || !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let Ok(rows) = sqlx::query(
        "SELECT CAST(SCHEMA_NAME AS CHAR) AS name FROM information_schema.SCHEMATA \
         WHERE SCHEMA_NAME LIKE 'yici\\_test\\_%'",
    )
    .fetch_all(&mut *conn)
    .await
    else {
        return;
    };
    for row in rows {
        let Ok(name) = row.try_get::<String, _>("name") else {
            continue;
        };
        if is_stale(&name) {
            let _ = drop_database(conn, &name).await;
        }
    }
}
