//! Rate limits and quotas of a token (SPEC §16): their shapes, bounds, the UTC periods of a
//! quota, and the GCRA arithmetic of a rate limit. Pure: no clock, no I/O.

use chrono::{Datelike, TimeZone, Utc};
use serde::Serialize;
use serde_json::Value;

pub const MAX_RATE_REQUESTS: i64 = 1_000_000;
pub const MAX_RATE_SECONDS: i64 = 86_400;
pub const MAX_QUOTA: i64 = 1_000_000_000_000;

/// At most `requests` authentications per `per_seconds` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RateLimit {
    pub requests: i64,
    pub per_seconds: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QuotaPeriod {
    Day,
    Month,
    Total,
}

impl QuotaPeriod {
    pub fn parse(s: &str) -> Option<QuotaPeriod> {
        match s {
            "day" => Some(QuotaPeriod::Day),
            "month" => Some(QuotaPeriod::Month),
            "total" => Some(QuotaPeriod::Total),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            QuotaPeriod::Day => "day",
            QuotaPeriod::Month => "month",
            QuotaPeriod::Total => "total",
        }
    }

    /// The start (ms) of the period holding `now`: the UTC day or month; 0 for `total`.
    pub fn window(self, now_ms: i64) -> i64 {
        const DAY: i64 = 86_400_000;
        match self {
            QuotaPeriod::Total => 0,
            QuotaPeriod::Day => now_ms.div_euclid(DAY) * DAY,
            QuotaPeriod::Month => {
                let t = crate::domain::time::from_ms(now_ms);
                Utc.with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0)
                    .single()
                    .map_or(0, |m| m.timestamp_millis())
            }
        }
    }

    /// The start (ms) of the next period after `now`; `None` for `total`.
    pub fn next_window(self, now_ms: i64) -> Option<i64> {
        match self {
            QuotaPeriod::Total => None,
            QuotaPeriod::Day => Some(self.window(now_ms) + 86_400_000),
            QuotaPeriod::Month => {
                let t = crate::domain::time::from_ms(now_ms);
                let (y, m) = if t.month() == 12 {
                    (t.year() + 1, 1)
                } else {
                    (t.year(), t.month() + 1)
                };
                Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0)
                    .single()
                    .map(|n| n.timestamp_millis())
            }
        }
    }
}

/// At most `limit` successful authentications per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Quota {
    pub limit: i64,
    pub period: QuotaPeriod,
}

impl Quota {
    /// What is left of the quota when `used` were counted in the window starting `window`.
    pub fn remaining(&self, used: i64, window: i64, now_ms: i64) -> i64 {
        if self.period.window(now_ms) != window {
            return self.limit;
        }
        (self.limit - used).max(0)
    }
}

fn whole(v: &Value, name: &str, field: &str, lo: i64, hi: i64) -> Result<i64, (String, String)> {
    v.get(name)
        .and_then(Value::as_i64)
        .filter(|n| (lo..=hi).contains(n))
        .ok_or_else(|| {
            (
                field.to_string(),
                format!("`{name}` must be a whole number from {lo} to {hi}"),
            )
        })
}

fn only_keys(v: &Value, field: &str, keys: &[&str]) -> Result<(), (String, String)> {
    let Some(map) = v.as_object() else {
        return Err((
            field.to_string(),
            format!("must be an object {{{}}} or null", keys.join(", ")),
        ));
    };
    match map.keys().find(|k| !keys.contains(&k.as_str())) {
        Some(k) => Err((field.to_string(), format!("unknown key `{k}`"))),
        None => Ok(()),
    }
}

/// Parses a `rate_limit` input: `null` or `{"requests", "per_seconds"}` within bounds.
/// `Err((field, message))` names the field.
pub fn parse_rate_limit(v: &Value) -> Result<Option<RateLimit>, (String, String)> {
    if v.is_null() {
        return Ok(None);
    }
    only_keys(v, "rate_limit", &["requests", "per_seconds"])?;
    Ok(Some(RateLimit {
        requests: whole(v, "requests", "rate_limit", 1, MAX_RATE_REQUESTS)?,
        per_seconds: whole(v, "per_seconds", "rate_limit", 1, MAX_RATE_SECONDS)?,
    }))
}

/// Parses a `quota` input: `null` or `{"limit", "period": "day" | "month" | "total"}`.
pub fn parse_quota(v: &Value) -> Result<Option<Quota>, (String, String)> {
    if v.is_null() {
        return Ok(None);
    }
    only_keys(v, "quota", &["limit", "period"])?;
    let limit = whole(v, "limit", "quota", 1, MAX_QUOTA)?;
    let period = v
        .get("period")
        .and_then(Value::as_str)
        .and_then(QuotaPeriod::parse)
        .ok_or_else(|| {
            (
                "quota".to_string(),
                "`period` must be `day`, `month` or `total`".to_string(),
            )
        })?;
    Ok(Some(Quota { limit, period }))
}

