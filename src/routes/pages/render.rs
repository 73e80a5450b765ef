//! Rendering: the page layout (header, navigation, flash message), HTML responses, redirects,
//! and `PageError`, which turns any failure into an HTML error page (or a redirect to log in).

use std::fmt;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::error::ApiError;
use crate::service;

pub type PageResult = Result<HttpResponse, PageError>;

/// Where a page sits in the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Tokens,
    Users,
    Audit,
    Settings,
    Nodes,
    Profile,
    None,
}

#[derive(Debug, Clone)]
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub active: bool,
}

/// A one-time message carried to the next page in a short-lived cookie.
#[derive(Debug, Clone)]
pub struct Flash {
    /// `ok` or `error` (a CSS class suffix).
    pub kind: &'static str,
    pub text: String,
}

impl Flash {
    pub fn ok(text: impl Into<String>) -> Flash {
        Flash {
            kind: "ok",
            text: text.into(),
        }
    }

    pub fn error(text: impl Into<String>) -> Flash {
        Flash {
            kind: "error",
            text: text.into(),
        }
    }

    fn encode(&self) -> String {
        let raw = format!("{}:{}", self.kind, self.text);
        url::form_urlencoded::byte_serialize(raw.as_bytes()).collect()
    }

    pub fn decode(v: &str) -> Option<Flash> {
        let raw: String = url::form_urlencoded::parse(format!("f={v}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())?;
        let (kind, text) = raw.split_once(':')?;
        let text: String = text.chars().take(500).collect();
        match kind {
            "ok" => Some(Flash::ok(text)),
            "error" => Some(Flash::error(text)),
            _ => None,
        }
    }
}

pub fn flash_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-tokend_flash"
    } else {
        "tokend_flash"
    }
}

fn flash_cookie(secure: bool, value: String, max_age: i64) -> Cookie<'static> {
    let mut c = Cookie::build(flash_cookie_name(secure), value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age))
        .finish();
    if max_age == 0 {
        c.make_removal();
    }
    c
}

/// The frame of every page: title, the signed-in user, navigation and a flash message.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub title: String,
    /// Empty when nobody is signed in (login and some error pages).
    pub email: String,
    pub csrf: String,
    pub nav: Vec<NavItem>,
    pub flash: Option<Flash>,
}

impl Layout {
    pub fn anonymous(title: impl Into<String>) -> Layout {
        Layout {
            title: title.into(),
            ..Layout::default()
        }
    }
}

pub fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body)
}

pub fn render<T: Template>(t: &T) -> Result<String, PageError> {
    t.render()
        .map_err(|e| PageError::from(ApiError::Internal(anyhow::anyhow!("template: {e}"))))
}

/// 303 See Other: the answer to every successful form post (post/redirect/get).
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to.to_string()))
        .finish()
}

/// A redirect that shows `flash` on the next page.
pub fn redirect_with(secure: bool, to: &str, flash: Flash) -> HttpResponse {
    let mut res = see_other(to);
    // Adding a well-formed cookie cannot fail; a failure would only lose the message.
    let _ = res.add_cookie(&flash_cookie(secure, flash.encode(), 60));
    res
}

/// Clears the flash cookie once its message has been shown.
pub fn clear_flash(res: &mut HttpResponse, secure: bool) {
    let _ = res.add_cookie(&flash_cookie(secure, String::new(), 0));
}

/// Anything a page can fail with.
#[derive(Debug)]
pub enum PageError {
    /// No valid session: go to the login page.
    Login,
    Show {
        status: StatusCode,
        title: &'static str,
        message: String,
    },
}

impl PageError {
    pub fn show(status: StatusCode, title: &'static str, message: impl Into<String>) -> PageError {
        PageError::Show {
            status,
            title,
            message: message.into(),
        }
    }

    pub fn not_found() -> PageError {
        PageError::from(ApiError::NotFound)
    }

    pub fn csrf() -> PageError {
        PageError::show(
            StatusCode::FORBIDDEN,
            "Form expired",
            "This form could not be verified (missing or wrong security token). Go back, reload the page and try again.",
        )
    }
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        let status = e.status_code();
        match e {
            ApiError::Unauthenticated(_) => PageError::Login,
            ApiError::NotFound => PageError::show(
                status,
                "Not found",
                "This page does not exist, or you may not see it.",
            ),
            ApiError::Internal(err) => {
                tracing::error!(error = ?err, "internal error in the console");
                PageError::show(
                    status,
                    "Something went wrong",
                    "An internal error occurred; it has been logged.",
                )
            }
            ApiError::Forbidden { .. } => PageError::show(status, "Not allowed", e.to_string()),
            other => PageError::show(status, "Request refused", other.to_string()),
        }
    }
}

/// The console's reading of a service failure: the same page for the same kind of failure.
impl From<service::Error> for PageError {
    fn from(e: service::Error) -> Self {
        PageError::from(ApiError::from(e))
    }
}

/// The console's readings of a failed operation (`in_place`, `on_form`, `on_sign_in`),
/// decided here only.
///
/// An action answered in place (a flash, or a form that shows refusals): a refusal, a
/// conflict or invalid input says why on the page the person came from (`Ok(e)`); anything
/// else (not found, storage unavailable, internal) is an error page (`Err`).
pub fn in_place(e: impl Into<ApiError>) -> Result<ApiError, PageError> {
    match e.into() {
        e @ (ApiError::Forbidden { .. } | ApiError::TooManyAttempts { .. }) => Ok(e),
        e if is_about_input(&e) => Ok(e),
        e => Err(e.into()),
    }
}

/// A form submission: invalid input and conflicts are shown on the form beside their fields
/// (`Ok(e)`); anything else, a refusal included, is an error page (`Err`).
pub fn on_form(e: impl Into<ApiError>) -> Result<ApiError, PageError> {
    match e.into() {
        e if is_about_input(&e) => Ok(e),
        e => Err(e.into()),
    }
}

/// A sign-in attempt: wrong credentials, a refusal, a throttle or a busy server are said on
/// the sign-in form (`Ok(e)`); an internal or storage failure is an error page (`Err`).
pub fn on_sign_in(e: ApiError) -> Result<ApiError, PageError> {
    match e {
        e @ (ApiError::Internal(_) | ApiError::StorageUnavailable) => Err(e.into()),
        e => Ok(e),
    }
}

/// Invalid input, a conflict, or a request that cannot be read: the person fixes what they
/// typed.
fn is_about_input(e: &ApiError) -> bool {
    matches!(
        e,
        ApiError::Unprocessable { .. } | ApiError::Conflict { .. } | ApiError::BadRequest(_)
    )
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PageError::Login => f.write_str("login required"),
            PageError::Show { title, message, .. } => write!(f, "{title}: {message}"),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    status: u16,
    message: &'a str,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::Login => StatusCode::SEE_OTHER,
            PageError::Show { status, .. } => *status,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            PageError::Login => see_other("/login"),
            PageError::Show {
                status,
                title,
                message,
            } => error_page(Layout::anonymous(*title), *status, message),
        }
    }
}

/// An error page in the site's layout: `layout` carries the title, and the navigation when
/// someone is signed in (an anonymous layout offers *Sign in* instead).
pub fn error_page(layout: Layout, status: StatusCode, message: &str) -> HttpResponse {
    let title = layout.title.clone();
    let page = ErrorPage {
        layout,
        status: status.as_u16(),
        message,
    };
    match page.render() {
        Ok(body) => html(status, body),
        Err(_) => HttpResponse::build(status).body(format!("{title}: {message}")),
    }
}
