//! `AppState`: everything a request or a job needs, built once at start and shared.
//! Blocking database work goes through `read` / `write`, which run it on the blocking pool
//! and keep the authentication index exact after every committed write.
//!
//! The in-memory structures it holds live beside it: [`index`] (digest filter, lookup cache,
//! usage buffer), [`throttle`] (sliding windows), [`slots`] (password hashing slots),
//! [`limits`] (rate-limit states, quota and usage counts).

pub mod index;
pub mod limits;
pub mod slots;
pub mod throttle;

mod shared;
pub use shared::Shared;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::db::Connection;
use anyhow::anyhow;
use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::crypto::Keys;
use crate::db::{self, Backend, Pool, Tx};
use crate::domain::time::Clock;
use crate::error::{ApiError, ApiResult};
use crate::service;
use crate::telemetry::Metrics;
use index::{AuthIndex, Throttle, UsageBuffer};
use slots::HashSlots;
use throttle::{
    legacy_failures, login_address_limit, login_throttle, revoke_limit, AddressFailures, Limit,
    SignInFailures, SlidingWindow,
};

pub struct AppState {
    pub pool: Pool,
    pub config: Config,
    pub clock: Arc<Clock>,
    pub keys: Arc<Keys>,
    pub index: AuthIndex,
    pub usage: UsageBuffer,
    /// Rate-limit states, in-memory quota counts and usage counts (SPEC §16).
    pub limiters: Arc<limits::Limiters>,
    /// Failed logins per account.
    pub throttle: SlidingWindow,
    /// Failed logins per client address (rule 40).
    pub login_addresses: SlidingWindow,
    /// Failed sign-ins per address and minute, for the audit log (rule 41).
    pub sign_in_failures: SignInFailures,
    /// The password hashes that may run at once: one per core (rule 40).
    pub hashing: HashSlots,
    /// Calls of the unauthenticated revoke endpoint per client address.
    pub revoke_limit: SlidingWindow,
    /// Failed legacy UUID + secret attempts per client address (rule 29).
    pub legacy_failures: AddressFailures,
    /// One webhook delivery run at a time (rule 33: the scheduler's thread or maintenance).
    pub webhook_run: parking_lot::Mutex<()>,
    /// `ip_not_allowed` refusals audited per token: one a minute.
    pub ip_refusals: SlidingWindow,
    pub metrics: Metrics,
    /// A hash of a random password: unknown emails are verified against it so a failed login
    /// costs the same whether the account exists or not.
    pub dummy_hash: String,
    /// `true` in a CLI process: its writes bump the shared epoch so a running server notices.
    pub external_writer: bool,
    /// The epoch last seen by the server's sync job.
    pub seen_epoch: parking_lot::Mutex<i64>,
    /// This process's name in change announcements, so it skips its own.
    pub origin: String,
    /// At most one look at the change counter per [`CATCH_UP_EVERY`] for unknown values.
    pub catch_up: Throttle,
    /// PostgreSQL: whether the change listener is connected and has reloaded since it
    /// connected, so other replicas' writes reach the filter as announcements. While not (at
    /// start, during a failover), unknown values look at the change counter as on SQLite.
    hearing: std::sync::atomic::AtomicBool,
}

/// How often, at most, a value unknown to the filter makes the server look whether another
/// process (the command line) has written since the last sync (SQLite).
pub const CATCH_UP_EVERY: std::time::Duration = std::time::Duration::from_millis(5);

