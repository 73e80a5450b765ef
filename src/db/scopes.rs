//! SQL for API scopes (per company, SPEC §18) and the rows that hold one by name.

use crate::db::{params, Connection, Result, Row, Tx};
use crate::domain::permissions::SEED_SCOPES;

#[derive(Debug, Clone)]
pub struct ScopeRow {
    pub id: i64,
    pub company_id: i64,
    pub name: String,
    pub description: String,
    pub created_at: i64,
}

const SELECT: &str = "SELECT id, company_id, name, description, created_at FROM scopes";

fn from_row(r: &Row) -> Result<ScopeRow> {
    Ok(ScopeRow {
        id: r.get(0)?,
        company_id: r.get(1)?,
        name: r.get(2)?,
        description: r.get(3)?,
        created_at: r.get(4)?,
    })
}

/// Every scope of a company, by name.
pub fn list(conn: &Connection, company_id: i64) -> Result<Vec<ScopeRow>> {
    conn.query_map(
        &format!("{SELECT} WHERE company_id = $1 ORDER BY name"),
        params![company_id],
        from_row,
    )
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<ScopeRow>> {
    conn.query_opt(&format!("{SELECT} WHERE id = $1"), params![id], from_row)
}

/// Whether the company defines the scope `name`.
pub fn defines(conn: &Connection, company_id: i64, name: &str) -> Result<bool> {
    Ok(conn
        .query_opt(
            "SELECT 1 FROM scopes WHERE company_id = $1 AND name = $2",
            params![company_id, name],
            |r| r.get::<i64>(0),
        )?
        .is_some())
}

/// The names of a company's scopes, sorted.
pub fn names(conn: &Connection, company_id: i64) -> Result<Vec<String>> {
    conn.query_map(
        "SELECT name FROM scopes WHERE company_id = $1 ORDER BY name",
        params![company_id],
        |r| r.get(0),
    )
}

pub fn count(conn: &Connection, company_id: i64) -> Result<i64> {
    conn.query_row(
        "SELECT COUNT(*) FROM scopes WHERE company_id = $1",
        params![company_id],
        |r| r.get(0),
    )
}

pub fn insert(tx: &Tx, company_id: i64, name: &str, description: &str, now: i64) -> Result<i64> {
    tx.touch_auth();
    tx.query_row(
        "INSERT INTO scopes (company_id, name, description, created_at)
         VALUES ($1, $2, $3, $4) RETURNING id",
        params![company_id, name, description, now],
        |r| r.get(0),
    )
}

pub fn set_description(tx: &Tx, id: i64, description: &str) -> Result<()> {
    tx.touch_auth();
    tx.execute(
        "UPDATE scopes SET description = $1 WHERE id = $2",
        params![description, id],
    )?;
    Ok(())
}

pub fn delete(tx: &Tx, id: i64) -> Result<()> {
    tx.touch_auth();
    tx.execute("DELETE FROM scopes WHERE id = $1", params![id])?;
    Ok(())
}

/// A new company's catalogue: the seed scopes.
pub fn seed(tx: &Tx, company_id: i64, now: i64) -> Result<()> {
    tx.touch_auth();
    for (name, description) in SEED_SCOPES {
        insert(tx, company_id, name, description, now)?;
    }
    Ok(())
}

/// The `LIKE` pattern of rows whose space-separated permission column may hold `name`
/// (`_` matches any character: callers check the parsed set).
pub fn holding_pattern(name: &str) -> String {
    format!("% {name} %")
}

/// Ids of the company's tokens whose stored permissions may name `name`.
pub fn tokens_naming(conn: &Connection, company_id: i64, name: &str) -> Result<Vec<i64>> {
    conn.query_map(
        "SELECT id FROM tokens WHERE company_id = $1 AND (' ' || permissions || ' ') LIKE $2
         ORDER BY id",
        params![company_id, holding_pattern(name)],
        |r| r.get(0),
    )
}

/// Ids of the company's users whose stored set may name `name`.
pub fn users_naming(conn: &Connection, company_id: i64, name: &str) -> Result<Vec<i64>> {
    conn.query_map(
        "SELECT id FROM users WHERE company_id = $1 AND (' ' || permissions || ' ') LIKE $2
         ORDER BY id",
        params![company_id, holding_pattern(name)],
        |r| r.get(0),
    )
}
