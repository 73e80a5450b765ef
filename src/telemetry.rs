//! Logging (tracing) and Prometheus metrics, the request id of the work in progress (for log
//! lines written far from the request, such as a panic's), and the panic hook.

use std::cell::RefCell;
use std::future::Future;
use std::io::IsTerminal;
use std::sync::{Once, OnceLock};

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

pub use crate::config::LogFormat;

/// The fixed authentication outcomes, whose counters are looked up once and kept.
const AUTH_OUTCOMES: [&str; 9] = [
    "ok",
    "malformed",
    "unknown",
    "expired",
    "disabled",
    "insufficient_scope",
    "ip_not_allowed",
    "rate_limited",
    "quota_exhausted",
];

/// Installs the global tracing subscriber once (later calls are ignored), as text.
pub fn init(filter: &str) {
    init_with(filter, LogFormat::Text);
}

/// Installs the global tracing subscriber once: `filter` (an unreadable filter means `warn`),
/// lines on stderr in `format`. Text has ANSI colours only on a terminal, and never when
/// `NO_COLOR` is set to anything but the empty string (no-color.org).
pub fn init_with(filter: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let ansi = std::io::stderr().is_terminal() && !no_color;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(ansi).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
}

tokio::task_local! {
    /// The id of the request whose future is being polled (set by the common middleware).
    static REQUEST_ID: Box<str>;
}

thread_local! {
    /// The id of the request a blocking-pool closure works for (set around the closure).
    static BLOCKING_REQUEST_ID: RefCell<Option<Box<str>>> = const { RefCell::new(None) };
}

/// Runs `f` (a request's handling) with `id` as the current request id.
pub async fn in_request<F: Future>(id: &str, f: F) -> F::Output {
    REQUEST_ID.scope(id.into(), f).await
}

/// The id of the request being handled on this thread, if any: in its future, or in a
/// closure it sent to the blocking pool.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID
        .try_with(|id| id.to_string())
        .ok()
        .or_else(|| BLOCKING_REQUEST_ID.with(|c| c.borrow().as_deref().map(str::to_string)))
}

/// Runs `f` (blocking work of a request, on another thread) with `id` as the current request
/// id, so a panic inside it is logged with the request it belongs to.
pub fn with_request_id<T>(id: Option<String>, f: impl FnOnce() -> T) -> T {
    struct Reset(Option<Box<str>>);
    impl Drop for Reset {
        fn drop(&mut self) {
            let old = self.0.take();
            BLOCKING_REQUEST_ID.with(|c| *c.borrow_mut() = old);
        }
    }
    let previous = BLOCKING_REQUEST_ID.with(|c| c.replace(id.map(String::into_boxed_str)));
    let _reset = Reset(previous);
    f()
}

/// The text of a panic's payload (`panic!("…")` gives a `&str` or a `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// Once logging is set up, a panic is one error line — its message, where it happened, and
/// the request id when it happened while serving a request — instead of the default hook's
/// text (and backtrace) on stderr for every request that hits it. The request itself is
/// answered 500 by `routes::middleware::catch_panics`. Without a log subscriber (library use,
/// tests) the previous hook runs, so test failures still print as usual.
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !tracing::dispatcher::has_been_set() {
                return previous(info);
            }
            let message = panic_message(info.payload());
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            match current_request_id() {
                Some(request_id) => {
                    tracing::error!(%request_id, %location, "panic: {message}")
                }
                None => tracing::error!(%location, "panic: {message}"),
            }
        }));
    });
}

