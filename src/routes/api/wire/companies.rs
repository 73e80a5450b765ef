//! Companies and the company token policy (`/v1/settings`).

use serde::Deserialize;
use utoipa::ToSchema;

use super::{into_service, patch, schema_of};
use crate::service::companies as svc;

schema_of!(svc::CompanyView =>
    struct CompanyView {
        id: i64,
        name: String,
        created_at: String,
    }
);

schema_of!(svc::SettingsView =>
    /// Company token policy.
    struct SettingsView {
        company_id: i64,
        /// `allowed` or `show_once`.
        token_reveal: String,
        max_token_lifetime_days: Option<i64>,
        idle_disable_days: Option<i64>,
        /// The expiry the console proposes for a new token, in days from now (default 30).
        default_token_lifetime_days: i64,
        webhook_url: Option<String>,
        /// Whether a webhook secret is set (the secret itself is never shown again).
        webhook_secret_set: bool,
    }
);

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCompany {
    pub name: String,
}

into_service!(CreateCompany => svc::CreateCompany { name });

/// A PATCH of the policy: absent fields stay, `null` clears the optional ones. `Debug` hides
/// the webhook secret (rule 45).
// No `Debug` here: the service's `UpdateSettings` has the one that hides the secret.
#[derive(Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSettings {
    #[serde(default)]
    pub token_reveal: Option<String>,
    #[serde(default, deserialize_with = "patch")]
    #[schema(value_type = Option<i64>)]
    pub max_token_lifetime_days: Option<Option<i64>>,
    #[serde(default, deserialize_with = "patch")]
    #[schema(value_type = Option<i64>)]
    pub idle_disable_days: Option<Option<i64>>,
    /// 1–36500 days; it cannot be cleared.
    #[serde(default)]
    pub default_token_lifetime_days: Option<i64>,
    #[serde(default, deserialize_with = "patch")]
    #[schema(value_type = Option<String>)]
    pub webhook_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch")]
    #[schema(value_type = Option<String>)]
    pub webhook_secret: Option<Option<String>>,
}

into_service!(UpdateSettings => svc::UpdateSettings { token_reveal, max_token_lifetime_days, idle_disable_days, default_token_lifetime_days, webhook_url, webhook_secret });
