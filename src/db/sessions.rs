//! SQL for console sessions. The cookie value is never stored: only its SHA-256.

use crate::db::{params, Connection, Result, Tx};

use crate::domain::user::User;

pub fn insert(
    tx: &Tx,
    id_digest: &[u8],
    user_id: i64,
    csrf: &str,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO sessions (id_digest, user_id, csrf_token, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
        params![id_digest, user_id, csrf, now, expires_at],
    )?;
    Ok(())
}

/// The session's user and CSRF token, if the session exists and has not expired.
pub fn lookup(conn: &Connection, id_digest: &[u8], now: i64) -> Result<Option<(User, String)>> {
    conn.query_opt(
        &format!(
            "SELECT {}, s.csrf_token FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id_digest = $1 AND s.expires_at > $2",
            super::users::columns()
        ),
        params![id_digest, now],
        |r| {
            Ok((
                super::users::from_row_at(r, 0)?,
                r.get(super::users::WIDTH)?,
            ))
        },
    )
}

pub fn delete(tx: &Tx, id_digest: &[u8]) -> Result<()> {
    tx.execute(
        "DELETE FROM sessions WHERE id_digest = $1",
        params![id_digest],
    )?;
    Ok(())
}

/// Ends every session of a user (disabled, password changed, switched to SSO).
pub fn delete_for_user(tx: &Tx, user_id: i64) -> Result<usize> {
    tx.execute("DELETE FROM sessions WHERE user_id = $1", params![user_id])
}

pub fn delete_expired(tx: &Tx, now: i64) -> Result<usize> {
    tx.execute("DELETE FROM sessions WHERE expires_at <= $1", params![now])
}

/// Keeps `sealed` (a value page waiting for its one view) in the session of `user_id` whose
/// CSRF token is `csrf`, replacing any earlier one. Returns whether the session exists.
pub fn set_pending(tx: &Tx, user_id: i64, csrf: &str, sealed: &[u8]) -> Result<bool> {
    let n = tx.execute(
        "UPDATE sessions SET pending_value = $1 WHERE user_id = $2 AND csrf_token = $3",
        params![sealed, user_id, csrf],
    )?;
    Ok(n > 0)
}

/// The value page waiting in that session, if any.
pub fn pending(conn: &Connection, user_id: i64, csrf: &str) -> Result<Option<Vec<u8>>> {
    let sealed: Option<Option<Vec<u8>>> = conn.query_opt(
        "SELECT pending_value FROM sessions WHERE user_id = $1 AND csrf_token = $2",
        params![user_id, csrf],
        |r| r.get(0),
    )?;
    Ok(sealed.flatten())
}

/// Forgets the value page waiting in that session.
pub fn clear_pending(tx: &Tx, user_id: i64, csrf: &str) -> Result<()> {
    tx.execute(
        "UPDATE sessions SET pending_value = NULL WHERE user_id = $1 AND csrf_token = $2",
        params![user_id, csrf],
    )?;
    Ok(())
}
