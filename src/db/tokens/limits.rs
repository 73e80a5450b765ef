//! SQL for rate limits, quotas and hourly usage roll-ups (SPEC §16).

use crate::db::{params, Connection, Result, Tx};
use crate::domain::limits::{Quota, QuotaPeriod, RateLimit};

/// The limits columns as read after the others (`rate_requests` … `quota_reset_at`).
pub const COLUMNS: &str = "t.rate_requests, t.rate_per_seconds, t.quota_limit, t.quota_period,
    t.quota_used, t.quota_window, t.quota_reset_at";

/// A token's limits and quota counter, as stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub rate: Option<RateLimit>,
    pub quota: Option<Quota>,
    pub used: i64,
    pub window: i64,
    pub reset_at: i64,
}

impl Limits {
    pub fn any(&self) -> bool {
        self.rate.is_some() || self.quota.is_some()
    }

    pub fn read(r: &crate::db::Row, at: usize) -> Result<Limits> {
        let rate = match (r.get::<Option<i64>>(at)?, r.get::<Option<i64>>(at + 1)?) {
            (Some(requests), Some(per_seconds)) => Some(RateLimit {
                requests,
                per_seconds,
            }),
            _ => None,
        };
        let period: Option<String> = r.get(at + 3)?;
        let quota = match (
            r.get::<Option<i64>>(at + 2)?,
            period.as_deref().and_then(QuotaPeriod::parse),
        ) {
            (Some(limit), Some(period)) => Some(Quota { limit, period }),
            _ => None,
        };
        Ok(Limits {
            rate,
            quota,
            used: r.get(at + 4)?,
            window: r.get(at + 5)?,
            reset_at: r.get(at + 6)?,
        })
    }

    /// What is left of the quota at `now`, by the stored count.
    pub fn remaining(&self, now: i64) -> Option<i64> {
        self.quota.map(|q| q.remaining(self.used, self.window, now))
    }
}

pub fn set_rate_limit(tx: &Tx, id: i64, rate: Option<RateLimit>) -> Result<()> {
    tx.touch_auth();
    tx.execute(
        "UPDATE tokens SET rate_requests = $1, rate_per_seconds = $2 WHERE id = $3",
        params![rate.map(|r| r.requests), rate.map(|r| r.per_seconds), id],
    )?;
    Ok(())
}

/// Sets (or clears) the quota and starts its count afresh at `now`.
pub fn set_quota(tx: &Tx, id: i64, quota: Option<Quota>, now: i64) -> Result<()> {
    tx.touch_auth();
    tx.execute(
        "UPDATE tokens SET quota_limit = $1, quota_period = $2, quota_used = 0,
                quota_window = $3, quota_reset_at = $4, quota_low_window = NULL WHERE id = $5",
        params![
            quota.map(|q| q.limit),
            quota.map(|q| q.period.as_str()),
            quota.map_or(0, |q| q.period.window(now)),
            now,
            id
        ],
    )?;
    Ok(())
}

/// Consumes one unit of a `total` quota, exactly across replicas: one conditional update.
/// The count after this use, or `None` when the quota was already used up (or changed).
/// The one write outside a [`Tx`]: a single statement on the hot path, atomic by itself, that
/// changes only a counter every use checks again here (nothing the filter or caches keep).
pub fn take_total(conn: &Connection, id: i64, reset_at: i64) -> Result<Option<i64>> {
    conn.query_opt(
        "UPDATE tokens SET quota_used = quota_used + 1
         WHERE id = $1 AND quota_reset_at = $2 AND quota_period = 'total'
           AND quota_used < quota_limit
         RETURNING quota_used",
        params![id, reset_at],
        |r| r.get(0),
    )
}

/// Adds `n` uses counted in memory to a `day`/`month` quota's window `window`, unless the
/// quota was set again since `reset_at`; a stored count of an older window is replaced.
/// The stored count after the addition (it includes other replicas' uses).
pub fn add_used(tx: &Tx, id: i64, reset_at: i64, window: i64, n: i64) -> Result<Option<i64>> {
    tx.query_opt(
        "UPDATE tokens SET
            quota_used = CASE WHEN quota_window = $3 THEN quota_used + $4 ELSE $4 END,
            quota_window = $3
         WHERE id = $1 AND quota_reset_at = $2 AND quota_window <= $3
         RETURNING quota_used",
        params![id, reset_at, window, n],
        |r| r.get(0),
    )
}

/// Marks the `token.quota_low` warning of `window` as sent; `true` for the first marker.
pub fn mark_quota_low(tx: &Tx, id: i64, window: i64) -> Result<bool> {
    let n = tx.execute(
        "UPDATE tokens SET quota_low_window = $2 WHERE id = $1
           AND (quota_low_window IS NULL OR quota_low_window <> $2)",
        params![id, window],
    )?;
    Ok(n > 0)
}

/// Adds hourly usage counts.
pub fn add_usage(tx: &Tx, id: i64, hour: i64, allowed: i64, refused: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO token_usage (token_id, hour, allowed, refused)
         SELECT CAST($1 AS BIGINT), CAST($2 AS BIGINT), CAST($3 AS BIGINT), CAST($4 AS BIGINT)
         WHERE EXISTS (SELECT 1 FROM tokens WHERE id = $1)
         ON CONFLICT (token_id, hour) DO UPDATE SET
             allowed = token_usage.allowed + excluded.allowed,
             refused = token_usage.refused + excluded.refused",
        params![id, hour, allowed, refused],
    )?;
    Ok(())
}

/// Hourly usage of a token in `[from, to)`: (hour, allowed, refused), oldest first.
pub fn usage(conn: &Connection, id: i64, from: i64, to: i64) -> Result<Vec<(i64, i64, i64)>> {
    conn.query_map(
        "SELECT hour, allowed, refused FROM token_usage
         WHERE token_id = $1 AND hour >= $2 AND hour < $3 ORDER BY hour",
        params![id, from, to],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
}

/// Deletes roll-ups of hours before `before`, and those of deleted tokens.
pub fn purge_usage(tx: &Tx, before: i64) -> Result<usize> {
    let n = tx.execute("DELETE FROM token_usage WHERE hour < $1", params![before])?;
    let m = tx.execute(
        "DELETE FROM token_usage WHERE NOT EXISTS
           (SELECT 1 FROM tokens WHERE tokens.id = token_usage.token_id)",
        params![],
    )?;
    Ok(n + m)
}
