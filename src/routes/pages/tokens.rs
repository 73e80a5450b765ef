//! The API tokens list (`/`): filters kept in the URL, paging, a status badge per row and
//! checkboxes for the mass actions (both handled in `token_actions.rs`).

use std::collections::HashMap;

use actix_web::HttpRequest;
use askama::Template;
use chrono::{DateTime, Utc};

use super::auth::PageUser;
use super::form::{time_field, with_query, FieldErrors, FormData};
use super::render::{see_other, Layout, PageError, PageResult, Section};
use super::view::{self, options, Opt, UserOption};
use crate::db::tokens::Filter;
use crate::domain::model::TokenKind;
use crate::domain::permissions::Permission;
use crate::error::ApiError;
use crate::service::console::{self, Controls};
use crate::service::tokens::{self as svc, TokenView};
use crate::service::Page;
use crate::state::Shared;

/// One row of the list.
pub struct TokenItem {
    pub id: i64,
    pub name: String,
    pub owner: String,
    pub creator: String,
    pub kind: &'static str,
    pub perms: String,
    pub perms_title: String,
    pub expires: String,
    pub last_used: String,
    pub enabled: bool,
    /// `Enabled`, `Disabled` or `Expired`.
    pub status: &'static str,
    /// CSS suffix of the badge: `on`, `off`, `expired`.
    pub badge: &'static str,
    pub status_title: String,
    pub manage: bool,
}

impl TokenItem {
    pub fn new(v: &TokenView, c: Controls, now: DateTime<Utc>) -> TokenItem {
        let (perms, perms_title) = view::permission_summary(v);
        let expired = v
            .expires_at
            .as_deref()
            .and_then(|e| DateTime::parse_from_rfc3339(e).ok())
            .is_some_and(|e| e <= now);
        let (status, badge, status_title) = if !v.enabled {
            let why = view::reason_label(v.disabled_reason.as_deref());
            ("Disabled", "off", format!("Disabled: {why}"))
        } else if expired {
            (
                "Expired",
                "expired",
                "The expiry date has passed".to_string(),
            )
        } else {
            ("Enabled", "on", String::new())
        };
        let title = if c.manage {
            let act = if v.enabled { "disable" } else { "enable" };
            format!(
                "{status_title}{}Click to {act}",
                if status_title.is_empty() { "" } else { ". " }
            )
        } else {
            status_title
        };
        TokenItem {
            id: v.id,
            name: v.name.clone(),
            owner: v.owner.email.clone(),
            creator: v
                .creator
                .as_ref()
                .map(|c| c.email.clone())
                .unwrap_or_else(|| "system".into()),
            kind: view::kind_label(v),
            perms,
            perms_title,
            expires: view::opt_time(&v.expires_at, "Never"),
            last_used: view::opt_time(&v.last_used_at, "Never"),
            enabled: v.enabled,
            status,
            badge,
            status_title: title,
            manage: c.manage,
        }
    }
}

/// The filter form, as typed (kept in the URL and re-shown).
#[derive(Debug, Clone, Default)]
struct Filters {
    name: String,
    user: String,
    creator: String,
    status: String,
    kind: String,
    expires_after: String,
    expires_before: String,
}

impl Filters {
    fn from(q: &FormData) -> Filters {
        Filters {
            name: q.text("name"),
            user: q.text("user"),
            creator: q.text("creator"),
            status: q.text("status"),
            kind: q.text("kind"),
            expires_after: q.text("expires_after"),
            expires_before: q.text("expires_before"),
        }
    }

    fn pairs(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("name", self.name.as_str()),
            ("user", self.user.as_str()),
            ("creator", self.creator.as_str()),
            ("status", self.status.as_str()),
            ("kind", self.kind.as_str()),
            ("expires_after", self.expires_after.as_str()),
            ("expires_before", self.expires_before.as_str()),
        ]
    }
}

#[derive(Template)]
#[template(path = "tokens/list.html")]
struct ListPage {
    layout: Layout,
    f: Filters,
    statuses: Vec<Opt>,
    kinds: Vec<Opt>,
    users: Vec<UserOption>,
    show_user_filters: bool,
    can_create: bool,
    rows: Vec<TokenItem>,
    any_manage: bool,
    back: String,
    next_url: Option<String>,
    first_url: Option<String>,
    error: Option<String>,
    errors: FieldErrors,
}

