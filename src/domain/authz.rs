//! The one decision on what a stored credential may do at the instant of a request.
//!
//! Authentication (the `Caller` extractor, forward-auth, the console's API calls) asks
//! `admit` and nothing else: expiry (rule 3), rotation grace (rule 30), the token's and its
//! owner's state (rules 15, 18), IP binding, the effective permissions (token ∩ owner) and
//! whether the credential is delegated (rule 25). Pure: the caller supplies `now` and the
//! client address.

use std::net::IpAddr;

use ipnet::IpNet;

use super::model::{expired, is_delegated, TokenKind, User};
use super::permissions::PermissionSet;

/// What is stored about a token, borrowed from its looked-up row.
pub struct StoredCredential<'a> {
    pub kind: TokenKind,
    pub permissions: PermissionSet,
    pub enabled: bool,
    pub expires_at: Option<i64>,
    /// `Some(until)` when the presented value is the previous one of a rotation.
    pub prev_valid_until: Option<Option<i64>>,
    /// The networks the token is bound to; `None` when it is not bound.
    pub allowed_nets: Option<&'a [IpNet]>,
    pub owner: &'a User,
    pub creator_id: Option<i64>,
}

/// Why a credential does not authenticate now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Past its expiry, or a rotated-out value past its grace period.
    Expired,
    /// The token is disabled, or its owner is disabled or SSO.
    Disabled,
    /// Bound to networks that do not contain the client address.
    IpNotAllowed,
}

/// What an admitted credential may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// Token permissions ∩ the owner's current permissions (legacy: the owner's).
    pub permissions: PermissionSet,
    /// The creator of a delegated token.
    pub delegated_by: Option<i64>,
}

/// Token permissions ∩ the owner's current permissions; a legacy token always has exactly
/// its owner's (rule 19).
pub fn effective_permissions(kind: TokenKind, token: PermissionSet, owner: &User) -> PermissionSet {
    match kind {
        TokenKind::Legacy => owner.permissions(),
        _ => token.intersection(owner.permissions()),
    }
}

/// Decides whether `c` authenticates at `now` from `ip`, and with what power.
pub fn admit(c: &StoredCredential, now: i64, ip: IpAddr) -> Result<Grant, Refusal> {
    if let Some(until) = c.prev_valid_until {
        if until.is_none_or(|u| u <= now) {
            return Err(Refusal::Expired);
        }
    }
    if !c.enabled || !c.owner.can_hold_tokens() {
        return Err(Refusal::Disabled);
    }
    if expired(c.expires_at, now) {
        return Err(Refusal::Expired);
    }
    if let Some(nets) = c.allowed_nets {
        if !nets.iter().any(|n| n.contains(&ip)) {
            return Err(Refusal::IpNotAllowed);
        }
    }
    Ok(Grant {
        permissions: effective_permissions(c.kind, c.permissions, c.owner),
        delegated_by: is_delegated(c.creator_id, c.owner.id)
            .then_some(c.creator_id)
            .flatten(),
    })
}
