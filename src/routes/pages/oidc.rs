//! *Sign in with SSO* through OpenID Connect (rule 18, docs/SSO.md): `GET /login/oidc` sends
//! the browser to the provider with a fresh `state` (kept in an HttpOnly cookie too), and
//! `GET /login/oidc/callback` finishes: the state must match the browser's, the code is
//! exchanged, the ID token verified, and the service decides whether the user gets a session.
//! Refusals are 403 pages, an unreachable provider a 502 page; all are audited.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::render::{see_other, PageError, PageResult};
use crate::auth::client_ip::client_ip;
use crate::auth::oidc::{Oidc, OidcClient, OidcError, FLOW_TTL};
use crate::error::ApiError;
use crate::routes::shared::session_cookie;
use crate::state::Shared;

fn flow_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Secure-tokend_oidc"
    } else {
        "tokend_oidc"
    }
}

/// The started sign-in's `state`, for the callback only. `Lax`: the provider's redirect back
/// is a cross-site top-level navigation.
fn flow_cookie(secure: bool, value: &str, max_age_secs: i64) -> Cookie<'static> {
    let mut c = Cookie::build(flow_cookie_name(secure), value.to_string())
        .path("/login/oidc")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age_secs))
        .finish();
    if max_age_secs == 0 {
        c.make_removal();
    }
    c
}

/// The configured redirect URL, else this server's callback as the request names it.
fn redirect_url(client: &OidcClient, req: &HttpRequest) -> String {
    client.config().redirect_url.clone().unwrap_or_else(|| {
        let info = req.connection_info();
        format!("{}://{}/login/oidc/callback", info.scheme(), info.host())
    })
}

fn configured(oidc: &web::Data<Oidc>) -> Result<(), PageError> {
    oidc.client().map(|_| ()).ok_or_else(PageError::not_found)
}

fn blocking_failed(e: impl std::fmt::Display) -> PageError {
    ApiError::Internal(anyhow::anyhow!("blocking task failed: {e}")).into()
}

/// Audits a failed sign-in and returns the page that explains it.
async fn refuse(
    state: &Shared,
    req: &HttpRequest,
    err: OidcError,
) -> Result<HttpResponse, PageError> {
    let ip = client_ip(req, &state.config.trusted_proxies).to_string();
    let (reason, email, detail, page) = match err {
        OidcError::Unavailable(detail) => {
            tracing::warn!(%detail, "OpenID Connect provider unavailable");
            let page = PageError::show(
                StatusCode::BAD_GATEWAY,
                "Single sign-on unavailable",
                "The identity provider cannot be reached right now. Try again later, or sign in with a password if your account has one.",
            );
            ("provider_unavailable", None, detail, page)
        }
        OidcError::Refused {
            reason,
            detail,
            email,
        } => {
            tracing::info!(reason, %detail, "OpenID Connect sign-in refused");
            let message = match reason {
                "state_mismatch" | "state_unknown" => "This sign-in is not valid for this browser, has expired or was already used. Start again from the login page.",
                "code_rejected" => "The identity provider did not accept this sign-in (the code may have been used already). Start again from the login page.",
                "email_unverified" => "The identity provider has not verified your email address, so it cannot sign you in here.",
                "provider_error" => "The identity provider did not complete the sign-in.",
                _ => "The identity provider's answer could not be verified.",
            };
            let page = PageError::show(StatusCode::FORBIDDEN, "Sign-in refused", message);
            (reason, email, detail, page)
        }
    };
    let st = state.0.clone();
    web::block(move || {
        crate::auth::oidc::signin::login_failed(
            &st,
            email.as_deref(),
            reason,
            Some(&detail),
            Some(ip),
        )
    })
    .await
    .map_err(blocking_failed)??;
    Err(page)
}

/// `GET /login/oidc`: to the provider's sign-in page.
pub async fn start(state: Shared, oidc: web::Data<Oidc>, req: HttpRequest) -> PageResult {
    configured(&oidc)?;
    let secure = state.config.secure_cookies;
    let now = state.now_ms();
    let o = oidc.clone();
    let redirect = o
        .client()
        .map(|c| redirect_url(c, &req))
        .unwrap_or_default();
    let started = web::block(move || match o.client() {
        Some(c) => c.begin(&redirect, now),
        None => Err(OidcError::Unavailable("not configured".into())),
    })
    .await
    .map_err(blocking_failed)?;
    match started {
        Ok(s) => {
            let mut res = see_other(&s.url);
            let ttl = FLOW_TTL.as_secs() as i64;
            let _ = res.add_cookie(&flow_cookie(secure, &s.state, ttl));
            Ok(res)
        }
        Err(e) => refuse(&state, &req, e).await,
    }
}

/// `GET /login/oidc/callback?code=…&state=…` (or `?error=…`): the provider's answer.
pub async fn callback(state: Shared, oidc: web::Data<Oidc>, req: HttpRequest) -> PageResult {
    configured(&oidc)?;
    let secure = state.config.secure_cookies;
    let query: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    let param = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let browser = req
        .cookie(flow_cookie_name(secure))
        .map(|c| c.value().to_string());
    let (code, flow) = match (param("code"), param("state"), param("error")) {
        (Some(code), Some(flow), None) => (code, flow),
        (_, flow, error) => {
            if let (Some(c), Some(f)) = (oidc.client(), &flow) {
                if browser.as_deref() == Some(f.as_str()) {
                    c.abandon(f);
                }
            }
            let detail = error.unwrap_or_else(|| "no code or state".into());
            let err = OidcError::Refused {
                reason: "provider_error",
                detail,
                email: None,
            };
            return refuse(&state, &req, err).await;
        }
    };
    // RFC 9207: a provider that names itself must be the configured one (mix-up defence).
    if let (Some(iss), Some(c)) = (param("iss"), oidc.client()) {
        if iss != c.config().issuer {
            let err = OidcError::Refused {
                reason: "issuer_mismatch",
                detail: format!("the answer came from {iss}"),
                email: None,
            };
            return refuse(&state, &req, err).await;
        }
    }
    let now = state.now();
    let o = oidc.clone();
    let verified = web::block(move || match o.client() {
        Some(c) => c.finish(&flow, browser.as_deref(), &code, now),
        None => Err(OidcError::Unavailable("not configured".into())),
    })
    .await
    .map_err(blocking_failed)?;
    let verified = match verified {
        Ok(v) => v,
        Err(e) => return refuse(&state, &req, e).await,
    };
    let ip = client_ip(&req, &state.config.trusted_proxies).to_string();
    let st = state.0.clone();
    let session = web::block(move || {
        crate::auth::oidc::signin::login(&st, &verified.email, verified.name.as_deref(), Some(ip))
    })
    .await
    .map_err(blocking_failed)?;
    match session {
        Ok(s) => {
            let ttl = state.config.session_ttl.as_secs() as i64;
            let mut res = see_other("/");
            let _ = res.add_cookie(&session_cookie(&state.config, &s.cookie, ttl));
            let _ = res.add_cookie(&flow_cookie(secure, "", 0));
            Ok(res)
        }
        Err(ApiError::Forbidden { message, .. }) => Err(PageError::show(
            StatusCode::FORBIDDEN,
            "Sign-in refused",
            message,
        )),
        Err(e) => Err(e.into()),
    }
}
