//! One middleware for every response: request id, security headers, metrics, the access log
//! (`tokend::access`, at info), and logging of server errors with their request id.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use crate::state::AppState;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/// Swagger UI needs inline styles; its scripts are still same-origin files.
const CSP_DOCS: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                        img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// A request id: 12 URL-safe characters, like the random ids it replaces, made of a random
/// per-process prefix (24 bits) and a counter (48 bits) — unique within a process and
/// unpredictable across restarts, without a CSPRNG call and an allocation per request.
fn request_id() -> [u8; 12] {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    static PREFIX: OnceLock<u64> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = *PREFIX.get_or_init(|| {
        let b = crate::crypto::random_bytes::<8>();
        u64::from_le_bytes(b)
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) & 0xFFFF_FFFF_FFFF;
    // Spread the counter over its 48 bits (an odd multiplier is a bijection), prefix on top.
    let low = n.wrapping_mul(0x9E37_79B9_7F4B) & 0xFFFF_FFFF_FFFF;
    let bits = (u128::from(prefix & 0xFF_FFFF) << 48) | u128::from(low);
    let mut out = [0u8; 12];
    for (i, c) in out.iter_mut().enumerate() {
        *c = ALPHABET[((bits >> (66 - 6 * i)) & 63) as usize];
    }
    out
}

/// The headers every answer carries: no framing, no referrer, no sniffing, the content
/// security policy, and no caching except for static files and the API documents.
fn security_headers(h: &mut header::HeaderMap, docs: bool, cacheable: bool) {
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        let csp = if docs { CSP_DOCS } else { CSP };
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        );
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        let cc = if cacheable {
            "public, max-age=3600"
        } else {
            "no-store"
        };
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cc));
    }
}

pub async fn common(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let request_id = request_id();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let path = req.path();
    let docs = path.starts_with("/api-docs");
    let cacheable = docs || path.starts_with("/static/");
    // A declared body over the limit is refused on every route, before any work
    // (authentication, password hashing) and whether or not the handler reads a body.
    let too_large = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
        .is_some_and(|n| n > crate::routes::api::common::BODY_LIMIT as u64);
    let mut res = if too_large {
        let refusal =
            actix_web::ResponseError::error_response(&crate::error::ApiError::PayloadTooLarge);
        req.into_response(refusal).map_into_right_body()
    } else {
        next.call(req).await?.map_into_left_body()
    };
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    let status = res.status();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_bytes(&request_id) {
        h.insert(header::HeaderName::from_static("x-request-id"), v);
    }
    security_headers(h, docs, cacheable);
    // Rule 31: a bounded label set — standard methods by name, anything else `OTHER`; the
    // route is its template (or `unmatched`), never the raw path.
    let method = crate::telemetry::method_label(res.request().method());
    let elapsed = start.elapsed();
    // The access log: the route template (never the raw path, whose query string or path
    // segments could carry a value), the method label, status, duration and request id.
    tracing::info!(
        target: "tokend::access",
        method,
        route = %route,
        status = status.as_u16(),
        ms = (elapsed.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        request_id = std::str::from_utf8(&request_id).unwrap_or_default(),
        "request"
    );
    if status.is_server_error() {
        let request_id = std::str::from_utf8(&request_id).unwrap_or_default();
        let path = res.request().path();
        tracing::error!(%request_id, %method, %path, status = status.as_u16(), "server error");
    }
    if let Some(state) = state {
        let m = &state.metrics;
        m.http_requests
            .with_label_values(&[&route, method, status.as_str()])
            .inc();
        m.http_duration
            .with_label_values(&[&route, method])
            .observe(elapsed.as_secs_f64());
        if let Some(v) = res.headers().get(header::WWW_AUTHENTICATE) {
            if v.as_bytes().ends_with(b"\"insufficient_scope\"") && !route.ends_with("/verify") {
                m.auth("insufficient_scope");
            }
        }
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::request_id;

    #[test]
    fn request_ids_are_url_safe_and_distinct() {
        let ids: std::collections::HashSet<[u8; 12]> = (0..10_000).map(|_| request_id()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in &ids {
            assert!(id
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_'));
        }
    }
}
