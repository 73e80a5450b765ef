//! Writing and reading the audit log. Every change of docs/RULES.md writes one row in the same
//! transaction as the change. Details never contain a token value or secret.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use crate::db;
use crate::db::audit::{AuditEvent, NewEvent};
use crate::db::Connection;
use crate::domain::caller::Caller;
use crate::domain::listing::AuditFilter;
use crate::domain::time::{fmt_time, from_ms};
use crate::service::error::{Error, Result};
use crate::service::Env;

use super::{require, Page};
use crate::domain::permissions::Permission;

/// Who did something, and with which credential (rule 27): a user (with the client address)
/// or the system (jobs, bootstrap, CLI imports).
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: Option<i64>,
    pub email: Option<String>,
    pub ip: Option<String>,
    /// `session`, `token`, `legacy`, `sso`, `node`, `cli` or `system`.
    pub via: &'static str,
    /// The token id when `via` is `token` or `legacy`.
    pub credential_id: Option<i64>,
    /// The creator of a delegated token: who made the credential for its owner.
    pub on_behalf_of: Option<i64>,
}

impl Default for Actor {
    fn default() -> Actor {
        Actor {
            id: None,
            email: None,
            ip: None,
            via: "system",
            credential_id: None,
            on_behalf_of: None,
        }
    }
}

impl Actor {
    pub fn system() -> Actor {
        Actor::default()
    }

    pub fn of(caller: &Caller) -> Actor {
        Actor {
            id: Some(caller.user.id),
            email: Some(caller.user.email.clone()),
            ip: caller.ip.clone(),
            via: caller.method.as_str(),
            credential_id: caller.token_id,
            on_behalf_of: caller.delegated_by,
        }
    }

    /// A person signing in (or failing to) by `via` (`session` or `sso`).
    pub fn signing_in(
        id: Option<i64>,
        email: String,
        ip: Option<String>,
        via: &'static str,
    ) -> Actor {
        Actor {
            id,
            email: Some(email),
            ip,
            via,
            ..Actor::default()
        }
    }
}

/// At most `max` bytes of `text`, cut on a character boundary: what the audit log keeps of
/// text a visitor without a valid credential supplied (rule 41).
pub fn clip(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Visitor-supplied text kept per anonymous audit record at most (rule 41).
pub const ANONYMOUS_TEXT_MAX: usize = 512;

/// One audit record to write.
pub struct Event<'a> {
    pub action: &'a str,
    pub company_id: Option<i64>,
    pub token_id: Option<i64>,
    pub user_id: Option<i64>,
    pub details: Value,
}

pub fn record(conn: &crate::db::Tx, actor: &Actor, e: Event, now: i64) -> Result<()> {
    db::audit::insert(
        conn,
        &NewEvent {
            company_id: e.company_id,
            actor_id: actor.id,
            // Rule 44: a text with a control character (an unparseable sign-in email) is
            // never stored; PostgreSQL would refuse NUL outright.
            actor_email: actor
                .email
                .as_deref()
                .filter(|e| crate::domain::names::plain_text(e).is_ok()),
            token_id: e.token_id,
            user_id: e.user_id,
            action: e.action,
            ip: actor.ip.as_deref(),
            details: &e.details.to_string(),
            now,
            via: actor.via,
            credential_id: actor.credential_id,
            on_behalf_of: actor.on_behalf_of,
        },
    )?;
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct AuditView {
    pub id: i64,
    pub action: String,
    pub company_id: Option<i64>,
    pub actor_id: Option<i64>,
    pub actor_email: Option<String>,
    pub token_id: Option<i64>,
    pub user_id: Option<i64>,
    pub ip: Option<String>,
    pub details: Value,
    pub created_at: String,
    /// The credential kind behind the event (rule 27).
    pub via: String,
    pub credential_id: Option<i64>,
    pub on_behalf_of: Option<i64>,
}

impl From<AuditEvent> for AuditView {
    fn from(e: AuditEvent) -> Self {
        AuditView {
            id: e.id,
            action: e.action,
            company_id: e.company_id,
            actor_id: e.actor_id,
            actor_email: e.actor_email,
            token_id: e.token_id,
            user_id: e.user_id,
            ip: e.ip,
            details: serde_json::from_str(&e.details).unwrap_or(Value::Null),
            created_at: fmt_time(&from_ms(e.created_at)),
            via: e.via,
            credential_id: e.credential_id,
            on_behalf_of: e.on_behalf_of,
        }
    }
}

/// `GET /v1/audit`: the caller's company (every company for a global administrator).
pub fn list(
    conn: &crate::db::Connection,
    caller: &Caller,
    mut filter: AuditFilter,
    page: Page,
) -> Result<Vec<AuditView>> {
    require(caller, Permission::AuditRead)?;
    if let Some(own) = caller.company_scope() {
        filter.company_id = Some(own);
    }
    Ok(db::audit::list(conn, &filter, page.before, page.limit)?
        .into_iter()
        .map(AuditView::from)
        .collect())
}

/// Helper for views: an optional time in ms as RFC 3339.
pub fn opt_time(ms: Option<i64>) -> Option<String> {
    ms.map(|t| fmt_time(&from_ms(t)))
}

#[cfg(test)]
mod clip_tests {
    use super::clip;

    #[test]
    fn rule_41_clip_cuts_on_a_character_boundary() {
        assert_eq!(clip("abc", 128), "abc");
        assert_eq!(clip(&"a".repeat(200), 128).len(), 128);
        // 'é' is two bytes: 127 'a' + 'é' would straddle byte 128.
        let text = format!("{}é", "a".repeat(127));
        assert_eq!(clip(&text, 128), "a".repeat(127));
    }
}

/// The names an event's ids stand for, looked up among what the caller may see.
#[derive(Default)]
pub struct Names {
    pub tokens: HashMap<i64, Option<String>>,
    pub users: HashMap<i64, Option<String>>,
}

/// Looks up the token and user names the events do not carry in their details.
pub fn names(conn: &Connection, env: &Env, caller: &Caller, events: &[AuditView]) -> Result<Names> {
    let mut n = Names::default();
    for e in events {
        if let Some(id) = e
            .token_id
            .filter(|_| detail_str(&e.details, "name").is_none())
        {
            if let std::collections::hash_map::Entry::Vacant(slot) = n.tokens.entry(id) {
                slot.insert(match super::tokens::get(conn, env, caller, id) {
                    Ok(t) => Some(t.name),
                    Err(Error::Internal(x)) => return Err(Error::Internal(x)),
                    Err(_) => None,
                });
            }
        }
        let subject = e
            .user_id
            .filter(|_| detail_str(&e.details, "email").is_none());
        let owner = e.details.get("owner_id").and_then(Value::as_i64);
        for id in [subject, owner].into_iter().flatten() {
            if let std::collections::hash_map::Entry::Vacant(slot) = n.users.entry(id) {
                slot.insert(match super::users::get(conn, caller, id) {
                    Ok(u) => Some(u.email),
                    Err(Error::Internal(x)) => return Err(Error::Internal(x)),
                    Err(_) => None,
                });
            }
        }
    }
    Ok(n)
}

/// A non-empty text field of an event's details.
pub fn detail_str(details: &Value, key: &str) -> Option<String> {
    details
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}
