//! Maintenance queries: what the scheduled jobs look for and clear.

use crate::db::{params, Connection, Result, Tx};

use super::{from_row, TokenRow, SELECT};
use crate::db::{parse_column, users};
use crate::domain::permissions::PermissionSet;
use crate::domain::token::TokenKind;
use crate::domain::token_value::TokenDigest;
use crate::domain::user::User;

/// Enabled tokens whose expiry has passed (the expiry job), at most `limit`.
pub fn expired_enabled(conn: &Connection, now: i64, limit: usize) -> Result<Vec<TokenRow>> {
    conn.query_map(
        &format!(
            "{SELECT} WHERE t.enabled = 1 AND t.expires_at IS NOT NULL AND t.expires_at <= $1
         ORDER BY t.expires_at LIMIT $2"
        ),
        params![now, limit as i64],
        from_row,
    )
}

/// Tokens disabled at or before `cutoff` (the purge job), at most `limit`.
pub fn disabled_before(conn: &Connection, cutoff: i64, limit: usize) -> Result<Vec<TokenRow>> {
    conn.query_map(
        &format!(
            "{SELECT} WHERE t.enabled = 0 AND t.disabled_at <= $1 ORDER BY t.disabled_at LIMIT $2"
        ),
        params![cutoff, limit as i64],
        from_row,
    )
}

/// What a token holds beside its owner (the reconcile job's light read of every token).
pub struct Holding {
    pub token_id: i64,
    pub kind: TokenKind,
    pub permissions: PermissionSet,
    pub enabled: bool,
    pub owner: User,
}

/// Calls `keep` with every token's [`Holding`], one row at a time, and returns the ids it
/// kept (the service decides which are inconsistent).
pub fn holdings_where(
    conn: &Connection,
    mut keep: impl FnMut(&Holding) -> bool,
) -> Result<Vec<i64>> {
    let sql = format!(
        "SELECT t.id, t.kind, t.permissions, t.enabled, {}
         FROM tokens t JOIN users u ON u.id = t.owner_id",
        users::columns()
    );
    let mut out = Vec::new();
    conn.query_each(&sql, params![], |r| {
        let h = Holding {
            token_id: r.get(0)?,
            kind: parse_column(r, 1, "token kind", TokenKind::parse)?,
            permissions: PermissionSet::from_storage(&r.get::<String>(2)?),
            enabled: r.get(3)?,
            owner: users::from_row_at(r, 4)?,
        };
        if keep(&h) {
            out.push(h.token_id);
        }
        Ok(())
    })?;
    Ok(out)
}

/// Enabled tokens not used since `cutoff` in one company (idle policy).
pub fn idle_enabled(conn: &Connection, company_id: i64, cutoff: i64) -> Result<Vec<TokenRow>> {
    conn.query_map(
        &format!(
            "{SELECT} WHERE t.company_id = $1 AND t.enabled = 1
           AND COALESCE(t.last_used_at, t.created_at) < $2"
        ),
        params![company_id, cutoff],
        from_row,
    )
}

/// Every digest the hot-path filter must know: current and in-grace previous values.
pub fn all_digests(conn: &Connection) -> Result<Vec<TokenDigest>> {
    let mut out = Vec::new();
    conn.query_each(
        "SELECT digest FROM tokens
         UNION ALL SELECT prev_digest FROM tokens WHERE prev_digest IS NOT NULL
         UNION ALL SELECT token_digest FROM nodes WHERE token_disabled_at IS NULL",
        params![],
        |r| {
            if let Some(d) = TokenDigest::from_slice(&r.get::<Vec<u8>>(0)?) {
                out.push(d);
            }
            Ok(())
        },
    )?;
    Ok(out)
}

/// Writes buffered last-use data.
pub fn record_use(tx: &Tx, id: i64, at: i64, ip: &str) -> Result<()> {
    tx.execute("UPDATE tokens SET last_used_at = CASE WHEN last_used_at > $1 THEN last_used_at ELSE $1 END, last_used_ip = $2
         WHERE id = $3", params![at, ip, id])?;
    tx.execute("INSERT INTO token_recent_ips (token_id, ip, first_seen_at, last_seen_at)
         SELECT CAST($1 AS BIGINT), $2, CAST($3 AS BIGINT), CAST($3 AS BIGINT) WHERE EXISTS (SELECT 1 FROM tokens WHERE id = $1)
         ON CONFLICT (token_id, ip) DO UPDATE SET last_seen_at = CASE
             WHEN token_recent_ips.last_seen_at > excluded.last_seen_at
             THEN token_recent_ips.last_seen_at ELSE excluded.last_seen_at END", params![id, ip, at])?;
    tx.execute("DELETE FROM token_recent_ips WHERE token_id = $1 AND ip NOT IN
           (SELECT ip FROM token_recent_ips WHERE token_id = $1 ORDER BY last_seen_at DESC LIMIT 5)", params![id])?;
    Ok(())
}

/// The last distinct client addresses of a token: (ip, first seen, last seen), newest first.
pub fn recent_ips(conn: &Connection, id: i64) -> Result<Vec<(String, i64, i64)>> {
    conn.query_map(
        "SELECT ip, first_seen_at, last_seen_at FROM token_recent_ips WHERE token_id = $1
         ORDER BY last_seen_at DESC LIMIT 5",
        params![id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
}

/// Token counts by status (for metrics): (enabled, disabled).
pub fn count_by_status(conn: &Connection) -> Result<(i64, i64)> {
    conn.query_row(
        "SELECT CAST(COALESCE(SUM(enabled), 0) AS BIGINT),
                CAST(COUNT(*) - COALESCE(SUM(enabled), 0) AS BIGINT) FROM tokens",
        params![],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Clears rotation grace periods that ended (housekeeping; checks happen per request anyway).
/// Returns the digests that stopped being valid (also recorded as removed).
pub fn end_grace(tx: &Tx, now: i64) -> Result<Vec<TokenDigest>> {
    let ended: Vec<Vec<u8>> = tx.query_map(
        "SELECT prev_digest FROM tokens WHERE prev_digest IS NOT NULL AND prev_expires_at <= $1",
        params![now],
        |r| r.get(0),
    )?;
    tx.execute(
        "UPDATE tokens SET prev_digest = NULL, prev_expires_at = NULL
         WHERE prev_digest IS NOT NULL AND prev_expires_at <= $1",
        params![now],
    )?;
    let ended: Vec<TokenDigest> = ended
        .iter()
        .filter_map(|b| TokenDigest::from_slice(b))
        .collect();
    for d in &ended {
        tx.digest_removed(*d);
    }
    Ok(ended)
}
