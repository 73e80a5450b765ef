//! Rules 40–42: what a burst of anonymous requests may cost. Password hashing is bounded (a
//! slot per core, 503 `busy` after 1 s, memory under 512 MiB for 200 concurrent logins of a
//! real `tokend serve` process), failed logins are limited per address, anonymous requests
//! store little, OpenID Connect sign-ins in progress live in the browser, and the legacy
//! throttle reserves before it compares.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use futures_util::StreamExt;
use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::helpers::*;
use tokend_test_support::PASSWORD;

use tokend_test_support::proc;

/// A login through `POST /v1/session` as if from `from` (the app trusts 127.0.0.1 as a proxy).
async fn login_from(app: &TestApp, from: &str, email: &str, password: &str) -> Response {
    app.send_with(
        Method::POST,
        "/v1/session",
        &[("X-Forwarded-For", from)],
        Some(json!({ "email": email, "password": password })),
    )
    .await
}

fn trusting_loopback(c: &mut tokend::config::Config) {
    c.trusted_proxies = vec!["127.0.0.1/32".parse().expect("net")];
}

/// The console's login form: (status, Retry-After, page) of `POST /login`.
async fn console_login(app: &TestApp, email: &str, password: &str) -> (u16, String, String) {
    let form = app
        .client
        .get(app.url("/login"))
        .send()
        .await
        .expect("login page");
    let csrf = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("tokend_login="))
        .and_then(|c| c.split(';').next())
        .expect("login cookie")
        .to_string();
    let res = app
        .client
        .post(app.url("/login"))
        .header("Cookie", format!("tokend_login={csrf}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("email", email)
                .append_pair("password", password)
                .append_pair("csrf_token", &csrf)
                .finish(),
        )
        .send()
        .await
        .expect("login form");
    let status = res.status().as_u16();
    let retry = header(&res, "retry-after");
    (status, retry, res.text().await.unwrap_or_default())
}

#[tokio::test]
async fn rule_40_a_login_that_gets_no_hashing_slot_within_a_second_answers_503_busy() {
    let app = spawn_app().await;
    app.create_user("slots@example.com", "read_only").await;
    let hashes = app.metric_sum("tokend_password_hashes_total").await;
    // Every slot taken, as a burst of other logins would hold them.
    let mut held = Vec::new();
    for _ in 0..app.state.hashing.size() {
        held.push(app.state.hashing.acquire().await.expect("a free slot"));
    }
    let started = Instant::now();
    let res = app.login_raw("slots@example.com", PASSWORD).await;
    let waited = started.elapsed();
    assert_eq!(header(&res, "retry-after"), "1");
    expect_error(res, 503, "busy").await;
    assert!(waited >= StdDuration::from_millis(990), "{waited:?}");
    assert!(waited < StdDuration::from_secs(5), "{waited:?}");
    // Creating a user with a password, and the console's form, wait for a slot too.
    let res = app
        .post(
            "/v1/users",
            &app.admin_token,
            json!({ "email": "more@example.com", "role": "read_only", "password": PASSWORD }),
        )
        .await;
    expect_error(res, 503, "busy").await;
    let (status, retry, _) = console_login(&app, "slots@example.com", PASSWORD).await;
    assert_eq!((status, retry.as_str()), (503, "1"));
    assert_eq!(
        app.metric_sum("tokend_password_hashes_total").await,
        hashes,
        "nothing was hashed while every slot was held"
    );
    drop(held);
    // Busy attempts were not counted against the account: ten wrong passwords still get 401.
    for i in 0..10 {
        let res = app.login_raw("slots@example.com", "wrong password!").await;
        assert_eq!(res.status(), 401, "wrong password {i}");
    }
    let res = app.login_raw("slots@example.com", PASSWORD).await;
    expect_error(res, 429, "too_many_attempts").await;
}

