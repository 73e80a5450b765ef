//! The one authorization policy. Every operation asks here what a credential may do:
//! `access` for one token (rules 8, 9, 12, 13; lists use the matching SQL scope), the checks
//! that bound a credential by the person behind it (rules 23–26), and the one invariant of
//! rule 36: an operation that hands out a value or gives power back to a token needs the
//! acting credential to cover that token's power. Power comes from the caller's effective
//! permissions (`Caller`), never from a role name (rule 24).

use crate::db::tokens::TokenRow;
use crate::domain::authz::effective_permissions;
use crate::domain::listing::Scope;
use crate::domain::model::{Audience, Caller, TokenKind, User};
use crate::domain::permissions::PermissionSet;
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
    /// The caller covers the token's power (rule 36): it may reveal, renew or enable it, or
    /// raise it (later expiry, looser binding, wider permissions), access permitting.
    pub covers: bool,
}

impl Access {
    /// May see and copy the value: access to it, and the power behind it (rules 12, 36).
    pub fn reveal(self) -> bool {
        self.use_value && self.covers
    }
}

/// What `caller` may do with token `t`. An administrator of another company sees its tokens
/// with `companies:read` and manages them (or uses a shared value) only with
/// `companies:write` (rule 24).
pub fn access(caller: &Caller, t: &TokenRow) -> Access {
    let owner = t.owner_id == caller.user.id;
    let admin_sees = caller.is_token_admin() && caller.reaches_company(t.company_id);
    let admin = caller.is_token_admin() && caller.changes_company(t.company_id);
    let covers = covers_token(caller, t);
    match t.kind {
        TokenKind::Shared => {
            let member = t.audience == Audience::Company && caller.user.company_id == t.company_id;
            Access {
                see: owner || admin_sees || member,
                manage: admin,
                use_value: owner || admin || member,
                covers,
            }
        }
        TokenKind::Private | TokenKind::Legacy => Access {
            see: owner || admin_sees,
            manage: owner || admin,
            use_value: owner,
            covers,
        },
    }
}

/// A token's power (rule 36): its effective permissions — its own ∩ its owner's current ones;
/// a legacy token's are exactly its owner's (rule 19).
pub fn power(t: &TokenRow) -> PermissionSet {
    effective_permissions(t.kind, &t.permissions, &t.owner_permissions)
}

/// Whether `caller` covers the power of `t`: every effective permission of the token, and the
/// token inside the caller's reach (its company, or any with `companies:write`).
fn covers_token(caller: &Caller, t: &TokenRow) -> bool {
    caller.covers(&power(t)) && caller.changes_company(t.company_id)
}

/// Who may renew (regenerate) a token's value: its owner; for a shared token, the
/// administrators who manage it (members of its audience only use the value). The caller must
/// also cover the token's power (`ensure_covers_token`, rule 36).
pub fn may_renew(a: Access, kind: TokenKind) -> bool {
    if kind == TokenKind::Shared {
        a.manage
    } else {
        a.use_value
    }
}

/// Rule 36: an operation that hands out the value of `t` or gives it power back (reveal,
/// renew, enable, a later or no expiry, a looser IP binding, wider permissions) needs the
/// acting credential to cover the token's power; otherwise 403 `token_exceeds_caller`.
/// Operations that only take power away need access alone (rules 8, 13).
pub fn ensure_covers_token(caller: &Caller, t: &TokenRow) -> ApiResult<()> {
    if !caller.changes_company(t.company_id) {
        return Err(ApiError::forbidden(
            "token_exceeds_caller",
            "the token acts in a company your credentials cannot change",
        ));
    }
    ensure_covers(
        caller,
        power(t),
        "token_exceeds_caller",
        "the token holds permissions your credentials do not",
    )
}

/// The SQL scope matching `access(..).see` for lists.
pub fn list_scope(caller: &Caller) -> Scope {
    if caller.is_token_admin() {
        match caller.company_scope() {
            None => Scope::All,
            Some(c) => Scope::Company(c),
        }
    } else {
        Scope::Own {
            user_id: caller.user.id,
            company_id: caller.user.company_id,
        }
    }
}

/// Rule 23: minting a credential that acts as `owner` (a token for another user, legacy
/// credentials, a node) needs the caller to hold every permission the owner holds.
pub fn ensure_may_mint_for(caller: &Caller, owner: &User) -> ApiResult<()> {
    ensure_covers(
        caller,
        owner.permissions(),
        "owner_exceeds_caller",
        "the owner holds permissions your credentials do not",
    )
}

/// Who may own a token the caller creates (rules 15, 18, 23, 24): the caller itself, or for an
/// administrator a user of a company it may change whose permissions it covers; either way an
/// enabled, non-SSO user. The console's owner picker asks this too, to say who is unavailable.
pub fn ensure_may_create_token_for(caller: &Caller, owner: &User) -> ApiResult<()> {
    if owner.id != caller.user.id {
        if !caller.is_token_admin() {
            return Err(ApiError::forbidden(
                "forbidden",
                "only administrators may create tokens for other users",
            ));
        }
        if !caller.changes_company(owner.company_id) {
            return Err(ApiError::forbidden(
                "forbidden",
                "creating tokens in another company needs companies:write",
            ));
        }
        ensure_may_mint_for(caller, owner)?;
    }
    ensure_owner_active(owner)
}

/// Rule 26: any change to another user needs the caller to hold every permission the
/// target holds. Changes to oneself are bounded elsewhere (no self-promotion).
pub fn ensure_may_change_user(caller: &Caller, target: &User) -> ApiResult<()> {
    if target.id == caller.user.id {
        return Ok(());
    }
    ensure_covers(
        caller,
        target.permissions(),
        "user_exceeds_caller",
        "the user holds permissions your credentials do not",
    )
}

fn ensure_covers(
    caller: &Caller,
    needed: PermissionSet,
    code: &'static str,
    message: &str,
) -> ApiResult<()> {
    if caller.covers(&needed) {
        return Ok(());
    }
    let missing = needed.difference(&caller.permissions).names().join(", ");
    Err(ApiError::forbidden(code, format!("{message}: {missing}")))
}

/// Rule 25: a delegated token (made by someone other than its owner) cannot create, renew
/// or reveal tokens, issue legacy credentials, or change a password, email or SSO flag.
pub fn ensure_not_delegated(caller: &Caller, what: &str) -> ApiResult<()> {
    if caller.is_delegated() {
        Err(ApiError::forbidden(
            "delegated_token",
            format!("a token made for its owner by someone else cannot {what}"),
        ))
    } else {
        Ok(())
    }
}

/// Rules 15 and 18: the owner can hold enabled tokens (enabled, not SSO).
pub fn ensure_owner_active(owner: &User) -> ApiResult<()> {
    if owner.sso {
        return Err(ApiError::forbidden(
            "sso_user",
            "SSO users have no API tokens",
        ));
    }
    if !owner.enabled {
        return Err(ApiError::conflict(
            "owner_inactive",
            "the token's owner is disabled; enable the user first",
        ));
    }
    Ok(())
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
