//! Rotation with overlap, IP binding, expiry warnings and signed webhooks, idle policy,
//! public revocation of leaked values. Time moves with the server's injectable clock, never
//! with sleeps.

use chrono::Duration;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

fn hmac_hex(key: &str, body: &str) -> String {
    tokend::crypto::hmac_hex(key.as_bytes(), body.as_bytes())
}

const SECRET: &str = "webhook-secret-0123456789";

async fn configure_webhook(app: &TestApp, url: &str) {
    let res = app
        .patch(
            "/v1/settings",
            &app.admin_token,
            json!({ "webhook_url": url, "webhook_secret": SECRET }),
        )
        .await;
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );
}

#[tokio::test]
async fn rotation_with_overlap_keeps_the_previous_value_until_the_grace_ends() {
    let app = spawn_app().await;
    let (id, old) = app.token_for(1, json!({ "name": "rotating" })).await;
    let res = app
        .post(
            &format!("/v1/tokens/{id}/renew"),
            &app.admin_token,
            json!({ "grace_seconds": 3600 }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let renewed = body(res).await;
    let new = renewed["value"].as_str().expect("value").to_string();
    assert!(
        renewed["previous_value_expires_at"].is_string(),
        "{renewed}"
    );
    assert_eq!(app.get("/v1/me", &new).await.status(), 200);
    assert_eq!(
        app.get("/v1/me", &old).await.status(),
        200,
        "old value works during grace"
    );
    app.advance(Duration::seconds(3601));
    assert_eq!(
        app.get("/v1/me", &old).await.status(),
        401,
        "old value stops after grace"
    );
    assert_eq!(app.get("/v1/me", &new).await.status(), 200);
}

#[tokio::test]
async fn renewing_again_ends_an_older_grace_at_once() {
    let app = spawn_app().await;
    let (id, first) = app.token_for(1, json!({})).await;
    let path = format!("/v1/tokens/{id}/renew");
    let second = body(
        app.post(&path, &app.admin_token, json!({ "grace_seconds": 600 }))
            .await,
    )
    .await;
    let second = second["value"].as_str().expect("value").to_string();
    assert_eq!(app.get("/v1/me", &first).await.status(), 200);
    let third = body(
        app.post(&path, &app.admin_token, json!({ "grace_seconds": 600 }))
            .await,
    )
    .await;
    let third = third["value"].as_str().expect("value").to_string();
    assert_eq!(
        app.get("/v1/me", &first).await.status(),
        401,
        "the oldest value ended"
    );
    assert_eq!(
        app.get("/v1/me", &second).await.status(),
        200,
        "the previous value is in grace"
    );
    assert_eq!(app.get("/v1/me", &third).await.status(), 200);
    let bad = app
        .post(&path, &app.admin_token, json!({ "grace_seconds": 604_801 }))
        .await;
    expect_error(bad, 422, "validation_failed").await;
}

#[tokio::test]
async fn ip_binding_refuses_other_addresses_with_ip_not_allowed() {
    let app = spawn_app().await;
    let (id, value) = app
        .token_for(1, json!({ "allowed_cidrs": ["10.1.0.0/16"] }))
        .await;
    expect_error(app.get("/v1/me", &value).await, 403, "ip_not_allowed").await;
    let res = app
        .send(Method::GET, "/v1/auth/verify", Some(&value), None)
        .await;
    assert_eq!(res.status(), 403, "forward-auth applies the same rule");
    let res = app
        .patch(
            &format!("/v1/tokens/{id}"),
            &app.admin_token,
            json!({ "allowed_cidrs": ["127.0.0.0/8", "::1"] }),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get("/v1/me", &value).await.status(), 200);
    let audit = body(
        app.get(
            &format!("/v1/audit?token_id={id}&action=token.ip_refused"),
            &app.admin_token,
        )
        .await,
    )
    .await;
    assert_eq!(
        audit["items"].as_array().map(Vec::len),
        Some(1),
        "two refusals, one audit row a minute: {audit}"
    );
    assert_eq!(audit["items"][0]["ip"], "127.0.0.1");
    let too_many: Vec<String> = (0..33).map(|i| format!("10.0.{i}.0/24")).collect();
    let res = app
        .patch(
            &format!("/v1/tokens/{id}"),
            &app.admin_token,
            json!({ "allowed_cidrs": too_many }),
        )
        .await;
    expect_error(res, 422, "validation_failed").await;
    let res = app
        .patch(
            &format!("/v1/tokens/{id}"),
            &app.admin_token,
            json!({ "allowed_cidrs": ["nonsense"] }),
        )
        .await;
    expect_error(res, 422, "validation_failed").await;
}

#[tokio::test]
async fn recent_ips_are_recorded_after_a_flush() {
    let app = spawn_app().await;
    let (id, value) = app.token_for(1, json!({})).await;
    assert_eq!(app.get("/v1/me", &value).await.status(), 200);
    app.maintenance().await;
    let t = body(app.get(&format!("/v1/tokens/{id}"), &app.admin_token).await).await;
    assert_eq!(t["last_used_ip"], "127.0.0.1");
    assert_eq!(t["recent_ips"][0]["ip"], "127.0.0.1", "{t}");
}

#[tokio::test]
async fn expiry_warnings_and_signed_webhooks_are_delivered_with_retries() {
    let app = spawn_app_with(|c| c.webhook_allow_private = true).await;
    let hook = webhook_receiver(1);
    configure_webhook(&app, &hook.url).await;
    let soon = (chrono::Utc::now() + Duration::days(3)).to_rfc3339();
    let (id, value) = app
        .token_for(1, json!({ "name": "expiring", "expires_at": soon }))
        .await;

    // First run: the 7-day warning is queued; the receiver fails the first delivery.
    let r = app.maintenance().await;
    assert_eq!(r["warnings"], 1, "{r}");
    assert_eq!(r["webhooks_failed"], 1, "{r}");
    let deliveries = body(app.get("/v1/webhooks/deliveries", &app.admin_token).await).await;
    assert_eq!(deliveries["items"][0]["attempts"], 1, "{deliveries}");
    assert!(deliveries["items"][0]["last_error"]
        .as_str()
        .unwrap_or("")
        .contains("500"));

    // Nothing is retried before the backoff; after it, the delivery succeeds.
    let r = app.maintenance().await;
    assert_eq!(r["webhooks_delivered"], 0, "{r}");
    app.advance(Duration::seconds(31));
    let r = app.maintenance().await;
    assert_eq!(r["webhooks_delivered"], 1, "{r}");
    assert_eq!(r["warnings"], 0, "each warning is sent once");

    // Two days later the 1-day warning; then expiry emits token.expired.
    app.advance(Duration::days(2) + Duration::hours(1));
    let r = app.maintenance().await;
    assert_eq!(r["warnings"], 1, "{r}");
    app.advance(Duration::days(1));
    let r = app.maintenance().await;
    assert_eq!(r["expire"], 1, "{r}");

    let seen = hook.seen.lock().expect("lock").clone();
    let events: Vec<Value> = seen
        .iter()
        .skip(1)
        .map(|(headers, body)| {
            let sig = headers
                .iter()
                .find(|(k, _)| k == "x-tokend-signature")
                .map(|(_, v)| v.clone())
                .expect("signature header");
            assert_eq!(
                sig,
                format!("sha256={}", hmac_hex(SECRET, body)),
                "HMAC over the raw body"
            );
            serde_json::from_str(body).expect("json body")
        })
        .collect();
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        types,
        ["token.expiring", "token.expiring", "token.expired"],
        "{events:?}"
    );
    assert_eq!(events[0]["days"], 7);
    assert_eq!(events[1]["days"], 1);
    assert_eq!(events[2]["token"]["id"], id);
    for (_, raw) in &seen {
        assert!(
            !raw.contains(&value),
            "a webhook body must never carry the token value"
        );
    }
}

#[tokio::test]
async fn idle_tokens_are_disabled_with_reason_idle() {
    let app = spawn_app().await;
    let res = app
        .patch(
            "/v1/settings",
            &app.admin_token,
            json!({ "idle_disable_days": 30 }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (used, used_value) = app.token_for(1, json!({ "name": "used" })).await;
    let (idle, _) = app.token_for(1, json!({ "name": "idle" })).await;
    app.advance(Duration::days(20));
    assert_eq!(app.get("/v1/me", &used_value).await.status(), 200);
    app.maintenance().await;
    app.advance(Duration::days(11));
    app.maintenance().await;
    let t = body(
        app.get(&format!("/v1/tokens/{idle}"), &app.admin_token)
            .await,
    )
    .await;
    assert_eq!(t["enabled"], false, "{t}");
    assert_eq!(t["disabled_reason"], "idle");
    let t = body(
        app.get(&format!("/v1/tokens/{used}"), &app.admin_token)
            .await,
    )
    .await;
    assert_eq!(t["enabled"], true, "used within the window: {t}");
}

#[tokio::test]
async fn max_lifetime_policy_refuses_longer_or_missing_expiry() {
    let app = spawn_app().await;
    let res = app
        .patch(
            "/v1/settings",
            &app.admin_token,
            json!({ "max_token_lifetime_days": 30 }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .post(
            "/v1/tokens",
            &app.admin_token,
            json!({ "name": "forever", "role_template": "read_only" }),
        )
        .await;
    expect_error(res, 422, "lifetime_exceeds_policy").await;
    let far = (chrono::Utc::now() + Duration::days(31)).to_rfc3339();
    let res = app
        .post(
            "/v1/tokens",
            &app.admin_token,
            json!({ "name": "far", "role_template": "read_only", "expires_at": far }),
        )
        .await;
    expect_error(res, 422, "lifetime_exceeds_policy").await;
    let near = (chrono::Utc::now() + Duration::days(29)).to_rfc3339();
    let res = app
        .post(
            "/v1/tokens",
            &app.admin_token,
            json!({ "name": "near", "role_template": "read_only", "expires_at": near }),
        )
        .await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn public_revoke_disables_leaked_tokens_without_revealing_which_existed() {
    let app = spawn_app_with(|c| c.webhook_allow_private = true).await;
    let hook = webhook_receiver(0);
    configure_webhook(&app, &hook.url).await;
    let (id, leaked) = app.token_for(1, json!({ "name": "leaked" })).await;
    let unknown = tokend::domain::token_value::TokenValue::generate(
        tokend::domain::token_value::ValueKind::Api,
    );
    let res = app
        .send(
            Method::POST,
            "/v1/revoke",
            None,
            Some(json!({ "values": [leaked, unknown.expose(), "not-a-token"] })),
        )
        .await;
    assert_eq!(res.status(), 202);
    assert_eq!(body(res).await, json!({ "accepted": 2 }));
    assert_eq!(
        app.get("/v1/me", &leaked).await.status(),
        401,
        "disabled before the answer"
    );
    let t = body(app.get(&format!("/v1/tokens/{id}"), &app.admin_token).await).await;
    assert_eq!(t["disabled_reason"], "leaked");
    let audit = body(
        app.get(
            &format!("/v1/audit?token_id={id}&action=token.leaked"),
            &app.admin_token,
        )
        .await,
    )
    .await;
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(1), "{audit}");
    let r = app.maintenance().await;
    assert_eq!(r["webhooks_delivered"], 1, "{r}");
    let seen = hook.seen.lock().expect("lock").clone();
    let event: Value = serde_json::from_str(&seen[0].1).expect("json");
    assert_eq!(event["type"], "token.leaked");

    let too_many: Vec<String> = (0..101).map(|_| "x".to_string()).collect();
    let res = app
        .send(
            Method::POST,
            "/v1/revoke",
            None,
            Some(json!({ "values": too_many })),
        )
        .await;
    expect_error(res, 422, "validation_failed").await;
}

#[tokio::test]
async fn public_revoke_is_rate_limited_per_client_address() {
    let app = spawn_app().await;
    let mut statuses = Vec::new();
    for _ in 0..31 {
        let res = app
            .send(
                Method::POST,
                "/v1/revoke",
                None,
                Some(json!({ "values": [] })),
            )
            .await;
        statuses.push(res.status().as_u16());
    }
    assert!(statuses[..30].iter().all(|s| *s == 202), "{statuses:?}");
    assert_eq!(statuses[30], 429);
}

#[tokio::test]
async fn the_default_token_lifetime_is_a_bounded_company_setting() {
    let app = spawn_app().await;
    let s = body(app.get("/v1/settings", &app.admin_token).await).await;
    assert_eq!(
        s["default_token_lifetime_days"], 30,
        "30 days unless set: {s}"
    );
    for bad in [json!(0), json!(36_501), json!(-3), json!("7"), json!(null)] {
        let res = app
            .patch(
                "/v1/settings",
                &app.admin_token,
                json!({ "default_token_lifetime_days": bad }),
            )
            .await;
        let status = res.status().as_u16();
        if bad.is_null() {
            // `null` names nothing to change: this setting cannot be cleared.
            assert_eq!(status, 200);
        } else {
            assert!((400..500).contains(&status), "{bad}: {status}");
        }
        let now = body(app.get("/v1/settings", &app.admin_token).await).await;
        assert_eq!(
            now["default_token_lifetime_days"], 30,
            "{bad} changed nothing"
        );
    }
    let res = app
        .patch(
            "/v1/settings",
            &app.admin_token,
            json!({ "default_token_lifetime_days": 7 }),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["default_token_lifetime_days"], 7);
    let stored = body(app.get("/v1/settings", &app.admin_token).await).await;
    assert_eq!(stored["default_token_lifetime_days"], 7, "stored: {stored}");
    assert_eq!(
        stored["token_reveal"], "allowed",
        "the other settings unchanged"
    );
}
