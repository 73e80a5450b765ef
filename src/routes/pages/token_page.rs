//! One API token: details and the edit form (`/tokens/{id}`), its value (reveal, regenerate
//! with an optional overlap), its recent client addresses ("Lock to these addresses"), and
//! delete (with confirmation). The owner is shown, never editable.

use actix_web::http::StatusCode;
use actix_web::web;
use askama::Template;
use chrono::{DateTime, Utc};

use super::auth::{PageUser, SignedForm};
use super::form::path_id;
use super::form::{explain, FieldErrors};
use super::render::{on_form, Flash, Layout, PageError, PageResult, Section};
use super::token_form::TokenForm;
use super::view::{self, grace_options, perm_boxes, template_options, Opt, PermBox};
use crate::domain::limits::QuotaPeriod;
use crate::domain::permissions::PermissionSet;
use crate::domain::roles::{parse_template, Role};
use crate::domain::token::TokenKind;
use crate::service::console::{self, Controls, TokenPage};
use crate::service::tokens::{self as svc, TokenView, UpdateToken};
use crate::state::Shared;

/// A token's facts as the page shows them.
struct Details {
    id: i64,
    name: String,
    description: String,
    owner: String,
    owner_name: String,
    creator: String,
    kind: &'static str,
    created: String,
    last_used: String,
    last_used_ip: String,
    expires: String,
    value_hint: String,
    enabled: bool,
    status: &'static str,
    badge: &'static str,
    reason: &'static str,
    disabled_at: String,
    purge_at: String,
    can_reveal: bool,
    legacy: bool,
    shared: bool,
    permissions: Vec<(&'static str, &'static str)>,
    /// `allowed_cidrs`; empty = any address.
    allowed: Vec<String>,
    /// When the value before the last regenerate stops working (empty: it already has).
    previous_until: String,
    recent_ips: Vec<SeenIp>,
    /// "100 requests per 60 s" or "None".
    rate: String,
    /// "1000 per day (812 left today)" or "None".
    quota: String,
    chart: Chart,
}

/// The last 7 days' bar chart (server-rendered SVG) and its table.
struct Chart {
    width: i64,
    height: i64,
    /// The y of the axis (bars stand on it).
    base: i64,
    bar: i64,
    days: Vec<DayBar>,
}

struct DayBar {
    /// "2026-12-06" (UTC).
    label: String,
    /// "Sun" (under the bars).
    short: String,
    allowed: i64,
    refused: i64,
    x_allowed: i64,
    y_allowed: i64,
    h_allowed: i64,
    x_refused: i64,
    y_refused: i64,
    h_refused: i64,
    x_label: i64,
}

impl Chart {
    /// Seven UTC days ending today, from (day start ms, allowed, refused) counts.
    fn new(counts: &[(i64, i64, i64)], now: DateTime<Utc>) -> Chart {
        const DAY: i64 = 86_400_000;
        const SLOT: i64 = 60;
        const BAR: i64 = 20;
        const TOP: i64 = 100;
        let today = now.timestamp_millis().div_euclid(DAY) * DAY;
        let of = |start: i64| {
            counts
                .iter()
                .find(|c| c.0 == start)
                .map_or((0, 0), |c| (c.1, c.2))
        };
        let max = (0..7)
            .map(|i| {
                let (a, r) = of(today - (6 - i) * DAY);
                a.max(r)
            })
            .max()
            .unwrap_or(0)
            .max(1);
        let base = TOP + 4;
        let days = (0..7)
            .map(|i| {
                let start = today - (6 - i) * DAY;
                let (allowed, refused) = of(start);
                let h = |n: i64| if n == 0 { 0 } else { (n * TOP / max).max(1) };
                let day = crate::domain::time::from_ms(start);
                let x = i * SLOT + (SLOT - 2 * BAR) / 2;
                DayBar {
                    label: day.format("%Y-%m-%d").to_string(),
                    short: day.format("%a").to_string(),
                    allowed,
                    refused,
                    x_allowed: x,
                    y_allowed: base - h(allowed),
                    h_allowed: h(allowed),
                    x_refused: x + BAR,
                    y_refused: base - h(refused),
                    h_refused: h(refused),
                    x_label: i * SLOT + SLOT / 2,
                }
            })
            .collect();
        Chart {
            width: 7 * SLOT,
            height: base + 16,
            base,
            bar: BAR,
            days,
        }
    }
}

/// One of the token's recent client addresses.
struct SeenIp {
    ip: String,
    first: String,
    last: String,
}