/// The GCRA state of one rate-limited token: the theoretical arrival time (µs on the
/// limiter's own monotonic scale) and the limit it was computed for.
#[derive(Debug, Clone, Copy)]
pub struct Gcra {
    pub tat_us: u64,
    pub limit: RateLimit,
}

/// The outcome of one request against a rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: i64,
    /// Requests that would still be admitted at once right now (rounded down).
    pub remaining: i64,
    /// Seconds until the limit is whole again (rounded up).
    pub reset_secs: u64,
    /// Seconds to wait before the next request can pass (refusals; ≥ 1).
    pub retry_after_secs: u64,
}

impl RateLimit {
    fn period_us(self) -> u64 {
        self.per_seconds as u64 * 1_000_000
    }

    /// The emission interval: one request per this many µs, sustained.
    fn interval_us(self) -> u64 {
        (self.period_us() / self.requests as u64).max(1)
    }
}

fn ceil_secs(us: u64) -> u64 {
    us.div_ceil(1_000_000)
}

impl Gcra {
    pub fn new(limit: RateLimit, now_us: u64) -> Gcra {
        Gcra {
            tat_us: now_us,
            limit,
        }
    }

    /// GCRA with a burst of `requests` and a sustained rate of `requests / per_seconds`: a
    /// request passes when the theoretical arrival time is at most `per - interval` ahead.
    /// `remaining` is what the burst still holds after this request (never rounded up).
    pub fn take(&mut self, now_us: u64) -> RateDecision {
        let l = self.limit;
        let (t, period) = (l.interval_us(), l.period_us());
        let tat = self.tat_us.max(now_us);
        let tolerance = period.saturating_sub(t);
        let ahead = tat - now_us;
        if ahead > tolerance {
            return RateDecision {
                allowed: false,
                limit: l.requests,
                remaining: 0,
                reset_secs: ceil_secs(ahead).max(1),
                retry_after_secs: ceil_secs(ahead - tolerance).max(1),
            };
        }
        self.tat_us = tat + t;
        let ahead = self.tat_us - now_us;
        RateDecision {
            allowed: true,
            limit: l.requests,
            remaining: (period.saturating_sub(ahead) / t).min(l.requests as u64) as i64,
            reset_secs: ceil_secs(ahead),
            retry_after_secs: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn limits_gcra_admits_a_burst_then_refuses_with_an_honest_remaining() {
        let l = RateLimit {
            requests: 3,
            per_seconds: 60,
        };
        let mut g = Gcra::new(l, 1_000);
        let r: Vec<_> = (0..4).map(|_| g.take(1_000)).collect();
        assert_eq!(
            r.iter().map(|d| d.remaining).collect::<Vec<_>>(),
            [2, 1, 0, 0]
        );
        assert!(r[2].allowed && !r[3].allowed);
        assert_eq!(r[3].retry_after_secs, 20);
        assert_eq!(r[2].reset_secs, 60);
        // 20 s later exactly one more passes.
        let d = g.take(1_000 + 20_000_000);
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
    }

    #[test]
    fn limits_inputs_are_bounded_and_name_their_field() {
        assert!(parse_rate_limit(&json!({"requests": 0, "per_seconds": 1})).is_err());
        assert!(parse_rate_limit(&json!({"requests": 1, "per_seconds": 86_401})).is_err());
        assert!(parse_rate_limit(&json!({"requests": 1})).is_err());
        assert!(parse_rate_limit(&json!({"requests": 1, "per_seconds": 1, "x": 1})).is_err());
        assert_eq!(parse_rate_limit(&json!(null)), Ok(None));
        assert_eq!(
            parse_quota(&json!({"limit": 5, "period": "week"}))
                .unwrap_err()
                .0,
            "quota"
        );
        assert!(parse_quota(&json!({"limit": 5, "period": "month"})).is_ok());
    }

    #[test]
    fn limits_periods_are_utc_days_and_months() {
        let t = Utc
            .with_ymd_and_hms(2026, 12, 31, 23, 0, 0)
            .unwrap()
            .timestamp_millis();
        let jan = Utc
            .with_ymd_and_hms(2027, 1, 1, 0, 0, 0)
            .unwrap()
            .timestamp_millis();
        assert_eq!(QuotaPeriod::Day.next_window(t), Some(jan));
        assert_eq!(QuotaPeriod::Month.next_window(t), Some(jan));
        assert_eq!(QuotaPeriod::Total.next_window(t), None);
    }
}
