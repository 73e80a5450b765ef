//! Public revocation of leaked values (GitHub's credential revocation API): anyone
//! holding a value may report it. Matching tokens are disabled (`leaked`) before the answer,
//! which never tells which values existed.

use serde::Serialize;
use serde_json::json;

use super::audit::{Actor, Event};
use super::tokens::{disable_row, record_toggle};
use super::Env;
use crate::db::{self, Tx};
use crate::domain::token::DisabledReason;
use crate::domain::token_value::{TokenValue, ValueKind};
use crate::service::error::{Error, Result};

pub const MAX_VALUES: usize = 100;

#[derive(Debug)]
pub struct RevokeRequest {
    /// Up to 100 token values found leaked.
    pub values: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct RevokeAccepted {
    /// Well-formed values accepted for processing (whether or not they matched a token).
    pub accepted: usize,
}

pub fn revoke(tx: &mut Tx, env: &Env, input: &RevokeRequest, ip: &str) -> Result<RevokeAccepted> {
    if input.values.len() > MAX_VALUES {
        return Err(Error::field(
            "values",
            format!("at most {MAX_VALUES} values per call"),
        ));
    }
    let now = env.now_ms();
    let actor = Actor {
        ip: Some(ip.to_string()),
        ..Actor::system()
    };
    let mut accepted = 0;
    for raw in &input.values {
        let Ok(value) = TokenValue::parse(raw.trim()) else {
            continue;
        };
        accepted += 1;
        if value.kind() == ValueKind::Node {
            revoke_node(tx, &actor, &value, now)?;
            continue;
        }
        // Rule 30: a previous value past its grace matches nothing.
        let Some(mut t) = db::tokens::by_digest(tx, &value.digest(), now)? else {
            continue;
        };
        super::audit::record(
            tx,
            &actor,
            Event {
                action: "token.leaked",
                company_id: Some(t.company_id),
                token_id: Some(t.id),
                user_id: Some(t.owner_id),
                details: json!({ "name": t.name, "source": "revoke_api" }),
            },
            now,
        )?;
        if t.enabled {
            disable_row(&mut t, DisabledReason::Leaked, now);
            db::tokens::update(tx, &t, now)?;
            record_toggle(tx, &actor, &t, false, now)?;
        }
    }
    Ok(RevokeAccepted { accepted })
}

/// Rule 35: a leaked node token is disabled (reason `leaked`); the node stays, its token
/// answers 401 from now on.
fn revoke_node(tx: &mut Tx, actor: &Actor, value: &TokenValue, now: i64) -> Result<()> {
    let Some(node) = db::nodes::by_digest(tx, &value.digest())? else {
        return Ok(());
    };
    if node.token_disabled_reason.is_some() {
        return Ok(());
    }
    db::nodes::disable_token(tx, node.id, DisabledReason::Leaked.as_str(), now)?;
    super::audit::record(
        tx,
        actor,
        Event {
            action: "node.token_leaked",
            company_id: Some(node.company_id),
            token_id: None,
            user_id: None,
            details: json!({ "node_id": node.id, "name": node.name, "source": "revoke_api" }),
        },
        now,
    )
}
