//! The profile page: the signed-in user, what they may do, their own API tokens, and the
//! form that changes their own password (rule 37: the current password first).

use actix_web::http::StatusCode;
use askama::Template;

use super::auth::{PageUser, SignedForm};
use super::form::{explain, FieldErrors};
use super::render::{Flash, Layout, PageResult, Section};
use super::tokens::TokenItem;
use crate::auth::session;
use crate::domain::listing::TokenFilter;
use crate::domain::names::check_password;
use crate::domain::permissions::Permission;
use crate::domain::secret::Secret;
use crate::error::{ApiError, ApiResult};
use crate::routes::passwords::{hash_password, reauthenticate};
use crate::routes::session_cookie::{session_cookie, start_session};
use crate::service::console::{self, Controls};
use crate::service::tokens as svc;
use crate::service::users::change_own_password;
use crate::service::Page;
use crate::state::Shared;

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    layout: Layout,
    email: String,
    name: String,
    role: &'static str,
    sso: bool,
    permissions: Vec<(&'static str, &'static str)>,
    has_tokens: bool,
    can_create: bool,
    tokens: Vec<TokenItem>,
    more: bool,
    /// Where the status toggle returns.
    back: &'static str,
    /// The password form's messages (its fields are never filled back in, rule 34).
    errors: FieldErrors,
    error: Option<String>,
}

/// `GET /profile`: who I am, what I may do, and my own API tokens.
pub async fn profile(state: Shared, user: PageUser) -> PageResult {
    render(&state, &user, StatusCode::OK, FieldErrors::default(), None).await
}

async fn render(
    state: &Shared,
    user: &PageUser,
    status: StatusCode,
    errors: FieldErrors,
    error: Option<String>,
) -> PageResult {
    let has_tokens = user.has_tokens_section();
    let (items, next) = if has_tokens {
        own_tokens(state, user).await?
    } else {
        (Vec::new(), None)
    };
    let u = &user.caller.user;
    user.page_status(
        status,
        &ProfilePage {
            layout: user.layout("Profile", Section::Profile),
            email: u.email.clone(),
            name: u.name.clone(),
            role: u.role.label(),
            sso: u.sso,
            permissions: u
                .permissions()
                .iter()
                .map(|p| (p.name(), p.description()))
                .collect(),
            has_tokens,
            can_create: has_tokens && user.has(Permission::TokensWrite),
            tokens: items,
            more: next.is_some(),
            back: "/profile",
            errors,
            error,
        },
    )
}

/// The first page of the user's own tokens, with their controls.
async fn own_tokens(
    state: &Shared,
    user: &PageUser,
) -> ApiResult<(Vec<TokenItem>, Option<String>)> {
    let env = state.env();
    let now = env.now;
    let caller = user.caller.clone();
    let filter = TokenFilter {
        owner_id: Some(caller.user.id),
        ..TokenFilter::default()
    };
    state
        .read(move |c| {
            let page = Page {
                before: None,
                limit: 20,
            };
            let (items, next) = svc::list(c, &env, &caller, &filter, page)?;
            let ids: Vec<i64> = items.iter().map(|t| t.id).collect();
            let controls = console::controls(c, &caller, &ids)?;
            let rows = items
                .iter()
                .map(|v| {
                    let ctl = controls.get(&v.id).copied().unwrap_or(Controls::default());
                    TokenItem::new(v, ctl, now)
                })
                .collect::<Vec<_>>();
            Ok((rows, next))
        })
        .await
}

/// `POST /profile/password`: changes one's own password. The current password is verified
/// first (argon2, counted by the login throttle, rule 37); on success every session of the
/// user ends and this browser gets a fresh one (new cookie and CSRF token).
pub async fn change_password(state: Shared, sf: SignedForm) -> PageResult {
    let SignedForm { user, form: f } = sf;
    crate::service::policy::ensure_has_no_sso(&user.caller.user)?;
    let current = Secret::new(f.text("current_password"));
    let new = Secret::new(f.text("password"));
    let mut errors = FieldErrors::default();
    if current.is_empty() {
        errors.set("current_password", "Enter your current password.");
    }
    // Rule 28: bounded before any hashing.
    if let Err(m) = check_password(new.expose()) {
        errors.set("password", m);
    } else if f.text("password_confirm") != new.expose() {
        errors.set("password_confirm", "The two new passwords differ.");
    }
    if !errors.is_empty() {
        let banner = "Please correct the highlighted fields.".to_string();
        return render(
            &state,
            &user,
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
            Some(banner),
        )
        .await;
    }
    let caller = user.caller.clone();
    let result = async {
        let proof = reauthenticate(&state, &caller, current).await?;
        let hash = hash_password(&state, Some(new))
            .await?
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("no password hash")))?;
        let env = state.env();
        let who = caller.clone();
        state
            .write(move |tx| change_own_password(tx, &env, &who, &proof, &hash))
            .await?;
        let (u, ip) = (caller.user.clone(), caller.ip.clone());
        start_session(&state, move |st| session::reissue(st, u, ip)).await
    }
    .await;
    match result {
        Ok(s) => {
            let mut res = user.redirect(
                "/profile",
                Flash::ok("Password changed. Your other sessions have been signed out."),
            );
            let ttl = state.config.session_ttl.as_secs() as i64;
            res.add_cookie(&session_cookie(&state.config, &s.cookie, ttl))
                .map_err(|e| ApiError::Internal(anyhow::anyhow!("{e}")))?;
            Ok(res)
        }
        Err(e) if e.code() == "current_password_wrong" => {
            let (errors, banner) = explain(&e, &[]);
            render(&state, &user, StatusCode::FORBIDDEN, errors, Some(banner)).await
        }
        Err(e) => Err(e.into()),
    }
}
