//! Sliding-window limits kept in the database, so every replica counts the same events.
//! Called inside a write transaction: writes are serialized, so check and count are atomic.

use super::{params, Result, Tx};

/// Counts one event of `name`/`key` at `now` unless `max` already fall inside the window of
/// `window_ms`; then `Some(ms until the oldest leaves it)` and nothing is counted.
pub fn hit(
    tx: &Tx,
    name: &str,
    key: &str,
    max: usize,
    window_ms: i64,
    now: i64,
) -> Result<Option<i64>> {
    let since = now - window_ms;
    tx.execute(
        "DELETE FROM limit_events WHERE name = $1 AND key = $2 AND at <= $3",
        params![name, key, since],
    )?;
    let (count, oldest): (i64, Option<i64>) = tx.query_row(
        "SELECT COUNT(*), MIN(at) FROM limit_events WHERE name = $1 AND key = $2",
        params![name, key],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if count >= max as i64 {
        return Ok(Some(oldest.unwrap_or(now) + window_ms - now));
    }
    tx.execute(
        "INSERT INTO limit_events (name, key, at) VALUES ($1, $2, $3)",
        params![name, key, now],
    )?;
    Ok(None)
}

/// Forgets the events of `name`/`key` (a successful login clears its failures).
pub fn clear(tx: &Tx, name: &str, key: &str) -> Result<()> {
    tx.execute(
        "DELETE FROM limit_events WHERE name = $1 AND key = $2",
        params![name, key],
    )?;
    Ok(())
}

/// Removes one event of `name`/`key` counted at `at` (an attempt that was not a failure).
pub fn release(tx: &Tx, name: &str, key: &str, at: i64) -> Result<()> {
    // One row, not every row of that millisecond: another attempt may share it.
    let row = match tx.backend() {
        super::Backend::Postgres => "ctid",
        super::Backend::Sqlite => "rowid",
    };
    tx.execute(
        &format!(
            "DELETE FROM limit_events WHERE {row} IN (SELECT {row} FROM limit_events
             WHERE name = $1 AND key = $2 AND at = $3 LIMIT 1)"
        ),
        params![name, key, at],
    )?;
    Ok(())
}

/// Drops every event older than `before` (housekeeping of keys never seen again).
pub fn prune(tx: &Tx, before: i64) -> Result<usize> {
    tx.execute("DELETE FROM limit_events WHERE at < $1", params![before])
}
