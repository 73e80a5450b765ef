//! The one authorization policy. Every operation asks here what a credential may do:
//! `access` for one token (rules 8, 9, 12, 13; lists use the matching SQL scope), the checks
//! that bound a credential by the person behind it (rules 23–26), and the one invariant of
//! rule 36: an operation that hands out a value or gives power back to a token needs the
//! acting credential to cover that token's power. Power comes from the caller's effective
//! permissions (`Caller`), never from a role name (rule 24).

use crate::db::tokens::TokenRow;
use crate::domain::authz::effective_permissions;
use crate::domain::caller::Caller;
use crate::domain::listing::Scope;
use crate::domain::permissions::{Permission, PermissionSet};
use crate::domain::token::{Audience, TokenKind};
use crate::domain::user::User;
use crate::service::error::{Error, Refusal, Result};

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
pub fn ensure_covers_token(caller: &Caller, t: &TokenRow) -> Result<()> {
    if !caller.changes_company(t.company_id) {
        return Err(refuse(
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

/// A refusal: the one way a service operation says "not allowed" (403 on the API).
fn refuse(code: &'static str, message: impl Into<String>) -> Error {
    Error::Refused(Refusal::new(code, message))
}

/// Refuses with 403 `insufficient_scope` unless the caller holds `p`.
pub fn require(caller: &Caller, p: Permission) -> Result<()> {
    if caller.has(p) {
        Ok(())
    } else {
        Err(refusals::insufficient_scope(p.name()))
    }
}

/// Rule 10: only token administrators create tokens for other users.
pub fn ensure_may_create_for_others(caller: &Caller) -> Result<()> {
    if caller.is_token_admin() {
        Ok(())
    } else {
        Err(refuse(
            "forbidden",
            "only administrators may create tokens for other users",
        ))
    }
}

/// Only token administrators create shared tokens.
pub fn ensure_may_share(caller: &Caller) -> Result<()> {
    if caller.is_token_admin() {
        Ok(())
    } else {
        Err(refuse(
            "shared_requires_admin",
            "only administrators may create shared tokens",
        ))
    }
}

/// Rule 24: acting on another company needs `companies:write`; `what` names the act
/// ("changing another company's users").
pub fn ensure_changes_company(caller: &Caller, company_id: i64, what: &str) -> Result<()> {
    if caller.changes_company(company_id) {
        Ok(())
    } else {
        Err(refuse("forbidden", format!("{what} needs companies:write")))
    }
}

/// Rule 26: nobody grants permissions they do not hold (a role, a user's permissions), so
/// only a credential holding every permission makes a global administrator.
pub fn ensure_may_grant(held: &PermissionSet, granted: &PermissionSet) -> Result<()> {
    if granted.is_subset_of(held) {
        Ok(())
    } else {
        Err(refuse(
            "forbidden",
            format!(
                "you cannot grant permissions you do not hold: {}",
                granted.difference(held).names().join(", ")
            ),
        ))
    }
}

/// Changing or deleting a role needs the caller to hold every permission it holds.
pub fn ensure_covers_role(caller: &Caller, role_permissions: &PermissionSet) -> Result<()> {
    ensure_covers(
        caller,
        role_permissions.clone(),
        "user_exceeds_caller",
        "the role holds permissions your credentials do not",
    )
}

/// Nobody disables themselves, switches themselves to SSO or changes their own role (the
/// console would lock them out); `changes_standing` says whether the change does one of those.
pub fn ensure_not_demoting_self(
    caller: &Caller,
    target_id: i64,
    changes_standing: bool,
) -> Result<()> {
    if target_id == caller.user.id && changes_standing {
        Err(refuse(
            "forbidden",
            "you cannot disable yourself, switch yourself to SSO or change your own role",
        ))
    } else {
        Ok(())
    }
}

/// Nobody deletes themselves.
pub fn ensure_not_deleting_self(caller: &Caller, target_id: i64) -> Result<()> {
    if target_id == caller.user.id {
        Err(refuse("forbidden", "you cannot delete yourself"))
    } else {
        Ok(())
    }
}

/// Rule 37: changing one's own password or email needs the current password, so an account
/// without one (SSO, or never given one) cannot do it itself.
pub fn ensure_has_password_to_confirm(user: &User) -> Result<()> {
    if user.sso {
        return Err(refuse(
            "sso_user",
            "single sign-on users have no password to confirm; an administrator changes your email",
        ));
    }
    if !user.has_password {
        return Err(refuse(
            "current_password_wrong",
            "this account has no password to confirm; an administrator sets it",
        ));
    }
    Ok(())
}

/// Rule 37: the proof of a recent password confirmation is the caller's own.
pub fn ensure_confirmed_by(caller: &Caller, confirmed_user_id: i64) -> Result<()> {
    if confirmed_user_id == caller.user.id {
        Ok(())
    } else {
        Err(refuse(
            "current_password_wrong",
            "confirm your current password first",
        ))
    }
}

/// Rule 18: single sign-on users have no password.
pub fn ensure_has_no_sso(user: &User) -> Result<()> {
    if user.sso {
        Err(refuse("sso_user", "single sign-on users have no password"))
    } else {
        Ok(())
    }
}

/// Rule 23: minting a credential that acts as `owner` (a token for another user, legacy
/// credentials, a node) needs the caller to hold every permission the owner holds.
pub fn ensure_may_mint_for(caller: &Caller, owner: &User) -> Result<()> {
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
pub fn ensure_may_create_token_for(caller: &Caller, owner: &User) -> Result<()> {
    if owner.id != caller.user.id {
        ensure_may_create_for_others(caller)?;
        ensure_changes_company(
            caller,
            owner.company_id,
            "creating tokens in another company",
        )?;
        ensure_may_mint_for(caller, owner)?;
    }
    ensure_owner_active(owner)
}

/// Rule 26: any change to another user needs the caller to hold every permission the
/// target holds. Changes to oneself are bounded elsewhere (no self-promotion).
pub fn ensure_may_change_user(caller: &Caller, target: &User) -> Result<()> {
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
) -> Result<()> {
    if caller.covers(&needed) {
        return Ok(());
    }
    let missing = needed.difference(&caller.permissions).names().join(", ");
    Err(refuse(code, format!("{message}: {missing}")))
}

/// Rule 25: a delegated token (made by someone other than its owner) cannot create, renew
/// or reveal tokens, issue legacy credentials, or change a password, email or SSO flag.
pub fn ensure_not_delegated(caller: &Caller, what: &str) -> Result<()> {
    if caller.is_delegated() {
        Err(refuse(
            "delegated_token",
            format!("a token made for its owner by someone else cannot {what}"),
        ))
    } else {
        Ok(())
    }
}

/// Rules 15 and 18: the owner can hold enabled tokens (enabled, not SSO).
pub fn ensure_owner_active(owner: &User) -> Result<()> {
    if owner.sso {
        return Err(refuse("sso_user", "SSO users have no API tokens"));
    }
    if !owner.enabled {
        return Err(Error::conflict(
            "owner_inactive",
            "the token's owner is disabled; enable the user first",
        ));
    }
    Ok(())
}

/// Rule 18: SSO users have no tokens section at all.
pub fn ensure_not_sso(caller: &Caller) -> Result<()> {
    if caller.user.sso {
        Err(refuse("sso_user", "SSO users have no API tokens"))
    } else {
        Ok(())
    }
}

/// Refuses with 403 unless `allowed`.
pub fn ensure(allowed: bool, what: &str) -> Result<()> {
    if allowed {
        Ok(())
    } else {
        Err(refuse(
            "forbidden",
            format!("you may not {what} this token"),
        ))
    }
}

/// Refusals of who is calling, decided where the credential is read (`auth`), written here
/// with every other refusal.
pub mod refusals {
    use super::{refuse, Error};

    /// The credential lacks the permission or scope `needed` (403 with the
    /// `insufficient_scope` challenge).
    pub fn insufficient_scope(needed: &str) -> Error {
        refuse(
            "insufficient_scope",
            format!("this request needs the `{needed}` permission"),
        )
    }

    /// A token bound to addresses (`allowed_cidrs`, rule 47) used from another one.
    pub fn ip_not_allowed() -> Error {
        refuse(
            "ip_not_allowed",
            "this token may not be used from your address",
        )
    }

    /// A node token used anywhere but the node's own endpoint.
    pub fn node_token_elsewhere() -> Error {
        refuse("forbidden", "node tokens may only call /v1/nodes/self")
    }

    /// The node endpoint called with any credential but a node token.
    pub fn node_token_needed() -> Error {
        refuse("forbidden", "this endpoint needs a node token")
    }

    /// A session's unsafe request without its CSRF token.
    pub fn csrf_failed() -> Error {
        refuse("csrf_failed", "missing or wrong X-CSRF-Token header")
    }

    /// Rule 37: the current password given to confirm a change is wrong.
    pub fn current_password_wrong() -> Error {
        refuse("current_password_wrong", "the current password is wrong")
    }

    /// Rule 18: an SSO account tried the password sign-in.
    pub fn signs_in_through_sso() -> Error {
        refuse("sso_user", "this account signs in through single sign-on")
    }

    /// Rule 18: the proxy's SSO header names no enabled SSO user.
    pub fn no_sso_user() -> Error {
        refuse("forbidden", "no enabled SSO user has this email")
    }

    /// An OpenID Connect sign-in the provider accepted but tokend does not (`message` says
    /// why: disabled, not an SSO account, not provisioned).
    pub fn sso_refused(message: impl Into<String>) -> Error {
        refuse("sso_refused", message)
    }
}

/// The console's owner picker: for administrators who can read users.
pub fn ensure_may_choose_owner(caller: &Caller) -> Result<()> {
    if caller.is_token_admin() && caller.has(Permission::UsersRead) {
        Ok(())
    } else {
        Err(refuse(
            "forbidden",
            "Only administrators who can read users choose another owner.",
        ))
    }
}
