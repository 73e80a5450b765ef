//! Rate limits and quotas on the hot path (SPEC §16); their in-memory state is
//! `state::limits`.
//!
//! - Rate limits: a GCRA state per token id, in this process (per replica on PostgreSQL).
//!   Kept apart from the lookup cache, which any write clears: a limit must not reset then.
//! - `day` / `month` quotas: counted here, added to the database by the last-use flush, which
//!   brings back what other replicas counted (so a replica overshoots by at most what passed
//!   between two flushes).
//! - `total` quotas: one conditional decrement in the database per use, exact everywhere.
//!
//! Tokens without limits pay one branch on a field of the cached row.

use std::sync::Arc;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::StatusCode;

use crate::db::tokens::AuthRow;
use crate::domain::limits::{QuotaPeriod, RateDecision};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// A request that presented a known token's value: set on the request by the hot path, read
/// by the response middleware (usage counts, `RateLimit-*` headers).
#[derive(Debug, Clone, Copy)]
pub struct Presented {
    pub token_id: i64,
    pub rate: Option<RateDecision>,
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

/// Queues `token.rate_limited` off the request path: at most one look at the outbox per hour
/// and token in this process; the outbox decides across replicas.
fn warn_rate_limited(state: &Arc<AppState>, token_id: i64) {
    let now = state.now_ms();
    if !state.limiters.rate_warning_due(token_id, now) {
        return;
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
