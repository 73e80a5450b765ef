//! What a service call can answer besides success, in the service's own words: no status
//! codes, no headers. The JSON API maps it once (`crate::error::ApiError::from`), the console
//! once (`routes::pages::render::Failure`). Refusals are built only by `service::policy`.

use std::collections::BTreeMap;

/// A failed operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The thing named does not exist, or the caller may not know it exists.
    #[error("not found")]
    NotFound,
    /// The caller may not do this; `code` is stable, `message` says why. Built by the policy.
    #[error("{}", .0.message)]
    Refused(Refusal),
    /// The input is wrong: a field (named in `fields`) or the combination of fields.
    #[error("{message}")]
    Invalid {
        code: &'static str,
        message: String,
        fields: BTreeMap<String, String>,
    },
    /// The input is well formed but collides with what is stored (a name taken, a state
    /// that does not allow the change).
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        /// The field the conflict is about (`name_taken` → `name`), for forms and clients.
        fields: BTreeMap<String, String>,
    },
    /// The database cannot be reached right now (it is down, or failing over).
    #[error("the database is unavailable; try again shortly")]
    Unavailable,
    /// Anything else; the details go to the log only.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

/// Why the caller is refused. Only `service::policy` makes these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    code: &'static str,
    message: String,
}

impl Refusal {
    pub(in crate::service) fn new(code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
        }
    }

    /// Stable, for clients: `insufficient_scope`, `not_delegable`, `sso_user`, …
    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A 409-like collision. `name_taken` and `email_taken` name their field.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Error {
        let message = message.into();
        let field = match code {
            "name_taken" => Some("name"),
            "email_taken" => Some("email"),
            _ => None,
        };
        Error::Conflict {
            code,
            fields: field
                .map(|f| BTreeMap::from([(f.to_string(), message.clone())]))
                .unwrap_or_default(),
            message,
        }
    }

    /// Invalid input not tied to one field.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Error {
        Error::Invalid {
            code,
            message: message.into(),
            fields: BTreeMap::new(),
        }
    }

    /// A `validation_failed` error naming one field.
    pub fn field(field: &str, message: impl Into<String>) -> Error {
        let message = message.into();
        Error::Invalid {
            code: "validation_failed",
            message: format!("{field}: {message}"),
            fields: BTreeMap::from([(field.to_string(), message)]),
        }
    }

    /// The stable code clients see (the same the API's error envelope carries).
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound => "not_found",
            Error::Refused(r) => r.code,
            Error::Invalid { code, .. } | Error::Conflict { code, .. } => code,
            Error::Unavailable => "storage_unavailable",
            Error::Internal(_) => "internal",
        }
    }
}

/// A database that cannot be reached is `Unavailable` (logged); any other storage failure is
/// internal.
impl From<crate::db::Error> for Error {
    fn from(e: crate::db::Error) -> Self {
        match e {
            crate::db::Error::Unavailable(why) => {
                tracing::warn!(error = %why, "storage unavailable");
                Error::Unavailable
            }
            e => Error::Internal(e.into()),
        }
    }
}

/// A list filter that cannot be understood (a status, kind or time that names nothing) or
/// that holds a control character (rule 44) is invalid input naming its parameter.
impl From<crate::domain::listing::FieldError> for Error {
    fn from(e: crate::domain::listing::FieldError) -> Error {
        // "status must be …" reads as the message; beside the field, "must be …".
        let (message, beside) = match e.message.strip_prefix(&format!("{} ", e.field)) {
            Some(rest) => (e.message.clone(), rest.to_string()),
            None => (format!("{}: {}", e.field, e.message), e.message),
        };
        Error::Invalid {
            code: "validation_failed",
            fields: BTreeMap::from([(e.field.to_string(), beside)]),
            message,
        }
    }
}
