//! Plumbing shared by the JSON handlers: extractor error mapping, list shapes, responses.

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::names::{multiline_text, MAX_TEXT_BYTES, NO_CONTROLS};
use crate::error::ApiError;

/// Request bodies larger than this answer 413.
pub const BODY_LIMIT: usize = 64 * 1024;

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(BODY_LIMIT)
        .error_handler(|err, _req: &HttpRequest| {
            match err {
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => ApiError::PayloadTooLarge,
                JsonPayloadError::ContentType => ApiError::BadRequest(
                    "expected a JSON body (Content-Type: application/json)".into(),
                ),
                JsonPayloadError::Deserialize(e) => {
                    ApiError::BadRequest(format!("invalid JSON body: {e}"))
                }
                JsonPayloadError::Payload(actix_web::error::PayloadError::Overflow) => {
                    ApiError::PayloadTooLarge
                }
                other => ApiError::BadRequest(format!("invalid request body: {other}")),
            }
            .into()
        })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _req| {
        ApiError::BadRequest(format!("invalid query string: {err}")).into()
    })
}

pub fn path_config() -> web::PathConfig {
    // A malformed id names no object: 404, like an unknown one.
    web::PathConfig::default().error_handler(|_err: PathError, _req| ApiError::NotFound.into())
}

pub fn payload_config() -> web::PayloadConfig {
    web::PayloadConfig::default().limit(BODY_LIMIT)
}

/// A JSON request body that must be an object. `web::Json<T>` alone also accepts an array
/// for a struct, filling its fields by position (`["Acme"]` would create a company), which
/// the interface counts as a wrong type: 400. Limits and error mapping are `json_config`'s.
///
/// Extraction never fails: a bad body surfaces only when the handler calls `into_inner`,
/// after every other extractor succeeded. actix-web polls a handler's extractors together,
/// so a failing body extractor could otherwise answer 400 before the credentials were
/// checked — a request without valid credentials must get 401/403 whatever its body.
pub struct JsonBody<T> {
    body: Result<T, ApiError>,
    sent: bool,
}

impl<T> JsonBody<T> {
    /// The body, or its 400/413.
    pub fn into_inner(self) -> Result<T, ApiError> {
        self.body
    }

    /// For optional bodies: no body at all → `T::default()`; a body that is present but
    /// malformed, of the wrong type or too large keeps its 400/413, where
    /// `Option<Json<T>>` would silently drop it and go on to change stored data.
    pub fn or_default(self) -> Result<T, ApiError>
    where
        T: Default,
    {
        match self.body {
            Err(_) if !self.sent => Ok(T::default()),
            other => other,
        }
    }
}

/// Recovers the `ApiError` that `json_config`'s handler put into an actix error.
fn body_error(e: actix_web::Error) -> ApiError {
    match e.as_error::<ApiError>() {
        Some(ApiError::PayloadTooLarge) => ApiError::PayloadTooLarge,
        Some(other) => ApiError::BadRequest(other.to_string()),
        None => ApiError::BadRequest(format!("invalid request body: {e}")),
    }
}

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for JsonBody<T> {
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let h = req.headers();
        let sent = h.contains_key(header::TRANSFER_ENCODING)
            || h.get(header::CONTENT_LENGTH)
                .is_some_and(|v| v.as_bytes() != b"0");
        let value = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let body = match value.await {
                Err(e) => Err(body_error(e)),
                Ok(web::Json(v)) if !v.is_object() => Err(ApiError::BadRequest(
                    "invalid JSON body: expected an object".into(),
                )),
                Ok(web::Json(v)) => {
                    if let Some(field) = first_string(&v, "", &|s| s.len() > MAX_TEXT_BYTES) {
                        Err(ApiError::field(&field, "must be at most 4096 bytes"))
                    } else if let Some(field) =
                        first_string(&v, "", &|s| multiline_text(s).is_err())
                    {
                        Err(ApiError::field(&field, NO_CONTROLS))
                    } else {
                        serde_json::from_value(v)
                            .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
                    }
                }
            };
            Ok(JsonBody { body, sent })
        })
    }
}

/// The path (`name`, `values.3`) of the first string in a body that is `bad`, refused before
/// the body reaches any service: longer than 4 KiB (rule 28), or holding a control character
/// other than tab and line breaks (rule 44: NUL and the rest of C0, DEL, C1 — whatever the
/// field, so no such text reaches a query or the database). Tighter bounds (email, names,
/// passwords, descriptions; no line breaks in one-line fields) are the services' own.
fn first_string(v: &serde_json::Value, at: &str, bad: &dyn Fn(&str) -> bool) -> Option<String> {
    use serde_json::Value;
    let join = |k: &str| {
        if at.is_empty() {
            k.to_string()
        } else {
            format!("{at}.{k}")
        }
    };
    match v {
        Value::String(s) if bad(s) => Some(if at.is_empty() {
            "body".into()
        } else {
            at.into()
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| first_string(x, &join(&i.to_string()), bad)),
        Value::Object(map) => map.iter().find_map(|(k, x)| {
            let key = if k.len() > 64 { "(field)" } else { k.as_str() };
            first_string(x, &join(key), bad)
        }),
        _ => None,
    }
}

/// The error envelope, for the OpenAPI document.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[schema(value_type = Option<Object>)]
    pub fields: Option<serde_json::Value>,
}

macro_rules! list_types {
    ($($name:ident => $item:ty),+ $(,)?) => {$(
        /// A page of items: `{"items": [...], "next_cursor": "…" | null}`.
        #[derive(Serialize, ToSchema)]
        pub struct $name {
            pub items: Vec<$item>,
            pub next_cursor: Option<String>,
        }
        impl $name {
            pub fn respond(items: Vec<$item>, next_cursor: Option<String>) -> HttpResponse {
                HttpResponse::Ok().json($name { items, next_cursor })
            }
        }
    )+};
}

list_types! {
    TokenList => crate::service::tokens::TokenView,
    UserList => crate::service::users::UserView,
    AuditList => crate::service::audit::AuditView,
    NodeList => crate::service::nodes::NodeView,
    CompanyList => crate::service::companies::CompanyView,
}

/// A response carrying a token value or secret: never cached.
pub fn secret_json<T: Serialize>(status: actix_web::http::StatusCode, body: &T) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}
