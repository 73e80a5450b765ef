//! SPEC §16: usage per token (hourly roll-ups written by the last-use flush), the
//! `token.quota_low` and `token.rate_limited` webhook events, and refusal metrics.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::*;

async fn limited(app: &TestApp, limits: Value) -> (i64, String) {
    let mut body =
        json!({ "name": format!("use-{}", rand_suffix()), "role_template": "read_only" });
    for (k, v) in limits.as_object().expect("object") {
        body[k] = v.clone();
    }
    let t = app.create_token(&app.admin_token, body).await;
    (
        t["id"].as_i64().expect("id"),
        t["value"].as_str().expect("value").to_string(),
    )
}

#[tokio::test]
async fn limits_usage_counts_allowed_and_refused_per_hour_and_day() {
    let app = spawn_app().await;
    let (id, value) = limited(
        &app,
        json!({ "rate_limit": { "requests": 2, "per_seconds": 3600 } }),
    )
    .await;
    // 2 allowed, then a 429; a 403 for a missing scope is a refusal too.
    for _ in 0..3 {
        app.get("/v1/auth/verify", &value).await;
    }
    let (other_id, other) = limited(&app, json!({})).await;
    assert_eq!(
        app.get("/v1/auth/verify?scope=users:write", &other)
            .await
            .status(),
        403
    );
    assert_eq!(app.get("/v1/me", &other).await.status(), 200);
    // Nothing is written on the request path: the flush writes the roll-ups.
    let path = format!("/v1/tokens/{id}/usage");
    assert_eq!(
        app.get_ok(&path, &app.admin_token).await["items"],
        json!([])
    );
    app.maintenance().await;
    let u = app.get_ok(&path, &app.admin_token).await;
    assert_eq!(u["bucket"], "hour");
    let items = u["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{u}");
    assert_eq!(items[0]["allowed"], 2);
    assert_eq!(items[0]["refused"], 1);
    let start = json_time(&items[0]["start"]);
    assert_eq!(start.timestamp() % 3600, 0, "an hour's start");

    let u = app
        .get_ok(
            &format!("/v1/tokens/{other_id}/usage?bucket=day"),
            &app.admin_token,
        )
        .await;
    assert_eq!(u["bucket"], "day");
    assert_eq!(u["items"][0]["allowed"], 1, "{u}");
    assert_eq!(u["items"][0]["refused"], 1, "{u}");
    assert_eq!(json_time(&u["items"][0]["start"]).timestamp() % 86_400, 0);

    // Next day's traffic is a second bucket, oldest first; a range can leave it out.
    app.advance(chrono::Duration::days(1));
    app.get("/v1/me", &other).await;
    app.maintenance().await;
    let u = app
        .get_ok(
            &format!("/v1/tokens/{other_id}/usage?bucket=day"),
            &app.admin_token,
        )
        .await;
    let days = u["items"].as_array().expect("items");
    assert_eq!(days.len(), 2, "{u}");
    assert!(json_time(&days[0]["start"]) < json_time(&days[1]["start"]));
    let to = days[0]["start"].as_str().expect("start");
    let u = app
        .get_ok(
            &format!("/v1/tokens/{other_id}/usage?bucket=day&to={to}"),
            &app.admin_token,
        )
        .await;
    assert_eq!(u["items"].as_array().expect("items").len(), 1, "{u}");
}

#[tokio::test]
async fn limits_usage_needs_tokens_read_and_visibility_and_checks_its_query() {
    let app = spawn_app().await;
    let (id, _) = limited(&app, json!({})).await;
    let (_, reader) = app
        .quick_user_with_token("reader@example.com", "read_only")
        .await;
    let res = app.get(&format!("/v1/tokens/{id}/usage"), &reader).await;
    expect_error(res, 404, "not_found").await;
    for q in [
        "bucket=week",
        "from=yesterday",
        "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
        "x=1",
    ] {
        let res = app
            .get(&format!("/v1/tokens/{id}/usage?{q}"), &app.admin_token)
            .await;
        assert_eq!(res.status(), 400, "{q}");
    }
    let res = app.get("/v1/tokens/999999/usage", &app.admin_token).await;
    expect_error(res, 404, "not_found").await;
}

#[tokio::test]
async fn limits_usage_roll_ups_are_kept_90_days() {
    let app = spawn_app().await;
    let (id, value) = limited(&app, json!({})).await;
    app.get("/v1/me", &value).await;
    app.maintenance().await;
    let path = format!("/v1/tokens/{id}/usage?from=2000-01-01T00:00:00Z");
    assert_eq!(
        app.get_ok(&path, &app.admin_token).await["items"]
            .as_array()
            .expect("items")
            .len(),
        1
    );
    app.advance(chrono::Duration::days(89));
    app.maintenance().await;
    assert_eq!(
        app.get_ok(&path, &app.admin_token).await["items"]
            .as_array()
            .expect("items")
            .len(),
        1
    );
    app.advance(chrono::Duration::days(2));
    app.get("/v1/me", &value).await;
    app.maintenance().await;
    let items = app.get_ok(&path, &app.admin_token).await["items"].clone();
    assert_eq!(
        items.as_array().expect("items").len(),
        1,
        "the old hour is gone: {items}"
    );
}

