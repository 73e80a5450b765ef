//! In-memory structures of the authentication hot path (SPEC §8):
//!
//! - a filter of every known digest, so a well-formed but unknown value is refused without
//!   touching the database. It counts per 64-bit key, so removing one of two colliding digests
//!   keeps the other; a collision only costs one database read.
//! - a short-lived cache of lookups keyed by digest. Every committed write that can change
//!   authentication bumps a generation and clears it, so a cached answer is never older than
//!   the last change; a lookup that raced with a write is not cached.
//! - a buffer of last-use data, flushed to the database in batches by a job.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use crate::db::tokens::AuthRow;
use crate::domain::token_value::TokenDigest;

const CACHE_TTL: Duration = Duration::from_secs(30);
const CACHE_MAX: usize = 200_000;

#[derive(Default)]
pub struct AuthIndex {
    filter: RwLock<HashMap<u64, u32>>,
    cache: Mutex<HashMap<TokenDigest, (Arc<AuthRow>, Instant)>>,
    generation: AtomicU64,
}

impl AuthIndex {
    /// `false` means the digest is certainly unknown.
    pub fn might_exist(&self, d: &TokenDigest) -> bool {
        self.filter.read().contains_key(&d.short())
    }

    pub fn add(&self, d: &TokenDigest) {
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

    /// Replaces the filter with exactly `digests` and drops the cache.
    pub fn reload(&self, digests: &[TokenDigest]) {
        let mut fresh = HashMap::with_capacity(digests.len());
        for d in digests {
            *fresh.entry(d.short()).or_insert(0u32) += 1;
        }
        *self.filter.write() = fresh;
        self.invalidate();
    }

    pub fn filter_len(&self) -> usize {
        self.filter.read().len()
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn cached(&self, d: &TokenDigest) -> Option<Arc<AuthRow>> {
        let cache = self.cache.lock();
        cache
            .get(d)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(row, _)| row.clone())
    }

    /// Caches a lookup made when the generation was `generation`, unless a write has
    /// committed since (then the row may be stale and is not kept).
    pub fn store(&self, generation: u64, d: TokenDigest, row: Arc<AuthRow>) {
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
        self.generation.fetch_add(1, Ordering::AcqRel);
        cache.clear();
    }
}

/// Last-use data waiting to be written: token id → (time in ms, client ip).
#[derive(Default)]
pub struct UsageBuffer {
    pending: Mutex<HashMap<i64, (i64, String)>>,
}

impl UsageBuffer {
    pub fn record(&self, token_id: i64, at: i64, ip: &str) {
        let mut p = self.pending.lock();
        match p.get_mut(&token_id) {
            Some(e) if e.1 == ip => e.0 = e.0.max(at),
            _ => {
                p.insert(token_id, (at, ip.to_string()));
            }
        }
    }

    pub fn drain(&self) -> Vec<(i64, i64, String)> {
        std::mem::take(&mut *self.pending.lock())
            .into_iter()
            .map(|(id, (at, ip))| (id, at, ip))
            .collect()
    }
}
