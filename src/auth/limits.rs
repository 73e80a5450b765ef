//! Rate limits and quotas on the hot path (SPEC §16).
//!
//! - Rate limits: a GCRA state per token id, in this process (per replica on PostgreSQL).
//!   Kept apart from the lookup cache, which any write clears: a limit must not reset then.
//! - `day` / `month` quotas: counted here, added to the database by the last-use flush, which
//!   brings back what other replicas counted (so a replica overshoots by at most what passed
//!   between two flushes).
//! - `total` quotas: one conditional decrement in the database per use, exact everywhere.
//!
//! Tokens without limits pay one branch on a field of the cached row.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use parking_lot::Mutex;

use crate::db::tokens::limits::Limits;
use crate::db::tokens::AuthRow;
use crate::domain::limits::{Gcra, QuotaPeriod, RateDecision};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A request that presented a known token's value: set on the request by the hot path, read
/// by the response middleware (usage counts, `RateLimit-*` headers).
#[derive(Debug, Clone, Copy)]
pub struct Presented {
    pub token_id: i64,
    pub rate: Option<RateDecision>,
}

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
    fn count(&self, token_id: i64, l: &Limits, limit: i64, window: i64) -> Option<(i64, bool)> {
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

    /// Takes in the stored count of a quota after a flush (it includes other replicas' uses).
    pub fn stored(&self, token_id: i64, reset_at: i64, window: i64, used: i64) {
        if let Some(c) = self.counts.lock().get_mut(&token_id) {
            if c.reset_at == reset_at && c.window == window {
                c.used = c.used.max(used);
            }
        }
    }
}

/// Seconds from `now` to the next UTC day or month (≥ 1); `None` for `total`.
fn retry_after(period: QuotaPeriod, now_ms: i64) -> Option<u64> {
    period
        .next_window(now_ms)
        .map(|n| (((n - now_ms).max(0) as u64).div_ceil(1000)).max(1))
}

fn refused(state: &AppState, reason: &'static str) {
    state.metrics.auth(reason);
    state
        .metrics
        .limit_refusals
        .with_label_values(&[reason])
        .inc();
}

/// Applies a token's rate limit and quota to one authentication that passed every other
/// check. Only called for rows with limits (`row.limits.any()`). The rate decision (for the
/// `RateLimit-*` headers) comes back whatever the outcome.
pub async fn enforce(
    state: &Arc<AppState>,
    row: &AuthRow,
) -> (Option<RateDecision>, ApiResult<()>) {
    let l = &row.limits;
    let now_us = state.clock.now().timestamp_micros().max(0) as u64;
    let rate = l
        .rate
        .map(|limit| state.limiters.rate(row.token_id, limit, now_us));
    if let Some(d) = rate.filter(|d| !d.allowed) {
        refused(state, "rate_limited");
        warn_rate_limited(state, row.token_id);
        let e = ApiError::Limited {
            code: "rate_limited",
            message: "this token's rate limit is reached",
            retry_after_secs: Some(d.retry_after_secs),
        };
        return (rate, Err(e));
    }
    (rate, take_quota(state, row).await)
}

async fn take_quota(state: &Arc<AppState>, row: &AuthRow) -> ApiResult<()> {
    let l = &row.limits;
    let Some(q) = l.quota else {
        return Ok(());
    };
    let now = state.now_ms();
    let taken = match q.period {
        QuotaPeriod::Total => {
            let (id, reset_at) = (row.token_id, l.reset_at);
            state
                .read(move |c| {
                    Ok::<_, ApiError>(crate::db::tokens::limits::take_total(c, id, reset_at)?)
                })
                .await?
                .map(|used| {
                    let remaining = q.limit - used;
                    // Each use sees its own count: exactly one sees the crossing.
                    let low = remaining * 10 < q.limit && (remaining + 1) * 10 >= q.limit;
                    (remaining, 0, low)
                })
        }
        period => {
            let window = period.window(now);
            state
                .limiters
                .count(row.token_id, l, q.limit, window)
                .map(|(remaining, low)| (remaining, window, low))
        }
    };
    let Some((remaining, window, low)) = taken else {
        refused(state, "quota_exhausted");
        return Err(ApiError::Limited {
            code: "quota_exhausted",
            message: "this token's quota is used up",
            retry_after_secs: retry_after(q.period, now),
        });
    };
    // The use that leaves less than 10 % for the first time (the stored flag makes it once
    // per period and quota setting, across replicas).
    if low {
        warn_quota_low(state, row.token_id, window, remaining, now);
    }
    Ok(())
}

const HOUR_MS: i64 = 3_600_000;

/// Queues `token.rate_limited` off the request path: at most one look at the outbox per hour
/// and token in this process; the outbox decides across replicas.
fn warn_rate_limited(state: &Arc<AppState>, token_id: i64) {
    let now = state.now_ms();
    {
        let mut warned = state.limiters.warned.lock();
        if warned.get(&token_id).is_some_and(|t| now - t < HOUR_MS) {
            return;
        }
        warned.insert(token_id, now);
    }
    off_path(state, "token.rate_limited", move |tx| {
        crate::service::webhooks::rate_limited(tx, token_id, now)
    });
}

fn warn_quota_low(state: &Arc<AppState>, token_id: i64, window: i64, remaining: i64, now: i64) {
    off_path(state, "token.quota_low", move |tx| {
        crate::service::webhooks::quota_low(tx, token_id, window, remaining, now)
    });
}

/// Runs a write on the blocking pool without waiting for it.
fn off_path<F>(state: &Arc<AppState>, what: &'static str, f: F)
where
    F: FnOnce(&mut crate::db::Tx) -> crate::service::Result<bool> + Send + 'static,
{
    let state = state.clone();
    actix_web::rt::task::spawn_blocking(move || {
        if let Err(e) = state.write_blocking(f) {
            tracing::warn!(error = %e, event = what, "cannot queue a webhook event");
        }
    });
}

const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// The response side of a request that presented a token's value: counts it for the usage
/// roll-ups (401, 403 and 429 are refusals) and, for a rate-limited token, adds the
/// `RateLimit-*` headers.
pub fn answered(state: Option<&AppState>, p: &Presented, status: StatusCode, h: &mut HeaderMap) {
    if let Some(state) = state {
        let refused = matches!(status.as_u16(), 401 | 403 | 429);
        state.limiters.used(p.token_id, state.now_ms(), refused);
    }
    if let Some(d) = p.rate {
        h.insert(RATELIMIT_LIMIT, HeaderValue::from(d.limit));
        h.insert(RATELIMIT_REMAINING, HeaderValue::from(d.remaining));
        h.insert(RATELIMIT_RESET, HeaderValue::from(d.reset_secs));
    }
}
