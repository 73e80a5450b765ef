//! The one error type. Every failure a caller can see has a stable `code` and an HTTP status;
//! internal failures become an opaque 500 whose details go only to the log, under a request id.

use std::collections::BTreeMap;

use actix_web::http::header::HeaderValue;
use actix_web::http::{header, StatusCode};
use actix_web::web::Bytes;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// What a `WWW-Authenticate` header should say (RFC 6750 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// No credentials were sent.
    Missing,
    /// Credentials were sent but are invalid, expired or disabled.
    InvalidToken,
    /// The credentials lack a permission the route needs.
    InsufficientScope,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    /// `/v1/auth/verify` asked for a scope the caller's company does not define (SPEC §18).
    #[error("unknown scope `{0}`: the company does not define it")]
    UnknownScope(String),
    #[error("authentication required")]
    Unauthenticated(Challenge),
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("{message}")]
    Forbidden {
        code: &'static str,
        message: String,
        challenge: Option<Challenge>,
    },
    #[error("not found")]
    NotFound,
    #[error("method not allowed on this path")]
    MethodNotAllowed,
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        /// The field the conflict is about (`name_taken` → `name`), for forms and clients.
        fields: BTreeMap<String, String>,
    },
    #[error("request body too large (limit 64 KiB)")]
    PayloadTooLarge,
    #[error("{message}")]
    Unprocessable {
        code: &'static str,
        message: String,
        fields: BTreeMap<String, String>,
    },
    #[error("too many failed attempts; try again later")]
    TooManyAttempts { retry_after_secs: u64 },
    /// A token's rate limit or quota (SPEC §16): `rate_limited`, `quota_exhausted`.
    #[error("{message}")]
    Limited {
        code: &'static str,
        message: &'static str,
        retry_after_secs: Option<u64>,
    },
    /// Every password-hashing slot stayed taken for the whole wait (rule 40).
    #[error("the server is busy; try again shortly")]
    Busy { retry_after_secs: u64 },
    #[error("the service is not ready")]
    Unavailable,
    /// The database cannot be reached right now (it is down, or failing over).
    #[error("the database is unavailable; try again shortly")]
    StorageUnavailable,
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A `validation_failed` error naming one field (a query or body the routes read).
    pub fn field(field: &str, message: impl Into<String>) -> ApiError {
        crate::service::Error::field(field, message).into()
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::UnknownScope(_) => "unknown_scope",
            ApiError::Unauthenticated(Challenge::Missing) => "unauthenticated",
            ApiError::Unauthenticated(_) => "invalid_token",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::Forbidden { code, .. } => code,
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Conflict { code, .. } => code,
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::Unprocessable { code, .. } => code,
            ApiError::TooManyAttempts { .. } => "too_many_attempts",
            ApiError::Limited { code, .. } => code,
            ApiError::Busy { .. } => "busy",
            ApiError::Unavailable => "unavailable",
            ApiError::StorageUnavailable => "storage_unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// Seconds a client should wait before trying again (the `Retry-After` header).
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::TooManyAttempts { retry_after_secs }
            | ApiError::Busy { retry_after_secs } => Some(*retry_after_secs),
            ApiError::Limited {
                retry_after_secs, ..
            } => *retry_after_secs,
            _ => None,
        }
    }

    /// The field messages of a validation error or a conflict, for forms that show them
    /// beside fields.
    pub fn fields(&self) -> Option<&BTreeMap<String, String>> {
        match self {
            ApiError::Unprocessable { fields, .. } | ApiError::Conflict { fields, .. }
                if !fields.is_empty() =>
            {
                Some(fields)
            }
            _ => None,
        }
    }
}

