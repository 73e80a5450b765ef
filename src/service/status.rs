//! What the operational endpoints and the sync job ask of the database: readiness, counts and
//! the cross-process write epoch.

use crate::db::{self, Connection};
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
