//! SPEC §16: rate limits and quotas per token, enforced where tokens are authenticated
//! (`/v1/auth/verify` and every API route).

use reqwest::Response;
use serde_json::{json, Value};

use crate::helpers::*;

/// A token of the administrator with `limits` (`rate_limit`, `quota`); (id, value).
async fn limited(app: &TestApp, limits: Value) -> (i64, String) {
    let mut body =
        json!({ "name": format!("lim-{}", rand_suffix()), "role_template": "read_only" });
    for (k, v) in limits.as_object().expect("object") {
        body[k] = v.clone();
    }
    let t = app.create_token(&app.admin_token, body).await;
    (
        t["id"].as_i64().expect("id"),
        t["value"].as_str().expect("value").to_string(),
    )
}

async fn verify(app: &TestApp, value: &str) -> Response {
    app.get("/v1/auth/verify", value).await
}

fn h(res: &Response, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .map(|v| v.to_str().expect("ascii").to_string())
}

#[tokio::test]
async fn limits_are_stored_on_create_and_patch_and_shown_in_token_objects() {
    let app = spawn_app().await;
    let (id, _) = limited(
        &app,
        json!({ "rate_limit": { "requests": 10, "per_seconds": 60 },
                "quota": { "limit": 100, "period": "day" } }),
    )
    .await;
    let t = app.token_view(id).await;
    assert_eq!(
        t["rate_limit"],
        json!({ "requests": 10, "per_seconds": 60 })
    );
    assert_eq!(t["quota"], json!({ "limit": 100, "period": "day" }));
    assert_eq!(t["quota_remaining"], 100);

    let res = app
        .update_token(
            id,
            json!({ "rate_limit": null, "quota": { "limit": 5, "period": "total" } }),
        )
        .await;
    let b = body(res).await;
    assert_eq!(b["rate_limit"], Value::Null, "{b}");
    assert_eq!(b["quota"], json!({ "limit": 5, "period": "total" }));
    assert_eq!(b["quota_remaining"], 5);
    // A token without limits shows nulls.
    let plain = app
        .create_token(
            &app.admin_token,
            json!({ "name": "plain", "role_template": "read_only" }),
        )
        .await;
    assert_eq!(plain["rate_limit"], Value::Null);
    assert_eq!(plain["quota"], Value::Null);
    assert_eq!(plain["quota_remaining"], Value::Null);
}

#[tokio::test]
async fn limits_bad_input_is_422_naming_the_field_and_stores_nothing() {
    let app = spawn_app().await;
    let bad = [
        ("rate_limit", json!({ "requests": 0, "per_seconds": 60 })),
        (
            "rate_limit",
            json!({ "requests": 1_000_001, "per_seconds": 60 }),
        ),
        (
            "rate_limit",
            json!({ "requests": 5, "per_seconds": 86_401 }),
        ),
        ("rate_limit", json!({ "requests": 5 })),
        ("rate_limit", json!({ "requests": "5", "per_seconds": 1 })),
        (
            "rate_limit",
            json!({ "requests": 5, "per_seconds": 1, "burst": 2 }),
        ),
        ("rate_limit", json!(5)),
        ("quota", json!({ "limit": 0, "period": "day" })),
        ("quota", json!({ "limit": 10, "period": "week" })),
        ("quota", json!({ "limit": 10 })),
        ("quota", json!({ "limit": 1.5, "period": "day" })),
        ("quota", json!("day")),
    ];
    let (id, _) = limited(&app, json!({ "quota": { "limit": 7, "period": "month" } })).await;
    for (field, value) in bad {
        let name = format!("bad-{}", rand_suffix());
        let res = app
            .post(
                "/v1/tokens",
                &app.admin_token,
                json!({ "name": name, "role_template": "read_only", field: value }),
            )
            .await;
        let b = expect_error(res, 422, "validation_failed").await;
        assert!(
            b["error"]["fields"][field].is_string(),
            "{field} {value}: {b}"
        );
        let list = app
            .get_ok(&format!("/v1/tokens?name={name}"), &app.admin_token)
            .await;
        assert_eq!(list["items"], json!([]), "nothing stored for {value}");

        let res = app
            .update_token(id, json!({ field: value, "name": "renamed" }))
            .await;
        let b = expect_error(res, 422, "validation_failed").await;
        assert!(b["error"]["fields"][field].is_string(), "{b}");
        let t = app.token_view(id).await;
        assert_ne!(t["name"], "renamed", "nothing changed by {value}");
        assert_eq!(t["quota"], json!({ "limit": 7, "period": "month" }));
    }
}