impl AppState {
    /// Opens the database and keys and loads the digest filter.
    pub fn open(config: Config, external_writer: bool) -> anyhow::Result<Arc<AppState>> {
        let pool = db::open(&config.db, 16)?;
        let keys = Keys::load_or_create(&config.master_key_file)?;
        let conn = pool.get()?;
        let epoch = db::read_epoch(&conn)?;
        let state = AppState {
            index: AuthIndex::default(),
            usage: UsageBuffer::default(),
            limiters: Default::default(),
            throttle: login_throttle(),
            login_addresses: login_address_limit(),
            sign_in_failures: SignInFailures::default(),
            hashing: HashSlots::per_core(),
            revoke_limit: revoke_limit(),
            legacy_failures: legacy_failures(),
            webhook_run: parking_lot::Mutex::new(()),
            ip_refusals: SlidingWindow::new(1, 60_000),
            metrics: Metrics::new(),
            dummy_hash: crate::crypto::hash_password(&crate::crypto::random_token::<16>())?,
            clock: Arc::new(Clock::default()),
            keys: Arc::new(keys),
            config,
            pool: pool.clone(),
            external_writer,
            seen_epoch: parking_lot::Mutex::new(epoch),
            origin: crate::crypto::random_token::<9>(),
            catch_up: Throttle::new(CATCH_UP_EVERY),
            hearing: std::sync::atomic::AtomicBool::new(false),
        };
        let start = Instant::now();
        state.reload_index(&conn)?;
        tracing::info!(
            digests = state.index.filter_len(),
            ms = start.elapsed().as_millis() as u64,
            "digest filter loaded"
        );
        Ok(Arc::new(state))
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The service environment for one operation, at the current time.
    pub fn env(&self) -> crate::service::Env {
        crate::service::Env {
            keys: self.keys.clone(),
            now: self.clock.now(),
            retention_ms: self.config.disabled_retention.as_millis() as i64,
            live_quota: Some(self.limiters.clone()),
        }
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    /// Rebuilds the digest filter from the database.
    pub fn reload_index(&self, conn: &Connection) -> db::Result<()> {
        self.index.reload(|| {
            let mut digests = db::tokens::all_digests(conn)?;
            digests.extend(
                db::legacy::all_uuids(conn)?
                    .iter()
                    .map(|u| crate::domain::token_value::legacy_key(u)),
            );
            Ok::<_, db::Error>(digests)
        })?;
        self.metrics.filter_size.set(self.index.filter_len() as i64);
        Ok(())
    }

    /// Applies a change another process announced: its digests enter or leave the filter and
    /// the lookup cache is dropped; a change too big to carry reloads everything.
    pub fn apply_change(&self, c: &db::changes::Change) -> service::Result<()> {
        if c.origin != self.origin {
            match &c.digests {
                Some((added, removed)) => {
                    added.iter().for_each(|d| self.index.add(d));
                    removed.iter().for_each(|d| self.index.remove(d));
                    self.index.invalidate();
                    self.metrics.filter_size.set(self.index.filter_len() as i64);
                }
                None => self.read_blocking(|conn| self.reload_index(conn))?,
            }
        }
        let mut seen = self.seen_epoch.lock();
        *seen = (*seen).max(c.epoch);
        Ok(())
    }

    /// Whether other processes' changes arrive as announcements (PostgreSQL replicas), or
    /// must be looked for in the write epoch (SQLite and its command line).
    pub fn hears_announcements(&self) -> bool {
        self.pool.backend() == Backend::Postgres
    }

    /// PostgreSQL: hears other replicas' announcements until `stop`, reconnecting (and
    /// reloading, since announcements may have been missed) whenever the connection is lost.
    /// `slice`: how long one wait lasts before `stop` is looked at again.
    pub fn listen_for_changes(&self, stop: &std::sync::atomic::AtomicBool, slice: Duration) {
        use std::sync::atomic::Ordering;
        let warn = |what: &str, r: service::Result<()>| {
            if let Err(e) = r {
                tracing::warn!(error = %e, "{what} failed");
            }
        };
        while !stop.load(Ordering::Relaxed) {
            let listener = match db::changes::Listener::connect(&self.pool) {
                Ok(l) => l,
                Err(e) => {
                    tracing::debug!(error = %e, "change listener cannot connect yet");
                    std::thread::sleep(slice);
                    continue;
                }
            };
            // Listening first, then reloading: nothing falls between the two.
            let resynced = self.resync();
            self.hearing.store(resynced.is_ok(), Ordering::Relaxed);
            warn("resync", resynced);
            while !stop.load(Ordering::Relaxed) {
                match listener.wait(slice) {
                    Ok(payloads) => {
                        for p in &payloads {
                            match db::changes::Change::parse(p) {
                                Some(c) => warn("apply change", self.apply_change(&c)),
                                None => warn("resync", self.resync()),
                            }
                        }
                    }
                    Err(e) => {
                        self.hearing.store(false, Ordering::Relaxed);
                        tracing::warn!(error = %e, "change listener lost its connection");
                        break;
                    }
                }
            }
        }
    }

    /// Notices writes made by another process (SQLite: the command line; PostgreSQL: another
    /// replica while announcements are not heard) through the shared write epoch, and reloads
    /// the filter when there were some; `true` then.
    pub fn sync_external(&self) -> service::Result<bool> {
        self.read_blocking(|c| {
            let epoch = db::read_epoch(c)?;
            let mut seen = self.seen_epoch.lock();
            if *seen == epoch {
                return Ok(false);
            }
            *seen = epoch;
            self.reload_index(c)?;
            Ok(true)
        })
    }

    /// Called for a well-formed value the filter does not know, before refusing it: looks (at
    /// most once per [`CATCH_UP_EVERY`]) whether another process has written since the last
    /// sync — on SQLite the command line, so a value it just printed works at its first use;
    /// on PostgreSQL only while the change listener is not heard (at start, or reconnecting
    /// after a failover), so a token another replica made then is not refused meanwhile.
    /// `true` when it looked: the filter is now at least as new as the change counter (it may
    /// have been the sync job that reloaded it meanwhile), so it is worth asking again.
    pub async fn catch_up(self: &Arc<Self>) -> bool {
        let looks = match self.pool.backend() {
            Backend::Sqlite => true,
            Backend::Postgres => !self.hearing.load(std::sync::atomic::Ordering::Relaxed),
        };
        if !looks || !self.catch_up.pass() {
            return false;
        }
        self.metrics.filter_rechecks.inc();
        match self.blocking(|st| st.sync_external()).await {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %e, "cannot look for outside writes");
                false
            }
        }
    }

