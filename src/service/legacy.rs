//! Legacy (UUID + secret) credentials and their token (rules 19–21).
//!
//! A user with legacy credentials has exactly one token of kind `legacy`. Its permissions are
//! never stored: at every request they are the owner's current permissions. The secret is
//! stored as an HMAC-SHA256 under a server key (see `crypto::Keys::legacy_digest`).

use serde::Serialize;
use serde_json::json;

use super::audit::{record, Actor, Event};
use super::policy::{ensure_may_mint_for, ensure_not_delegated};
use super::{require, Env};
use crate::db::tokens::NewToken;
use crate::db::{self, Tx};
use crate::domain::caller::Caller;
use crate::domain::names::Email;
use crate::domain::permissions::{Permission, PermissionSet};
use crate::domain::secret::Secret;
use crate::domain::token::{Audience, TokenKind};
use crate::domain::token_value::{TokenValue, ValueKind};
use crate::domain::user::User;
use crate::service::error::{Error, Result};

pub const LEGACY_TOKEN_NAME: &str = "Legacy API credentials";

/// Issued credentials, shown once.
#[derive(Debug, Clone, Serialize)]
pub struct LegacyCredentials {
    pub uuid: String,
    pub secret: Secret,
    pub token_id: i64,
}

/// Rule 21: erases the UUID + secret of a token, if it has any.
pub fn end_compatibility(tx: &mut Tx, token_id: i64, now: i64) -> Result<bool> {
    match db::legacy::take_for_token(tx, token_id, now)? {
        Some(_) => Ok(true),
        None => Ok(false),
    }
}

/// Whether `s` is a UUID in canonical text form (what the legacy scheme issued).
pub fn valid_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok_and(|u| u.hyphenated().to_string() == s.to_lowercase())
}

/// Creates the legacy token of `owner` holding `uuid` + `secret`.
pub fn attach(
    tx: &mut Tx,
    env: &Env,
    actor: &Actor,
    owner: &User,
    uuid: &str,
    secret: &str,
) -> Result<i64> {
    let now = env.now_ms();
    super::policy::ensure_owner_active(owner)?;
    if db::tokens::of_owner(tx, owner.id)?
        .iter()
        .any(|t| t.kind == TokenKind::Legacy)
    {
        return Err(Error::conflict(
            "legacy_exists",
            "the user already has a legacy token; delete it first",
        ));
    }
    let uuid = uuid.to_lowercase();
    if db::legacy::uuid_retired(tx, &uuid)? {
        return Err(Error::conflict(
            "uuid_retired",
            "backward compatibility for this UUID has ended for good (rule 21)",
        ));
    }
    if db::legacy::uuid_exists(tx, &uuid)? {
        return Err(Error::conflict("uuid_taken", "this UUID is already in use"));
    }
    let company = db::companies::get(tx, owner.company_id)?.ok_or(Error::NotFound)?;
    let value = TokenValue::generate(ValueKind::Api);
    let digest = value.digest();
    let id = db::tokens::insert(
        tx,
        &NewToken {
            company_id: owner.company_id,
            owner_id: owner.id,
            creator_id: actor.id,
            kind: TokenKind::Legacy,
            audience: Audience::Administrators,
            name: LEGACY_TOKEN_NAME,
            description: "Backward-compatible token for UUID + secret key credentials",
            permissions: PermissionSet::EMPTY,
            role_template: None,
            digest,
            value_hint: &value.hint(),
            value_enc: super::tokens::seal(env, &company, &value),
            enabled: true,
            expires_at: None,
            allowed_cidrs: "",
            now,
        },
    )
    .map_err(|e| {
        if db::is_unique_violation(&e) {
            Error::conflict("name_taken", "the user already has a token with this name")
        } else {
            e.into()
        }
    })?;
    db::legacy::insert(tx, id, &uuid, &env.keys.legacy_digest(secret), now)?;
    record(
        tx,
        actor,
        Event {
            action: "token.created",
            company_id: Some(owner.company_id),
            token_id: Some(id),
            user_id: Some(owner.id),
            details: json!({ "name": LEGACY_TOKEN_NAME, "kind": "legacy", "uuid": uuid }),
        },
        now,
    )?;
    Ok(id)
}

/// `POST /v1/users/{id}/legacy-credentials`: issues a fresh UUID + secret.
/// An optional body of `POST /v1/users/{id}/legacy-credentials`: import these credentials
/// from the older scheme instead of issuing fresh ones (both fields, or neither).
#[derive(Debug, Clone, Default)]
pub struct ImportCredentials {
    pub uuid: Option<String>,
    pub secret: Option<Secret>,
}

/// Checks an imported UUID + secret pair (API and CLI alike).
fn check_imported(uuid: &str, secret: &str) -> Result<()> {
    if !valid_uuid(uuid) {
        return Err(Error::field("uuid", "not a UUID"));
    }
    if secret.len() < 16 || secret.len() > 512 || secret.chars().any(char::is_control) {
        return Err(Error::field(
            "secret",
            "must be 16 to 512 printable characters",
        ));
    }
    Ok(())
}

/// `POST /v1/users/{id}/legacy-credentials`: issues a fresh UUID + secret, or imports the
/// given pair.
pub fn issue(
    tx: &mut Tx,
    env: &Env,
    caller: &Caller,
    user_id: i64,
    input: ImportCredentials,
) -> Result<LegacyCredentials> {
    require(caller, Permission::UsersWrite)?;
    ensure_not_delegated(caller, "issue legacy credentials")?;
    let owner = super::users::load_visible(tx, caller, user_id)?;
    if !caller.changes_company(owner.company_id) {
        return Err(Error::NotFound);
    }
    // The credentials act as the owner with its role permissions, and the caller sees them:
    // issuing them is minting, bounded like a token made for another user (rule 23).
    ensure_may_mint_for(caller, &owner)?;
    let (uuid, secret) = match (input.uuid, input.secret) {
        (None, None) => (
            uuid::Uuid::new_v4().hyphenated().to_string(),
            Secret::new(crate::crypto::random_token::<32>()),
        ),
        (Some(u), Some(s)) => {
            check_imported(&u, s.expose())?;
            (u.to_lowercase(), s)
        }
        (None, Some(_)) => return Err(Error::field("uuid", "give both uuid and secret")),
        (Some(_), None) => return Err(Error::field("secret", "give both uuid and secret")),
    };
    let token_id = attach(tx, env, &Actor::of(caller), &owner, &uuid, secret.expose())?;
    Ok(LegacyCredentials {
        uuid,
        secret,
        token_id,
    })
}

/// One CSV row of `tokend legacy import`, applied on its own (all or nothing).
pub fn import_row(tx: &mut Tx, env: &Env, email: &str, uuid: &str, secret: &str) -> Result<i64> {
    check_imported(uuid, secret)?;
    let email = Email::parse(email).map_err(|m| Error::field("email", m))?;
    let owner =
        db::users::by_email(tx, &email)?.ok_or_else(|| Error::field("email", "no such user"))?;
    attach(tx, env, &Actor::system(), &owner, uuid, secret)
}
