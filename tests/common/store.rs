//! Looking at what is stored: a connection to an app's database on either backend
//! ([`Store`]), and on an SQLite file: row dumps, snapshots, counts, the integrity check.

use std::path::Path;

use crate::app::TestApp;

impl TestApp {
    /// A connection to the server's database, on either backend (to look at what is stored
    /// or plant what a test needs).
    pub fn store(&self) -> Store {
        let pool = self.state.pool.clone();
        Store(std::sync::Mutex::new(tokend::startup::off_runtime(
            move || pool.get().expect("a database connection"),
        )))
    }
}

/// A database connection usable from async test code: each call runs on a plain thread (the
/// blocking PostgreSQL client cannot run on a thread that drives a runtime).
pub struct Store(std::sync::Mutex<tokend::db::Connection>);

type DbResult<T> = tokend::db::Result<T>;
type Params<'a> = &'a [&'a dyn tokend::db::Param];

impl Store {
    fn run<T: Send>(&self, f: impl FnOnce(&tokend::db::Connection) -> T + Send) -> T {
        tokend::startup::off_runtime(|| f(&self.0.lock().expect("store lock")))
    }

    pub fn execute(&self, sql: &str, params: Params) -> DbResult<usize> {
        self.run(|c| c.execute(sql, params))
    }

    pub fn execute_batch(&self, sql: &str) -> DbResult<()> {
        self.run(|c| c.execute_batch(sql))
    }

    pub fn query_row<T: Send>(
        &self,
        sql: &str,
        params: Params,
        f: impl FnOnce(&tokend::db::Row) -> DbResult<T> + Send,
    ) -> DbResult<T> {
        self.run(|c| c.query_row(sql, params, f))
    }

    pub fn query_opt<T: Send>(
        &self,
        sql: &str,
        params: Params,
        f: impl FnOnce(&tokend::db::Row) -> DbResult<T> + Send,
    ) -> DbResult<Option<T>> {
        self.run(|c| c.query_opt(sql, params, f))
    }

    pub fn query_map<T: Send>(
        &self,
        sql: &str,
        params: Params,
        f: impl FnMut(&tokend::db::Row) -> DbResult<T> + Send,
    ) -> DbResult<Vec<T>> {
        self.run(|c| c.query_map(sql, params, f))
    }
}

/// Every row of `table` as text (all columns but last-use data), ordered by rowid.
pub fn dump(conn: &rusqlite::Connection, table: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare(&format!("SELECT * FROM {table} ORDER BY rowid"))
        .expect("prepare dump");
    let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    let rows = stmt
        .query_map([], |r| {
            let mut parts = Vec::new();
            for (i, n) in names.iter().enumerate() {
                if n.starts_with("last_used") || n.starts_with("last_seen") {
                    continue;
                }
                let v: rusqlite::types::Value = r.get(i)?;
                parts.push(format!("{n}={v:?}"));
            }
            Ok(parts.join(" "))
        })
        .expect("query dump");
    rows.map(|r| r.expect("row")).collect()
}

/// The stored state a 4xx must leave alone.
pub fn snapshot(conn: &rusqlite::Connection) -> Vec<Vec<String>> {
    [
        "companies",
        "users",
        "tokens",
        "legacy_credentials",
        "nodes",
        "sessions",
        "token_warnings",
    ]
    .iter()
    .map(|t| dump(conn, t))
    .collect()
}

/// `SELECT COUNT(*) FROM table` on a direct connection.
pub fn count(conn: &rusqlite::Connection, table: &str) -> i64 {
    conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .expect("count")
}

/// `PRAGMA integrity_check` answers `ok`.
pub fn assert_integrity(path: &Path) {
    let conn = rusqlite::Connection::open(path).expect("open db");
    let s: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(s, "ok", "integrity_check of {}", path.display());
}
