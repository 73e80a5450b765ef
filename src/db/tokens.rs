//! SQL for API tokens.

use rusqlite::types::Value;
use rusqlite::{named_params, params, params_from_iter, Connection, OptionalExtension, Row};

use crate::domain::model::{Audience, TokenKind, User};
use crate::domain::permissions::PermissionSet;
use crate::domain::token_value::TokenDigest;

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
}

const SELECT: &str =
    "SELECT t.id, t.company_id, t.owner_id, o.email, o.name, t.creator_id, c.email,
        t.kind, t.audience, t.name, t.description, t.permissions, t.role_template, t.digest,
        t.value_hint, t.value_enc IS NOT NULL, t.prev_digest, t.prev_expires_at, t.enabled,
        t.disabled_reason, t.disabled_at, t.expires_at, t.allowed_cidrs, t.created_at,
        t.updated_at, t.last_used_at, t.last_used_ip
    FROM tokens t JOIN users o ON o.id = t.owner_id LEFT JOIN users c ON c.id = t.creator_id";

fn digest_at(r: &Row, i: usize) -> rusqlite::Result<Option<TokenDigest>> {
    Ok(r.get::<_, Option<Vec<u8>>>(i)?
        .and_then(|b| TokenDigest::from_slice(&b)))
}

fn from_row(r: &Row) -> rusqlite::Result<TokenRow> {
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
        permissions: PermissionSet::from_storage(&r.get::<_, String>(11)?),
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
    })
}

pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<TokenRow>> {
    conn.prepare_cached(&format!("{SELECT} WHERE t.id = $1"))?
        .query_row([id], from_row)
        .optional()
}

/// The token whose current value, or previous value still in its grace period at `now`, has
/// this digest. A previous value whose grace has ended matches nothing (rule 30), even before
/// the scheduler clears it.
pub fn by_digest(
    conn: &Connection,
    d: &TokenDigest,
    now: i64,
) -> rusqlite::Result<Option<TokenRow>> {
    conn.prepare_cached(&format!(
        "{SELECT} WHERE t.digest = $1 OR (t.prev_digest = $1 AND t.prev_expires_at > $2)"
    ))?
    .query_row(params![&d.0[..], now], from_row)
    .optional()
}

pub fn by_ids(conn: &Connection, ids: &[i64]) -> rusqlite::Result<Vec<TokenRow>> {
    ids.iter()
        .filter_map(|id| get(conn, *id).transpose())
        .collect()
}

pub fn of_owner(conn: &Connection, owner_id: i64) -> rusqlite::Result<Vec<TokenRow>> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT} WHERE t.owner_id = $1 ORDER BY t.id"))?;
    let rows = stmt.query_map([owner_id], from_row)?;
    rows.collect()
}

/// What the hot path needs about a token and its owner: one indexed read.
#[derive(Debug, Clone)]
pub struct AuthRow {
    pub token_id: i64,
    pub kind: TokenKind,
    pub permissions: PermissionSet,
    pub enabled: bool,
    pub expires_at: Option<i64>,
    /// `Some(t)` when the digest matched the previous value, valid until `t`.
    pub prev_valid_until: Option<Option<i64>>,
    /// Whether the token is bound to addresses (`allowed_cidrs` not empty).
    pub ip_bound: bool,
    /// The bound networks, parsed once per lookup (the row is cached). Should a stored entry
    /// ever fail to parse, it is left out and the binding fails closed.
    pub allowed_nets: Vec<ipnet::IpNet>,
    pub owner: User,
    /// Who made the token; it is delegated when that is not its owner (rule 25).
    pub creator_id: Option<i64>,
}

fn auth_row(r: &Row) -> rusqlite::Result<AuthRow> {
    let current: bool = r.get(5)?;
    Ok(AuthRow {
        token_id: r.get(0)?,
        kind: super::parse_column(r, 1, "token kind", TokenKind::parse)?,
        permissions: PermissionSet::from_storage(&r.get::<_, String>(2)?),
        enabled: r.get(3)?,
        expires_at: r.get(4)?,
        prev_valid_until: if current { None } else { Some(r.get(6)?) },
        ip_bound: !r.get::<_, String>(7)?.trim().is_empty(),
        allowed_nets: r
            .get::<_, String>(7)?
            .split_whitespace()
            .filter_map(|c| c.parse().ok())
            .collect(),
        owner: super::users::from_row_at(r, 8)?,
        creator_id: r.get(20)?,
    })
}

