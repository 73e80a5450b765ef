//! Company settings: the token reveal policy and the maximum token lifetime.

use actix_web::http::StatusCode;
use askama::Template;

use super::auth::{PageUser, SignedForm};
use super::form::{explain, FieldErrors};
use super::render::{Flash, Layout, PageResult, Section};
use super::view::{options, Opt};
use crate::domain::permissions::Permission;
use crate::error::ApiError;
use crate::service::companies::{self, SettingsView, UpdateSettings};
use crate::state::Shared;

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    layout: Layout,
    reveal: Vec<Opt>,
    max_days: String,
    can_write: bool,
    errors: FieldErrors,
    error: Option<String>,
}

fn render_settings(
    user: &PageUser,
    status: StatusCode,
    reveal: &str,
    max_days: String,
    errors: FieldErrors,
    error: Option<String>,
) -> PageResult {
    user.page_status(
        status,
        &SettingsPage {
            layout: user.layout("Settings", Section::Settings),
            reveal: options(
                &[
                    (
                        "allowed",
                        "Allowed: owners can reveal their tokens' values later",
                    ),
                    (
                        "show_once",
                        "Show once: values are shown only when created or regenerated",
                    ),
                ],
                reveal,
            ),
            max_days,
            can_write: user.has(Permission::SettingsWrite),
            errors,
            error,
        },
    )
}

fn days_text(s: &SettingsView) -> String {
    s.max_token_lifetime_days
        .map(|d| d.to_string())
        .unwrap_or_default()
}

/// `GET /settings`.
pub async fn settings(state: Shared, user: PageUser) -> PageResult {
    let caller = user.caller.clone();
    let s = state
        .read(move |c| companies::settings(c, &caller, None))
        .await?;
    render_settings(
        &user,
        StatusCode::OK,
        &s.token_reveal,
        days_text(&s),
        FieldErrors::default(),
        None,
    )
}

/// `POST /settings`.
pub async fn save_settings(state: Shared, sf: SignedForm) -> PageResult {
    let SignedForm { user, form } = sf;
    let reveal = form.text("token_reveal");
    let days_raw = form.text("max_token_lifetime_days").trim().to_string();
    let mut errors = FieldErrors::default();
    let days = if days_raw.is_empty() {
        None
    } else {
        match days_raw.parse::<i64>() {
            Ok(d) => Some(d),
            Err(_) => {
                errors.set(
                    "max_token_lifetime_days",
                    "enter a whole number of days, or leave empty for no limit",
                );
                None
            }
        }
    };
    if !errors.is_empty() {
        let msg = Some("Please correct the highlighted fields.".to_string());
        return render_settings(
            &user,
            StatusCode::UNPROCESSABLE_ENTITY,
            &reveal,
            days_raw,
            errors,
            msg,
        );
    }
    let input = UpdateSettings {
        token_reveal: Some(reveal.clone()),
        max_token_lifetime_days: Some(days),
        ..UpdateSettings::default()
    };
    let env = state.env();
    let caller = user.caller.clone();
    match state
        .write(move |tx| companies::update_settings(tx, &env, &caller, None, input))
        .await
    {
        Ok(_) => Ok(user.redirect("/settings", Flash::ok("Settings saved."))),
        Err(e @ ApiError::Internal(_)) => Err(e.into()),
        Err(e @ ApiError::Forbidden { .. }) => Err(e.into()),
        Err(e) => {
            let (errors, banner) = explain(&e, &[]);
            render_settings(
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                &reveal,
                days_raw,
                errors,
                Some(banner),
            )
        }
    }
}
