//! The Nodes page: filtering nodes with their last report (time, address, version), creating
//! one (its node token shown once, like an API token's value), and deleting one after a
//! confirmation. `nodes:read` to see, `nodes:write` to change; the service decides both.

use actix_web::web;
use askama::Template;

use super::auth::{PageUser, SignedForm};
use super::confirm::confirm;
use super::render::{in_place, on_form, Flash, Layout, PageError, PageResult, Section};
use super::token_value::{remember_value, ValuePage};
use super::view;
use crate::domain::permissions::Permission;
use crate::service::nodes::{self as svc, CreateNode, NodeView};
use crate::service::Page;
use crate::state::Shared;

/// One row of the list.
struct NodeListRow {
    id: i64,
    name: String,
    last_seen: String,
    address: String,
    version: String,
    /// The token was revoked as leaked (rule 35): the node cannot report until replaced.
    revoked: bool,
    created: String,
}

impl From<&NodeView> for NodeListRow {
    fn from(n: &NodeView) -> NodeListRow {
        NodeListRow {
            id: n.id,
            name: n.name.clone(),
            last_seen: view::opt_time(&n.last_seen_at, "Never"),
            address: n.last_seen_ip.clone().unwrap_or_else(|| "—".into()),
            version: n.version.clone().unwrap_or_else(|| "—".into()),
            revoked: n.token_disabled_reason.is_some(),
            created: view::time(&n.created_at),
        }
    }
}

#[derive(Template)]
#[template(path = "nodes/list.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<NodeListRow>,
    can_write: bool,
    name: String,
    error: Option<String>,
}

fn ensure_can_read(user: &PageUser) -> Result<(), PageError> {
    crate::service::require(&user.caller, Permission::NodesRead)?;
    Ok(())
}

async fn render_list(
    state: &Shared,
    user: &PageUser,
    name: String,
    error: Option<String>,
) -> PageResult {
    let env = state.env();
    let caller = user.caller.clone();
    let page = Page {
        before: None,
        limit: crate::service::MAX_LIMIT,
    };
    let (nodes, _) = state
        .read(move |c| svc::list(c, &env, &caller, page))
        .await?;
    let status = if error.is_some() {
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        actix_web::http::StatusCode::OK
    };
    user.page_status(
        status,
        &ListPage {
            layout: user.layout("Nodes", Section::Nodes),
            rows: nodes.iter().map(NodeListRow::from).collect(),
            can_write: user.has(Permission::NodesWrite),
            name,
            error,
        },
    )
}

/// `GET /nodes`.
pub async fn list(state: Shared, user: PageUser) -> PageResult {
    ensure_can_read(&user)?;
    render_list(&state, &user, String::new(), None).await
}

/// `POST /nodes`: creates a node and sends to the page showing its node token once.
pub async fn create(state: Shared, sf: SignedForm) -> PageResult {
    let SignedForm { user, form } = sf;
    ensure_can_read(&user)?;
    let name = form.text("name");
    let env = state.env();
    let caller = user.caller.clone();
    let input = CreateNode { name: name.clone() };
    match state
        .write(move |tx| svc::create(tx, &env, &caller, input))
        .await
    {
        Ok(created) => {
            let page = ValuePage::of_node(&created.node.name, created.token.value.expose());
            Ok(remember_value(&state, &user, page).await?)
        }
        Err(e) => {
            let e = on_form(e)?;
            let message = e
                .fields()
                .and_then(|f| f.get("name").cloned())
                .map(|m| format!("Name: {m}"))
                .unwrap_or_else(|| e.to_string());
            render_list(&state, &user, name, Some(message)).await
        }
    }
}

/// `POST /nodes/{id}/delete`, after a confirmation (a dialog, or a page without JavaScript).
pub async fn delete(state: Shared, path: web::Path<String>, sf: SignedForm) -> PageResult {
    let id = super::form::path_id(&path)?;
    let SignedForm { user, form } = sf;
    ensure_can_read(&user)?;
    let name = form.text("name");
    if !form.checked("confirmed") {
        return confirm(
            &user,
            &form,
            &format!("/nodes/{id}/delete"),
            "Delete node?",
            &format!(
                "Delete the node “{name}”? Its node token stops working at once. This cannot be undone."
            ),
            "Delete",
            "/nodes",
        );
    }
    let env = state.env();
    let caller = user.caller.clone();
    match state
        .write(move |tx| svc::delete(tx, &env, &caller, id))
        .await
    {
        Ok(()) => Ok(user.redirect("/nodes", Flash::ok(format!("Node “{name}” deleted.")))),
        Err(e) => Ok(user.redirect("/nodes", Flash::error(in_place(e)?.to_string()))),
    }
}
