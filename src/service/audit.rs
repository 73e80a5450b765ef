//! Writing and reading the audit log. Every change of SPEC §2 writes one row in the same
//! transaction as the change. Details never contain a token value or secret.

use serde::Serialize;
use serde_json::Value;

use crate::db;
use crate::db::audit::{AuditEvent, Filter, NewEvent};
use crate::domain::model::Caller;
use crate::domain::time::{fmt_time, from_ms};
use crate::error::ApiResult;

use super::{require, Page};
use crate::domain::permissions::Permission;

/// Who did something: a user (with the client address) or the system (jobs, CLI).
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub id: Option<i64>,
    pub email: Option<String>,
    pub ip: Option<String>,
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
        }
    }
}

/// One audit record to write.
pub struct Event<'a> {
    pub action: &'a str,
    pub company_id: Option<i64>,
    pub token_id: Option<i64>,
    pub user_id: Option<i64>,
    pub details: Value,
}

pub fn record(conn: &rusqlite::Connection, actor: &Actor, e: Event, now: i64) -> ApiResult<()> {
    db::audit::insert(
        conn,
        &NewEvent {
            company_id: e.company_id,
            actor_id: actor.id,
            actor_email: actor.email.as_deref(),
            token_id: e.token_id,
            user_id: e.user_id,
            action: e.action,
            ip: actor.ip.as_deref(),
            details: &e.details.to_string(),
            now,
        },
    )?;
    Ok(())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditView {
    pub id: i64,
    pub action: String,
    pub company_id: Option<i64>,
    pub actor_id: Option<i64>,
    pub actor_email: Option<String>,
    pub token_id: Option<i64>,
    pub user_id: Option<i64>,
    pub ip: Option<String>,
    #[schema(value_type = Object)]
    pub details: Value,
    pub created_at: String,
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
        }
    }
}

/// `GET /v1/audit`: the caller's company (every company for a global administrator).
pub fn list(
    conn: &rusqlite::Connection,
    caller: &Caller,
    mut filter: Filter,
    page: Page,
) -> ApiResult<Vec<AuditView>> {
    require(caller, Permission::AuditRead)?;
    if !caller.is_global() {
        filter.company_id = Some(caller.user.company_id);
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
