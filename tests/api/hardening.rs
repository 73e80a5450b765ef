//! Rules 28–35 (hardening), through HTTP: bounded input, throttles under bursts, rotation
//! that ends exactly, bounded metric labels, webhooks that cannot stall or probe, and
//! revocable node tokens. Time moves with the server's clock, never with sleeps.

use std::io::Read;
use std::net::TcpListener;
use std::time::Instant;

use chrono::Duration;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

async fn hashes(app: &TestApp) -> f64 {
    app.metric_sum("tokend_password_hashes_total").await
}

/// The whole audit log as stored, every column as text.
fn audit_text(app: &TestApp) -> String {
    let conn = app.store();
    let rows = conn
        .query_map(
            "SELECT id, company_id, actor_id, actor_email, token_id, user_id, action, ip,
                    details, created_at, via, credential_id, on_behalf_of
             FROM audit_events ORDER BY id",
            tokend::params![],
            |r| {
                Ok((0..13)
                    .map(|i| match r.get(i) {
                        Ok(tokend::db::Col::Text(t)) => t,
                        _ => String::new(),
                    })
                    .collect::<Vec<String>>()
                    .join("|"))
            },
        )
        .expect("query");
    rows.join("\n")
}

#[tokio::test]
async fn rule_28_oversized_login_input_is_refused_without_hashing_or_storing() {
    let app = spawn_app().await;
    let huge_email = format!("{}@example.com", "a".repeat(60_000));
    let before = hashes(&app).await;
    let res = app.login_raw(&huge_email, "wrong password here").await;
    expect_error(res, 401, "invalid_credentials").await;
    let long_password = "p".repeat(1025);
    let res = app.login_raw(ADMIN_EMAIL, &long_password).await;
    expect_error(res, 401, "invalid_credentials").await;
    // A string over 4 KiB anywhere in the body is a failed login too, not a 422.
    let res = app.login_raw(ADMIN_EMAIL, &"p".repeat(5000)).await;
    expect_error(res, 401, "invalid_credentials").await;
    assert_eq!(
        hashes(&app).await,
        before,
        "no argon2 run for oversized input"
    );
    let audit = audit_text(&app);
    assert!(
        !audit.contains(&"a".repeat(300)),
        "no oversized email stored"
    );
    assert!(!audit.contains(&"p".repeat(1025)), "no password stored");
    // The control: a bounded wrong password is hashed (the counter works).
    let res = app.login_raw(ADMIN_EMAIL, "wrong password here").await;
    expect_error(res, 401, "invalid_credentials").await;
    assert_eq!(hashes(&app).await, before + 1.0);
}

#[tokio::test]
async fn rule_28_user_fields_are_bounded_before_the_password_is_hashed() {
    let app = spawn_app().await;
    let before = hashes(&app).await;
    let long_email = format!("{}@example.com", "e".repeat(250));
    let res = app
        .post(
            "/v1/users",
            &app.admin_token,
            json!({ "email": long_email, "role": "read_only", "password": "password-123" }),
        )
        .await;
    expect_error(res, 422, "validation_failed").await;
    let res = app
        .post(
            "/v1/users",
            &app.admin_token,
            json!({ "email": "p@example.com", "role": "read_only", "password": "p".repeat(1025) }),
        )
        .await;
    expect_error(res, 422, "validation_failed").await;
    let id = app.create_user("bounded@example.com", "read_only").await;
    let after_create = hashes(&app).await;
    // A change with a new password and an over-long name is refused before hashing.
    let res = app
        .patch(
            &format!("/v1/users/{id}"),
            &app.admin_token,
            json!({ "name": "n".repeat(129), "password": "new-password-123" }),
        )
        .await;
    expect_error(res, 422, "validation_failed").await;
    let res = app
        .patch(
            &format!("/v1/users/{id}"),
            &app.admin_token,
            json!({ "email": long_email, "password": "new-password-123" }),
        )
        .await;
    expect_error(res, 422, "validation_failed").await;
    assert_eq!(hashes(&app).await, after_create, "no argon2 run");
    assert!(after_create - before <= 1.0, "only the valid create hashed");
    // Every other string: at most 4 KiB, refused with the field named.
    let res = app
        .post(
            "/v1/tokens",
            &app.admin_token,
            json!({ "name": "ok", "role_template": "x".repeat(5000) }),
        )
        .await;
    let b = expect_error(res, 422, "validation_failed").await;
    assert!(b["error"]["fields"]["role_template"].is_string(), "{b}");
    let res = app
        .post("/v1/revoke", "", json!({ "values": ["v".repeat(5000)] }))
        .await;
    let b = expect_error(res, 422, "validation_failed").await;
    assert!(b["error"]["fields"]["values.0"].is_string(), "{b}");
    assert!(!audit_text(&app).contains(&"x".repeat(300)));
}