impl AuthRow {
    /// The stored facts the authorization core decides on.
    pub fn credential(&self) -> crate::domain::authz::StoredCredential<'_> {
        crate::domain::authz::StoredCredential {
            kind: self.kind,
            permissions: self.permissions,
            enabled: self.enabled,
            expires_at: self.expires_at,
            prev_valid_until: self.prev_valid_until,
            allowed_nets: self.ip_bound.then_some(&self.allowed_nets[..]),
            owner: &self.owner,
            creator_id: self.creator_id,
        }
    }
}

fn auth_select(join: &str, wh: &str) -> String {
    format!(
        "SELECT t.id, t.kind, t.permissions, t.enabled, t.expires_at, t.digest = $1,
                t.prev_expires_at, t.allowed_cidrs, {}, {join}, t.creator_id
         FROM {wh}",
        super::users::columns()
    )
}

/// The hot-path lookup of a token value's digest: one indexed read.
pub fn auth_lookup(conn: &Connection, digest: &TokenDigest) -> rusqlite::Result<Option<AuthRow>> {
    let sql = auth_select(
        "NULL",
        "tokens t JOIN users u ON u.id = t.owner_id WHERE t.digest = $1 OR t.prev_digest = $1",
    );
    conn.prepare_cached(&sql)?
        .query_row([&digest.0[..]], auth_row)
        .optional()
}

/// The hot-path lookup of legacy credentials by UUID: the token, its owner and the stored
/// secret digest, in one indexed read.
pub fn auth_lookup_legacy(
    conn: &Connection,
    uuid: &str,
) -> rusqlite::Result<Option<(AuthRow, Vec<u8>)>> {
    let sql = auth_select(
        "l.secret_digest",
        "legacy_credentials l JOIN tokens t ON t.id = l.token_id
         JOIN users u ON u.id = t.owner_id WHERE l.uuid = $2",
    );
    conn.prepare_cached(&sql)?
        .query_row(params![&[0u8][..], uuid], |r| {
            // Matched by UUID, not by a value: no rotation grace applies.
            let mut row = auth_row(r)?;
            row.prev_valid_until = None;
            Ok((row, r.get(19)?))
        })
        .optional()
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

pub fn insert(conn: &Connection, t: &NewToken) -> rusqlite::Result<i64> {
    conn.query_row(
        "INSERT INTO tokens (company_id, owner_id, creator_id, kind, audience, name, name_key,
                description, permissions, role_template, digest, value_hint, value_enc, enabled,
                disabled_reason, disabled_at, expires_at, allowed_cidrs, created_at, updated_at)
         VALUES (:company, :owner, :creator, :kind, :audience, :name, :key, :descr, :perms,
                 :template, :digest, :hint, :enc, :enabled, :reason, :disabled_at, :expires,
                 :cidrs, :now, :now)
         RETURNING id",
        named_params! {
            ":company": t.company_id, ":owner": t.owner_id, ":creator": t.creator_id,
            ":kind": t.kind.as_str(), ":audience": t.audience.as_str(), ":name": t.name,
            ":key": t.name.to_lowercase(), ":descr": t.description,
            ":perms": t.permissions.to_storage(), ":template": t.role_template,
            ":digest": &t.digest.0[..], ":hint": t.value_hint, ":enc": t.value_enc,
            ":enabled": t.enabled,
            ":reason": if t.enabled { None } else { Some("manual") },
            ":disabled_at": if t.enabled { None } else { Some(t.now) },
            ":expires": t.expires_at, ":cidrs": t.allowed_cidrs, ":now": t.now,
        },
        |r| r.get(0),
    )
}

/// Writes the editable fields of `t`.
pub fn update(conn: &Connection, t: &TokenRow, now: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE tokens SET name = :name, name_key = :key, description = :descr,
                permissions = :perms, role_template = :template, enabled = :enabled,
                disabled_reason = :reason, disabled_at = :disabled_at, expires_at = :expires,
                allowed_cidrs = :cidrs, audience = :audience, updated_at = :now
         WHERE id = :id",
    )?
    .execute(named_params! {
        ":name": t.name, ":key": t.name.to_lowercase(), ":descr": t.description,
        ":perms": t.permissions.to_storage(), ":template": t.role_template,
        ":enabled": t.enabled, ":reason": t.disabled_reason, ":disabled_at": t.disabled_at,
        ":expires": t.expires_at, ":cidrs": t.allowed_cidrs, ":audience": t.audience.as_str(),
        ":now": now, ":id": t.id,
    })?;
    Ok(())
}

