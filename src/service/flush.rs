//! The scheduler's flush of what the hot path buffers in memory: last-use data, quota counts
//! and hourly usage counts.

use crate::db::{self, Tx};
use crate::service::error::Result;

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
