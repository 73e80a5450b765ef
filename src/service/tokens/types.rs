//! The shapes of token requests and answers, and the view of a token for one caller.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::db::companies::Company;
use crate::db::tokens::TokenRow;
use crate::domain::caller::Caller;
use crate::domain::limits::{Quota, RateLimit};
use crate::domain::permissions::PermissionSet;
use crate::domain::secret::Secret;
use crate::domain::time::{fmt_time, from_ms};
use crate::domain::token::{is_delegated, Audience, TokenKind};
use crate::service::audit::opt_time;
use crate::service::error::{Error, Result};
use crate::service::policy::access;
use crate::service::Env;

/// Longest rotation grace period: one week.
pub const MAX_GRACE_SECONDS: i64 = 604_800;
pub(super) const MAX_CIDRS: usize = 32;

#[derive(Debug, Clone, Default)]
pub struct CreateToken {
    /// Required: 1–128 characters after trimming (a missing name is 422 like an empty one).
    pub name: String,
    pub description: Option<String>,
    /// Administrators may assign the token to another user of the company.
    pub owner_id: Option<i64>,
    /// `private` (default) or `shared` (administrators only).
    pub kind: Option<String>,
    /// For shared tokens: `administrators` (default) or `company`.
    pub audience: Option<String>,
    /// `admin`, `analyst`, `api_developer`, `read_only`, `deploy` or `custom` (with
    /// `permissions`). A token gets only what is named: without `role_template` and
    /// `permissions` the request is refused (422 `permissions_required`).
    pub role_template: Option<String>,
    /// The token's permissions, when no template (or `custom`) is given.
    pub permissions: Option<Vec<String>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub enabled: Option<bool>,
    pub allowed_cidrs: Option<Vec<String>>,
    /// `{"requests", "per_seconds"}` (1–1000000, 1–86400) or `null` for none.
    pub rate_limit: Option<serde_json::Value>,
    /// `{"limit", "period": "day" | "month" | "total"}` or `null` for none.
    pub quota: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default)]
pub struct UpdateToken {
    pub name: Option<String>,
    pub description: Option<String>,
    /// A time, or `null` for no expiry.
    pub expires_at: Option<Option<DateTime<Utc>>>,
    pub enabled: Option<bool>,
    pub permissions: Option<Vec<String>>,
    pub role_template: Option<String>,
    pub audience: Option<String>,
    pub allowed_cidrs: Option<Vec<String>>,
    /// `{"requests", "per_seconds"}` (1–1000000, 1–86400) or `null` to remove; a new quota (even the same) starts its count afresh.
    pub rate_limit: Option<serde_json::Value>,
    /// `{"limit", "period": "day" | "month" | "total"}` or `null` to remove; a new quota (even the same) starts its count afresh.
    pub quota: Option<serde_json::Value>,
    /// Refused: the owner is fixed at creation (422 `owner_immutable`).
    pub owner_id: bool,
    /// Refused: the kind is fixed at creation.
    pub kind: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserRef {
    pub id: i64,
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecentIp {
    pub ip: String,
    pub first_seen_at: String,
    pub last_seen_at: String,
}

/// A token as the API shows it. `permissions` is absent for legacy tokens (rule 19).
#[derive(Debug, Clone, Serialize)]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub kind: TokenKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<Audience>,
    pub owner: UserRef,
    pub creator: Option<UserRef>,
    /// Made by someone other than its owner: it cannot create, renew or reveal tokens, nor
    /// change credentials (rule 25).
    pub delegated: bool,
    pub company_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
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
    pub rate_limit: Option<RateLimit>,
    pub quota: Option<Quota>,
    /// What is left of the quota in its current period (`null` without a quota).
    pub quota_remaining: Option<i64>,
    pub previous_value_expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recent_ips: Option<Vec<RecentIp>>,
}

/// A token together with its value: the create and renew answers (shown once to the caller).
#[derive(Debug, Clone, Serialize)]
pub struct TokenWithValue {
    #[serde(flatten)]
    pub token: TokenView,
    pub value: Secret,
}

#[derive(Debug, Clone, Default)]
pub struct RenewToken {
    /// Seconds the previous value keeps working (0–604800, default 0).
    pub grace_seconds: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct BulkRequest {
    pub ids: Vec<i64>,
    /// `enable`, `disable` or `delete`.
    pub action: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct BulkError {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
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
        delegated: is_delegated(t.creator_id, t.owner_id),
        company_id: t.company_id,
        permissions: (!legacy).then_some(t.permissions.clone()),
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
        can_reveal: a.reveal() && !caller.is_delegated() && company.reveal_allowed && t.has_value,
        allowed_cidrs: split_cidrs(&t.allowed_cidrs),
        rate_limit: t.limits.rate,
        quota: t.limits.quota,
        quota_remaining: env
            .live_quota
            .as_ref()
            .and_then(|q| q.remaining(t.id, &t.limits, env.now_ms()))
            .or_else(|| t.limits.remaining(env.now_ms())),
        previous_value_expires_at: opt_time(t.prev_expires_at.filter(|p| *p > env.now_ms())),
        recent_ips: None,
    }
}

pub(super) fn split_cidrs(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// The `rate_limit` and `quota` of a request: absent (`None`), removed (`Some(None)`) or set.
pub(super) type LimitsInput = (Option<Option<RateLimit>>, Option<Option<Quota>>);

/// Parses the `rate_limit` and `quota` inputs of a create or edit (422 naming the field).
pub(super) fn parse_limits(
    rate: Option<&serde_json::Value>,
    quota: Option<&serde_json::Value>,
) -> Result<LimitsInput> {
    use crate::domain::limits::{parse_quota, parse_rate_limit};
    let err = |(f, m): (String, String)| Error::field(&f, m);
    Ok((
        rate.map(parse_rate_limit).transpose().map_err(err)?,
        quota.map(parse_quota).transpose().map_err(err)?,
    ))
}
