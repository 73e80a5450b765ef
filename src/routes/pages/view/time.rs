//! Times as the console shows and takes them.

use chrono::{DateTime, Utc};

use crate::domain::time::relative;

/// An RFC 3339 time as the console shows it: `2030-01-31 12:00 UTC`.
pub fn time(rfc: &str) -> String {
    DateTime::parse_from_rfc3339(rfc)
        .map(|t| {
            t.with_timezone(&Utc)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()
        })
        .unwrap_or_else(|_| rfc.to_string())
}

/// An RFC 3339 time to the second: `2030-01-31 12:00:07 UTC` (the audit log).
pub fn time_secs(rfc: &str) -> String {
    DateTime::parse_from_rfc3339(rfc)
        .map(|t| {
            t.with_timezone(&Utc)
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string()
        })
        .unwrap_or_else(|_| rfc.to_string())
}

/// A time as lists show it: the UTC time and, beside it, how far it is from the server's
/// clock ("in 3 days", "2 h ago"). `iso` is empty for "never".
#[derive(Debug, Clone, Default)]
pub struct When {
    pub iso: String,
    /// The UTC time, or the word for "none" (`Never`).
    pub text: String,
    /// The whole time to the second, for the title.
    pub full: String,
    pub rel: String,
}

impl When {
    /// `fmt` renders the UTC time (`time` or `time_secs`).
    pub fn of(rfc: &str, now: DateTime<Utc>, fmt: fn(&str) -> String) -> When {
        match DateTime::parse_from_rfc3339(rfc) {
            Ok(t) => When {
                iso: rfc.to_string(),
                text: fmt(rfc),
                full: time_secs(rfc),
                rel: relative(t.with_timezone(&Utc), now),
            },
            Err(_) => When {
                text: rfc.to_string(),
                ..When::default()
            },
        }
    }

    pub fn opt(rfc: &Option<String>, none: &str, now: DateTime<Utc>) -> When {
        match rfc {
            Some(r) => When::of(r, now, time),
            None => When {
                text: none.to_string(),
                ..When::default()
            },
        }
    }

    /// One line: `2030-01-31 12:00 UTC (in 3 days)`.
    pub fn line(&self) -> String {
        if self.rel.is_empty() {
            self.text.clone()
        } else {
            format!("{} ({})", self.text, self.rel)
        }
    }
}

/// An optional time, or `none` when absent.
pub fn opt_time(rfc: &Option<String>, none: &str) -> String {
    rfc.as_deref().map(time).unwrap_or_else(|| none.to_string())
}

/// An RFC 3339 time as the expiry field shows it (`2030-01-31 12:00:00`, UTC).
pub fn input_time(rfc: &str) -> String {
    DateTime::parse_from_rfc3339(rfc)
        .map(|t| input_time_of(t.with_timezone(&Utc)))
        .unwrap_or_default()
}

/// A time as the expiry field shows it and people type it: `YYYY-MM-DD hh:mm:ss`, UTC.
pub fn input_time_of(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A duration in the words the console uses: whole days ("7 days"), hours ("36 hours"),
/// minutes, or seconds.
pub fn duration_words(d: std::time::Duration) -> String {
    let secs = d.as_secs();
    let (n, unit) = match secs {
        s if s >= 86_400 && s % 86_400 == 0 => (s / 86_400, "day"),
        s if s >= 3_600 && s % 3_600 == 0 => (s / 3_600, "hour"),
        s if s >= 60 && s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}
