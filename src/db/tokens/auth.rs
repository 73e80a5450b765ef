//! The hot-path reads: a token value or legacy UUID to the stored credential and its owner.

use crate::db::{params, Connection, Result, Row};

use crate::db::{parse_column, users};
use crate::domain::authz::stored_nets;
use crate::domain::permissions::PermissionSet;
use crate::domain::token::TokenKind;
use crate::domain::token_value::TokenDigest;
use crate::domain::user::User;

/// What the hot path needs about a token and its owner: one indexed read.
#[derive(Debug, Clone)]
pub struct AuthRow {
    pub token_id: i64,
    pub kind: TokenKind,
    pub permissions: PermissionSet,
    /// Token ∩ owner (legacy: the owner's), computed once per lookup: the cached row answers
    /// every request with a shared set (`has_scope` is a binary search, no allocation).
    pub effective: PermissionSet,
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
    /// Rate limit and quota; `limits.any()` is false for most tokens, which then pay nothing.
    pub limits: super::limits::Limits,
}

fn auth_row(r: &Row) -> Result<AuthRow> {
    let current: bool = r.get(5)?;
    let mut row = AuthRow {
        token_id: r.get(0)?,
        kind: parse_column(r, 1, "token kind", TokenKind::parse)?,
        permissions: PermissionSet::from_storage(&r.get::<String>(2)?),
        enabled: r.get(3)?,
        expires_at: r.get(4)?,
        prev_valid_until: if current { None } else { Some(r.get(6)?) },
        ip_bound: !r.get::<String>(7)?.trim().is_empty(),
        allowed_nets: stored_nets(&r.get::<String>(7)?),
        owner: users::from_row_at(r, 8)?,
        creator_id: r.get(9 + users::WIDTH)?,
        limits: super::limits::Limits::read(r, 10 + users::WIDTH)?,
        effective: PermissionSet::EMPTY,
    };
    row.effective = crate::domain::authz::effective_permissions(
        row.kind,
        &row.permissions,
        &row.owner.permissions(),
    );
    Ok(row)
}

impl AuthRow {
    /// The stored facts the authorization core decides on.
    pub fn credential(&self) -> crate::domain::authz::StoredCredential<'_> {
        crate::domain::authz::StoredCredential {
            kind: self.kind,
            permissions: &self.permissions,
            effective: Some(&self.effective),
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
                t.prev_expires_at, t.allowed_cidrs, {}, {join}, t.creator_id, {}
         FROM {wh}",
        users::columns(),
        super::limits::COLUMNS
    )
}

/// The hot-path lookup of a token value's digest: one indexed read.
pub fn auth_lookup(conn: &Connection, digest: &TokenDigest) -> Result<Option<AuthRow>> {
    let sql = auth_select(
        "NULL",
        "tokens t JOIN users u ON u.id = t.owner_id WHERE t.digest = $1 OR t.prev_digest = $1",
    );
    conn.query_opt(&sql, params![&digest.0[..]], auth_row)
}

/// The hot-path lookup of legacy credentials by UUID: the token, its owner and the stored
/// secret digest, in one indexed read.
pub fn auth_lookup_legacy(conn: &Connection, uuid: &str) -> Result<Option<(AuthRow, Vec<u8>)>> {
    let sql = auth_select(
        "l.secret_digest",
        "legacy_credentials l JOIN tokens t ON t.id = l.token_id
         JOIN users u ON u.id = t.owner_id WHERE l.uuid = $2",
    );
    conn.query_opt(&sql, params![&[0u8][..], uuid], |r| {
        // Matched by UUID, not by a value: no rotation grace applies.
        let mut row = auth_row(r)?;
        row.prev_valid_until = None;
        Ok((row, r.get(8 + users::WIDTH)?))
    })
}
