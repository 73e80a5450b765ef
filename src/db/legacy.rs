//! SQL for legacy (UUID + secret) credentials. The secret is stored only as a keyed digest.

use crate::db::{params, Connection, Result, Tx};
use crate::domain::token_value::legacy_key;

/// New legacy credentials; the UUID's filter key becomes known.
pub fn insert(tx: &Tx, token_id: i64, uuid: &str, secret_digest: &[u8], now: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO legacy_credentials (token_id, uuid, secret_digest, created_at)
         VALUES ($1, $2, $3, $4)",
        params![token_id, uuid, secret_digest, now],
    )?;
    tx.digest_added(legacy_key(uuid));
    Ok(())
}

/// The token and secret digest behind a UUID.
pub fn by_uuid(conn: &Connection, uuid: &str) -> Result<Option<(i64, Vec<u8>)>> {
    conn.query_opt(
        "SELECT token_id, secret_digest FROM legacy_credentials WHERE uuid = $1",
        params![uuid],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

pub fn uuid_exists(conn: &Connection, uuid: &str) -> Result<bool> {
    Ok(by_uuid(conn, uuid)?.is_some())
}

/// Ends backward compatibility for a token (rule 21): the credentials are erased and the UUID
/// retired for good. Returns the UUID that stopped working, if there was one.
pub fn take_for_token(tx: &Tx, token_id: i64, now: i64) -> Result<Option<String>> {
    let uuid: Option<String> = tx.query_opt(
        "SELECT uuid FROM legacy_credentials WHERE token_id = $1",
        params![token_id],
        |r| r.get(0),
    )?;
    if let Some(u) = &uuid {
        tx.digest_removed(legacy_key(u));
        tx.execute(
            "DELETE FROM legacy_credentials WHERE token_id = $1",
            params![token_id],
        )?;
        tx.execute(
            "INSERT INTO retired_legacy_uuids (uuid, retired_at) VALUES ($1, $2)
             ON CONFLICT (uuid) DO NOTHING",
            params![u, now],
        )?;
    }
    Ok(uuid)
}

/// Whether a UUID's backward compatibility has ended (it may never be used again).
pub fn uuid_retired(conn: &Connection, uuid: &str) -> Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM retired_legacy_uuids WHERE uuid = $1)",
        params![uuid],
        |r| r.get(0),
    )
}

pub fn all_uuids(conn: &Connection) -> Result<Vec<String>> {
    conn.query_map("SELECT uuid FROM legacy_credentials", params![], |r| {
        r.get(0)
    })
}
