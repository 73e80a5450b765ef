//! `GET /v1/tokens/{id}/usage`: authentications allowed and refused per hour or UTC day,
//! from the hourly roll-ups the last-use flush writes (SPEC §16).

use serde::Serialize;

use super::rules::load_visible;
use crate::db::{self, Connection};
use crate::domain::caller::Caller;
use crate::domain::permissions::Permission;
use crate::domain::time::{fmt_time, from_ms};
use crate::service::error::Result;
use crate::service::require;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// How long hourly roll-ups are kept.
pub const USAGE_RETENTION_MS: i64 = 90 * DAY_MS;

/// Deletes the hourly roll-ups older than [`USAGE_RETENTION_MS`] at `now` (the purge job).
pub fn purge_usage(tx: &mut db::Tx, now: i64) -> Result<usize> {
    Ok(db::tokens::limits::purge_usage(
        tx,
        now - USAGE_RETENTION_MS,
    )?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Hour,
    Day,
}

impl Bucket {
    pub fn parse(s: &str) -> Option<Bucket> {
        match s {
            "hour" => Some(Bucket::Hour),
            "day" => Some(Bucket::Day),
            _ => None,
        }
    }

    fn ms(self) -> i64 {
        match self {
            Bucket::Hour => HOUR_MS,
            Bucket::Day => DAY_MS,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Bucket::Hour => "hour",
            Bucket::Day => "day",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct UsageItem {
    /// Start of the bucket (RFC 3339, UTC).
    pub start: String,
    /// Authentications that were answered as allowed.
    pub allowed: i64,
    /// Answers 401, 403 or 429 to requests that presented this token's value.
    pub refused: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct UsageView {
    /// `hour` or `day`.
    pub bucket: String,
    /// Oldest first; buckets without traffic are left out.
    pub items: Vec<UsageItem>,
}

/// Per-bucket counts as numbers: (bucket start ms, allowed, refused), oldest first.
pub fn usage_counts(
    conn: &Connection,
    caller: &Caller,
    id: i64,
    bucket: Bucket,
    (from, to): (i64, i64),
) -> Result<Vec<(i64, i64, i64)>> {
    require(caller, Permission::TokensRead)?;
    let t = load_visible(conn, caller, id)?;
    let size = bucket.ms();
    let (from, to) = (
        from.div_euclid(size) * size,
        to.div_euclid(size) * size + size,
    );
    let mut out: Vec<(i64, i64, i64)> = Vec::new();
    for (hour, allowed, refused) in db::tokens::limits::usage(conn, t.id, from, to)? {
        let start = hour.div_euclid(size) * size;
        match out.last_mut() {
            Some(last) if last.0 == start => {
                last.1 += allowed;
                last.2 += refused;
            }
            _ => out.push((start, allowed, refused)),
        }
    }
    out.retain(|(_, a, r)| a + r > 0);
    Ok(out)
}

/// `GET /v1/tokens/{id}/usage`: the buckets from the one holding `from` through the one
/// holding `to`.
pub fn usage(
    conn: &Connection,
    caller: &Caller,
    id: i64,
    bucket: Bucket,
    range: (i64, i64),
) -> Result<UsageView> {
    let items = usage_counts(conn, caller, id, bucket, range)?
        .into_iter()
        .map(|(start, allowed, refused)| UsageItem {
            start: fmt_time(&from_ms(start)),
            allowed,
            refused,
        })
        .collect();
    Ok(UsageView {
        bucket: bucket.as_str().to_string(),
        items,
    })
}
