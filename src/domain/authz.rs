//! The one decision on what a stored credential may do at the instant of a request.
//!
//! Authentication (the `Caller` extractor, forward-auth, the console's API calls) asks
//! `admit` and nothing else: expiry (rule 3), rotation grace (rule 30), the token's and its
//! owner's state (rules 15, 18), IP binding, the effective permissions (token ∩ owner) and
//! whether the credential is delegated (rule 25). Pure: the caller supplies `now` and the
//! client address.

use std::net::IpAddr;

use ipnet::IpNet;

use super::permissions::PermissionSet;
use super::time::expired;
use super::token::{is_delegated, TokenKind};
use super::user::User;

/// What is stored about a token, borrowed from its looked-up row.
pub struct StoredCredential<'a> {
    pub kind: TokenKind,
    pub permissions: &'a PermissionSet,
    /// The effective permissions when already computed (the cached hot-path row holds them,
    /// so a request clones a shared set instead of intersecting).
    pub effective: Option<&'a PermissionSet>,
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Token permissions ∩ the owner's current permissions (legacy: the owner's).
    pub permissions: PermissionSet,
    /// The creator of a delegated token.
    pub delegated_by: Option<i64>,
}

/// The networks of a stored `allowed_cidrs` column (space-separated, validated when written).
pub fn stored_nets(s: &str) -> Vec<IpNet> {
    s.split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// Token permissions ∩ the owner's current permissions; a legacy token always has exactly
/// its owner's (rule 19).
pub fn effective_permissions(
    kind: TokenKind,
    token: &PermissionSet,
    owner: &PermissionSet,
) -> PermissionSet {
    match kind {
        TokenKind::Legacy => owner.clone(),
        _ => token.intersection(owner),
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
        // Rule 47: compared normalised (`::ffff:a.b.c.d` is `a.b.c.d`; a binding written in
        // the mapped form still matches).
        let ip = ip.to_canonical();
        let mapped = match ip {
            IpAddr::V4(v4) => IpAddr::V6(v4.to_ipv6_mapped()),
            v6 => v6,
        };
        if !nets.iter().any(|n| n.contains(&ip) || n.contains(&mapped)) {
            return Err(Refusal::IpNotAllowed);
        }
    }
    Ok(Grant {
        permissions: match c.effective {
            Some(e) => e.clone(),
            None => effective_permissions(c.kind, c.permissions, &c.owner.permissions()),
        },
        delegated_by: is_delegated(c.creator_id, c.owner.id)
            .then_some(c.creator_id)
            .flatten(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::permissions::Permission as P;
    use crate::domain::roles::Role;

    fn owner(role: Role) -> User {
        User {
            id: 7,
            company_id: 1,
            email: "o@example.com".into(),
            name: "o".into(),
            role,
            custom: PermissionSet::EMPTY,
            role_id: None,
            enabled: true,
            sso: false,
            has_password: false,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn cred<'a>(owner: &'a User, creator: Option<i64>) -> StoredCredential<'a> {
        StoredCredential {
            kind: TokenKind::Private,
            permissions: Box::leak(Box::new(
                [P::TokensRead, P::UsersWrite].into_iter().collect(),
            )),
            effective: None,
            enabled: true,
            expires_at: Some(1_000),
            prev_valid_until: None,
            allowed_nets: None,
            owner,
            creator_id: creator,
        }
    }

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn rule_25_a_token_made_by_someone_else_is_delegated_and_says_by_whom() {
        let o = owner(Role::Admin);
        assert_eq!(admit(&cred(&o, Some(7)), 0, IP).unwrap().delegated_by, None);
        assert_eq!(admit(&cred(&o, None), 0, IP).unwrap().delegated_by, None);
        assert_eq!(
            admit(&cred(&o, Some(3)), 0, IP).unwrap().delegated_by,
            Some(3)
        );
    }

    #[test]
    fn power_is_the_token_bounded_by_the_owners_current_permissions() {
        let o = owner(Role::ReadOnly);
        let g = admit(&cred(&o, None), 0, IP).unwrap();
        assert_eq!(
            g.permissions.names(),
            vec!["tokens:read"],
            "users:write is not the owner's"
        );
    }

    #[test]
    fn refusals_at_the_instant_of_the_request() {
        let mut o = owner(Role::Admin);
        assert_eq!(admit(&cred(&o, None), 1_000, IP), Err(Refusal::Expired));
        let mut c = cred(&o, None);
        c.prev_valid_until = Some(Some(500));
        assert_eq!(
            admit(&c, 500, IP),
            Err(Refusal::Expired),
            "rotation ends exactly"
        );
        let nets = ["10.0.0.0/8".parse().unwrap()];
        let mut c = cred(&o, None);
        c.allowed_nets = Some(&nets);
        assert_eq!(admit(&c, 0, IP), Err(Refusal::IpNotAllowed));
        o.sso = true;
        assert_eq!(admit(&cred(&o, None), 0, IP), Err(Refusal::Disabled));
    }

    #[test]
    fn rule_47_a_binding_matches_the_mapped_form_of_its_ipv4_address() {
        let o = owner(Role::Admin);
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        for binding in ["127.0.0.1/32", "::ffff:127.0.0.1/128"] {
            let nets = [binding.parse().unwrap()];
            let mut c = cred(&o, None);
            c.allowed_nets = Some(&nets);
            assert!(admit(&c, 0, mapped).is_ok(), "{binding} / mapped client");
            assert!(admit(&c, 0, IP).is_ok(), "{binding} / IPv4 client");
            let other: IpAddr = "::ffff:127.0.0.2".parse().unwrap();
            assert_eq!(admit(&c, 0, other), Err(Refusal::IpNotAllowed));
        }
    }
}
