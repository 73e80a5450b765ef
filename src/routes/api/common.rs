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

/// A query string read into `T`, like `web::Query`, but a value of the wrong type names its
/// parameter: `?limit=abc` → 422 `validation_failed` with `fields.limit` ("must be an
/// integer"); a parameter given twice is the same; an unknown parameter stays 400 and is named.
pub struct Query<T>(pub T);

impl<T> std::ops::Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: serde::de::DeserializeOwned> Query<T> {
    pub fn parse(query: &str) -> Result<T, ApiError> {
        let pairs = url::form_urlencoded::parse(query.as_bytes());
        // A time parameter (the document says `format: date-time`) that is left empty is not
        // a time, where elsewhere an empty filter means "any".
        if let Some((k, _)) = pairs
            .clone()
            .find(|(k, v)| super::doc::is_time(k) && v.trim().is_empty())
        {
            return Err(ApiError::field(&k, crate::domain::listing::TIME_HINT));
        }
        let de = serde_urlencoded::Deserializer::new(pairs);
        serde_path_to_error::deserialize(de).map_err(|e| shape_error(e, Input::Query))
    }
}

impl<T: serde::de::DeserializeOwned> actix_web::FromRequest for Query<T> {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(
            Query::<T>::parse(req.query_string())
                .map(Query)
                .map_err(Into::into),
        )
    }
}

/// Where a value that does not fit its type came from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Input {
    Body,
    Query,
}

/// Maps a serde error at a known path to the interface's answer, never serde's own words:
/// an unknown field or parameter → 400 naming it; a missing field, a wrong type or format, or a
/// repeated parameter → 422 `validation_failed` with `fields.<path>` and a plain message.
fn shape_error<E: std::fmt::Display>(e: serde_path_to_error::Error<E>, input: Input) -> ApiError {
    use serde_path_to_error::Segment;
    let mut path: Vec<String> = e
        .path()
        .iter()
        .filter_map(|s| match s {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } | Segment::Enum { variant: key } => Some(key.clone()),
            Segment::Unknown => None,
        })
        .collect();
    let text = e.inner().to_string();
    let quoted = |prefix: &str| {
        text.strip_prefix(prefix)
            .and_then(|rest| rest.split_once('`'))
            .map(|(name, _)| name.to_string())
    };
    // The field itself, under the path of the object that holds it (which, for an unknown
    // field, may already end with its name).
    let named = |path: &[String], name: String| {
        let mut p = path.to_vec();
        if p.last() != Some(&name) {
            p.push(name);
        }
        p.join(".")
    };
    if let Some(name) = quoted("unknown field `") {
        let accepted = text
            .split_once("expected ")
            .map(|(_, list)| list.replace("one of ", "").replace('`', ""))
            .filter(|l| !l.contains("no fields"))
            .map(|l| format!(" (accepted: {l})"))
            .unwrap_or_default();
        let field = named(&path, name);
        return ApiError::BadRequest(match input {
            Input::Body => format!("unknown field `{field}`{accepted}"),
            Input::Query => format!("unknown query parameter `{field}`{accepted}"),
        });
    }
    if let Some(name) = quoted("missing field `") {
        return ApiError::field(&named(&path, name), "is required");
    }
    if let Some(name) = quoted("duplicate field `") {
        return ApiError::field(&named(&path, name), "must be given once");
    }
    let field = if path.is_empty() {
        "body".to_string()
    } else {
        std::mem::take(&mut path).join(".")
    };
    ApiError::field(&field, human(&text, input))
}

/// A plain message for a value of the wrong type or format. serde's "invalid type: string
/// \"2\", expected i64" becomes "must be an integer"; messages our own deserializers wrote
/// (a time that is not a time, an unknown permission) are already plain and stay.
fn human(text: &str, input: Input) -> String {
    let expected = text.rsplit_once(", expected ").map(|(_, e)| e);
    if let Some(variants) = text
        .strip_prefix("unknown variant `")
        .and_then(|r| r.split_once("expected "))
        .map(|(_, v)| v.replace("one of ", "").replace('`', ""))
    {
        return format!("must be one of {variants}");
    }
    let serde_words = text.starts_with("invalid type: ")
        || text.starts_with("invalid value: ")
        || text.starts_with("invalid length ");
    // What the standard parsers say about text in a query string.
    let integer_text = input == Input::Query
        && (text.contains("invalid digit")
            || text.contains("too large to fit")
            || text.contains("too small to fit")
            || text.contains("empty string"));
    let bool_text = input == Input::Query && text.contains("provided string was not `true`");
    if let Some(e) = expected.filter(|_| serde_words) {
        let plain = if [
            "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "usize", "isize",
        ]
        .iter()
        .any(|t| e == *t || e.starts_with(&format!("{t} ")))
            || e.contains("integer")
        {
            "must be an integer"
        } else if e == "f64" || e == "f32" || e.contains("number") {
            "must be a number"
        } else if e.contains("bool") {
            "must be true or false"
        } else if e.contains("sequence") || e.contains("array") || e.contains("tuple") {
            "must be a list"
        } else if e.contains("string") || e.contains("char") {
            "must be a string"
        } else if e.contains("struct") || e.contains("map") {
            "must be an object"
        } else {
            "has the wrong type"
        };
        return plain.to_string();
    }
    if integer_text {
        return "must be an integer".into();
    }
    if bool_text {
        return "must be true or false".into();
    }
    if serde_words {
        return "has the wrong type".into();
    }
    text.to_string()
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
    body: Result<T, BodyError>,
    sent: bool,
}

/// Why a body was refused; `bounds`: a text field out of bounds, not a wrong shape.
struct BodyError {
    error: ApiError,
    bounds: bool,
}

impl From<ApiError> for BodyError {
    fn from(error: ApiError) -> BodyError {
        BodyError {
            error,
            bounds: false,
        }
    }
}

impl<T> JsonBody<T> {
    /// The body, or its 400/413/422.
    pub fn into_inner(self) -> Result<T, ApiError> {
        self.body.map_err(|e| e.error)
    }

    /// For the login body: a field out of bounds (too long, a control character) is a failed
    /// login (rule 28: 401), while a body of the wrong shape keeps its 400/422.
    pub fn into_login(self) -> Result<T, ApiError> {
        self.body.map_err(|e| match e.error {
            ApiError::Unprocessable { .. } if e.bounds => ApiError::InvalidCredentials,
            other => other,
        })
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
            other => other.map_err(|e| e.error),
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
            let bounds = |error| BodyError {
                error,
                bounds: true,
            };
            let body = match value.await {
                Err(e) => Err(body_error(e).into()),
                Ok(web::Json(v)) if !v.is_object() => {
                    Err(ApiError::BadRequest("invalid JSON body: expected an object".into()).into())
                }
                Ok(web::Json(v)) => {
                    if let Some(field) = first_string(&v, "", &|s| s.len() > MAX_TEXT_BYTES) {
                        Err(bounds(ApiError::field(
                            &field,
                            "must be at most 4096 bytes",
                        )))
                    } else if let Some(field) =
                        first_string(&v, "", &|s| multiline_text(s).is_err())
                    {
                        Err(bounds(ApiError::field(&field, NO_CONTROLS)))
                    } else {
                        // The path of a value that does not fit (`owner_id`, `ids.2`), which
                        // serde_json alone reports only as a line and column.
                        serde_path_to_error::deserialize(v)
                            .map_err(|e| shape_error(e, Input::Body).into())
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
