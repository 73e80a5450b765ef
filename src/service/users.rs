//! Users: create, change (with the cascades of rules 15, 16 and 18), delete, list.

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::audit::{record, Actor, Event};
use super::lifecycle::{disable_owner_tokens, trim_to_owner};
use super::policy::{ensure_may_change_user, ensure_not_delegated};
use super::{require, Env, Page};
use crate::db::users::NewUser;
use crate::db::{self, Tx};
use crate::domain::model::{Caller, DisabledReason, TokenKind, User};
use crate::domain::names::{check_password, parse_person_name, Email};
use crate::domain::permissions::{Permission, PermissionSet};
use crate::domain::roles::Role;
use crate::domain::secret::Secret;
use crate::domain::time::{fmt_time, from_ms};
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub company_id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// The user's current permissions (from the role, or the custom set).
    #[schema(value_type = Vec<String>)]
    pub permissions: PermissionSet,
    pub enabled: bool,
    pub sso: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id,
            company_id: u.company_id,
            email: u.email.clone(),
            name: u.name.clone(),
            role: u.role,
            permissions: u.permissions(),
            enabled: u.enabled,
            sso: u.sso,
            created_at: fmt_time(&from_ms(u.created_at)),
            updated_at: fmt_time(&from_ms(u.updated_at)),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    pub role: String,
    /// The explicit set of a `custom` role.
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub sso: Option<bool>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub password: Option<Secret>,
    /// Global administrators only; default: the caller's company.
    #[serde(default)]
    pub company_id: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub sso: Option<bool>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub password: Option<Secret>,
}

fn parse_role(s: &str) -> ApiResult<Role> {
    Role::parse(s).ok_or_else(|| {
        ApiError::field(
            "role",
            format!("unknown role `{}`: must be one of global_admin, admin, analyst, api_developer, read_only, deploy, custom", s.chars().take(40).collect::<String>()),
        )
    })
}

/// Checks that the caller may grant `role` with `custom`: no one grants more than they hold
/// (so only a credential holding every permission makes a global administrator).
fn check_grant(caller: &Caller, role: Role, custom: PermissionSet) -> ApiResult<()> {
    let granted = crate::domain::model::permissions_of(role, custom);
    if !granted.is_subset_of(caller.permissions) {
        return Err(ApiError::forbidden(
            "forbidden",
            format!(
                "you cannot grant permissions you do not hold: {}",
                granted.difference(caller.permissions).names().join(", ")
            ),
        ));
    }
    Ok(())
}

fn custom_set(role: Role, list: Option<&[String]>) -> ApiResult<PermissionSet> {
    match (role, list) {
        (Role::Custom, Some(l)) => PermissionSet::parse_names(l)
            .map_err(|n| ApiError::field("permissions", format!("unknown permission `{n}`"))),
        (Role::Custom, None) => Ok(PermissionSet::EMPTY),
        (_, Some(_)) => Err(ApiError::field(
            "permissions",
            "only a custom role takes an explicit permission list",
        )),
        (_, None) => Ok(PermissionSet::EMPTY),
    }
}

fn email_taken(e: rusqlite::Error) -> ApiError {
    if db::is_unique_violation(&e) {
        ApiError::conflict("email_taken", "a user with this email already exists")
    } else {
        e.into()
    }
}

/// The user with this email, whoever asks (sign-in, the command line, imports).
pub fn by_email(conn: &Connection, email: &Email) -> ApiResult<Option<User>> {
    Ok(db::users::by_email(conn, email)?)
}

/// Creates the SSO user `email` with `role` in the first company (sign-in auto-provisioning),
/// or returns the one a concurrent first sign-in created meanwhile.
pub fn provision_sso(
    tx: &mut Tx,
    env: &Env,
    email: &Email,
    name: &str,
    role: Role,
) -> ApiResult<User> {
    if let Some(u) = db::users::by_email(tx, email)? {
        return Ok(u);
    }
    let company = db::companies::first_id(tx)?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no company to provision into")))?;
    let input = CreateUser {
        email: email.as_str().to_string(),
        name: Some(name.to_string()),
        role: role.name().to_string(),
        sso: Some(true),
        ..CreateUser::default()
    };
    let valid = validate_new_user(input, company)?;
    let created = insert(tx, env, &Actor::system(), &valid, None)?;
    db::users::get(tx, created.id)?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("provisioned user vanished")))
}

/// Loads a user the caller may read (its company; every company with `companies:read`).
pub fn load_visible(conn: &Connection, caller: &Caller, id: i64) -> ApiResult<User> {
    db::users::get(conn, id)?
        .filter(|u| caller.reaches_company(u.company_id))
        .ok_or(ApiError::NotFound)
}

/// Loads a user the caller may change: visible, in a company it may change (rule 24), and
/// holding nothing the caller lacks (rule 26).
pub fn load_changeable(conn: &Connection, caller: &Caller, id: i64) -> ApiResult<User> {
    let u = load_visible(conn, caller, id)?;
    if !caller.changes_company(u.company_id) {
        return Err(ApiError::forbidden(
            "forbidden",
            "changing another company's users needs companies:write",
        ));
    }
    ensure_may_change_user(caller, &u)?;
    Ok(u)
}

