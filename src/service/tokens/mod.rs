//! API tokens: create, read, list, edit, delete, renew, reveal, bulk (rules 1–14).

mod changes;
mod list;
mod rules;
mod types;
mod values;

pub use changes::{bulk, delete, delete_row, disable_row, record_toggle};
pub use list::{list, list_page, ListPage, MAX_PAGE_SIZE};
pub use rules::{load_visible, parse_cidrs, seal};
pub use types::*;
pub use values::{renew, reveal};

use rules::*;

use rusqlite::Connection;
use serde_json::json;

use super::audit::{opt_time, record, Actor, Event};
use super::policy::{
    access, ensure, ensure_may_mint_for, ensure_not_delegated, ensure_not_sso, ensure_owner_active,
};
use super::{require, Env};
use crate::db::tokens::NewToken;
use crate::db::{self, Tx};
use crate::domain::model::{expired, Audience, Caller, DisabledReason, TokenKind};
use crate::domain::names::{parse_description, TokenName};
use crate::domain::permissions::Permission;
use crate::domain::roles::parse_template;
use crate::domain::secret::Secret;
use crate::domain::time::{fmt_time, from_ms};
use crate::domain::token_value::{TokenValue, ValueKind};
use crate::error::{ApiError, ApiResult};

pub fn create(
    tx: &mut Tx,
    env: &Env,
    caller: &Caller,
    input: CreateToken,
) -> ApiResult<TokenWithValue> {
    ensure_not_sso(caller)?;
    require(caller, Permission::TokensWrite)?;
    ensure_not_delegated(caller, "create tokens")?;
    let now = env.now_ms();
    let owner = match input.owner_id {
        None => caller.user.clone(),
        Some(id) if id == caller.user.id => caller.user.clone(),
        Some(id) => {
            if !caller.is_token_admin() {
                return Err(ApiError::forbidden(
                    "forbidden",
                    "only administrators may create tokens for other users",
                ));
            }
            let owner = db::users::get(tx, id)?
                .filter(|u| caller.changes_company(u.company_id))
                .ok_or_else(|| ApiError::field("owner_id", "no such user"))?;
            ensure_may_mint_for(caller, &owner)?;
            owner
        }
    };
    ensure_owner_active(&owner)?;
    let kind = match input.kind.as_deref().unwrap_or("private") {
        "private" => TokenKind::Private,
        "shared" if caller.is_token_admin() => TokenKind::Shared,
        "shared" => {
            return Err(ApiError::forbidden(
                "shared_requires_admin",
                "only administrators may create shared tokens",
            ))
        }
        _ => return Err(ApiError::field("kind", "must be `private` or `shared`")),
    };
    let audience = match (kind, input.audience.as_deref()) {
        (_, None) => Audience::Administrators,
        (TokenKind::Shared, Some(a)) => Audience::parse(a)
            .ok_or_else(|| ApiError::field("audience", "must be `administrators` or `company`"))?,
        (_, Some(_)) => {
            return Err(ApiError::field(
                "audience",
                "only shared tokens have an audience",
            ))
        }
    };
    let name = TokenName::parse(&input.name).map_err(|m| ApiError::field("name", m))?;
    let description = parse_description(input.description.as_deref().unwrap_or(""))
        .map_err(|m| ApiError::field("description", m))?;
    let (permissions, template) = match requested_permissions(
        input.role_template.as_deref(),
        input.permissions.as_deref(),
    )? {
        Some(p) => p,
        // Neither given: the owner's own permissions, as the console's default template.
        None => (
            owner.permissions(),
            parse_template(owner.role.name()).map(|r| r.name().to_string()),
        ),
    };
    check_bounds(permissions, &owner, caller)?;
    let company = company(tx, owner.company_id)?;
    let expires_at = input.expires_at.map(|t| t.timestamp_millis());
    check_expiry(expires_at, &company, now)?;
    let cidrs = parse_cidrs(input.allowed_cidrs.as_deref().unwrap_or(&[]))?;
    let enabled = input.enabled.unwrap_or(true);

    let value = TokenValue::generate(ValueKind::Api);
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
            permissions,
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
    tx.digest_added(digest);
    record(
        tx,
        &Actor::of(caller),
        Event {
            action: "token.created",
            company_id: Some(owner.company_id),
            token_id: Some(id),
            user_id: Some(owner.id),
            details: json!({
                "name": name.as_str(), "kind": kind.as_str(), "owner_id": owner.id,
                "permissions": permissions, "expires_at": opt_time(expires_at),
                "enabled": enabled,
            }),
        },
        now,
    )?;
    let row = db::tokens::get(tx, id)?.ok_or(ApiError::NotFound)?;
    Ok(TokenWithValue {
        token: view(&row, caller, &company, env),
        value: Secret::new(value.expose()),
    })
}

