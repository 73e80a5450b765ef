//! SQL for API tokens: rows, writes, and (in submodules) the hot-path reads, lists and
//! maintenance queries.

mod auth;
mod jobs;
pub mod limits;
mod list;

pub use auth::{auth_lookup, auth_lookup_legacy, AuthRow};
pub use jobs::{
    all_digests, count_by_status, disabled_before, end_grace, expired_enabled, holdings_where,
    idle_enabled, recent_ips, record_use, Holding,
};
pub use list::{count, list, list_sorted};

use crate::db::{params, Connection, Result, Row, Tx};

use crate::domain::permissions::PermissionSet;
use crate::domain::roles::Role;
use crate::domain::token::{Audience, TokenKind};
use crate::domain::token_value::TokenDigest;
use crate::domain::user::permissions_of;

/// A token as stored, with its owner's and creator's names for display.
#[derive(Debug, Clone)]
pub struct TokenRow {
    pub id: i64,
    pub company_id: i64,
    pub owner_id: i64,
    pub owner_email: String,
    pub owner_name: String,
    pub creator_id: Option<i64>,
    pub creator_email: Option<String>,
    pub kind: TokenKind,
    pub audience: Audience,
    pub name: String,
    pub description: String,
    pub permissions: PermissionSet,
    pub role_template: Option<String>,
    pub digest: TokenDigest,
    pub value_hint: String,
    pub has_value: bool,
    pub prev_digest: Option<TokenDigest>,
    pub prev_expires_at: Option<i64>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub allowed_cidrs: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    /// The owner's current permissions (its role's, or its custom set): what bounds the
    /// token's power now (rules 2, 16, 36).
    pub owner_permissions: PermissionSet,
    /// Rate limit, quota and the stored quota count (SPEC §16).
    pub limits: limits::Limits,
}

const SELECT: &str =
    "SELECT t.id, t.company_id, t.owner_id, o.email, o.name, t.creator_id, c.email,
        t.kind, t.audience, t.name, t.description, t.permissions, t.role_template, t.digest,
        t.value_hint, t.value_enc IS NOT NULL, t.prev_digest, t.prev_expires_at, t.enabled,
        t.disabled_reason, t.disabled_at, t.expires_at, t.allowed_cidrs, t.created_at,
        t.updated_at, t.last_used_at, t.last_used_ip, o.role, o.permissions,
        t.rate_requests, t.rate_per_seconds, t.quota_limit, t.quota_period,
        t.quota_used, t.quota_window, t.quota_reset_at
    FROM tokens t JOIN users o ON o.id = t.owner_id LEFT JOIN users c ON c.id = t.creator_id";

fn digest_at(r: &Row, i: usize) -> Result<Option<TokenDigest>> {
    Ok(r.get::<Option<Vec<u8>>>(i)?
        .and_then(|b| TokenDigest::from_slice(&b)))
}

fn from_row(r: &Row) -> Result<TokenRow> {
    Ok(TokenRow {
        id: r.get(0)?,
        company_id: r.get(1)?,
        owner_id: r.get(2)?,
        owner_email: r.get(3)?,
        owner_name: r.get(4)?,
        creator_id: r.get(5)?,
        creator_email: r.get(6)?,
        kind: super::parse_column(r, 7, "token kind", TokenKind::parse)?,
        audience: super::parse_column(r, 8, "audience", Audience::parse)?,
        name: r.get(9)?,
        description: r.get(10)?,
        permissions: PermissionSet::from_storage(&r.get::<String>(11)?),
        role_template: r.get(12)?,
        digest: super::digest_column(r, 13)?,
        value_hint: r.get(14)?,
        has_value: r.get(15)?,
        prev_digest: digest_at(r, 16)?,
        prev_expires_at: r.get(17)?,
        enabled: r.get(18)?,
        disabled_reason: r.get(19)?,
        disabled_at: r.get(20)?,
        expires_at: r.get(21)?,
        allowed_cidrs: r.get(22)?,
        created_at: r.get(23)?,
        updated_at: r.get(24)?,
        last_used_at: r.get(25)?,
        last_used_ip: r.get(26)?,
        owner_permissions: permissions_of(
            super::parse_column(r, 27, "role", Role::parse_stored)?,
            &PermissionSet::from_storage(&r.get::<String>(28)?),
        ),
        limits: limits::Limits::read(r, 29)?,
    })
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<TokenRow>> {
    conn.query_opt(&format!("{SELECT} WHERE t.id = $1"), params![id], from_row)
}

/// The token whose current value, or previous value still in its grace period at `now`, has
/// this digest. A previous value whose grace has ended matches nothing (rule 30), even before
/// the scheduler clears it.
pub fn by_digest(conn: &Connection, d: &TokenDigest, now: i64) -> Result<Option<TokenRow>> {
    conn.query_opt(
        &format!("{SELECT} WHERE t.digest = $1 OR (t.prev_digest = $1 AND t.prev_expires_at > $2)"),
        params![&d.0[..], now],
        from_row,
    )
}

pub fn by_ids(conn: &Connection, ids: &[i64]) -> Result<Vec<TokenRow>> {
    ids.iter()
        .filter_map(|id| get(conn, *id).transpose())
        .collect()
}

pub fn of_owner(conn: &Connection, owner_id: i64) -> Result<Vec<TokenRow>> {
    conn.query_map(
        &format!("{SELECT} WHERE t.owner_id = $1 ORDER BY t.id"),
        params![owner_id],
        from_row,
    )
}

pub struct NewToken<'a> {
    pub company_id: i64,
    pub owner_id: i64,
    pub creator_id: Option<i64>,
    pub kind: TokenKind,
    pub audience: Audience,
    pub name: &'a str,
    pub description: &'a str,
    pub permissions: PermissionSet,
    pub role_template: Option<&'a str>,
    pub digest: TokenDigest,
    pub value_hint: &'a str,
    pub value_enc: Option<Vec<u8>>,
    pub enabled: bool,
    pub expires_at: Option<i64>,
    pub allowed_cidrs: &'a str,
    pub now: i64,
}

