//! The audit log with filters (action, actor, token, time range) and paging.

use actix_web::HttpRequest;
use askama::Template;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::auth::PageUser;
use super::form::{time_field, with_query, FieldErrors, FormData};
use super::render::{Layout, PageResult, Section};
use super::view::{self, options, Opt, When};
use crate::domain::listing::{AuditFilter, REGENERATED_CODE};
use crate::service;
use crate::service::audit::{detail_str, AuditView, Names};
use crate::service::{audit, console, Page};
use crate::state::Shared;

/// The audit actions offered in the filter: the value and the words. Regenerating a value is
/// stored as `token.renewed` (see docs/DECISIONS.md) and offered as `token.regenerated`, the
/// alias the filter accepts.
const ACTIONS: &[(&str, &str)] = &[
    ("token.created", "Token created"),
    ("token.updated", "Token edited"),
    ("token.enabled", "Token enabled"),
    ("token.disabled", "Token disabled"),
    ("token.regenerated", "Token regenerated"),
    ("token.revealed", "Token value revealed"),
    ("token.deleted", "Token deleted"),
    ("token.purged", "Token purged"),
    ("token.leaked", "Token reported as leaked"),
    ("user.created", "User created"),
    ("user.updated", "User changed"),
    ("user.disabled", "User disabled"),
    ("user.deleted", "User deleted"),
    ("session.login", "Signed in"),
    ("session.login_failed", "Sign-in failed"),
    ("user.reauth_failed", "Wrong current password"),
    ("settings.updated", "Settings changed"),
    ("company.created", "Company created"),
    ("node.created", "Node created"),
    ("node.deleted", "Node deleted"),
    ("scope.created", "API scope created"),
    ("scope.updated", "API scope changed"),
    ("scope.deleted", "API scope deleted"),
    ("role.created", "Role created"),
    ("role.updated", "Role changed"),
    ("role.deleted", "Role deleted"),
];

/// One event as a sentence: "alice@example.com regenerated deploy-bot".
struct AuditRow {
    time: When,
    actor: String,
    verb: String,
    /// What the action was done to (a token's or user's name), possibly empty.
    object: String,
    /// Where the object's name links (its other events), possibly empty.
    object_href: String,
    /// The rest of the sentence, e.g. "(reason: manual)".
    tail: String,
    via: String,
    ip: String,
    fields: Vec<(String, String)>,
}

/// How an event names its token and user: the name it carries, else the one looked up.
trait Naming {
    fn token(&self, e: &AuditView) -> String;
    fn user(&self, e: &AuditView) -> String;
}

impl Naming for Names {
    fn token(&self, e: &AuditView) -> String {
        let id = e.token_id.unwrap_or_default();
        detail_str(&e.details, "name")
            .or_else(|| self.tokens.get(&id).cloned().flatten())
            .unwrap_or_else(|| format!("token #{id}"))
    }

    fn user(&self, e: &AuditView) -> String {
        let id = e.user_id.unwrap_or_default();
        detail_str(&e.details, "email")
            .or_else(|| self.users.get(&id).cloned().flatten())
            .unwrap_or_else(|| format!("user #{id}"))
    }
}

/// The verb of an action and what it was done to: `(verb, object, object link)`.
fn sentence(e: &AuditView, names: &Names) -> (String, String, String) {
    let token = || {
        let href = e
            .token_id
            .map(|id| format!("/audit?token={id}"))
            .unwrap_or_default();
        (names.token(e), href)
    };
    let user = || (names.user(e), String::new());
    let named = || {
        (
            detail_str(&e.details, "name").unwrap_or_default(),
            String::new(),
        )
    };
    let (verb, (object, href)) = match e.action.as_str() {
        "token.created" => ("created", token()),
        "token.updated" => ("edited", token()),
        "token.enabled" => ("enabled", token()),
        "token.disabled" => ("disabled", token()),
        REGENERATED_CODE => ("regenerated", token()),
        "token.revealed" => ("revealed the value of", token()),
        "token.deleted" => ("deleted", token()),
        "token.purged" => ("purged", token()),
        "token.leaked" => ("reported as leaked", token()),
        "token.ip_refused" => ("was refused, from an address not allowed, with", token()),
        "user.created" => ("created user", user()),
        "user.updated" => ("changed user", user()),
        "user.disabled" => ("disabled user", user()),
        "user.deleted" => ("deleted user", user()),
        "user.reauth_failed" => (
            "entered a wrong current password",
            (String::new(), String::new()),
        ),
        "session.login" => ("signed in", (String::new(), String::new())),
        "session.login_failed" => (
            "failed to sign in as",
            (
                detail_str(&e.details, "email").unwrap_or_default(),
                String::new(),
            ),
        ),
        "settings.updated" => (
            "changed the company settings",
            (String::new(), String::new()),
        ),
        "company.created" => ("created company", named()),
        "node.created" => ("created node", named()),
        "node.deleted" => ("deleted node", named()),
        "scope.created" => ("created API scope", named()),
        "scope.updated" => ("changed API scope", named()),
        "scope.deleted" => ("deleted API scope", named()),
        "role.created" => ("created role", named()),
        "role.updated" => ("changed role", named()),
        "role.deleted" => ("deleted role", named()),
        "node.token_leaked" => ("reported as leaked the token of node", named()),
        other => {
            let (object, href) = if e.token_id.is_some() {
                token()
            } else if e.user_id.is_some() {
                user()
            } else {
                (String::new(), String::new())
            };
            return (other.to_string(), object, href);
        }
    };
    (verb.to_string(), object, href)
}

