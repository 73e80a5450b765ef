//! `/v1/tokens`: each handler parses, calls one service function, and renders.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::common::{secret_json, ErrorBody, TokenList};
use super::wire::tokens::{BulkRequest, CreateToken, RenewToken, UpdateToken};
use crate::domain::caller::Caller;
use crate::domain::listing::{TokenFilter, TokenFilterText};
use crate::domain::time::parse_time;
use crate::error::{ApiError, ApiResult};
use crate::service::tokens::{self as svc, BulkResult, TokenView, TokenWithValue};
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

/// List the tokens the caller may see.
#[utoipa::path(get, path = super::IN_TABLE, operation_id = "listTokens", tag = "tokens", params(TokenQuery),
    responses((status = 200, description = "A page of tokens", body = TokenList), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn list(
    state: Shared,
    caller: Caller,
    q: super::common::Query<TokenQuery>,
) -> ApiResult<HttpResponse> {
    let page = Page::parse(&state.keys, q.limit, q.cursor.as_deref())?;
    let filter = q.filter()?;
    let env = state.env();
    let (items, next) = state
        .read(move |c| svc::list(c, &env, &caller, &filter, page))
        .await?;
    Ok(TokenList::respond(items, next))
}

/// Create a token.
#[utoipa::path(post, path = super::IN_TABLE, operation_id = "createToken", tag = "tokens", request_body = CreateToken,
    responses((status = 201, description = "The token with its `value` (shown once unless the company allows reveal)", body = TokenWithValue), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn create(
    state: Shared,
    caller: Caller,
    body: super::common::JsonBody<CreateToken>,
) -> ApiResult<HttpResponse> {
    let env = state.env();
    let input = svc::CreateToken::from(body.into_inner()?);
    let created = state
        .write(move |tx| svc::create(tx, &env, &caller, input))
        .await?;
    Ok(secret_json(StatusCode::CREATED, &created))
}

/// Get one token.
#[utoipa::path(get, path = super::IN_TABLE, operation_id = "getToken", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 200, description = "The token", body = TokenView), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(state: Shared, caller: Caller, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let env = state.env();
    let id = id.into_inner();
    let t = state.read(move |c| svc::get(c, &env, &caller, id)).await?;
    Ok(HttpResponse::Ok().json(t))
}

/// The query of `GET /v1/tokens/{id}/usage`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// `hour` (default) or `day` (UTC days).
    pub bucket: Option<String>,
    /// RFC 3339 or `YYYY-MM-DD hh:mm:ss` (UTC); default: 7 days before `to`.
    pub from: Option<String>,
    /// Default: now.
    pub to: Option<String>,
}

impl UsageQuery {
    /// The bucket and `[from, to)` in ms; 400 naming a bad parameter.
    fn parse(&self, now: i64) -> ApiResult<(svc::Bucket, (i64, i64))> {
        let bad = |name: &str, why: String| ApiError::BadRequest(format!("`{name}`: {why}"));
        let bucket = match self.bucket.as_deref() {
            None => svc::Bucket::Hour,
            Some(b) => svc::Bucket::parse(b)
                .ok_or_else(|| bad("bucket", "must be `hour` or `day`".into()))?,
        };
        let time = |name: &str, v: &Option<String>| -> ApiResult<Option<i64>> {
            v.as_deref()
                .map(|s| parse_time(s).map(|t| t.timestamp_millis()))
                .transpose()
                .map_err(|e| bad(name, e))
        };
        // Buckets from the one holding `from` through the one holding `to`.
        let to = time("to", &self.to)?.unwrap_or(now);
        let from = time("from", &self.from)?.unwrap_or(to - 7 * 86_400_000);
        if from > to {
            return Err(bad("from", "must not be after `to`".into()));
        }
        Ok((bucket, (from, to)))
    }
}

