//! The audit log with filters (action, actor, token, time range) and paging.

use actix_web::HttpRequest;
use askama::Template;

use super::auth::PageUser;
use super::form::{time_field, with_query, FieldErrors, FormData};
use super::render::{Layout, PageResult, Section};
use super::view::{self, options, Opt};
use crate::domain::listing::AuditFilter;
use crate::error::ApiError;
use crate::service::console;
use crate::service::{audit, Page};
use crate::state::Shared;

/// The audit actions offered in the filter.
const ACTIONS: &[&str] = &[
    "token.created",
    "token.updated",
    "token.enabled",
    "token.disabled",
    "token.renewed",
    "token.revealed",
    "token.deleted",
    "token.purged",
    "user.created",
    "user.updated",
    "user.disabled",
    "user.deleted",
    "session.login",
    "session.login_failed",
    "user.reauth_failed",
    "settings.updated",
    "company.created",
];

struct AuditRow {
    time: String,
    actor: String,
    action: String,
    token_id: Option<i64>,
    user_id: Option<i64>,
    ip: String,
    details: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    layout: Layout,
    actions: Vec<Opt>,
    actor: String,
    token: String,
    since: String,
    until: String,
    rows: Vec<AuditRow>,
    next_url: Option<String>,
    errors: FieldErrors,
    error: Option<String>,
}

/// The filters of the form, with an error beside each field that cannot be understood.
fn filter_of(q: &FormData, errors: &mut FieldErrors) -> AuditFilter {
    let since = time_field(q.opt("since"), "since", errors);
    let until = time_field(q.opt("until"), "until", errors);
    let token_id = match q.opt("token") {
        Some(t) => match t.trim_start_matches('#').parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                errors.set("token", "enter a token id (a number)");
                None
            }
        },
        None => None,
    };
    let action = AuditFilter::action(q.get("action")).unwrap_or_else(|e| {
        errors.set(e.field, e.message);
        None
    });
    AuditFilter {
        action,
        token_id,
        since: since.map(|t| t.timestamp_millis()),
        until: until.map(|t| t.timestamp_millis()),
        ..AuditFilter::default()
    }
}

/// `GET /audit`.
pub async fn audit_log(state: Shared, user: PageUser, req: HttpRequest) -> PageResult {
    let q = FormData::query(&req);
    let mut errors = FieldErrors::default();
    let filter = filter_of(&q, &mut errors);
    let page = Page::parse(&state.keys, None, q.get("cursor")).unwrap_or(Page {
        before: None,
        limit: 50,
    });
    let caller = user.caller.clone();
    let actor = q.opt("actor");
    let valid = errors.is_empty();
    let (rows, missing) = state
        .read(move |c| {
            let mut filter = filter;
            if let Some(e) = actor {
                match console::find_user(c, &caller, &e) {
                    Ok(u) => filter.actor_id = Some(u.id),
                    Err(ApiError::Internal(x)) => return Err(ApiError::Internal(x)),
                    Err(_) => return Ok((Vec::new(), Some(format!("No user with email {e}.")))),
                }
            }
            if !valid {
                return Ok((Vec::new(), None));
            }
            Ok((audit::list(c, &caller, filter, page)?, None))
        })
        .await?;
    let next = page.next_cursor(&state.keys, rows.last().map(|e| e.id), rows.len());
    let (action, actor, token, since, until) = (
        q.text("action"),
        q.text("actor"),
        q.text("token"),
        q.text("since"),
        q.text("until"),
    );
    let next_url = next.map(|n| {
        with_query(
            "/audit",
            &[
                ("action", &action),
                ("actor", &actor),
                ("token", &token),
                ("since", &since),
                ("until", &until),
                ("cursor", &n),
            ],
        )
    });
    let mut actions = options(&[("", "Any")], &action);
    actions.extend(options(
        &ACTIONS.iter().map(|a| (*a, *a)).collect::<Vec<_>>(),
        &action,
    ));
    user.page(&AuditPage {
        layout: user.layout("Audit log", Section::Audit),
        actions,
        actor,
        token,
        since,
        until,
        rows: rows
            .into_iter()
            .map(|e| AuditRow {
                time: view::time(&e.created_at),
                actor: e.actor_email.unwrap_or_else(|| "system".into()),
                action: e.action,
                token_id: e.token_id,
                user_id: e.user_id,
                ip: e.ip.unwrap_or_default(),
                details: e.details.to_string(),
            })
            .collect(),
        next_url,
        errors,
        error: missing,
    })
}
