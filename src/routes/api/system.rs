//! Forward-auth (`/v1/auth/verify`, the hot path), health, readiness and metrics.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

use super::common::ErrorBody;
use crate::auth::client_ip::{in_nets, peer_ip};
use crate::auth::forward::{
    authenticate_forward, Forwarded, X_AUTH_COMPANY_ID, X_AUTH_PERMISSIONS, X_AUTH_TOKEN_ID,
    X_AUTH_USER_EMAIL, X_AUTH_USER_ID,
};
use crate::domain::permissions::{valid_scope_name, Permission, PermissionSet};
use crate::error::{ApiError, ApiResult};
use crate::service::status;
use crate::state::Shared;

/// Calls `f` with every name of the `scope` parameters of a verify request (a parameter may
/// repeat and hold several names, separated by spaces or commas; all must be held). Without
/// anything to decode, the names are slices of the query string: no allocation.
fn each_scope(req: &HttpRequest, mut f: impl FnMut(&str) -> ApiResult<()>) -> ApiResult<()> {
    let query = req.query_string();
    let mut pair = |k: &str, v: &str| match k {
        "scope" => v
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .try_for_each(&mut f),
        other => Err(ApiError::BadRequest(format!(
            "unknown query parameter `{other}`"
        ))),
    };
    if query.bytes().any(|b| b == b'%' || b == b'+') {
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            pair(&k, &v)?;
        }
    } else {
        for p in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            pair(k, v)?;
        }
    }
    Ok(())
}

/// What a verify request asks of `held`: the first name not held (`None`: all are), and the
/// API scopes whose definition by the company must be checked (those not held, and those
/// held only through the administrators' wildcard).
fn needed(req: &HttpRequest, held: &PermissionSet) -> ApiResult<(Option<String>, Vec<String>)> {
    let mut missing: Option<String> = None;
    let mut check: Vec<String> = Vec::new();
    each_scope(req, |name| {
        match Permission::parse(name) {
            Some(p) => {
                if !held.contains(p) && missing.is_none() {
                    missing = Some(name.to_owned());
                }
            }
            None => {
                if valid_scope_name(name).is_err() {
                    return Err(ApiError::UnknownScope(name.chars().take(100).collect()));
                }
                if !held.names_scope(name) {
                    check.push(name.to_owned());
                    if !held.has_scope(name) && missing.is_none() {
                        missing = Some(name.to_owned());
                    }
                }
            }
        }
        Ok(())
    })?;
    Ok((missing, check))
}

/// Forward authentication: does this token hold these scopes?
#[utoipa::path(get, path = super::IN_TABLE, operation_id = "verifyToken", tag = "auth",
    params(("scope" = Option<Vec<String>>, Query, description = "A management permission or an API scope of the caller's company the token must hold; may repeat. A scope the company does not define answers 400 `unknown_scope`")),
    responses(
        (status = 200, description = "Allowed; identity in X-Auth-* headers",
         headers(("X-Auth-User-Id" = String), ("X-Auth-User-Email" = String),
                 ("X-Auth-Company-Id" = String), ("X-Auth-Token-Id" = String),
                 ("X-Auth-Permissions" = String),
                 ("RateLimit-Limit" = Option<i64>, description = "Tokens with a rate limit: its requests"),
                 ("RateLimit-Remaining" = Option<i64>, description = "Requests that would pass now"),
                 ("RateLimit-Reset" = Option<i64>, description = "Seconds until the limit is whole again"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 429, description = "The token's rate limit or quota is reached (`Retry-After`, `RateLimit-*`)", body = ErrorBody)))]
pub async fn verify(state: Shared, req: HttpRequest) -> ApiResult<HttpResponse> {
    // Same order as before: authenticate (outcome, last use), then the scopes.
    let caller = authenticate_forward(&state, &req).await?;
    let (missing, check) = needed(&req, &caller.permissions)?;
    if !check.is_empty() {
        // Off the hot path: a scope the token does not name (SPEC §18). One the company does
        // not define is a mistake of the guarded service's configuration: 400.
        let company = caller.row.owner.company_id;
        let defined = crate::auth::forward::defined_scopes(&state, company).await?;
        if let Some(unknown) = check.iter().find(|n| defined.binary_search(n).is_err()) {
            state.metrics.auth("unknown_scope");
            return Err(ApiError::UnknownScope(unknown.clone()));
        }
    }
    if let Some(name) = missing {
        state.metrics.auth("insufficient_scope");
        return Err(crate::service::policy::refusals::insufficient_scope(&name).into());
    }
    let mut res = HttpResponse::Ok().finish();
    match caller.headers() {
        Some(identity) => {
            let h = res.headers_mut();
            for (name, value) in &identity.values {
                h.insert(name.clone(), value.clone());
            }
            Ok(res)
        }
        // A value that cannot be a header value: the builder reports it as before.
        None => Ok(identity_slow(&caller)),
    }
}

/// The `X-Auth-*` answer built from text, for the (never expected) case where a value is not
/// a valid header value: the response builder turns that into its error response.
fn identity_slow(caller: &Forwarded) -> HttpResponse {
    let owner = &caller.row.owner;
    HttpResponse::Ok()
        .insert_header((X_AUTH_USER_ID, owner.id.to_string()))
        .insert_header((X_AUTH_USER_EMAIL, owner.email.clone()))
        .insert_header((X_AUTH_COMPANY_ID, owner.company_id.to_string()))
        .insert_header((X_AUTH_TOKEN_ID, caller.row.token_id.to_string()))
        .insert_header((X_AUTH_PERMISSIONS, caller.permissions.names().join(" ")))
        .finish()
}

/// Liveness: the process answers.
#[utoipa::path(get, path = super::IN_TABLE, operation_id = "checkLiveness", tag = "system", responses((status = 200, description = "alive")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain"))
        .body("ok")
}

/// Readiness: the database answers.
#[utoipa::path(get, path = super::IN_TABLE, operation_id = "checkReadiness", tag = "system",
    responses((status = 200, description = "database answers"), (status = 503, body = ErrorBody)))]
pub async fn readyz(state: Shared) -> ApiResult<HttpResponse> {
    state
        .read(status::ready)
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
    let (enabled, disabled) = state.read(status::token_counts).await?;
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

/// Revoke leaked token values (public, rate limited)
///
/// Public revocation of leaked values: no credentials, rate limited per client address.
#[utoipa::path(post, path = super::IN_TABLE, operation_id = "revokeLeakedValues", tag = "auth",
    request_body = super::wire::system::RevokeRequest,
    responses((status = 202, description = "Accepted for processing", body = crate::service::revoke::RevokeAccepted),
              (status = 400, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn revoke(
    state: Shared,
    req: HttpRequest,
    body: super::common::JsonBody<super::wire::system::RevokeRequest>,
) -> ApiResult<HttpResponse> {
    let client = crate::auth::client_ip::client_ip(&req, &state.config.trusted_proxies);
    let ip = client.to_string();
    // Rule 29: IPv6 clients are limited per /64.
    let key = crate::state::throttle::address_key(client).to_string();
    state
        .blocking(move |st| st.limit_hit(crate::state::throttle::Limit::Revoke, &key, st.now_ms()))
        .await?;
    let input = crate::service::revoke::RevokeRequest::from(body.into_inner()?);
    let env = state.env();
    let accepted = state
        .write(move |tx| crate::service::revoke::revoke(tx, &env, &input, &ip))
        .await?;
    Ok(HttpResponse::Accepted().json(accepted))
}
