//! Who is using the console: `PageUser` (a valid session cookie, else a redirect to
//! `/login`) and `SignedForm` (a posted form whose `csrf_token` matches the session's; a
//! mismatch is a 403 page). Every POST handler takes a `SignedForm`, so none can forget it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use askama::Template;

use super::form::FormData;
use super::render::{clear_flash, html, render, Flash, Layout, NavItem, PageError, Section};
use crate::auth::client_ip::client_ip;
use crate::auth::extract::cookie_name;
use crate::auth::session;
use crate::crypto::same_secret;
use crate::domain::caller::Caller;
use crate::domain::permissions::Permission;
use crate::error::ApiError;
use crate::state::AppState;

/// A signed-in console user.
pub struct PageUser {
    pub caller: Caller,
    pub csrf: String,
    pub flash: Option<Flash>,
    pub secure: bool,
    /// `scheme://host` of this request, for the ready-to-copy examples on value pages.
    pub origin: String,
    /// The API scopes of the user's company (name, description), for permission grids.
    pub scopes: Vec<(String, String)>,
}

fn app_state(req: &HttpRequest) -> Result<Arc<AppState>, PageError> {
    req.app_data::<web::Data<AppState>>()
        .map(|d| d.clone().into_inner())
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("application state missing")).into())
}

impl PageUser {
    /// Loads the session named by the cookie; `PageError::Login` when there is none.
    pub async fn load(req: &HttpRequest) -> Result<PageUser, PageError> {
        let state = app_state(req)?;
        let secure = state.config.secure_cookies;
        let cookie = req.cookie(cookie_name(secure)).ok_or(PageError::Login)?;
        let (user, csrf) = session::find(&state, cookie.value())
            .await?
            .ok_or(PageError::Login)?;
        let ip = client_ip(req, &state.config.trusted_proxies).to_string();
        let company = user.company_id;
        let scopes = state
            .read(move |c| crate::service::scopes::catalogue(c, company))
            .await?
            .into_iter()
            .map(|s| (s.name, s.description))
            .collect();
        let flash = req
            .cookie(super::render::flash_cookie_name(secure))
            .and_then(|c| Flash::decode(c.value()));
        let origin = {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        };
        Ok(PageUser {
            caller: Caller::session(user, ip),
            csrf,
            flash,
            secure,
            origin,
            scopes,
        })
    }

    pub fn has(&self, p: Permission) -> bool {
        self.caller.has(p)
    }

    pub fn email(&self) -> &str {
        &self.caller.user.email
    }

    /// The API tokens section exists for this user (SSO users have none, rule 18).
    pub fn has_tokens_section(&self) -> bool {
        !self.caller.user.sso && self.has(Permission::TokensRead)
    }

    /// Administrators manage others' tokens, pick owners and create shared tokens.
    pub fn is_token_admin(&self) -> bool {
        self.caller.is_token_admin()
    }

    /// The page frame, with navigation limited to what this user may use.
    pub fn layout(&self, title: impl Into<String>, active: Section) -> Layout {
        let mut nav = Vec::new();
        let mut add = |href, label, section| {
            nav.push(NavItem {
                href,
                label,
                active: active == section,
            })
        };
        if self.has_tokens_section() {
            add("/", "API tokens", Section::Tokens);
        }
        if self.has(Permission::UsersRead) {
            add("/users", "Users", Section::Users);
        }
        if self.has(Permission::AuditRead) {
            add("/audit", "Audit log", Section::Audit);
        }
        if self.has(Permission::NodesRead) {
            add("/nodes", "Nodes", Section::Nodes);
        }
        if self.has(Permission::SettingsRead) {
            add("/settings", "Settings", Section::Settings);
        }
        add("/profile", "Profile", Section::Profile);
        Layout {
            title: title.into(),
            email: self.caller.user.email.clone(),
            csrf: self.csrf.clone(),
            nav,
            flash: self.flash.clone(),
        }
    }

    /// Renders a page for this user (and clears the flash message it showed).
    pub fn page<T: Template>(&self, t: &T) -> Result<HttpResponse, PageError> {
        self.page_status(actix_web::http::StatusCode::OK, t)
    }

    pub fn page_status<T: Template>(
        &self,
        status: actix_web::http::StatusCode,
        t: &T,
    ) -> Result<HttpResponse, PageError> {
        let mut res = html(status, render(t)?);
        if self.flash.is_some() {
            clear_flash(&mut res, self.secure);
        }
        Ok(res)
    }

    /// A redirect showing `flash` on the next page.
    pub fn redirect(&self, to: &str, flash: Flash) -> HttpResponse {
        super::render::redirect_with(self.secure, to, flash)
    }
}

impl FromRequest for PageUser {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<PageUser, PageError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { PageUser::load(&req).await })
    }
}

/// A posted form from a signed-in user, its CSRF token verified (constant-time).
pub struct SignedForm {
    pub user: PageUser,
    pub form: FormData,
}

impl FromRequest for SignedForm {
    type Error = PageError;
    type Future = Pin<Box<dyn Future<Output = Result<SignedForm, PageError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Bytes::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let user = PageUser::load(&req).await?;
            // Rule 34: the 64 KiB limit (`payload_config`) holds for chunked bodies too.
            let body = body.await.map_err(|e| {
                let status = e.as_response_error().status_code();
                if status == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE {
                    PageError::show(
                        status,
                        "Form too large",
                        "The form is larger than 64 KiB and was not read.",
                    )
                } else {
                    PageError::show(
                        actix_web::http::StatusCode::BAD_REQUEST,
                        "Form not readable",
                        "The form could not be read (interrupted or malformed).",
                    )
                }
            })?;
            let form = FormData::parse(&body);
            if form.oversized().is_some() {
                return Err(PageError::show(
                    actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "Field too long",
                    "A field of the form is longer than 4096 bytes; nothing was saved.",
                ));
            }
            if form.has_controls().is_some() {
                return Err(PageError::show(
                    actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "Control characters",
                    "A field of the form holds a control character; nothing was saved.",
                ));
            }
            if !same_secret(&user.csrf, form.get("csrf_token")) {
                return Err(PageError::csrf());
            }
            Ok(SignedForm { user, form })
        })
    }
}
