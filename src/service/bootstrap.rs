//! First start: on a database without users, the company (unless the command line already
//! made it), a global administrator and (when given) the administrator's token with a chosen
//! value — made by the same functions the API uses, so the same rules apply (the value is kept
//! for reveal only as the company's policy allows). And the machine operator's ways in: the
//! default company for `tokend user create` on a fresh database, and `tokend user
//! set-password` for a lost password.

use serde_json::json;

use super::tokens::{self, CreateToken};
use super::users::{self, CreateUser, UserView};
use super::Env;
use crate::db::{self, Tx};
use crate::domain::caller::Caller;
use crate::domain::names::Email;
use crate::domain::token_value::TokenValue;
use crate::service::audit::{record, Actor, Event};
use crate::service::error::{Error, Result};

/// What the first start creates.
pub struct FirstStart<'a> {
    pub admin_email: &'a str,
    /// The argon2id hash of the administrator's password.
    pub password_hash: &'a str,
    pub admin_token: Option<TokenValue>,
}

pub const COMPANY_NAME: &str = "Default";
pub const TOKEN_NAME: &str = "Bootstrap admin token";

/// Whether the database has no user yet, so the first start has work to do.
pub fn needed(conn: &crate::db::Connection) -> Result<bool> {
    Ok(db::users::count(conn)? == 0)
}

/// The first company's id, creating the default company on a fresh database; `true` when it
/// was created here.
pub fn default_company(tx: &mut Tx, env: &Env) -> Result<(i64, bool)> {
    match db::companies::first_id(tx)? {
        Some(id) => Ok((id, false)),
        None => Ok((db::companies::insert(tx, COMPANY_NAME, env.now_ms())?, true)),
    }
}

/// Creates the administrator (and the company when there is none) and the token; `None` when
/// the database already has a user (nothing is done).
pub fn first_start(tx: &mut Tx, env: &Env, start: FirstStart) -> Result<Option<UserView>> {
    if db::users::count(tx)? != 0 {
        return Ok(None);
    }
    let (company_id, _) = default_company(tx, env)?;
    let admin = CreateUser {
        email: start.admin_email.to_string(),
        name: Some("Administrator".into()),
        role: "global_admin".into(),
        ..CreateUser::default()
    };
    let valid = users::validate_new_user(admin, company_id)?;
    let created = users::insert(tx, env, &Actor::system(), &valid, Some(start.password_hash))?;
    if let Some(value) = start.admin_token {
        let owner = db::users::get(tx, created.id)?.ok_or(Error::NotFound)?;
        // Every permission of the global administrator, named explicitly, and `*`: every API
        // scope of its company, defined now or later (a token has no default permissions).
        let permissions = owner.permissions().request_names();
        let input = CreateToken {
            name: TOKEN_NAME.into(),
            description: Some("From TOKEND_ADMIN_TOKEN at first start".into()),
            permissions: Some(permissions),
            ..CreateToken::default()
        };
        tokens::create_with_value(tx, env, &Caller::cli(owner), input, value)?;
    }
    Ok(Some(created))
}

/// The actor of a command-line change made as the machine's operator (no user signed in).
pub fn operator() -> Actor {
    Actor {
        via: "cli",
        ..Actor::default()
    }
}

/// `tokend user set-password`: sets the password of the user `email` (a lost password, the
/// administrator's included), ends the user's console sessions, audited `via: cli`. Refused
/// for SSO users, who sign in through their provider. `password_hash` is the argon2id hash
/// of a password already checked by `names::check_password`.
pub fn set_password(
    tx: &mut Tx,
    env: &Env,
    email: &Email,
    password_hash: &str,
) -> Result<UserView> {
    let now = env.now_ms();
    let u = db::users::by_email(tx, email)?
        .ok_or_else(|| Error::field("email", format!("no user with email {}", email.as_str())))?;
    if u.sso {
        return Err(Error::field(
            "email",
            format!(
                "{} is an SSO user and signs in through SSO: there is no password to set",
                u.email
            ),
        ));
    }
    db::users::set_password(tx, u.id, Some(password_hash))?;
    let sessions = db::sessions::delete_for_user(tx, u.id)?;
    record(
        tx,
        &operator(),
        Event {
            action: "user.updated",
            company_id: Some(u.company_id),
            token_id: None,
            user_id: Some(u.id),
            details: json!({
                "email": u.email, "role_before": u.role, "role": u.role,
                "enabled": u.enabled, "sso": u.sso, "password_changed": true,
                "permissions_removed": [], "sessions_ended": sessions,
            }),
        },
        now,
    )?;
    Ok(UserView::from(&u))
}
