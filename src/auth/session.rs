//! Console sessions: password login (argon2id, equal cost for unknown emails, throttled),
//! SSO sign-in through a trusted authenticating proxy, logout.
//!
//! These functions block (argon2, SQLite): call them on the blocking pool.

use std::sync::Arc;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::auth::password;
use crate::auth::throttle::Limit;
use crate::crypto::random_token;
use crate::db;
use crate::domain::model::User;
use crate::domain::names::{check_password, Email, MAX_EMAIL};
use crate::error::{ApiError, ApiResult};
use crate::service::audit::{record, Actor, Event};
use crate::state::AppState;

/// A new session: the cookie value (shown to the browser only) and its CSRF token.
pub struct NewSession {
    pub cookie: String,
    pub csrf: String,
    pub user: User,
}

pub fn digest(cookie: &str) -> [u8; 32] {
    Sha256::digest(cookie.as_bytes()).into()
}

/// The user and CSRF token of a live session cookie; `None` when the session is unknown,
/// expired, or its user disabled.
pub async fn find(state: &Arc<AppState>, cookie: &str) -> ApiResult<Option<(User, String)>> {
    let digest = digest(cookie);
    let now = state.now_ms();
    let found = state
        .read(move |c| Ok(db::sessions::lookup(c, &digest, now)?))
        .await?;
    Ok(found.filter(|(u, _)| u.enabled))
}

pub(crate) fn open_session(
    state: &AppState,
    user: User,
    ip: Option<String>,
    how: &str,
) -> ApiResult<NewSession> {
    let cookie = random_token::<32>();
    let csrf = random_token::<32>();
    let now = state.now_ms();
    let ttl = state.config.session_ttl.as_millis() as i64;
    state.write_blocking(|tx| {
        tx.effects.touches_auth = false;
        db::sessions::delete_expired(tx, now)?;
        db::sessions::insert(tx, &digest(&cookie), user.id, &csrf, now, now + ttl)?;
        record(
            tx,
            &Actor::signing_in(
                Some(user.id),
                user.email.clone(),
                ip,
                if matches!(how, "sso" | "oidc") {
                    "sso"
                } else {
                    "session"
                },
            ),
            Event {
                action: "session.login",
                company_id: Some(user.company_id),
                token_id: None,
                user_id: Some(user.id),
                details: json!({ "method": how }),
            },
            now,
        )
    })?;
    Ok(NewSession { cookie, csrf, user })
}

/// A fresh session for a user who has just changed its own password (every session of the
/// user ended with the change): the console stays signed in on a new cookie and CSRF token,
/// audited as a `session.login` by `password_changed`.
pub fn reissue(state: &AppState, user: User, ip: Option<String>) -> ApiResult<NewSession> {
    open_session(state, user, ip, "password_changed")
}

/// Password login. Every failure answers 401 `invalid_credentials` after the same argon2 work;
/// SSO users answer 403 `sso_user`; a throttled account answers 429.
///
/// Rule 28: an email or password out of bounds answers 401 at once — no argon2 run, no
/// throttle entry, and the oversized text is kept nowhere (the audit record omits it).
/// Rule 29: an attempt is counted before its password is checked, so a burst of concurrent
/// attempts cannot all pass the throttle while the first ones are still hashing.
pub fn login(state: &AppState, email: &str, pw: &str, ip: Option<String>) -> ApiResult<NewSession> {
    let now = state.now_ms();
    let email = email.trim();
    if email.len() > MAX_EMAIL || check_password(pw).is_err() {
        let shown = (email.len() <= MAX_EMAIL).then(|| email.to_lowercase());
        return Err(login_failed(state, shown, None, ip, now));
    }
    // An address that cannot exist names no user: refused at once, like an oversized one.
    let Ok(email) = Email::parse(email) else {
        return Err(login_failed(state, Some(email.to_string()), None, ip, now));
    };
    state.limit_hit(Limit::Login, email.as_str(), now)?;
    let found = state.read_blocking(|c| Ok(db::users::credentials(c, &email)?))?;
    let hash = found
        .as_ref()
        .and_then(|(_, h)| h.clone())
        .unwrap_or_else(|| state.dummy_hash.clone());
    state.metrics.password_hashes.inc();
    let matches = password::verify(pw, &hash);
    match found {
        Some((user, _)) if user.sso => Err(ApiError::forbidden(
            "sso_user",
            "this account signs in through single sign-on",
        )),
        Some((user, Some(_))) if matches && user.enabled => {
            state.limit_clear(Limit::Login, email.as_str())?;
            open_session(state, user, ip, "password")
        }
        found => Err(login_failed(
            state,
            Some(email.as_str().to_string()),
            found.map(|(u, _)| u),
            ip,
            now,
        )),
    }
}

/// Audits a failed login (`email` only when it is within bounds) and returns its 401.
fn login_failed(
    state: &AppState,
    email: Option<String>,
    user: Option<User>,
    ip: Option<String>,
    now: i64,
) -> ApiError {
    let details = json!({ "email": email });
    match audit_failure(state, "session", email, user.as_ref(), ip, details, now) {
        Ok(()) => ApiError::InvalidCredentials,
        Err(e) => e,
    }
}

/// Writes the `session.login_failed` record of a sign-in by `via` (`session` or `sso`);
/// `details` says why. Shared by password, proxy and OpenID Connect sign-in.
pub(crate) fn audit_failure(
    state: &AppState,
    via: &'static str,
    email: Option<String>,
    user: Option<&User>,
    ip: Option<String>,
    details: serde_json::Value,
    now: i64,
) -> ApiResult<()> {
    state.write_blocking(|tx| {
        tx.effects.touches_auth = false;
        record(
            tx,
            &Actor {
                email,
                ip,
                via,
                ..Actor::default()
            },
            Event {
                action: "session.login_failed",
                company_id: user.map(|u| u.company_id),
                token_id: None,
                user_id: user.map(|u| u.id),
                details,
            },
            now,
        )
    })
}

/// SSO sign-in for a request the proxy authenticated (rule 18). Only enabled SSO users.
pub fn sso_login(state: &AppState, email: &str, ip: Option<String>) -> ApiResult<NewSession> {
    let user = match Email::parse(email) {
        Ok(e) => state.read_blocking(|c| Ok(db::users::by_email(c, &e)?))?,
        Err(_) => None,
    };
    match user {
        Some(u) if u.sso && u.enabled => open_session(state, u, ip, "sso"),
        _ => Err(ApiError::forbidden(
            "forbidden",
            "no enabled SSO user has this email",
        )),
    }
}

pub fn logout(state: &AppState, cookie: &str) -> ApiResult<()> {
    state.write_blocking(|tx| {
        tx.effects.touches_auth = false;
        Ok(db::sessions::delete(tx, &digest(cookie))?)
    })
}
