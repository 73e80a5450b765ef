//! Times: the injectable clock, input parsing (RFC 3339 or `YYYY-MM-DD hh:mm:ss` UTC) and the
//! storage form (integer milliseconds since the epoch, portable across databases).

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serializer};

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

/// Deserialises an optional time in either accepted format.
pub fn de_opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    s.map(|s| parse_time(&s).map_err(serde::de::Error::custom))
        .transpose()
}

/// For PATCH bodies: absent → `None`, `null` → `Some(None)`, a time → `Some(Some(t))`.
pub fn de_patch_time<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<DateTime<Utc>>>, D::Error> {
    de_opt_time(d).map(Some)
}

/// Parses durations such as `7d`, `12h`, `30m`, `2s` (humantime syntax).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| format!("`{s}` is not a duration: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
