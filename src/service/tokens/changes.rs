//! Enable/disable bookkeeping shared with the lifecycle cascades, delete, and bulk.

use serde_json::json;

use crate::db::tokens::TokenRow;
use crate::db::{self, Tx};
use crate::domain::caller::Caller;
use crate::domain::permissions::Permission;
use crate::domain::token::DisabledReason;
use crate::service::audit::{record, Actor, Event};
use crate::service::error::{Error, Result};
use crate::service::policy::{access, ensure, ensure_not_sso};
use crate::service::{require, Env};

use super::*;

/// Marks a row disabled with `reason` (the caller writes it).
pub fn disable_row(t: &mut TokenRow, reason: DisabledReason, now: i64) {
    t.enabled = false;
    t.disabled_reason = Some(reason.as_str().to_string());
    t.disabled_at = Some(now);
}

/// Audits an enable or disable.
pub fn record_toggle(
    conn: &Tx,
    actor: &Actor,
    t: &TokenRow,
    enabled: bool,
    now: i64,
) -> Result<()> {
    record(
        conn,
        actor,
        Event {
            action: if enabled {
                "token.enabled"
            } else {
                "token.disabled"
            },
            company_id: Some(t.company_id),
            token_id: Some(t.id),
            user_id: Some(t.owner_id),
            details: json!({ "name": t.name, "reason": t.disabled_reason }),
        },
        now,
    )?;
    if !enabled {
        let reason = t.disabled_reason.as_deref();
        crate::service::webhooks::enqueue(
            conn,
            crate::service::webhooks::disabled_event(reason),
            t,
            json!({ "reason": reason }),
            now,
        )?;
    }
    Ok(())
}

/// Deletes a token row, its filter entries and legacy credentials, with an audit row.
pub fn delete_row(tx: &mut Tx, actor: &Actor, t: &TokenRow, action: &str, now: i64) -> Result<()> {
    crate::service::legacy::end_compatibility(tx, t.id, now)?;
    db::tokens::delete(tx, t.id)?;
    record(
        tx,
        actor,
        Event {
            action,
            company_id: Some(t.company_id),
            token_id: Some(t.id),
            user_id: Some(t.owner_id),
            details: json!({ "name": t.name, "kind": t.kind.as_str(), "reason": t.disabled_reason }),
        },
        now,
    )
}

pub fn delete(tx: &mut Tx, env: &Env, caller: &Caller, id: i64) -> Result<()> {
    require(caller, Permission::TokensWrite)?;
    let t = load_visible(tx, caller, id)?;
    ensure(access(caller, &t).manage, "delete")?;
    delete_row(tx, &Actor::of(caller), &t, "token.deleted", env.now_ms())
}
/// Bulk enable/disable/delete: each id succeeds or fails on its own (a savepoint each).
pub fn bulk(
    tx: &mut Tx,
    env: &Env,
    caller: &Caller,
    input: BulkRequest,
) -> Result<Vec<BulkResult>> {
    require(caller, Permission::TokensWrite)?;
    ensure_not_sso(caller)?;
    if input.ids.is_empty() || input.ids.len() > crate::service::MAX_LIMIT {
        return Err(Error::field(
            "ids",
            format!("give between 1 and {} ids", crate::service::MAX_LIMIT),
        ));
    }
    if !matches!(input.action.as_str(), "enable" | "disable" | "delete") {
        return Err(Error::field(
            "action",
            "must be `enable`, `disable` or `delete`",
        ));
    }
    let mut results = Vec::with_capacity(input.ids.len());
    for id in input.ids {
        // A refused item leaves nothing behind (its writes and digests are rolled back).
        let outcome = tx.savepoint(|tx| match input.action.as_str() {
            "delete" => delete(tx, env, caller, id),
            action => update(
                tx,
                env,
                caller,
                id,
                UpdateToken {
                    enabled: Some(action == "enable"),
                    ..UpdateToken::default()
                },
            )
            .map(|_| ()),
        })?;
        match outcome {
            Ok(()) => {
                results.push(BulkResult {
                    id,
                    ok: true,
                    error: None,
                });
            }
            Err(Error::Internal(e)) => return Err(Error::Internal(e)),
            Err(e) => {
                results.push(BulkResult {
                    id,
                    ok: false,
                    error: Some(BulkError {
                        code: e.code().to_string(),
                        message: e.to_string(),
                    }),
                });
            }
        }
    }
    Ok(results)
}
