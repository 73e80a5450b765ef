//! The one visibility policy for tokens (rules 8, 9, 12, 13). Every operation on a token asks
//! `access` what the caller may do with it; lists use the matching SQL scope.

use crate::db::tokens::{Scope, TokenRow};
use crate::domain::model::{Audience, Caller, TokenKind};
use crate::error::{ApiError, ApiResult};

/// What a caller may do with one token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Access {
    /// Listed and addressable; otherwise the token answers 404 (existence does not leak).
    pub see: bool,
    /// Edit, enable/disable, delete.
    pub manage: bool,
    /// See and copy the value (reveal), and renew it.
    pub use_value: bool,
}

pub fn access(caller: &Caller, t: &TokenRow) -> Access {
    let owner = t.owner_id == caller.user.id;
    let admin = caller.is_token_admin() && caller.reaches_company(t.company_id);
    match t.kind {
        TokenKind::Shared => {
            let member = t.audience == Audience::Company && caller.user.company_id == t.company_id;
            Access {
                see: owner || admin || member,
                manage: admin,
                use_value: owner || admin || member,
            }
        }
        TokenKind::Private | TokenKind::Legacy => Access {
            see: owner || admin,
            manage: owner || admin,
            use_value: owner,
        },
    }
}

/// Who may renew (regenerate) a token's value: its owner; for a shared token, the
/// administrators who manage it (members of its audience only use the value).
pub fn may_renew(a: Access, kind: TokenKind) -> bool {
    if kind == TokenKind::Shared {
        a.manage
    } else {
        a.use_value
    }
}

/// The SQL scope matching `access(..).see` for lists.
pub fn list_scope(caller: &Caller) -> Scope {
    if caller.is_token_admin() {
        if caller.is_global() {
            Scope::All
        } else {
            Scope::Company(caller.user.company_id)
        }
    } else {
        Scope::Own {
            user_id: caller.user.id,
            company_id: caller.user.company_id,
        }
    }
}

/// Rule 18: SSO users have no tokens section at all.
pub fn ensure_not_sso(caller: &Caller) -> ApiResult<()> {
    if caller.user.sso {
        Err(ApiError::forbidden(
            "sso_user",
            "SSO users have no API tokens",
        ))
    } else {
        Ok(())
    }
}

/// Refuses with 403 unless `allowed`.
pub fn ensure(allowed: bool, what: &str) -> ApiResult<()> {
    if allowed {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "forbidden",
            format!("you may not {what} this token"),
        ))
    }
}
