//! `/v1/scopes` (API scopes of the caller's company) and `/v1/roles` (built-in and company
//! roles), SPEC §18.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::common::{ErrorBody, JsonBody};
use super::wire::scopes::{CreateRole, CreateScope, UpdateRole, UpdateScope};
use crate::domain::caller::Caller;
use crate::error::ApiResult;
use crate::service::roles::{self, RoleChangePreview, RoleView};
use crate::service::scopes::{self, ScopeDeletePreview, ScopeView};
use crate::state::Shared;

#[derive(Serialize, ToSchema)]
pub struct ScopeList {
    pub items: Vec<ScopeView>,
}

#[derive(Serialize, ToSchema)]
pub struct CompanyRoleList {
    pub items: Vec<RoleView>,
}

/// The API scopes of the caller's company.
#[utoipa::path(get, path = super::IN_TABLE, operation_id = "listScopes", tag = "admin",
    responses((status = 200, description = "Every API scope of the company, by name", body = ScopeList),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(state: Shared, caller: Caller) -> ApiResult<HttpResponse> {
    let items = state.read(move |c| scopes::list(c, &caller)).await?;
    Ok(HttpResponse::Ok().json(ScopeList { items }))
}

/// Define an API scope.
#[utoipa::path(post, path = super::IN_TABLE, operation_id = "createScope", tag = "admin", request_body = CreateScope,
    responses((status = 201, description = "The new scope", body = ScopeView), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    state: Shared,
    caller: Caller,
    body: JsonBody<CreateScope>,
) -> ApiResult<HttpResponse> {
    let input = scopes::CreateScope::from(body.into_inner()?);
    let env = state.env();
    let s = state
        .write(move |tx| scopes::create(tx, &env, &caller, input))
        .await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(s))
}

/// One API scope.
#[utoipa::path(get, path = super::IN_TABLE, operation_id = "getScope", tag = "admin", params(("id" = i64, Path)),
    responses((status = 200, description = "The scope", body = ScopeView), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(state: Shared, caller: Caller, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let s = state.read(move |c| scopes::get(c, &caller, id)).await?;
    Ok(HttpResponse::Ok().json(s))
}

/// Change an API scope's description (a scope is not renamed).
#[utoipa::path(patch, path = super::IN_TABLE, operation_id = "updateScope", tag = "admin", params(("id" = i64, Path)),
    request_body = UpdateScope,
    responses((status = 200, description = "The scope as changed", body = ScopeView), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    state: Shared,
    caller: Caller,
    id: web::Path<i64>,
    body: JsonBody<UpdateScope>,
) -> ApiResult<HttpResponse> {
    let input = scopes::UpdateScope::from(body.into_inner()?);
    let id = id.into_inner();
    let env = state.env();
    let s = state
        .write(move |tx| scopes::update(tx, &env, &caller, id, input))
        .await?;
    Ok(HttpResponse::Ok().json(s))
}

/// What deleting an API scope would take away: the tokens, roles and users that lose it.
#[utoipa::path(get, path = super::IN_TABLE, operation_id = "previewScopeDelete", tag = "admin", params(("id" = i64, Path)),
    responses((status = 200, description = "What the delete would remove", body = ScopeDeletePreview),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_preview(
    state: Shared,
    caller: Caller,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let p = state
        .read(move |c| scopes::delete_preview(c, &caller, id))
        .await?;
    Ok(HttpResponse::Ok().json(p))
}

/// Delete an API scope: it is removed from every role, user and token of the company (a
/// token left with none is disabled), in one transaction, audited. The answer says what was
/// removed.
#[utoipa::path(delete, path = super::IN_TABLE, operation_id = "deleteScope", tag = "admin", params(("id" = i64, Path)),
    responses((status = 200, description = "Deleted; what it was removed from", body = ScopeDeletePreview),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(state: Shared, caller: Caller, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let env = state.env();
    let p = state
        .write(move |tx| scopes::delete(tx, &env, &caller, id))
        .await?;
    Ok(HttpResponse::Ok().json(p))
}

/// Roles: the built-in ones (read-only; also role templates) and the company's own.
#[utoipa::path(get, path = super::IN_TABLE, operation_id = "listRoles", tag = "session",
    responses((status = 200, description = "Every role with its permissions", body = CompanyRoleList), (status = 401, body = ErrorBody)))]
pub async fn roles_list(state: Shared, caller: Caller) -> ApiResult<HttpResponse> {
    let items = state.read(move |c| roles::list(c, &caller)).await?;
    Ok(HttpResponse::Ok().json(CompanyRoleList { items }))
}

/// Define a company role.
#[utoipa::path(post, path = super::IN_TABLE, operation_id = "createRole", tag = "admin", request_body = CreateRole,
    responses((status = 201, description = "The new role", body = RoleView), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn roles_create(
    state: Shared,
    caller: Caller,
    body: JsonBody<CreateRole>,
) -> ApiResult<HttpResponse> {
    let input = roles::CreateRole::from(body.into_inner()?);
    let env = state.env();
    let r = state
        .write(move |tx| roles::create(tx, &env, &caller, input))
        .await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(r))
}

/// One company role.
#[utoipa::path(get, path = super::IN_TABLE, operation_id = "getRole", tag = "admin", params(("id" = i64, Path)),
    responses((status = 200, description = "The role", body = RoleView), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn roles_get(
    state: Shared,
    caller: Caller,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let r = state.read(move |c| roles::get(c, &caller, id)).await?;
    Ok(HttpResponse::Ok().json(r))
}

/// What saving a role change would take from its holders' tokens, without saving it.
#[utoipa::path(post, path = super::IN_TABLE, operation_id = "previewRoleUpdate", tag = "admin", params(("id" = i64, Path)),
    request_body = UpdateRole,
    responses((status = 200, description = "The tokens that would lose permissions", body = RoleChangePreview),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn roles_preview(
    state: Shared,
    caller: Caller,
    id: web::Path<i64>,
    body: JsonBody<UpdateRole>,
) -> ApiResult<HttpResponse> {
    let input = roles::UpdateRole::from(body.into_inner()?);
    let id = id.into_inner();
    let p = state
        .read(move |c| roles::preview_update(c, &caller, id, &input))
        .await?;
    Ok(HttpResponse::Ok().json(p))
}

/// Change a company role; its holders' tokens lose what the role no longer grants, in the
/// same transaction.
#[utoipa::path(patch, path = super::IN_TABLE, operation_id = "updateRole", tag = "admin", params(("id" = i64, Path)),
    request_body = UpdateRole,
    responses((status = 200, description = "The role as changed", body = RoleView), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn roles_update(
    state: Shared,
    caller: Caller,
    id: web::Path<i64>,
    body: JsonBody<UpdateRole>,
) -> ApiResult<HttpResponse> {
    let input = roles::UpdateRole::from(body.into_inner()?);
    let id = id.into_inner();
    let env = state.env();
    let r = state
        .write(move |tx| roles::update(tx, &env, &caller, id, input))
        .await?;
    Ok(HttpResponse::Ok().json(r))
}

/// Delete a company role no user holds.
#[utoipa::path(delete, path = super::IN_TABLE, operation_id = "deleteRole", tag = "admin", params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn roles_delete(
    state: Shared,
    caller: Caller,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let env = state.env();
    state
        .write(move |tx| roles::delete(tx, &env, &caller, id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
