//! In-memory structures of the authentication hot path:
//!
//! - a filter of every known digest, so a well-formed but unknown value is refused without
//!   touching the database. It counts per 64-bit key, so removing one of two colliding digests
//!   keeps the other; a collision only costs one database read.
//! - a short-lived cache of lookups keyed by digest. Every committed write that can change
//!   authentication bumps a generation and clears it, so a cached answer is never older than
//!   the last change; a lookup that raced with a write is not cached.
//! - a buffer of last-use data, flushed to the database in batches by a job.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::header::{HeaderName, HeaderValue};
use parking_lot::{Mutex, RwLock};

use crate::db::tokens::AuthRow;
use crate::domain::token_value::TokenDigest;

/// The identity headers of a forward-auth answer (`X-Auth-*`), rendered once per looked-up
/// row (so once per cache fill) and shared by every hit (rendered by `auth::forward`).
#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    pub values: [(HeaderName, HeaderValue); 5],
}

/// A looked-up credential row as the hot path keeps it: the row, and the forward-auth
/// `X-Auth-*` headers rendered on the first use of this (cached) row (`None` inside when a
/// value cannot be a header value). Derefs to the row.
pub struct Cached {
    pub row: AuthRow,
    pub identity: std::sync::OnceLock<Option<IdentityHeaders>>,
}

impl Cached {
    pub fn new(row: AuthRow) -> Cached {
        Cached {
            row,
            identity: std::sync::OnceLock::new(),
        }
    }
}

impl std::ops::Deref for Cached {
    type Target = AuthRow;
    fn deref(&self) -> &AuthRow {
        &self.row
    }
}

const CACHE_TTL: Duration = Duration::from_secs(30);
const CACHE_MAX: usize = 200_000;

/// A hasher for keys that are SHA-256 output (or its first 8 bytes): they are already uniform,
/// and only digests of stored values are ever inserted (a caller cannot choose them), so
/// hashing them again with SipHash buys nothing. Folds the bytes with xor and a rotation.
#[derive(Default, Clone, Copy)]
pub struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = self.0.rotate_left(23) ^ n;
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

type DigestMap<K, V> = HashMap<K, V, BuildHasherDefault<DigestHasher>>;

#[derive(Default)]
pub struct AuthIndex {
    filter: RwLock<DigestMap<u64, u32>>,
    cache: Mutex<DigestMap<TokenDigest, (Arc<Cached>, Instant)>>,
    generation: AtomicU64,
    /// While a reload reads the database: the digests added meanwhile, replayed onto the
    /// fresh filter (a write that committed after the read began would otherwise be lost).
    journal: Mutex<Option<Vec<u64>>>,
    /// One reload at a time (each owns the journal from its read to its swap).
    reloading: Mutex<()>,
    /// The API scopes each company defines (sorted), as `/v1/auth/verify` asks when a token
    /// is refused a scope or holds it through the administrators' wildcard: cleared with the
    /// lookup cache by every write that can change authentication (scope writes included).
    company_scopes: Mutex<HashMap<i64, Arc<[String]>>>,
}

/// Companies whose scope lists are kept at most (the map is emptied when it is full).
const COMPANY_SCOPES_MAX: usize = 10_000;

impl AuthIndex {
    /// `false` means the digest is certainly unknown.
    pub fn might_exist(&self, d: &TokenDigest) -> bool {
        self.filter.read().contains_key(&d.short())
    }

    pub fn add(&self, d: &TokenDigest) {
        let mut journal = self.journal.lock();
        if let Some(added) = journal.as_mut() {
            added.push(d.short());
        }
        *self.filter.write().entry(d.short()).or_insert(0) += 1;
    }

    pub fn remove(&self, d: &TokenDigest) {
        let mut f = self.filter.write();
        if let Some(n) = f.get_mut(&d.short()) {
            *n -= 1;
            if *n == 0 {
                f.remove(&d.short());
            }
        }
    }

    /// Replaces the filter with the digests `read` returns and drops the cache. A digest added
    /// while `read` runs is kept even when the read did not see it (its write committed after
    /// the read began): a filter may err towards knowing a digest (one database read), never
    /// towards forgetting one (a valid value refused). Removals made meanwhile are not replayed,
    /// so a digest removed then may stay known until the next reload.
    pub fn reload<E>(&self, read: impl FnOnce() -> Result<Vec<TokenDigest>, E>) -> Result<(), E> {
        let _one_at_a_time = self.reloading.lock();
        *self.journal.lock() = Some(Vec::new());
        let digests = match read() {
            Ok(d) => d,
            Err(e) => {
                *self.journal.lock() = None;
                return Err(e);
            }
        };
        let mut fresh = DigestMap::with_capacity_and_hasher(digests.len(), Default::default());
        for d in &digests {
            *fresh.entry(d.short()).or_insert(0u32) += 1;
        }
        let mut journal = self.journal.lock();
        for short in journal.take().unwrap_or_default() {
            *fresh.entry(short).or_insert(0) += 1;
        }
        *self.filter.write() = fresh;
        drop(journal);
        self.invalidate();
        Ok(())
    }

