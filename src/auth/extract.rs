//! Who is calling: the `Caller` extractor for `/v1` routes (forward-auth is in `forward.rs`,
//! node tokens in `node.rs`).
//!
//! Order (first match wins): `Authorization: Bearer`, `X-API-Token`, `X-WallarmApi-Token`,
//! `WallarmApi-Token`, legacy `X-WallarmApi-UUID` + `X-WallarmApi-Secret`, session cookie.
//!
//! Token path: parse (no I/O) → digest → in-memory filter → cache → at most one indexed
//! read on the blocking pool. No write: last use goes to an in-memory buffer.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header::{HeaderName, AUTHORIZATION};
use actix_web::http::Method;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use super::client_ip::client_ip;
use super::limits::{self, Presented};
use super::node::node_lookup;
use crate::auth::session;
use crate::crypto::same_secret;
use crate::db;
use crate::db::tokens::AuthRow;
use crate::domain::authz::{self, Grant, Refusal};
use crate::domain::caller::{AuthMethod, Caller};
use crate::domain::token_value::{legacy_key, TokenDigest, TokenValue, ValueKind};
use crate::error::{ApiError, ApiResult, Challenge};
use crate::service::legacy::valid_uuid;
use crate::state::index::Cached;
use crate::state::{AppState, Shared};

/// The credential a request carries.
pub enum Credential {
    Token(String),
    Legacy { uuid: String, secret: String },
    Session(String),
    None,
}

const TOKEN_HEADERS: [HeaderName; 3] = [
    HeaderName::from_static("x-api-token"),
    HeaderName::from_static("x-wallarmapi-token"),
    HeaderName::from_static("wallarmapi-token"),
];
const LEGACY_UUID: HeaderName = HeaderName::from_static("x-wallarmapi-uuid");
const LEGACY_SECRET: HeaderName = HeaderName::from_static("x-wallarmapi-secret");
const CSRF: HeaderName = HeaderName::from_static("x-csrf-token");

/// A header as text; a value that is not visible ASCII reads as "\0" (never a valid value).
/// Names are pre-parsed constants, so a lookup does not parse or lowercase the name.
fn header<'a>(req: &'a HttpRequest, name: &HeaderName) -> Option<&'a str> {
    req.headers()
        .get(name)
        .map(|v| v.to_str().unwrap_or("\u{0}"))
}

/// The name of the session cookie (`__Host-` prefix with secure cookies).
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-tokend_session"
    } else {
        "tokend_session"
    }
}

/// The header credential of a request, borrowed (no allocation): the hot path's view.
pub(super) enum HeaderCredential<'a> {
    Token(&'a str),
    Legacy {
        uuid: &'a str,
        secret: &'a str,
    },
    /// No credential header: a session cookie or nothing.
    Other,
}

pub(super) fn header_credential(req: &HttpRequest) -> HeaderCredential<'_> {
    if let Some(v) = header(req, &AUTHORIZATION) {
        let v = v.trim();
        return match v.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => {
                HeaderCredential::Token(rest.trim())
            }
            _ => HeaderCredential::Token(""),
        };
    }
    for name in &TOKEN_HEADERS {
        if let Some(v) = header(req, name) {
            return HeaderCredential::Token(v.trim());
        }
    }
    if let (Some(uuid), Some(secret)) = (header(req, &LEGACY_UUID), header(req, &LEGACY_SECRET)) {
        return HeaderCredential::Legacy {
            uuid: uuid.trim(),
            secret: secret.trim(),
        };
    }
    HeaderCredential::Other
}

pub fn credential(req: &HttpRequest, secure_cookies: bool) -> Credential {
    match header_credential(req) {
        HeaderCredential::Token(v) => return Credential::Token(v.to_string()),
        HeaderCredential::Legacy { uuid, secret } => {
            return Credential::Legacy {
                uuid: uuid.to_string(),
                secret: secret.to_string(),
            }
        }
        HeaderCredential::Other => {}
    }
    if let Some(c) = req.cookie(cookie_name(secure_cookies)) {
        return Credential::Session(c.value().to_string());
    }
    Credential::None
}

pub(super) fn invalid(state: &AppState, outcome: &str) -> ApiError {
    state.metrics.auth(outcome);
    ApiError::Unauthenticated(Challenge::InvalidToken)
}

/// Looks up a digest through the cache, or with one read on the blocking pool.
async fn lookup<F>(
    state: &Arc<AppState>,
    key: TokenDigest,
    kind: &'static str,
    read: F,
) -> ApiResult<Option<Arc<Cached>>>
where
    F: FnOnce(&crate::db::Connection) -> ApiResult<Option<AuthRow>> + Send + 'static,
{
    if let Some(row) = state.index.cached(&key) {
        return Ok(Some(row));
    }
    let generation = state.index.generation();
    state.metrics.auth_db_reads.with_label_values(&[kind]).inc();
    let row = state.read(read).await?.map(|r| Arc::new(Cached::new(r)));
    if let Some(r) = &row {
        state.index.store(generation, key, r.clone());
    }
    Ok(row)
}

