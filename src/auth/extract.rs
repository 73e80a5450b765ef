//! Who is calling: the `Caller` extractor for `/v1` routes and the `NodeCaller` extractor for
//! node endpoints (SPEC §5).
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
use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest};
use ipnet::IpNet;
use subtle::ConstantTimeEq;

use super::client_ip::client_ip;
use crate::db;
use crate::db::nodes::NodeRow;
use crate::db::tokens::AuthRow;
use crate::domain::model::{AuthMethod, Caller, TokenKind};
use crate::domain::token_value::{legacy_key, TokenDigest, TokenValue, ValueKind};
use crate::error::{ApiError, ApiResult, Challenge};
use crate::service::legacy::valid_uuid;
use crate::service::sessions;
use crate::state::{AppState, Shared};

/// The credential a request carries.
pub enum Credential {
    Token(String),
    Legacy { uuid: String, secret: String },
    Session(String),
    None,
}

const TOKEN_HEADERS: [&str; 3] = ["x-api-token", "x-wallarmapi-token", "wallarmapi-token"];

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get(name)
        .map(|v| v.to_str().unwrap_or("\u{0}"))
}

/// The name of the session cookie (SPEC §8: `__Host-` prefix with secure cookies).
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-tokend_session"
    } else {
        "tokend_session"
    }
}

pub fn credential(req: &HttpRequest, secure_cookies: bool) -> Credential {
    if let Some(v) = header(req, "authorization") {
        let v = v.trim();
        return match v.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => {
                Credential::Token(rest.trim().to_string())
            }
            _ => Credential::Token(String::new()),
        };
    }
    for name in TOKEN_HEADERS {
        if let Some(v) = header(req, name) {
            return Credential::Token(v.trim().to_string());
        }
    }
    if let (Some(uuid), Some(secret)) = (
        header(req, "x-wallarmapi-uuid"),
        header(req, "x-wallarmapi-secret"),
    ) {
        return Credential::Legacy {
            uuid: uuid.trim().to_string(),
            secret: secret.trim().to_string(),
        };
    }
    if let Some(c) = req.cookie(cookie_name(secure_cookies)) {
        return Credential::Session(c.value().to_string());
    }
    Credential::None
}

fn invalid(state: &AppState, outcome: &str) -> ApiError {
    state.metrics.auth(outcome);
    ApiError::Unauthenticated(Challenge::InvalidToken)
}

/// Looks up a digest through the cache, or with one read on the blocking pool.
async fn lookup<F>(
    state: &Arc<AppState>,
    key: TokenDigest,
    kind: &'static str,
    read: F,
) -> ApiResult<Option<Arc<AuthRow>>>
where
    F: FnOnce(&rusqlite::Connection) -> ApiResult<Option<AuthRow>> + Send + 'static,
{
    if let Some(row) = state.index.cached(&key) {
        return Ok(Some(row));
    }
    let generation = state.index.generation();
    state.metrics.auth_db_reads.with_label_values(&[kind]).inc();
    let row = state.read(read).await?.map(Arc::new);
    if let Some(r) = &row {
        state.index.store(generation, key, r.clone());
    }
    Ok(row)
}

/// Checks a looked-up token at `now` and turns it into a caller.
fn admit(state: &AppState, row: &AuthRow, method: AuthMethod, ip: IpAddr) -> ApiResult<Caller> {
    let now = state.now_ms();
    if let Some(until) = row.prev_valid_until {
        if until.is_none_or(|u| u <= now) {
            return Err(invalid(state, "expired"));
        }
    }
    if !row.enabled || !row.owner.enabled || row.owner.sso {
        return Err(invalid(state, "disabled"));
    }
    if row.expires_at.is_some_and(|e| e <= now) {
        return Err(invalid(state, "expired"));
    }
    if !row.allowed_cidrs.is_empty()
        && !row
            .allowed_cidrs
            .split_whitespace()
            .filter_map(|c| c.parse::<IpNet>().ok())
            .any(|n| n.contains(&ip))
    {
        state.metrics.auth("ip_not_allowed");
        audit_ip_refusal(state, row, ip);
        return Err(ApiError::forbidden(
            "ip_not_allowed",
            "this token may not be used from your address",
        ));
    }
    let owner_perms = row.owner.permissions();
    let permissions = match row.kind {
        TokenKind::Legacy => owner_perms,
        _ => row.permissions.intersection(owner_perms),
    };
    let ip_text = ip.to_string();
    state.usage.record(row.token_id, now, &ip_text);
    state.metrics.auth("ok");
    Ok(Caller {
        user: row.owner.clone(),
        permissions,
        token_id: Some(row.token_id),
        method,
        ip: Some(ip_text),
    })
}