impl Details {
    fn new(v: &TokenView, usage: &[(i64, i64, i64)], now: DateTime<Utc>) -> Details {
        let item = super::tokens::TokenItem::new(v, Controls::default(), now);
        Details {
            id: v.id,
            name: v.name.clone(),
            description: v.description.clone(),
            owner: v.owner.email.clone(),
            owner_name: v.owner.name.clone().unwrap_or_default(),
            creator: item.creator,
            kind: item.kind,
            created: item.created.line(),
            last_used: item.last_used.line(),
            last_used_ip: v.last_used_ip.clone().unwrap_or_default(),
            expires: item.expires.line(),
            value_hint: format!("{}…", v.value_hint),
            enabled: v.enabled,
            status: item.status,
            badge: item.badge,
            reason: view::reason_label(v.disabled_reason.as_deref()),
            disabled_at: view::opt_time(&v.disabled_at, ""),
            purge_at: view::opt_time(&v.purge_at, ""),
            can_reveal: v.can_reveal,
            legacy: v.kind == TokenKind::Legacy,
            shared: v.kind == TokenKind::Shared,
            permissions: v
                .permissions
                .clone()
                .map(|s| s.iter().map(|p| (p.name(), p.description())).collect())
                .unwrap_or_default(),
            allowed: v.allowed_cidrs.clone(),
            previous_until: view::opt_time(&v.previous_value_expires_at, ""),
            recent_ips: v
                .recent_ips
                .iter()
                .flatten()
                .map(|r| SeenIp {
                    ip: r.ip.clone(),
                    first: view::time(&r.first_seen_at),
                    last: view::time(&r.last_seen_at),
                })
                .collect(),
            rate: v.rate_limit.map_or_else(
                || "None".to_string(),
                |r| format!("{} requests per {} s", r.requests, r.per_seconds),
            ),
            quota: v.quota.map_or_else(
                || "None".to_string(),
                |q| {
                    let per = match q.period {
                        QuotaPeriod::Day => "per day",
                        QuotaPeriod::Month => "per month",
                        QuotaPeriod::Total => "in total",
                    };
                    format!("{} {per} ({})", q.limit, super::tokens::quota_left(v))
                },
            ),
            chart: Chart::new(usage, now),
        }
    }
}

/// The template a token's permissions correspond to: its recorded template when the set
/// still equals it, else Custom.
fn effective_template(v: &TokenView) -> String {
    let set = v.permissions.clone().unwrap_or_default();
    match v.role_template.as_deref().and_then(parse_template) {
        Some(r) if r != Role::Custom && r.permissions() == set => r.name().into(),
        _ => "custom".into(),
    }
}

fn current_form(v: &TokenView) -> TokenForm {
    TokenForm {
        name: v.name.clone(),
        owner: v.owner.email.clone(),
        description: v.description.clone(),
        template: effective_template(v),
        permissions: v.permissions.clone().unwrap_or_default(),
        set_expiry: v.expires_at.is_some(),
        expires_at: v
            .expires_at
            .as_deref()
            .map(view::input_time)
            .unwrap_or_default(),
        enabled: v.enabled,
        audience: v
            .audience
            .map(|a| a.as_str())
            .unwrap_or("administrators")
            .into(),
        allowed_cidrs: v.allowed_cidrs.join("\n"),
        rate_requests: v
            .rate_limit
            .map(|r| r.requests.to_string())
            .unwrap_or_default(),
        rate_seconds: v
            .rate_limit
            .map(|r| r.per_seconds.to_string())
            .unwrap_or_default(),
        quota_limit: v.quota.map(|q| q.limit.to_string()).unwrap_or_default(),
        quota_period: v.quota.map_or("day", |q| q.period.as_str()).into(),
        ..TokenForm::default()
    }
}

#[derive(Template)]
#[template(path = "tokens/show.html")]
struct ShowPage {
    layout: Layout,
    t: Details,
    controls: Controls,
    form: TokenForm,
    templates: Vec<Opt>,
    audiences: Vec<Opt>,
    perms: Vec<PermBox>,
    grace: Vec<Opt>,
    grace_hint: &'static str,
    errors: FieldErrors,
    error: Option<String>,
}

fn render_show(
    user: &PageUser,
    status: StatusCode,
    p: &TokenPage,
    form: TokenForm,
    now: DateTime<Utc>,
    errors: FieldErrors,
    error: Option<String>,
) -> PageResult {
    let page = ShowPage {
        layout: user.layout(p.token.name.clone(), Section::Tokens),
        t: Details::new(&p.token, &p.usage, now),
        controls: p.controls,
        templates: template_options(
            &form.template,
            (
                &p.token.owner.email,
                p.owner_permissions.clone(),
                &user.caller,
            ),
        ),
        audiences: super::token_form::audience_options(&form.audience),
        perms: perm_boxes(
            &user.scopes,
            user.caller.permissions.union(&p.owner_permissions),
            p.owner_permissions.clone(),
            form.checked(),
        ),
        form,
        grace: grace_options(""),
        grace_hint: super::token_actions::GRACE_HINT,
        errors,
        error,
    };
    user.page_status(status, &page)
}