/// Validates a create request. The password is hashed by the caller (off the async
/// workers) between `validate_create` and `insert`.
pub struct ValidCreate {
    pub company_id: i64,
    pub email: Email,
    pub name: String,
    pub role: Role,
    pub custom: PermissionSet,
    pub enabled: bool,
    pub sso: bool,
    pub password: Option<Secret>,
}

/// Validates a create request from the API or the console: the fields, what the caller may
/// grant, and the company.
pub fn validate_create(caller: &Caller, input: CreateUser) -> ApiResult<ValidCreate> {
    require(caller, Permission::UsersWrite)?;
    let company = input.company_id;
    let mut v = validate_new_user(input, caller.user.company_id)?;
    check_grant(caller, v.role, v.custom)?;
    v.company_id = match company {
        None => caller.user.company_id,
        Some(c) if c == caller.user.company_id => c,
        Some(_) if !caller.has(Permission::CompaniesWrite) => {
            return Err(ApiError::forbidden(
                "forbidden",
                "creating users in another company needs companies:write",
            ))
        }
        Some(c) => c,
    };
    Ok(v)
}

/// The rules of a new user's fields, whoever creates it (API, console, command line, first
/// start): a valid email and name, a known role, a custom set only for the custom role, and
/// no password for SSO users (rule 18). `company_id` is used when the input names none.
pub fn validate_new_user(input: CreateUser, company_id: i64) -> ApiResult<ValidCreate> {
    let email = Email::parse(&input.email).map_err(|m| ApiError::field("email", m))?;
    let name = match &input.name {
        Some(n) => parse_person_name(n).map_err(|m| ApiError::field("name", m))?,
        None => email
            .as_str()
            .split('@')
            .next()
            .unwrap_or("user")
            .to_string(),
    };
    let role = parse_role(&input.role)?;
    let custom = custom_set(role, input.permissions.as_deref())?;
    let sso = input.sso.unwrap_or(false);
    if let Some(p) = &input.password {
        if sso {
            return Err(ApiError::field("password", "SSO users sign in through SSO"));
        }
        check_password(p.expose()).map_err(|m| ApiError::field("password", m))?;
    }
    Ok(ValidCreate {
        company_id: input.company_id.unwrap_or(company_id),
        email,
        name,
        role,
        custom,
        enabled: input.enabled.unwrap_or(true),
        sso,
        password: input.password,
    })
}

pub fn insert(
    tx: &mut Tx,
    env: &Env,
    actor: &Actor,
    v: &ValidCreate,
    password_hash: Option<&str>,
) -> ApiResult<UserView> {
    let now = env.now_ms();
    if db::companies::get(tx, v.company_id)?.is_none() {
        return Err(ApiError::field("company_id", "no such company"));
    }
    let id = db::users::insert(
        tx,
        &NewUser {
            company_id: v.company_id,
            email: v.email.as_str(),
            name: &v.name,
            role: v.role,
            custom: v.custom,
            enabled: v.enabled,
            sso: v.sso,
            password_hash,
            now,
        },
    )
    .map_err(email_taken)?;
    let u = db::users::get(tx, id)?.ok_or(ApiError::NotFound)?;
    record(
        tx,
        actor,
        Event {
            action: "user.created",
            company_id: Some(u.company_id),
            token_id: None,
            user_id: Some(u.id),
            details: json!({ "email": u.email, "role": u.role, "sso": u.sso, "enabled": u.enabled }),
        },
        now,
    )?;
    Ok(UserView::from(&u))
}

/// The role and custom set a change asks for (the user's own when it names neither).
/// Shared by `update` and the console's preview of a change (`service::console`).
pub fn resolve_role_change(u: &User, input: &UpdateUser) -> ApiResult<(Role, PermissionSet)> {
    if input.role.is_none() && input.permissions.is_none() {
        return Ok((u.role, u.custom));
    }
    let role = match &input.role {
        Some(r) => parse_role(r)?,
        None => u.role,
    };
    let custom = match (role, input.permissions.as_deref()) {
        (Role::Custom, None) if u.role == Role::Custom => u.custom,
        (role, list) => custom_set(role, list)?,
    };
    Ok((role, custom))
}

/// Validates a change request; returns the password to hash, if one was given.
pub fn validate_update(caller: &Caller, input: &UpdateUser) -> ApiResult<Option<Secret>> {
    require(caller, Permission::UsersWrite)?;
    if input.password.is_some() || input.email.is_some() || input.sso.is_some() {
        ensure_not_delegated(caller, "change a password, email or SSO flag")?;
    }
    // Rule 28: every field is bounded before the password is hashed.
    if let Some(e) = &input.email {
        Email::parse(e).map_err(|m| ApiError::field("email", m))?;
    }
    if let Some(n) = &input.name {
        parse_person_name(n).map_err(|m| ApiError::field("name", m))?;
    }
    if let Some(p) = &input.password {
        check_password(p.expose()).map_err(|m| ApiError::field("password", m))?;
    }
    Ok(input.password.clone())
}