/// Audits a refusal for `ip_not_allowed` off the request path, at most once a minute per
/// token, so refusals cannot become a write flood.
fn audit_ip_refusal(state: &AppState, row: &AuthRow, ip: IpAddr) {
    let now = state.now_ms();
    if state
        .ip_refusals
        .hit(&row.token_id.to_string(), now)
        .is_err()
    {
        return;
    }
    let pool = state.pool.clone();
    let (token_id, owner) = (row.token_id, row.owner.clone());
    let ip = ip.to_string();
    actix_web::rt::task::spawn_blocking(move || {
        let result = pool.get().map_err(anyhow::Error::from).and_then(|conn| {
            crate::service::audit::record(
                &conn,
                &crate::service::audit::Actor {
                    id: None,
                    email: None,
                    ip: Some(ip),
                },
                crate::service::audit::Event {
                    action: "token.ip_refused",
                    company_id: Some(owner.company_id),
                    token_id: Some(token_id),
                    user_id: Some(owner.id),
                    details: serde_json::json!({ "reason": "ip_not_allowed" }),
                },
                now,
            )
            .map_err(|e| anyhow::anyhow!("{e}"))
        });
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot audit an ip_not_allowed refusal");
        }
    });
}

/// Authenticates an API token value.
pub async fn authenticate_token(state: &Arc<AppState>, raw: &str, ip: IpAddr) -> ApiResult<Caller> {
    let value = TokenValue::parse(raw).map_err(|_| invalid(state, "malformed"))?;
    let digest = value.digest();
    if !state.index.might_exist(&digest) {
        return Err(invalid(state, "unknown"));
    }
    if value.kind() == ValueKind::Node {
        return match node_lookup(state, digest).await? {
            Some(_) => Err(ApiError::forbidden(
                "forbidden",
                "node tokens may only call /v1/nodes/self",
            )),
            None => Err(invalid(state, "unknown")),
        };
    }
    let row = lookup(state, digest, "token", move |c| {
        Ok(db::tokens::auth_lookup(c, &digest)?)
    })
    .await?
    .ok_or_else(|| invalid(state, "unknown"))?;
    admit(state, &row, AuthMethod::Token, ip)
}

/// Authenticates legacy UUID + secret headers (rule 20).
pub async fn authenticate_legacy(
    state: &Arc<AppState>,
    uuid: &str,
    secret: &str,
    ip: IpAddr,
) -> ApiResult<Caller> {
    let uuid = uuid.to_lowercase();
    if !valid_uuid(&uuid) || secret.is_empty() || secret.len() > 512 {
        return Err(invalid(state, "malformed"));
    }
    if !state.index.might_exist(&legacy_key(&uuid)) {
        return Err(invalid(state, "unknown"));
    }
    // The cache key covers the secret, so a hit proves the secret was verified before.
    let key = TokenDigest::of(&format!("legacy-auth:{uuid}\u{0}{secret}"));
    let keys = state.keys.clone();
    let secret_owned = secret.to_string();
    let row = lookup(state, key, "legacy", move |c| {
        Ok(db::tokens::auth_lookup_legacy(c, &uuid)?
            .filter(|(_, stored)| keys.legacy_matches(&secret_owned, stored))
            .map(|(row, _)| row))
    })
    .await?
    .ok_or_else(|| invalid(state, "unknown"))?;
    admit(state, &row, AuthMethod::Legacy, ip)
}

