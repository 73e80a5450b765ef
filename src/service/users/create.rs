//! Creating users: one validation of a new user's fields for every way in (API, console,
//! command line, first start, sign-in provisioning), then one insert with its audit record.

use serde_json::json;

use super::{check_grant, custom_set, email_taken, parse_role, CreateUser, UserView};
use crate::db::users::NewUser;
use crate::db::{self, Tx};
use crate::domain::caller::Caller;
use crate::domain::names::{check_password, parse_person_name, Email};
use crate::domain::permissions::{Permission, PermissionSet};
use crate::domain::roles::Role;
use crate::domain::secret::Secret;
use crate::domain::user::User;
use crate::service::audit::{record, Actor, Event};
use crate::service::error::{Error, Result};
use crate::service::{require, Env};

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
    /// The company role (`role` is `Company`).
    pub role_id: Option<i64>,
    /// The permissions of the credential creating the user, when one does (a company role
    /// is checked against them once it is read).
    pub grantor: Option<PermissionSet>,
}

/// Validates a create request from the API or the console: the fields, what the caller may
/// grant, and the company.
pub fn validate_create(caller: &Caller, input: CreateUser) -> Result<ValidCreate> {
    require(caller, Permission::UsersWrite)?;
    let company = input.company_id;
    let mut v = validate_new_user(input, caller.user.company_id)?;
    check_grant(caller, v.role, &v.custom)?;
    v.grantor = Some(caller.permissions.clone());
    v.company_id = match company {
        None => caller.user.company_id,
        Some(c) if c == caller.user.company_id => c,
        Some(c) => {
            crate::service::policy::ensure_changes_company(
                caller,
                c,
                "creating users in another company",
            )?;
            c
        }
    };
    Ok(v)
}

/// The rules of a new user's fields, whoever creates it (API, console, command line, first
/// start): a valid email and name, a known role, a custom set only for the custom role, and
/// no password for SSO users (rule 18). `company_id` is used when the input names none.
pub fn validate_new_user(input: CreateUser, company_id: i64) -> Result<ValidCreate> {
    let email = Email::parse(&input.email).map_err(|m| Error::field("email", m))?;
    let name = match &input.name {
        Some(n) => parse_person_name(n).map_err(|m| Error::field("name", m))?,
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
            return Err(Error::field("password", "SSO users sign in through SSO"));
        }
        check_password(p.expose()).map_err(|m| Error::field("password", m))?;
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
        role_id: input.role_id,
        grantor: None,
    })
}

pub fn insert(
    tx: &mut Tx,
    env: &Env,
    actor: &Actor,
    v: &ValidCreate,
    password_hash: Option<&str>,
) -> Result<UserView> {
    let now = env.now_ms();
    if db::companies::get(tx, v.company_id)?.is_none() {
        return Err(Error::field("company_id", "no such company"));
    }
    let (custom, role_id) = if v.role == Role::Company {
        let set = super::company_role_set(tx, v.company_id, v.role_id, v.grantor.as_ref())?;
        (set, v.role_id)
    } else {
        if v.role_id.is_some() {
            return Err(Error::field(
                "role_id",
                "only role `company` takes a role_id",
            ));
        }
        crate::service::scopes::check_defined(tx, v.company_id, &v.custom, "permissions")?;
        (v.custom.clone(), None)
    };
    let id = db::users::insert(
        tx,
        &NewUser {
            company_id: v.company_id,
            email: v.email.as_str(),
            name: &v.name,
            role: v.role,
            custom,
            enabled: v.enabled,
            sso: v.sso,
            password_hash,
            now,
            role_id,
        },
    )
    .map_err(email_taken)?;
    let u = db::users::get(tx, id)?.ok_or(Error::NotFound)?;
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

/// Creates the SSO user `email` with `role` in the first company (sign-in auto-provisioning),
/// or returns the one a concurrent first sign-in created meanwhile.
pub fn provision_sso(
    tx: &mut Tx,
    env: &Env,
    email: &Email,
    name: &str,
    role: Role,
) -> Result<User> {
    if let Some(u) = db::users::by_email(tx, email)? {
        return Ok(u);
    }
    let company = db::companies::first_id(tx)?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("no company to provision into")))?;
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
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("provisioned user vanished")))
}
