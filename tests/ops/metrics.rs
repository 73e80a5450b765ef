//! Prometheus `/metrics`: request counters and latency histograms by route and status,
//! authentication outcomes, token counts, job runs and pool wait; loopback-only by default.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::json;

use crate::app::*;
use tokend_test_support::proc::*;

/// Scrapes `/metrics` from loopback.
async fn scrape(app: &TestApp) -> String {
    let res = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(res.status(), 200);
    let ct = res.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(ct.starts_with("text/plain"), "{ct}");
    res.text().await.expect("body")
}

/// The value of the sample `name` whose labels include every pair of `labels` (summed when
/// several samples match); 0 when none does.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (n, rest) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if n != name {
                return None;
            }
            let have: BTreeMap<&str, &str> = rest
                .split("\",")
                .filter(|p| !p.is_empty())
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k, v.trim_matches('"')))
                .collect();
            labels
                .iter()
                .all(|(k, v)| have.get(k) == Some(v))
                .then(|| value.parse::<f64>().ok())
                .flatten()
        })
        .sum()
}

const OUTCOMES: [&str; 6] = [
    "ok",
    "malformed",
    "unknown",
    "expired",
    "disabled",
    "insufficient_scope",
];

fn outcomes(text: &str) -> BTreeMap<&'static str, f64> {
    OUTCOMES
        .iter()
        .map(|o| {
            (
                *o,
                sample(text, "tokend_auth_outcomes_total", &[("outcome", o)]),
            )
        })
        .collect()
}

/// Runs `request` and asserts that the outcome counters moved by exactly `expect`.
async fn assert_outcomes<F, Fut>(app: &TestApp, expect: &[(&str, f64)], request: F)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    let before = outcomes(&scrape(app).await);
    let status = request().await;
    let after = outcomes(&scrape(app).await);
    for o in OUTCOMES {
        let want = expect
            .iter()
            .find(|(k, _)| *k == o)
            .map_or(0.0, |(_, n)| *n);
        assert_eq!(
            after[o] - before[o],
            want,
            "outcome `{o}` after a request answered {status}: before {before:?}, after {after:?}"
        );
    }
}

#[tokio::test]
async fn auth_outcomes_move_as_expected() {
    let app = spawn_app().await;
    let ro = app.create_user("ro@example.com", "read_only").await;
    let (_, ro_token) = app.token_for(ro, json!({})).await;
    let soon = (app.state.now() + chrono::Duration::hours(1)).to_rfc3339();
    let (_, expiring) = app.token_for(ro, json!({ "expires_at": soon })).await;
    let (off_id, off) = app.token_for(ro, json!({})).await;
    let (s, _) = app
        .call(
            Method::PATCH,
            &format!("/v1/tokens/{off_id}"),
            Some(&app.admin_token),
            Some(json!({ "enabled": false })),
        )
        .await;
    assert_eq!(s, 200);

    assert_outcomes(&app, &[("ok", 1.0)], || async {
        app.call(Method::GET, "/v1/me", Some(&ro_token), None)
            .await
            .0
    })
    .await;
    assert_outcomes(&app, &[("malformed", 1.0)], || async {
        app.call(Method::GET, "/v1/me", Some("tkd_garbage"), None)
            .await
            .0
    })
    .await;
    assert_outcomes(&app, &[("unknown", 1.0)], || async {
        app.call(Method::GET, "/v1/me", Some(&new_value()), None)
            .await
            .0
    })
    .await;
    assert_outcomes(&app, &[("disabled", 1.0)], || async {
        app.call(Method::GET, "/v1/me", Some(&off), None).await.0
    })
    .await;
    // Authenticated, then refused: one `ok`, one `insufficient_scope` — on a route and on verify.
    assert_outcomes(
        &app,
        &[("ok", 1.0), ("insufficient_scope", 1.0)],
        || async {
            app.call(Method::GET, "/v1/users", Some(&ro_token), None)
                .await
                .0
        },
    )
    .await;
    assert_outcomes(
        &app,
        &[("ok", 1.0), ("insufficient_scope", 1.0)],
        || async {
            app.call(
                Method::GET,
                "/v1/auth/verify?scope=users:write",
                Some(&ro_token),
                None,
            )
            .await
            .0
        },
    )
    .await;
    assert_outcomes(&app, &[("ok", 1.0)], || async {
        app.call(
            Method::GET,
            "/v1/auth/verify?scope=tokens:read",
            Some(&ro_token),
            None,
        )
        .await
        .0
    })
    .await;
    // No credentials at all is not an authentication attempt.
    assert_outcomes(&app, &[], || async {
        app.call(Method::GET, "/v1/me", None, None).await.0
    })
    .await;
    // Expiry is checked at each request, before any scheduler run.
    app.advance(chrono::Duration::hours(2));
    assert_outcomes(&app, &[("expired", 1.0)], || async {
        app.call(Method::GET, "/v1/me", Some(&expiring), None)
            .await
            .0
    })
    .await;
}