pub fn get(conn: &Connection, env: &Env, caller: &Caller, id: i64) -> ApiResult<TokenView> {
    require(caller, Permission::TokensRead)?;
    let t = load_visible(conn, caller, id)?;
    let mut v = view(&t, caller, &company(conn, t.company_id)?, env);
    v.recent_ips = Some(
        db::tokens::recent_ips(conn, t.id)?
            .into_iter()
            .map(|(ip, first, last)| RecentIp {
                ip,
                first_seen_at: fmt_time(&from_ms(first)),
                last_seen_at: fmt_time(&from_ms(last)),
            })
            .collect(),
    );
    Ok(v)
}

pub fn update(
    tx: &mut Tx,
    env: &Env,
    caller: &Caller,
    id: i64,
    input: UpdateToken,
) -> ApiResult<TokenView> {
    require(caller, Permission::TokensWrite)?;
    let now = env.now_ms();
    let mut t = load_visible(tx, caller, id)?;
    ensure(access(caller, &t).manage, "manage")?;
    if input.owner_id {
        return Err(ApiError::Unprocessable {
            code: "owner_immutable",
            message: "the owner of a token cannot be changed".into(),
            fields: [("owner_id".to_string(), "cannot be changed".to_string())].into(),
        });
    }
    if input.kind {
        return Err(ApiError::field("kind", "cannot be changed"));
    }
    let owner = db::users::get(tx, t.owner_id)?.ok_or(ApiError::NotFound)?;
    let company = company(tx, t.company_id)?;
    let before = t.clone();
    let mut changed: Vec<&str> = Vec::new();

    if let Some(n) = &input.name {
        t.name = TokenName::parse(n)
            .map_err(|m| ApiError::field("name", m))?
            .as_str()
            .to_string();
        changed.push("name");
    }
    if let Some(d) = &input.description {
        t.description = parse_description(d).map_err(|m| ApiError::field("description", m))?;
        changed.push("description");
    }
    let asks_permissions = input.permissions.is_some() || input.role_template.is_some();
    if asks_permissions && t.kind == TokenKind::Legacy {
        return Err(ApiError::unprocessable(
            "legacy_permissions_fixed",
            "a legacy token always has exactly its owner's role permissions",
        ));
    }
    if let Some((set, template)) =
        requested_permissions(input.role_template.as_deref(), input.permissions.as_deref())?
    {
        check_bounds(set, &owner, caller)?;
        t.permissions = set;
        t.role_template = template;
        changed.push("permissions");
    }
    if let Some(a) = &input.audience {
        if t.kind != TokenKind::Shared {
            return Err(ApiError::field(
                "audience",
                "only shared tokens have an audience",
            ));
        }
        t.audience = Audience::parse(a)
            .ok_or_else(|| ApiError::field("audience", "must be `administrators` or `company`"))?;
        changed.push("audience");
    }
    if let Some(list) = &input.allowed_cidrs {
        t.allowed_cidrs = parse_cidrs(list)?;
        changed.push("allowed_cidrs");
    }
    if let Some(exp) = input.expires_at {
        let exp = exp.map(|e| e.timestamp_millis());
        check_expiry(exp, &company, now)?;
        t.expires_at = exp;
        changed.push("expires_at");
    }
    let mut action_enabled = None;
    match input.enabled {
        Some(true) => {
            // Rule 4: enabling needs a valid expiry, whatever the stored flag says.
            if expired(t.expires_at, now) {
                return Err(ApiError::Unprocessable {
                    code: "expiry_in_past",
                    message:
                        "the token has expired: set a new future expires_at (or null) to enable it"
                            .into(),
                    fields: [("expires_at".to_string(), "has passed".to_string())].into(),
                });
            }
            ensure_owner_active(&owner)?;
            if t.kind != TokenKind::Legacy && t.permissions.is_empty() {
                return Err(ApiError::field(
                    "permissions",
                    "a token without permissions cannot be enabled",
                ));
            }
            if !t.enabled {
                t.enabled = true;
                t.disabled_reason = None;
                t.disabled_at = None;
                action_enabled = Some(true);
            }
        }
        Some(false) if t.enabled => {
            disable_row(&mut t, DisabledReason::Manual, now);
            action_enabled = Some(false);
        }
        _ => {}
    }
    db::tokens::update(tx, &t, now).map_err(name_taken)?;
    let actor = Actor::of(caller);
    if !changed.is_empty() {
        record(
            tx,
            &actor,
            Event {
                action: "token.updated",
                company_id: Some(t.company_id),
                token_id: Some(t.id),
                user_id: Some(t.owner_id),
                details: json!({
                    "fields": changed,
                    "name": t.name,
                    "permissions_before": before.permissions,
                    "permissions": t.permissions,
                    "expires_at": opt_time(t.expires_at),
                }),
            },
            now,
        )?;
    }
    if let Some(on) = action_enabled {
        record_toggle(tx, &actor, &t, on, now)?;
    }
    let row = db::tokens::get(tx, id)?.ok_or(ApiError::NotFound)?;
    Ok(view(&row, caller, &company, env))
}