/// Replaces the value (renew); `prev` keeps the old digest valid until a time, or not at all.
pub fn set_value(
    conn: &Connection,
    id: i64,
    digest: &TokenDigest,
    hint: &str,
    value_enc: Option<Vec<u8>>,
    prev: Option<(&TokenDigest, i64)>,
    now: i64,
) -> rusqlite::Result<()> {
    conn.execute(
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
    Ok(())
}

pub fn delete(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM tokens WHERE id = $1")?
        .execute([id])?;
    Ok(())
}

/// The encrypted value of a token, if stored.
pub fn value_enc(conn: &Connection, id: i64) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.query_row("SELECT value_enc FROM tokens WHERE id = $1", [id], |r| {
        r.get(0)
    })
    .optional()
    .map(Option::flatten)
}

/// Rule 14: switching to `show_once` erases every stored value of the company.
pub fn erase_values(conn: &Connection, company_id: i64) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE tokens SET value_enc = NULL WHERE company_id = $1 AND value_enc IS NOT NULL",
        [company_id],
    )
}

/// Who may see which tokens in a list (the SQL side of the visibility policy).
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// Every token (global administrators).
    All,
    /// Every token of one company (administrators).
    Company(i64),
    /// Own tokens, plus shared tokens of the company whose audience is `company`.
    Own { user_id: i64, company_id: i64 },
}

#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub name: Option<String>,
    pub owner_id: Option<i64>,
    pub creator_id: Option<i64>,
    pub enabled: Option<bool>,
    pub kind: Option<TokenKind>,
    pub expires_before: Option<i64>,
    pub expires_after: Option<i64>,
}

/// One page of tokens, newest first, with ids below `before`.
pub fn list(
    conn: &Connection,
    scope: Scope,
    f: &Filter,
    before: Option<i64>,
    limit: usize,
) -> rusqlite::Result<Vec<TokenRow>> {
    let mut sql = format!("{SELECT} WHERE 1 = 1");
    let mut args: Vec<Value> = Vec::new();
    let mut push = |sql: &mut String, clause: &str, v: Value| {
        args.push(v);
        sql.push_str(&clause.replace('?', &format!("${}", args.len())));
    };
    match scope {
        Scope::All => {}
        Scope::Company(c) => push(&mut sql, " AND t.company_id = ?", c.into()),
        Scope::Own {
            user_id,
            company_id,
        } => {
            push(&mut sql, " AND (t.owner_id = ?", user_id.into());
            push(
                &mut sql,
                " OR (t.company_id = ? AND t.kind = 'shared' AND t.audience = 'company'))",
                company_id.into(),
            );
        }
    }
    if let Some(name) = &f.name {
        let pattern = format!(
            "%{}%",
            name.to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        push(
            &mut sql,
            " AND t.name_key LIKE ? ESCAPE '\\'",
            pattern.into(),
        );
    }
    if let Some(v) = f.owner_id {
        push(&mut sql, " AND t.owner_id = ?", v.into());
    }
    if let Some(v) = f.creator_id {
        push(&mut sql, " AND t.creator_id = ?", v.into());
    }
    if let Some(v) = f.enabled {
        push(&mut sql, " AND t.enabled = ?", (v as i64).into());
    }
    if let Some(k) = f.kind {
        push(&mut sql, " AND t.kind = ?", k.as_str().to_string().into());
    }
    if let Some(v) = f.expires_before {
        push(&mut sql, " AND t.expires_at < ?", v.into());
    }
    if let Some(v) = f.expires_after {
        push(&mut sql, " AND t.expires_at > ?", v.into());
    }
    if let Some(v) = before {
        push(&mut sql, " AND t.id < ?", v.into());
    }
    push(
        &mut sql,
        " ORDER BY t.id DESC LIMIT ?",
        (limit as i64).into(),
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), from_row)?;
    rows.collect()
}

/// Enabled tokens whose expiry has passed (the expiry job), at most `limit`.
pub fn expired_enabled(
    conn: &Connection,
    now: i64,
    limit: usize,
) -> rusqlite::Result<Vec<TokenRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE t.enabled = 1 AND t.expires_at IS NOT NULL AND t.expires_at <= $1
         ORDER BY t.expires_at LIMIT $2"
    ))?;
    let rows = stmt.query_map(params![now, limit as i64], from_row)?;
    rows.collect()
}

/// Tokens disabled at or before `cutoff` (the purge job), at most `limit`.
pub fn disabled_before(
    conn: &Connection,
    cutoff: i64,
    limit: usize,
) -> rusqlite::Result<Vec<TokenRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE t.enabled = 0 AND t.disabled_at <= $1 ORDER BY t.disabled_at LIMIT $2"
    ))?;
    let rows = stmt.query_map(params![cutoff, limit as i64], from_row)?;
    rows.collect()
}

