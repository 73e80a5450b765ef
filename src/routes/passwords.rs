//! Password work the JSON API and the console both do around a service call, on the blocking
//! pool holding a hashing slot (rule 40): hashing, verifying, password sign-in,
//! re-authentication and the steps before a user change.

use actix_web::web;
use anyhow::anyhow;

use crate::auth::session::{self, NewSession};
use crate::domain::caller::Caller;
use crate::domain::secret::Secret;
use crate::error::{ApiError, ApiResult};
use crate::service::users::{self as users, Reauthenticated, UpdateUser};
use crate::state::{AppState, Shared};

/// Hashes a password on the blocking pool (argon2 is slow by design), counted in
/// `password_hashes_total`. Rule 40: it first takes a hashing slot (at most 1 s, else 503
/// `busy`), before the work goes to the blocking pool.
pub async fn hash_password(state: &AppState, pw: Option<Secret>) -> ApiResult<Option<String>> {
    let Some(p) = pw else {
        return Ok(None);
    };
    let mut slot = state.hashing.acquire().await?;
    state.metrics.password_hashes.inc();
    web::block(move || slot.hash(p.expose()))
        .await
        .map_err(|e| ApiError::Internal(anyhow!("{e}")))?
        .map(Some)
        .map_err(ApiError::Internal)
}

/// A password login, API and console alike: the checks and limits on the blocking pool, then
/// a hashing slot (rule 40: at most 1 s, else 503 `busy` and the attempt is not counted), then
/// the comparison and the session on the blocking pool.
pub async fn password_login(
    state: &Shared,
    email: String,
    pw: Secret,
    ip: String,
) -> ApiResult<NewSession> {
    let check = pw.clone();
    let attempt = state
        .blocking(move |st| session::login_begin(st, &email, check.expose(), Some(ip)))
        .await?;
    let slot = match state.hashing.acquire().await {
        Ok(slot) => slot,
        Err(busy) => {
            state
                .blocking(move |st| session::login_abandon(st, attempt))
                .await?;
            return Err(busy);
        }
    };
    state
        .blocking(move |st| session::login_finish(st, attempt, pw.expose(), slot))
        .await
}

/// Rule 37: verifies the caller's current password on the blocking pool (counted by the
/// login throttle of its account), holding a hashing slot like a login (rule 40).
pub async fn reauthenticate(
    state: &Shared,
    caller: &Caller,
    current: Secret,
) -> ApiResult<Reauthenticated> {
    let caller = caller.clone();
    let slot = state.hashing.acquire().await?;
    state
        .blocking(move |st| crate::auth::reauth::verify(st, &caller, &current, slot))
        .await
}

/// The work before a user change's transaction, in its order: the cheap checks and bounds
/// (rules 25, 28, and whether rule 37 needs the current password), then the current password
/// verified, then the new password hashed. Returns the hash for `users::update`. The API and
/// the console both call it, so neither can skip a step.
pub async fn prepare_user_change(
    state: &Shared,
    caller: &Caller,
    id: i64,
    input: &UpdateUser,
) -> ApiResult<Option<String>> {
    let valid = users::validate_update(caller, id, input)?;
    if let Some(current) = valid.current_password {
        reauthenticate(state, caller, current).await?;
    }
    hash_password(state, valid.password).await
}
