//! Choosing a token's owner: a search endpoint for the form's type-ahead (by email or name,
//! over every user in reach, no cap), and a *Select* page that works without JavaScript and
//! returns to the form with the owner filled in and everything else as it was typed.

use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use serde::Serialize;

use super::auth::{PageUser, SignedForm};
use super::form::FormData;
use super::render::{Layout, PageResult, Section};
use crate::service::console;
use crate::state::Shared;

/// Rows per page of the *Select* page.
const PAGE: usize = 25;
/// At most this many suggestions per keystroke.
const SUGGESTIONS: usize = 20;

/// One suggestion of the type-ahead.
#[derive(Serialize)]
struct Suggestion {
    email: String,
    name: String,
    /// The permissions the user holds, space-separated (the form offers only those).
    perms: String,
}

/// `GET /console/owners?q=…`: users whose email or name contains `q`, for the type-ahead.
pub async fn suggest(state: Shared, user: PageUser, req: HttpRequest) -> PageResult {
    let q = FormData::query(&req).text("q");
    let caller = user.caller.clone();
    let (found, _) = state
        .read(move |c| console::search_owners(c, &caller, &q, 0, SUGGESTIONS))
        .await?;
    let items: Vec<Suggestion> = found
        .into_iter()
        .filter(|(_, why)| why.is_none())
        .map(|(u, _)| Suggestion {
            perms: u.permissions.names().join(" "),
            email: u.email,
            name: u.name,
        })
        .collect();
    Ok(HttpResponse::Ok().json(items))
}

/// One row of the *Select* page.
struct OwnerRow {
    email: String,
    name: String,
    role: &'static str,
    /// Why this user cannot own the caller's tokens (empty: selectable).
    why_not: String,
}

#[derive(Template)]
#[template(path = "tokens/owner.html")]
struct SelectPage {
    layout: Layout,
    q: String,
    /// The create form's fields as typed, carried through the search and back.
    carried: Vec<(String, String)>,
    rows: Vec<OwnerRow>,
    page: usize,
    more: bool,
}

/// `GET` and `POST /tokens/new/owner`: the *Select* page. The create form's *Select* button
/// posts here with everything typed so far; searching and choosing keep carrying it.
pub async fn select(state: Shared, sf: SignedForm) -> PageResult {
    let SignedForm { user, form } = sf;
    show(state, user, form).await
}

/// `GET /tokens/new/owner`: the *Select* page reached by a link (nothing typed yet).
pub async fn select_get(state: Shared, user: PageUser, req: HttpRequest) -> PageResult {
    show(state, user, FormData::query(&req)).await
}

async fn show(state: Shared, user: PageUser, form: FormData) -> PageResult {
    crate::service::policy::ensure_may_choose_owner(&user.caller)?;
    let q = form.text("q");
    let page = form
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, 100_000);
    let carried: Vec<(String, String)> = form
        .replay()
        .into_iter()
        .filter(|(k, _)| !matches!(k.as_str(), "owner" | "q" | "page"))
        .collect();
    let caller = user.caller.clone();
    let needle = q.clone();
    let (found, more) = state
        .read(move |c| console::search_owners(c, &caller, &needle, (page - 1) * PAGE, PAGE))
        .await?;
    let rows = found
        .into_iter()
        .map(|(u, why)| OwnerRow {
            email: u.email,
            name: u.name,
            role: u.role.label(),
            why_not: why.unwrap_or_default(),
        })
        .collect();
    user.page(&SelectPage {
        layout: user.layout("Select the owner", Section::Tokens),
        q,
        carried,
        rows,
        page,
        more,
    })
}