#[tokio::test]
async fn rule_29_concurrent_wrong_passwords_get_at_most_ten_401s() {
    let app = spawn_app().await;
    app.create_user("burst@example.com", "read_only").await;
    let attempts = (0..20).map(|_| app.login_raw("burst@example.com", "wrong password 1"));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    let unauthorized = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert!(unauthorized <= 10, "{statuses:?}");
    assert_eq!(unauthorized + throttled, 20, "{statuses:?}");
}

async fn issue_legacy(app: &TestApp, user: i64) -> (String, String) {
    let b = app.issue_legacy_credentials(user).await;
    (
        b["uuid"].as_str().expect("uuid").to_string(),
        b["secret"].as_str().expect("secret").to_string(),
    )
}

#[tokio::test]
async fn rule_29_failed_legacy_attempts_are_limited_per_address() {
    let app = spawn_app().await;
    let user = app
        .create_user("legacy-burst@example.com", "read_only")
        .await;
    let (uuid, secret) = issue_legacy(&app, user).await;
    // Successes are not counted.
    for _ in 0..25 {
        assert_eq!(app.legacy_get("/v1/me", &uuid, &secret).await.status(), 200);
    }
    for i in 0..20 {
        let res = app.legacy_get("/v1/me", &uuid, "wrong-secret").await;
        assert_eq!(res.status(), 401, "failure {i}");
    }
    let res = app.legacy_get("/v1/me", &uuid, "wrong-secret").await;
    expect_error(res, 429, "too_many_attempts").await;
    // Refused before the secret is compared: the right one waits too.
    let res = app.legacy_get("/v1/me", &uuid, &secret).await;
    assert_eq!(res.status(), 429);
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        app.legacy_get("/v1/me", &unknown, "x").await.status(),
        429,
        "per address, whatever the UUID"
    );
    app.advance(Duration::seconds(61));
    assert_eq!(app.legacy_get("/v1/me", &uuid, &secret).await.status(), 200);
}

#[tokio::test]
async fn rule_29_public_revoke_is_limited_per_ipv6_64() {
    let app = spawn_app_with(|c| c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let revoke = |from: String| {
        let app = &app;
        async move {
            app.send_with(
                Method::POST,
                "/v1/revoke",
                &[("X-Forwarded-For", from.as_str())],
                Some(json!({ "values": [] })),
            )
            .await
            .status()
            .as_u16()
        }
    };
    // 30 calls from 30 addresses of one /64 use up its limit ...
    for i in 1..=30 {
        assert_eq!(
            revoke(format!("2001:db8:0:1::{i:x}")).await,
            202,
            "call {i}"
        );
    }
    assert_eq!(revoke("2001:db8:0:1:ffff:1:2:3".into()).await, 429);
    // ... while the next /64 and an IPv4 client are unaffected.
    assert_eq!(revoke("2001:db8:0:2::1".into()).await, 202);
    assert_eq!(revoke("192.0.2.10".into()).await, 202);
}

#[tokio::test]
async fn rule_30_an_expired_previous_value_matches_nothing() {
    let app = spawn_app().await;
    let (id, old) = app.token_for(1, json!({ "name": "rotated" })).await;
    let res = app
        .post(
            &format!("/v1/tokens/{id}/renew"),
            &app.admin_token,
            json!({ "grace_seconds": 60 }),
        )
        .await;
    let new = body(res).await["value"]
        .as_str()
        .expect("value")
        .to_string();
    assert_eq!(app.get("/v1/me", &old).await.status(), 200, "in grace");
    app.advance(Duration::seconds(61));
    // The scheduler has not cleared the previous value yet; it matches nothing anyway.
    assert_eq!(app.get("/v1/me", &old).await.status(), 401);
    let res = app.post("/v1/revoke", "", json!({ "values": [old] })).await;
    assert_eq!(res.status(), 202);
    assert_eq!(
        app.get("/v1/me", &new).await.status(),
        200,
        "the current value keeps working"
    );
    let t = app.token_view(id).await;
    assert_eq!(t["enabled"], true, "{t}");
}

#[tokio::test]
async fn rule_31_made_up_methods_and_random_paths_add_no_series() {
    let app = spawn_app().await;
    let tag = rand_suffix();
    for m in ["BREW", "PROPFIND", "X-RANDOM"] {
        let method = Method::from_bytes(format!("{m}{tag}").as_bytes()).expect("method");
        app.send(method, "/healthz", None, None).await;
    }
    for i in 0..5 {
        app.get(&format!("/v1/made-up-{tag}-{i}"), &app.admin_token)
            .await;
        app.get(&format!("/nowhere-{tag}/{i}"), "").await;
        app.get(&format!("/v1/tokens/{tag}{i}"), &app.admin_token)
            .await;
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
    assert!(
        !text.contains(&tag),
        "raw methods or paths leak into labels"
    );
    assert!(
        text.contains(r#"method="OTHER""#),
        "unknown methods count as OTHER"
    );
    assert!(
        text.contains(r#"route="/v1/tokens/{id}""#),
        "paths are route templates"
    );
}

/// A TCP listener that accepts connections and never answers.
fn silent_target() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut s in listener.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = s.set_nonblocking(true);
            let _ = s.read(&mut buf);
            held.push(s);
        }
    });
    url
}

