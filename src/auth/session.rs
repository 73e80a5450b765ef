//! Console sessions: password login (argon2id, equal cost for unknown emails, throttled),
//! SSO sign-in through a trusted authenticating proxy, logout.
//!
//! These functions block (argon2, SQLite): call them on the blocking pool. A password login
//! is two steps with a hashing slot taken between them (`routes::passwords::password_login`).

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::crypto::random_token;
use crate::domain::names::{check_password, Email, MAX_EMAIL};
use crate::domain::time::{fmt_time, from_ms};
use crate::domain::user::User;
use crate::error::{ApiError, ApiResult};
use crate::service::{sessions, users};
use crate::state::slots::HashSlot;
use crate::state::throttle::{address_key, Limit};
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
        .read(move |c| sessions::lookup(c, &digest, now))
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
        sessions::open(
            tx,
            &user,
            &digest(&cookie),
            &csrf,
            (now, now + ttl),
            ip,
            how,
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

/// A password login whose checks have passed and whose password is yet to be compared: the
/// caller takes a hashing slot between [`login_begin`] and [`login_finish`] (rule 40), so a
/// login never waits for a slot on the blocking pool.
pub struct LoginAttempt {
    email: Email,
    found: Option<(User, Option<String>)>,
    ip: Option<String>,
    /// The key the attempt was counted under in the per-address limit.
    address: Option<String>,
    now: i64,
}

/// Password login, first step (blocking): the limits and the stored hash. Every failure
/// answers 401 `invalid_credentials`; a throttled account or address answers 429.
///
/// Rule 28: an email or password out of bounds answers 401 at once — no argon2 run, no
/// account throttle entry, and the oversized text is kept nowhere. Rule 41/44: an email that
/// does not parse is never stored either (the audit record says `email_invalid`).
/// Rule 29/40: an attempt is counted — per account and per client address — before its
/// password is checked, so a burst of concurrent attempts cannot all pass the limits while
/// the first ones are still hashing; a successful one is taken back from the address count.
pub fn login_begin(
    state: &AppState,
    email: &str,
    pw: &str,
    ip: Option<String>,
) -> ApiResult<LoginAttempt> {
    let now = state.now_ms();
    let address = ip
        .as_deref()
        .and_then(|i| i.parse::<IpAddr>().ok())
        .map(|i| address_key(i).to_string());
    if let Some(a) = &address {
        state.limit_hit(Limit::LoginAddress, a, now)?;
    }
    let email = email.trim();
    let parsed = (email.len() <= MAX_EMAIL)
        .then(|| Email::parse(email).ok())
        .flatten();
    // An address that cannot exist names no user: refused at once, like an oversized one.
    let email = match parsed {
        Some(e) if check_password(pw).is_ok() => e,
        other => {
            let shown = other.map(|e| e.as_str().to_string());
            return Err(login_failed(state, shown, None, ip, now));
        }
    };
    state.limit_hit(Limit::Login, email.as_str(), now)?;
    let found = state.read_blocking(|c| users::credentials(c, &email))?;
    Ok(LoginAttempt {
        email,
        found,
        ip,
        address,
        now,
    })
}

/// Password login, last step (blocking, holding `slot`): compares the password — against a
/// dummy hash for an unknown email, so the answer costs the same — and opens the session.
/// SSO users answer 403 `sso_user`.
pub fn login_finish(
    state: &AppState,
    a: LoginAttempt,
    pw: &str,
    mut slot: HashSlot,
) -> ApiResult<NewSession> {
    let hash = a
        .found
        .as_ref()
        .and_then(|(_, h)| h.clone())
        .unwrap_or_else(|| state.dummy_hash.clone());
    state.metrics.password_hashes.inc();
    let matches = slot.verify(pw, &hash);
    drop(slot);
    match a.found {
        Some((user, _)) if user.sso => {
            Err(crate::service::policy::refusals::signs_in_through_sso().into())
        }
        Some((user, Some(_))) if matches && user.enabled => {
            state.limit_clear(Limit::Login, a.email.as_str())?;
            if let Some(address) = &a.address {
                state.limit_release(Limit::LoginAddress, address, a.now)?;
            }
            open_session(state, user, a.ip, "password")
        }
        found => Err(login_failed(
            state,
            Some(a.email.as_str().to_string()),
            found.map(|(u, _)| u),
            a.ip,
            a.now,
        )),
    }
}

/// A login that got no hashing slot (503 `busy`) was never tried: its counts are taken back.
pub fn login_abandon(state: &AppState, a: LoginAttempt) -> ApiResult<()> {
    state.limit_release(Limit::Login, a.email.as_str(), a.now)?;
    if let Some(address) = &a.address {
        state.limit_release(Limit::LoginAddress, address, a.now)?;
    }
    Ok(())
}

/// Audits a failed login and returns its 401. `email` is the parsed address, or `None` when
/// what was sent does not parse (then only the marker `email_invalid` is stored).
fn login_failed(
    state: &AppState,
    email: Option<String>,
    user: Option<User>,
    ip: Option<String>,
    now: i64,
) -> ApiError {
    let details = match &email {
        Some(e) => json!({ "email": e }),
        None => json!({ "email": null, "email_invalid": true }),
    };
    match audit_failure(state, "session", email, user.as_ref(), ip, details, now) {
        Ok(()) => ApiError::InvalidCredentials,
        Err(e) => e,
    }
}

/// Writes the `session.login_failed` record of a sign-in by `via` (`session` or `sso`);
/// `details` says why. Shared by password, proxy and OpenID Connect sign-in.
///
/// Rule 41: of one client address's failures in one UTC minute, the first ten
/// (`throttle::SIGN_IN_FAILURES_AUDITED`) are written one by one; the rest are only counted,
/// and the last-use flush writes their number as one aggregate event once the minute has
/// ended ([`write_failure_aggregates`]).
pub(crate) fn audit_failure(
    state: &AppState,
    via: &'static str,
    email: Option<String>,
    user: Option<&User>,
    ip: Option<String>,
    details: serde_json::Value,
    now: i64,
) -> ApiResult<()> {
    let address = ip.as_deref().and_then(|i| i.parse::<IpAddr>().ok());
    if address.is_some_and(|a| !state.sign_in_failures.note(a, now)) {
        return Ok(());
    }
    Ok(state
        .write_blocking(|tx| sessions::login_failed(tx, via, (email, ip), user, details, now))?)
}

/// Writes the aggregate `session.login_failed` events of the minutes that have ended — or, at
/// shutdown (`all`), of every minute (rule 41): one per address and minute, with
/// `aggregated: true` and the number of failures that were not written one by one. Returns
/// how many events it wrote.
pub fn write_failure_aggregates(state: &AppState, all: bool) -> crate::service::Result<usize> {
    let now = state.now_ms();
    let due = state
        .sign_in_failures
        .drain(if all { i64::MAX } else { now });
    if due.is_empty() {
        return Ok(0);
    }
    let written = state.write_blocking(|tx| {
        for a in &due {
            let from = a.minute * 60_000;
            let details = json!({
                "aggregated": true,
                "count": a.count,
                "address": a.address.to_string(),
                "from": fmt_time(&from_ms(from)),
                "until": fmt_time(&from_ms(from + 60_000)),
            });
            let ip = Some(a.address.to_string());
            sessions::login_failed(tx, "session", (None, ip), None, details, now)?;
        }
        Ok(due.len())
    });
    if written.is_err() {
        state.sign_in_failures.restore(due);
    }
    written
}

/// SSO sign-in for a request the proxy authenticated (rule 18). Only enabled SSO users.
pub fn sso_login(state: &AppState, email: &str, ip: Option<String>) -> ApiResult<NewSession> {
    let user = match Email::parse(email) {
        Ok(e) => state.read_blocking(|c| users::by_email(c, &e))?,
        Err(_) => None,
    };
    match user {
        Some(u) if u.sso && u.enabled => open_session(state, u, ip, "sso"),
        _ => Err(crate::service::policy::refusals::no_sso_user().into()),
    }
}

pub fn logout(state: &AppState, cookie: &str) -> ApiResult<()> {
    Ok(state.write_blocking(|tx| sessions::close(tx, &digest(cookie)))?)
}
