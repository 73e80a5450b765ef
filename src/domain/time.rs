//! Times: the injectable clock, input parsing (RFC 3339 or `YYYY-MM-DD hh:mm:ss` UTC) and the
//! storage form (integer milliseconds since the epoch, portable across databases).

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde::Serializer;

/// Where "now" comes from. Production uses the system clock; tests shift it.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        let offset = self.offset_ms.load(Ordering::Relaxed);
        Utc::now() + chrono::Duration::milliseconds(offset)
    }

    /// Moves the clock forward (tests, and nothing else).
    pub fn advance(&self, by: chrono::Duration) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }
}

pub fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// Parses RFC 3339 (any offset, converted to UTC) or `YYYY-MM-DD hh:mm:ss` / `YYYY-MM-DDThh:mm`
/// (taken as UTC; the second is what an HTML `datetime-local` field sends).
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(Utc.from_utc_datetime(&t));
        }
    }
    Err(format!(
        "`{s}` is not a time: use RFC 3339 (2030-01-31T12:00:00Z) or YYYY-MM-DD hh:mm:ss (UTC)"
    ))
}

/// RFC 3339 UTC with `Z`, as every response writes times.
pub fn fmt_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// serde helpers for `DateTime<Utc>` fields in responses.
pub fn ser_time<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&fmt_time(t))
}

pub fn ser_opt_time<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&fmt_time(t)),
        None => s.serialize_none(),
    }
}

/// Parses durations such as `7d`, `12h`, `30m`, `2s` (humantime syntax).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| format!("`{s}` is not a duration: {e}"))
}

/// How far `t` is from `now`, in words: "just now", "in 3 days", "2 h ago", "in 5 min".
/// Whole units, rounded down: under a minute is "just now", then minutes, hours (under a
/// day), days (under 60), months of 30 days (under 24) and years of 365 days.
pub fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (t - now).num_seconds();
    let future = secs > 0;
    let s = secs.unsigned_abs();
    if s < 60 {
        return "just now".to_string();
    }
    let plural = |n: u64, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let amount = match s {
        s if s < 3_600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h", s / 3_600),
        s if s < 60 * 86_400 => plural(s / 86_400, "day", "days"),
        s if s < 730 * 86_400 => plural(s / (30 * 86_400), "month", "months"),
        s => plural(s / (365 * 86_400), "year", "years"),
    };
    if future {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// Whether an instant-bounded thing has expired at `now` (rules 3, 4, 30): expiry is checked
/// at every use, not only by the scheduler.
pub fn expired(expires_at: Option<i64>, now: i64) -> bool {
    expires_at.is_some_and(|e| e <= now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_hour_relative_times_read_as_words() {
        let now = parse_time("2030-01-31T12:00:00Z").unwrap();
        let at = |secs: i64| relative(now + chrono::Duration::seconds(secs), now);
        assert_eq!(at(0), "just now");
        assert_eq!(at(59), "just now");
        assert_eq!(at(-59), "just now");
        assert_eq!(at(60), "in 1 min");
        assert_eq!(at(-150), "2 min ago");
        assert_eq!(at(-2 * 3600 - 59), "2 h ago");
        assert_eq!(at(23 * 3600), "in 23 h");
        assert_eq!(at(86_400), "in 1 day");
        assert_eq!(at(3 * 86_400 + 5), "in 3 days");
        assert_eq!(at(-3 * 86_400), "3 days ago");
        assert_eq!(at(59 * 86_400), "in 59 days");
        assert_eq!(at(60 * 86_400), "in 2 months");
        assert_eq!(at(-400 * 86_400), "13 months ago");
        assert_eq!(at(800 * 86_400), "in 2 years");
        assert_eq!(at(-365 * 86_400 * 30), "30 years ago");
    }

    #[test]
    fn accepts_both_input_forms() {
        let a = parse_time("2030-01-31T12:00:00Z").unwrap();
        let b = parse_time("2030-01-31 12:00:00").unwrap();
        let c = parse_time("2030-01-31T14:00:00+02:00").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(fmt_time(&a), "2030-01-31T12:00:00Z");
        assert!(parse_time("tomorrow").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d").unwrap().as_secs(), 7 * 86400);
        assert_eq!(parse_duration("2s").unwrap().as_secs(), 2);
        assert!(parse_duration("soon").is_err());
    }
}
