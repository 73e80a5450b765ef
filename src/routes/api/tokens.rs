//! `/v1/tokens`: each handler parses, calls one service function, and renders.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::common::{secret_json, ErrorBody, TokenList};
use crate::domain::listing::{TokenFilter, TokenFilterText};
use crate::domain::model::Caller;
use crate::error::ApiResult;
use crate::service::tokens::{
    self as svc, BulkRequest, BulkResult, CreateToken, RenewToken, TokenView, TokenWithValue,
    UpdateToken,
};
use crate::service::Page;
use crate::state::Shared;

/// Filters and paging of `GET /v1/tokens`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// Substring of the name, case-insensitive.
    pub name: Option<String>,
    pub owner_id: Option<i64>,
    pub creator_id: Option<i64>,
    /// `enabled` (enabled and not expired), `disabled` (disabled for a reason other than
    /// expiry, and not past its expiry) or `expired` (past its expiry time, or disabled
    /// because it expired).
    pub status: Option<String>,
    /// `private`, `shared` or `legacy`.
    pub kind: Option<String>,
    /// RFC 3339 or `YYYY-MM-DD hh:mm:ss` (UTC).
    pub expires_before: Option<String>,
    pub expires_after: Option<String>,
    /// "Expires in less than N days" (1–36500): not expired yet, and expiring before now
    /// plus N days. Read as text, so a value that is not a number is refused naming this
    /// field.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 36500)]
    pub expires_within_days: Option<String>,
    /// 1–500, default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl TokenQuery {
    /// Validates the filters (400 on bad values).
    pub fn filter(&self) -> ApiResult<TokenFilter> {
        let mut f = TokenFilter::parse(TokenFilterText {
            name: self.name.as_deref(),
            status: self.status.as_deref(),
            kind: self.kind.as_deref(),
            expires_before: self.expires_before.as_deref(),
            expires_after: self.expires_after.as_deref(),
            expires_within_days: self.expires_within_days.as_deref(),
        })?;
        f.owner_id = self.owner_id;
        f.creator_id = self.creator_id;
        Ok(f)
    }
}

#[utoipa::path(get, path = "/v1/tokens", tag = "tokens", params(TokenQuery),
    responses((status = 200, body = TokenList), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    state: Shared,
    caller: Caller,
    q: web::Query<TokenQuery>,
) -> ApiResult<HttpResponse> {
    let page = Page::parse(&state.keys, q.limit, q.cursor.as_deref())?;
    let filter = q.filter()?;
    let env = state.env();
    let (items, next) = state
        .read(move |c| svc::list(c, &env, &caller, &filter, page))
        .await?;
    Ok(TokenList::respond(items, next))
}

#[utoipa::path(post, path = "/v1/tokens", tag = "tokens", request_body = CreateToken,
    responses((status = 201, body = TokenWithValue), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    state: Shared,
    caller: Caller,
    body: super::common::JsonBody<CreateToken>,
) -> ApiResult<HttpResponse> {
    let env = state.env();
    let input = body.into_inner()?;
    let created = state
        .write(move |tx| svc::create(tx, &env, &caller, input))
        .await?;
    Ok(secret_json(StatusCode::CREATED, &created))
}

#[utoipa::path(get, path = "/v1/tokens/{id}", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 200, body = TokenView), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(state: Shared, caller: Caller, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let env = state.env();
    let id = id.into_inner();
    let t = state.read(move |c| svc::get(c, &env, &caller, id)).await?;
    Ok(HttpResponse::Ok().json(t))
}

#[utoipa::path(patch, path = "/v1/tokens/{id}", tag = "tokens", params(("id" = i64, Path)),
    request_body = UpdateToken,
    responses((status = 200, body = TokenView), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update(
    state: Shared,
    caller: Caller,
    id: web::Path<i64>,
    body: super::common::JsonBody<UpdateToken>,
) -> ApiResult<HttpResponse> {
    let env = state.env();
    let id = id.into_inner();
    let input = body.into_inner()?;
    let t = state
        .write(move |tx| svc::update(tx, &env, &caller, id, input))
        .await?;
    Ok(HttpResponse::Ok().json(t))
}

#[utoipa::path(delete, path = "/v1/tokens/{id}", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(state: Shared, caller: Caller, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let env = state.env();
    let id = id.into_inner();
    state
        .write(move |tx| svc::delete(tx, &env, &caller, id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /v1/tokens/{id}/regenerate`: a new value for the token (the console's *Regenerate*).
#[utoipa::path(post, path = "/v1/tokens/{id}/regenerate", tag = "tokens", params(("id" = i64, Path)),
    request_body(content = Option<RenewToken>),
    responses((status = 200, body = TokenWithValue), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn regenerate(
    state: Shared,
    caller: Caller,
    id: web::Path<i64>,
    body: super::common::JsonBody<RenewToken>,
) -> ApiResult<HttpResponse> {
    renew(state, caller, id, body).await
}

/// `POST /v1/tokens/{id}/renew`: the older name of `/regenerate`, kept as an alias.
#[utoipa::path(post, path = "/v1/tokens/{id}/renew", tag = "tokens", params(("id" = i64, Path)),
    request_body(content = Option<RenewToken>),
    responses((status = 200, body = TokenWithValue), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn renew(
    state: Shared,
    caller: Caller,
    id: web::Path<i64>,
    body: super::common::JsonBody<RenewToken>,
) -> ApiResult<HttpResponse> {
    let env = state.env();
    let id = id.into_inner();
    let input = body.or_default()?;
    let renewed = state
        .write(move |tx| svc::renew(tx, &env, &caller, id, input))
        .await?;
    Ok(secret_json(StatusCode::OK, &renewed))
}

#[derive(Serialize, ToSchema)]
pub struct Revealed {
    pub value: String,
}

#[utoipa::path(post, path = "/v1/tokens/{id}/reveal", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 200, body = Revealed), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn reveal(state: Shared, caller: Caller, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let env = state.env();
    let id = id.into_inner();
    let value = state
        .write(move |tx| svc::reveal(tx, &env, &caller, id))
        .await?;
    Ok(secret_json(StatusCode::OK, &Revealed { value }))
}

#[derive(Serialize, ToSchema)]
pub struct BulkResponse {
    pub results: Vec<BulkResult>,
}

#[utoipa::path(post, path = "/v1/tokens/bulk", tag = "tokens", request_body = BulkRequest,
    responses((status = 200, body = BulkResponse), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn bulk(
    state: Shared,
    caller: Caller,
    body: super::common::JsonBody<BulkRequest>,
) -> ApiResult<HttpResponse> {
    let env = state.env();
    let input = body.into_inner()?;
    let results = state
        .write(move |tx| svc::bulk(tx, &env, &caller, input))
        .await?;
    Ok(HttpResponse::Ok().json(BulkResponse { results }))
}
