//! *Sign in with SSO* through OpenID Connect (rule 18, docs/SSO.md): `GET /login/oidc` sends
//! the browser to the provider with a fresh `state`, the sign-in itself sealed into an
//! HttpOnly cookie (rule 41: nothing is kept on the server), and `GET /login/oidc/callback`
//! finishes: the state must match the cookie's, the code is exchanged, the ID token verified,
//! and the service decides whether the user gets a session. Refusals are 403 pages, an
//! unreachable provider a 502 page; all are audited, the provider's `error` and `iss` texts
//! cut to 128 bytes.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::render::{see_other, PageError, PageResult};
use crate::auth::client_ip::client_ip;
use crate::auth::oidc::{Flow, Oidc, OidcClient, OidcError, FLOW_TTL};
use crate::crypto::same_secret;
use crate::error::ApiError;
use crate::routes::session_cookie::session_cookie;
use crate::service::audit::clip;
use crate::state::Shared;

fn flow_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Secure-tokend_oidc"
    } else {
        "tokend_oidc"
    }
}

/// What the audit log keeps of the callback's `error` and `iss` texts (rule 41).
const CALLBACK_TEXT_MAX: usize = 128;

/// The started sign-in, sealed, for the callback only. `Lax`: the provider's redirect back
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

/// Audits a failed sign-in and answers with the page that explains it; `clear` also ends the
/// browser's sign-in (its state was the one this answer was about).
async fn refuse(
    state: &Shared,
    req: &HttpRequest,
    err: OidcError,
    clear: bool,
) -> Result<HttpResponse, PageError> {
    use actix_web::ResponseError;
    let page = refusal(state, req, err).await?;
    if !clear {
        return Err(page);
    }
    let mut res = page.error_response();
    let _ = res.add_cookie(&flow_cookie(state.config.secure_cookies, "", 0));
    Ok(res)
}

/// Audits a failed sign-in; the page that explains it.
async fn refusal(
    state: &Shared,
    req: &HttpRequest,
    err: OidcError,
) -> Result<PageError, PageError> {
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
    Ok(page)
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
            let sealed = s.flow.seal(&state.keys);
            let _ = res.add_cookie(&flow_cookie(secure, &sealed, ttl));
            Ok(res)
        }
        Err(e) => refuse(&state, &req, e, false).await,
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
    let flow = req
        .cookie(flow_cookie_name(secure))
        .and_then(|c| Flow::open(&state.keys, c.value()));
    // Whether the answer is about this browser's sign-in: then any outcome ends it. A callback
    // with another state leaves it alone (it may be forged; the real answer may still come).
    let ours = |s: &Option<String>| {
        flow.as_ref()
            .is_some_and(|f| same_secret(f.state(), s.as_deref()))
    };
    let (code, flow_state) = match (param("code"), param("state"), param("error")) {
        (Some(code), Some(flow_state), None) => (code, flow_state),
        (_, flow_state, error) => {
            let detail = match error {
                Some(e) => clip(&e, CALLBACK_TEXT_MAX).to_string(),
                None => "no code or state".into(),
            };
            let err = OidcError::Refused {
                reason: "provider_error",
                detail,
                email: None,
            };
            return refuse(&state, &req, err, ours(&flow_state)).await;
        }
    };
    // RFC 9207: a provider that names itself must be the configured one (mix-up defence).
    if let (Some(iss), Some(c)) = (param("iss"), oidc.client()) {
        if iss != c.config().issuer {
            let err = OidcError::Refused {
                reason: "issuer_mismatch",
                detail: format!("the answer came from {}", clip(&iss, CALLBACK_TEXT_MAX)),
                email: None,
            };
            return refuse(&state, &req, err, false).await;
        }
    }
    let clear = ours(&Some(flow_state.clone()));
    let now = state.now();
    let o = oidc.clone();
    let verified = web::block(move || match o.client() {
        Some(c) => c.finish(&flow_state, flow.as_ref(), &code, now),
        None => Err(OidcError::Unavailable("not configured".into())),
    })
    .await
    .map_err(blocking_failed)?;
    let verified = match verified {
        Ok(v) => v,
        Err(e) => return refuse(&state, &req, e, clear).await,
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
        Err(ApiError::Forbidden { message, .. }) => {
            use actix_web::ResponseError;
            let page = PageError::show(StatusCode::FORBIDDEN, "Sign-in refused", message);
            let mut res = page.error_response();
            let _ = res.add_cookie(&flow_cookie(secure, "", 0));
            Ok(res)
        }
        Err(e) => Err(e.into()),
    }
}
