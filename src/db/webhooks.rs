//! SQL for the webhook outbox and expiry-warning bookkeeping.

use crate::db::{params, Connection, Result, Row, Tx};

#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub company_id: i64,
    pub event_id: String,
    pub event_type: String,
    pub token_id: Option<i64>,
    pub body: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub delivered_at: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
}

const SELECT: &str = "SELECT id, company_id, event_id, event_type, token_id, body, attempts,
        next_attempt_at, delivered_at, last_error, created_at FROM webhook_outbox";

fn from_row(r: &Row) -> Result<Delivery> {
    Ok(Delivery {
        id: r.get(0)?,
        company_id: r.get(1)?,
        event_id: r.get(2)?,
        event_type: r.get(3)?,
        token_id: r.get(4)?,
        body: r.get(5)?,
        attempts: r.get(6)?,
        next_attempt_at: r.get(7)?,
        delivered_at: r.get(8)?,
        last_error: r.get(9)?,
        created_at: r.get(10)?,
    })
}

pub fn insert(
    tx: &Tx,
    company_id: i64,
    event_id: &str,
    event_type: &str,
    token_id: Option<i64>,
    body: &str,
    now: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO webhook_outbox (company_id, event_id, event_type, token_id, body,
                                     next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
        params![company_id, event_id, event_type, token_id, body, now],
    )?;
    Ok(())
}

/// Undelivered events due at `now`, oldest first.
pub fn due(conn: &Connection, now: i64, limit: usize) -> Result<Vec<Delivery>> {
    conn.query_map(
        &format!(
            "{SELECT} WHERE delivered_at IS NULL AND next_attempt_at <= $1
         ORDER BY next_attempt_at, id LIMIT $2"
        ),
        params![now, limit as i64],
        from_row,
    )
}

pub fn mark_delivered(tx: &Tx, id: i64, now: i64) -> Result<()> {
    tx.execute(
        "UPDATE webhook_outbox SET delivered_at = $1, attempts = attempts + 1, last_error = NULL
         WHERE id = $2",
        params![now, id],
    )?;
    Ok(())
}

/// Records a failed attempt; `next` is `None` when the event is given up.
pub fn mark_failed(tx: &Tx, id: i64, error: &str, next: Option<i64>) -> Result<()> {
    tx.execute(
        "UPDATE webhook_outbox SET attempts = attempts + 1, last_error = $1,
                next_attempt_at = COALESCE($2, 9223372036854775807)
         WHERE id = $3",
        params![error, next, id],
    )?;
    Ok(())
}

pub fn list(
    conn: &Connection,
    company_id: Option<i64>,
    before: Option<i64>,
    limit: usize,
) -> Result<Vec<Delivery>> {
    conn.query_map(
        &format!(
            "{SELECT} WHERE (CAST($1 AS BIGINT) IS NULL OR company_id = $1) AND (CAST($2 AS BIGINT) IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3"
        ),
        params![company_id, before, limit as i64],
        from_row,
    )
}

/// Enabled tokens expiring within (now, until] that have not had `warning` for that expiry.
pub fn expiring_unwarned(
    conn: &Connection,
    now: i64,
    until: i64,
    warning: &str,
) -> Result<Vec<i64>> {
    conn.query_map(
        "SELECT t.id FROM tokens t WHERE t.enabled = 1 AND t.expires_at > $1 AND t.expires_at <= $2
           AND NOT EXISTS (SELECT 1 FROM token_warnings w WHERE w.token_id = t.id
                           AND w.warning = $3 AND w.expires_at = t.expires_at)",
        params![now, until, warning],
        |r| r.get(0),
    )
}

pub fn mark_warned(tx: &Tx, token_id: i64, warning: &str, expires_at: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO token_warnings (token_id, warning, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
        params![token_id, warning, expires_at],
    )?;
    Ok(())
}

pub fn company_target(
    conn: &Connection,
    company_id: i64,
) -> Result<Option<(String, Option<String>)>> {
    conn.query_opt(
        "SELECT webhook_url, webhook_secret FROM companies WHERE id = $1 AND webhook_url IS NOT NULL", params![company_id],
        |r| Ok((r.get(0)?, r.get(1)?)))
}

/// Whether an event `event_type` about `token_id` was queued at or after `since`.
pub fn queued_since(
    conn: &Connection,
    token_id: i64,
    event_type: &str,
    since: i64,
) -> Result<bool> {
    Ok(conn
        .query_opt(
            "SELECT 1 FROM webhook_outbox WHERE token_id = $1 AND event_type = $2
               AND created_at >= $3 LIMIT 1",
            params![token_id, event_type, since],
            |r| r.get::<i64>(0),
        )?
        .is_some())
}