/// Parses an id from a path segment; anything else names no token (404).
pub fn parse_id(s: &str) -> Result<i64, PageError> {
    s.parse::<i64>().map_err(|_| PageError::not_found())
}

/// `GET /` and `GET /tokens`: the API tokens page.
pub async fn index(state: Shared, user: PageUser, req: HttpRequest) -> PageResult {
    if !user.has_tokens_section() {
        return Ok(see_other("/profile"));
    }
    let q = FormData::query(&req);
    let f = Filters::from(&q);
    let mut errors = FieldErrors::default();
    let expires_after = time_field(q.opt("expires_after"), "expires_after", &mut errors);
    let expires_before = time_field(q.opt("expires_before"), "expires_before", &mut errors);
    let limit = q.opt("limit").and_then(|l| l.parse::<i64>().ok());
    let mut error = None;
    let page = Page::parse(&state.keys, limit, q.get("cursor")).unwrap_or_else(|_| {
        error = Some("That page link is no longer valid; showing the first page.".to_string());
        Page {
            before: None,
            limit: 50,
        }
    });
    let filter = Filter {
        name: q.opt("name"),
        enabled: match f.status.as_str() {
            "enabled" => Some(true),
            "disabled" => Some(false),
            _ => None,
        },
        kind: TokenKind::parse(&f.kind),
        expires_before: expires_before.map(|t| t.timestamp_millis()),
        expires_after: expires_after.map(|t| t.timestamp_millis()),
        ..Filter::default()
    };
    let env = state.env();
    let now = env.now;
    let caller = user.caller.clone();
    let list_users = user.has(Permission::UsersRead);
    let (owner, creator) = (q.opt("user"), q.opt("creator"));
    let valid = errors.is_empty();
    let (users, found, missing) = state
        .read(move |c| {
            let users = console::user_choices(c, &env, &caller, list_users)?;
            let mut filter = filter;
            let mut ids = [None, None];
            for (slot, email) in ids.iter_mut().zip([owner, creator]) {
                if let Some(e) = email {
                    match console::find_user(c, &caller, &e) {
                        Ok(u) => *slot = Some(u.id),
                        Err(ApiError::Internal(x)) => return Err(ApiError::Internal(x)),
                        Err(_) => {
                            return Ok((users, None, Some(format!("No user with email {e}."))))
                        }
                    }
                }
            }
            [filter.owner_id, filter.creator_id] = ids;
            if !valid {
                return Ok((users, None, None));
            }
            let (items, next) = svc::list(c, &env, &caller, &filter, page)?;
            let ids: Vec<i64> = items.iter().map(|t| t.id).collect();
            let controls = console::controls(c, &caller, &ids)?;
            Ok((users, Some((items, next, controls)), None))
        })
        .await?;
    let (items, next, controls) = found.unwrap_or_default();
    let controls: HashMap<i64, Controls> = controls;
    let rows: Vec<TokenItem> = items
        .iter()
        .map(|v| TokenItem::new(v, controls.get(&v.id).copied().unwrap_or_default(), now))
        .collect();
    let path = req.path().to_string();
    let mut pairs = f.pairs();
    let next_url = next.as_deref().map(|n| {
        pairs.push(("cursor", n));
        with_query(&path, &pairs)
    });
    let first_url = q.opt("cursor").map(|_| with_query(&path, &f.pairs()));
    let back = match req.query_string() {
        "" => path.clone(),
        qs => format!("{path}?{qs}"),
    };
    let page = ListPage {
        layout: user.layout("API tokens", Section::Tokens),
        statuses: options(
            &[
                ("", "Any"),
                ("enabled", "Enabled"),
                ("disabled", "Disabled"),
            ],
            &f.status,
        ),
        kinds: options(
            &[
                ("", "Any"),
                ("private", "Private"),
                ("shared", "Shared"),
                ("legacy", "Legacy"),
            ],
            &f.kind,
        ),
        f,
        show_user_filters: list_users,
        users: users.iter().map(UserOption::from).collect(),
        can_create: user.has(Permission::TokensWrite),
        any_manage: rows.iter().any(|r| r.manage),
        rows,
        back,
        next_url,
        first_url,
        error: error.or(missing),
        errors,
    };
    user.page(&page)
}
