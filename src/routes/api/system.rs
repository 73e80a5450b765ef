//! Forward-auth (`/v1/auth/verify`, the hot path), health, readiness and metrics.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

use super::common::ErrorBody;
use crate::auth::client_ip::{in_nets, peer_ip};
use crate::db;
use crate::domain::model::{AuthMethod, Caller};
use crate::domain::permissions::{Permission, PermissionSet};
use crate::error::{ApiError, ApiResult, Challenge};
use crate::state::Shared;

/// The `scope` parameters of a verify request (may repeat; all must be held).
fn scopes(req: &HttpRequest) -> ApiResult<PermissionSet> {
    let mut set = PermissionSet::EMPTY;
    for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        match k.as_ref() {
            "scope" => {
                for name in v.split([' ', ',']).filter(|s| !s.is_empty()) {
                    set.insert(
                        Permission::parse(name).ok_or_else(|| {
                            ApiError::BadRequest(format!("unknown scope `{name}`"))
                        })?,
                    );
                }
            }
            other => {
                return Err(ApiError::BadRequest(format!(
                    "unknown query parameter `{other}`"
                )))
            }
        }
    }
    Ok(set)
}

#[utoipa::path(get, path = "/v1/auth/verify", tag = "auth",
    params(("scope" = Option<Vec<String>>, Query, description = "A permission the token must hold; may repeat")),
    responses(
        (status = 200, description = "Allowed; identity in X-Auth-* headers",
         headers(("X-Auth-User-Id" = String), ("X-Auth-User-Email" = String),
                 ("X-Auth-Company-Id" = String), ("X-Auth-Token-Id" = String),
                 ("X-Auth-Permissions" = String))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn verify(state: Shared, req: HttpRequest, caller: Caller) -> ApiResult<HttpResponse> {
    if caller.method == AuthMethod::Session {
        // Forward-auth answers for API credentials only, never for a browser session.
        return Err(ApiError::Unauthenticated(Challenge::Missing));
    }
    let needed = scopes(&req)?;
    let missing = needed.difference(caller.permissions);
    if let Some(p) = missing.iter().next() {
        state.metrics.auth("insufficient_scope");
        return Err(ApiError::insufficient_scope(p.name()));
    }
    Ok(HttpResponse::Ok()
        .insert_header(("X-Auth-User-Id", caller.user.id.to_string()))
        .insert_header(("X-Auth-User-Email", caller.user.email.clone()))
        .insert_header(("X-Auth-Company-Id", caller.user.company_id.to_string()))
        .insert_header((
            "X-Auth-Token-Id",
            caller.token_id.map(|t| t.to_string()).unwrap_or_default(),
        ))
        .insert_header(("X-Auth-Permissions", caller.permissions.names().join(" ")))
        .finish())
}

#[utoipa::path(get, path = "/healthz", tag = "system", responses((status = 200, description = "alive")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain"))
        .body("ok")
}

#[utoipa::path(get, path = "/readyz", tag = "system",
    responses((status = 200, description = "database answers"), (status = 503, body = ErrorBody)))]
pub async fn readyz(state: Shared) -> ApiResult<HttpResponse> {
    state
        .read(|c| {
            db::schema_version(c)?;
            Ok(())
        })
        .await
        .map_err(|_| ApiError::Unavailable)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain"))
        .body("ready"))
}

/// Prometheus metrics, only for addresses in `metrics_allow` (loopback by default).
pub async fn metrics(state: Shared, req: HttpRequest) -> ApiResult<HttpResponse> {
    if !in_nets(peer_ip(&req), &state.config.metrics_allow) {
        return Err(ApiError::NotFound);
    }
    let (enabled, disabled) = state.read(|c| Ok(db::tokens::count_by_status(c)?)).await?;
    state
        .metrics
        .tokens
        .with_label_values(&["enabled"])
        .set(enabled);
    state
        .metrics
        .tokens
        .with_label_values(&["disabled"])
        .set(disabled);
    // Creates and deletes change the filter between reloads: read its size now.
    state
        .metrics
        .filter_size
        .set(state.index.filter_len() as i64);
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; version=0.0.4"))
        .body(state.metrics.render()))
}

#[utoipa::path(post, path = "/v1/revoke", tag = "auth",
    request_body = crate::service::revoke::RevokeRequest,
    responses((status = 202, body = crate::service::revoke::RevokeAccepted),
              (status = 400, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
/// Public revocation of leaked values: no credentials, rate limited per client address.
pub async fn revoke(
    state: Shared,
    req: HttpRequest,
    body: super::common::JsonBody<crate::service::revoke::RevokeRequest>,
) -> ApiResult<HttpResponse> {
    let ip = crate::auth::client_ip::client_ip(&req, &state.config.trusted_proxies).to_string();
    state
        .revoke_limit
        .hit(&ip, state.now_ms())
        .map_err(|wait| ApiError::TooManyAttempts {
            retry_after_secs: wait,
        })?;
    let input = body.into_inner()?;
    let env = state.env();
    let accepted = state
        .write(move |tx| crate::service::revoke::revoke(tx, &env, &input, &ip))
        .await?;
    Ok(HttpResponse::Accepted().json(accepted))
}