#[tokio::test]
async fn rule_40_the_31st_failed_login_a_minute_from_one_address_is_refused() {
    let app = spawn_app_with(trusting_loopback).await;
    // Successful logins are taken back from the address's count.
    for _ in 0..35 {
        let res = login_from(&app, "192.0.2.1", ADMIN_EMAIL, ADMIN_PASSWORD).await;
        assert_eq!(res.status(), 200);
    }
    // Thirty failures, each naming another account (so no account throttle is reached).
    for i in 0..30 {
        let res = login_from(
            &app,
            "192.0.2.1",
            &format!("nobody{i}@example.com"),
            "wrong pw!",
        )
        .await;
        assert_eq!(res.status(), 401, "failure {i}");
    }
    let res = login_from(&app, "192.0.2.1", "nobody-else@example.com", "wrong pw!").await;
    assert!(header(&res, "retry-after")
        .parse::<u64>()
        .is_ok_and(|s| s >= 1));
    expect_error(res, 429, "too_many_attempts").await;
    // Counted before the password is checked: the right password waits too.
    let res = login_from(&app, "192.0.2.1", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    expect_error(res, 429, "too_many_attempts").await;
    // Another address is not affected; after a minute the address may try again.
    let res = login_from(&app, "192.0.2.2", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 200);
    app.advance(Duration::seconds(61));
    let res = login_from(&app, "192.0.2.1", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 200);

    // IPv6: one /64 is one address.
    for i in 0..30 {
        let from = format!("2001:db8:7:7::{:x}", i + 1);
        let res = login_from(&app, &from, &format!("v6-{i}@example.com"), "wrong pw!").await;
        assert_eq!(res.status(), 401, "v6 failure {i}");
    }
    let res = login_from(&app, "2001:db8:7:7:ffff::1", "v6@example.com", "wrong pw!").await;
    expect_error(res, 429, "too_many_attempts").await;
    let res = login_from(&app, "2001:db8:7:8::1", "v6@example.com", "wrong pw!").await;
    assert_eq!(res.status(), 401, "the next /64 is another address");
}

#[tokio::test]
async fn rule_40_the_console_login_shares_the_per_address_limit() {
    let app = spawn_app().await;
    for i in 0..30 {
        let (status, _, _) = console_login(&app, &format!("c{i}@example.com"), "wrong pw!").await;
        assert_eq!(status, 401, "failure {i}");
    }
    let (status, retry, page) = console_login(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(status, 429, "{page}");
    assert!(retry.parse::<u64>().is_ok_and(|s| s >= 1), "{retry}");
    assert!(page.contains("Too many failed attempts"), "{page}");
    // The API login from the same address is limited by the same count.
    let res = app.login_raw(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    expect_error(res, 429, "too_many_attempts").await;
}

/// A value of `/proc/PID/status` in KiB (`VmRSS`, `VmHWM`).
fn proc_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in {status}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_40_a_burst_of_200_concurrent_logins_keeps_the_server_under_512_mib() {
    let work = proc::Workdir::new();
    let server = proc::Server::start(
        &work.db,
        &proc::ServerOpts::default().env("TOKEND_TRUSTED_PROXIES", "127.0.0.1/32"),
    );
    let pid = server.pid();
    let before = proc_kib(pid, "VmRSS");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");
    let started = Instant::now();
    // 200 anonymous logins at once, each naming an unknown email from its own address (so
    // only the hashing bound, not the per-address limit, stands between them and argon2).
    let answers = futures_util::future::join_all((0..200).map(|i| {
        let (http, url) = (http.clone(), server.url("/v1/session"));
        async move {
            let res = http
                .post(url)
                .header("X-Forwarded-For", format!("10.40.{}.{}", i / 200, i % 200 + 1))
                .json(&json!({ "email": format!("burst-{i}@example.com"), "password": "wrong password" }))
                .send()
                .await
                .unwrap_or_else(|e| panic!("login {i} dropped: {e}"));
            let status = res.status().as_u16();
            let retry = header(&res, "retry-after");
            let code = res.json::<Value>().await.unwrap_or_default()["error"]["code"].clone();
            (status, code, retry)
        }
    }))
    .await;
    let took = started.elapsed();
    let peak = proc_kib(pid, "VmHWM");
    let after = proc_kib(pid, "VmRSS");

    let refused = answers.iter().filter(|(s, _, _)| *s == 401).count();
    let busy = answers.iter().filter(|(s, _, _)| *s == 503).count();
    for (status, code, retry) in &answers {
        match status {
            401 => assert_eq!(code, "invalid_credentials"),
            503 => assert_eq!((code.as_str(), retry.as_str()), (Some("busy"), "1")),
            other => panic!("unexpected {other} {code}"),
        }
    }
    eprintln!(
        "rule 40 burst: 200 logins in {took:?}: {refused} × 401, {busy} × 503 busy; \
         RSS {} MiB before, peak {} MiB, {} MiB after",
        before / 1024,
        peak / 1024,
        after / 1024
    );
    assert!(refused >= 2, "some logins were checked: {refused}");
    assert!(peak < 512 * 1024, "peak RSS {} MiB", peak / 1024);
}

/// A stand-in identity provider that answers discovery and an empty key set (enough to start
/// sign-ins; nobody finishes one). Serves until the test process ends.
fn discovery_only_provider() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let issuer = format!(
        "http://127.0.0.1:{}",
        listener.local_addr().expect("addr").port()
    );
    let doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/auth"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    })
    .to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(&stream);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).map_or(true, |n| n == 0) || h.trim().is_empty() {
                    break;
                }
            }
            let body = if line.contains("/jwks") {
                r#"{"keys":[]}"#.to_string()
            } else {
                doc.clone()
            };
            let _ = (&stream).write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    issuer
}

