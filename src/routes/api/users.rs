//! `/v1/users`: users and legacy credentials.

use crate::routes::passwords::{hash_password, prepare_user_change};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::common::{secret_json, ErrorBody, UserList};
use super::wire::users::{CreateUser, ImportCredentials, UpdateUser};
use crate::domain::caller::Caller;
use crate::error::ApiResult;
use crate::service::audit::Actor;
use crate::service::legacy::{self, LegacyCredentials};
use crate::service::users::{self as svc, UserView};
use crate::service::Page;
use crate::state::Shared;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Global administrators: only this company.
    pub company_id: Option<i64>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// List users.
#[utoipa::path(get, path = super::IN_TABLE, operation_id = "listUsers", tag = "users", params(UserQuery),
    responses((status = 200, description = "A page of users", body = UserList), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn list(
    state: Shared,
    caller: Caller,
    q: super::common::Query<UserQuery>,
) -> ApiResult<HttpResponse> {
    let page = Page::parse(&state.keys, q.limit, q.cursor.as_deref())?;
    let env = state.env();
    let company = q.company_id;
    let (items, next) = state
        .read(move |c| svc::list(c, &env, &caller, company, page))
        .await?;
    Ok(UserList::respond(items, next))
}

/// Create a user.
#[utoipa::path(post, path = super::IN_TABLE, operation_id = "createUser", tag = "users", request_body = CreateUser,
    responses((status = 201, description = "The user", body = UserView), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    state: Shared,
    caller: Caller,
    body: super::common::JsonBody<CreateUser>,
) -> ApiResult<HttpResponse> {
    let valid = svc::validate_create(&caller, body.into_inner()?.into())?;
    let hash = hash_password(&state, valid.password.clone()).await?;
    let env = state.env();
    let user = state
        .write(move |tx| svc::insert(tx, &env, &Actor::of(&caller), &valid, hash.as_deref()))
        .await?;
    Ok(HttpResponse::Created().json(user))
}

/// Get one user.
#[utoipa::path(get, path = super::IN_TABLE, operation_id = "getUser", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, description = "The user", body = UserView), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(state: Shared, caller: Caller, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let u = state.read(move |c| svc::get(c, &caller, id)).await?;
    Ok(HttpResponse::Ok().json(u))
}

/// Edit a user.
#[utoipa::path(patch, path = super::IN_TABLE, operation_id = "updateUser", tag = "users", params(("id" = i64, Path)),
    request_body = UpdateUser,
    responses((status = 200, description = "The user as changed", body = UserView), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn update(
    state: Shared,
    caller: Caller,
    id: web::Path<i64>,
    body: super::common::JsonBody<UpdateUser>,
) -> ApiResult<HttpResponse> {
    let input = svc::UpdateUser::from(body.into_inner()?);
    let id = id.into_inner();
    let hash = prepare_user_change(&state, &caller, id, &input).await?;
    let env = state.env();
    let u = state
        .write(move |tx| svc::update(tx, &env, &caller, id, input, hash))
        .await?;
    Ok(HttpResponse::Ok().json(u))
}

/// Delete a user.
#[utoipa::path(delete, path = super::IN_TABLE, operation_id = "deleteUser", tag = "users", params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(state: Shared, caller: Caller, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let env = state.env();
    let id = id.into_inner();
    state
        .write(move |tx| svc::delete(tx, &env, &caller, id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Issue or import legacy UUID + secret credentials.
#[utoipa::path(post, path = super::IN_TABLE, operation_id = "issueLegacyCredentials", tag = "users",
    params(("id" = i64, Path)),
    request_body(content = Option<ImportCredentials>,
                 description = "Omit to issue fresh credentials; give uuid + secret to import"),
    responses((status = 201, description = "The credentials (the secret is shown once)", body = LegacyCredentials), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn legacy_credentials(
    state: Shared,
    caller: Caller,
    id: web::Path<i64>,
    body: super::common::JsonBody<ImportCredentials>,
) -> ApiResult<HttpResponse> {
    let env = state.env();
    let id = id.into_inner();
    let input = legacy::ImportCredentials::from(body.or_default()?);
    let creds = state
        .write(move |tx| legacy::issue(tx, &env, &caller, id, input))
        .await?;
    Ok(secret_json(StatusCode::CREATED, &creds))
}
