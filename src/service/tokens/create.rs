//! Creating an API token: who may own it (rules 23 and 25), its kind and audience, its
//! permissions within the owner's (rule 2) and the company's expiry policy.

use serde_json::json;

use super::rules::{
    check_bounds, check_expiry, company, name_taken, parse_cidrs, requested_permissions, seal,
    with_value,
};
use super::types::{CreateToken, TokenWithValue};
use crate::db::tokens::NewToken;
use crate::db::{self, Tx};
use crate::domain::caller::Caller;
use crate::domain::names::{parse_description, TokenName};
use crate::domain::permissions::{Permission, PermissionSet};
use crate::domain::token::{Audience, TokenKind};
use crate::domain::token_value::{TokenValue, ValueKind};
use crate::domain::user::User;
use crate::service::audit::{opt_time, record, Actor, Event};
use crate::service::error::{Error, Result};
use crate::service::policy::{
    ensure_may_create_for_others, ensure_may_create_token_for, ensure_may_share,
    ensure_not_delegated, ensure_not_sso,
};
use crate::service::{require, Env};

/// `POST /v1/tokens`: a new token with a fresh value, shown once in the answer.
pub fn create(
    tx: &mut Tx,
    env: &Env,
    caller: &Caller,
    input: CreateToken,
) -> Result<TokenWithValue> {
    create_with_value(tx, env, caller, input, TokenValue::generate(ValueKind::Api))
}

/// [`create`] with a value chosen beforehand (the bootstrap token given at first start).
/// Every rule of `create` applies unchanged.
pub fn create_with_value(
    tx: &mut Tx,
    env: &Env,
    caller: &Caller,
    input: CreateToken,
    value: TokenValue,
) -> Result<TokenWithValue> {
    ensure_not_sso(caller)?;
    require(caller, Permission::TokensWrite)?;
    ensure_not_delegated(caller, "create tokens")?;
    let now = env.now_ms();
    let owner = owner_of(tx, caller, input.owner_id)?;
    ensure_may_create_token_for(caller, &owner)?;
    let (kind, audience) = kind_and_audience(caller, &input)?;
    let name = TokenName::parse(&input.name).map_err(|m| Error::field("name", m))?;
    let description = parse_description(input.description.as_deref().unwrap_or(""))
        .map_err(|m| Error::field("description", m))?;
    let (permissions, template) = permissions_for(tx, owner.company_id, &input)?;
    check_bounds(&permissions, &owner, caller)?;
    let company = company(tx, owner.company_id)?;
    let expires_at = input.expires_at.map(|t| t.timestamp_millis());
    check_expiry(expires_at, &company, now)?;
    let cidrs = parse_cidrs(input.allowed_cidrs.as_deref().unwrap_or(&[]))?;
    let (rate, quota) =
        super::types::parse_limits(input.rate_limit.as_ref(), input.quota.as_ref())?;
    let enabled = input.enabled.unwrap_or(true);
    let digest = value.digest();
    let id = db::tokens::insert(
        tx,
        &NewToken {
            company_id: owner.company_id,
            owner_id: owner.id,
            creator_id: Some(caller.user.id),
            kind,
            audience,
            name: name.as_str(),
            description: &description,
            permissions: permissions.clone(),
            role_template: template.as_deref(),
            digest,
            value_hint: &value.hint(),
            value_enc: seal(env, &company, &value),
            enabled,
            expires_at,
            allowed_cidrs: &cidrs,
            now,
        },
    )
    .map_err(name_taken)?;
    if let Some(rate) = rate.flatten() {
        db::tokens::limits::set_rate_limit(tx, id, Some(rate))?;
    }
    if let Some(quota) = quota.flatten() {
        db::tokens::limits::set_quota(tx, id, Some(quota), now)?;
    }
    let details = json!({
        "name": name.as_str(), "kind": kind.as_str(), "owner_id": owner.id,
        "permissions": permissions, "expires_at": opt_time(expires_at), "enabled": enabled,
    });
    record(
        tx,
        &Actor::of(caller),
        Event {
            action: "token.created",
            company_id: Some(owner.company_id),
            token_id: Some(id),
            user_id: Some(owner.id),
            details,
        },
        now,
    )?;
    with_value(tx, env, caller, (id, &company), &value)
}

/// The owner asked for: the caller, or another user the caller may reach (a user of a
/// company it cannot change is no user to it). Whether it may own the token is decided by
/// `policy::ensure_may_create_token_for`.
fn owner_of(tx: &Tx, caller: &Caller, owner_id: Option<i64>) -> Result<User> {
    match owner_id {
        None => Ok(caller.user.clone()),
        Some(id) if id == caller.user.id => Ok(caller.user.clone()),
        Some(id) => {
            // Before the lookup, so a refused caller learns nothing of who exists.
            ensure_may_create_for_others(caller)?;
            db::users::get(tx, id)?
                .filter(|u| caller.changes_company(u.company_id))
                .ok_or_else(|| Error::field("owner_id", "no such user"))
        }
    }
}

/// Private by default; shared tokens (administrators only) may name their audience.
fn kind_and_audience(caller: &Caller, input: &CreateToken) -> Result<(TokenKind, Audience)> {
    let kind = match input.kind.as_deref().unwrap_or("private") {
        "private" => TokenKind::Private,
        "shared" => {
            ensure_may_share(caller)?;
            TokenKind::Shared
        }
        _ => return Err(Error::field("kind", "must be `private` or `shared`")),
    };
    let audience = match (kind, input.audience.as_deref()) {
        (_, None) => Audience::Administrators,
        (TokenKind::Shared, Some(a)) => Audience::parse(a)
            .ok_or_else(|| Error::field("audience", "must be `administrators` or `company`"))?,
        (_, Some(_)) => {
            return Err(Error::field(
                "audience",
                "only shared tokens have an audience",
            ))
        }
    };
    Ok((kind, audience))
}

/// The permissions asked for. Least privilege by default: a token gets nothing it was not
/// asked for, so a request naming neither a template nor a list is refused
/// (`permissions_required`) instead of copying the owner's whole role.
fn permissions_for(
    conn: &crate::db::Connection,
    company_id: i64,
    input: &CreateToken,
) -> Result<(PermissionSet, Option<String>)> {
    requested_permissions(
        conn,
        company_id,
        input.role_template.as_deref(),
        input.permissions.as_deref(),
    )?
    .ok_or_else(permissions_required)
}

/// 422 `permissions_required`, naming the `permissions` field.
fn permissions_required() -> Error {
    Error::Invalid {
        code: "permissions_required",
        message: "choose the token's permissions: give `role_template` (admin, analyst, \
                  api_developer, read_only, deploy) or an explicit `permissions` list"
            .into(),
        fields: std::collections::BTreeMap::from([(
            "permissions".to_string(),
            "choose a role template or at least one permission".to_string(),
        )]),
    }
}
