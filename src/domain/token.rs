//! What a token is besides its value: its kind, its audience, why it is disabled, whether
//! it is delegated. Plain data.

use serde::{Deserialize, Serialize};

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

/// Whether a token is delegated (rule 25): made by someone other than its owner. Tokens made
/// by the system (bootstrap, CLI import) have no creator and are not delegated.
pub fn is_delegated(creator_id: Option<i64>, owner_id: i64) -> bool {
    creator_id.is_some_and(|c| c != owner_id)
}
