//! Company settings: the token reveal policy, the lifetime policies (maximum lifetime, idle
//! disabling), the webhook target (URL and a write-only secret), and the latest webhook
//! deliveries below the form.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use askama::Template;

use super::auth::{PageUser, SignedForm};
use super::form::{explain, FieldErrors, FormData};
use super::render::{in_place, Flash, Layout, PageError, PageResult, Section};
use super::view::{self, options, Opt};
use crate::domain::permissions::Permission;
use crate::service::companies::{self, SettingsView, UpdateSettings};
use crate::service::webhooks::{self, DeliveryView};
use crate::service::{console, Page};
use crate::state::Shared;

/// Deliveries shown below the settings (the newest first).
const DELIVERIES_SHOWN: usize = 20;

/// The settings form as typed. The webhook secret is never shown: only whether one was typed.
#[derive(Debug, Clone, Default)]
struct SettingsForm {
    reveal: String,
    max_days: String,
    idle_days: String,
    default_days: String,
    webhook_url: String,
    remove_secret: bool,
    secret_typed: bool,
}

impl SettingsForm {
    fn current(s: &SettingsView) -> SettingsForm {
        let days = |d: Option<i64>| d.map(|d| d.to_string()).unwrap_or_default();
        SettingsForm {
            reveal: s.token_reveal.clone(),
            max_days: days(s.max_token_lifetime_days),
            idle_days: days(s.idle_disable_days),
            default_days: s.default_token_lifetime_days.to_string(),
            webhook_url: s.webhook_url.clone().unwrap_or_default(),
            ..SettingsForm::default()
        }
    }
}

/// One row of the webhook deliveries table.
struct DeliveryRow {
    time: String,
    event: String,
    /// The token's id and, when the caller can see it, its name.
    token: Option<(i64, Option<String>)>,
    attempts: i64,
    status: String,
    error: String,
}

impl DeliveryRow {
    fn new(d: &DeliveryView, names: &HashMap<i64, String>) -> DeliveryRow {
        let status = match (&d.delivered_at, &d.next_attempt_at) {
            (Some(t), _) => format!("Delivered {}", view::time(t)),
            (None, Some(t)) => format!("Next attempt {}", view::time(t)),
            (None, None) => "Given up".to_string(),
        };
        DeliveryRow {
            time: view::time(&d.created_at),
            event: d.event_type.clone(),
            token: d.token_id.map(|id| (id, names.get(&id).cloned())),
            attempts: d.attempts,
            status,
            error: d.last_error.clone().unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    layout: Layout,
    reveal: Vec<Opt>,
    form: SettingsForm,
    secret_set: bool,
    deliveries: Vec<DeliveryRow>,
    can_write: bool,
    errors: FieldErrors,
    error: Option<String>,
}

/// The stored settings and the latest deliveries.
async fn load(
    state: &Shared,
    user: &PageUser,
) -> Result<(SettingsView, Vec<DeliveryRow>), PageError> {
    let caller = user.caller.clone();
    Ok(state
        .read(move |c| {
            let s = companies::settings(c, &caller, None)?;
            let page = Page {
                before: None,
                limit: DELIVERIES_SHOWN,
            };
            let list = webhooks::deliveries(c, &caller, page)?;
            let ids: Vec<i64> = list.iter().filter_map(|d| d.token_id).collect();
            let names = console::token_names(c, &caller, &ids)?;
            let rows = list.iter().map(|d| DeliveryRow::new(d, &names)).collect();
            Ok::<_, crate::service::Error>((s, rows))
        })
        .await?)
}

async fn render_settings(
    state: &Shared,
    user: &PageUser,
    status: StatusCode,
    form: Option<SettingsForm>,
    errors: FieldErrors,
    error: Option<String>,
) -> PageResult {
    let (stored, deliveries) = load(state, user).await?;
    let form = form.unwrap_or_else(|| SettingsForm::current(&stored));
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
                &form.reveal,
            ),
            form,
            secret_set: stored.webhook_secret_set,
            deliveries,
            can_write: user.has(Permission::SettingsWrite),
            errors,
            error,
        },
    )
}

/// `GET /settings`.
pub async fn settings(state: Shared, user: PageUser) -> PageResult {
    render_settings(
        &state,
        &user,
        StatusCode::OK,
        None,
        FieldErrors::default(),
        None,
    )
    .await
}

/// A whole number of days, or `None` when left empty; the service checks the range.
fn days(raw: &str, field: &str, empty_means: &str, errors: &mut FieldErrors) -> Option<i64> {
    if raw.is_empty() {
        return None;
    }
    raw.parse::<i64>().ok().or_else(|| {
        errors.set(
            field,
            format!("enter a whole number of days, or leave empty for {empty_means}"),
        );
        None
    })
}

/// The change the form asks for (every field but the secret is sent as shown).
fn requested(f: &FormData, form: &SettingsForm, errors: &mut FieldErrors) -> UpdateSettings {
    let max = days(
        &form.max_days,
        "max_token_lifetime_days",
        "no limit",
        errors,
    );
    let idle = days(&form.idle_days, "idle_disable_days", "never", errors);
    let default_days = days(
        &form.default_days,
        "default_token_lifetime_days",
        "30",
        errors,
    );
    let secret = f.get("webhook_secret").unwrap_or_default();
    let webhook_secret = match (form.remove_secret, secret.is_empty()) {
        (true, true) => Some(None),
        (true, false) => {
            errors.set(
                "webhook_secret",
                "enter a new secret or tick “Remove secret”, not both",
            );
            None
        }
        (false, true) => None,
        (false, false) => Some(Some(secret.to_string())),
    };
    UpdateSettings {
        token_reveal: Some(form.reveal.clone()),
        max_token_lifetime_days: Some(max),
        idle_disable_days: Some(idle),
        default_token_lifetime_days: default_days.or(Some(30)),
        webhook_url: Some(Some(form.webhook_url.clone()).filter(|u| !u.is_empty())),
        webhook_secret,
    }
}

/// `POST /settings`.
pub async fn save_settings(state: Shared, sf: SignedForm) -> PageResult {
    let SignedForm { user, form: f } = sf;
    let form = SettingsForm {
        reveal: f.text("token_reveal"),
        max_days: f.text("max_token_lifetime_days").trim().to_string(),
        idle_days: f.text("idle_disable_days").trim().to_string(),
        default_days: f.text("default_token_lifetime_days").trim().to_string(),
        webhook_url: f.text("webhook_url").trim().to_string(),
        remove_secret: f.checked("remove_secret"),
        secret_typed: !f.text("webhook_secret").is_empty(),
    };
    let mut errors = FieldErrors::default();
    let input = requested(&f, &form, &mut errors);
    if !errors.is_empty() {
        let msg = Some("Please correct the highlighted fields.".to_string());
        return render_settings(
            &state,
            &user,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(form),
            errors,
            msg,
        )
        .await;
    }
    let env = state.env();
    let caller = user.caller.clone();
    let c = caller.clone();
    let checked = state
        .blocking(move |st| companies::check_settings(&c, input, st.config.webhook_allow_private))
        .await;
    match async {
        let input = checked?;
        state
            .write(move |tx| companies::update_settings(tx, &env, &caller, None, input))
            .await
    }
    .await
    {
        Ok(_) => Ok(user.redirect("/settings", Flash::ok("Settings saved."))),
        Err(e) => {
            let (errors, banner) = explain(&in_place(e)?, &[]);
            render_settings(
                &state,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(form),
                errors,
                Some(banner),
            )
            .await
        }
    }
}
