//! Users and their legacy credentials.

use serde::Deserialize;
use utoipa::ToSchema;

use super::{into_service, schema_of};
use crate::domain::permissions::PermissionSet;
use crate::domain::roles::Role;
use crate::domain::secret::Secret;
use crate::service::{legacy, users as svc};

schema_of!(svc::UserView =>
    struct UserView {
        id: i64,
        company_id: i64,
        email: String,
        name: String,
        role: Role,
        /// The company role the user holds (`role` is `company`).
        #[serde(skip_serializing_if = "Option::is_none")]
        role_id: Option<i64>,
        /// The user's current permissions (from the role, or the custom set).
        #[schema(value_type = Vec<String>)]
        permissions: PermissionSet,
        enabled: bool,
        sso: bool,
        created_at: String,
        updated_at: String,
    }
);

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    pub role: String,
    /// The explicit set of a `custom` role.
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub sso: Option<bool>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub password: Option<Secret>,
    /// Global administrators only; default: the caller's company.
    #[serde(default)]
    pub company_id: Option<i64>,
    /// The company role to hold, with `role: "company"` (SPEC §18).
    #[serde(default)]
    pub role_id: Option<i64>,
}

into_service!(CreateUser => svc::CreateUser { email, name, role, permissions, enabled, sso, password, company_id, role_id });

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    /// The company role to hold, with `role: "company"` (SPEC §18).
    #[serde(default)]
    pub role_id: Option<i64>,
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub sso: Option<bool>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub password: Option<Secret>,
    /// Rule 37: one's own current password, needed to change one's own password or email
    /// (ignored otherwise). Redacted in `Debug` like every secret.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub current_password: Option<Secret>,
}

into_service!(UpdateUser => svc::UpdateUser { email, name, role, role_id, permissions, enabled, sso, password, current_password });

schema_of!(legacy::LegacyCredentials =>
    /// Issued credentials, shown once.
    struct LegacyCredentials {
        uuid: String,
        #[schema(value_type = String)]
        secret: Secret,
        token_id: i64,
    }
);

/// `POST /v1/users/{id}/legacy-credentials`: issues a fresh UUID + secret.
/// An optional body of `POST /v1/users/{id}/legacy-credentials`: import these credentials
/// from the older scheme instead of issuing fresh ones (both fields, or neither).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportCredentials {
    #[serde(default)]
    pub uuid: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub secret: Option<Secret>,
}

into_service!(ImportCredentials => legacy::ImportCredentials { uuid, secret });