pub async fn load(state: &Shared, user: &PageUser, id: i64) -> Result<TokenPage, PageError> {
    let env = state.env();
    let caller = user.caller.clone();
    Ok(state
        .read(move |c| console::token_page(c, &env, &caller, id))
        .await?)
}

/// `GET /tokens/{id}`.
pub async fn show(state: Shared, user: PageUser, path: web::Path<String>) -> PageResult {
    let id = path_id(&path)?;
    let p = load(&state, &user, id).await?;
    let form = current_form(&p.token);
    render_show(
        &user,
        StatusCode::OK,
        &p,
        form,
        state.now(),
        FieldErrors::default(),
        None,
    )
}

/// The changes between the stored token and the submitted form (only what changed is sent,
/// so the audit log names exactly the edited fields).
fn changes(v: &TokenView, form: &TokenForm, errors: &mut FieldErrors) -> UpdateToken {
    let mut input = UpdateToken::default();
    if form.name != v.name {
        input.name = Some(form.name.clone());
    }
    if form.description.trim() != v.description {
        input.description = Some(form.description.clone());
    }
    let expiry = form.expiry(errors);
    let new = expiry.map(view::input_time_of);
    let old = v.expires_at.as_deref().map(view::input_time);
    if new != old {
        input.expires_at = Some(expiry);
    }
    if form.enabled != v.enabled {
        input.enabled = Some(form.enabled);
    }
    // The service's parser says what is valid, and its storage form what would change.
    let cidrs = form.cidr_list();
    match svc::parse_cidrs(&cidrs) {
        Ok(stored) => {
            let same = stored
                .split_whitespace()
                .eq(v.allowed_cidrs.iter().map(String::as_str));
            if !same {
                input.allowed_cidrs = Some(cidrs);
            }
        }
        Err(e) => {
            let (found, _) = explain(&e.into(), &[]);
            errors.0.extend(found.0);
        }
    }
    // Only a changed limit is sent: sending the quota starts its count afresh.
    let rate = form.rate_limit();
    if rate != serde_json::to_value(v.rate_limit).unwrap_or_default() {
        input.rate_limit = Some(rate);
    }
    let quota = form.quota();
    if quota != serde_json::to_value(v.quota).unwrap_or_default() {
        input.quota = Some(quota);
    }
    if v.kind == TokenKind::Shared && Some(form.audience.as_str()) != v.audience.map(|a| a.as_str())
    {
        input.audience = Some(form.audience.clone());
    }
    if v.kind != TokenKind::Legacy {
        let (template, permissions) = form.requested();
        let set = match (&template, &permissions) {
            (_, Some(list)) => PermissionSet::parse_names(list).unwrap_or_default(),
            (Some(t), None) => parse_template(t).map(Role::permissions).unwrap_or_default(),
            _ => PermissionSet::EMPTY,
        };
        if template.as_deref() != Some(effective_template(v).as_str()) || Some(set) != v.permissions
        {
            input.role_template = template;
            input.permissions = permissions;
        }
    }
    input
}

/// `POST /tokens/{id}`: saves the edit form.
pub async fn update(state: Shared, path: web::Path<String>, sf: SignedForm) -> PageResult {
    let id = path_id(&path)?;
    let SignedForm { user, form: f } = sf;
    let p = load(&state, &user, id).await?;
    let mut form = TokenForm::from_form(&f);
    form.owner = p.token.owner.email.clone();
    let mut errors = FieldErrors::default();
    let input = changes(&p.token, &form, &mut errors);
    let now = state.now();
    if !errors.is_empty() {
        let msg = Some("Please correct the highlighted fields.".to_string());
        return render_show(
            &user,
            StatusCode::UNPROCESSABLE_ENTITY,
            &p,
            form,
            now,
            errors,
            msg,
        );
    }
    let env = state.env();
    let caller = user.caller.clone();
    match state
        .write(move |tx| svc::update(tx, &env, &caller, id, input))
        .await
    {
        Ok(_) => Ok(user.redirect(&format!("/tokens/{id}"), Flash::ok("Changes saved."))),
        Err(e) => {
            let (errors, banner) = explain(&on_form(e)?, &[]);
            render_show(
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                &p,
                form,
                now,
                errors,
                Some(banner),
            )
        }
    }
}
