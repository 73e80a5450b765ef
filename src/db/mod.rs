//! SQLite access: the pool (pragmas on every connection), migrations, and the write
//! transaction type. All SQL of the application lives under this module.

pub mod audit;
#[cfg(test)]
mod books;
pub mod changes;
pub mod companies;
mod conn;
pub mod copy;
mod error;
pub mod legacy;
pub mod limits;
pub mod nodes;
pub mod pg;
pub mod roles;
pub mod scopes;
pub mod sessions;
mod target;
mod tls;
pub mod tokens;
pub mod users;
mod value;
pub mod webhooks;

use std::cell::RefCell;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite_migration::{Migrations, M};

pub use crate::params;
pub use conn::{Backend, Connection, PgConn, Row};
pub use error::{Error, Result};
pub use pg::JobLock;
pub use target::{is_keyword_string, is_postgres_url, shown, without_password, DbTarget};
pub use tls::SslMode;
pub use value::{args, Arg, Col, FromCol, Param, Value};

use crate::domain::token_value::TokenDigest;

/// The migration files, in order, written in portable SQL (PostgreSQL reads them through
/// [`pg::dialect`]). Never edit one that has shipped: add a new file.
const FILES: &[&str] = &[
    include_str!("../../migrations/0001_init.sql"),
    include_str!("../../migrations/0002_retired_legacy_uuids.sql"),
    include_str!("../../migrations/0003_audit_credentials.sql"),
    include_str!("../../migrations/0004_node_token_disabled.sql"),
    include_str!("../../migrations/0005_default_token_lifetime.sql"),
    include_str!("../../migrations/0006_shared_limits.sql"),
    include_str!("../../migrations/0007_session_pending_value.sql"),
    include_str!("../../migrations/0008_company_scopes_and_roles.sql"),
    include_str!("../../migrations/0009_token_limits.sql"),
];

/// Durability pragmas, set on every connection the pool opens. `busy_timeout` comes first:
/// `journal_mode` needs a lock, and a connection opened while another one writes would
/// otherwise fail at once with "database is locked".
const PRAGMAS: &str = "PRAGMA busy_timeout = 10000;
     PRAGMA journal_mode = WAL;
     PRAGMA synchronous = FULL;
     PRAGMA foreign_keys = ON;";

/// The connection pool, on either backend.
#[derive(Clone)]
pub enum Pool {
    Sqlite(r2d2::Pool<SqliteConnectionManager>),
    Postgres(r2d2::Pool<pg::PgManager>, Box<pg::PgManager>),
}

impl Pool {
    /// A connection; on PostgreSQL, waiting at most [`pg::CONNECT_TIMEOUT`] for one (then
    /// [`Error::Unavailable`]).
    pub fn get(&self) -> Result<Connection> {
        Ok(match self {
            Pool::Sqlite(p) => Connection::sqlite_pooled(p.get()?),
            Pool::Postgres(p, _) => Connection::pg_pooled(p.get()?),
        })
    }

    pub fn backend(&self) -> Backend {
        match self {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(..) => Backend::Postgres,
        }
    }

    /// A new connection outside the pool (PostgreSQL only: the change listener's).
    pub fn dedicated(&self) -> Result<Connection> {
        match self {
            Pool::Postgres(_, m) => Ok(Connection::pg(m.connect()?)),
            Pool::Sqlite(_) => Err(Error::Other("SQLite has no dedicated connections".into())),
        }
    }
}

/// Opens the database `target` names (an SQLite file, created if needed, or a PostgreSQL
/// URL) and brings its schema up to date.
pub fn open(target: &Path, max_connections: u32) -> anyhow::Result<Pool> {
    let text = target.to_string_lossy();
    if is_postgres_url(&text) {
        return open_postgres(&text, max_connections);
    }
    // Rule 32: SQLite gives the `-wal` and `-shm` files the database file's mode.
    private_file(target)?;
    let manager = SqliteConnectionManager::file(target).with_init(|c| c.execute_batch(PRAGMAS));
    let pool = r2d2::Pool::builder()
        .max_size(max_connections)
        .connection_timeout(Duration::from_secs(15))
        .build(manager)
        .with_context(|| format!("cannot open database {}", target.display()))?;
    let pool = Pool::Sqlite(pool);
    migrate(&mut pool.get()?)?;
    Ok(pool)
}

