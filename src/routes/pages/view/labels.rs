//! Words for token kinds, disabled reasons and permissions.

use crate::domain::roles::Role;
use crate::service::tokens::TokenView;

pub fn kind_label(v: &TokenView) -> &'static str {
    use crate::domain::token::{Audience, TokenKind};
    match (v.kind, v.audience) {
        (TokenKind::Private, _) => "Private",
        (TokenKind::Shared, Some(Audience::Company)) => "Shared (company)",
        (TokenKind::Shared, _) => "Shared (admins)",
        (TokenKind::Legacy, _) => "Legacy",
    }
}

/// A disabled reason in words.
pub fn reason_label(reason: Option<&str>) -> &'static str {
    match reason {
        Some("manual") => "disabled by hand",
        Some("expired") => "expired",
        Some("owner_disabled") => "its owner was disabled",
        Some("owner_sso") => "its owner was switched to single sign-on",
        Some("no_permissions") => "no permissions left",
        Some("leaked") => "reported as leaked",
        Some("idle") => "unused for too long",
        _ => "disabled",
    }
}

/// A disabled reason in a few words, shown beside the *Disabled* badge (empty: none known).
pub fn reason_short(reason: Option<&str>) -> &'static str {
    match reason {
        Some("manual") => "by hand",
        Some("expired") => "expired",
        Some("owner_disabled") => "owner disabled",
        Some("owner_sso") => "owner uses SSO",
        Some("no_permissions") => "no permissions",
        Some("leaked") => "leaked",
        Some("idle") => "unused",
        _ => "",
    }
}

/// The permissions column: the template's name when the set is exactly a role's, else the
/// names (short sets) or a count; the full list goes into the cell's title.
pub fn permission_summary(v: &TokenView) -> (String, String) {
    let Some(set) = v.permissions.clone() else {
        return (
            "Owner's role".into(),
            "Legacy tokens always carry their owner's role permissions".into(),
        );
    };
    let full = set.names().join(", ");
    let role = v.role_template.as_deref().and_then(Role::parse);
    let short = match role {
        Some(r) if r != Role::Custom && r.permissions() == set => {
            format!("{} ({})", r.label(), set.len())
        }
        _ if set.is_empty() => "None".into(),
        _ if set.len() <= 2 => full.clone(),
        _ => format!("Custom ({})", set.len()),
    };
    (short, full)
}
