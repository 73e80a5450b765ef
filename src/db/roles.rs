//! SQL for company roles (SPEC §18).

use crate::db::{params, Connection, Result, Row, Tx};
use crate::domain::permissions::PermissionSet;

#[derive(Debug, Clone)]
pub struct RoleRow {
    pub id: i64,
    pub company_id: i64,
    pub name: String,
    pub description: String,
    pub permissions: PermissionSet,
    pub created_at: i64,
    pub updated_at: i64,
}

const SELECT: &str =
    "SELECT id, company_id, name, description, permissions, created_at, updated_at FROM roles";

fn from_row(r: &Row) -> Result<RoleRow> {
    Ok(RoleRow {
        id: r.get(0)?,
        company_id: r.get(1)?,
        name: r.get(2)?,
        description: r.get(3)?,
        permissions: PermissionSet::from_storage(&r.get::<String>(4)?),
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

pub fn list(conn: &Connection, company_id: i64) -> Result<Vec<RoleRow>> {
    conn.query_map(
        &format!("{SELECT} WHERE company_id = $1 ORDER BY name_key"),
        params![company_id],
        from_row,
    )
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<RoleRow>> {
    conn.query_opt(&format!("{SELECT} WHERE id = $1"), params![id], from_row)
}

pub fn insert(
    tx: &Tx,
    company_id: i64,
    name: &str,
    description: &str,
    permissions: &PermissionSet,
    now: i64,
) -> Result<i64> {
    tx.touch_auth();
    tx.query_row(
        "INSERT INTO roles (company_id, name, name_key, description, permissions, created_at,
                            updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        params![
            company_id,
            name,
            name.to_lowercase(),
            description,
            permissions.to_storage(),
            now
        ],
        |r| r.get(0),
    )
}

pub fn update(tx: &Tx, r: &RoleRow, now: i64) -> Result<()> {
    tx.touch_auth();
    tx.execute(
        "UPDATE roles SET name = $1, name_key = $2, description = $3, permissions = $4,
                          updated_at = $5 WHERE id = $6",
        params![
            r.name,
            r.name.to_lowercase(),
            r.description,
            r.permissions.to_storage(),
            now,
            r.id
        ],
    )?;
    Ok(())
}

pub fn delete(tx: &Tx, id: i64) -> Result<()> {
    tx.touch_auth();
    tx.execute("DELETE FROM roles WHERE id = $1", params![id])?;
    Ok(())
}

/// Ids of the users holding the role.
pub fn holders(conn: &Connection, role_id: i64) -> Result<Vec<i64>> {
    conn.query_map(
        "SELECT id FROM users WHERE role_id = $1 ORDER BY id",
        params![role_id],
        |r| r.get(0),
    )
}

/// Ids of the company's roles whose set may name `name` (see `scopes::holding_pattern`).
pub fn naming(conn: &Connection, company_id: i64, name: &str) -> Result<Vec<i64>> {
    conn.query_map(
        "SELECT id FROM roles WHERE company_id = $1 AND (' ' || permissions || ' ') LIKE $2
         ORDER BY id",
        params![company_id, super::scopes::holding_pattern(name)],
        |r| r.get(0),
    )
}
