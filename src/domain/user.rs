//! A user as the service layer reasons about it, and what it may do. Plain data.

use super::permissions::PermissionSet;
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

impl User {
    /// Whether the user may hold enabled tokens: enabled and not SSO (rules 15, 18).
    pub fn can_hold_tokens(&self) -> bool {
        self.enabled && !self.sso
    }
}