    /// Reloads the filter and remembers the epoch it reflects (start, reconnect, backstop).
    pub fn resync(&self) -> service::Result<()> {
        self.read_blocking(|conn| {
            let epoch = db::read_epoch(conn)?;
            self.reload_index(conn)?;
            let mut seen = self.seen_epoch.lock();
            *seen = (*seen).max(epoch);
            Ok(())
        })
    }

    /// Counts one event against a limit: in memory on SQLite, in the database on PostgreSQL
    /// so the limit holds across replicas. `Err(TooManyAttempts)` when it is reached.
    pub fn limit_hit(&self, limit: Limit, key: &str, now: i64) -> ApiResult<()> {
        let window = self.limit(limit);
        let outcome = match self.pool.backend() {
            Backend::Sqlite => window.hit(key, now),
            Backend::Postgres => self.write_blocking(|tx| {
                let bounds = (window.max(), window.window_ms());
                crate::service::throttle::hit(tx, limit.name(), key, bounds, now)
            })?,
        };
        outcome.map_err(|wait| ApiError::TooManyAttempts {
            retry_after_secs: wait,
        })
    }

    /// Forgets a key's events of a limit (a successful login clears its failures).
    pub fn limit_clear(&self, limit: Limit, key: &str) -> ApiResult<()> {
        let window = self.limit(limit);
        match self.pool.backend() {
            Backend::Sqlite => window.clear(key),
            Backend::Postgres => {
                let before = self.now_ms() - window.window_ms();
                self.write_blocking(|tx| {
                    crate::service::throttle::clear(tx, limit.name(), key, before)
                })?
            }
        }
        Ok(())
    }

    /// Takes back one event of a limit counted at `at` for `key` (an attempt counted before
    /// its check that turned out not to be a failure, or never got checked).
    pub fn limit_release(&self, limit: Limit, key: &str, at: i64) -> ApiResult<()> {
        match self.pool.backend() {
            Backend::Sqlite => self.limit(limit).release(key, at),
            Backend::Postgres => self.write_blocking(|tx| {
                crate::service::throttle::release(tx, limit.name(), key, at)
            })?,
        }
        Ok(())
    }

    fn limit(&self, limit: Limit) -> &SlidingWindow {
        match limit {
            Limit::Login => &self.throttle,
            Limit::Revoke => &self.revoke_limit,
            Limit::LoginAddress => &self.login_addresses,
        }
    }

    /// Runs `f` unless another replica is running the job `name` (PostgreSQL: a session
    /// advisory lock held while `f` runs); `None` when skipped. On SQLite, one process.
    pub fn once<T, E: From<db::Error>>(
        &self,
        name: &str,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<Option<T>, E> {
        let Some(_lock) = db::JobLock::try_take(&self.pool, name)? else {
            return Ok(None);
        };
        f().map(Some)
    }

    fn conn(&self, kind: &str) -> db::Result<db::Connection> {
        let start = Instant::now();
        let conn = self.pool.get()?;
        self.metrics
            .pool_wait
            .with_label_values(&[kind])
            .observe(start.elapsed().as_secs_f64());
        Ok(conn)
    }

    /// Whether this process tells others of its writes: the CLI writing to a file a server
    /// uses, and every replica on PostgreSQL.
    fn announces(&self) -> bool {
        self.external_writer || self.pool.backend() == Backend::Postgres
    }

    /// Runs `f` in one write transaction on this thread; commits on `Ok`.
    pub fn write_blocking<T, E: From<db::Error>>(
        &self,
        f: impl FnOnce(&mut Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        let conn = self.conn("write")?;
        let mut tx = Tx::begin(&conn)?;
        let out = f(&mut tx)?;
        let effects = tx.commit(self.announces().then_some(self.origin.as_str()))?;
        for d in &effects.added {
            self.index.add(d);
        }
        for d in &effects.removed {
            self.index.remove(d);
        }
        if effects.touches_auth {
            self.index.invalidate();
        }
        Ok(out)
    }

    pub fn read_blocking<T, E: From<db::Error>>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, E>,
    ) -> Result<T, E> {
        let conn = self.conn("read")?;
        f(&conn)
    }

    /// `write_blocking` on the blocking thread pool.
    pub async fn write<T, E, F>(self: &Arc<Self>, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<service::Error> + From<db::Error> + Send + 'static,
        F: FnOnce(&mut Tx) -> Result<T, E> + Send + 'static,
    {
        self.blocking(move |st| st.write_blocking(f)).await
    }

    /// Any blocking work with the state, on the blocking thread pool.
    pub async fn blocking<T, E, F>(self: &Arc<Self>, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<service::Error> + Send + 'static,
        F: FnOnce(&AppState) -> Result<T, E> + Send + 'static,
    {
        let state = self.clone();
        let request_id = crate::telemetry::current_request_id();
        actix_web::web::block(move || crate::telemetry::with_request_id(request_id, || f(&state)))
            .await
            .map_err(|e| service::Error::Internal(anyhow!("blocking task failed: {e}")))?
    }

    /// `read_blocking` on the blocking thread pool.
    pub async fn read<T, E, F>(self: &Arc<Self>, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<service::Error> + From<db::Error> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        self.blocking(move |st| st.read_blocking(f)).await
    }
}
