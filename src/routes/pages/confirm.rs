//! The no-JavaScript confirmation step. A dangerous form (delete, regenerate, mass delete)
//! posted without `confirmed` answers this page, which replays the same fields with
//! `confirmed=1`. With JavaScript the console script asks `confirm()` and adds the flag itself.

use askama::Template;

use super::auth::PageUser;
use super::form::FormData;
use super::render::{Layout, PageResult, Section};

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage<'a> {
    layout: Layout,
    heading: &'a str,
    message: &'a str,
    action: &'a str,
    fields: Vec<(String, String)>,
    button: &'a str,
    cancel: &'a str,
}

pub fn confirm(
    user: &PageUser,
    form: &FormData,
    action: &str,
    heading: &str,
    message: &str,
    button: &str,
    cancel: &str,
) -> PageResult {
    user.page(&ConfirmPage {
        layout: user.layout(heading, Section::None),
        heading,
        message,
        action,
        fields: form.replay(),
        button,
        cancel,
    })
}
