//! The authenticated caller of a request, and how it authenticated. Plain data.

use serde::Serialize;

use super::permissions::{Permission, PermissionSet};
use super::user::User;

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
