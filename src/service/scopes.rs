//! API scopes defined per company (SPEC §18): the catalogue checks every other operation asks
//! (`check_defined`, `explicit`), and `/v1/scopes` — list, create, describe, delete with its
//! preview. Deleting a scope removes it from every role, user and token of the company in the
//! same transaction, audited.

use serde::Serialize;
use serde_json::json;

use super::audit::{record, Actor, Event};
use super::lifecycle::trim_token;
use super::policy::access;
use super::{require, Env};
use crate::db::scopes::ScopeRow;
use crate::db::{self, Connection, Tx};
use crate::domain::caller::Caller;
use crate::domain::names::multiline_text;
use crate::domain::permissions::{
    valid_scope_name, Permission, PermissionSet, MAX_SCOPES_PER_COMPANY, MAX_SCOPE_DESCRIPTION,
};
use crate::domain::time::{fmt_time, from_ms};
use crate::service::error::{Error, Result};

/// Every API scope named in `set` must be one company `company_id` defines; otherwise 422
/// naming `field` (`unknown permission`), as a name outside the catalogue always was.
pub fn check_defined(
    conn: &Connection,
    company_id: i64,
    set: &PermissionSet,
    field: &str,
) -> Result<()> {
    if set.scope_names().next().is_none() {
        return Ok(());
    }
    let defined = db::scopes::names(conn, company_id)?;
    for n in set.scope_names() {
        if defined.binary_search_by(|d| d.as_str().cmp(n)).is_err() {
            return Err(Error::field(field, format!("unknown permission `{n}`")));
        }
    }
    Ok(())
}