    pub fn filter_len(&self) -> usize {
        self.filter.read().len()
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn cached(&self, d: &TokenDigest) -> Option<Arc<Cached>> {
        let cache = self.cache.lock();
        cache
            .get(d)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(row, _)| row.clone())
    }

    /// Caches a lookup made when the generation was `generation`, unless a write has
    /// committed since (then the row may be stale and is not kept).
    pub fn store(&self, generation: u64, d: TokenDigest, row: Arc<Cached>) {
        let mut cache = self.cache.lock();
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(d, (row, Instant::now()));
    }

    /// Called after every committed write that may change who can authenticate.
    pub fn invalidate(&self) {
        let mut cache = self.cache.lock();
        let mut scopes = self.company_scopes.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        cache.clear();
        scopes.clear();
    }

    /// The scopes `company` defines, when known since the last write.
    pub fn company_scopes(&self, company: i64) -> Option<Arc<[String]>> {
        self.company_scopes.lock().get(&company).cloned()
    }

    /// Keeps the scopes of `company` read when the generation was `generation`, unless a
    /// write has committed since (as [`AuthIndex::store`]).
    pub fn store_company_scopes(&self, generation: u64, company: i64, names: Arc<[String]>) {
        let mut scopes = self.company_scopes.lock();
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if scopes.len() >= COMPANY_SCOPES_MAX {
            scopes.clear();
        }
        scopes.insert(company, names);
    }
}

/// Lets one caller through per period: the check of the database's change counter made for
/// a value unknown to the filter, so a flood of forged values costs at most one cheap read
/// per period (one atomic load and a clock read per request otherwise).
pub struct Throttle {
    base: Instant,
    /// Microseconds after `base` (plus one) of the last pass; 0: never.
    last_us: AtomicU64,
    every_us: u64,
}

impl Throttle {
    pub fn new(every: Duration) -> Throttle {
        Throttle {
            base: Instant::now(),
            last_us: AtomicU64::new(0),
            every_us: every.as_micros() as u64,
        }
    }

    /// `true` for the one caller that may check now.
    pub fn pass(&self) -> bool {
        let now = self.base.elapsed().as_micros() as u64 + 1;
        let last = self.last_us.load(Ordering::Relaxed);
        if last != 0 && now.saturating_sub(last) < self.every_us {
            return false;
        }
        self.last_us
            .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }
}

/// Last-use data waiting to be written: token id → (time in ms, client ip). The address is
/// kept as an `IpAddr` (no text per request) and rendered when the buffer is drained.
#[derive(Default)]
pub struct UsageBuffer {
    pending: Mutex<HashMap<i64, (i64, IpAddr)>>,
}

impl UsageBuffer {
    pub fn record(&self, token_id: i64, at: i64, ip: IpAddr) {
        let mut p = self.pending.lock();
        match p.get_mut(&token_id) {
            Some(e) if e.1 == ip => e.0 = e.0.max(at),
            _ => {
                p.insert(token_id, (at, ip));
            }
        }
    }

    pub fn drain(&self) -> Vec<(i64, i64, String)> {
        std::mem::take(&mut *self.pending.lock())
            .into_iter()
            .map(|(id, (at, ip))| (id, at, ip.to_string()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::{AuthIndex, Throttle};
    use crate::domain::token_value::TokenDigest;
    use std::time::Duration;

    fn digest(n: u8) -> TokenDigest {
        TokenDigest([n; 32])
    }

    /// A write that commits while a reload reads the database (so the read misses it) and
    /// adds its digest before the reload swaps the filter in: the digest stays known.
    #[test]
    fn a_digest_added_during_a_reload_is_not_forgotten() {
        let index = AuthIndex::default();
        index.add(&digest(1));
        let Ok(()) = index.reload(|| {
            index.add(&digest(2));
            Ok::<_, std::convert::Infallible>(vec![digest(1)])
        });
        assert!(index.might_exist(&digest(1)));
        assert!(index.might_exist(&digest(2)), "added during the read");
        let Ok(()) = index.reload(|| Ok::<_, std::convert::Infallible>(vec![digest(1)]));
        assert!(
            !index.might_exist(&digest(2)),
            "the journal ends with its reload"
        );
    }

    #[test]
    fn a_failed_reload_keeps_the_filter() {
        let index = AuthIndex::default();
        index.add(&digest(1));
        assert!(index.reload(|| Err("database gone")).is_err());
        assert!(index.might_exist(&digest(1)));
        index.add(&digest(3));
        let Ok(()) = index.reload(|| Ok::<_, std::convert::Infallible>(vec![]));
        assert!(
            !index.might_exist(&digest(3)),
            "no journal left behind by the failure"
        );
    }

    #[test]
    fn a_throttle_lets_one_caller_through_per_period() {
        let t = Throttle::new(Duration::from_millis(50));
        assert!(t.pass(), "the first check is allowed");
        let passed = (0..10_000).filter(|_| t.pass()).count();
        assert_eq!(passed, 0, "none more within the period");
        std::thread::sleep(Duration::from_millis(60));
        assert!(t.pass(), "one more after the period");
        assert!(!t.pass());
    }
}
