//! SQL for filtering nodes and their node tokens.

use crate::db::{params, Connection, Result, Row, Tx};

use crate::domain::token_value::TokenDigest;

#[derive(Debug, Clone)]
pub struct NodeRow {
    pub id: i64,
    pub company_id: i64,
    pub name: String,
    pub token_digest: TokenDigest,
    pub token_hint: String,
    pub creator_id: Option<i64>,
    pub created_at: i64,
    pub last_seen_at: Option<i64>,
    pub last_seen_ip: Option<String>,
    pub version: Option<String>,
    /// Why the node token stopped working (`leaked`, rule 35); `None` while it works.
    pub token_disabled_reason: Option<String>,
}

const SELECT: &str = "SELECT id, company_id, name, token_digest, token_hint, creator_id,
        created_at, last_seen_at, last_seen_ip, version, token_disabled_reason FROM nodes";

fn from_row(r: &Row) -> Result<NodeRow> {
    Ok(NodeRow {
        id: r.get(0)?,
        company_id: r.get(1)?,
        name: r.get(2)?,
        token_digest: super::digest_column(r, 3)?,
        token_hint: r.get(4)?,
        creator_id: r.get(5)?,
        created_at: r.get(6)?,
        last_seen_at: r.get(7)?,
        last_seen_ip: r.get(8)?,
        version: r.get(9)?,
        token_disabled_reason: r.get(10)?,
    })
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<NodeRow>> {
    conn.query_opt(&format!("{SELECT} WHERE id = $1"), params![id], from_row)
}

pub fn by_digest(conn: &Connection, d: &TokenDigest) -> Result<Option<NodeRow>> {
    conn.query_opt(
        &format!("{SELECT} WHERE token_digest = $1"),
        params![&d.0[..]],
        from_row,
    )
}

/// Disables a node's token (rule 35). The row keeps the digest, so the value is still
/// recognised by a lookup; it leaves the hot path's filter (which knows enabled node tokens).
pub fn disable_token(tx: &Tx, id: i64, reason: &str, now: i64) -> Result<()> {
    let enabled = enabled_digest(tx, id)?;
    tx.execute(
        "UPDATE nodes SET token_disabled_at = $1, token_disabled_reason = $2 WHERE id = $3",
        params![now, reason, id],
    )?;
    tx.touch_auth();
    if let Some(d) = enabled {
        tx.digest_removed(d);
    }
    Ok(())
}

/// The token digest of node `id` while its token is enabled.
fn enabled_digest(tx: &Tx, id: i64) -> Result<Option<TokenDigest>> {
    tx.query_opt(
        "SELECT token_digest FROM nodes WHERE id = $1 AND token_disabled_at IS NULL",
        params![id],
        |r| super::digest_column(r, 0),
    )
}

pub fn list(
    conn: &Connection,
    company: Option<i64>,
    before: Option<i64>,
    limit: usize,
) -> Result<Vec<NodeRow>> {
    conn.query_map(
        &format!(
            "{SELECT} WHERE (CAST($1 AS BIGINT) IS NULL OR company_id = $1) AND (CAST($2 AS BIGINT) IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3"
        ),
        params![company, before, limit as i64],
        from_row,
    )
}

pub fn insert(
    tx: &Tx,
    company_id: i64,
    name: &str,
    digest: &TokenDigest,
    hint: &str,
    creator_id: i64,
    now: i64,
) -> Result<i64> {
    let id = tx.query_row(
        "INSERT INTO nodes (company_id, name, token_digest, token_hint, creator_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        params![company_id, name, &digest.0[..], hint, creator_id, now],
        |r| r.get(0),
    )?;
    tx.digest_added(*digest);
    Ok(id)
}

/// Deletes a node; its token's digest leaves the filter (unless it was disabled already).
pub fn delete(tx: &Tx, id: i64) -> Result<()> {
    let enabled = enabled_digest(tx, id)?;
    tx.execute("DELETE FROM nodes WHERE id = $1", params![id])?;
    tx.touch_auth();
    if let Some(d) = enabled {
        tx.digest_removed(d);
    }
    Ok(())
}

pub fn heartbeat(tx: &Tx, id: i64, now: i64, ip: &str, version: Option<&str>) -> Result<()> {
    tx.execute(
        "UPDATE nodes SET last_seen_at = $1, last_seen_ip = $2, version = COALESCE($3, version)
         WHERE id = $4",
        params![now, ip, version, id],
    )?;
    Ok(())
}
