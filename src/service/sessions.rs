//! What the authentication layer stores, each step one call inside the caller's write
//! transaction (`AppState::write_blocking`): console sessions opened and closed (and looked
//! up, and expired ones removed by the scheduler), and the audit records of sign-ins, failed
//! sign-ins, failed re-authentication and address refusals.
//! `auth` decides; these functions only store, so no write of `auth` bypasses the write path.

use serde_json::{json, Value};

use crate::db::{self, Connection, Tx};
use crate::domain::user::User;
use crate::service::audit::{record, Actor, Event};
use crate::service::error::Result;

/// The user and CSRF token of a session (cookie digest `id_digest`) that has not ended at
/// `now`; the hot path of every console request.
pub fn lookup(conn: &Connection, id_digest: &[u8], now: i64) -> Result<Option<(User, String)>> {
    Ok(db::sessions::lookup(conn, id_digest, now)?)
}

/// A new console session (cookie digest `id_digest`) for `user`, valid until `expires_at`,
/// with its `session.login` record; sessions that ended before `now` are removed on the way.
/// `how` is the sign-in method (`password`, `sso`, `oidc`, `password_changed`).
pub fn open(
    tx: &mut Tx,
    user: &User,
    id_digest: &[u8],
    csrf: &str,
    (now, expires_at): (i64, i64),
    ip: Option<String>,
    how: &str,
) -> Result<()> {
    db::sessions::delete_expired(tx, now)?;
    db::sessions::insert(tx, id_digest, user.id, csrf, now, expires_at)?;
    let via = if matches!(how, "sso" | "oidc") {
        "sso"
    } else {
        "session"
    };
    record(
        tx,
        &Actor::signing_in(Some(user.id), user.email.clone(), ip, via),
        Event {
            action: "session.login",
            company_id: Some(user.company_id),
            token_id: None,
            user_id: Some(user.id),
            details: json!({ "method": how }),
        },
        now,
    )
}

/// Ends the session whose cookie digest is `id_digest` (logout).
pub fn close(tx: &mut Tx, id_digest: &[u8]) -> Result<()> {
    Ok(db::sessions::delete(tx, id_digest)?)
}

/// A `session.login_failed` record of a sign-in by `via` (`session` or `sso`).
pub fn login_failed(
    tx: &mut Tx,
    via: &'static str,
    (email, ip): (Option<String>, Option<String>),
    user: Option<&User>,
    details: Value,
    now: i64,
) -> Result<()> {
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
}

/// A failed re-authentication of the signed-in `actor` (`user.reauth_failed`).
pub fn reauth_failed(tx: &mut Tx, actor: &Actor, user: &User, now: i64) -> Result<()> {
    record(
        tx,
        actor,
        Event {
            action: "user.reauth_failed",
            company_id: Some(user.company_id),
            token_id: None,
            user_id: Some(user.id),
            details: json!({ "email": user.email }),
        },
        now,
    )
}

/// A `token.ip_refused` record: token `token_id` of `owner` presented from `ip`, outside its
/// allowed networks.
pub fn ip_refused(tx: &mut Tx, token_id: i64, owner: &User, ip: String, now: i64) -> Result<()> {
    record(
        tx,
        &Actor {
            ip: Some(ip),
            via: "token",
            credential_id: Some(token_id),
            ..Default::default()
        },
        Event {
            action: "token.ip_refused",
            company_id: Some(owner.company_id),
            token_id: Some(token_id),
            user_id: Some(owner.id),
            details: json!({ "reason": "ip_not_allowed" }),
        },
        now,
    )
}

/// Deletes console sessions that ended before `now`.
pub fn end_expired(tx: &mut Tx, now: i64) -> Result<usize> {
    Ok(db::sessions::delete_expired(tx, now)?)
}