/// Waits until the outbox holds `n` events of `event_type` (they are queued off the request
/// path), then returns them.
async fn queued(app: &TestApp, event_type: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let d = app
            .get_ok("/v1/webhooks/deliveries", &app.admin_token)
            .await;
        let found: Vec<Value> = d["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|e| e["event_type"] == event_type)
            .cloned()
            .collect();
        if found.len() >= n || Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn limits_webhooks_quota_low_once_and_rate_limited_at_most_hourly() {
    let app = spawn_app_with(|c| c.webhook_allow_private = true).await;
    let hook = webhook_receiver(0);
    let res = app
        .patch(
            "/v1/settings",
            &app.admin_token,
            json!({ "webhook_url": hook.url, "webhook_secret": "webhook-secret-0123456789" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (id, value) = limited(
        &app,
        json!({ "quota": { "limit": 20, "period": "total" },
                "rate_limit": { "requests": 100, "per_seconds": 60 } }),
    )
    .await;
    // The 18th use leaves 2 (10 %: not below), the 19th leaves 1: the event says so.
    for _ in 0..18 {
        assert_eq!(app.get("/v1/auth/verify", &value).await.status(), 200);
    }
    app.get("/v1/auth/verify", &value).await;
    app.get("/v1/auth/verify", &value).await;
    assert_eq!(queued(&app, "token.quota_low", 1).await.len(), 1);

    let (rid, rvalue) = limited(
        &app,
        json!({ "rate_limit": { "requests": 1, "per_seconds": 86400 } }),
    )
    .await;
    for _ in 0..5 {
        app.get("/v1/auth/verify", &rvalue).await;
    }
    let events = queued(&app, "token.rate_limited", 1).await;
    assert_eq!(events.len(), 1);
    app.advance(chrono::Duration::minutes(59));
    app.get("/v1/auth/verify", &rvalue).await;
    app.advance(chrono::Duration::minutes(2));
    app.get("/v1/auth/verify", &rvalue).await;
    assert_eq!(
        queued(&app, "token.rate_limited", 2).await.len(),
        2,
        "one more after the hour"
    );
    // Exactly one quota_low all along.
    assert_eq!(queued(&app, "token.quota_low", 1).await.len(), 1);
    // A daily quota (counted in memory) warns the same way, once.
    let (did, dvalue) = limited(&app, json!({ "quota": { "limit": 20, "period": "day" } })).await;
    for _ in 0..20 {
        assert_eq!(app.get("/v1/auth/verify", &dvalue).await.status(), 200);
    }
    let lows = queued(&app, "token.quota_low", 2).await;
    assert_eq!(lows.len(), 2, "{lows:?}");
    assert!(lows.iter().any(|e| e["token_id"] == did), "{lows:?}");

    app.maintenance().await;
    let bodies = hook.bodies();
    let parsed: Vec<Value> = bodies
        .iter()
        .map(|b| serde_json::from_str(b).expect("json"))
        .collect();
    let low = parsed
        .iter()
        .find(|b| b["type"] == "token.quota_low")
        .expect("quota_low delivered");
    assert_eq!(low["token"]["id"], id);
    assert_eq!(low["quota_remaining"], 1);
    let rl = parsed
        .iter()
        .find(|b| b["type"] == "token.rate_limited")
        .expect("rate_limited delivered");
    assert_eq!(rl["token"]["id"], rid);
    assert!(bodies
        .iter()
        .all(|b| !b.contains(&value) && !b.contains(&rvalue)));
}

#[tokio::test]
async fn limits_refusals_are_counted_in_metrics_by_reason() {
    let app = spawn_app().await;
    let (_, rate) = limited(
        &app,
        json!({ "rate_limit": { "requests": 1, "per_seconds": 3600 } }),
    )
    .await;
    let (_, quota) = limited(&app, json!({ "quota": { "limit": 1, "period": "month" } })).await;
    for v in [&rate, &rate, &rate, &quota, &quota] {
        app.get("/v1/auth/verify", v).await;
    }
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let line = |reason: &str| {
        text.lines()
            .find(|l| {
                l.starts_with(&format!(
                    "tokend_token_limit_refusals_total{{reason=\"{reason}\"}}"
                ))
            })
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
    };
    assert_eq!(line("rate_limited"), Some(2.0), "{text}");
    assert_eq!(line("quota_exhausted"), Some(1.0));
}
