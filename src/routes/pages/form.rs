//! `application/x-www-form-urlencoded` bodies and query strings as ordered pairs, read
//! leniently: repeated keys (checkbox lists) are kept, and nothing a browser sends is a 400.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::domain::time::parse_time;
use crate::error::ApiError;

#[derive(Debug, Clone, Default)]
pub struct FormData(Vec<(String, String)>);

impl FormData {
    pub fn parse(bytes: &[u8]) -> FormData {
        FormData(
            url::form_urlencoded::parse(bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub fn query(req: &actix_web::HttpRequest) -> FormData {
        FormData::parse(req.query_string().as_bytes())
    }

    /// The first value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `key`, or "".
    pub fn text(&self, key: &str) -> String {
        self.get(key).unwrap_or_default().to_string()
    }

    /// The first value of `key`, trimmed; `None` when absent or blank.
    pub fn opt(&self, key: &str) -> Option<String> {
        self.get(key)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    /// Every value of `key` (checkbox lists).
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Whether a checkbox named `key` was sent.
    pub fn checked(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The pairs to replay in a confirmation form (without the CSRF token and the
    /// confirmation flag, which the confirmation form adds itself). A password (new, its
    /// confirmation, or the current one) is never replayed: no page echoes one back into its
    /// HTML (rule 34).
    pub fn replay(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "csrf_token"
                        | "confirmed"
                        | "password"
                        | "password_confirm"
                        | "current_password"
                )
            })
            .cloned()
            .collect()
    }

    /// Rule 28: the name of the first field longer than 4 KiB, if any.
    pub fn oversized(&self) -> Option<&str> {
        self.0
            .iter()
            .find(|(_, v)| v.len() > crate::domain::names::MAX_TEXT_BYTES)
            .map(|(k, _)| k.as_str())
    }

    /// Rule 44: the name of the first field holding a control character other than tab and
    /// line breaks (NUL, ESC …), if any.
    pub fn has_controls(&self) -> Option<&str> {
        self.0
            .iter()
            .find(|(_, v)| crate::domain::names::multiline_text(v).is_err())
            .map(|(k, _)| k.as_str())
    }

    /// A local path to go back to (`back` field), never another site.
    pub fn back(&self, default: &str) -> String {
        local_path(self.get("back")).unwrap_or_else(|| default.to_string())
    }
}

/// `p` when it is a path on this site (`/…`, not `//host` or `/\host`; no control
/// characters, which browsers strip from URLs, turning `/\t/host` into `//host`).
/// The id in a page's path (`/tokens/{id}`, `/users/{id}`, …); anything but a number names
/// nothing (404).
pub fn path_id(s: &str) -> Result<i64, super::render::PageError> {
    s.parse::<i64>()
        .map_err(|_| super::render::PageError::not_found())
}

pub fn local_path(p: Option<&str>) -> Option<String> {
    p.filter(|p| {
        p.starts_with('/')
            && !p.starts_with("//")
            && !p.starts_with("/\\")
            && !p.chars().any(char::is_control)
    })
    .map(str::to_string)
}

/// Field name → message, shown beside the fields of a re-rendered form.
#[derive(Debug, Clone, Default)]
pub struct FieldErrors(pub BTreeMap<String, String>);

impl FieldErrors {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn set(&mut self, field: &str, message: impl Into<String>) {
        self.0.insert(field.to_string(), message.into());
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Splits a service error into messages beside fields and one message above the form.
/// `rename` maps API field names to form field names (e.g. `owner_id` → `owner`).
pub fn explain(e: &ApiError, rename: &[(&str, &str)]) -> (FieldErrors, String) {
    let name = |f: &str| {
        rename
            .iter()
            .find(|(from, _)| *from == f)
            .map_or(f, |(_, to)| *to)
            .to_string()
    };
    let mut errors = FieldErrors::default();
    if let Some(fields) = e.fields() {
        for (f, m) in fields {
            let text = if e.code() == "permissions_exceed_owner" {
                e.to_string()
            } else {
                m.clone()
            };
            errors.0.insert(name(f), text);
        }
    } else {
        let field = match e.code() {
            "name_taken" => Some("name"),
            "email_taken" => Some("email"),
            "shared_requires_admin" => Some("kind"),
            "owner_inactive" => Some("owner_id"),
            "permissions_exceed_caller" => Some("permissions"),
            "webhook_target_forbidden" => Some("webhook_url"),
            "current_password_wrong" => Some("current_password"),
            _ => None,
        };
        if let Some(f) = field {
            errors.0.insert(name(f), e.to_string());
        }
    }
    let banner = if errors.is_empty() {
        let mut m = e.to_string();
        if let Some(first) = m.get(0..1) {
            m = first.to_uppercase() + &m[1..];
        }
        m
    } else {
        "Please correct the highlighted fields.".to_string()
    };
    (errors, banner)
}

/// Parses an optional `datetime-local` (or any accepted time) field, UTC.
pub fn time_field(
    value: Option<String>,
    field: &str,
    errors: &mut FieldErrors,
) -> Option<DateTime<Utc>> {
    match value.map(|v| parse_time(&v)) {
        Some(Ok(t)) => Some(t),
        Some(Err(_)) => {
            errors.set(field, crate::domain::listing::TIME_HINT);
            None
        }
        None => None,
    }
}

/// Appends `key=value` pairs to a path as a query string.
pub fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        q.append_pair(k, v);
    }
    let q = q.finish();
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{q}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_repeated_keys_and_refuses_foreign_back_links() {
        let f = FormData::parse(b"ids=1&ids=2&action=disable&back=%2F%2Fevil.example");
        assert_eq!(f.all("ids"), vec!["1", "2"]);
        assert_eq!(f.get("action"), Some("disable"));
        assert_eq!(f.back("/"), "/");
        let pw = FormData::parse(
            b"email=a%40b.io&password=hunter2hunter2&current_password=old-pass-1&csrf_token=x",
        );
        assert_eq!(pw.replay(), vec![("email".into(), "a@b.io".into())]);
        assert_eq!(local_path(Some("/\t/evil.example")), None);
        assert_eq!(local_path(Some("/\\evil.example")), None);
        assert_eq!(
            local_path(Some("/tokens?status=enabled")).as_deref(),
            Some("/tokens?status=enabled")
        );
        assert_eq!(
            with_query("/", &[("name", "a b"), ("kind", "")]),
            "/?name=a+b"
        );
    }
}
