//! `/v1/session` (browser login/logout), `/v1/me`, `/v1/permissions`, `/v1/roles`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use anyhow::anyhow;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::{secret_json, ErrorBody};
use crate::auth::client_ip::client_ip;
use crate::auth::extract::cookie_name;
use crate::auth::session::{self};
use crate::domain::caller::{AuthMethod, Caller};
use crate::domain::permissions::Permission;
use crate::error::{ApiError, ApiResult};
use crate::routes::passwords::password_login;
use crate::routes::session_cookie::session_cookie;
use crate::service::companies::{self, CompanyView};
use crate::service::users::UserView;
use crate::state::Shared;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    #[schema(value_type = String)]
    pub password: crate::domain::secret::Secret,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    pub csrf_token: String,
    pub user: UserView,
}

/// Sign in with email and password (browser session).
#[utoipa::path(post, path = super::IN_TABLE, operation_id = "createSession", tag = "session", request_body = LoginRequest,
    responses((status = 200, description = "Signed in: the session cookie is set; send `csrf_token` as `X-CSRF-Token` on unsafe methods", body = LoginResponse), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
              (status = 503, body = ErrorBody)))]
pub async fn login(
    state: Shared,
    req: HttpRequest,
    body: super::common::JsonBody<LoginRequest>,
) -> ApiResult<HttpResponse> {
    let ip = client_ip(&req, &state.config.trusted_proxies).to_string();
    // Rule 28: an out-of-bounds field at login is a failed login, not a validation error.
    let LoginRequest { email, password } = body.into_login()?;
    let s = password_login(&state, email, password, ip).await?;
    let ttl = state.config.session_ttl.as_secs() as i64;
    let mut res = secret_json(
        StatusCode::OK,
        &LoginResponse {
            csrf_token: s.csrf,
            user: UserView::from(&s.user),
        },
    );
    res.add_cookie(&session_cookie(&state.config, &s.cookie, ttl))
        .map_err(|e| ApiError::Internal(anyhow!("{e}")))?;
    Ok(res)
}

/// Sign out (ends the browser session).
#[utoipa::path(delete, path = super::IN_TABLE, operation_id = "deleteSession", tag = "session", responses((status = 204, description = "Signed out")))]
pub async fn logout(state: Shared, req: HttpRequest) -> ApiResult<HttpResponse> {
    if let Some(c) = req.cookie(cookie_name(state.config.secure_cookies)) {
        let value = c.value().to_string();
        let st = state.0.clone();
        web::block(move || session::logout(&st, &value))
            .await
            .map_err(|e| ApiError::Internal(anyhow!("{e}")))??;
    }
    let mut res = HttpResponse::NoContent().finish();
    res.add_cookie(&session_cookie(&state.config, "", 0))
        .map_err(|e| ApiError::Internal(anyhow!("{e}")))?;
    Ok(res)
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub user: UserView,
    pub company: CompanyView,
    /// Effective permissions of this request.
    pub permissions: Vec<String>,
    pub token_id: Option<i64>,
    pub auth_method: AuthMethod,
    /// The credential is a delegated token (made for its owner by someone else).
    pub delegated: bool,
}

/// Who is calling: user, company, effective permissions, token.
#[utoipa::path(get, path = super::IN_TABLE, operation_id = "getMe", tag = "session",
    responses((status = 200, description = "The caller", body = Me), (status = 401, body = ErrorBody)))]
pub async fn me(state: Shared, caller: Caller) -> ApiResult<HttpResponse> {
    let who = caller.clone();
    let company = state.read(move |c| companies::own(c, &who)).await?;
    Ok(HttpResponse::Ok().json(Me {
        user: UserView::from(&caller.user),
        company: CompanyView::from(&company),
        permissions: caller
            .permissions
            .names()
            .iter()
            .map(|s| s.to_string())
            .collect(),
        token_id: caller.token_id,
        auth_method: caller.method,
        delegated: caller.is_delegated(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct PermissionInfo {
    pub name: String,
    pub description: String,
}

#[derive(Serialize, ToSchema)]
pub struct PermissionList {
    pub items: Vec<PermissionInfo>,
}

/// The permission catalogue: tokend's management permissions, then the API scopes of the
/// caller's company (SPEC §18).
#[utoipa::path(get, path = super::IN_TABLE, operation_id = "listPermissions", tag = "session",
    responses((status = 200, description = "Every permission with its description", body = PermissionList), (status = 401, body = ErrorBody)))]
pub async fn permissions(state: Shared, caller: Caller) -> ApiResult<HttpResponse> {
    let company = caller.user.company_id;
    let scopes = state
        .read(move |c| crate::service::scopes::catalogue(c, company))
        .await?;
    let mut items: Vec<PermissionInfo> = Permission::ALL
        .iter()
        .map(|p| PermissionInfo {
            name: p.name().into(),
            description: p.description().into(),
        })
        .collect();
    items.extend(scopes.into_iter().map(|s| PermissionInfo {
        name: s.name,
        description: s.description,
    }));
    items.sort_by(|a, b| {
        crate::domain::permissions::list_rank(&a.name)
            .cmp(&crate::domain::permissions::list_rank(&b.name))
    });
    Ok(HttpResponse::Ok().json(PermissionList { items }))
}
