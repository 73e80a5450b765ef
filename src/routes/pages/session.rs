//! Signing in and out: the login page (password form, or SSO through a trusted authenticating
//! proxy — rule 18) and logout. The login form is protected against login CSRF by a
//! double-submit token: a random value in a short-lived cookie that the form must repeat.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::auth::{PageUser, SignedForm};
use super::form::FormData;
use super::render::{html, on_sign_in, render, see_other, Layout, PageError, PageResult};
use crate::auth::client_ip::{client_ip, in_nets, peer_ip};
use crate::auth::extract::cookie_name;
use crate::auth::session::{self, NewSession};
use crate::crypto::same_secret;
use crate::domain::secret::Secret;
use crate::error::ApiError;
use crate::routes::passwords::password_login;
use crate::routes::session_cookie::{session_cookie, start_session};
use crate::state::Shared;

const LOGIN_COOKIE: &str = "tokend_login";

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    csrf: String,
    email: String,
    error: Option<String>,
    /// *Sign in with SSO* (OpenID Connect) is configured.
    oidc: bool,
}

fn login_cookie(secure: bool, value: &str) -> Cookie<'static> {
    Cookie::build(LOGIN_COOKIE, value.to_string())
        .path("/login")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(actix_web::cookie::time::Duration::hours(2))
        .finish()
}

/// Renders the login form, keeping (or issuing) the login CSRF cookie.
fn login_form(
    req: &HttpRequest,
    secure: bool,
    status: StatusCode,
    email: String,
    error: Option<String>,
) -> PageResult {
    let csrf = req
        .cookie(LOGIN_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| v.len() >= 32)
        .unwrap_or_else(crate::crypto::random_token::<32>);
    let page = LoginPage {
        layout: Layout::anonymous("Log in"),
        csrf: csrf.clone(),
        email,
        error,
        oidc: req
            .app_data::<web::Data<crate::auth::oidc::Oidc>>()
            .is_some_and(|o| o.client().is_some()),
    };
    let mut res = html(status, render(&page)?);
    let _ = res.add_cookie(&login_cookie(secure, &csrf));
    Ok(res)
}

/// A response that opens the new session and goes to the console.
fn signed_in(state: &Shared, s: &NewSession) -> HttpResponse {
    let ttl = state.config.session_ttl.as_secs() as i64;
    let mut res = see_other("/");
    let _ = res.add_cookie(&session_cookie(&state.config, &s.cookie, ttl));
    res
}

/// The SSO user named by the proxy's header, when the request comes from a trusted proxy.
/// From any other address the header is ignored.
fn sso_email(state: &Shared, req: &HttpRequest) -> Option<String> {
    let header = state.config.sso_header.as_deref()?;
    if !in_nets(peer_ip(req), &state.config.sso_trusted_proxies) {
        return None;
    }
    req.headers()
        .get(header)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// `GET /login`: SSO sign-in through the trusted proxy, else the password form.
pub async fn login_page(state: Shared, req: HttpRequest) -> PageResult {
    let secure = state.config.secure_cookies;
    if let Some(email) = sso_email(&state, &req) {
        let ip = client_ip(&req, &state.config.trusted_proxies).to_string();
        return match start_session(&state, move |st| session::sso_login(st, &email, Some(ip))).await
        {
            Ok(s) => Ok(signed_in(&state, &s)),
            Err(e) => login_form(
                &req,
                secure,
                StatusCode::FORBIDDEN,
                String::new(),
                Some(on_sign_in(e)?.to_string()),
            ),
        };
    }
    if req.cookie(cookie_name(secure)).is_some() && PageUser::load(&req).await.is_ok() {
        return Ok(see_other("/"));
    }
    login_form(&req, secure, StatusCode::OK, String::new(), None)
}

/// `POST /login`: password sign-in.
pub async fn login(state: Shared, req: HttpRequest, body: web::Bytes) -> PageResult {
    let secure = state.config.secure_cookies;
    let form = FormData::parse(&body);
    let email = form.text("email");
    let expected = req
        .cookie(LOGIN_COOKIE)
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    if !same_secret(&expected, form.get("csrf_token")) {
        return login_form(
            &req,
            secure,
            StatusCode::FORBIDDEN,
            email,
            Some("The login form expired. Please try again.".into()),
        );
    }
    // Rules 28 and 44: a field holding a control character is a failed sign-in, answered at
    // once; that text is kept nowhere (not in the audit, not in the form shown again).
    if form.has_controls().is_some() {
        return login_form(
            &req,
            secure,
            StatusCode::UNAUTHORIZED,
            String::new(),
            Some("Invalid email or password.".into()),
        );
    }
    let password = Secret::new(form.text("password"));
    let ip = client_ip(&req, &state.config.trusted_proxies).to_string();
    match password_login(&state, email.clone(), password, ip).await {
        Ok(s) => {
            let mut res = signed_in(&state, &s);
            let mut gone = login_cookie(secure, "");
            gone.make_removal();
            let _ = res.add_cookie(&gone);
            Ok(res)
        }
        Err(e) => {
            let e = on_sign_in(e)?;
            let message = match &e {
                ApiError::InvalidCredentials => "Invalid email or password.".to_string(),
                ApiError::TooManyAttempts { .. } => {
                    "Too many failed attempts. Try again later.".to_string()
                }
                ApiError::Busy { .. } => "The server is busy. Try again in a moment.".to_string(),
                ApiError::Forbidden {
                    code: "sso_user", ..
                } => {
                    "This account signs in through single sign-on, not with a password.".to_string()
                }
                other => other.to_string(),
            };
            let mut res = login_form(&req, secure, e_status(&e), email, Some(message))?;
            if let Some(secs) = e.retry_after() {
                res.headers_mut().insert(
                    actix_web::http::header::RETRY_AFTER,
                    actix_web::http::header::HeaderValue::from(secs),
                );
            }
            Ok(res)
        }
    }
}

fn e_status(e: &ApiError) -> StatusCode {
    use actix_web::ResponseError;
    e.status_code()
}

/// `POST /logout`: ends the session and clears the cookie.
pub async fn logout(state: Shared, req: HttpRequest, _form: SignedForm) -> PageResult {
    let secure = state.config.secure_cookies;
    if let Some(c) = req.cookie(cookie_name(secure)) {
        let value = c.value().to_string();
        let st = state.0.clone();
        web::block(move || session::logout(&st, &value))
            .await
            .map_err(|e| PageError::from(ApiError::Internal(anyhow::anyhow!("{e}"))))??;
    }
    let mut res = see_other("/login");
    let _ = res.add_cookie(&session_cookie(&state.config, "", 0));
    Ok(res)
}