#[tokio::test]
async fn limits_rate_limit_refuses_with_429_retry_after_and_ratelimit_headers() {
    let app = spawn_app().await;
    let (_, value) = limited(
        &app,
        json!({ "rate_limit": { "requests": 3, "per_seconds": 60 } }),
    )
    .await;
    // API routes and forward-auth count alike.
    let mut remaining = vec![];
    for i in 0..3 {
        let res = if i == 1 {
            app.get("/v1/me", &value).await
        } else {
            verify(&app, &value).await
        };
        assert_eq!(res.status(), 200);
        assert_eq!(h(&res, "ratelimit-limit").as_deref(), Some("3"));
        let reset: u64 = h(&res, "ratelimit-reset")
            .expect("reset")
            .parse()
            .expect("n");
        assert!((1..=60).contains(&reset), "reset {reset}");
        remaining.push(h(&res, "ratelimit-remaining").expect("remaining"));
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    for path in ["/v1/auth/verify", "/v1/me"] {
        let res = app.get(path, &value).await;
        let retry: u64 = h(&res, "retry-after")
            .expect("Retry-After")
            .parse()
            .expect("n");
        assert!((1..=20).contains(&retry), "retry after {retry}");
        assert_eq!(h(&res, "ratelimit-remaining").as_deref(), Some("0"));
        expect_error(res, 429, "rate_limited").await;
    }
    // The server's clock moves on by the Retry-After: exactly one more passes.
    app.advance(chrono::Duration::seconds(20));
    let res = verify(&app, &value).await;
    assert_eq!(res.status(), 200);
    assert_eq!(h(&res, "ratelimit-remaining").as_deref(), Some("0"));
    assert_eq!(verify(&app, &value).await.status(), 429);
    // A token without a limit carries no RateLimit headers.
    let plain = app
        .create_token(
            &app.admin_token,
            json!({ "name": "plain", "role_template": "read_only" }),
        )
        .await;
    let res = verify(&app, plain["value"].as_str().expect("value")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(h(&res, "ratelimit-limit"), None);
    assert!(app.metric_sum("tokend_token_limit_refusals_total").await >= 2.0);
}

#[tokio::test]
async fn limits_rate_limit_change_by_patch_applies_at_once() {
    let app = spawn_app().await;
    let (id, value) = limited(
        &app,
        json!({ "rate_limit": { "requests": 1, "per_seconds": 3600 } }),
    )
    .await;
    assert_eq!(verify(&app, &value).await.status(), 200);
    assert_eq!(verify(&app, &value).await.status(), 429);
    let res = app
        .update_token(
            id,
            json!({ "rate_limit": { "requests": 5, "per_seconds": 3600 } }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = verify(&app, &value).await;
    assert_eq!(res.status(), 200);
    assert_eq!(h(&res, "ratelimit-limit").as_deref(), Some("5"));
    app.update_token(id, json!({ "rate_limit": null })).await;
    let res = verify(&app, &value).await;
    assert_eq!(res.status(), 200);
    assert_eq!(h(&res, "ratelimit-limit"), None);
}

#[tokio::test]
async fn limits_daily_quota_is_used_up_then_renews_the_next_utc_day() {
    let app = spawn_app().await;
    let (id, value) = limited(&app, json!({ "quota": { "limit": 3, "period": "day" } })).await;
    for left in [2, 1, 0] {
        assert_eq!(verify(&app, &value).await.status(), 200);
        assert_eq!(app.token_view(id).await["quota_remaining"], left);
    }
    let res = app.get("/v1/me", &value).await;
    let retry: i64 = h(&res, "retry-after")
        .expect("Retry-After")
        .parse()
        .expect("n");
    let now = app.state.now();
    let midnight = (now + chrono::Duration::days(1))
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    let expected = (midnight - now).num_seconds();
    assert!((retry - expected).abs() <= 2, "{retry} vs {expected}");
    expect_error(res, 429, "quota_exhausted").await;
    // The count reaches the database with the flush, and the next day starts afresh.
    app.maintenance().await;
    assert_eq!(app.token_view(id).await["quota_remaining"], 0);
    app.advance(chrono::Duration::days(1));
    assert_eq!(verify(&app, &value).await.status(), 200);
    assert_eq!(app.token_view(id).await["quota_remaining"], 2);
}

#[tokio::test]
async fn limits_total_quota_of_one_works_exactly_once_under_a_concurrent_burst() {
    let app = spawn_app().await;
    let (id, value) = limited(&app, json!({ "quota": { "limit": 1, "period": "total" } })).await;
    let burst = (0..40).map(|_| verify(&app, &value));
    let answers = futures_util::future::join_all(burst).await;
    let ok = answers.iter().filter(|r| r.status() == 200).count();
    assert_eq!(ok, 1, "exactly one success");
    for r in answers.into_iter().filter(|r| r.status() != 200) {
        assert_eq!(
            h(&r, "retry-after"),
            None,
            "no Retry-After for a total quota"
        );
        expect_error(r, 429, "quota_exhausted").await;
    }
    assert_eq!(app.token_view(id).await["quota_remaining"], 0);
}

#[tokio::test]
async fn limits_renew_keeps_the_quota_count_and_patch_of_quota_resets_it() {
    let app = spawn_app().await;
    let (id, value) = limited(&app, json!({ "quota": { "limit": 2, "period": "total" } })).await;
    assert_eq!(verify(&app, &value).await.status(), 200);
    let res = app
        .post(
            &format!("/v1/tokens/{id}/renew"),
            &app.admin_token,
            json!({}),
        )
        .await;
    let renewed = body(res).await;
    let value = renewed["value"].as_str().expect("value").to_string();
    assert_eq!(renewed["quota_remaining"], 1, "{renewed}");
    assert_eq!(verify(&app, &value).await.status(), 200);
    assert_eq!(verify(&app, &value).await.status(), 429);
    let res = app
        .update_token(id, json!({ "quota": { "limit": 2, "period": "total" } }))
        .await;
    assert_eq!(body(res).await["quota_remaining"], 2);
    assert_eq!(verify(&app, &value).await.status(), 200);
}
