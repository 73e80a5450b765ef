//! Company roles (SPEC §18): `/v1/roles` — the built-in roles (read-only, also role
//! templates) and the roles a company defines, each a set of management permissions and API
//! scopes. A user holding a company role stores a copy of its set; editing the role updates
//! every holder and trims their tokens (rule 16) in the same transaction, with a preview
//! first. Nobody defines or edits a role beyond their own effective permissions, nor edits one
//! held by someone above them (rules 23–26 whatever the source of a permission).

use serde::Serialize;
use serde_json::json;

use super::audit::{record, Actor, Event};
use super::lifecycle::trim_to_owner;
use super::policy::access;
use super::scopes::{check_defined, explicit, TokenLoss};
use super::{require, Env};
use crate::db::roles::RoleRow;
use crate::db::{self, Connection, Tx};
use crate::domain::caller::Caller;
use crate::domain::names::multiline_text;
use crate::domain::permissions::{Permission, PermissionSet};
use crate::domain::roles::{parse_template, Role};
use crate::domain::time::{fmt_time, from_ms};
use crate::domain::token::TokenKind;
use crate::service::error::{Error, Result};

/// One role as `/v1/roles` lists it: a built-in role (`builtin`, no `id`) or a company role.
#[derive(Debug, Clone, Serialize)]
pub struct RoleView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    pub name: String,
    pub description: String,
    pub permissions: PermissionSet,
    pub builtin: bool,
    /// Users holding the role (company roles).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct CreateRole {
    pub name: String,
    pub description: Option<String>,
    /// Management permissions and API scopes of the company.
    pub permissions: Option<Vec<String>>,
    /// A built-in role to start from (its permissions are added to `permissions`).
    pub template: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct UpdateRole {
    pub name: Option<String>,
    pub description: Option<String>,
    pub permissions: Option<Vec<String>>,
}

/// What saving a role change would do to its holders' tokens (rule 16), before it is done.
#[derive(Debug, Clone, Serialize)]
pub struct RoleChangePreview {
    pub role: RoleView,
    /// Users holding the role.
    pub users: usize,
    /// Tokens that lose permissions (those the caller may see), and what each loses.
    pub tokens: Vec<TokenLoss>,
    /// Tokens that lose permissions and the caller may not see.
    pub hidden_tokens: usize,
}

fn view(r: &RoleRow, users: usize) -> RoleView {
    RoleView {
        id: Some(r.id),
        name: r.name.clone(),
        description: r.description.clone(),
        permissions: r.permissions.clone(),
        builtin: false,
        users: Some(users),
        updated_at: Some(fmt_time(&from_ms(r.updated_at))),
    }
}

fn builtin(r: Role) -> RoleView {
    RoleView {
        id: None,
        name: r.name().into(),
        description: r.label().into(),
        permissions: r.permissions(),
        builtin: true,
        users: None,
        updated_at: None,
    }
}

/// A role name: 1–64 characters, no control characters, not a built-in role's name.
pub fn parse_role_name(s: &str) -> Result<String> {
    let t = s.trim();
    if t.len() > 4 * 64 || t.chars().count() > 64 {
        return Err(Error::field("name", "must be at most 64 characters"));
    }
    if t.is_empty() {
        return Err(Error::field("name", "is required"));
    }
    if t.chars().any(char::is_control) {
        return Err(Error::field("name", "must not contain control characters"));
    }
    let lower = t.to_lowercase();
    if Role::ALL.iter().any(|r| r.name() == lower) || lower == "company" {
        return Err(Error::field("name", "is the name of a built-in role"));
    }
    Ok(t.to_string())
}

fn parse_role_description(s: &str) -> Result<String> {
    let t = s.trim();
    if t.chars().count() > 1024 {
        return Err(Error::field(
            "description",
            "must be at most 1024 characters",
        ));
    }
    multiline_text(t).map_err(|m| Error::field("description", m))?;
    Ok(t.to_string())
}

/// The set a create or edit asks for, checked against the company's catalogue (422) and the
/// caller's effective permissions (403: nobody grants what they do not hold).
fn requested_set(
    conn: &Connection,
    caller: &Caller,
    company_id: i64,
    template: Option<&str>,
    list: Option<&[String]>,
) -> Result<PermissionSet> {
    let listed = PermissionSet::parse_names(list.unwrap_or(&[]))
        .map_err(|n| Error::field("permissions", format!("unknown permission `{n}`")))?;
    check_defined(conn, company_id, &listed, "permissions")?;
    let from_template = match template {
        None => PermissionSet::EMPTY,
        Some(t) => match parse_template(t).filter(|r| *r != Role::Custom) {
            Some(r) => explicit(conn, company_id, &r.permissions())?,
            None => {
                return Err(Error::field(
                    "template",
                    "must be one of admin, analyst, api_developer, read_only, deploy",
                ))
            }
        },
    };
    let set = listed.union(&from_template);
    crate::service::policy::ensure_may_grant(&caller.permissions, &set)?;
    Ok(set)
}

/// A role of the caller's company; any other id is 404.
pub fn load(conn: &Connection, caller: &Caller, id: i64) -> Result<RoleRow> {
    match db::roles::get(conn, id)? {
        Some(r) if r.company_id == caller.user.company_id => Ok(r),
        _ => Err(Error::NotFound),
    }
}

/// Every role the caller's company can assign: the built-in ones, then its own.
pub fn list(conn: &Connection, caller: &Caller) -> Result<Vec<RoleView>> {
    let mut out: Vec<RoleView> = Role::ALL.into_iter().map(builtin).collect();
    for r in db::roles::list(conn, caller.user.company_id)? {
        let n = db::roles::holders(conn, r.id)?.len();
        out.push(view(&r, n));
    }
    Ok(out)
}

