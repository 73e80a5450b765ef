//! First start: on an empty database, one company, a global administrator and (when given) the
//! administrator's token with a chosen value — made by the same functions the API uses, so the
//! same rules apply (the value is kept for reveal only as the company's policy allows).

use super::tokens::{self, CreateToken};
use super::users::{self, CreateUser, UserView};
use super::Env;
use crate::db::{self, Tx};
use crate::domain::model::Caller;
use crate::domain::token_value::TokenValue;
use crate::error::{ApiError, ApiResult};
use crate::service::audit::Actor;

/// What the first start creates.
pub struct FirstStart<'a> {
    pub admin_email: &'a str,
    /// The argon2id hash of the administrator's password.
    pub password_hash: &'a str,
    pub admin_token: Option<TokenValue>,
}

pub const COMPANY_NAME: &str = "Default";
pub const TOKEN_NAME: &str = "Bootstrap admin token";

/// Whether the database is empty (has no company), so the first start has work to do.
pub fn needed(conn: &crate::db::Connection) -> ApiResult<bool> {
    Ok(db::companies::count(conn)? == 0)
}

/// Creates the first company, administrator and token; `None` when the database already has
/// a company (nothing is done).
pub fn first_start(tx: &mut Tx, env: &Env, start: FirstStart) -> ApiResult<Option<UserView>> {
    if db::companies::count(tx)? != 0 {
        return Ok(None);
    }
    let company_id = db::companies::insert(tx, COMPANY_NAME, env.now_ms())?;
    let admin = CreateUser {
        email: start.admin_email.to_string(),
        name: Some("Administrator".into()),
        role: "global_admin".into(),
        ..CreateUser::default()
    };
    let valid = users::validate_new_user(admin, company_id)?;
    let created = users::insert(tx, env, &Actor::system(), &valid, Some(start.password_hash))?;
    if let Some(value) = start.admin_token {
        let owner = db::users::get(tx, created.id)?.ok_or(ApiError::NotFound)?;
        // Every permission of the global administrator, named explicitly (a token has no
        // default permissions; `global_admin` is a role, not a template).
        let permissions = owner
            .permissions()
            .names()
            .iter()
            .map(|p| p.to_string())
            .collect();
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
