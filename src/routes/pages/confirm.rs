//! The no-JavaScript confirmation step. A dangerous form (delete, regenerate, mass delete)
//! posted without `confirmed` answers this page, which replays the same fields with
//! `confirmed=1`. With JavaScript the console script asks `confirm()` and adds the flag itself.
//! A form may offer one choice again on this page (regenerate: how long the previous value
//! keeps working), shown as a select instead of being replayed hidden.

use askama::Template;

use super::auth::PageUser;
use super::form::FormData;
use super::render::{Layout, PageResult, Section};
use super::view::Opt;

/// A select shown on the confirmation page, preset to what the form sent.
pub struct Choice {
    pub name: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub options: Vec<Opt>,
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage<'a> {
    layout: Layout,
    heading: &'a str,
    message: &'a str,
    action: &'a str,
    fields: Vec<(String, String)>,
    choice: Option<Choice>,
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
        choice: None,
        button,
        cancel,
    })
}

/// `confirm` with one choice the user may still change (its field is not replayed hidden).
pub fn confirm_choosing(
    user: &PageUser,
    form: &FormData,
    (action, heading, message): (&str, &str, &str),
    choice: Choice,
    button: &str,
    cancel: &str,
) -> PageResult {
    let mut fields = form.replay();
    fields.retain(|(k, _)| k != choice.name);
    user.page(&ConfirmPage {
        layout: user.layout(heading, Section::None),
        heading,
        message,
        action,
        fields,
        choice: Some(choice),
        button,
        cancel,
    })
}
