//! The pages that show a secret once: a token's value after create or regenerate, a node's
//! token after the node is made (post/redirect/get: the form's answer is a 303 to
//! `/tokens/value/{id}` or `/nodes/value/{id}`, which shows the value once — see
//! `service::pending`; a reload says it was shown and submits nothing), and a revealed value.
//! `Cache-Control: no-store` comes from the middleware.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::{Deserialize, Serialize};

use super::auth::PageUser;
use super::render::{error_page, see_other, Layout, PageError, PageResult, Section};
use super::view;
use crate::service::pending;
use crate::service::tokens::TokenWithValue;
use crate::state::Shared;

#[derive(Template)]
#[template(path = "tokens/value.html")]
struct ValueTemplate<'a> {
    layout: Layout,
    heading: &'a str,
    token_id: i64,
    token_name: &'a str,
    value: &'a str,
    /// The value cannot be revealed again by this user (show_once, or not the owner).
    shown_once: bool,
    /// When a regenerate kept the previous value working: until when (else empty).
    previous_until: &'a str,
    /// A ready-to-run request with the value (`curl … /v1/me`).
    curl: String,
    /// Where *Close* goes: the page the user came from.
    back: &'a str,
}

#[derive(Template)]
#[template(path = "nodes/created.html")]
struct NodeTemplate<'a> {
    layout: Layout,
    name: &'a str,
    value: &'a str,
    curl: String,
}

/// What a value page shows, kept for its one view between the POST and the GET.
#[derive(Debug, Serialize, Deserialize)]
pub struct ValuePage {
    /// A node's token (the Nodes page) rather than an API token.
    node: bool,
    heading: String,
    token_id: i64,
    token_name: String,
    value: String,
    shown_once: bool,
    previous_until: String,
    back: String,
}

impl ValuePage {
    /// After create (`heading` "API token created") or regenerate.
    pub fn of_token(heading: &str, t: &TokenWithValue, back: &str) -> ValuePage {
        ValuePage {
            node: false,
            heading: heading.to_string(),
            token_id: t.token.id,
            token_name: t.token.name.clone(),
            value: t.value.expose().to_string(),
            shown_once: !t.token.can_reveal,
            previous_until: view::opt_time(&t.token.previous_value_expires_at, ""),
            back: back.to_string(),
        }
    }

    pub fn created(t: &TokenWithValue, back: &str) -> ValuePage {
        ValuePage::of_token("API token created", t, back)
    }

    /// A new node's token.
    pub fn of_node(name: &str, value: &str) -> ValuePage {
        ValuePage {
            node: true,
            heading: "Node created".into(),
            token_id: 0,
            token_name: name.to_string(),
            value: value.to_string(),
            shown_once: true,
            previous_until: String::new(),
            back: "/nodes".into(),
        }
    }
}

/// Keeps `page` for one view in the user's session and answers the form with a 303 to it.
pub async fn remember_value(
    state: &Shared,
    user: &PageUser,
    page: ValuePage,
) -> Result<HttpResponse, PageError> {
    let env = state.env();
    let (user_id, csrf) = (user.caller.user.id, user.csrf.clone());
    let base = if page.node { "/nodes" } else { "/tokens" };
    let id = state
        .write(move |tx| pending::remember(tx, &env, (user_id, &csrf), page))
        .await?;
    Ok(see_other(&format!("{base}/value/{id}")))
}

/// `GET /tokens/value/{id}` and `GET /nodes/value/{id}`: the value, once. Afterwards (a
/// reload, the back button, another tab) the page says it was shown; nothing is submitted.
pub async fn show(state: Shared, user: PageUser, path: web::Path<String>) -> PageResult {
    let env = state.env();
    let (user_id, csrf) = (user.caller.user.id, user.csrf.clone());
    let id = path.into_inner();
    let page: Option<ValuePage> = state
        .write(move |tx| pending::take(tx, &env, (user_id, &csrf), &id))
        .await?;
    let Some(p) = page else {
        return Ok(error_page(
            user.layout("Value already shown", Section::Tokens),
            StatusCode::GONE,
            "A new value is shown only once, right after it is made, and only for a few \
             minutes: this one has been shown already (or has expired). Nothing was created or \
             regenerated again. If you did not copy it, reveal it on the token's page when that \
             is allowed, or regenerate it.",
        ));
    };
    if p.node {
        return user.page(&NodeTemplate {
            layout: user.layout(p.heading.as_str(), Section::Nodes),
            name: &p.token_name,
            value: &p.value,
            curl: curl_example_at(&user.origin, &p.value, crate::routes::api::NODE_SELF),
        });
    }
    user.page(&ValueTemplate {
        layout: user.layout(p.heading.as_str(), Section::Tokens),
        heading: &p.heading,
        token_id: p.token_id,
        token_name: &p.token_name,
        value: &p.value,
        shown_once: p.shown_once,
        previous_until: &p.previous_until,
        curl: curl_example(&user.origin, &p.value),
        back: &p.back,
    })
}

/// A `curl` line that sends `value` to `/v1/me` of this server.
pub fn curl_example(origin: &str, value: &str) -> String {
    curl_example_at(origin, value, crate::routes::api::ME)
}

/// A `curl` line that sends `value` to `path` of this server.
pub fn curl_example_at(origin: &str, value: &str, path: &str) -> String {
    format!("curl -H \"Authorization: Bearer {value}\" {origin}{path}")
}

#[derive(Template)]
#[template(path = "tokens/revealed.html")]
struct RevealedPage<'a> {
    layout: Layout,
    token_id: i64,
    token_name: &'a str,
    value: &'a str,
    curl: String,
    back: String,
}

/// The page showing a revealed value (the owner, when the policy allows).
pub fn revealed_page(user: &PageUser, id: i64, name: &str, value: &str) -> PageResult {
    user.page(&RevealedPage {
        layout: user.layout("Token value", Section::Tokens),
        token_id: id,
        token_name: name,
        value,
        curl: curl_example(&user.origin, value),
        back: format!("/tokens/{id}"),
    })
}
