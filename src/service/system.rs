//! What the operational endpoints and the scheduler ask of the database: readiness, counts,
//! the cross-process write epoch, and housekeeping of sessions and last-use data.

use crate::db::Connection;

use crate::db::{self, Tx};
use crate::service::error::Result;

/// Whether the database answers with a migrated schema (`/readyz`).
pub fn ready(conn: &Connection) -> Result<()> {
    db::schema_version(conn)?;
    Ok(())
}

/// Tokens by status, for the metrics: (enabled, disabled).
pub fn token_counts(conn: &Connection) -> Result<(i64, i64)> {
    Ok(db::tokens::count_by_status(conn)?)
}

/// The write epoch: it changes whenever another process (the CLI) writes.
pub fn epoch(conn: &Connection) -> Result<i64> {
    Ok(db::read_epoch(conn)?)
}

/// Counts one event of limit `name` for `key` unless `max` fall in the window; then
/// `Err(seconds to wait)`. Kept in the database, so every replica counts the same events.
pub fn limit_hit(
    tx: &mut Tx,
    name: &str,
    key: &str,
    (max, window_ms): (usize, i64),
    now: i64,
) -> Result<Result<(), u64>> {
    Ok(match db::limits::hit(tx, name, key, max, window_ms, now)? {
        None => Ok(()),
        Some(wait_ms) => Err((wait_ms / 1000).max(1) as u64),
    })
}

/// Forgets limit `name`'s events for `key`, and every event older than `before`.
pub fn limit_clear(tx: &mut Tx, name: &str, key: &str, before: i64) -> Result<()> {
    db::limits::clear(tx, name, key)?;
    db::limits::prune(tx, before)?;
    Ok(())
}

/// Takes back one event of limit `name` counted for `key` at `at`.
pub fn limit_release(tx: &mut Tx, name: &str, key: &str, at: i64) -> Result<()> {
    db::limits::release(tx, name, key, at)?;
    Ok(())
}

/// Writes buffered last-use data: (token id, time, client address) per use.
pub fn record_uses(tx: &mut Tx, uses: &[(i64, i64, String)]) -> Result<()> {
    for (id, at, ip) in uses {
        db::tokens::record_use(tx, *id, *at, ip)?;
    }
    Ok(())
}

/// Writes buffered quota counts (token, reset_at, window, uses) and hourly usage counts
/// (token, hour, allowed, refused); answers the stored quota counts after the addition.
pub fn record_limits(
    tx: &mut Tx,
    quotas: &[(i64, i64, i64, i64)],
    usage: &[(i64, i64, i64, i64)],
) -> Result<Vec<(i64, i64, i64, i64)>> {
    let mut stored = Vec::with_capacity(quotas.len());
    for &(id, reset_at, window, n) in quotas {
        if let Some(used) = db::tokens::limits::add_used(tx, id, reset_at, window, n)? {
            stored.push((id, reset_at, window, used));
        }
    }
    for &(id, hour, allowed, refused) in usage {
        db::tokens::limits::add_usage(tx, id, hour, allowed, refused)?;
    }
    Ok(stored)
}

/// Deletes console sessions that ended before `now`.
pub fn end_expired_sessions(tx: &mut Tx, now: i64) -> Result<usize> {
    Ok(db::sessions::delete_expired(tx, now)?)
}