/// A new token; its digest becomes a valid value.
pub fn insert(tx: &Tx, t: &NewToken) -> Result<i64> {
    let id = tx.query_row(
        "INSERT INTO tokens (company_id, owner_id, creator_id, kind, audience, name, name_key,
                description, permissions, role_template, digest, value_hint, value_enc, enabled,
                disabled_reason, disabled_at, expires_at, allowed_cidrs, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,
                 $10, $11, $12, $13, $14, $15, $16, $17,
                 $18, $19, $19)
         RETURNING id",
        params![
            t.company_id,
            t.owner_id,
            t.creator_id,
            t.kind.as_str(),
            t.audience.as_str(),
            t.name,
            t.name.to_lowercase(),
            t.description,
            t.permissions.to_storage(),
            t.role_template,
            &t.digest.0[..],
            t.value_hint,
            t.value_enc,
            t.enabled,
            if t.enabled { None } else { Some("manual") },
            if t.enabled { None } else { Some(t.now) },
            t.expires_at,
            t.allowed_cidrs,
            t.now,
        ],
        |r| r.get(0),
    )?;
    tx.digest_added(t.digest);
    Ok(id)
}

/// Writes the editable fields of `t`.
pub fn update(tx: &Tx, t: &TokenRow, now: i64) -> Result<()> {
    tx.touch_auth();
    tx.execute(
        "UPDATE tokens SET name = $1, name_key = $2, description = $3,
                permissions = $4, role_template = $5, enabled = $6,
                disabled_reason = $7, disabled_at = $8, expires_at = $9,
                allowed_cidrs = $10, audience = $11, updated_at = $12
         WHERE id = $13",
        params![
            t.name,
            t.name.to_lowercase(),
            t.description,
            t.permissions.to_storage(),
            t.role_template,
            t.enabled,
            t.disabled_reason,
            t.disabled_at,
            t.expires_at,
            t.allowed_cidrs,
            t.audience.as_str(),
            now,
            t.id,
        ],
    )?;
    Ok(())
}

/// Replaces the value (renew); `prev` keeps the old digest valid until a time, or not at all.
/// The digests that stop being valid (an older previous value, and the current one when it is
/// not kept) are recorded as removed, the new one as added.
pub fn set_value(
    tx: &Tx,
    id: i64,
    digest: &TokenDigest,
    hint: &str,
    value_enc: Option<Vec<u8>>,
    prev: Option<(&TokenDigest, i64)>,
    now: i64,
) -> Result<()> {
    let before: Option<(TokenDigest, Option<TokenDigest>)> = tx.query_opt(
        "SELECT digest, prev_digest FROM tokens WHERE id = $1",
        params![id],
        |r| Ok((super::digest_column(r, 0)?, digest_at(r, 1)?)),
    )?;
    tx.execute(
        "UPDATE tokens SET digest = $1, value_hint = $2, value_enc = $3, prev_digest = $4,
                prev_expires_at = $5, updated_at = $6 WHERE id = $7",
        params![
            &digest.0[..],
            hint,
            value_enc,
            prev.map(|(d, _)| d.0.to_vec()),
            prev.map(|(_, t)| t),
            now,
            id
        ],
    )?;
    tx.touch_auth();
    let Some((old, old_prev)) = before else {
        return Ok(());
    };
    let new = [Some(*digest), prev.map(|(d, _)| *d)];
    for d in [Some(old), old_prev].into_iter().flatten() {
        if !new.contains(&Some(d)) {
            tx.digest_removed(d);
        }
    }
    if *digest != old && old_prev != Some(*digest) {
        tx.digest_added(*digest);
    }
    Ok(())
}

/// Deletes a token; its value (and a previous value in its grace period) stop being valid.
pub fn delete(tx: &Tx, id: i64) -> Result<()> {
    let gone: Option<(TokenDigest, Option<TokenDigest>)> = tx.query_opt(
        "DELETE FROM tokens WHERE id = $1 RETURNING digest, prev_digest",
        params![id],
        |r| Ok((super::digest_column(r, 0)?, digest_at(r, 1)?)),
    )?;
    tx.touch_auth();
    if let Some((d, prev)) = gone {
        tx.digest_removed(d);
        if let Some(p) = prev {
            tx.digest_removed(p);
        }
    }
    Ok(())
}

/// The encrypted value of a token, if stored.
pub fn value_enc(conn: &Connection, id: i64) -> Result<Option<Vec<u8>>> {
    conn.query_opt(
        "SELECT value_enc FROM tokens WHERE id = $1",
        params![id],
        |r| r.get(0),
    )
    .map(Option::flatten)
}

/// Rule 14: switching to `show_once` erases every stored value of the company.
pub fn erase_values(tx: &Tx, company_id: i64) -> Result<usize> {
    tx.touch_auth();
    tx.execute(
        "UPDATE tokens SET value_enc = NULL WHERE company_id = $1 AND value_enc IS NOT NULL",
        params![company_id],
    )
}
