//! The in-memory state of rate limits and quotas (SPEC §16): a GCRA state per token id, this
//! process's `day` / `month` quota counts and usage counts, written by the last-use flush.
//! The checks that use them on the hot path are `auth::limits`.

use std::collections::HashMap;

use parking_lot::Mutex;

use crate::db::tokens::limits::Limits;
use crate::domain::limits::{Gcra, RateDecision};

const HOUR_MS: i64 = 3_600_000;

/// A `day`/`month` quota count of this process.
#[derive(Debug, Clone, Copy)]
struct Count {
    reset_at: i64,
    window: i64,
    /// Uses in `window` known here: the stored count when read, plus this process's uses.
    used: i64,
    /// This process's uses not yet written.
    pending: i64,
    /// This process has asked for the `token.quota_low` warning of this window.
    low_warned: bool,
}

/// A `day`/`month` quota count to write: (token, reset_at, window, uses).
pub type PendingQuota = (i64, i64, i64, i64);

#[derive(Default)]
pub struct Limiters {
    rates: Mutex<HashMap<i64, Gcra>>,
    counts: Mutex<HashMap<i64, Count>>,
    /// Authentications per (token, hour start): (allowed, refused), written by the flush.
    usage: Mutex<HashMap<(i64, i64), (i64, i64)>>,
    /// When this process last queued `token.rate_limited` per token (ms).
    warned: Mutex<HashMap<i64, i64>>,
}

impl Limiters {
    /// One request at `now_us` (µs on the server's clock) against a token's rate limit
    /// (GCRA; the state restarts when the limit changes). A clock that steps back only
    /// makes the limit stricter for that long, never looser.
    pub fn rate(
        &self,
        token_id: i64,
        limit: crate::domain::limits::RateLimit,
        now_us: u64,
    ) -> RateDecision {
        let now = now_us;
        let mut rates = self.rates.lock();
        let g = rates
            .entry(token_id)
            .or_insert_with(|| Gcra::new(limit, now));
        if g.limit != limit {
            *g = Gcra::new(limit, now);
        }
        g.take(now)
    }

    /// One use of a `day`/`month` quota: what is left, and whether this use is the first
    /// (here) to leave less than 10 % — the count can jump when a flush brings other
    /// replicas' uses, so the crossing is remembered rather than matched exactly. `None` when
    /// the quota is used up.
    pub fn count(&self, token_id: i64, l: &Limits, limit: i64, window: i64) -> Option<(i64, bool)> {
        let mut counts = self.counts.lock();
        let fresh = Count {
            reset_at: l.reset_at,
            window,
            used: if l.window == window { l.used } else { 0 },
            pending: 0,
            low_warned: false,
        };
        let c = counts.entry(token_id).or_insert(fresh);
        if c.reset_at < l.reset_at || c.window != window {
            *c = fresh;
        }
        if c.used >= limit {
            return None;
        }
        c.used += 1;
        c.pending += 1;
        let remaining = limit - c.used;
        let low = remaining * 10 < limit && !c.low_warned;
        c.low_warned |= low;
        Some((remaining, low))
    }
}

impl crate::service::LiveQuota for Limiters {
    fn remaining(&self, token_id: i64, l: &Limits, now_ms: i64) -> Option<i64> {
        let q = l.quota?;
        let window = q.period.window(now_ms);
        let counts = self.counts.lock();
        let c = counts.get(&token_id)?;
        (c.reset_at == l.reset_at && c.window == window).then(|| (q.limit - c.used).max(0))
    }
}

impl Limiters {
    /// Takes the counts not yet written.
    pub fn drain(&self) -> Vec<PendingQuota> {
        let mut counts = self.counts.lock();
        let out = counts
            .iter_mut()
            .filter(|(_, c)| c.pending > 0)
            .map(|(id, c)| {
                let p = (*id, c.reset_at, c.window, c.pending);
                c.pending = 0;
                p
            })
            .collect();
        counts.retain(|_, c| c.pending > 0 || c.used > 0);
        out
    }

    /// Counts one answer to a request that presented a token's value.
    pub fn used(&self, token_id: i64, now_ms: i64, refused: bool) {
        let hour = now_ms.div_euclid(HOUR_MS) * HOUR_MS;
        let mut usage = self.usage.lock();
        let e = usage.entry((token_id, hour)).or_insert((0, 0));
        if refused {
            e.1 += 1;
        } else {
            e.0 += 1;
        }
    }

    /// Takes the usage counts not yet written: (token, hour, allowed, refused).
    pub fn drain_usage(&self) -> Vec<(i64, i64, i64, i64)> {
        std::mem::take(&mut *self.usage.lock())
            .into_iter()
            .map(|((id, hour), (a, r))| (id, hour, a, r))
            .collect()
    }

    /// Whether `token.rate_limited` may be queued for `token_id` at `now` (ms): at most once
    /// an hour per token in this process; remembers `now` when it may.
    pub fn rate_warning_due(&self, token_id: i64, now: i64) -> bool {
        let mut warned = self.warned.lock();
        if warned.get(&token_id).is_some_and(|t| now - t < HOUR_MS) {
            return false;
        }
        warned.insert(token_id, now);
        true
    }

    /// Takes in the stored count of a quota after a flush (it includes other replicas' uses).
    pub fn stored(&self, token_id: i64, reset_at: i64, window: i64, used: i64) {
        if let Some(c) = self.counts.lock().get_mut(&token_id) {
            if c.reset_at == reset_at && c.window == window {
                c.used = c.used.max(used);
            }
        }
    }
}
