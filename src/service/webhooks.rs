//! Webhook events: written to an outbox in the same transaction as the change that
//! causes them, delivered later by the scheduler (`jobs::webhooks`). Bodies name the token and
//! its owner, never a value.

use crate::db::Connection;
use serde::Serialize;
use serde_json::{json, Value};

use super::audit::opt_time;
use super::{require, Page};
use crate::db::tokens::TokenRow;
use crate::db::webhooks::Delivery;
use crate::db::{self, Tx};
use crate::domain::caller::Caller;
use crate::domain::permissions::Permission;
use crate::domain::time::{fmt_time, from_ms};
use crate::service::error::Result;

const DAY_MS: i64 = 86_400_000;

/// Queues `event_type` about `t` when the token's company has a webhook URL.
pub fn enqueue(conn: &Tx, event_type: &str, t: &TokenRow, extra: Value, now: i64) -> Result<()> {
    let Some(_) = db::webhooks::company_target(conn, t.company_id)? else {
        return Ok(());
    };
    let event_id = uuid::Uuid::new_v4().to_string();
    let mut body = json!({
        "id": event_id,
        "type": event_type,
        "time": fmt_time(&from_ms(now)),
        "company_id": t.company_id,
        "token": {
            "id": t.id, "name": t.name, "kind": t.kind.as_str(),
            "expires_at": opt_time(t.expires_at),
            "owner": { "id": t.owner_id, "email": t.owner_email },
        },
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    db::webhooks::insert(
        conn,
        t.company_id,
        &event_id,
        event_type,
        Some(t.id),
        &body.to_string(),
        now,
    )?;
    Ok(())
}

/// Deliveries whose next attempt is due at `now`, oldest first, at most `limit`.
pub fn due(conn: &Connection, now: i64, limit: usize) -> Result<Vec<Delivery>> {
    Ok(db::webhooks::due(conn, now, limit)?)
}

/// A company's webhook URL and signing secret, when it has a URL.
pub fn target(conn: &Connection, company_id: i64) -> Result<Option<(String, Option<String>)>> {
    Ok(db::webhooks::company_target(conn, company_id)?)
}

/// Records one delivery attempt: delivered, or failed with the error to show and the time of
/// the next attempt (`None`: given up).
pub fn record_attempt(
    tx: &mut Tx,
    id: i64,
    outcome: &Result<(), String>,
    retry: Option<i64>,
    now: i64,
) -> Result<()> {
    match outcome {
        Ok(()) => db::webhooks::mark_delivered(tx, id, now)?,
        Err(e) => db::webhooks::mark_failed(tx, id, e, retry)?,
    }
    Ok(())
}

/// The event type for a token disabled with `reason`.
pub fn disabled_event(reason: Option<&str>) -> &'static str {
    match reason {
        Some("expired") => "token.expired",
        Some("leaked") => "token.leaked",
        Some("idle") => "token.idle_disabled",
        _ => "token.disabled",
    }
}

/// Job: `token.expiring` 7 days and 1 day before expiry, each once per expiry time. A token
/// already inside the 1-day window gets only that warning.
pub fn warn_expiring(conn: &Tx, now: i64) -> Result<usize> {
    let mut n = 0;
    for (warning, days) in [("1d", 1), ("7d", 7)] {
        for id in db::webhooks::expiring_unwarned(conn, now, now + days * DAY_MS, warning)? {
            let Some(t) = db::tokens::get(conn, id)? else {
                continue;
            };
            let Some(exp) = t.expires_at else { continue };
            db::webhooks::mark_warned(conn, id, warning, exp)?;
            if warning == "1d" {
                // Inside the 1-day window the 7-day warning is moot.
                db::webhooks::mark_warned(conn, id, "7d", exp)?;
            }
            enqueue(conn, "token.expiring", &t, json!({ "days": days }), now)?;
            n += 1;
        }
    }
    Ok(n)
}

/// A delivery as administrators see it.
#[derive(Debug, Serialize)]
pub struct DeliveryView {
    pub id: i64,
    pub event_id: String,
    pub event_type: String,
    pub token_id: Option<i64>,
    pub attempts: i64,
    pub delivered_at: Option<String>,
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    pub created_at: String,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        DeliveryView {
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            token_id: d.token_id,
            attempts: d.attempts,
            delivered_at: opt_time(d.delivered_at),
            next_attempt_at: opt_time(
                Some(d.next_attempt_at).filter(|t| d.delivered_at.is_none() && *t < i64::MAX),
            ),
            last_error: d.last_error,
            created_at: fmt_time(&from_ms(d.created_at)),
        }
    }
}

/// `GET /v1/webhooks/deliveries`: the caller's company (all for a global administrator).
pub fn deliveries(conn: &Connection, caller: &Caller, page: Page) -> Result<Vec<DeliveryView>> {
    require(caller, Permission::SettingsRead)?;
    let scope = caller.company_scope();
    Ok(db::webhooks::list(conn, scope, page.before, page.limit)?
        .into_iter()
        .map(DeliveryView::from)
        .collect())
}

/// `token.quota_low`: the token's remaining quota first fell below 10 % in the period
/// starting `window` (once per period and quota setting).
pub fn quota_low(tx: &mut Tx, id: i64, window: i64, remaining: i64, now: i64) -> Result<bool> {
    let Some(t) = db::tokens::get(tx, id)? else {
        return Ok(false);
    };
    let Some(q) = t.limits.quota else {
        return Ok(false);
    };
    if !db::tokens::limits::mark_quota_low(tx, id, window)? {
        return Ok(false);
    }
    let extra = json!({ "quota": q, "quota_remaining": remaining });
    enqueue(tx, "token.quota_low", &t, extra, now)?;
    Ok(true)
}

/// `token.rate_limited`: the token was refused for its rate limit; at most one an hour per
/// token (across replicas: the outbox is asked under the write lock).
pub fn rate_limited(tx: &mut Tx, id: i64, now: i64) -> Result<bool> {
    if db::webhooks::queued_since(tx, id, "token.rate_limited", now - 3_600_000)? {
        return Ok(false);
    }
    let Some(t) = db::tokens::get(tx, id)? else {
        return Ok(false);
    };
    let extra = json!({ "rate_limit": t.limits.rate });
    enqueue(tx, "token.rate_limited", &t, extra, now)?;
    Ok(true)
}
