//! SQL for users.

use crate::db::{params, Connection, Result, Row, Tx};

use crate::domain::names::Email;
use crate::domain::permissions::PermissionSet;
use crate::domain::roles::Role;
use crate::domain::user::User;

const COLUMNS: &str = "u.id, u.company_id, u.email, u.name, u.role, u.permissions, u.enabled, \
                       u.sso, u.password_hash IS NOT NULL, u.created_at, u.updated_at, u.role_id";

/// How many columns `COLUMNS` has (joins read theirs after it).
pub const WIDTH: usize = 12;

/// Reads a user from `COLUMNS` starting at column `at` (so joins can embed it).
pub fn from_row_at(r: &Row, at: usize) -> Result<User> {
    Ok(User {
        id: r.get(at)?,
        company_id: r.get(at + 1)?,
        email: r.get(at + 2)?,
        name: r.get(at + 3)?,
        role: super::parse_column(r, at + 4, "role", Role::parse_stored)?,
        custom: PermissionSet::from_storage(&r.get::<String>(at + 5)?),
        enabled: r.get(at + 6)?,
        sso: r.get(at + 7)?,
        has_password: r.get(at + 8)?,
        created_at: r.get(at + 9)?,
        updated_at: r.get(at + 10)?,
        role_id: r.get(at + 11)?,
    })
}

pub fn columns() -> &'static str {
    COLUMNS
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<User>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM users u WHERE u.id = $1"),
        params![id],
        |r| from_row_at(r, 0),
    )
}

pub fn by_email(conn: &Connection, email: &Email) -> Result<Option<User>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM users u WHERE u.email = $1"),
        params![email.as_str()],
        |r| from_row_at(r, 0),
    )
}

/// The user and its password hash, for login.
pub fn credentials(conn: &Connection, email: &Email) -> Result<Option<(User, Option<String>)>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS}, u.password_hash FROM users u WHERE u.email = $1"),
        params![email.as_str()],
        |r| Ok((from_row_at(r, 0)?, r.get(WIDTH)?)),
    )
}

/// A user's password hash (`None` when it has none), for re-authentication (rule 37).
pub fn password_hash(conn: &Connection, id: i64) -> Result<Option<String>> {
    Ok(conn
        .query_opt(
            "SELECT password_hash FROM users WHERE id = $1",
            params![id],
            |r| r.get::<Option<String>>(0),
        )?
        .flatten())
}

pub struct NewUser<'a> {
    pub company_id: i64,
    pub email: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub custom: PermissionSet,
    pub enabled: bool,
    pub sso: bool,
    pub password_hash: Option<&'a str>,
    pub now: i64,
    pub role_id: Option<i64>,
}

pub fn insert(tx: &Tx, u: &NewUser) -> Result<i64> {
    tx.touch_auth();
    tx.query_row(
        "INSERT INTO users (company_id, email, name, role, permissions, enabled, sso,
                            password_hash, created_at, updated_at, role_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)
         RETURNING id",
        params![
            u.company_id,
            u.email,
            u.name,
            u.role.name(),
            u.custom.to_storage(),
            u.enabled,
            u.sso,
            u.password_hash,
            u.now,
            u.role_id,
        ],
        |r| r.get(0),
    )
}

/// Writes every mutable field of `u` (the service computed the new state).
pub fn update(tx: &Tx, u: &User, now: i64) -> Result<()> {
    tx.touch_auth();
    tx.execute(
        "UPDATE users SET email = $1, name = $2, role = $3, permissions = $4, enabled = $5,
                          sso = $6, updated_at = $7, role_id = $9 WHERE id = $8",
        params![
            u.email,
            u.name,
            u.role.name(),
            u.custom.to_storage(),
            u.enabled,
            u.sso,
            now,
            u.id,
            u.role_id
        ],
    )?;
    Ok(())
}

pub fn set_password(tx: &Tx, id: i64, hash: Option<&str>) -> Result<()> {
    tx.touch_auth();
    tx.execute(
        "UPDATE users SET password_hash = $1 WHERE id = $2",
        params![hash, id],
    )?;
    Ok(())
}

pub fn delete(tx: &Tx, id: i64) -> Result<()> {
    tx.touch_auth();
    tx.execute("DELETE FROM users WHERE id = $1", params![id])?;
    Ok(())
}

/// Users in `company` (all companies when `None`), newest first, ids below `before`.
pub fn list(
    conn: &Connection,
    company: Option<i64>,
    before: Option<i64>,
    limit: usize,
) -> Result<Vec<User>> {
    conn.query_map(
        &format!(
            "SELECT {COLUMNS} FROM users u
         WHERE (CAST($1 AS BIGINT) IS NULL OR u.company_id = $1) AND (CAST($2 AS BIGINT) IS NULL OR u.id < $2)
         ORDER BY u.id DESC LIMIT $3"
        ),
        params![company, before, limit as i64],
        |r| from_row_at(r, 0),
    )
}

/// Users of `company` (every company when `None`) whose email or name contains `needle`
/// (case-insensitive), by email, skipping `offset` and returning at most `limit`.
pub fn search(
    conn: &Connection,
    company: Option<i64>,
    needle: &str,
    offset: usize,
    limit: usize,
) -> Result<Vec<User>> {
    let pattern = super::contains_pattern(needle);
    conn.query_map(
        &format!(
            "SELECT {COLUMNS} FROM users u
         WHERE (CAST($1 AS BIGINT) IS NULL OR u.company_id = $1)
           AND (u.email LIKE $2 ESCAPE '\\' OR lower(u.name) LIKE $2 ESCAPE '\\')
         ORDER BY u.email LIMIT $3 OFFSET $4"
        ),
        params![company, pattern, limit as i64, offset as i64],
        |r| from_row_at(r, 0),
    )
}

pub fn count(conn: &Connection) -> Result<i64> {
    conn.query_row("SELECT COUNT(*) FROM users", params![], |r| r.get(0))
}

/// Enabled global administrators (bootstrap and "last admin" checks).
pub fn first_global_admin(conn: &Connection) -> Result<Option<User>> {
    conn.query_opt(
        &format!(
            "SELECT {COLUMNS} FROM users u WHERE u.role = 'global_admin' AND u.enabled = 1
             ORDER BY u.id LIMIT 1"
        ),
        params![],
        |r| from_row_at(r, 0),
    )
}
