//! The API tokens list (`/`): filters, sort order and page kept in the URL (so the status
//! toggle and the mass actions, handled in `token_actions.rs`, come back to the same view),
//! every column sortable, page numbers with the total, and a status badge per row.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::HttpRequest;
use askama::Template;
use chrono::{DateTime, Utc};

use super::auth::PageUser;
use super::form::{with_query, FieldErrors, FormData};
use super::list_view::{columns, page_links, page_url, Column, PageLink};
use super::render::{see_other, Layout, PageError, PageResult, Section};
use super::view::{self, options, Opt, UserOption, When};
use crate::domain::listing::{
    TokenFilter, TokenFilterText, TokenSort, TokenStatus, EXPIRES_SOON_DAYS,
};
use crate::domain::permissions::Permission;
use crate::service::console::{self, Controls, UserMatch};
use crate::service::tokens::{self as svc, ListPage, TokenView};
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
    pub expires: When,
    /// Enabled and expiring within [`EXPIRES_SOON_DAYS`].
    pub expires_soon: bool,
    pub last_used: When,
    pub created: When,
    pub enabled: bool,
    /// `Enabled`, `Disabled` or `Expired`.
    pub status: &'static str,
    /// CSS suffix of the badge: `on`, `off`, `expired`.
    pub badge: &'static str,
    /// Why a disabled token is disabled, shown beside the badge (empty otherwise).
    pub reason: &'static str,
    pub status_title: String,
    pub manage: bool,
    /// What is left of the token's quota ("812 of 1000 left today"); empty without a quota.
    pub quota_left: String,
}

impl TokenItem {
    pub fn new(v: &TokenView, c: Controls, now: DateTime<Utc>) -> TokenItem {
        let (perms, perms_title) = view::permission_summary(v);
        let expires_at = v
            .expires_at
            .as_deref()
            .and_then(|e| DateTime::parse_from_rfc3339(e).ok())
            .map(|e| e.timestamp_millis());
        let reason = v.disabled_reason.as_deref();
        let now_ms = now.timestamp_millis();
        let state = TokenStatus::of(v.enabled, reason, expires_at, now_ms);
        let (status, badge, status_title, shown_reason) = match state {
            TokenStatus::Expired => (
                "Expired",
                "expired",
                "The expiry date has passed".to_string(),
                "",
            ),
            TokenStatus::Disabled => (
                "Disabled",
                "off",
                format!("Disabled: {}", view::reason_label(reason)),
                view::reason_short(reason),
            ),
            TokenStatus::Enabled => ("Enabled", "on", String::new(), ""),
        };
        let expires_soon = state == TokenStatus::Enabled
            && expires_at.is_some_and(|e| e - now_ms <= EXPIRES_SOON_DAYS * 86_400_000);
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
            quota_left: quota_left(v),
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
            expires: When::opt(&v.expires_at, "Never", now),
            expires_soon,
            last_used: When::opt(&v.last_used_at, "Never", now),
            created: When::of(&v.created_at, now, view::time),
            enabled: v.enabled,
            status,
            badge,
            reason: shown_reason,
            status_title: title,
            manage: c.manage,
        }
    }
}

/// The list as asked for in the URL: the filter form as typed, the order and the page.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    name: String,
    user: String,
    creator: String,
    status: String,
    kind: String,
    expires_after: String,
    expires_before: String,
    expires_within_days: String,
    sort: String,
    order: String,
    per_page: String,
}

/// The page sizes offered; any size from 1 to 100 in the URL is honoured.
const PAGE_SIZES: [&str; 3] = ["25", "50", "100"];
const DEFAULT_PAGE_SIZE: usize = 50;

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
            expires_within_days: q.text("expires_within_days"),
            sort: q.text("sort"),
            order: q.text("order"),
            per_page: q.text("per_page"),
        }
    }

    /// The URL pairs of this view; `sort` and `order` are left out when given separately.
    pub fn pairs(&self, with_sort: bool) -> Vec<(&'static str, &str)> {
        let mut pairs = vec![
            ("name", self.name.as_str()),
            ("user", self.user.as_str()),
            ("creator", self.creator.as_str()),
            ("status", self.status.as_str()),
            ("kind", self.kind.as_str()),
            ("expires_after", self.expires_after.as_str()),
            ("expires_before", self.expires_before.as_str()),
            ("expires_within_days", self.expires_within_days.as_str()),
            ("per_page", self.per_page.as_str()),
        ];
        if with_sort {
            pairs.extend([("sort", self.sort.as_str()), ("order", self.order.as_str())]);
        }
        pairs
    }

    /// Whether any filter is set (the empty list then says that nothing matches).
    fn any(&self) -> bool {
        self.pairs(false)
            .iter()
            .any(|(k, v)| *k != "per_page" && !v.trim().is_empty())
    }

    /// The filters as the service takes them, or the field errors to show.
    fn parse(&self, errors: &mut FieldErrors) -> (TokenFilter, TokenSort, usize) {
        let filter = TokenFilter::parse(TokenFilterText {
            name: Some(&self.name),
            status: Some(&self.status),
            kind: Some(&self.kind),
            expires_before: Some(&self.expires_before),
            expires_after: Some(&self.expires_after),
            expires_within_days: Some(&self.expires_within_days),
        })
        .unwrap_or_else(|e| {
            errors.set(e.field, e.message);
            TokenFilter::default()
        });
        let sort = TokenSort::parse(Some(&self.sort), Some(&self.order)).unwrap_or_default();
        let per_page = match self.per_page.parse::<usize>() {
            Ok(n) if (1..=svc::MAX_PAGE_SIZE).contains(&n) => n,
            _ => DEFAULT_PAGE_SIZE,
        };
        (filter, sort, per_page)
    }
}

