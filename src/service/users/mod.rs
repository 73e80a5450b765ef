//! Users: the shapes of the API, the shared checks, reading and listing; creating is in
//! `create.rs`, changing and deleting in `change.rs`.

mod change;
mod create;
mod own;

pub use change::{delete, planned_change, preview_update, update, validate_update, TokenLoss};
pub use create::{insert, provision_sso, validate_create, validate_new_user, ValidCreate};
pub use own::{change_own_password, current_password_needed, Reauthenticated, ValidUpdate};

use crate::db::Connection;
use serde::Serialize;

use super::policy::ensure_may_change_user;
use super::{require, Env, Page};
use crate::db::{self};
use crate::domain::caller::Caller;
use crate::domain::names::Email;
use crate::domain::permissions::{Permission, PermissionSet};
use crate::domain::roles::Role;
use crate::domain::secret::Secret;
use crate::domain::time::{fmt_time, from_ms};
use crate::domain::user::User;
use crate::service::error::{Error, Result};

#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub id: i64,
    pub company_id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// The company role the user holds (`role` is `company`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_id: Option<i64>,
    /// The user's current permissions (from the role, or the custom set).
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
            role_id: u.role_id,
            permissions: u.permissions(),
            enabled: u.enabled,
            sso: u.sso,
            created_at: fmt_time(&from_ms(u.created_at)),
            updated_at: fmt_time(&from_ms(u.updated_at)),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct CreateUser {
    pub email: String,
    pub name: Option<String>,
    pub role: String,
    /// The explicit set of a `custom` role.
    pub permissions: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub sso: Option<bool>,
    pub password: Option<Secret>,
    /// Global administrators only; default: the caller's company.
    pub company_id: Option<i64>,
    /// The company role to hold, with `role: "company"` (SPEC §18).
    pub role_id: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct UpdateUser {
    pub email: Option<String>,
    pub name: Option<String>,
    pub role: Option<String>,
    /// The company role to hold, with `role: "company"` (SPEC §18).
    pub role_id: Option<i64>,
    pub permissions: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub sso: Option<bool>,
    pub password: Option<Secret>,
    /// Rule 37: one's own current password, needed to change one's own password or email
    /// (ignored otherwise). Redacted in `Debug` like every secret.
    pub current_password: Option<Secret>,
}

fn parse_role(s: &str) -> Result<Role> {
    Role::parse_stored(s).ok_or_else(|| {
        Error::field(
            "role",
            format!("unknown role `{}`: must be one of global_admin, admin, analyst, api_developer, read_only, deploy, custom, company (with role_id)", s.chars().take(40).collect::<String>()),
        )
    })
}

/// Checks that the caller may grant `role` with `custom`: no one grants more than they hold
/// (so only a credential holding every permission makes a global administrator).
fn check_grant(caller: &Caller, role: Role, custom: &PermissionSet) -> Result<()> {
    let granted = crate::domain::user::permissions_of(role, custom);
    crate::service::policy::ensure_may_grant(&caller.permissions, &granted)
}

fn custom_set(role: Role, list: Option<&[String]>) -> Result<PermissionSet> {
    match (role, list) {
        (Role::Custom, Some(l)) => PermissionSet::parse_names(l)
            .map_err(|n| Error::field("permissions", format!("unknown permission `{n}`"))),
        (Role::Custom, None) => Ok(PermissionSet::EMPTY),
        (Role::Company, Some(_)) => Err(Error::field(
            "permissions",
            "a company role has its own permissions: edit the role",
        )),
        (_, Some(_)) => Err(Error::field(
            "permissions",
            "only a custom role takes an explicit permission list",
        )),
        (_, None) => Ok(PermissionSet::EMPTY),
    }
}

fn email_taken(e: crate::db::Error) -> Error {
    if db::is_unique_violation(&e) {
        Error::conflict("email_taken", "a user with this email already exists")
    } else {
        e.into()
    }
}

/// The user with this email, whoever asks (sign-in, the command line, imports).
pub fn by_email(conn: &Connection, email: &Email) -> Result<Option<User>> {
    Ok(db::users::by_email(conn, email)?)
}

/// The user with this email and its stored password hash, for a password sign-in.
pub fn credentials(conn: &Connection, email: &Email) -> Result<Option<(User, Option<String>)>> {
    Ok(db::users::credentials(conn, email)?)
}

/// The stored password hash of user `id`, for re-authentication (rule 37).
pub fn password_hash(conn: &Connection, id: i64) -> Result<Option<String>> {
    Ok(db::users::password_hash(conn, id)?)
}

/// The first global administrator, whoever asks (the command line lists every company's
/// tokens as this user).
pub fn first_global_admin(conn: &Connection) -> Result<Option<User>> {
    Ok(db::users::first_global_admin(conn)?)
}

/// The owner of token `token_id`, whoever asks (the command line acts as a token's owner);
/// `None` when there is no such token.
pub fn owner_of_token(conn: &Connection, token_id: i64) -> Result<Option<User>> {
    let Some(t) = db::tokens::get(conn, token_id)? else {
        return Ok(None);
    };
    Ok(db::users::get(conn, t.owner_id)?)
}

/// Loads a user the caller may read (its company; every company with `companies:read`).
pub fn load_visible(conn: &Connection, caller: &Caller, id: i64) -> Result<User> {
    db::users::get(conn, id)?
        .filter(|u| caller.reaches_company(u.company_id))
        .ok_or(Error::NotFound)
}

/// Loads a user the caller may change: visible, in a company it may change (rule 24), and
/// holding nothing the caller lacks (rule 26).
pub fn load_changeable(conn: &Connection, caller: &Caller, id: i64) -> Result<User> {
    let u = load_visible(conn, caller, id)?;
    crate::service::policy::ensure_changes_company(
        caller,
        u.company_id,
        "changing another company's users",
    )?;
    ensure_may_change_user(caller, &u)?;
    Ok(u)
}

pub fn get(conn: &Connection, caller: &Caller, id: i64) -> Result<UserView> {
    require(caller, Permission::UsersRead)?;
    Ok(UserView::from(&load_visible(conn, caller, id)?))
}

pub fn list(
    conn: &Connection,
    env: &Env,
    caller: &Caller,
    company: Option<i64>,
    page: Page,
) -> Result<(Vec<UserView>, Option<String>)> {
    require(caller, Permission::UsersRead)?;
    let scope = caller.company_scope().or(company);
    let rows = db::users::list(conn, scope, page.before, page.limit)?;
    let next = page.next_cursor(&env.keys, rows.last().map(|u| u.id), rows.len());
    Ok((rows.iter().map(UserView::from).collect(), next))
}

/// A company role for a user of `company_id` (SPEC §18): the role's set as the user stores it.
/// A role of another company, or none, is refused naming `role_id`; a credential granting it
/// must hold all of it (no power grows through a custom role).
pub(crate) fn company_role_set(
    conn: &Connection,
    company_id: i64,
    role_id: Option<i64>,
    grantor: Option<&PermissionSet>,
) -> Result<PermissionSet> {
    let Some(id) = role_id else {
        return Err(Error::field("role_id", "role `company` needs a role_id"));
    };
    let role = match db::roles::get(conn, id)? {
        Some(r) if r.company_id == company_id => r,
        _ => {
            return Err(Error::field(
                "role_id",
                "no such role in the user's company",
            ))
        }
    };
    let set = super::scopes::explicit(conn, company_id, &role.permissions)?;
    if let Some(g) = grantor {
        crate::service::policy::ensure_may_grant(g, &set)?;
    }
    Ok(set)
}