pub fn get(conn: &Connection, caller: &Caller, id: i64) -> Result<RoleView> {
    let r = load(conn, caller, id)?;
    let n = db::roles::holders(conn, r.id)?.len();
    Ok(view(&r, n))
}

fn name_taken(e: crate::db::Error) -> Error {
    if db::is_unique_violation(&e) {
        Error::conflict(
            "name_taken",
            "the company already has a role with this name",
        )
    } else {
        e.into()
    }
}

pub fn create(tx: &mut Tx, env: &Env, caller: &Caller, input: CreateRole) -> Result<RoleView> {
    require(caller, Permission::SettingsWrite)?;
    let name = parse_role_name(&input.name)?;
    let description = parse_role_description(input.description.as_deref().unwrap_or(""))?;
    let company = caller.user.company_id;
    let set = requested_set(
        tx,
        caller,
        company,
        input.template.as_deref(),
        input.permissions.as_deref(),
    )?;
    let now = env.now_ms();
    let id = db::roles::insert(tx, company, &name, &description, &set, now).map_err(name_taken)?;
    record(
        tx,
        &Actor::of(caller),
        Event {
            action: "role.created",
            company_id: Some(company),
            token_id: None,
            user_id: None,
            details: json!({ "role_id": id, "name": name, "permissions": set }),
        },
        now,
    )?;
    get(tx, caller, id)
}

/// The role as an edit would leave it (checked, not stored).
fn planned(
    conn: &Connection,
    caller: &Caller,
    id: i64,
    input: &UpdateRole,
) -> Result<(RoleRow, RoleRow)> {
    require(caller, Permission::SettingsWrite)?;
    let before = load(conn, caller, id)?;
    // Editing a role changes every holder: the caller must cover what they hold now (rule 26).
    crate::service::policy::ensure_covers_role(caller, &before.permissions)?;
    let mut after = before.clone();
    if let Some(n) = &input.name {
        after.name = parse_role_name(n)?;
    }
    if let Some(d) = &input.description {
        after.description = parse_role_description(d)?;
    }
    if let Some(list) = &input.permissions {
        after.permissions = requested_set(conn, caller, before.company_id, None, Some(list))?;
    }
    Ok((before, after))
}

/// What saving `input` on role `id` would take from its holders' tokens.
pub fn preview_update(
    conn: &Connection,
    caller: &Caller,
    id: i64,
    input: &UpdateRole,
) -> Result<RoleChangePreview> {
    let (before, after) = planned(conn, caller, id, input)?;
    let holders = db::roles::holders(conn, before.id)?;
    let held = explicit(conn, before.company_id, &after.permissions)?;
    let mut tokens = Vec::new();
    let mut hidden = 0;
    for uid in &holders {
        for t in db::tokens::of_owner(conn, *uid)? {
            if t.kind == TokenKind::Legacy || t.permissions.is_subset_of(&held) {
                continue;
            }
            if !access(caller, &t).see {
                hidden += 1;
                continue;
            }
            let left = t.permissions.intersection(&held);
            tokens.push(TokenLoss {
                token_id: t.id,
                name: t.name.clone(),
                owner_id: t.owner_id,
                lost: t.permissions.difference(&held),
                disabled: left.is_empty() && t.enabled,
            });
        }
    }
    Ok(RoleChangePreview {
        role: view(&after, holders.len()),
        users: holders.len(),
        tokens,
        hidden_tokens: hidden,
    })
}

/// Saves a role change: every holder gets the new set, and loses from its tokens what it no
/// longer holds (rule 16), all in this transaction, audited.
pub fn update(
    tx: &mut Tx,
    env: &Env,
    caller: &Caller,
    id: i64,
    input: UpdateRole,
) -> Result<RoleView> {
    let (before, after) = planned(tx, caller, id, &input)?;
    let now = env.now_ms();
    db::roles::update(tx, &after, now).map_err(name_taken)?;
    let actor = Actor::of(caller);
    let holders = db::roles::holders(tx, id)?;
    let mut trimmed = 0;
    if after.permissions != before.permissions {
        let held = explicit(tx, after.company_id, &after.permissions)?;
        for uid in &holders {
            if let Some(mut u) = db::users::get(tx, *uid)? {
                u.custom = held.clone();
                db::users::update(tx, &u, now)?;
                trimmed += trim_to_owner(tx, &actor, &u, now)?;
            }
        }
    }
    record(
        tx,
        &actor,
        Event {
            action: "role.updated",
            company_id: Some(after.company_id),
            token_id: None,
            user_id: None,
            details: json!({
                "role_id": id, "name": after.name, "name_before": before.name,
                "permissions_before": before.permissions, "permissions": after.permissions,
                "users": holders, "tokens_trimmed": trimmed,
            }),
        },
        now,
    )?;
    get(tx, caller, id)
}

/// Deletes a company role no user holds; 409 `role_in_use` otherwise.
pub fn delete(tx: &mut Tx, env: &Env, caller: &Caller, id: i64) -> Result<()> {
    require(caller, Permission::SettingsWrite)?;
    let r = load(tx, caller, id)?;
    let holders = db::roles::holders(tx, id)?;
    if !holders.is_empty() {
        return Err(Error::conflict(
            "role_in_use",
            format!(
                "{} user(s) hold this role: give them another role first",
                holders.len()
            ),
        ));
    }
    db::roles::delete(tx, id)?;
    record(
        tx,
        &Actor::of(caller),
        Event {
            action: "role.deleted",
            company_id: Some(r.company_id),
            token_id: None,
            user_id: None,
            details: json!({ "role_id": id, "name": r.name, "permissions": r.permissions }),
        },
        env.now_ms(),
    )?;
    Ok(())
}