fn open_postgres(url: &str, max_connections: u32) -> anyhow::Result<Pool> {
    let manager = pg::PgManager::new(url)?;
    // Two direct connections first: a refused connection or a failed TLS handshake is
    // reported at once with its reason (the pool would retry it for its whole timeout), and a
    // pooler sharing sessions is refused.
    manager.check_sessions_kept().map_err(|e| match e {
        Error::Other(why) if why == pg::SHARED_SESSIONS => {
            anyhow::anyhow!(why).context("cannot use this PostgreSQL connection")
        }
        e => anyhow::Error::new(e).context(format!("cannot connect to {}", shown(Path::new(url)))),
    })?;
    let pool = r2d2::Pool::builder()
        .max_size(max_connections)
        .min_idle(Some(1))
        .connection_timeout(pg::CONNECT_TIMEOUT)
        .build(manager.clone())
        .with_context(|| format!("cannot connect to {}", shown(Path::new(url))))?;
    let pool = Pool::Postgres(pool, Box::new(manager));
    migrate(&mut pool.get()?)?;
    Ok(pool)
}

/// Applies pending migrations; a no-op on an up-to-date database.
pub fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    if let Some(c) = conn.as_sqlite_mut() {
        return migrate_sqlite(c);
    }
    conn.with_pg(|c| pg::migrate(c, FILES))
        .context("cannot apply database migrations")
}

fn migrate_sqlite(conn: &mut rusqlite::Connection) -> anyhow::Result<()> {
    let steps: Vec<M> = FILES.iter().map(|sql| M::up(sql)).collect();
    Migrations::new(steps)
        .to_latest(conn)
        .context("cannot apply database migrations")
}

/// The schema version (number of migrations applied).
pub fn schema_version(conn: &Connection) -> Result<i64> {
    match conn.backend() {
        Backend::Sqlite => conn.query_row("PRAGMA user_version", params![], |r| r.get(0)),
        Backend::Postgres => conn.query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            params![],
            |r| r.get(0),
        ),
    }
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

/// A write transaction that keeps its own books: the db functions that write through it
/// record which token digests appeared or disappeared and whether the write can change who
/// may authenticate, so the caller updates the in-memory filter and caches after commit
/// without remembering anything. SQLite: `BEGIN IMMEDIATE`. PostgreSQL: the write lock
/// first, so writes are serialized across replicas as they are in one SQLite process.
/// Dropped without `commit`, it rolls back.
pub struct Tx<'c> {
    conn: &'c Connection,
    open: bool,
    effects: RefCell<Effects>,
}

/// Side effects of a committed write on the authentication indexes, as its db functions
/// recorded them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Effects {
    pub added: Vec<TokenDigest>,
    pub removed: Vec<TokenDigest>,
    /// True when one of the writes touched a table the authentication path reads (tokens,
    /// users, legacy credentials, nodes, scopes, roles, companies); then the lookup caches are
    /// dropped and, on PostgreSQL, the other replicas told.
    pub touches_auth: bool,
}