/// The stored form of `set` in company `company_id`: the names it holds among the company's
/// scopes (names it does not define are left out), and the wildcard (administrator roles) if
/// it has it. What a template or role gives a token or user to store.
pub fn explicit(conn: &Connection, company_id: i64, set: &PermissionSet) -> Result<PermissionSet> {
    let defined = db::scopes::names(conn, company_id)?;
    let keep: Vec<&str> = defined
        .iter()
        .map(String::as_str)
        .filter(|n| set.has_scope(n))
        .collect();
    let out = set.management_part().with_scopes(keep);
    Ok(if set.all_scopes() {
        out.with_all_scopes()
    } else {
        out
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct ScopeView {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub created_at: String,
}

impl From<&ScopeRow> for ScopeView {
    fn from(s: &ScopeRow) -> Self {
        ScopeView {
            id: s.id,
            name: s.name.clone(),
            description: s.description.clone(),
            created_at: fmt_time(&from_ms(s.created_at)),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct CreateScope {
    pub name: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct UpdateScope {
    pub description: Option<String>,
    /// Refused: a scope is not renamed (create the new one, move roles, delete the old one).
    pub name: Option<String>,
}

/// A token that loses a scope (or a role change's permissions), as a preview lists it.
#[derive(Debug, Clone, Serialize)]
pub struct TokenLoss {
    pub token_id: i64,
    pub name: String,
    pub owner_id: i64,
    pub lost: PermissionSet,
    /// Left with no permission: disabled (`no_permissions`).
    pub disabled: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Named {
    pub id: i64,
    pub name: String,
}

/// What deleting a scope takes away, before it is done.
#[derive(Debug, Clone, Serialize)]
pub struct ScopeDeletePreview {
    pub scope: ScopeView,
    /// The tokens that lose it (those the caller may see).
    pub tokens: Vec<TokenLoss>,
    /// Tokens that lose it and the caller may not see.
    pub hidden_tokens: usize,
    pub roles: Vec<Named>,
    /// Users whose custom set names it (users of a role change with the role).
    pub users: Vec<Named>,
}

pub fn parse_scope_description(s: &str) -> Result<String> {
    let t = s.trim();
    if t.chars().count() > MAX_SCOPE_DESCRIPTION {
        return Err(Error::field(
            "description",
            format!("must be at most {MAX_SCOPE_DESCRIPTION} characters"),
        ));
    }
    multiline_text(t).map_err(|m| Error::field("description", m))?;
    Ok(t.to_string())
}

/// Rule 28 first: a name longer than any valid one is refused before anything else.
pub fn parse_scope_name(s: &str) -> Result<String> {
    if s.len() > 95 {
        return Err(Error::field("name", "must be at most 95 characters"));
    }
    valid_scope_name(s).map_err(|m| Error::field("name", m))?;
    Ok(s.to_string())
}

/// A scope of the caller's company; any other id is 404.
pub fn load(conn: &Connection, caller: &Caller, id: i64) -> Result<ScopeRow> {
    match db::scopes::get(conn, id)? {
        Some(s) if s.company_id == caller.user.company_id => Ok(s),
        _ => Err(Error::NotFound),
    }
}

/// The scopes company `company` defines, for the permission catalogue every member sees
/// (`GET /v1/permissions`, the console's permission grids); no permission needed.
pub fn catalogue(conn: &Connection, company: i64) -> Result<Vec<ScopeView>> {
    Ok(db::scopes::list(conn, company)?
        .iter()
        .map(ScopeView::from)
        .collect())
}

pub fn list(conn: &Connection, caller: &Caller) -> Result<Vec<ScopeView>> {
    require(caller, Permission::SettingsRead)?;
    Ok(db::scopes::list(conn, caller.user.company_id)?
        .iter()
        .map(ScopeView::from)
        .collect())
}

pub fn get(conn: &Connection, caller: &Caller, id: i64) -> Result<ScopeView> {
    require(caller, Permission::SettingsRead)?;
    Ok(ScopeView::from(&load(conn, caller, id)?))
}

pub fn create(tx: &mut Tx, env: &Env, caller: &Caller, input: CreateScope) -> Result<ScopeView> {
    require(caller, Permission::SettingsWrite)?;
    let name = parse_scope_name(&input.name)?;
    let description = parse_scope_description(input.description.as_deref().unwrap_or(""))?;
    let company = caller.user.company_id;
    if db::scopes::defines(tx, company, &name)? {
        return Err(Error::conflict(
            "name_taken",
            format!("the company already defines the scope `{name}`"),
        ));
    }
    if db::scopes::count(tx, company)? >= MAX_SCOPES_PER_COMPANY as i64 {
        return Err(Error::conflict(
            "scope_limit",
            format!("a company defines at most {MAX_SCOPES_PER_COMPANY} API scopes"),
        ));
    }
    let now = env.now_ms();
    let id = db::scopes::insert(tx, company, &name, &description, now)?;
    record(
        tx,
        &Actor::of(caller),
        Event {
            action: "scope.created",
            company_id: Some(company),
            token_id: None,
            user_id: None,
            details: json!({ "scope_id": id, "name": name, "description": description }),
        },
        now,
    )?;
    let row = db::scopes::get(tx, id)?.ok_or(Error::NotFound)?;
    Ok(ScopeView::from(&row))
}

pub fn update(
    tx: &mut Tx,
    env: &Env,
    caller: &Caller,
    id: i64,
    input: UpdateScope,
) -> Result<ScopeView> {
    require(caller, Permission::SettingsWrite)?;
    let s = load(tx, caller, id)?;
    if let Some(n) = &input.name {
        if *n != s.name {
            return Err(Error::field(
                "name",
                "a scope cannot be renamed: create the new scope, then delete this one",
            ));
        }
    }
    if let Some(d) = &input.description {
        let d = parse_scope_description(d)?;
        db::scopes::set_description(tx, id, &d)?;
        record(
            tx,
            &Actor::of(caller),
            Event {
                action: "scope.updated",
                company_id: Some(s.company_id),
                token_id: None,
                user_id: None,
                details: json!({ "scope_id": id, "name": s.name, "description": d }),
            },
            env.now_ms(),
        )?;
    }
    let row = db::scopes::get(tx, id)?.ok_or(Error::NotFound)?;
    Ok(ScopeView::from(&row))
}

/// What deleting scope `id` would take away.
pub fn delete_preview(conn: &Connection, caller: &Caller, id: i64) -> Result<ScopeDeletePreview> {
    require(caller, Permission::SettingsWrite)?;
    let s = load(conn, caller, id)?;
    preview_of(conn, caller, &s)
}

fn preview_of(conn: &Connection, caller: &Caller, s: &ScopeRow) -> Result<ScopeDeletePreview> {
    let mut tokens = Vec::new();
    let mut hidden = 0;
    for t in db::tokens::by_ids(
        conn,
        &db::scopes::tokens_naming(conn, s.company_id, &s.name)?,
    )? {
        if !t.permissions.has_scope(&s.name) || t.kind == crate::domain::token::TokenKind::Legacy {
            continue;
        }
        if !access(caller, &t).see {
            hidden += 1;
            continue;
        }
        let left = t.permissions.without_scope(&s.name);
        tokens.push(TokenLoss {
            token_id: t.id,
            name: t.name.clone(),
            owner_id: t.owner_id,
            lost: PermissionSet::EMPTY.with_scopes([s.name.as_str()]),
            disabled: left.is_empty() && t.enabled,
        });
    }
    let mut roles = Vec::new();
    for rid in db::roles::naming(conn, s.company_id, &s.name)? {
        if let Some(r) = db::roles::get(conn, rid)? {
            if r.permissions.has_scope(&s.name) {
                roles.push(Named {
                    id: r.id,
                    name: r.name,
                });
            }
        }
    }
    let mut users = Vec::new();
    for uid in db::scopes::users_naming(conn, s.company_id, &s.name)? {
        if let Some(u) = db::users::get(conn, uid)? {
            if u.custom.has_scope(&s.name) && u.role_id.is_none() {
                users.push(Named {
                    id: u.id,
                    name: u.email,
                });
            }
        }
    }
    Ok(ScopeDeletePreview {
        scope: ScopeView::from(s),
        tokens,
        hidden_tokens: hidden,
        roles,
        users,
    })
}

/// Deletes scope `id`: removes it from every role, user and token of its company (a token left
/// with none is disabled, `no_permissions`), in this transaction, audited.
pub fn delete(tx: &mut Tx, env: &Env, caller: &Caller, id: i64) -> Result<ScopeDeletePreview> {
    require(caller, Permission::SettingsWrite)?;
    let s = load(tx, caller, id)?;
    let preview = preview_of(tx, caller, &s)?;
    let now = env.now_ms();
    let actor = Actor::of(caller);
    for rid in db::roles::naming(tx, s.company_id, &s.name)? {
        if let Some(mut r) = db::roles::get(tx, rid)? {
            r.permissions = r.permissions.without_scope(&s.name);
            db::roles::update(tx, &r, now)?;
        }
    }
    for uid in db::scopes::users_naming(tx, s.company_id, &s.name)? {
        if let Some(mut u) = db::users::get(tx, uid)? {
            if u.custom.has_scope(&s.name) {
                u.custom = u.custom.without_scope(&s.name);
                db::users::update(tx, &u, now)?;
            }
        }
    }
    let mut trimmed = Vec::new();
    for t in db::tokens::by_ids(tx, &db::scopes::tokens_naming(tx, s.company_id, &s.name)?)? {
        if t.permissions.has_scope(&s.name) {
            let held = t.permissions.without_scope(&s.name);
            trimmed.push(t.id);
            trim_token(tx, &actor, t, &held, now, "scope_deleted")?;
        }
    }
    db::scopes::delete(tx, id)?;
    record(
        tx,
        &actor,
        Event {
            action: "scope.deleted",
            company_id: Some(s.company_id),
            token_id: None,
            user_id: None,
            details: json!({
                "scope_id": s.id, "name": s.name, "tokens": trimmed,
                "roles": preview.roles.iter().map(|r| r.id).collect::<Vec<_>>(),
                "users": preview.users.iter().map(|u| u.id).collect::<Vec<_>>(),
            }),
        },
        now,
    )?;
    Ok(preview)
}