async fn spawn_with_oidc(issuer: &str) -> TestApp {
    let issuer = issuer.to_string();
    spawn_app_with(move |c| {
        c.oidc = Some(tokend::config::OidcConfig {
            issuer,
            client_id: "tokend".into(),
            client_secret: "client-secret".parse().expect("secret"),
            redirect_url: None,
            auto_provision: None,
        });
    })
    .await
}

/// The whole audit log as stored, every text column.
fn audit_text(app: &TestApp) -> String {
    app.store()
        .query_map(
            "SELECT COALESCE(actor_email, '') || '|' || COALESCE(ip, '') || '|' || details
             FROM audit_events ORDER BY id",
            tokend::params![],
            |r| r.get::<String>(0),
        )
        .expect("query")
        .join("\n")
}

#[tokio::test]
async fn rule_41_the_oidc_callback_keeps_at_most_128_bytes_of_error_and_iss() {
    let issuer = discovery_only_provider();
    let app = spawn_with_oidc(&issuer).await;
    let huge = "x".repeat(16_000);
    let res = app
        .client
        .get(app.url(&format!("/login/oidc/callback?error={huge}&state=s")))
        .send()
        .await
        .expect("callback");
    assert_eq!(res.status(), 403);
    let res = app
        .client
        .get(app.url(&format!(
            "/login/oidc/callback?code=c&state=s&iss=https://{huge}"
        )))
        .send()
        .await
        .expect("callback");
    assert_eq!(res.status(), 403);
    let failures = app.audit_events("action=session.login_failed").await;
    let reasons: Vec<&str> = failures
        .iter()
        .filter_map(|e| e["details"]["reason"].as_str())
        .collect();
    assert!(reasons.contains(&"provider_error"), "{failures:?}");
    assert!(reasons.contains(&"issuer_mismatch"), "{failures:?}");
    for e in &failures {
        let detail = e["details"]["detail"].as_str().unwrap_or_default();
        let from_visitor = detail.matches('x').count();
        assert!(
            from_visitor <= 128,
            "{} bytes of the visitor's text",
            from_visitor
        );
    }
    let stored = audit_text(&app);
    assert!(
        !stored.contains(&"x".repeat(129)),
        "no more than 128 bytes stored"
    );
}

#[tokio::test]
async fn rule_41_a_login_email_that_does_not_parse_is_not_stored() {
    let app = spawn_app().await;
    for email in ["not-an-email-zq7", "spaces in@example.com", "@nobody-zq7"] {
        let res = app.login_raw(email, "wrong password").await;
        expect_error(res, 401, "invalid_credentials").await;
    }
    let failures = app.audit_events("action=session.login_failed").await;
    assert_eq!(failures.len(), 3, "{failures:?}");
    for e in &failures {
        assert_eq!(e["details"]["email"], Value::Null, "{e}");
        assert_eq!(e["details"]["email_invalid"], true, "{e}");
    }
    let stored = audit_text(&app);
    assert!(!stored.contains("zq7"), "{stored}");
    assert!(!stored.contains("spaces in"), "{stored}");
    // A well-formed unknown email is still recorded as such.
    let res = app.login_raw("Someone@Example.com", "wrong password").await;
    expect_error(res, 401, "invalid_credentials").await;
    let last = &app.audit_events("action=session.login_failed").await[0];
    assert_eq!(last["details"]["email"], "someone@example.com");
}