/// A detail's key as a label: `grace_seconds` → `Grace seconds`.
fn label(key: &str) -> String {
    let words = key.replace('_', " ");
    let mut c = words.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A detail's value as text, whole: lists joined, nested objects as `key: value` pairs.
fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) if a.is_empty() => "none".into(),
        Value::Array(a) => a.iter().map(value_text).collect::<Vec<_>>().join(", "),
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| format!("{}: {}", label(k), value_text(v)))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// The details as labelled fields; an owner's id reads as the owner's email when the caller
/// may see that user.
fn fields(details: &Value, names: &Names) -> Vec<(String, String)> {
    let owner = |v: &Value| {
        let email = v
            .as_i64()
            .and_then(|id| names.users.get(&id).cloned().flatten());
        email.map(|e| ("Owner".to_string(), e))
    };
    match details {
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| match k.as_str() {
                "owner_id" => owner(v).unwrap_or_else(|| (label(k), value_text(v))),
                _ => (label(k), value_text(v)),
            })
            .collect(),
        Value::Null => Vec::new(),
        other => vec![("Details".into(), value_text(other))],
    }
}

impl AuditRow {
    fn new(e: AuditView, names: &Names, now: DateTime<Utc>) -> AuditRow {
        let (verb, object, object_href) = sentence(&e, names);
        let tail = match (e.action.as_str(), detail_str(&e.details, "reason")) {
            ("token.disabled" | "token.updated", Some(r)) => format!("(reason: {r})"),
            _ => String::new(),
        };
        AuditRow {
            time: When::of(&e.created_at, now, view::time_secs),
            actor: e.actor_email.clone().unwrap_or_else(|| "system".into()),
            verb,
            object,
            object_href,
            tail,
            via: e.via.clone(),
            ip: e.ip.clone().unwrap_or_default(),
            fields: fields(&e.details, names),
        }
    }
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
    let env = state.env();
    let now = env.now;
    let (rows, names, missing) = state
        .read(move |c| {
            let mut filter = filter;
            if let Some(e) = actor {
                match console::find_user(c, &caller, &e) {
                    Ok(u) => filter.actor_id = Some(u.id),
                    Err(service::Error::Internal(x)) => return Err(service::Error::Internal(x)),
                    Err(_) => {
                        let missing = Some(format!("No user with email {e}."));
                        return Ok((Vec::new(), Names::default(), missing));
                    }
                }
            }
            if !valid {
                return Ok((Vec::new(), Names::default(), None));
            }
            let events = audit::list(c, &caller, filter, page)?;
            let names = audit::names(c, &env, &caller, &events)?;
            Ok((events, names, None))
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
    // `token.renewed` in the URL selects its alias `token.regenerated`.
    let shown = match action.as_str() {
        REGENERATED_CODE => "token.regenerated",
        a => a,
    };
    actions.extend(options(ACTIONS, shown));
    user.page(&AuditPage {
        layout: user.layout("Audit log", Section::Audit),
        actions,
        actor,
        token,
        since,
        until,
        rows: rows
            .into_iter()
            .map(|e| AuditRow::new(e, &names, now))
            .collect(),
        next_url,
        errors,
        error: missing,
    })
}
