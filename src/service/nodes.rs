//! Filtering nodes and their node tokens (rule 22). A node token (`tkn_`) authenticates only
//! the node's own endpoints; deleting the node deletes its token.

use crate::db::Connection;
use serde::Serialize;
use serde_json::json;

use super::audit::{opt_time, record, Actor, Event};
use super::{require, Env, Page};
use crate::db::nodes::NodeRow;
use crate::db::{self, Tx};
use crate::domain::caller::Caller;
use crate::domain::names::parse_person_name;
use crate::domain::permissions::Permission;
use crate::domain::time::{fmt_time, from_ms};
use crate::domain::token_value::{TokenValue, ValueKind};
use crate::service::error::{Error, Result};

#[derive(Debug, Clone, Serialize)]
pub struct NodeView {
    pub id: i64,
    pub company_id: i64,
    pub name: String,
    pub created_at: String,
    pub last_seen_at: Option<String>,
    pub last_seen_ip: Option<String>,
    pub version: Option<String>,
    pub token_hint: String,
    /// `leaked` once the node token was revoked (rule 35); absent while it works.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_disabled_reason: Option<String>,
}

impl From<&NodeRow> for NodeView {
    fn from(n: &NodeRow) -> Self {
        NodeView {
            id: n.id,
            company_id: n.company_id,
            name: n.name.clone(),
            created_at: fmt_time(&from_ms(n.created_at)),
            last_seen_at: opt_time(n.last_seen_at),
            last_seen_ip: n.last_seen_ip.clone(),
            version: n.version.clone(),
            token_hint: n.token_hint.clone(),
            token_disabled_reason: n.token_disabled_reason.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeToken {
    pub id: i64,
    pub kind: String,
    pub value: crate::domain::secret::Secret,
    pub value_hint: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeCreated {
    pub node: NodeView,
    pub token: NodeToken,
}

#[derive(Debug, Clone)]
pub struct CreateNode {
    pub name: String,
}

#[derive(Debug, Clone, Default)]
pub struct Heartbeat {
    pub version: Option<String>,
}

pub fn create(tx: &mut Tx, env: &Env, caller: &Caller, input: CreateNode) -> Result<NodeCreated> {
    require(caller, Permission::NodesWrite)?;
    // Rule 39: a node token's power is its own node (`/v1/nodes/self…` only), so `nodes:write`
    // is all it takes — the Deploy template's purpose. Rule 23 does not apply: the node token
    // does not act as the caller's user.
    let name = parse_person_name(&input.name).map_err(|m| Error::field("name", m))?;
    let value = TokenValue::generate(ValueKind::Node);
    let digest = value.digest();
    let now = env.now_ms();
    let id = db::nodes::insert(
        tx,
        caller.user.company_id,
        &name,
        &digest,
        &value.hint(),
        caller.user.id,
        now,
    )?;
    record(
        tx,
        &Actor::of(caller),
        Event {
            action: "node.created",
            company_id: Some(caller.user.company_id),
            token_id: None,
            user_id: None,
            details: json!({ "node_id": id, "name": name }),
        },
        now,
    )?;
    let node = db::nodes::get(tx, id)?.ok_or(Error::NotFound)?;
    Ok(NodeCreated {
        token: NodeToken {
            id: node.id,
            kind: "node".into(),
            value: crate::domain::secret::Secret::new(value.expose()),
            value_hint: value.hint(),
            created_at: fmt_time(&from_ms(now)),
        },
        node: NodeView::from(&node),
    })
}

pub fn list(
    conn: &Connection,
    env: &Env,
    caller: &Caller,
    page: Page,
) -> Result<(Vec<NodeView>, Option<String>)> {
    require(caller, Permission::NodesRead)?;
    let scope = caller.company_scope();
    let rows = db::nodes::list(conn, scope, page.before, page.limit)?;
    let next = page.next_cursor(&env.keys, rows.last().map(|n| n.id), rows.len());
    Ok((rows.iter().map(NodeView::from).collect(), next))
}

pub fn delete(tx: &mut Tx, env: &Env, caller: &Caller, id: i64) -> Result<()> {
    require(caller, Permission::NodesWrite)?;
    let node = db::nodes::get(tx, id)?
        .filter(|n| caller.changes_company(n.company_id))
        .ok_or(Error::NotFound)?;
    db::nodes::delete(tx, id)?;
    record(
        tx,
        &Actor::of(caller),
        Event {
            action: "node.deleted",
            company_id: Some(node.company_id),
            token_id: None,
            user_id: None,
            details: json!({ "node_id": id, "name": node.name }),
        },
        env.now_ms(),
    )
}

pub fn heartbeat(
    tx: &mut Tx,
    env: &Env,
    node: &NodeRow,
    ip: &str,
    input: Heartbeat,
) -> Result<NodeView> {
    if let Some(v) = &input.version {
        if v.is_empty() || v.len() > 64 || v.chars().any(char::is_control) {
            return Err(Error::field(
                "version",
                "must be 1 to 64 printable characters",
            ));
        }
    }
    db::nodes::heartbeat(tx, node.id, env.now_ms(), ip, input.version.as_deref())?;
    let n = db::nodes::get(tx, node.id)?.ok_or(Error::NotFound)?;
    Ok(NodeView::from(&n))
}
