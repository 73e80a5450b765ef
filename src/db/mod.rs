//! SQLite access: the pool (pragmas on every connection), migrations, and the write
//! transaction type. All SQL of the application lives under this module.

pub mod audit;
pub mod companies;
pub mod legacy;
pub mod nodes;
pub mod sessions;
pub mod tokens;
pub mod users;
pub mod webhooks;

use std::ops::Deref;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use rusqlite_migration::{Migrations, M};

use crate::domain::token_value::TokenDigest;

pub type Pool = r2d2::Pool<SqliteConnectionManager>;
pub type PooledConn = r2d2::PooledConnection<SqliteConnectionManager>;

/// The migrations, in order. Never edit one that has shipped: add a new file.
const MIGRATIONS: &[M<'static>] = &[
    M::up(include_str!("../../migrations/0001_init.sql")),
    M::up(include_str!(
        "../../migrations/0002_retired_legacy_uuids.sql"
    )),
    M::up(include_str!("../../migrations/0003_audit_credentials.sql")),
    M::up(include_str!(
        "../../migrations/0004_node_token_disabled.sql"
    )),
    M::up(include_str!(
        "../../migrations/0005_default_token_lifetime.sql"
    )),
];

/// Durability pragmas, set on every connection the pool opens. `busy_timeout` comes first:
/// `journal_mode` needs a lock, and a connection opened while another one writes would
/// otherwise fail at once with "database is locked".
const PRAGMAS: &str = "PRAGMA busy_timeout = 10000;
     PRAGMA journal_mode = WAL;
     PRAGMA synchronous = FULL;
     PRAGMA foreign_keys = ON;";

/// Opens (creating if needed) the database at `path` and brings its schema up to date.
pub fn open(path: &Path, max_connections: u32) -> anyhow::Result<Pool> {
    // Rule 32: SQLite gives the `-wal` and `-shm` files the database file's mode.
    private_file(path)?;
    let manager = SqliteConnectionManager::file(path).with_init(|c| c.execute_batch(PRAGMAS));
    let pool = r2d2::Pool::builder()
        .max_size(max_connections)
        .connection_timeout(Duration::from_secs(15))
        .build(manager)
        .with_context(|| format!("cannot open database {}", path.display()))?;
    migrate(&mut *pool.get()?)?;
    Ok(pool)
}

/// Applies pending migrations; a no-op on an up-to-date database.
pub fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    Migrations::from_slice(MIGRATIONS)
        .to_latest(conn)
        .context("cannot apply database migrations")
}

/// The schema version (number of migrations applied).
pub fn schema_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Rule 32: `path` is created empty with mode 0600 when missing (SQLite then uses it as a new
/// database), and set to mode 0600 when it exists, before SQLite opens it.
pub fn private_file(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot make {} private", path.display()))?;
    }
    Ok(())
}

/// A write transaction (`BEGIN IMMEDIATE`) that also records which token digests appeared
/// or disappeared, so the caller can update the in-memory filter after commit.
pub struct Tx<'c> {
    tx: Transaction<'c>,
    pub effects: Effects,
}

/// Side effects of a committed write on the authentication indexes.
#[derive(Debug, Default)]
pub struct Effects {
    pub added: Vec<TokenDigest>,
    pub removed: Vec<TokenDigest>,
    /// False only for writes that cannot change who may authenticate (last-use flush).
    pub touches_auth: bool,
}

impl<'c> Tx<'c> {
    pub fn begin(conn: &'c mut Connection) -> rusqlite::Result<Tx<'c>> {
        Ok(Tx {
            tx: conn.transaction_with_behavior(TransactionBehavior::Immediate)?,
            effects: Effects {
                touches_auth: true,
                ..Effects::default()
            },
        })
    }

    pub fn digest_added(&mut self, d: TokenDigest) {
        self.effects.added.push(d);
    }

    pub fn digest_removed(&mut self, d: TokenDigest) {
        self.effects.removed.push(d);
    }

    pub fn commit(self) -> rusqlite::Result<Effects> {
        self.tx.commit()?;
        Ok(self.effects)
    }
}

impl Deref for Tx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.tx
    }
}

/// Bumps the cross-process change counter (used by CLI writes).
/// A `LIKE … ESCAPE '\'` pattern matching `needle` anywhere, case-insensitively (the column
/// compared must be lower-cased too); `%`, `_` and `\` in the needle match only themselves.
pub fn contains_pattern(needle: &str) -> String {
    format!(
        "%{}%",
        needle
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

pub fn bump_epoch(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'epoch'", [])?;
    Ok(())
}

pub fn read_epoch(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| {
        r.get(0)
    })
}

/// `PRAGMA integrity_check` → `true` when it answers `ok`.
pub fn integrity_ok(conn: &Connection) -> rusqlite::Result<bool> {
    let s: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    Ok(s == "ok")
}

/// Maps a unique-constraint violation to `Some(())`, so callers can answer 409.
pub fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

/// Online backup of the whole database to `dest` (consistent while others write).
pub fn backup(conn: &Connection, dest: &Path) -> anyhow::Result<()> {
    use rusqlite::backup::Backup;
    private_file(dest)?;
    let mut out = Connection::open(dest)?;
    {
        let b = Backup::new(conn, &mut out)?;
        // One step: the whole copy under one read snapshot. In WAL mode that blocks no writer,
        // whereas a multi-step backup restarts whenever another connection writes, and may
        // never finish under steady load.
        b.run_to_completion(std::ffi::c_int::MAX, Duration::from_millis(5), None)?;
    }
    out.execute_batch("PRAGMA journal_mode = DELETE;")?;
    Ok(())
}

/// Reads text column `i` through `parse`. Stored text that does not parse is corrupt data: an
/// error (a logged 500 with the request id), never a silent default.
pub fn parse_column<T>(
    r: &rusqlite::Row,
    i: usize,
    what: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> rusqlite::Result<T> {
    let text: String = r.get(i)?;
    parse(&text).ok_or_else(|| corrupt(i, format!("unknown {what} {text:?}")))
}

/// Reads a stored SHA-256 digest at column `i`; any other length is corrupt data.
pub fn digest_column(r: &rusqlite::Row, i: usize) -> rusqlite::Result<TokenDigest> {
    let bytes: Vec<u8> = r.get(i)?;
    TokenDigest::from_slice(&bytes)
        .ok_or_else(|| corrupt(i, format!("a digest of {} bytes", bytes.len())))
}

fn corrupt(column: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        column,
        rusqlite::types::Type::Text,
        format!("corrupt row: {what}").into(),
    )
}