/// Checks a looked-up token at `now` and turns it into a caller.
async fn admit(
    state: &Arc<AppState>,
    req: Option<&HttpRequest>,
    row: &AuthRow,
    method: AuthMethod,
    ip: IpAddr,
) -> ApiResult<Caller> {
    let grant = check(state, req, row, ip).await?;
    Ok(Caller {
        user: row.owner.clone(),
        permissions: grant.permissions,
        token_id: Some(row.token_id),
        method,
        ip: Some(ip.to_string()),
        delegated_by: grant.delegated_by,
    })
}

/// Asks the authorization core about a looked-up token at `now`, then applies its rate limit
/// and quota (only for a row that has one), and turns a refusal into the HTTP answer.
/// Records the last use (buffered) and the outcome, and marks the request as presenting this
/// token (usage counts and `RateLimit-*` headers, written by the response middleware).
pub(super) async fn check(
    state: &Arc<AppState>,
    req: Option<&HttpRequest>,
    row: &AuthRow,
    ip: IpAddr,
) -> ApiResult<Grant> {
    let now = state.now_ms();
    let presented = |rate| {
        if let Some(req) = req {
            req.extensions_mut().insert(Presented {
                token_id: row.token_id,
                rate,
            });
        }
    };
    let grant = match authz::admit(&row.credential(), now, ip) {
        Ok(grant) => grant,
        Err(refusal) => {
            presented(None);
            return Err(refuse(state, row, ip, refusal));
        }
    };
    if row.limits.any() {
        let (rate, outcome) = limits::enforce(state, row).await;
        presented(rate);
        outcome?;
    } else {
        presented(None);
    }
    state.usage.record(row.token_id, now, ip);
    state.metrics.auth("ok");
    Ok(grant)
}

fn refuse(state: &Arc<AppState>, row: &AuthRow, ip: IpAddr, refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::Expired => invalid(state, "expired"),
        Refusal::Disabled => invalid(state, "disabled"),
        Refusal::IpNotAllowed => {
            state.metrics.auth("ip_not_allowed");
            audit_ip_refusal(state, row, ip);
            crate::service::policy::refusals::ip_not_allowed().into()
        }
    }
}

/// Audits a refusal for `ip_not_allowed` off the request path, at most once a minute per
/// token, so refusals cannot become a write flood.
fn audit_ip_refusal(state: &Arc<AppState>, row: &AuthRow, ip: IpAddr) {
    let now = state.now_ms();
    if state
        .ip_refusals
        .hit(&row.token_id.to_string(), now)
        .is_err()
    {
        return;
    }
    let state = state.clone();
    let (token_id, owner) = (row.token_id, row.owner.clone());
    let ip = ip.to_string();
    actix_web::rt::task::spawn_blocking(move || {
        let result = state.write_blocking(|tx| {
            crate::service::sessions::ip_refused(tx, token_id, &owner, ip, now)
        });
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot audit an ip_not_allowed refusal");
        }
    });
}

/// Whether the filter may know `digest`; for a digest it does not know, after looking once
/// for writes the command line made since the last sync (a value it just printed).
async fn known(state: &Arc<AppState>, digest: &TokenDigest) -> bool {
    state.index.might_exist(digest) || (state.catch_up().await && state.index.might_exist(digest))
}

/// Authenticates an API token value.
pub async fn authenticate_token(state: &Arc<AppState>, raw: &str, ip: IpAddr) -> ApiResult<Caller> {
    token_caller(state, None, raw, ip).await
}

/// Authenticates an API token value, marking `req` as presenting it (when given).
async fn token_caller(
    state: &Arc<AppState>,
    req: Option<&HttpRequest>,
    raw: &str,
    ip: IpAddr,
) -> ApiResult<Caller> {
    let row = token_row(state, raw).await?;
    admit(state, req, &row, AuthMethod::Token, ip).await
}

/// The stored row of an API token value (not yet checked): parse, filter, cache, one read.
pub(super) async fn token_row(state: &Arc<AppState>, raw: &str) -> ApiResult<Arc<Cached>> {
    let value = TokenValue::parse(raw).map_err(|_| invalid(state, "malformed"))?;
    let digest = value.digest();
    if !known(state, &digest).await {
        return Err(invalid(state, "unknown"));
    }
    if value.kind() == ValueKind::Node {
        return match node_lookup(state, digest).await? {
            Some(n) if n.token_disabled_reason.is_some() => Err(invalid(state, "disabled")),
            Some(_) => Err(crate::service::policy::refusals::node_token_elsewhere().into()),
            None => Err(invalid(state, "unknown")),
        };
    }
    lookup(state, digest, "token", move |c| {
        Ok(db::tokens::auth_lookup(c, &digest)?)
    })
    .await?
    .ok_or_else(|| invalid(state, "unknown"))
}

/// Authenticates legacy UUID + secret headers (rule 20).
pub async fn authenticate_legacy(
    state: &Arc<AppState>,
    uuid: &str,
    secret: &str,
    ip: IpAddr,
) -> ApiResult<Caller> {
    legacy_caller(state, None, uuid, secret, ip).await
}

