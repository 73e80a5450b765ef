//! Changing and deleting users, with the cascades of rules 15, 16 and 18 in the same
//! transaction.

use serde_json::json;

use super::own::{current_password_needed, ValidUpdate};
use super::{
    check_grant, custom_set, email_taken, load_changeable, parse_role, UpdateUser, UserView,
};
use crate::db::{self, Connection, Tx};
use crate::domain::caller::Caller;
use crate::domain::names::{check_password, parse_person_name, Email};
use crate::domain::permissions::{Permission, PermissionSet};
use crate::domain::roles::Role;
use crate::domain::token::TokenKind;
use crate::domain::user::User;
use crate::service::audit::{record, Actor, Event};
use crate::service::error::{Error, Result};
use crate::service::lifecycle::{apply_owner_change, plan_owner_change};

use crate::service::policy::{self, access, ensure_not_delegated};
use crate::service::{require, Env};

/// The role and custom set a change asks for (the user's own when it names neither).
fn resolve_role_change(u: &User, input: &UpdateUser) -> Result<(Role, PermissionSet)> {
    if input.role.is_none() && input.permissions.is_none() {
        if input.role_id.is_some() && u.role == Role::Company {
            return Ok((Role::Company, PermissionSet::EMPTY));
        }
        return Ok((u.role, u.custom.clone()));
    }
    let role = match &input.role {
        Some(r) => parse_role(r)?,
        None => u.role,
    };
    let custom = match (role, input.permissions.as_deref()) {
        (Role::Custom, None) if u.role == Role::Custom => u.custom.clone(),
        (role, list) => custom_set(role, list)?,
    };
    Ok((role, custom))
}

/// Validates a change of user `id` before any slow work: permission, delegation (rule 25),
/// bounds (rule 28), then whether the current password is needed (rule 37). Returns the
/// current password to verify and the new password to hash, in that order.
pub fn validate_update(caller: &Caller, id: i64, input: &UpdateUser) -> Result<ValidUpdate> {
    require(caller, Permission::UsersWrite)?;
    if input.password.is_some() || input.email.is_some() || input.sso.is_some() {
        ensure_not_delegated(caller, "change a password, email or SSO flag")?;
    }
    // Rule 28: every field is bounded before the password is hashed.
    if let Some(e) = &input.email {
        Email::parse(e).map_err(|m| Error::field("email", m))?;
    }
    if let Some(n) = &input.name {
        parse_person_name(n).map_err(|m| Error::field("name", m))?;
    }
    if let Some(p) = &input.password {
        check_password(p.expose()).map_err(|m| Error::field("password", m))?;
    }
    Ok(ValidUpdate {
        current_password: current_password_needed(caller, id, input)?,
        password: input.password.clone(),
    })
}

/// The user before and after a change, when the caller may make it: the target changeable
/// (rules 24, 26), the grant within the caller's permissions, no self-demotion. Both `update`
/// and the console's preview of a change (rule 46) ask here, so a preview is shown only for a
/// change that would be allowed.
pub fn planned_change(
    conn: &Connection,
    caller: &Caller,
    id: i64,
    input: &UpdateUser,
) -> Result<(User, User)> {
    let before = load_changeable(conn, caller, id)?;
    let mut after = changed_user(caller, &before, input)?;
    if input.role.is_some() || input.permissions.is_some() || input.role_id.is_some() {
        if after.role == Role::Company {
            let role_id = input.role_id.or(before.role_id);
            after.custom = super::company_role_set(
                conn,
                after.company_id,
                role_id,
                Some(&caller.permissions),
            )?;
            after.role_id = role_id;
        } else {
            if input.role_id.is_some() {
                return Err(Error::field(
                    "role_id",
                    "only role `company` takes a role_id",
                ));
            }
            after.role_id = None;
            crate::service::scopes::check_defined(
                conn,
                after.company_id,
                &after.custom,
                "permissions",
            )?;
        }
        policy::ensure_not_demoting_self(caller, after.id, after.role_id != before.role_id)?;
    }
    Ok((before, after))
}

/// Applies a change with its cascades, all in this transaction. A change of one's own
/// password or email must have had its `current_password` verified (`auth::reauth`) first;
/// here only its presence is checked again, as a backstop.
pub fn update(
    tx: &mut Tx,
    env: &Env,
    caller: &Caller,
    id: i64,
    input: UpdateUser,
    password_hash: Option<String>,
) -> Result<UserView> {
    require(caller, Permission::UsersWrite)?;
    current_password_needed(caller, id, &input)?;
    let now = env.now_ms();
    let (before, u) = planned_change(tx, caller, id, &input)?;
    if password_hash.is_some() && u.sso {
        return Err(Error::field("password", "SSO users sign in through SSO"));
    }
    db::users::update(tx, &u, now).map_err(email_taken)?;
    let actor = Actor::of(caller);
    cascade(tx, &actor, &before, &u, password_hash.as_deref(), now)?;
    let action = if before.enabled && !u.enabled {
        "user.disabled"
    } else {
        "user.updated"
    };
    let details = json!({
        "email": u.email, "role_before": before.role, "role": u.role,
        "enabled": u.enabled, "sso": u.sso,
        "password_changed": password_hash.is_some(),
        "permissions_removed": before.permissions().difference(&u.permissions()),
    });
    record(
        tx,
        &actor,
        Event {
            action,
            company_id: Some(u.company_id),
            token_id: None,
            user_id: Some(u.id),
            details,
        },
        now,
    )?;
    let after = db::users::get(tx, id)?.ok_or(Error::NotFound)?;
    Ok(UserView::from(&after))
}