impl<'c> Tx<'c> {
    pub fn begin(conn: &'c Connection) -> Result<Tx<'c>> {
        let postgres = conn.backend() == Backend::Postgres;
        conn.execute_batch(if postgres { "BEGIN" } else { "BEGIN IMMEDIATE" })?;
        // Built before the lock is taken, so a failure below rolls back (`Drop`).
        let tx = Tx {
            conn,
            open: true,
            effects: RefCell::new(Effects::default()),
        };
        if postgres {
            conn.query_row(pg::LOCK_WRITES_SQL, params![], |_| Ok(()))?;
        }
        Ok(tx)
    }

    /// A write that made `d` a valid value (and so changes authentication).
    pub(in crate::db) fn digest_added(&self, d: TokenDigest) {
        let mut e = self.effects.borrow_mut();
        e.added.push(d);
        e.touches_auth = true;
    }

    /// A write after which `d` is no longer a valid value (and so changes authentication).
    pub(in crate::db) fn digest_removed(&self, d: TokenDigest) {
        let mut e = self.effects.borrow_mut();
        e.removed.push(d);
        e.touches_auth = true;
    }

    /// A write to a table the authentication path reads.
    pub(in crate::db) fn touch_auth(&self) {
        self.effects.borrow_mut().touches_auth = true;
    }

    /// What the writes so far recorded (tests, and the announcement at commit).
    pub fn effects(&self) -> Effects {
        self.effects.borrow().clone()
    }

    /// Runs `f` as one step of this transaction: when it fails, what it wrote is rolled back
    /// (`ROLLBACK TO` a savepoint) together with the effects it recorded, and the transaction
    /// goes on; when it succeeds, both are kept. The outer `Err` is the savepoint's own failure.
    pub fn savepoint<T, E>(
        &mut self,
        f: impl FnOnce(&mut Self) -> std::result::Result<T, E>,
    ) -> Result<std::result::Result<T, E>> {
        self.conn.execute_batch("SAVEPOINT tx_step")?;
        let before = self.effects();
        let out = f(self);
        if out.is_ok() {
            self.conn.execute_batch("RELEASE tx_step")?;
        } else {
            self.conn
                .execute_batch("ROLLBACK TO tx_step; RELEASE tx_step")?;
            *self.effects.borrow_mut() = before;
        }
        Ok(out)
    }

    /// Commits and answers what the writes recorded. With `announce_as`, a write that touched
    /// authentication also bumps the change counter and, on PostgreSQL, tells every replica
    /// what changed (see [`announce`]).
    pub fn commit(mut self, announce_as: Option<&str>) -> Result<Effects> {
        if let Some(origin) = announce_as {
            if self.effects.borrow().touches_auth {
                announce(&self, origin)?;
            }
        }
        self.open = false;
        self.conn.execute_batch("COMMIT")?;
        Ok(std::mem::take(self.effects.get_mut()))
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

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

/// Bumps the change counter and, on PostgreSQL, tells every replica what changed (delivered
/// when the transaction commits). `origin` names the announcing process, which skips its own
/// announcements.
fn announce(tx: &Tx, origin: &str) -> Result<()> {
    let epoch: i64 = tx.query_row(
        "UPDATE meta SET value = value + 1 WHERE key = 'epoch' RETURNING value",
        params![],
        |r| r.get(0),
    )?;
    if tx.backend() == Backend::Postgres {
        let change = changes::Change::of(origin, epoch, &tx.effects.borrow());
        tx.execute(
            "SELECT pg_notify($1, $2)",
            params![changes::CHANNEL, change.encode()],
        )?;
    }
    Ok(())
}

pub fn read_epoch(conn: &Connection) -> Result<i64> {
    conn.query_row(
        "SELECT value FROM meta WHERE key = 'epoch'",
        params![],
        |r| r.get(0),
    )
}

/// SQLite: `PRAGMA integrity_check` answers `ok`. PostgreSQL checks its own pages; a
/// trivial query there shows the database answers.
pub fn integrity_ok(conn: &Connection) -> Result<bool> {
    match conn.backend() {
        Backend::Sqlite => {
            let s: String = conn.query_row("PRAGMA integrity_check", params![], |r| r.get(0))?;
            Ok(s == "ok")
        }
        Backend::Postgres => {
            conn.query_row("SELECT 1", params![], |r| r.get::<i64>(0).map(|n| n == 1))
        }
    }
}

/// A unique-constraint violation, so callers can answer 409.
pub fn is_unique_violation(e: &Error) -> bool {
    matches!(e, Error::Unique(_))
}

/// Online backup of the whole SQLite database to `dest` (consistent while others write).
/// PostgreSQL has its own tools (`pg_dump`, base backups); this refuses it.
pub fn backup(conn: &Connection, dest: &Path) -> anyhow::Result<()> {
    use rusqlite::backup::Backup;
    let Some(conn) = conn.as_sqlite() else {
        anyhow::bail!("backup copies an SQLite database; back up PostgreSQL with pg_dump");
    };
    private_file(dest)?;
    let mut out = rusqlite::Connection::open(dest)?;
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
    r: &Row,
    i: usize,
    what: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T> {
    let text: String = r.get(i)?;
    parse(&text).ok_or_else(|| Error::Corrupt(format!("column {i}: unknown {what} {text:?}")))
}

/// Reads a stored SHA-256 digest at column `i`; any other length is corrupt data.
pub fn digest_column(r: &Row, i: usize) -> Result<TokenDigest> {
    let bytes: Vec<u8> = r.get(i)?;
    TokenDigest::from_slice(&bytes)
        .ok_or_else(|| Error::Corrupt(format!("column {i}: a digest of {} bytes", bytes.len())))
}