/// The application's metrics, in their own registry.
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub auth_outcomes: IntCounterVec,
    pub auth_db_reads: IntCounterVec,
    pub job_runs: IntCounterVec,
    pub job_changes: IntCounterVec,
    pub tokens: IntGaugeVec,
    pub pool_wait: HistogramVec,
    pub filter_size: IntGauge,
    /// Looks at the change counter made for values unknown to the filter (at most one per
    /// 5 ms, whatever the number of such values).
    pub filter_rechecks: IntCounter,
    /// Password hashes computed or verified (argon2 runs): rule 28 refuses oversized input
    /// before any of them.
    pub password_hashes: IntCounter,
    /// Authentications refused for a token's limits, by reason (`rate_limited`,
    /// `quota_exhausted`: two values, never a token id).
    pub limit_refusals: IntCounterVec,
    /// Handles of `auth_outcomes` for [`AUTH_OUTCOMES`], created on first use (so a series
    /// appears in the exposition exactly when it first counts, as with `with_label_values`).
    auth_handles: [OnceLock<IntCounter>; AUTH_OUTCOMES.len()],
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new_custom(Some("tokend".into()), None).expect("valid prefix");
        let r = &registry;
        let (http_requests, http_duration) = http_metrics(r);
        let (auth_outcomes, auth_db_reads, filter_size, filter_rechecks) = auth_metrics(r);
        let job_runs = counters(r, "job_runs_total", "Scheduler job runs", &["job"]);
        let job_changes = counters(
            r,
            "job_changes_total",
            "Rows changed by scheduler jobs",
            &["job"],
        );
        let tokens = registered(
            r,
            IntGaugeVec::new(
                Opts::new(
                    "tokens",
                    "Stored API tokens by status (updated at scrape time)",
                ),
                &["status"],
            ),
        );
        let pool_wait = histogram(
            r,
            HistogramOpts::new(
                "db_pool_wait_seconds",
                "Time spent waiting for a connection",
            )
            .buckets(vec![0.00001, 0.0001, 0.001, 0.01, 0.1, 1.0, 5.0]),
            &["kind"],
        );
        let limit_refusals = counters(
            r,
            "token_limit_refusals_total",
            "Authentications refused for a token's rate limit or quota, by reason",
            &["reason"],
        );
        let password_hashes = registered(
            r,
            IntCounter::new(
                "password_hashes_total",
                "Argon2 runs (password hashing and login verification)",
            ),
        );
        Metrics {
            registry,
            http_requests,
            http_duration,
            auth_outcomes,
            auth_db_reads,
            job_runs,
            job_changes,
            tokens,
            pool_wait,
            filter_size,
            filter_rechecks,
            password_hashes,
            limit_refusals,
            auth_handles: Default::default(),
        }
    }

    pub fn auth(&self, outcome: &str) {
        match AUTH_OUTCOMES.iter().position(|o| *o == outcome) {
            Some(i) => self.auth_handles[i]
                .get_or_init(|| self.auth_outcomes.with_label_values(&[outcome]))
                .inc(),
            None => self.auth_outcomes.with_label_values(&[outcome]).inc(),
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// The `method` label of a request (rule 31): the standard methods by name, anything else
/// `OTHER`, so made-up methods cannot create new series.
pub fn method_label(m: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// The HTTP request counter and latency histogram, registered.
fn http_metrics(r: &Registry) -> (IntCounterVec, HistogramVec) {
    let requests = counters(
        r,
        "http_requests_total",
        "HTTP requests by route, method and status",
        &["route", "method", "status"],
    );
    let duration = histogram(
        r,
        HistogramOpts::new(
            "http_request_duration_seconds",
            "HTTP request latency by route",
        )
        .buckets(vec![
            0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
            2.5,
        ]),
        &["route", "method"],
    );
    (requests, duration)
}

/// The token authentication metrics, registered: outcomes, database reads, and the digest
/// filter's size and rechecks.
fn auth_metrics(r: &Registry) -> (IntCounterVec, IntCounterVec, IntGauge, IntCounter) {
    let outcomes = counters(
        r,
        "auth_outcomes_total",
        "Token authentication outcomes: ok, malformed, unknown, expired, disabled, \
         insufficient_scope, ip_not_allowed",
        &["outcome"],
    );
    let db_reads = counters(
        r,
        "auth_db_reads_total",
        "Database reads made by token authentication (cache misses), by credential kind",
        &["kind"],
    );
    let filter_size = registered(
        r,
        IntGauge::new("auth_filter_entries", "Digests in the in-memory filter"),
    );
    let filter_rechecks = registered(
        r,
        IntCounter::new(
            "auth_filter_rechecks_total",
            "Change-counter reads made for values unknown to the digest filter",
        ),
    );
    (outcomes, db_reads, filter_size, filter_rechecks)
}

/// A metric made by `made`, registered.
fn registered<C>(registry: &Registry, made: prometheus::Result<C>) -> C
where
    C: prometheus::core::Collector + Clone + 'static,
{
    let c = made.expect("valid metric");
    registry
        .register(Box::new(c.clone()))
        .expect("metric registered once");
    c
}

/// A registered counter family.
fn counters(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    registered(registry, IntCounterVec::new(Opts::new(name, help), labels))
}

/// A registered histogram family.
fn histogram(registry: &Registry, opts: HistogramOpts, labels: &[&str]) -> HistogramVec {
    registered(registry, HistogramVec::new(opts, labels))
}

#[cfg(test)]
mod tests {
    use super::method_label;
    use actix_web::http::Method;

    #[test]
    fn rule_31_unknown_methods_are_other() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        let made_up = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&made_up), "OTHER");
    }
}
