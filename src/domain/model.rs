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
    /// The company role the user holds (`role` is then `Company`, SPEC §18).
    pub role_id: Option<i64>,
}

impl User {
    /// The user's current permissions: its role's, or its explicit set for `custom`.
    pub fn permissions(&self) -> PermissionSet {
        permissions_of(self.role, &self.custom)
    }
}

/// Permissions of a role with (for `custom`) its explicit set.
pub fn permissions_of(role: Role, custom: &PermissionSet) -> PermissionSet {
    match role {
        Role::Custom | Role::Company => custom.clone(),
        r => r.permissions(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// Why a token is disabled.
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
    pub const fn as_str(self) -> &'static str {
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

/// How the caller authenticated. Serialised as the audit log's `via` (rule 27), which adds
/// `sso`, `node` and `system` for events no `Caller` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    Token,
    Legacy,
    Session,
    /// The command line, acting for a user it names (the operator holds the database).
    Cli,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Token => "token",
            AuthMethod::Legacy => "legacy",
            AuthMethod::Session => "session",
            AuthMethod::Cli => "cli",
        }
    }
}

/// Whether a token is delegated (rule 25): made by someone other than its owner. Tokens made
/// by the system (bootstrap, CLI import) have no creator and are not delegated.
pub fn is_delegated(creator_id: Option<i64>, owner_id: i64) -> bool {
    creator_id.is_some_and(|c| c != owner_id)
}

/// Whether an instant-bounded thing has expired at `now` (rules 3, 4, 30): expiry is checked
/// at every use, not only by the scheduler.
pub fn expired(expires_at: Option<i64>, now: i64) -> bool {
    expires_at.is_some_and(|e| e <= now)
}

impl User {
    /// Whether the user may hold enabled tokens: enabled and not SSO (rules 15, 18).
    pub fn can_hold_tokens(&self) -> bool {
        self.enabled && !self.sso
    }
}

/// The authenticated caller of a request: the person behind it (`user`), what this
/// credential may do (`permissions` = token permissions ∩ the owner's current permissions;
/// for a session, the user's own) and which credential it is.
///
/// Every authorization decision reads these fields through the methods below, so a
/// credential's power comes from its permissions only, never from a role name (rule 24).
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub permissions: PermissionSet,
    pub token_id: Option<i64>,
    pub method: AuthMethod,
    pub ip: Option<String>,
    /// The creator of a delegated token (rule 25); `None` for any other credential.
    pub delegated_by: Option<i64>,
}

impl Caller {
    /// A console or API session of `user`: the user's own permissions.
    pub fn session(user: User, ip: String) -> Caller {
        Caller {
            permissions: user.permissions(),
            user,
            token_id: None,
            method: AuthMethod::Session,
            ip: Some(ip),
            delegated_by: None,
        }
    }

    /// The command line acting as `user`, with the user's full permissions.
    pub fn cli(user: User) -> Caller {
        Caller {
            permissions: user.permissions(),
            user,
            token_id: None,
            method: AuthMethod::Cli,
            ip: None,
            delegated_by: None,
        }
    }

    pub fn has(&self, p: Permission) -> bool {
        self.permissions.contains(p)
    }

    /// May manage every token of its company (and shared tokens): `tokens:admin` held.
    pub fn is_token_admin(&self) -> bool {
        self.has(Permission::TokensAdmin)
    }

    /// Sees every company (rule 24: `companies:read`, whatever the role).
    pub fn reads_all_companies(&self) -> bool {
        self.has(Permission::CompaniesRead)
    }

    /// Whether the caller may read inside `company_id`: its own, or any with
    /// `companies:read` (rule 24).
    pub fn reaches_company(&self, company_id: i64) -> bool {
        self.user.company_id == company_id || self.reads_all_companies()
    }

    /// Whether the caller may change things inside `company_id`: its own, or any with
    /// `companies:write` (rule 24).
    pub fn changes_company(&self, company_id: i64) -> bool {
        self.user.company_id == company_id || self.has(Permission::CompaniesWrite)
    }

    /// The company a list is limited to: none for a caller that reads every company.
    pub fn company_scope(&self) -> Option<i64> {
        (!self.reads_all_companies()).then_some(self.user.company_id)
    }

    /// Whether this credential holds every permission in `other` (rules 23, 26: nobody
    /// mints for, or changes, someone above themselves).
    pub fn covers(&self, other: &PermissionSet) -> bool {
        other.is_subset_of(&self.permissions)
    }

    /// A delegated token (rule 25).
    pub fn is_delegated(&self) -> bool {
        self.delegated_by.is_some()
    }
}