#[derive(Template)]
#[template(path = "tokens/list.html")]
struct ListTemplate {
    layout: Layout,
    f: Filters,
    statuses: Vec<Opt>,
    kinds: Vec<Opt>,
    page_sizes: Vec<Opt>,
    users: Vec<UserOption>,
    show_user_filters: bool,
    can_create: bool,
    /// The create form, with this view as the place to come back to.
    create_url: String,
    columns: Vec<Column>,
    rows: Vec<TokenItem>,
    any_manage: bool,
    /// A filter is set: an empty list says "no tokens match" rather than "none yet".
    filtered: bool,
    back: String,
    total: i64,
    pages: Vec<PageLink>,
    prev_url: Option<String>,
    next_url: Option<String>,
    error: Option<String>,
    errors: FieldErrors,
}

/// What the list shows: the user choices for the filters, the page (empty when a filter is
/// wrong), its controls, and the messages for User and Creator fields that name nobody or
/// several users.
type Loaded = (
    Vec<UserOption>,
    ListPage,
    HashMap<i64, Controls>,
    FieldErrors,
);

/// An empty list (a filter could not be understood): page 1 of nothing.
fn empty_page(per_page: usize) -> ListPage {
    ListPage {
        page: 1,
        per_page,
        ..ListPage::default()
    }
}

async fn load(
    state: &Shared,
    user: &PageUser,
    f: &Filters,
    valid: bool,
    (filter, sort, per_page): (TokenFilter, TokenSort, usize),
    page: usize,
) -> Result<Loaded, PageError> {
    let env = state.env();
    let caller = user.caller.clone();
    let list_users = user.has(Permission::UsersRead);
    let typed = [("user", f.user.clone()), ("creator", f.creator.clone())];
    Ok(state
        .read(move |c| {
            let users = console::user_choices(c, &env, &caller, list_users)?;
            let users = users.iter().map(UserOption::from).collect();
            let mut filter = filter;
            let mut ids = [None, None];
            let mut problems = FieldErrors::default();
            for (slot, (field, text)) in ids.iter_mut().zip(typed) {
                if text.trim().is_empty() {
                    continue;
                }
                match console::match_user(c, &caller, &text, true)? {
                    UserMatch::One(u) => *slot = Some(u.id),
                    other => {
                        let why = other.problem().unwrap_or_default();
                        problems.set(field, format!("{why} (type an email or a name)"));
                    }
                }
            }
            if !problems.is_empty() || !valid {
                return Ok((users, empty_page(per_page), HashMap::new(), problems));
            }
            [filter.owner_id, filter.creator_id] = ids;
            let list = svc::list_page(c, &env, &caller, &filter, sort, page, per_page)?;
            let ids: Vec<i64> = list.items.iter().map(|t| t.id).collect();
            let controls = console::controls(c, &caller, &ids)?;
            Ok::<_, crate::service::Error>((users, list, controls, problems))
        })
        .await?)
}

/// `GET /` and `GET /tokens`: the API tokens page.
pub async fn index(state: Shared, user: PageUser, req: HttpRequest) -> PageResult {
    if !user.has_tokens_section() {
        return Ok(see_other("/profile"));
    }
    let q = FormData::query(&req);
    let f = Filters::from(&q);
    let mut errors = FieldErrors::default();
    let parsed = f.parse(&mut errors);
    let sort = parsed.1;
    let page = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let (users, list, controls, problems) =
        load(&state, &user, &f, errors.is_empty(), parsed, page).await?;
    errors.0.extend(problems.0);
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let now = state.clock.now();
    let rows: Vec<TokenItem> = list
        .items
        .iter()
        .map(|v| TokenItem::new(v, controls.get(&v.id).copied().unwrap_or_default(), now))
        .collect();
    let path = req.path().to_string();
    let pages = page_links(&path, &f, &list);
    let prev_url = (list.page > 1).then(|| page_url(&path, &f, list.page - 1));
    let next_url = (list.page < list.pages()).then(|| page_url(&path, &f, list.page + 1));
    let back = match req.query_string() {
        "" => path.clone(),
        qs => format!("{path}?{qs}"),
    };
    let layout = user.layout("API tokens", Section::Tokens);
    let filtered = f.any() || !errors.is_empty();
    user.page_status(
        status,
        &ListTemplate {
            layout,
            statuses: options(
                &[
                    ("", "Any"),
                    ("enabled", "Enabled"),
                    ("disabled", "Disabled"),
                    ("expired", "Expired"),
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
            page_sizes: options(&PAGE_SIZES.map(|s| (s, s)), &list.per_page.to_string()),
            columns: columns(&path, &f, sort),
            f,
            show_user_filters: user.has(Permission::UsersRead),
            users,
            can_create: user.has(Permission::TokensWrite),
            create_url: with_query("/tokens/new", &[("back", back.as_str())]),
            any_manage: rows.iter().any(|r| r.manage),
            filtered,
            rows,
            back,
            total: list.total,
            pages,
            prev_url,
            next_url,
            error: (!errors.is_empty())
                .then(|| "Please correct the highlighted filters.".to_string()),
            errors,
        },
    )
}

/// "812 of 1000 left today" for a token with a quota; empty without one.
pub fn quota_left(v: &TokenView) -> String {
    let (Some(q), Some(left)) = (v.quota, v.quota_remaining) else {
        return String::new();
    };
    let period = match q.period {
        crate::domain::limits::QuotaPeriod::Day => " today",
        crate::domain::limits::QuotaPeriod::Month => " this month",
        crate::domain::limits::QuotaPeriod::Total => "",
    };
    format!("{left} of {} left{period}", q.limit)
}
