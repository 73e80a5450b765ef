//! SQL for legacy (UUID + secret) credentials. The secret is stored only as a keyed digest.

use rusqlite::{params, Connection, OptionalExtension};

pub fn insert(
    conn: &Connection,
    token_id: i64,
    uuid: &str,
    secret_digest: &[u8],
    now: i64,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO legacy_credentials (token_id, uuid, secret_digest, created_at)
         VALUES ($1, $2, $3, $4)",
        params![token_id, uuid, secret_digest, now],
    )?;
    Ok(())
}

/// The token and secret digest behind a UUID.
pub fn by_uuid(conn: &Connection, uuid: &str) -> rusqlite::Result<Option<(i64, Vec<u8>)>> {
    conn.prepare_cached("SELECT token_id, secret_digest FROM legacy_credentials WHERE uuid = $1")?
        .query_row([uuid], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

pub fn uuid_exists(conn: &Connection, uuid: &str) -> rusqlite::Result<bool> {
    Ok(by_uuid(conn, uuid)?.is_some())
}

/// Ends backward compatibility for a token (rule 21): the credentials are erased and the UUID
/// retired for good. Returns the UUID that stopped working, if there was one.
pub fn take_for_token(
    conn: &Connection,
    token_id: i64,
    now: i64,
) -> rusqlite::Result<Option<String>> {
    let uuid: Option<String> = conn
        .query_row(
            "SELECT uuid FROM legacy_credentials WHERE token_id = $1",
            [token_id],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(u) = &uuid {
        conn.execute(
            "DELETE FROM legacy_credentials WHERE token_id = $1",
            [token_id],
        )?;
        conn.execute(
            "INSERT INTO retired_legacy_uuids (uuid, retired_at) VALUES ($1, $2)
             ON CONFLICT (uuid) DO NOTHING",
            params![u, now],
        )?;
    }
    Ok(uuid)
}

/// Whether a UUID's backward compatibility has ended (it may never be used again).
pub fn uuid_retired(conn: &Connection, uuid: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM retired_legacy_uuids WHERE uuid = $1)",
        [uuid],
        |r| r.get(0),
    )
}

pub fn all_uuids(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT uuid FROM legacy_credentials")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    rows.collect()
}
