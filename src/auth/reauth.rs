//! Re-authentication (rule 37): a caller proves it knows its own current password before
//! changing its own password or email. Verified like a login — argon2 on the blocking pool,
//! each attempt counted first in the login throttle of the account (rule 29), so wrong
//! guesses through a token or a session lock out password guessing like failed logins do.
//!
//! `verify` blocks and compares with a hashing slot taken beforehand (rule 40): call it on the
//! blocking pool (`routes::passwords::reauthenticate`).

use crate::domain::caller::Caller;
use crate::domain::names::check_password;
use crate::domain::secret::Secret;
use crate::error::ApiResult;
use crate::service::audit::Actor;
use crate::service::users::{self, Reauthenticated};
use crate::state::slots::HashSlot;
use crate::state::throttle::Limit;
use crate::state::AppState;

/// Checks `pw` against the caller's stored password. Wrong → 403 `current_password_wrong`
/// (audited as `user.reauth_failed`); the account's throttle full → 429. A password out of
/// bounds (rule 28) is wrong without being hashed.
pub fn verify(
    state: &AppState,
    caller: &Caller,
    pw: &Secret,
    mut slot: HashSlot,
) -> ApiResult<Reauthenticated> {
    let now = state.now_ms();
    let key = caller.user.email.as_str();
    state.limit_hit(Limit::Login, key, now)?;
    let id = caller.user.id;
    let hash = state.read_blocking(|c| users::password_hash(c, id))?;
    let matches = match hash {
        Some(h) if check_password(pw.expose()).is_ok() => {
            state.metrics.password_hashes.inc();
            slot.verify(pw.expose(), &h)
        }
        _ => false,
    };
    if matches {
        state.limit_clear(Limit::Login, key)?;
        return Ok(Reauthenticated::confirmed(id));
    }
    state.write_blocking(|tx| {
        crate::service::sessions::reauth_failed(tx, &Actor::of(caller), &caller.user, now)
    })?;
    Err(crate::service::policy::refusals::current_password_wrong().into())
}