/// Authentications allowed and refused per hour or day (rolled up by the last-use flush;
/// kept 90 days).
#[utoipa::path(get, path = super::IN_TABLE, operation_id = "getTokenUsage", tag = "tokens",
    params(("id" = i64, Path), UsageQuery),
    responses((status = 200, description = "Usage per bucket, oldest first", body = svc::UsageView),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn usage(
    state: Shared,
    caller: Caller,
    id: web::Path<i64>,
    q: super::common::Query<UsageQuery>,
) -> ApiResult<HttpResponse> {
    let (bucket, range) = q.parse(state.now_ms())?;
    let id = id.into_inner();
    let u = state
        .read(move |c| svc::usage(c, &caller, id, bucket, range))
        .await?;
    Ok(HttpResponse::Ok().json(u))
}

/// Edit a token (name, description, expiry, enabled, permissions).
#[utoipa::path(patch, path = super::IN_TABLE, operation_id = "updateToken", tag = "tokens", params(("id" = i64, Path)),
    request_body = UpdateToken,
    responses((status = 200, description = "The token as changed", body = TokenView), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    state: Shared,
    caller: Caller,
    id: web::Path<i64>,
    body: super::common::JsonBody<UpdateToken>,
) -> ApiResult<HttpResponse> {
    let env = state.env();
    let id = id.into_inner();
    let input = svc::UpdateToken::from(body.into_inner()?);
    let t = state
        .write(move |tx| svc::update(tx, &env, &caller, id, input))
        .await?;
    Ok(HttpResponse::Ok().json(t))
}

/// Delete a token.
#[utoipa::path(delete, path = super::IN_TABLE, operation_id = "deleteToken", tag = "tokens", params(("id" = i64, Path)),
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

/// Regenerate a token's value (the console's *Regenerate*; `/renew` is its alias).
#[utoipa::path(post, path = super::IN_TABLE, operation_id = "regenerateToken", tag = "tokens", params(("id" = i64, Path)),
    request_body(content = Option<RenewToken>),
    responses((status = 200, description = "The token with its new `value`", body = TokenWithValue), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn regenerate(
    state: Shared,
    caller: Caller,
    id: web::Path<i64>,
    body: super::common::JsonBody<RenewToken>,
) -> ApiResult<HttpResponse> {
    renew(state, caller, id, body).await
}

/// Regenerate a token's value (`/renew`, the older name of `/regenerate`, kept as an alias).
#[utoipa::path(post, path = super::IN_TABLE, operation_id = "renewToken", tag = "tokens", params(("id" = i64, Path)),
    request_body(content = Option<RenewToken>),
    responses((status = 200, description = "The token with its new `value`", body = TokenWithValue), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn renew(
    state: Shared,
    caller: Caller,
    id: web::Path<i64>,
    body: super::common::JsonBody<RenewToken>,
) -> ApiResult<HttpResponse> {
    let env = state.env();
    let id = id.into_inner();
    let input = svc::RenewToken::from(body.or_default()?);
    let renewed = state
        .write(move |tx| svc::renew(tx, &env, &caller, id, input))
        .await?;
    Ok(secret_json(StatusCode::OK, &renewed))
}

#[derive(Serialize, ToSchema)]
pub struct Revealed {
    pub value: String,
}

/// Reveal a token's value (owner only; audited).
#[utoipa::path(post, path = super::IN_TABLE, operation_id = "revealToken", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 200, description = "The value", body = Revealed), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
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

/// Enable, disable or delete several tokens.
#[utoipa::path(post, path = super::IN_TABLE, operation_id = "bulkTokens", tag = "tokens", request_body = BulkRequest,
    responses((status = 200, description = "One result per id", body = BulkResponse), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
pub async fn bulk(
    state: Shared,
    caller: Caller,
    body: super::common::JsonBody<BulkRequest>,
) -> ApiResult<HttpResponse> {
    let env = state.env();
    let input = svc::BulkRequest::from(body.into_inner()?);
    let results = state
        .write(move |tx| svc::bulk(tx, &env, &caller, input))
        .await?;
    Ok(HttpResponse::Ok().json(BulkResponse { results }))
}
