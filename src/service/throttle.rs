//! Limits counted in the database (PostgreSQL, so every replica counts the same events): the
//! sliding windows of `state::throttle` when several processes share them.

use crate::db::{self, Tx};
use crate::service::error::Result;

/// Counts one event of limit `name` for `key` unless `max` fall in the window; then
/// `Err(seconds to wait)`. Kept in the database, so every replica counts the same events.
pub fn hit(
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
pub fn clear(tx: &mut Tx, name: &str, key: &str, before: i64) -> Result<()> {
    db::limits::clear(tx, name, key)?;
    db::limits::prune(tx, before)?;
    Ok(())
}

/// Takes back one event of limit `name` counted for `key` at `at`.
pub fn release(tx: &mut Tx, name: &str, key: &str, at: i64) -> Result<()> {
    db::limits::release(tx, name, key, at)?;
    Ok(())
}
