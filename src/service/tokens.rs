//! API tokens: create, read, list, edit, delete, renew, reveal, bulk (rules 1–14).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::audit::{opt_time, record, Actor, Event};
use super::policy::{access, ensure, ensure_not_sso, list_scope, may_renew};
use super::{require, Env, Page};
use crate::db::companies::Company;
use crate::db::tokens::{Filter, NewToken, TokenRow};
use crate::db::{self, Tx};
use crate::domain::model::{Audience, Caller, DisabledReason, TokenKind, User};
use crate::domain::names::{parse_description, TokenName};
use crate::domain::permissions::{Permission, PermissionSet};
use crate::domain::roles::{parse_template, Role};
use crate::domain::time::{de_opt_time, de_patch_time, fmt_time, from_ms};
use crate::domain::token_value::{TokenValue, ValueKind};
use crate::error::{ApiError, ApiResult};

/// Longest rotation grace period: one week.
pub const MAX_GRACE_SECONDS: i64 = 604_800;
const MAX_CIDRS: usize = 32;

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// Required: 1–128 characters after trimming (a missing name is 422 like an empty one).
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Administrators may assign the token to another user of the company.
    #[serde(default)]
    pub owner_id: Option<i64>,
    /// `private` (default) or `shared` (administrators only).
    #[serde(default)]
    pub kind: Option<String>,
    /// For shared tokens: `administrators` (default) or `company`.
    #[serde(default)]
    pub audience: Option<String>,
    /// `admin`, `analyst`, `api_developer`, `read_only`, `deploy` or `custom`.
    #[serde(default)]
    pub role_template: Option<String>,
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
    #[serde(default, deserialize_with = "de_opt_time")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub allowed_cidrs: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateToken {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// A time, or `null` for no expiry.
    #[serde(default, deserialize_with = "de_patch_time")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Option<DateTime<Utc>>>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
    #[serde(default)]
    pub role_template: Option<String>,
    #[serde(default)]
    pub audience: Option<String>,
    #[serde(default)]
    pub allowed_cidrs: Option<Vec<String>>,
    /// Refused: the owner is fixed at creation (422 `owner_immutable`).
    #[serde(default, deserialize_with = "super::de_present")]
    #[schema(value_type = Option<i64>)]
    pub owner_id: bool,
    /// Refused: the kind is fixed at creation.
    #[serde(default, deserialize_with = "super::de_present")]
    #[schema(value_type = Option<String>)]
    pub kind: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserRef {
    pub id: i64,
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecentIp {
    pub ip: String,
    pub first_seen_at: String,
    pub last_seen_at: String,
}

/// A token as the API shows it. `permissions` is absent for legacy tokens (rule 19).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub kind: TokenKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<Audience>,
    pub owner: UserRef,
    pub creator: Option<UserRef>,
    pub company_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>)]
    pub permissions: Option<PermissionSet>,
    pub role_template: Option<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<String>,
    pub purge_at: Option<String>,
    pub expires_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub last_used_at: Option<String>,
    pub last_used_ip: Option<String>,
    pub value_hint: String,
    pub can_reveal: bool,
    pub allowed_cidrs: Vec<String>,
    pub previous_value_expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recent_ips: Option<Vec<RecentIp>>,
}

