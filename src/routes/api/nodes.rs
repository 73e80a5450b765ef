//! `/v1/nodes` (API tokens with `nodes:*`) and `/v1/nodes/self…` (node tokens only).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::admin::PageQuery;
use super::common::{secret_json, ErrorBody, NodeList};
use super::wire::nodes::{CreateNode, Heartbeat};
use crate::auth::node::NodeCaller;
use crate::domain::caller::Caller;
use crate::error::ApiResult;
use crate::service::nodes::{self as svc, NodeCreated, NodeView};
use crate::service::Page;
use crate::state::Shared;

/// List filtering nodes.
#[utoipa::path(get, path = super::IN_TABLE, operation_id = "listNodes", tag = "nodes", params(PageQuery),
    responses((status = 200, description = "A page of nodes", body = NodeList), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn list(
    state: Shared,
    caller: Caller,
    q: super::common::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let page = Page::parse(&state.keys, q.limit, q.cursor.as_deref())?;
    let env = state.env();
    let (items, next) = state
        .read(move |c| svc::list(c, &env, &caller, page))
        .await?;
    Ok(NodeList::respond(items, next))
}

/// Register a filtering node.
#[utoipa::path(post, path = super::IN_TABLE, operation_id = "createNode", tag = "nodes", request_body = CreateNode,
    responses((status = 201, description = "The node and its node token (value shown once)", body = NodeCreated), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn create(
    state: Shared,
    caller: Caller,
    body: super::common::JsonBody<CreateNode>,
) -> ApiResult<HttpResponse> {
    let env = state.env();
    let input = svc::CreateNode::from(body.into_inner()?);
    let created = state
        .write(move |tx| svc::create(tx, &env, &caller, input))
        .await?;
    Ok(secret_json(StatusCode::CREATED, &created))
}

/// Delete a node (its token stops working).
#[utoipa::path(delete, path = super::IN_TABLE, operation_id = "deleteNode", tag = "nodes", params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn delete(state: Shared, caller: Caller, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let env = state.env();
    let id = id.into_inner();
    state
        .write(move |tx| svc::delete(tx, &env, &caller, id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The calling node's own view (node token).
#[utoipa::path(get, path = super::IN_TABLE, operation_id = "getOwnNode", tag = "nodes",
    responses((status = 200, description = "The node", body = NodeView), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub async fn me(node: NodeCaller) -> HttpResponse {
    HttpResponse::Ok().json(NodeView::from(&node.node))
}

/// Report that the calling node is alive (node token).
#[utoipa::path(post, path = super::IN_TABLE, operation_id = "nodeHeartbeat", tag = "nodes",
    request_body(content = Option<Heartbeat>),
    responses((status = 200, description = "The node", body = NodeView), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn heartbeat(
    state: Shared,
    node: NodeCaller,
    body: super::common::JsonBody<Heartbeat>,
) -> ApiResult<HttpResponse> {
    let env = state.env();
    let input = svc::Heartbeat::from(body.or_default()?);
    let view = state
        .write(move |tx| svc::heartbeat(tx, &env, &node.node, &node.ip, input))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}