#[tokio::test]
async fn requests_tokens_jobs_and_pool_wait_are_exposed() {
    let app = spawn_app().await;
    let ann = app.create_user("ann@example.com", "analyst").await;
    let (id, _) = app
        .token_for(ann, json!({ "role_template": "read_only" }))
        .await;
    let (off, _) = app
        .token_for(
            ann,
            json!({ "role_template": "read_only", "enabled": false }),
        )
        .await;
    let before = scrape(&app).await;
    for _ in 0..3 {
        assert_eq!(
            app.call(
                Method::GET,
                &format!("/v1/tokens/{id}"),
                Some(&app.admin_token),
                None
            )
            .await
            .0,
            200
        );
    }
    assert_eq!(
        app.call(
            Method::GET,
            "/v1/tokens/987654",
            Some(&app.admin_token),
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(app.call(Method::GET, "/v1/me", None, None).await.0, 401);
    assert_eq!(
        app.call(
            Method::GET,
            &format!("/v1/zzz-{}", &new_value()[4..12]),
            Some(&app.admin_token),
            None
        )
        .await
        .0,
        404
    );
    let (s, _) = app
        .call(
            Method::POST,
            "/v1/maintenance/run",
            Some(&app.admin_token),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 200);
    let text = scrape(&app).await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        sample(&text, name, labels) - sample(&before, name, labels)
    };

    // By route pattern (never the raw id: bounded label cardinality), method and status.
    let route = [("route", "/v1/tokens/{id}"), ("method", "GET")];
    assert_eq!(
        delta(
            "tokend_http_requests_total",
            &[route[0], route[1], ("status", "200")]
        ),
        3.0
    );
    assert_eq!(
        delta(
            "tokend_http_requests_total",
            &[route[0], route[1], ("status", "404")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "tokend_http_requests_total",
            &[("route", "/v1/me"), ("status", "401")]
        ),
        1.0
    );
    assert!(
        !text.contains("987654") && !text.contains("/v1/zzz-"),
        "raw paths leak into labels"
    );
    assert_eq!(
        delta("tokend_http_request_duration_seconds_count", &route),
        4.0
    );
    assert_eq!(
        delta(
            "tokend_http_request_duration_seconds_bucket",
            &[route[0], route[1], ("le", "+Inf")]
        ),
        4.0
    );
    assert!(
        text.contains("tokend_http_request_duration_seconds_bucket{"),
        "a histogram"
    );

    // Token counts by status (bootstrap token + 2 created, one disabled).
    let conn = app.db();
    let enabled: i64 = conn
        .query_row("SELECT COUNT(*) FROM tokens WHERE enabled = 1", [], |r| {
            r.get(0)
        })
        .expect("count");
    assert_eq!(
        sample(&text, "tokend_tokens", &[("status", "enabled")]),
        enabled as f64
    );
    assert_eq!(
        sample(&text, "tokend_tokens", &[("status", "disabled")]),
        1.0
    );
    let _ = off;

    // Job runs and what they changed.
    for job in ["expire", "purge", "reconcile", "idle"] {
        assert_eq!(
            delta("tokend_job_runs_total", &[("job", job)]),
            1.0,
            "job {job}"
        );
    }
    assert!(
        text.contains("tokend_job_changes_total"),
        "job changes are exported"
    );

    // Pool wait: every database access waited (briefly) for a connection.
    assert!(
        sample(
            &text,
            "tokend_db_pool_wait_seconds_count",
            &[("kind", "read")]
        ) > 0.0
    );
    assert!(
        sample(
            &text,
            "tokend_db_pool_wait_seconds_count",
            &[("kind", "write")]
        ) > 0.0
    );
    assert!(text.contains("tokend_db_pool_wait_seconds_bucket{"));
}

#[tokio::test]
async fn metrics_are_refused_to_addresses_not_allowed() {
    // Started as an operator would, with only a foreign address allowed: loopback gets 404.
    let w = Workdir::new();
    let server = Server::start(
        &w.db,
        &ServerOpts::default().env("TOKEND_METRICS_ALLOW", "10.9.9.9/32"),
    );
    let res = client()
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(res.status(), 404);
    let body: serde_json::Value = res.json().await.expect("envelope");
    assert_eq!(body["error"]["code"], "not_found");
    // The rest of the server is unaffected.
    assert_eq!(
        client()
            .get(server.url("/healthz"))
            .send()
            .await
            .expect("healthz")
            .status(),
        200
    );
}

#[tokio::test]
async fn metrics_answer_loopback_by_default_without_credentials() {
    let app = spawn_app().await;
    assert_eq!(
        app.call(Method::GET, "/v1/me", Some(&app.admin_token), None)
            .await
            .0,
        200
    );
    let text = scrape(&app).await;
    assert!(
        text.contains("# TYPE tokend_http_requests_total counter"),
        "{text}"
    );
    assert_eq!(
        sample(&text, "tokend_auth_filter_entries", &[]),
        1.0,
        "the bootstrap token's digest"
    );
    assert!(text.contains("# TYPE tokend_auth_outcomes_total counter"));
    assert!(text.contains("# TYPE tokend_tokens gauge"));
    // Never a token value or digest in the exposition.
    assert!(!text.contains(&app.admin_token));
}
