//! Token requests (create, edit, renew, bulk) and the schemas of token answers.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{de_opt_time, de_patch_time, de_present, de_present_value, into_service, schema_of};
use crate::domain::limits::{Quota, RateLimit};
use crate::domain::permissions::PermissionSet;
use crate::domain::secret::Secret;
use crate::domain::token::{Audience, TokenKind};
use crate::service::tokens as svc;

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
    /// `admin`, `analyst`, `api_developer`, `read_only`, `deploy` or `custom` (with
    /// `permissions`). A token gets only what is named: without `role_template` and
    /// `permissions` the request is refused (422 `permissions_required`).
    #[serde(default)]
    pub role_template: Option<String>,
    /// The token's permissions, when no template (or `custom`) is given.
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
    #[serde(default, deserialize_with = "de_opt_time")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub allowed_cidrs: Option<Vec<String>>,
    /// `{"requests", "per_seconds"}` (1–1000000, 1–86400) or `null` for none.
    #[serde(default, deserialize_with = "de_present_value")]
    #[schema(value_type = Option<RateLimit>)]
    pub rate_limit: Option<serde_json::Value>,
    /// `{"limit", "period": "day" | "month" | "total"}` or `null` for none.
    #[serde(default, deserialize_with = "de_present_value")]
    #[schema(value_type = Option<Quota>)]
    pub quota: Option<serde_json::Value>,
}

into_service!(CreateToken => svc::CreateToken {
    name, description, owner_id, kind, audience, role_template, permissions, expires_at,
    enabled, allowed_cidrs, rate_limit, quota,
});

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
    /// `{"requests", "per_seconds"}` (1–1000000, 1–86400) or `null` to remove; a new quota (even the same) starts its count afresh.
    #[serde(default, deserialize_with = "de_present_value")]
    #[schema(value_type = Option<RateLimit>)]
    pub rate_limit: Option<serde_json::Value>,
    /// `{"limit", "period": "day" | "month" | "total"}` or `null` to remove; a new quota (even the same) starts its count afresh.
    #[serde(default, deserialize_with = "de_present_value")]
    #[schema(value_type = Option<Quota>)]
    pub quota: Option<serde_json::Value>,
    /// Refused: the owner is fixed at creation (422 `owner_immutable`).
    #[serde(default, deserialize_with = "de_present")]
    #[schema(value_type = Option<i64>)]
    pub owner_id: bool,
    /// Refused: the kind is fixed at creation.
    #[serde(default, deserialize_with = "de_present")]
    #[schema(value_type = Option<String>)]
    pub kind: bool,
}

into_service!(UpdateToken => svc::UpdateToken {
    name, description, expires_at, enabled, permissions, role_template, audience,
    allowed_cidrs, rate_limit, quota, owner_id, kind,
});

schema_of!(svc::UserRef =>
    struct UserRef {
        id: i64,
        email: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    }
);

schema_of!(svc::RecentIp =>
    struct RecentIp {
        ip: String,
        first_seen_at: String,
        last_seen_at: String,
    }
);

schema_of!(svc::TokenView =>
    /// A token as the API shows it. `permissions` is absent for legacy tokens (rule 19).
    struct TokenView {
        id: i64,
        name: String,
        description: String,
        kind: TokenKind,
        #[serde(skip_serializing_if = "Option::is_none")]
        audience: Option<Audience>,
        owner: svc::UserRef,
        creator: Option<svc::UserRef>,
        /// Made by someone other than its owner: it cannot create, renew or reveal tokens, nor
        /// change credentials (rule 25).
        delegated: bool,
        company_id: i64,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Vec<String>>)]
        permissions: Option<PermissionSet>,
        role_template: Option<String>,
        enabled: bool,
        disabled_reason: Option<String>,
        disabled_at: Option<String>,
        purge_at: Option<String>,
        expires_at: Option<String>,
        created_at: String,
        updated_at: String,
        last_used_at: Option<String>,
        last_used_ip: Option<String>,
        value_hint: String,
        can_reveal: bool,
        allowed_cidrs: Vec<String>,
        rate_limit: Option<RateLimit>,
        quota: Option<Quota>,
        /// What is left of the quota in its current period (`null` without a quota).
        quota_remaining: Option<i64>,
        previous_value_expires_at: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        recent_ips: Option<Vec<svc::RecentIp>>,
    }
);

schema_of!(svc::TokenWithValue =>
    /// A token together with its value: the create and renew answers (shown once to the caller).
    struct TokenWithValue {
        #[serde(flatten)]
        token: svc::TokenView,
        #[schema(value_type = String)]
        value: Secret,
    }
);

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewToken {
    /// Seconds the previous value keeps working (0–604800, default 0).
    #[serde(default)]
    pub grace_seconds: Option<i64>,
}

into_service!(RenewToken => svc::RenewToken { grace_seconds });

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    pub ids: Vec<i64>,
    /// `enable`, `disable` or `delete`.
    pub action: String,
}

into_service!(BulkRequest => svc::BulkRequest { ids, action });

schema_of!(svc::BulkError =>
    struct BulkError {
        code: String,
        message: String,
    }
);

schema_of!(svc::BulkResult =>
    struct BulkResult {
        id: i64,
        ok: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<svc::BulkError>,
    }
);

schema_of!(svc::UsageItem =>
    struct UsageItem {
        /// Start of the bucket (RFC 3339, UTC).
        start: String,
        /// Authentications that were answered as allowed.
        allowed: i64,
        /// Answers 401, 403 or 429 to requests that presented this token's value.
        refused: i64,
    }
);

schema_of!(svc::UsageView =>
    struct UsageView {
        /// `hour` or `day`.
        bucket: String,
        /// Oldest first; buckets without traffic are left out.
        items: Vec<svc::UsageItem>,
    }
);
