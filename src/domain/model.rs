//! The records the service layer reasons about: users, tokens, the caller. Plain data.

use serde::{Deserialize, Serialize};

use super::permissions::{Permission, PermissionSet};
use super::roles::Role;

/// A user as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: i64,
    pub company_id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// The explicit set of a `custom` role; empty otherwise.
    pub custom: PermissionSet,
    pub enabled: bool,
    pub sso: bool,
    pub has_password: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl User {
    /// The user's current permissions: its role's, or its explicit set for `custom`.
    pub fn permissions(&self) -> PermissionSet {
        permissions_of(self.role, self.custom)
    }

    pub fn is_administrator(&self) -> bool {
        self.role.is_administrator()
    }
}

/// Permissions of a role with (for `custom`) its explicit set.
pub fn permissions_of(role: Role, custom: PermissionSet) -> PermissionSet {
    match role {
        Role::Custom => custom,
        r => r.permissions(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Private,
    Shared,
    Legacy,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Private => "private",
            TokenKind::Shared => "shared",
            TokenKind::Legacy => "legacy",
        }
    }

    pub fn parse(s: &str) -> Option<TokenKind> {
        match s {
            "private" => Some(TokenKind::Private),
            "shared" => Some(TokenKind::Shared),
            "legacy" => Some(TokenKind::Legacy),
            _ => None,
        }
    }
}

/// Who besides administrators may list and use a shared token (rule 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    Administrators,
    Company,
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Administrators => "administrators",
            Audience::Company => "company",
        }
    }

    pub fn parse(s: &str) -> Option<Audience> {
        match s {
            "administrators" => Some(Audience::Administrators),
            "company" => Some(Audience::Company),
            _ => None,
        }
    }
}

/// Why a token is disabled (SPEC §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisabledReason {
    Manual,
    Expired,
    OwnerDisabled,
    OwnerSso,
    NoPermissions,
    Leaked,
    Idle,
}

impl DisabledReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DisabledReason::Manual => "manual",
            DisabledReason::Expired => "expired",
            DisabledReason::OwnerDisabled => "owner_disabled",
            DisabledReason::OwnerSso => "owner_sso",
            DisabledReason::NoPermissions => "no_permissions",
            DisabledReason::Leaked => "leaked",
            DisabledReason::Idle => "idle",
        }
    }
}

/// How the caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    Token,
    Legacy,
    Session,
}

/// The authenticated caller of a request: its user and its effective permissions
/// (token permissions ∩ the owner's current permissions; for a session, the user's own).
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub permissions: PermissionSet,
    pub token_id: Option<i64>,
    pub method: AuthMethod,
    pub ip: Option<String>,
}

impl Caller {
    pub fn has(&self, p: Permission) -> bool {
        self.permissions.contains(p)
    }

    /// May manage every token of its company (and shared tokens): `tokens:admin` held.
    pub fn is_token_admin(&self) -> bool {
        self.has(Permission::TokensAdmin)
    }

    /// Acts across companies (SPEC rule 8: a global admin manages tokens in every company).
    pub fn is_global(&self) -> bool {
        self.user.role == Role::GlobalAdmin
    }

    /// Whether `company_id` is within the caller's reach.
    pub fn reaches_company(&self, company_id: i64) -> bool {
        self.is_global() || self.user.company_id == company_id
    }
}
