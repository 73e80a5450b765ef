//! The pages that show a secret once: a token's value after create or regenerate, and a
//! revealed value. They are the answer to the POST itself, so the value is never kept to be
//! shown again; `Cache-Control: no-store` comes from the middleware.

use askama::Template;

use super::auth::PageUser;
use super::render::{Layout, PageResult, Section};
use super::view;
use crate::service::tokens::TokenWithValue;

#[derive(Template)]
#[template(path = "tokens/value.html")]
struct ValuePage<'a> {
    layout: Layout,
    heading: &'a str,
    token_id: i64,
    token_name: &'a str,
    value: &'a str,
    /// The value cannot be revealed again by this user (show_once, or not the owner).
    shown_once: bool,
    /// When a regenerate kept the previous value working: until when (else empty).
    previous_until: String,
    /// A ready-to-run request with the value (`curl … /v1/me`).
    curl: String,
    /// Where *Close* goes: the page the user came from.
    back: &'a str,
}

/// A `curl` line that sends `value` to `/v1/me` of this server.
pub fn curl_example(origin: &str, value: &str) -> String {
    curl_example_at(origin, value, "/v1/me")
}

/// A `curl` line that sends `value` to `path` of this server.
pub fn curl_example_at(origin: &str, value: &str, path: &str) -> String {
    format!("curl -H \"Authorization: Bearer {value}\" {origin}{path}")
}

/// The value page (create, regenerate): the value once, how to send it, and *Close* back to
/// `back`. `Cache-Control: no-store` comes from the middleware.
pub fn value_page(user: &PageUser, heading: &str, t: &TokenWithValue, back: &str) -> PageResult {
    user.page(&ValuePage {
        layout: user.layout(heading, Section::Tokens),
        heading,
        token_id: t.token.id,
        token_name: &t.token.name,
        value: t.value.expose(),
        shown_once: !t.token.can_reveal,
        previous_until: view::opt_time(&t.token.previous_value_expires_at, ""),
        curl: curl_example(&user.origin, t.value.expose()),
        back,
    })
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
