//! One middleware for every response: request id, security headers, metrics, the access log
//! (`tokend::access`, at info), and logging of server errors with their request id; and,
//! inside it, `catch_panics`, which answers a request whose handler panicked with a 500 (the
//! worker keeps serving).

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::task::Poll;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse};

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

/// A declared body over the limit is refused on every route, before any work
/// (authentication, password hashing) and whether or not the handler reads a body.
fn declares_too_large(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
        .is_some_and(|n| n > crate::routes::api::common::BODY_LIMIT as u64)
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
    let mut res = if declares_too_large(&req) {
        let refusal =
            actix_web::ResponseError::error_response(&crate::error::ApiError::PayloadTooLarge);
        req.into_response(refusal).map_into_right_body()
    } else {
        let id = std::str::from_utf8(&request_id).unwrap_or_default();
        crate::telemetry::in_request(id, next.call(req))
            .await?
            .map_into_left_body()
    };
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    let status = res.status();
    let presented = res
        .request()
        .extensions()
        .get::<crate::auth::limits::Presented>()
        .copied();
    let h = res.headers_mut();
    if let Some(p) = presented {
        crate::auth::limits::answered(state.as_ref().map(|s| &***s), &p, status, h);
    }
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

/// Answers a request whose handler panicked with a 500 in the shape its caller expects (the
/// JSON error envelope under `/v1`, the console's error page elsewhere) carrying its
/// `X-Request-Id`, instead of dropping the connection; the worker serves the next request as
/// usual. The panic is logged once, by `telemetry::install_panic_hook`.
///
/// The answer travels as an error (`PanicAnswer`), which actix turns into the response: a
/// middleware cannot keep a copy of the request to build a `ServiceResponse` from, as routing
/// needs the only reference to it.
pub async fn catch_panics(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let api = is_api(req.path());
    let mut call = Box::pin(next.call(req));
    let outcome = std::future::poll_fn(|cx| {
        match catch_unwind(AssertUnwindSafe(|| call.as_mut().poll(cx))) {
            Ok(Poll::Ready(r)) => Poll::Ready(Some(r)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(_) => Poll::Ready(None),
        }
    })
    .await;
    match outcome {
        Some(res) => res,
        None => Err(PanicAnswer {
            api,
            request_id: crate::telemetry::current_request_id(),
        }
        .into()),
    }
}

/// Whether a path belongs to the JSON side (the API and the probes).
fn is_api(path: &str) -> bool {
    path == "/v1"
        || path.starts_with("/v1/")
        || matches!(path, "/healthz" | "/readyz" | "/metrics" | "/openapi.json")
}

/// The 500 for a request whose handler panicked.
#[derive(Debug)]
struct PanicAnswer {
    api: bool,
    request_id: Option<String>,
}

impl std::fmt::Display for PanicAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("internal error (the request handler panicked)")
    }
}

impl actix_web::ResponseError for PanicAnswer {
    fn status_code(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::INTERNAL_SERVER_ERROR
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = if self.api {
            HttpResponse::InternalServerError().json(serde_json::json!({
                "error": {"code": "internal", "message": "internal error; see the server log"}
            }))
        } else {
            crate::routes::pages::internal_error_page()
        };
        let h = res.headers_mut();
        if let Some(v) = self
            .request_id
            .as_deref()
            .and_then(|id| HeaderValue::from_str(id).ok())
        {
            h.insert(header::HeaderName::from_static("x-request-id"), v);
        }
        security_headers(h, false, false);
        res
    }
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

#[cfg(test)]
mod panic_tests {
    use std::net::TcpListener;

    use actix_web::middleware::from_fn;
    use actix_web::{web, App, HttpResponse, HttpServer};

    async fn boom() -> HttpResponse {
        let empty: Vec<u8> = Vec::new();
        let per_page = empty.len();
        HttpResponse::Ok().body(format!("{}", 10 / per_page))
    }

    async fn fine() -> HttpResponse {
        HttpResponse::Ok().body("fine")
    }

    /// A tiny server with the production middleware stack, one worker, and handlers that
    /// panic (a division by zero, as the token list once did) or answer.
    fn serve() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = HttpServer::new(|| {
            App::new()
                .wrap(from_fn(super::catch_panics))
                .wrap(from_fn(super::common))
                .route("/v1/boom", web::get().to(boom))
                .route("/boom", web::get().to(boom))
                .route("/fine", web::get().to(fine))
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        actix_web::rt::spawn(server);
        format!("http://127.0.0.1:{port}")
    }

    #[actix_web::test]
    async fn a_panicking_handler_answers_500_with_a_request_id_and_the_worker_keeps_serving() {
        let base = serve();
        let client = reqwest::Client::new();
        for round in 0..3 {
            let res = client
                .get(format!("{base}/v1/boom"))
                .send()
                .await
                .expect("an answer, not a dropped connection");
            assert_eq!(res.status().as_u16(), 500);
            let id = res.headers().get("x-request-id").expect("X-Request-Id");
            assert_eq!(id.len(), 12);
            let body: serde_json::Value = res.json().await.expect("the API's error envelope");
            assert_eq!(body["error"]["code"], "internal");

            let res = client
                .get(format!("{base}/boom"))
                .send()
                .await
                .expect("an answer");
            assert_eq!(res.status().as_u16(), 500);
            assert!(res.headers().contains_key("x-request-id"));
            let ct = res.headers()["content-type"].to_str().unwrap().to_string();
            assert!(ct.starts_with("text/html"), "{ct}");
            let html = res.text().await.expect("html");
            assert!(html.contains("Something went wrong"), "{html}");

            let res = client
                .get(format!("{base}/fine"))
                .send()
                .await
                .expect("the same single worker serves the next request");
            assert_eq!(res.status().as_u16(), 200, "round {round}");
            assert_eq!(res.text().await.unwrap(), "fine");
        }
    }
}