/// Applies a change with its cascades, all in this transaction.
pub fn update(
    tx: &mut Tx,
    env: &Env,
    caller: &Caller,
    id: i64,
    input: UpdateUser,
    password_hash: Option<String>,
) -> ApiResult<UserView> {
    require(caller, Permission::UsersWrite)?;
    let now = env.now_ms();
    let before = load_changeable(tx, caller, id)?;
    let mut u = before.clone();
    let actor = Actor::of(caller);
    if let Some(e) = &input.email {
        u.email = Email::parse(e)
            .map_err(|m| ApiError::field("email", m))?
            .as_str()
            .to_string();
    }
    if let Some(n) = &input.name {
        u.name = parse_person_name(n).map_err(|m| ApiError::field("name", m))?;
    }
    if input.role.is_some() || input.permissions.is_some() {
        (u.role, u.custom) = resolve_role_change(&u, &input)?;
        check_grant(caller, u.role, u.custom)?;
    }
    if let Some(e) = input.enabled {
        u.enabled = e;
    }
    if let Some(s) = input.sso {
        u.sso = s;
    }
    if u.id == caller.user.id && (!u.enabled || u.sso || u.role != before.role) {
        return Err(ApiError::forbidden(
            "forbidden",
            "you cannot disable yourself, switch yourself to SSO or change your own role",
        ));
    }
    if password_hash.is_some() && u.sso {
        return Err(ApiError::field("password", "SSO users sign in through SSO"));
    }
    db::users::update(tx, &u, now).map_err(email_taken)?;
    let mut end_sessions = false;

    // Rule 15: owner disabled → its tokens disabled; enabling the user restores nothing.
    if before.enabled && !u.enabled {
        disable_owner_tokens(tx, &actor, u.id, DisabledReason::OwnerDisabled, now)?;
        end_sessions = true;
    }
    // Rule 18: switched to SSO → tokens disabled, legacy compatibility ended, no password.
    if !before.sso && u.sso {
        disable_owner_tokens(tx, &actor, u.id, DisabledReason::OwnerSso, now)?;
        for t in db::tokens::of_owner(tx, u.id)? {
            if t.kind == TokenKind::Legacy {
                super::legacy::end_compatibility(tx, t.id, now)?;
            }
        }
        db::users::set_password(tx, u.id, None)?;
        end_sessions = true;
    }
    // Rule 16: permissions reduced → lost permissions removed from every token.
    if !before.permissions().is_subset_of(u.permissions()) {
        trim_to_owner(tx, &actor, &u, now)?;
    }
    if let Some(h) = &password_hash {
        db::users::set_password(tx, u.id, Some(h))?;
        end_sessions = true;
    }
    if end_sessions {
        db::sessions::delete_for_user(tx, u.id)?;
    }
    let action = if before.enabled && !u.enabled {
        "user.disabled"
    } else {
        "user.updated"
    };
    record(
        tx,
        &actor,
        Event {
            action,
            company_id: Some(u.company_id),
            token_id: None,
            user_id: Some(u.id),
            details: json!({
                "email": u.email, "role_before": before.role, "role": u.role,
                "enabled": u.enabled, "sso": u.sso,
                "password_changed": password_hash.is_some(),
                "permissions_removed": before.permissions().difference(u.permissions()),
            }),
        },
        now,
    )?;
    let after = db::users::get(tx, id)?.ok_or(ApiError::NotFound)?;
    Ok(UserView::from(&after))
}

/// Deletes a user and all its tokens (each audited). Refused while it owns shared tokens,
/// which other people rely on: delete or reassign those first (see docs/DECISIONS.md).
pub fn delete(tx: &mut Tx, env: &Env, caller: &Caller, id: i64) -> ApiResult<()> {
    require(caller, Permission::UsersWrite)?;
    let now = env.now_ms();
    let u = load_changeable(tx, caller, id)?;
    if u.id == caller.user.id {
        return Err(ApiError::forbidden(
            "forbidden",
            "you cannot delete yourself",
        ));
    }
    let tokens = db::tokens::of_owner(tx, u.id)?;
    if tokens.iter().any(|t| t.kind == TokenKind::Shared) {
        return Err(ApiError::conflict(
            "owns_shared_tokens",
            "the user owns shared tokens; delete them first",
        ));
    }
    let actor = Actor::of(caller);
    for t in &tokens {
        super::tokens::delete_row(tx, &actor, t, "token.deleted", now)?;
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

pub fn get(conn: &Connection, caller: &Caller, id: i64) -> ApiResult<UserView> {
    require(caller, Permission::UsersRead)?;
    Ok(UserView::from(&load_visible(conn, caller, id)?))
}

pub fn list(
    conn: &Connection,
    env: &Env,
    caller: &Caller,
    company: Option<i64>,
    page: Page,
) -> ApiResult<(Vec<UserView>, Option<String>)> {
    require(caller, Permission::UsersRead)?;
    let scope = caller.company_scope().or(company);
    let rows = db::users::list(conn, scope, page.before, page.limit)?;
    let next = page.next_cursor(&env.keys, rows.last().map(|u| u.id), rows.len());
    Ok((rows.iter().map(UserView::from).collect(), next))
}
