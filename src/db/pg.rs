//! What only PostgreSQL needs: the connection manager of the pool, the schema written in its
//! dialect, and the advisory locks that keep writes and jobs single across replicas.

use std::str::FromStr;
use std::time::Duration;

use super::conn::PgConn;
use super::error::{Error, Result};
use super::tls::{SslMode, Tls};

/// The r2d2 manager: connects with the URL's settings (several hosts and
/// `target_session_attrs=read-write` included, TLS as [`super::tls`] reads it), and drops a
/// connection whose socket closed.
#[derive(Clone)]
pub struct PgManager {
    config: postgres::Config,
    tls: Tls,
    connector: tokio_postgres_rustls::MakeRustlsConnect,
}

impl std::fmt::Debug for PgManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgManager")
            .field("config", &self.config)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// How long a connection attempt may take before the request answers 503.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

impl PgManager {
    pub fn new(url: &str) -> Result<PgManager> {
        let (url, tls) = super::tls::split(url)?;
        let mut config = postgres::Config::from_str(&url)
            .map_err(|e| Error::Other(format!("invalid PostgreSQL URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(5))
            .application_name("tokend")
            .ssl_mode(tls.crate_mode());
        let connector = tls.connector()?;
        Ok(PgManager {
            config,
            tls,
            connector,
        })
    }

    /// The URL's `sslmode`.
    pub fn ssl_mode(&self) -> SslMode {
        self.tls.mode
    }

    pub fn connect(&self) -> Result<PgConn> {
        let client = self
            .config
            .connect(self.connector.clone())
            .map_err(|e| self.explain(e))?;
        Ok(PgConn::new(client))
    }

    /// A failed TLS handshake says so, with the mode and why (an unknown CA, a certificate not
    /// naming the host, a server without TLS); the database is then unavailable (503).
    fn explain(&self, e: postgres::Error) -> Error {
        let e = Error::from(e);
        match &e {
            Error::Unavailable(text) if text.contains("TLS") => Error::Unavailable(format!(
                "TLS connection to PostgreSQL failed (sslmode={}): {text}",
                self.tls.mode
            )),
            _ => e,
        }
    }
}

/// What a connection pooler sharing server sessions between clients is told to do.
pub const SHARED_SESSIONS: &str = "PostgreSQL sessions are shared between connections here \
     (a pooler in transaction or statement mode, such as PgBouncer with pool_mode = transaction): \
     tokend needs each connection to keep its session, since its replicas hear each other's \
     changes through LISTEN and its jobs and migrations are held by session advisory locks, \
     and both stop working silently when sessions are shared. Set pool_mode = session for \
     tokend's database in the pooler (in PgBouncer: `tokend = host=... pool_mode=session` \
     under [databases]), or give tokend a URL straight to PostgreSQL";

impl PgManager {
    /// Refuses a pooler that hands one client's session to another (transaction or statement
    /// pooling): a setting made on one new connection must not be visible on a second one,
    /// and must still be there on the first. A pooler reuses the server session a client just
    /// released first (PgBouncer's default, LIFO), so a shared session shows at once.
    pub fn check_sessions_kept(&self) -> Result<()> {
        let mut first = self.connect()?;
        let mut second = self.connect()?;
        let mark = format!("p{}", uuid::Uuid::new_v4().simple());
        first
            .client
            .batch_execute(&format!("SET tokend.session_probe = '{mark}'"))?;
        let read = |c: &mut PgConn| -> Result<Option<String>> {
            let sql = "SELECT current_setting('tokend.session_probe', true)";
            let rows = c.client.simple_query(sql)?;
            Ok(rows.iter().find_map(|m| match m {
                postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                _ => None,
            }))
        };
        let elsewhere = read(&mut second)?;
        let here = read(&mut first)?;
        if elsewhere.as_deref() == Some(mark.as_str()) || here.as_deref() != Some(mark.as_str()) {
            return Err(Error::Other(SHARED_SESSIONS.to_string()));
        }
        Ok(())
    }
}

impl r2d2::ManageConnection for PgManager {
    type Connection = PgConn;
    type Error = Error;

    fn connect(&self) -> Result<PgConn> {
        PgManager::connect(self)
    }

    fn is_valid(&self, c: &mut PgConn) -> Result<()> {
        c.client.simple_query("")?;
        Ok(())
    }

    fn has_broken(&self, c: &mut PgConn) -> bool {
        c.client.is_closed()
    }
}

/// A migration file in PostgreSQL's dialect. The files are written for SQLite with portable
/// SQL; three words differ: an auto-increment key, 64-bit integers and byte strings.
pub fn dialect(sql: &str) -> String {
    sql.replace(
        "INTEGER PRIMARY KEY AUTOINCREMENT",
        "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    )
    .replace("INTEGER", "BIGINT")
    .replace("BLOB", "BYTEA")
}

/// Advisory lock keys (one namespace for tokend): writes end in 1 (below), migrations in 2.
const LOCK_MIGRATIONS: i64 = 0x746f_6b65_6e64_0002;

/// The lock every write transaction takes first: writes are serialized across replicas as
/// SQLite serializes them in one process, so every check-then-write rule holds as is. Its key
/// is 0x746f_6b65_6e64_0001 (`tokend`, 1), beside `LOCK_MIGRATIONS` (… 2); the scale test
/// `write_lock` holds it from another session and sees a write wait.
pub const LOCK_WRITES_SQL: &str = "SELECT pg_advisory_xact_lock(8390042714202439681)";

/// The key of a named job lock (`pg_try_advisory_lock`), held while one replica runs it.
pub fn job_lock_key(name: &str) -> i64 {
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (h >> 1) as i64
}

/// A job that runs on one replica at a time: a session advisory lock, held on its own pooled
/// connection until dropped (or until that connection dies).
pub struct JobLock {
    held: Option<(super::Connection, i64)>,
}

impl JobLock {
    /// The lock of job `name`, if no other process holds it. SQLite: always (one process).
    pub fn try_take(pool: &super::Pool, name: &str) -> Result<Option<JobLock>> {
        if pool.backend() == super::Backend::Sqlite {
            return Ok(Some(JobLock { held: None }));
        }
        let conn = pool.get()?;
        let key = job_lock_key(name);
        let got: bool = conn.query_row(
            "SELECT pg_try_advisory_lock($1)",
            super::params![key],
            |r| r.get(0),
        )?;
        Ok(got.then_some(JobLock {
            held: Some((conn, key)),
        }))
    }
}

impl Drop for JobLock {
    fn drop(&mut self) {
        if let Some((conn, key)) = &self.held {
            let _ = conn.execute("SELECT pg_advisory_unlock($1)", super::params![key]);
        }
    }
}

/// Applies the migrations not yet recorded in `schema_migrations`, each in its own
/// transaction, under a lock so replicas starting together apply each one once.
pub fn migrate(c: &mut postgres::Client, files: &[&str]) -> Result<()> {
    c.execute("SELECT pg_advisory_lock($1)", &[&LOCK_MIGRATIONS])?;
    let result = c
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .map_err(Error::from)
        .and_then(|()| apply(c, files));
    c.execute("SELECT pg_advisory_unlock($1)", &[&LOCK_MIGRATIONS])?;
    result
}

fn apply(c: &mut postgres::Client, files: &[&str]) -> Result<()> {
    let done: i64 = c
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )?
        .get(0);
    for (i, sql) in files.iter().enumerate() {
        let version = i as i64 + 1;
        if version <= done {
            continue;
        }
        let mut tx = c.transaction()?;
        tx.batch_execute(&dialect(sql))?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[&version],
        )?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialect_rewrites_keys_integers_and_blobs_only() {
        assert_eq!(
            dialect("id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER, d BLOB, t TEXT"),
            "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, n BIGINT, d BYTEA, t TEXT"
        );
    }

    /// Every named lock the scheduler takes is distinct from the others and from the
    /// migrations and write locks (a shared key would make one job wait on another, or on
    /// every write).
    #[test]
    fn job_lock_keys_differ_per_job_and_from_the_fixed_locks() {
        let writes: i64 = LOCK_WRITES_SQL
            .trim_start_matches("SELECT pg_advisory_xact_lock(")
            .trim_end_matches(')')
            .parse()
            .expect("the write lock's key");
        let mut keys: Vec<i64> = ["expiry", "purge", "reconcile", "webhooks"]
            .iter()
            .map(|n| job_lock_key(n))
            .chain([LOCK_MIGRATIONS, writes])
            .collect();
        let all = keys.len();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), all, "{keys:?}");
    }
}
