//! Forward-auth (`/v1/auth/verify`, the hot path): the checks of the `Caller` extractor
//! without building a `Caller`, and the `X-Auth-*` identity headers of the answer.

use std::sync::Arc;

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::HttpRequest;

use super::client_ip::client_ip;
use super::extract::{
    authenticate, check, header_credential, legacy_row, token_row, HeaderCredential,
};
use crate::db::tokens::AuthRow;
use crate::domain::permissions::PermissionSet;
use crate::error::{ApiError, ApiResult, Challenge};
use crate::state::index::{Cached, IdentityHeaders};
use crate::state::AppState;

pub const X_AUTH_USER_ID: HeaderName = HeaderName::from_static("x-auth-user-id");
pub const X_AUTH_USER_EMAIL: HeaderName = HeaderName::from_static("x-auth-user-email");
pub const X_AUTH_COMPANY_ID: HeaderName = HeaderName::from_static("x-auth-company-id");
pub const X_AUTH_TOKEN_ID: HeaderName = HeaderName::from_static("x-auth-token-id");
pub const X_AUTH_PERMISSIONS: HeaderName = HeaderName::from_static("x-auth-permissions");

impl IdentityHeaders {
    /// `None` when a value cannot be a header value (the caller then reports the error).
    fn render(row: &AuthRow) -> Option<IdentityHeaders> {
        let v = |s: String| HeaderValue::try_from(s).ok();
        Some(IdentityHeaders {
            values: [
                (X_AUTH_USER_ID, v(row.owner.id.to_string())?),
                (X_AUTH_USER_EMAIL, v(row.owner.email.clone())?),
                (X_AUTH_COMPANY_ID, v(row.owner.company_id.to_string())?),
                (X_AUTH_TOKEN_ID, v(row.token_id.to_string())?),
                (X_AUTH_PERMISSIONS, v(row.effective.names().join(" "))?),
            ],
        })
    }
}

/// A caller admitted by `/v1/auth/verify`: the checked row and its effective permissions.
pub struct Forwarded {
    pub row: Arc<Cached>,
    pub permissions: PermissionSet,
}

impl Forwarded {
    /// The `X-Auth-*` headers, rendered on the first use of this row.
    pub fn headers(&self) -> Option<&IdentityHeaders> {
        self.row
            .identity
            .get_or_init(|| IdentityHeaders::render(&self.row))
            .as_ref()
    }
}

/// Authentication for forward-auth (`/v1/auth/verify`, the hot path): the same checks,
/// outcomes and last-use recording as the `Caller` extractor, without building a `Caller`
/// (no clone of the owner, no IP text, no allocation on a cache hit). A browser session is
/// authenticated as usual and then refused as missing credentials.
pub async fn authenticate_forward(
    state: &Arc<AppState>,
    req: &HttpRequest,
) -> ApiResult<Forwarded> {
    let ip = client_ip(req, &state.config.trusted_proxies);
    let row = match header_credential(req) {
        HeaderCredential::Token(v) => token_row(state, v).await?,
        HeaderCredential::Legacy { uuid, secret } => legacy_row(state, uuid, secret, ip).await?,
        HeaderCredential::Other => {
            authenticate(state.clone(), req).await?;
            // Forward-auth answers for API credentials only, never for a browser session.
            return Err(ApiError::Unauthenticated(Challenge::Missing));
        }
    };
    let permissions = check(state, Some(req), &row, ip).await?.permissions;
    Ok(Forwarded { row, permissions })
}

/// The API scopes `company` defines (sorted), as verify asks for a scope a token does not
/// name: from memory after the first read, until a write that can change authentication.
pub async fn defined_scopes(state: &Arc<AppState>, company: i64) -> ApiResult<Arc<[String]>> {
    if let Some(d) = state.index.company_scopes(company) {
        return Ok(d);
    }
    let generation = state.index.generation();
    let d: Arc<[String]> = state
        .read(move |c| Ok::<_, ApiError>(crate::db::scopes::names(c, company)?))
        .await?
        .into();
    state
        .index
        .store_company_scopes(generation, company, d.clone());
    Ok(d)
}