/// Ids of tokens inconsistent with their owner: enabled under a disabled or SSO owner, or
/// holding permissions the owner lacks (the reconcile job). Reads only light columns.
pub fn reconcile_candidates(conn: &Connection) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare(
        "SELECT t.id, t.kind, t.permissions, t.enabled, u.role, u.permissions, u.enabled, u.sso
         FROM tokens t JOIN users u ON u.id = t.owner_id",
    )?;
    let mut out = Vec::new();
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let kind: String = r.get(1)?;
        let enabled: bool = r.get(3)?;
        let owner_active = r.get::<_, bool>(6)? && !r.get::<_, bool>(7)?;
        let role = super::parse_column(r, 4, "role", crate::domain::roles::Role::parse)?;
        let held = crate::domain::model::permissions_of(
            role,
            PermissionSet::from_storage(&r.get::<_, String>(5)?),
        );
        let wider = kind != "legacy"
            && !PermissionSet::from_storage(&r.get::<_, String>(2)?).is_subset_of(held);
        if (enabled && !owner_active) || wider {
            out.push(r.get(0)?);
        }
    }
    Ok(out)
}

/// Enabled tokens not used since `cutoff` in one company (idle policy).
pub fn idle_enabled(
    conn: &Connection,
    company_id: i64,
    cutoff: i64,
) -> rusqlite::Result<Vec<TokenRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE t.company_id = $1 AND t.enabled = 1
           AND COALESCE(t.last_used_at, t.created_at) < $2"
    ))?;
    let rows = stmt.query_map(params![company_id, cutoff], from_row)?;
    rows.collect()
}

/// Every digest the hot-path filter must know: current and in-grace previous values.
pub fn all_digests(conn: &Connection) -> rusqlite::Result<Vec<TokenDigest>> {
    let mut stmt = conn.prepare(
        "SELECT digest FROM tokens
         UNION ALL SELECT prev_digest FROM tokens WHERE prev_digest IS NOT NULL
         UNION ALL SELECT token_digest FROM nodes WHERE token_disabled_at IS NULL",
    )?;
    let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))?;
    let mut out = Vec::new();
    for b in rows {
        if let Some(d) = TokenDigest::from_slice(&b?) {
            out.push(d);
        }
    }
    Ok(out)
}

/// Writes buffered last-use data.
pub fn record_use(conn: &Connection, id: i64, at: i64, ip: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "UPDATE tokens SET last_used_at = MAX(COALESCE(last_used_at, 0), $1), last_used_ip = $2
         WHERE id = $3",
    )?
    .execute(params![at, ip, id])?;
    conn.prepare_cached(
        "INSERT INTO token_recent_ips (token_id, ip, first_seen_at, last_seen_at)
         SELECT $1, $2, $3, $3 WHERE EXISTS (SELECT 1 FROM tokens WHERE id = $1)
         ON CONFLICT (token_id, ip) DO UPDATE SET last_seen_at = MAX(last_seen_at, excluded.last_seen_at)",
    )?
    .execute(params![id, ip, at])?;
    conn.prepare_cached(
        "DELETE FROM token_recent_ips WHERE token_id = $1 AND ip NOT IN
           (SELECT ip FROM token_recent_ips WHERE token_id = $1 ORDER BY last_seen_at DESC LIMIT 5)",
    )?
    .execute([id])?;
    Ok(())
}

/// The last distinct client addresses of a token: (ip, first seen, last seen), newest first.
pub fn recent_ips(conn: &Connection, id: i64) -> rusqlite::Result<Vec<(String, i64, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT ip, first_seen_at, last_seen_at FROM token_recent_ips WHERE token_id = $1
         ORDER BY last_seen_at DESC LIMIT 5",
    )?;
    let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    rows.collect()
}

/// Token counts by status (for metrics): (enabled, disabled).
pub fn count_by_status(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row(
        "SELECT COALESCE(SUM(enabled), 0), COUNT(*) - COALESCE(SUM(enabled), 0) FROM tokens",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Clears rotation grace periods that ended (housekeeping; checks happen per request anyway).
/// Returns the digests that stopped being valid.
pub fn end_grace(conn: &Connection, now: i64) -> rusqlite::Result<Vec<TokenDigest>> {
    let ended: Vec<Vec<u8>> = conn
        .prepare_cached(
            "SELECT prev_digest FROM tokens WHERE prev_digest IS NOT NULL AND prev_expires_at <= $1",
        )?
        .query_map([now], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    conn.execute(
        "UPDATE tokens SET prev_digest = NULL, prev_expires_at = NULL
         WHERE prev_digest IS NOT NULL AND prev_expires_at <= $1",
        [now],
    )?;
    Ok(ended
        .iter()
        .filter_map(|b| TokenDigest::from_slice(b))
        .collect())
}