async fn set_webhook(app: &TestApp, url: &str) -> reqwest::Response {
    app.patch(
        "/v1/settings",
        &app.admin_token,
        json!({ "webhook_url": url, "webhook_secret": "0123456789abcdef-secret" }),
    )
    .await
}

async fn deliveries(app: &TestApp) -> Vec<Value> {
    body(app.get("/v1/webhooks/deliveries", &app.admin_token).await).await["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Creates and disables `n` tokens: one `token.disabled` event each.
async fn queue_events(app: &TestApp, n: usize) {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            app.token_for(1, json!({ "name": format!("ev-{i}") }))
                .await
                .0,
        );
    }
    let res = app
        .post(
            "/v1/tokens/bulk",
            &app.admin_token,
            json!({ "ids": ids, "action": "disable" }),
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn rule_33_a_silent_webhook_target_delays_maintenance_by_one_budget_at_most() {
    let app = spawn_app_with(|c| c.webhook_allow_private = true).await;
    assert_eq!(set_webhook(&app, &silent_target()).await.status(), 200);
    queue_events(&app, 4).await;
    assert!(deliveries(&app).await.len() >= 4);
    let start = Instant::now();
    let r = app.maintenance().await;
    let took = start.elapsed();
    assert!(took.as_secs_f64() < 6.0, "maintenance took {took:?}: {r}");
    assert_eq!(r["webhooks_delivered"], 0, "{r}");
    let failed: Vec<Value> = deliveries(&app)
        .await
        .into_iter()
        .filter(|d| d["attempts"] == 1)
        .collect();
    assert!(!failed.is_empty(), "one attempt was made");
    for d in failed {
        assert_eq!(d["last_error"], "delivery_failed", "{d}");
    }
}

#[tokio::test]
async fn rule_33_internal_webhook_targets_are_refused() {
    let app = spawn_app().await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost:8080/hook",
        "http://[::1]/hook",
        "http://10.0.0.7/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0:80/",
        "http://[fe80::1]/",
    ] {
        let res = set_webhook(&app, url).await;
        expect_error(res, 422, "webhook_target_forbidden").await;
    }
    let s = body(app.get("/v1/settings", &app.admin_token).await).await;
    assert!(s["webhook_url"].is_null(), "nothing stored: {s}");
    let res = set_webhook(&app, "https://93.184.216.34/hook").await;
    assert_eq!(res.status(), 200, "a public address is fine");
}

#[tokio::test]
async fn rule_33_targets_are_checked_again_at_delivery_and_failures_do_not_say_why() {
    // A closed port with private targets allowed: the failure says only `delivery_failed`.
    let app = spawn_app_with(|c| c.webhook_allow_private = true).await;
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let url = format!("http://127.0.0.1:{closed}/hook");
    assert_eq!(set_webhook(&app, &url).await.status(), 200);
    queue_events(&app, 1).await;
    app.maintenance().await;
    assert_eq!(deliveries(&app).await[0]["last_error"], "delivery_failed");

    // A target that became internal after it was saved (here: written to the database) is
    // not contacted.
    let app = spawn_app().await;
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let flag = seen.clone();
    std::thread::spawn(move || {
        if listener.accept().is_ok() {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    });
    assert_eq!(
        set_webhook(&app, "https://93.184.216.34/hook")
            .await
            .status(),
        200
    );
    app.store()
        .execute(
            "UPDATE companies SET webhook_url = $1",
            tokend::params![format!("http://127.0.0.1:{port}/hook")],
        )
        .expect("update");
    queue_events(&app, 1).await;
    let r = app.maintenance().await;
    assert_eq!(r["webhooks_failed"], 1, "{r}");
    assert!(
        !seen.load(std::sync::atomic::Ordering::SeqCst),
        "not contacted"
    );
}

#[tokio::test]
async fn rule_35_leaked_node_tokens_are_revocable() {
    let app = spawn_app().await;
    let res = app
        .post("/v1/nodes", &app.admin_token, json!({ "name": "edge-1" }))
        .await;
    let created = body(res).await;
    let value = created["token"]["value"]
        .as_str()
        .expect("value")
        .to_string();
    assert!(value.starts_with("tkn_"));
    assert_eq!(app.get("/v1/nodes/self", &value).await.status(), 200);
    let res = app
        .post("/v1/revoke", "", json!({ "values": [value] }))
        .await;
    assert_eq!(res.status(), 202);
    assert_eq!(body(res).await["accepted"], 1);
    expect_error(
        app.get("/v1/nodes/self", &value).await,
        401,
        "invalid_token",
    )
    .await;
    let nodes = body(app.get("/v1/nodes", &app.admin_token).await).await;
    assert_eq!(
        nodes["items"][0]["token_disabled_reason"], "leaked",
        "{nodes}"
    );
    let events = app.audit_events("action=node.token_leaked").await;
    assert_eq!(events.len(), 1);
}

/// Sends a console form as raw HTTP/1.1 — chunked when `chunked`, else with a
/// Content-Length — and returns the status code.
async fn raw_form(app: &TestApp, path: &str, cookie: &str, body: Vec<u8>, chunked: bool) -> u16 {
    let addr = app.address.trim_start_matches("http://").to_string();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n{}\r\n",
        if chunked {
            "Transfer-Encoding: chunked\r\n".to_string()
        } else {
            format!("Content-Length: {}\r\n", body.len())
        }
    );
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&addr).expect("connect");
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        s.write_all(head.as_bytes()).unwrap();
        // The server may answer 413 and close before the whole body is sent.
        if chunked {
            for part in body.chunks(8192) {
                if s.write_all(format!("{:x}\r\n", part.len()).as_bytes())
                    .is_err()
                    || s.write_all(part).is_err()
                    || s.write_all(b"\r\n").is_err()
                {
                    break;
                }
            }
            let _ = s.write_all(b"0\r\n\r\n");
        } else {
            let _ = s.write_all(&body);
        }
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer);
        text.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn rule_34_console_forms_over_64_kib_get_413_chunked_or_not() {
    let app = spawn_app().await;
    let s = app.login_ok(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let users_before =
        tokend_test_support::ids(&app.get_ok("/v1/users?limit=500", &app.admin_token).await).len();
    let filler = "x".repeat(100 * 1024);
    let body = format!(
        "csrf_token={}&email=big%40example.com&role=read_only&name={filler}",
        s.csrf
    )
    .into_bytes();
    for chunked in [true, false] {
        let status = raw_form(&app, "/users", &s.cookie, body.clone(), chunked).await;
        assert_eq!(status, 413, "chunked: {chunked}");
    }
    // A small form on the same route goes through (the limit is what refused them).
    let small = format!(
        "csrf_token={}&email=small%40example.com&role=read_only",
        s.csrf
    );
    let status = raw_form(&app, "/users", &s.cookie, small.into_bytes(), true).await;
    assert_eq!(status, 303, "a small chunked form is processed");
    assert_eq!(
        tokend_test_support::ids(&app.get_ok("/v1/users?limit=500", &app.admin_token).await).len(),
        users_before + 1
    );
}

#[tokio::test]
async fn rule_34_no_console_page_echoes_a_submitted_password() {
    let app = spawn_app().await;
    let s = app.login_ok(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let target = app.create_user("t@example.com", "analyst").await;
    app.token_for(target, json!({})).await;
    let secret = "Sentinel-Password-4711";
    let post = |path: String, form: String| {
        let app = &app;
        let s = &s;
        async move {
            app.client
                .post(app.url(&path))
                .header("cookie", &s.cookie)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form)
                .send()
                .await
                .expect("sent")
                .text()
                .await
                .expect("html")
        }
    };
    // A create form re-rendered with an error…
    let html = post(
        "/users".into(),
        format!(
            "csrf_token={}&email=not-an-email&role=read_only&password={secret}",
            s.csrf
        ),
    )
    .await;
    assert!(html.contains("form"), "the form is shown again: {html}");
    assert!(!html.contains(secret), "password echoed by the create form");
    // …and the confirmation page of a change that trims tokens (role reduced).
    let html = post(
        format!("/users/{target}"),
        format!(
            "csrf_token={}&email=t%40example.com&name=t&role=read_only&enabled=on&password={secret}",
            s.csrf
        ),
    )
    .await;
    assert!(
        html.contains("lose") || html.contains("Confirm") || html.contains("confirm"),
        "{html}"
    );
    assert!(
        !html.contains(secret),
        "password echoed by the confirmation page"
    );
}