async fn legacy_caller(
    state: &Arc<AppState>,
    req: Option<&HttpRequest>,
    uuid: &str,
    secret: &str,
    ip: IpAddr,
) -> ApiResult<Caller> {
    let row = legacy_row(state, uuid, secret, ip).await?;
    admit(state, req, &row, AuthMethod::Legacy, ip).await
}

/// The stored row of legacy credentials (not yet checked). Rule 29: an address with 20
/// failed attempts in the last minute is refused (429) before anything is compared; only
/// failures stay counted, and while none are recorded the check is one atomic load.
///
/// Rule 42: checking and counting are one step. A secret this server has verified before (a
/// cache hit: the cache key covers the secret) is no guess and passes at once; any other
/// attempt reserves its place in the address's count before its secret is compared, and
/// gives it back unless it fails — so of a burst from one address at most 20 are compared
/// and answered 401, the rest 429.
pub(super) async fn legacy_row(
    state: &Arc<AppState>,
    uuid: &str,
    secret: &str,
    ip: IpAddr,
) -> ApiResult<Arc<Cached>> {
    let now = state.now_ms();
    let too_many = |wait| ApiError::TooManyAttempts {
        retry_after_secs: wait,
    };
    if let Some(wait) = state.legacy_failures.check(ip, now) {
        return Err(too_many(wait));
    }
    let uuid = uuid.to_lowercase();
    if let Some(row) = legacy_cache_key(&uuid, secret).and_then(|k| state.index.cached(&k)) {
        return Ok(row);
    }
    state.legacy_failures.reserve(ip, now).map_err(too_many)?;
    let found = legacy_match(state, &uuid, secret).await;
    if !matches!(found, Err(ApiError::Unauthenticated(_))) {
        state.legacy_failures.release(ip, now);
    }
    found
}

/// The lookup-cache key of well-formed legacy credentials (`uuid` lower-cased).
fn legacy_cache_key(uuid: &str, secret: &str) -> Option<TokenDigest> {
    (valid_uuid(uuid) && !secret.is_empty() && secret.len() <= 512)
        .then(|| TokenDigest::of(&format!("legacy-auth:{uuid}\u{0}{secret}")))
}

/// Looks up legacy credentials (`uuid` lower-cased): the row when the UUID is known and the
/// secret matches.
async fn legacy_match(state: &Arc<AppState>, uuid: &str, secret: &str) -> ApiResult<Arc<Cached>> {
    let Some(key) = legacy_cache_key(uuid, secret) else {
        return Err(invalid(state, "malformed"));
    };
    if !known(state, &legacy_key(uuid)).await {
        return Err(invalid(state, "unknown"));
    }
    // The cache key covers the secret, so a hit proves the secret was verified before.
    let keys = state.keys.clone();
    let (uuid, secret_owned) = (uuid.to_string(), secret.to_string());
    lookup(state, key, "legacy", move |c| {
        Ok(db::tokens::auth_lookup_legacy(c, &uuid)?
            .filter(|(_, stored)| keys.legacy_matches(&secret_owned, stored))
            .map(|(row, _)| row))
    })
    .await?
    .ok_or_else(|| invalid(state, "unknown"))
}

/// Authenticates a console session; unsafe methods need the `X-CSRF-Token` header.
async fn authenticate_session(
    state: &Arc<AppState>,
    cookie: String,
    csrf_header: Option<String>,
    unsafe_method: bool,
    ip: IpAddr,
) -> ApiResult<Caller> {
    let Some((user, csrf)) = session::find(state, &cookie).await? else {
        return Err(ApiError::Unauthenticated(Challenge::InvalidToken));
    };
    if unsafe_method && !same_secret(&csrf, csrf_header.as_deref()) {
        return Err(crate::service::policy::refusals::csrf_failed().into());
    }
    Ok(Caller::session(user, ip.to_string()))
}

/// Resolves the caller of any request from its credential.
pub async fn authenticate(state: Arc<AppState>, req: &HttpRequest) -> ApiResult<Caller> {
    let ip = client_ip(req, &state.config.trusted_proxies);
    match credential(req, state.config.secure_cookies) {
        Credential::Token(v) => token_caller(&state, Some(req), &v, ip).await,
        Credential::Legacy { uuid, secret } => {
            legacy_caller(&state, Some(req), &uuid, &secret, ip).await
        }
        Credential::Session(cookie) => {
            let unsafe_method =
                !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
            let csrf = header(req, &CSRF).map(str::to_string);
            authenticate_session(&state, cookie, csrf, unsafe_method, ip).await
        }
        Credential::None => Err(ApiError::Unauthenticated(Challenge::Missing)),
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    fn from_request(req: &HttpRequest, pl: &mut Payload) -> Self::Future {
        let req = req.clone();
        let state = Shared::from_request(&req, pl).into_inner();
        Box::pin(async move { authenticate(state?.0, &req).await })
    }
}