fn www_authenticate(c: Challenge) -> &'static str {
    match c {
        Challenge::Missing => r#"Bearer realm="tokend""#,
        Challenge::InvalidToken => r#"Bearer realm="tokend", error="invalid_token""#,
        Challenge::InsufficientScope => r#"Bearer realm="tokend", error="insufficient_scope""#,
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::UnknownScope(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated(_) | ApiError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyAttempts { .. } | ApiError::Limited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Busy { .. } | ApiError::Unavailable | ApiError::StorageUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        // The common 401 answers of the hot path: static header values and a static body.
        if let ApiError::Unauthenticated(c) = self {
            let body = match c {
                Challenge::Missing => BODY_MISSING,
                _ => BODY_INVALID_TOKEN,
            };
            return HttpResponse::build(StatusCode::UNAUTHORIZED)
                .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
                .insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(www_authenticate(*c)),
                ))
                .insert_header((
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ))
                .body(Bytes::from_static(body.as_bytes()));
        }
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        let challenge = match self {
            ApiError::Forbidden { challenge, .. } => *challenge,
            _ => None,
        };
        if let Some(c) = challenge {
            res.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(www_authenticate(c)),
            ));
        }
        if let Some(secs) = self.retry_after() {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        let message = match self {
            // Internal details stay in the log (the middleware logs them with the request id).
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                "internal error; see the server log".to_string()
            }
            other => other.to_string(),
        };
        // Field order as a sorted JSON object would have it: code, fields, message.
        res.json(Envelope {
            error: ErrorFields {
                code: self.code(),
                fields: self.fields(),
                message: &message,
            },
        })
    }
}

/// `{"error": {...}}`, serialized straight from borrowed parts (no `serde_json::Value`).
#[derive(Serialize)]
struct Envelope<'a> {
    error: ErrorFields<'a>,
}

#[derive(Serialize)]
struct ErrorFields<'a> {
    code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a BTreeMap<String, String>>,
    message: &'a str,
}

/// The exact bodies the general path produces for the two 401 answers (a test checks that).
const BODY_MISSING: &str = r#"{"error":{"code":"unauthenticated","message":"authentication required: send `Authorization: Bearer <token>`"}}"#;
const BODY_INVALID_TOKEN: &str =
    r#"{"error":{"code":"invalid_token","message":"the token is invalid"}}"#;

/// The one mapping of a service failure to HTTP: not found 404, refused 403 (with the
/// `insufficient_scope` challenge where it applies), invalid 422, conflict 409, unavailable
/// 503, internal 500.
impl From<crate::service::error::Error> for ApiError {
    fn from(e: crate::service::error::Error) -> Self {
        use crate::service::error::Error;
        match e {
            Error::NotFound => ApiError::NotFound,
            Error::Refused(r) => ApiError::Forbidden {
                code: r.code(),
                challenge: (r.code() == "insufficient_scope")
                    .then_some(Challenge::InsufficientScope),
                message: r.message().to_string(),
            },
            Error::Invalid {
                code,
                message,
                fields,
            } => ApiError::Unprocessable {
                code,
                message,
                fields,
            },
            Error::Conflict {
                code,
                message,
                fields,
            } => ApiError::Conflict {
                code,
                message,
                fields,
            },
            Error::Unavailable => ApiError::StorageUnavailable,
            Error::Internal(e) => ApiError::Internal(e),
        }
    }
}

/// Storage failures reach HTTP as the service names them (503 when unreachable, else 500).
impl From<crate::db::Error> for ApiError {
    fn from(e: crate::db::Error) -> Self {
        crate::service::error::Error::from(e).into()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// A list filter that cannot be understood is invalid input naming its parameter (422).
impl From<crate::domain::listing::FieldError> for ApiError {
    fn from(e: crate::domain::listing::FieldError) -> ApiError {
        crate::service::error::Error::from(e).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_401_bodies_match_the_envelope() {
        for (c, body, message) in [
            (
                Challenge::Missing,
                BODY_MISSING,
                "authentication required: send `Authorization: Bearer <token>`",
            ),
            (
                Challenge::InvalidToken,
                BODY_INVALID_TOKEN,
                "the token is invalid",
            ),
        ] {
            let e = ApiError::Unauthenticated(c);
            let general = serde_json::to_string(&Envelope {
                error: ErrorFields {
                    code: e.code(),
                    fields: None,
                    message,
                },
            })
            .unwrap();
            assert_eq!(general, body);
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(v["error"]["code"], e.code());
        }
    }
}
