//! API scopes and company roles, and what changing them would take away.

use serde::Deserialize;
use utoipa::ToSchema;

use super::{into_service, schema_of};
use crate::domain::permissions::PermissionSet;
use crate::service::{roles, scopes as svc};

schema_of!(svc::ScopeView =>
    struct ScopeView {
        id: i64,
        name: String,
        description: String,
        created_at: String,
    }
);

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScope {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
}

into_service!(CreateScope => svc::CreateScope { name, description });

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateScope {
    #[serde(default)]
    pub description: Option<String>,
    /// Refused: a scope is not renamed (create the new one, move roles, delete the old one).
    #[serde(default)]
    pub name: Option<String>,
}

into_service!(UpdateScope => svc::UpdateScope { description, name });

schema_of!(svc::TokenLoss =>
    /// A token that loses a scope (or a role change's permissions), as a preview lists it.
    struct TokenLoss {
        token_id: i64,
        name: String,
        owner_id: i64,
        #[schema(value_type = Vec<String>)]
        lost: PermissionSet,
        /// Left with no permission: disabled (`no_permissions`).
        disabled: bool,
    }
);

schema_of!(svc::Named =>
    struct Named {
        id: i64,
        name: String,
    }
);

schema_of!(svc::ScopeDeletePreview =>
    /// What deleting a scope takes away, before it is done.
    struct ScopeDeletePreview {
        scope: svc::ScopeView,
        /// The tokens that lose it (those the caller may see).
        tokens: Vec<svc::TokenLoss>,
        /// Tokens that lose it and the caller may not see.
        hidden_tokens: usize,
        roles: Vec<svc::Named>,
        /// Users whose custom set names it (users of a role change with the role).
        users: Vec<svc::Named>,
    }
);

schema_of!(roles::RoleView =>
    /// One role as `/v1/roles` lists it: a built-in role (`builtin`, no `id`) or a company role.
    struct RoleView {
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<i64>,
        name: String,
        description: String,
        #[schema(value_type = Vec<String>)]
        permissions: PermissionSet,
        builtin: bool,
        /// Users holding the role (company roles).
        #[serde(skip_serializing_if = "Option::is_none")]
        users: Option<usize>,
        #[serde(skip_serializing_if = "Option::is_none")]
        updated_at: Option<String>,
    }
);

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRole {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Management permissions and API scopes of the company.
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
    /// A built-in role to start from (its permissions are added to `permissions`).
    #[serde(default)]
    pub template: Option<String>,
}

into_service!(CreateRole => roles::CreateRole { name, description, permissions, template });

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRole {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
}

into_service!(UpdateRole => roles::UpdateRole { name, description, permissions });

schema_of!(roles::RoleChangePreview =>
    /// What saving a role change would do to its holders' tokens (rule 16), before it is done.
    struct RoleChangePreview {
        role: roles::RoleView,
        /// Users holding the role.
        users: usize,
        /// Tokens that lose permissions (those the caller may see), and what each loses.
        tokens: Vec<svc::TokenLoss>,
        /// Tokens that lose permissions and the caller may not see.
        hidden_tokens: usize,
    }
);