/// The user as the change asks; nobody disables themselves, switches themselves to SSO or
/// changes their own role.
fn changed_user(caller: &Caller, before: &User, input: &UpdateUser) -> Result<User> {
    let mut u = before.clone();
    if let Some(e) = &input.email {
        u.email = Email::parse(e)
            .map_err(|m| Error::field("email", m))?
            .as_str()
            .to_string();
    }
    if let Some(n) = &input.name {
        u.name = parse_person_name(n).map_err(|m| Error::field("name", m))?;
    }
    if input.role.is_some() || input.permissions.is_some() || input.role_id.is_some() {
        (u.role, u.custom) = resolve_role_change(&u, input)?;
        check_grant(caller, u.role, &u.custom)?;
    }
    if let Some(e) = input.enabled {
        u.enabled = e;
    }
    if let Some(s) = input.sso {
        u.sso = s;
    }
    policy::ensure_not_demoting_self(caller, u.id, !u.enabled || u.sso || u.role != before.role)?;
    Ok(u)
}

/// What follows from a change: tokens disabled or trimmed, legacy compatibility ended, the
/// password set or cleared, and the user's sessions ended when its access changed.
fn cascade(
    tx: &mut Tx,
    actor: &Actor,
    before: &User,
    u: &User,
    password_hash: Option<&str>,
    now: i64,
) -> Result<()> {
    // Rules 15, 16, 18: the tokens' part, planned once (the console previews the same plan);
    // enabling the user again restores nothing.
    let plan = plan_owner_change(before, u, db::tokens::of_owner(tx, u.id)?);
    apply_owner_change(tx, actor, plan, &u.permissions(), now)?;
    let mut end_sessions = before.enabled && !u.enabled;
    // Rule 18: switched to SSO → legacy compatibility ended, no password.
    if !before.sso && u.sso {
        for t in db::tokens::of_owner(tx, u.id)? {
            if t.kind == TokenKind::Legacy {
                crate::service::legacy::end_compatibility(tx, t.id, now)?;
            }
        }
        db::users::set_password(tx, u.id, None)?;
        end_sessions = true;
    }
    if let Some(h) = password_hash {
        db::users::set_password(tx, u.id, Some(h))?;
        end_sessions = true;
    }
    if end_sessions {
        db::sessions::delete_for_user(tx, u.id)?;
    }
    Ok(())
}

/// Deletes a user and all its tokens (each audited). Refused while it owns shared tokens,
/// which other people rely on: delete or reassign those first (see docs/DECISIONS.md).
pub fn delete(tx: &mut Tx, env: &Env, caller: &Caller, id: i64) -> Result<()> {
    require(caller, Permission::UsersWrite)?;
    let now = env.now_ms();
    let u = load_changeable(tx, caller, id)?;
    policy::ensure_not_deleting_self(caller, u.id)?;
    let tokens = db::tokens::of_owner(tx, u.id)?;
    if tokens.iter().any(|t| t.kind == TokenKind::Shared) {
        return Err(Error::conflict(
            "owns_shared_tokens",
            "the user owns shared tokens; delete them first",
        ));
    }
    let actor = Actor::of(caller);
    for t in &tokens {
        crate::service::tokens::delete_row(tx, &actor, t, "token.deleted", now)?;
    }
    db::users::delete(tx, u.id)?;
    record(
        tx,
        &actor,
        Event {
            action: "user.deleted",
            company_id: Some(u.company_id),
            token_id: None,
            user_id: Some(u.id),
            details: json!({ "email": u.email, "tokens_deleted": tokens.len() }),
        },
        now,
    )
}

/// One token's fate under a previewed user change.
#[derive(Debug, Clone)]
pub struct TokenLoss {
    pub token_id: i64,
    pub name: String,
    /// Permissions the token would lose (rule 16).
    pub lost: PermissionSet,
    /// Whether it would end up disabled (no permission left, owner disabled or switched to SSO).
    pub disabled: bool,
}

/// What saving `input` on user `id` would do to the user's enabled or trimmed tokens.
/// Nothing is written. Rule 46: the change must be one the caller may make — the same
/// `users::planned_change` that `users::update` applies (rules 24, 26, grants), so a refused
/// change previews nothing — and only tokens the caller may see are listed.
pub fn preview_update(
    conn: &Connection,
    caller: &Caller,
    id: i64,
    input: &UpdateUser,
) -> Result<Vec<TokenLoss>> {
    require(caller, Permission::UsersWrite)?;
    let (before, after) = planned_change(conn, caller, id, input)?;
    let tokens = db::tokens::of_owner(conn, before.id)?;
    Ok(plan_owner_change(&before, &after, tokens)
        .into_iter()
        .filter(|e| access(caller, &e.token).see)
        .map(|e| TokenLoss {
            token_id: e.token.id,
            name: e.token.name,
            lost: e.lost,
            disabled: e.disabled.is_some(),
        })
        .collect())
}