#[tokio::test]
async fn rule_41_failed_sign_ins_past_ten_a_minute_are_one_aggregate_audit_event() {
    let app = spawn_app_with(trusting_loopback).await;
    // Start at the beginning of a server-clock minute, so the burst stays inside it.
    let into_minute = app.state.now_ms().rem_euclid(60_000);
    app.advance(Duration::milliseconds(60_000 - into_minute + 1));
    let mut statuses = Vec::new();
    for i in 0..50 {
        let email = format!("agg-{i}@example.com");
        let res = login_from(&app, "198.51.100.7", &email, "wrong password").await;
        statuses.push(res.status().as_u16());
    }
    // Another address keeps its own count.
    let res = login_from(&app, "198.51.100.8", "other@example.com", "wrong password").await;
    assert_eq!(res.status(), 401);
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 30);
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 20);
    let from = |events: &[Value], ip: &str| {
        events
            .iter()
            .filter(|e| e["ip"] == ip)
            .cloned()
            .collect::<Vec<Value>>()
    };
    let events = app.audit_events("action=session.login_failed").await;
    assert_eq!(from(&events, "198.51.100.7").len(), 10, "ten one by one");
    assert_eq!(from(&events, "198.51.100.8").len(), 1);
    // The minute ends; the flush writes one event counting the other twenty failures.
    app.advance(Duration::seconds(61));
    app.maintenance().await;
    app.maintenance().await;
    let events = app.audit_events("action=session.login_failed").await;
    let mine = from(&events, "198.51.100.7");
    assert_eq!(mine.len(), 11, "{mine:?}");
    let aggregate = &mine[0];
    assert_eq!(aggregate["details"]["aggregated"], true, "{aggregate}");
    assert_eq!(aggregate["details"]["count"], 20, "{aggregate}");
    assert_eq!(aggregate["details"]["address"], "198.51.100.7");
    // A new minute audits one by one again.
    let res = login_from(
        &app,
        "198.51.100.7",
        "agg-next@example.com",
        "wrong password",
    )
    .await;
    assert_eq!(res.status(), 401);
    let events = app.audit_events("action=session.login_failed").await;
    assert_eq!(from(&events, "198.51.100.7").len(), 12);
}

#[tokio::test]
async fn rule_41_ten_thousand_oidc_starts_do_not_refuse_a_new_visitor() {
    let issuer = discovery_only_provider();
    let app = spawn_with_oidc(&issuer).await;
    let url = app.url("/login/oidc");
    let started = futures_util::stream::iter(0..10_000)
        .map(|_| {
            let (client, url) = (app.client.clone(), url.clone());
            async move {
                client
                    .get(url)
                    .send()
                    .await
                    .expect("start")
                    .status()
                    .as_u16()
            }
        })
        .buffer_unordered(32)
        .filter(|s| std::future::ready(*s == 303))
        .count()
        .await;
    assert_eq!(
        started, 10_000,
        "every anonymous start is sent to the provider"
    );
    // A new visitor (no cookies) still starts a sign-in.
    let res = common_client().get(&url).send().await.expect("start");
    assert_eq!(res.status(), 303);
    let location = header(&res, "location");
    assert!(
        location.starts_with(&format!("{issuer}/auth?")),
        "{location}"
    );
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("tokend_oidc="))
        .expect("the sign-in cookie")
        .to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    // The state in the provider URL is not readable from the cookie (it is sealed).
    let state = url::Url::parse(&location)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.to_string())
        .expect("state");
    assert!(!cookie.contains(&state), "{cookie}");
    // A callback whose state is not the cookie's is refused, and the refusal keeps nothing of
    // the visitor's text beyond the bound.
    let res = app
        .client
        .get(app.url("/login/oidc/callback?code=c&state=forged"))
        .header("Cookie", cookie.split(';').next().unwrap_or_default())
        .send()
        .await
        .expect("callback");
    assert_eq!(res.status(), 403);
    let events = app.audit_events("action=session.login_failed").await;
    assert_eq!(events[0]["details"]["reason"], "state_mismatch");
}

fn common_client() -> reqwest::Client {
    tokend_test_support::client()
}

#[tokio::test]
async fn rule_42_a_burst_of_100_wrong_legacy_secrets_gets_at_most_20_401s() {
    let app = spawn_app().await;
    let user = app.create_user("legacy-100@example.com", "read_only").await;
    let creds = app.issue_legacy_credentials(user).await;
    let uuid = creds["uuid"].as_str().expect("uuid").to_string();
    let secret = creds["secret"].as_str().expect("secret").to_string();
    // A secret verified before still passes while the burst goes on (it is no guess).
    assert_eq!(app.legacy_get("/v1/me", &uuid, &secret).await.status(), 200);
    let attempts = (0..100).map(|i| {
        let (app, uuid) = (&app, uuid.clone());
        async move {
            app.legacy_get("/v1/me", &uuid, &format!("wrong-secret-{i}"))
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    let unauthorized = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert!(unauthorized <= 20, "{unauthorized} × 401: {statuses:?}");
    assert_eq!(unauthorized + throttled, 100, "{statuses:?}");
    // Sequentially the limit is exact: 20 failures, then 429 before any comparison.
    let fresh = spawn_app().await;
    let user = fresh
        .create_user("legacy-seq@example.com", "read_only")
        .await;
    let creds = fresh.issue_legacy_credentials(user).await;
    let uuid = creds["uuid"].as_str().expect("uuid");
    for i in 0..20 {
        let status = fresh.legacy_get("/v1/me", uuid, "wrong").await.status();
        assert_eq!(status, 401, "failure {i}");
    }
    assert_eq!(
        fresh.legacy_get("/v1/me", uuid, "wrong").await.status(),
        429
    );
}