/// A token together with its value: the create and renew answers (shown once to the caller).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenWithValue {
    #[serde(flatten)]
    pub token: TokenView,
    pub value: String,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewToken {
    /// Seconds the previous value keeps working (0–604800, default 0).
    #[serde(default)]
    pub grace_seconds: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    pub ids: Vec<i64>,
    /// `enable`, `disable` or `delete`.
    pub action: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BulkError {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BulkResult {
    pub id: i64,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<BulkError>,
}

pub fn view(t: &TokenRow, caller: &Caller, company: &Company, env: &Env) -> TokenView {
    let a = access(caller, t);
    let legacy = t.kind == TokenKind::Legacy;
    TokenView {
        id: t.id,
        name: t.name.clone(),
        description: t.description.clone(),
        kind: t.kind,
        audience: (t.kind == TokenKind::Shared).then_some(t.audience),
        owner: UserRef {
            id: t.owner_id,
            email: t.owner_email.clone(),
            name: Some(t.owner_name.clone()),
        },
        creator: t.creator_id.map(|id| UserRef {
            id,
            email: t.creator_email.clone().unwrap_or_default(),
            name: None,
        }),
        company_id: t.company_id,
        permissions: (!legacy).then_some(t.permissions),
        role_template: if legacy {
            None
        } else {
            t.role_template.clone()
        },
        enabled: t.enabled,
        disabled_reason: t.disabled_reason.clone(),
        disabled_at: opt_time(t.disabled_at),
        purge_at: opt_time(
            t.disabled_at
                .filter(|_| !t.enabled)
                .map(|d| d + env.retention_ms),
        ),
        expires_at: opt_time(t.expires_at),
        created_at: fmt_time(&from_ms(t.created_at)),
        updated_at: fmt_time(&from_ms(t.updated_at)),
        last_used_at: opt_time(t.last_used_at),
        last_used_ip: t.last_used_ip.clone(),
        value_hint: t.value_hint.clone(),
        can_reveal: a.use_value && company.reveal_allowed && t.has_value,
        allowed_cidrs: split_cidrs(&t.allowed_cidrs),
        previous_value_expires_at: opt_time(t.prev_expires_at.filter(|p| *p > env.now_ms())),
        recent_ips: None,
    }
}

fn split_cidrs(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn company(conn: &Connection, id: i64) -> ApiResult<Company> {
    db::companies::get(conn, id)?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("company {id} missing")))
}

/// Loads a token the caller can see; anything else is 404 (rule 13).
pub fn load_visible(conn: &Connection, caller: &Caller, id: i64) -> ApiResult<TokenRow> {
    ensure_not_sso(caller)?;
    match db::tokens::get(conn, id)? {
        Some(t) if access(caller, &t).see => Ok(t),
        _ => Err(ApiError::NotFound),
    }
}

/// The permission set a create or edit asks for, from a template or an explicit list.
/// `None` when neither was given.
fn requested_permissions(
    template: Option<&str>,
    explicit: Option<&[String]>,
) -> ApiResult<Option<(PermissionSet, Option<String>)>> {
    match (template, explicit) {
        (None, None) => Ok(None),
        (Some(t), explicit) => {
            let role = parse_template(t).ok_or_else(|| {
                ApiError::field(
                    "role_template",
                    "must be one of admin, analyst, api_developer, read_only, deploy, custom",
                )
            })?;
            match (role, explicit) {
                (Role::Custom, Some(list)) => Ok(Some((parse_list(list)?, Some("custom".into())))),
                (Role::Custom, None) => Err(ApiError::field(
                    "permissions",
                    "a custom template needs an explicit permission list",
                )),
                (_, Some(_)) => Err(ApiError::field(
                    "permissions",
                    "give either a role template or a permission list, not both",
                )),
                (role, None) => Ok(Some((role.permissions(), Some(role.name().to_string())))),
            }
        }
        (None, Some(list)) => Ok(Some((parse_list(list)?, Some("custom".into())))),
    }
}

fn parse_list(list: &[String]) -> ApiResult<PermissionSet> {
    PermissionSet::parse_names(list)
        .map_err(|n| ApiError::field("permissions", format!("unknown permission `{n}`")))
}

/// Rule 2: a token is never wider than its owner, nor than the credentials creating it.
fn check_bounds(set: PermissionSet, owner: &User, caller: &Caller) -> ApiResult<()> {
    if set.is_empty() {
        return Err(ApiError::field(
            "permissions",
            "at least one permission is required",
        ));
    }
    let excess = set.difference(owner.permissions());
    if !excess.is_empty() {
        return Err(ApiError::Unprocessable {
            code: "permissions_exceed_owner",
            message: format!("the owner does not hold: {}", excess.names().join(", ")),
            fields: [("permissions".to_string(), excess.names().join(" "))].into(),
        });
    }
    let beyond_caller = set.difference(caller.permissions);
    if !beyond_caller.is_empty() {
        return Err(ApiError::unprocessable(
            "permissions_exceed_caller",
            format!(
                "your credentials do not hold: {}",
                beyond_caller.names().join(", ")
            ),
        ));
    }
    Ok(())
}

/// Rule 3 and the lifetime policy: an expiry must be in the future and within the policy.
fn check_expiry(expires: Option<i64>, company: &Company, now: i64) -> ApiResult<()> {
    if let Some(t) = expires {
        if t <= now {
            return Err(ApiError::Unprocessable {
                code: "expiry_in_past",
                message: "expires_at must be in the future".into(),
                fields: [(
                    "expires_at".to_string(),
                    "must be in the future".to_string(),
                )]
                .into(),
            });
        }
    }
    if let Some(days) = company.max_token_lifetime_days {
        let limit = now + days * 86_400_000;
        if expires.is_none_or(|t| t > limit) {
            return Err(ApiError::Unprocessable {
                code: "lifetime_exceeds_policy",
                message: format!("company policy: tokens must expire within {days} days"),
                fields: [(
                    "expires_at".to_string(),
                    format!("must be set and within {days} days"),
                )]
                .into(),
            });
        }
    }
    Ok(())
}

/// Validates an `allowed_cidrs` list into its storage form.
pub fn parse_cidrs(list: &[String]) -> ApiResult<String> {
    if list.len() > MAX_CIDRS {
        return Err(ApiError::field(
            "allowed_cidrs",
            format!("at most {MAX_CIDRS} entries"),
        ));
    }
    let mut out = Vec::with_capacity(list.len());
    for s in list {
        let s = s.trim();
        let net = s
            .parse::<IpNet>()
            .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
            .map_err(|_| {
                ApiError::field(
                    "allowed_cidrs",
                    format!("`{s}` is not an IP address or CIDR"),
                )
            })?;
        out.push(net.trunc().to_string());
    }
    Ok(out.join(" "))
}

fn name_taken(e: rusqlite::Error) -> ApiError {
    if db::is_unique_violation(&e) {
        ApiError::conflict("name_taken", "the owner already has a token with this name")
    } else {
        e.into()
    }
}

/// Whether the owner can hold enabled tokens: enabled and not SSO (rules 15, 18).
fn ensure_owner_active(owner: &User) -> ApiResult<()> {
    if owner.sso {
        return Err(ApiError::forbidden(
            "sso_user",
            "SSO users have no API tokens",
        ));
    }
    if !owner.enabled {
        return Err(ApiError::conflict(
            "owner_inactive",
            "the token's owner is disabled",
        ));
    }
    Ok(())
}

/// Encrypts a value for storage when the company allows reveal (rule 14).
fn seal(env: &Env, company: &Company, value: &TokenValue) -> Option<Vec<u8>> {
    company
        .reveal_allowed
        .then(|| env.keys.seal(value.expose(), &value.digest().0))
}

pub fn create(
    tx: &mut Tx,
    env: &Env,
    caller: &Caller,
    input: CreateToken,
) -> ApiResult<TokenWithValue> {
    ensure_not_sso(caller)?;
    require(caller, Permission::TokensWrite)?;
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
            db::users::get(tx, id)?
                .filter(|u| caller.reaches_company(u.company_id))
                .ok_or_else(|| ApiError::field("owner_id", "no such user"))?
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
        value: value.expose().to_string(),
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

pub fn list(
    conn: &Connection,
    env: &Env,
    caller: &Caller,
    filter: &Filter,
    page: Page,
) -> ApiResult<(Vec<TokenView>, Option<String>)> {
    ensure_not_sso(caller)?;
    require(caller, Permission::TokensRead)?;
    let rows = db::tokens::list(conn, list_scope(caller), filter, page.before, page.limit)?;
    let mut companies: HashMap<i64, Company> = HashMap::new();
    let mut items = Vec::with_capacity(rows.len());
    for t in &rows {
        if let std::collections::hash_map::Entry::Vacant(e) = companies.entry(t.company_id) {
            e.insert(company(conn, t.company_id)?);
        }
        items.push(view(t, caller, &companies[&t.company_id], env));
    }
    let next = page.next_cursor(&env.keys, rows.last().map(|t| t.id), rows.len());
    Ok((items, next))
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
            if t.expires_at.is_some_and(|e| e <= now) {
                return Err(ApiError::Unprocessable {
                    code: "expiry_in_past",
                    message:
                        "the token has expired: set a new future expires_at (or null) to enable it"
                            .into(),
                    fields: [("expires_at".to_string(), "has passed".to_string())].into(),
                });
            }
            if owner.sso {
                return Err(ApiError::forbidden(
                    "sso_user",
                    "SSO users have no API tokens",
                ));
            }
            if !owner.enabled {
                return Err(ApiError::conflict(
                    "owner_inactive",
                    "the token's owner is disabled; enable the user first",
                ));
            }
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

/// Marks a row disabled with `reason` (the caller writes it).
pub fn disable_row(t: &mut TokenRow, reason: DisabledReason, now: i64) {
    t.enabled = false;
    t.disabled_reason = Some(reason.as_str().to_string());
    t.disabled_at = Some(now);
}

/// Audits an enable or disable.
pub fn record_toggle(
    conn: &Connection,
    actor: &Actor,
    t: &TokenRow,
    enabled: bool,
    now: i64,
) -> ApiResult<()> {
    record(
        conn,
        actor,
        Event {
            action: if enabled {
                "token.enabled"
            } else {
                "token.disabled"
            },
            company_id: Some(t.company_id),
            token_id: Some(t.id),
            user_id: Some(t.owner_id),
            details: json!({ "name": t.name, "reason": t.disabled_reason }),
        },
        now,
    )?;
    if !enabled {
        let reason = t.disabled_reason.as_deref();
        super::webhooks::enqueue(
            conn,
            super::webhooks::disabled_event(reason),
            t,
            json!({ "reason": reason }),
            now,
        )?;
    }
    Ok(())
}

/// Deletes a token row, its filter entries and legacy credentials, with an audit row.
pub fn delete_row(
    tx: &mut Tx,
    actor: &Actor,
    t: &TokenRow,
    action: &str,
    now: i64,
) -> ApiResult<()> {
    super::legacy::end_compatibility(tx, t.id, now)?;
    db::tokens::delete(tx, t.id)?;
    tx.digest_removed(t.digest);
    if let Some(p) = t.prev_digest {
        tx.digest_removed(p);
    }
    record(
        tx,
        actor,
        Event {
            action,
            company_id: Some(t.company_id),
            token_id: Some(t.id),
            user_id: Some(t.owner_id),
            details: json!({ "name": t.name, "kind": t.kind.as_str(), "reason": t.disabled_reason }),
        },
        now,
    )
}

pub fn delete(tx: &mut Tx, env: &Env, caller: &Caller, id: i64) -> ApiResult<()> {
    require(caller, Permission::TokensWrite)?;
    let t = load_visible(tx, caller, id)?;
    ensure(access(caller, &t).manage, "delete")?;
    delete_row(tx, &Actor::of(caller), &t, "token.deleted", env.now_ms())
}

pub fn renew(
    tx: &mut Tx,
    env: &Env,
    caller: &Caller,
    id: i64,
    input: RenewToken,
) -> ApiResult<TokenWithValue> {
    require(caller, Permission::TokensWrite)?;
    let now = env.now_ms();
    let t = load_visible(tx, caller, id)?;
    // Owner only; a shared token is renewed by administrators (members only use its value).
    ensure(may_renew(access(caller, &t), t.kind), "renew")?;
    let grace = input.grace_seconds.unwrap_or(0);
    if !(0..=MAX_GRACE_SECONDS).contains(&grace) {
        return Err(ApiError::field(
            "grace_seconds",
            format!("must be between 0 and {MAX_GRACE_SECONDS}"),
        ));
    }
    let company = company(tx, t.company_id)?;
    // Rule 21: renewing the legacy token ends UUID + secret for good.
    super::legacy::end_compatibility(tx, t.id, now)?;
    // A new rotation ends any older grace period at once.
    if let Some(p) = t.prev_digest {
        tx.digest_removed(p);
    }
    let value = TokenValue::generate(ValueKind::Api);
    let digest = value.digest();
    let prev = (grace > 0).then(|| (&t.digest, now + grace * 1000));
    db::tokens::set_value(
        tx,
        t.id,
        &digest,
        &value.hint(),
        seal(env, &company, &value),
        prev,
        now,
    )?;
    tx.digest_added(digest);
    if prev.is_none() {
        tx.digest_removed(t.digest);
    }
    record(
        tx,
        &Actor::of(caller),
        Event {
            action: "token.renewed",
            company_id: Some(t.company_id),
            token_id: Some(t.id),
            user_id: Some(t.owner_id),
            details: json!({ "name": t.name, "grace_seconds": grace }),
        },
        now,
    )?;
    let row = db::tokens::get(tx, id)?.ok_or(ApiError::NotFound)?;
    Ok(TokenWithValue {
        token: view(&row, caller, &company, env),
        value: value.expose().to_string(),
    })
}

pub fn reveal(tx: &mut Tx, env: &Env, caller: &Caller, id: i64) -> ApiResult<String> {
    require(caller, Permission::TokensRead)?;
    let t = load_visible(tx, caller, id)?;
    ensure(access(caller, &t).use_value, "reveal")?;
    let company = company(tx, t.company_id)?;
    let refused = || {
        ApiError::conflict(
            "reveal_disabled",
            "the value of this token is not stored (company policy show_once, or created before reveal was allowed); renew it to get a new value",
        )
    };
    if !company.reveal_allowed {
        return Err(refused());
    }
    let sealed = db::tokens::value_enc(tx, t.id)?.ok_or_else(refused)?;
    let value = env.keys.open(&sealed, &t.digest.0).ok_or_else(refused)?;
    record(
        tx,
        &Actor::of(caller),
        Event {
            action: "token.revealed",
            company_id: Some(t.company_id),
            token_id: Some(t.id),
            user_id: Some(t.owner_id),
            details: json!({ "name": t.name }),
        },
        env.now_ms(),
    )?;
    Ok(value)
}

/// Bulk enable/disable/delete: each id succeeds or fails on its own (a savepoint each).
pub fn bulk(
    tx: &mut Tx,
    env: &Env,
    caller: &Caller,
    input: BulkRequest,
) -> ApiResult<Vec<BulkResult>> {
    require(caller, Permission::TokensWrite)?;
    ensure_not_sso(caller)?;
    if input.ids.is_empty() || input.ids.len() > super::MAX_LIMIT {
        return Err(ApiError::field(
            "ids",
            format!("give between 1 and {} ids", super::MAX_LIMIT),
        ));
    }
    if !matches!(input.action.as_str(), "enable" | "disable" | "delete") {
        return Err(ApiError::field(
            "action",
            "must be `enable`, `disable` or `delete`",
        ));
    }
    let mut results = Vec::with_capacity(input.ids.len());
    for id in input.ids {
        tx.execute_batch("SAVEPOINT bulk_item")?;
        let marks = (tx.effects.added.len(), tx.effects.removed.len());
        let outcome = match input.action.as_str() {
            "delete" => delete(tx, env, caller, id),
            action => update(
                tx,
                env,
                caller,
                id,
                UpdateToken {
                    enabled: Some(action == "enable"),
                    ..UpdateToken::default()
                },
            )
            .map(|_| ()),
        };
        match outcome {
            Ok(()) => {
                tx.execute_batch("RELEASE bulk_item")?;
                results.push(BulkResult {
                    id,
                    ok: true,
                    error: None,
                });
            }
            Err(ApiError::Internal(e)) => return Err(ApiError::Internal(e)),
            Err(e) => {
                tx.execute_batch("ROLLBACK TO bulk_item; RELEASE bulk_item")?;
                // Effects of a rolled-back item must not reach the filter.
                tx.effects.added.truncate(marks.0);
                tx.effects.removed.truncate(marks.1);
                results.push(BulkResult {
                    id,
                    ok: false,
                    error: Some(BulkError {
                        code: e.code().to_string(),
                        message: e.to_string(),
                    }),
                });
            }
        }
    }
    Ok(results)
}