/// Authenticates a console session; unsafe methods need the `X-CSRF-Token` header.
async fn authenticate_session(
    state: &Arc<AppState>,
    cookie: String,
    csrf_header: Option<String>,
    unsafe_method: bool,
    ip: IpAddr,
) -> ApiResult<Caller> {
    let now = state.now_ms();
    let found = state
        .read(move |c| Ok(db::sessions::lookup(c, &sessions::digest(&cookie), now)?))
        .await?;
    let Some((user, csrf)) = found.filter(|(u, _)| u.enabled) else {
        return Err(ApiError::Unauthenticated(Challenge::InvalidToken));
    };
    if unsafe_method {
        let ok = csrf_header.is_some_and(|h| bool::from(h.as_bytes().ct_eq(csrf.as_bytes())));
        if !ok {
            return Err(ApiError::forbidden(
                "csrf_failed",
                "missing or wrong X-CSRF-Token header",
            ));
        }
    }
    Ok(Caller {
        permissions: user.permissions(),
        user,
        token_id: None,
        method: AuthMethod::Session,
        ip: Some(ip.to_string()),
    })
}

/// Resolves the caller of any request from its credential.
pub async fn authenticate(state: Arc<AppState>, req: &HttpRequest) -> ApiResult<Caller> {
    let ip = client_ip(req, &state.config.trusted_proxies);
    match credential(req, state.config.secure_cookies) {
        Credential::Token(v) => authenticate_token(&state, &v, ip).await,
        Credential::Legacy { uuid, secret } => {
            authenticate_legacy(&state, &uuid, &secret, ip).await
        }
        Credential::Session(cookie) => {
            let unsafe_method =
                !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
            let csrf = header(req, "x-csrf-token").map(str::to_string);
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

async fn node_lookup(state: &Arc<AppState>, digest: TokenDigest) -> ApiResult<Option<NodeRow>> {
    state
        .metrics
        .auth_db_reads
        .with_label_values(&["node"])
        .inc();
    state
        .read(move |c| Ok(db::nodes::by_digest(c, &digest)?))
        .await
}

/// A filtering node authenticated by its node token (rule 22).
pub struct NodeCaller {
    pub node: NodeRow,
    pub ip: String,
}

impl FromRequest for NodeCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<NodeCaller, ApiError>>>>;

    fn from_request(req: &HttpRequest, pl: &mut Payload) -> Self::Future {
        let req = req.clone();
        let state = Shared::from_request(&req, pl).into_inner();
        Box::pin(async move {
            let state = state?.0;
            let ip = client_ip(&req, &state.config.trusted_proxies);
            let raw = match credential(&req, state.config.secure_cookies) {
                Credential::Token(v) => v,
                Credential::None => return Err(ApiError::Unauthenticated(Challenge::Missing)),
                _ => {
                    return Err(ApiError::forbidden(
                        "forbidden",
                        "this endpoint needs a node token",
                    ))
                }
            };
            let value = TokenValue::parse(&raw).map_err(|_| invalid(&state, "malformed"))?;
            let digest = value.digest();
            if !state.index.might_exist(&digest) {
                return Err(invalid(&state, "unknown"));
            }
            if value.kind() == ValueKind::Api {
                // A valid API token is authenticated, but may not act as a node.
                authenticate_token(&state, &raw, ip).await?;
                return Err(ApiError::forbidden(
                    "forbidden",
                    "this endpoint needs a node token",
                ));
            }
            let node = node_lookup(&state, digest)
                .await?
                .ok_or_else(|| invalid(&state, "unknown"))?;
            state.metrics.auth("ok");
            Ok(NodeCaller {
                node,
                ip: ip.to_string(),
            })
        })
    }
}
