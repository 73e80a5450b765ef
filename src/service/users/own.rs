//! One's own secrets (rule 37): changing one's own password or email needs one's current
//! password. The check of its presence is here (no I/O); verifying it (argon2 on the blocking
//! pool, counted by the login throttle) is `auth::reauth`, before the change's transaction.
//! Also the profile page's own-password change, open to every signed-in password user.

use std::collections::BTreeMap;

use serde_json::json;

use super::UpdateUser;
use crate::db::{self, Tx};
use crate::domain::caller::Caller;
use crate::domain::secret::Secret;
use crate::service::audit::{record, Actor, Event};
use crate::service::error::{Error, Result};
use crate::service::policy::ensure_not_delegated;
use crate::service::Env;

/// A user change that passed its checks before any slow work (rule 28): what to verify and
/// what to hash, in that order, outside the transaction.
#[derive(Debug, Default)]
pub struct ValidUpdate {
    /// The caller's current password, to verify first (rule 37); `None` when not needed.
    pub current_password: Option<Secret>,
    /// The new password, to hash once the current one is verified.
    pub password: Option<Secret>,
}

/// Proof that the caller has just re-entered its current password (rule 37). Only
/// `auth::reauth::verify` makes one.
#[derive(Debug)]
pub struct Reauthenticated {
    user_id: i64,
}

impl Reauthenticated {
    pub(crate) fn confirmed(user_id: i64) -> Reauthenticated {
        Reauthenticated { user_id }
    }
}

/// Rule 37: the current password a change of user `id` needs — `Some` when the caller changes
/// its own password or email (and sent it), `None` when the change needs none (a
/// `current_password` sent anyway is then ignored). Missing → 422
/// `current_password_required`; an account without a password (SSO, or never given one)
/// cannot re-authenticate, so it cannot change its own password or email this way.
pub fn current_password_needed(
    caller: &Caller,
    id: i64,
    input: &UpdateUser,
) -> Result<Option<Secret>> {
    let own_secrets = id == caller.user.id && (input.password.is_some() || input.email.is_some());
    if !own_secrets {
        return Ok(None);
    }
    crate::service::policy::ensure_has_password_to_confirm(&caller.user)?;
    match &input.current_password {
        Some(p) if !p.is_empty() => Ok(Some(p.clone())),
        _ => Err(Error::Invalid {
            code: "current_password_required",
            message: "changing your own password or email needs your current password".into(),
            fields: BTreeMap::from([(
                "current_password".to_string(),
                "enter your current password".to_string(),
            )]),
        }),
    }
}

/// Sets the caller's own password (the profile page), after `proof` that it re-entered the
/// current one. Every session of the user ends (the page then opens a fresh one).
pub fn change_own_password(
    tx: &mut Tx,
    env: &Env,
    caller: &Caller,
    proof: &Reauthenticated,
    password_hash: &str,
) -> Result<()> {
    ensure_not_delegated(caller, "change a password")?;
    crate::service::policy::ensure_confirmed_by(caller, proof.user_id)?;
    let u = db::users::get(tx, caller.user.id)?.ok_or(Error::NotFound)?;
    crate::service::policy::ensure_has_no_sso(&u)?;
    let now = env.now_ms();
    db::users::set_password(tx, u.id, Some(password_hash))?;
    let ended = db::sessions::delete_for_user(tx, u.id)?;
    record(
        tx,
        &Actor::of(caller),
        Event {
            action: "user.updated",
            company_id: Some(u.company_id),
            token_id: None,
            user_id: Some(u.id),
            details: json!({
                "email": u.email, "password_changed": true, "sessions_ended": ended,
            }),
        },
        now,
    )
}
