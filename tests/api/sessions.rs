//! Console sessions: cookie flags, CSRF, fresh ids, failed logins, throttling,
//! sessions ending when a user is disabled or its password changes.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

const PW: &str = "password-123";

async fn with_cookie(
    app: &TestApp,
    method: Method,
    path: &str,
    s: &Session,
    csrf: Option<&str>,
) -> reqwest::Response {
    let mut headers = vec![("cookie", s.cookie.as_str())];
    if let Some(c) = csrf {
        headers.push(("x-csrf-token", c));
    }
    let payload = (method != Method::GET && method != Method::DELETE).then(|| {
        if path == "/v1/tokens" {
            json!({ "name": "via session", "role_template": "read_only" })
        } else {
            json!({ "name": "via session" })
        }
    });
    app.send_with(method, path, &headers, payload).await
}

#[tokio::test]
async fn login_sets_an_httponly_samesite_lax_cookie_and_returns_a_csrf_token() {
    let app = spawn_app().await;
    let res = app.login_raw(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 200);
    let c = set_cookie(&res).expect("a session cookie");
    assert!(c.starts_with("tokend_session="), "{c}");
    let lower = c.to_lowercase();
    assert!(lower.contains("httponly"), "{c}");
    assert!(lower.contains("samesite=lax"), "{c}");
    assert!(lower.contains("path=/"), "{c}");
    assert!(
        !lower.contains("secure"),
        "no Secure without secure_cookies: {c}"
    );
    let value = c
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("tokend_session=");
    assert!(value.len() >= 32, "a long random id: {value}");
    let cookie = session_cookie(&res).unwrap();
    let b = body(res).await;
    let csrf = b["csrf_token"].as_str().unwrap();
    assert!(csrf.len() >= 32);
    assert_eq!(b["user"]["email"], ADMIN_EMAIL);
    assert!(
        !b.to_string().contains(value),
        "the cookie value is not in the body"
    );

    let res = app
        .send_with(Method::GET, "/v1/me", &[("cookie", &cookie)], None)
        .await;
    let me = body(res).await;
    assert_eq!(me["auth_method"], "session");
    assert_eq!(me["user"]["email"], ADMIN_EMAIL);
    assert!(me["token_id"].is_null());
    // email matching ignores case and surrounding spaces
    assert_eq!(
        app.login_raw("  ADMIN@Example.com ", ADMIN_PASSWORD)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn secure_cookies_use_the_host_prefix_and_secure_flag() {
    let app = spawn_app_with(|c| c.secure_cookies = true).await;
    let res = app.login_raw(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 200);
    let c = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("__Host-tokend_session="))
        .expect("__Host- cookie");
    let lower = c.to_lowercase();
    assert!(
        lower.contains("; secure") && lower.contains("httponly") && lower.contains("samesite=lax"),
        "{c}"
    );
    assert!(
        lower.contains("path=/") && !lower.contains("domain="),
        "{c}"
    );
    let cookie = c.split(';').next().unwrap().to_string();
    let res = app
        .send_with(Method::GET, "/v1/me", &[("cookie", &cookie)], None)
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn cookie_authenticated_unsafe_requests_need_the_csrf_header() {
    let app = spawn_app().await;
    let s = app.login_ok(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let other = app.login_ok(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    // safe methods need no CSRF header
    assert_eq!(
        with_cookie(&app, Method::GET, "/v1/tokens", &s, None)
            .await
            .status(),
        200
    );
    let before = ids(&app.get_ok("/v1/tokens?limit=500", &app.admin_token).await).len();
    for csrf in [None, Some("wrong"), Some(""), Some(other.csrf.as_str())] {
        let res = with_cookie(&app, Method::POST, "/v1/tokens", &s, csrf).await;
        assert_eq!(res.status(), 403, "csrf {csrf:?}");
        assert_eq!(body(res).await["error"]["code"], "csrf_failed");
    }
    assert_eq!(
        ids(&app.get_ok("/v1/tokens?limit=500", &app.admin_token).await).len(),
        before,
        "nothing created"
    );
    let res = with_cookie(&app, Method::POST, "/v1/tokens", &s, Some(&s.csrf)).await;
    assert_eq!(res.status(), 201);
    let id = body(res).await["id"].as_i64().unwrap();
    let path = format!("/v1/tokens/{id}");
    assert_eq!(
        with_cookie(&app, Method::PATCH, &path, &s, None)
            .await
            .status(),
        403
    );
    assert_eq!(
        with_cookie(&app, Method::DELETE, &path, &s, None)
            .await
            .status(),
        403
    );
    assert_eq!(
        with_cookie(&app, Method::DELETE, &path, &s, Some("nope"))
            .await
            .status(),
        403
    );
    assert_eq!(
        app.get(&path, &app.admin_token).await.status(),
        200,
        "still there"
    );
    assert_eq!(
        with_cookie(&app, Method::PATCH, &path, &s, Some(&s.csrf))
            .await
            .status(),
        200
    );
    assert_eq!(
        with_cookie(&app, Method::DELETE, &path, &s, Some(&s.csrf))
            .await
            .status(),
        204
    );
    // token requests need no CSRF header (no ambient credential)
    assert_eq!(
        app.post(
            "/v1/tokens",
            &app.admin_token,
            json!({ "name": "t", "role_template": "read_only" })
        )
        .await
        .status(),
        201
    );
}

#[tokio::test]
async fn every_login_gets_a_new_session_id_and_logout_ends_it() {
    let app = spawn_app().await;
    let planted = "tokend_session=attacker-chosen-session-id-0123456789abcdef";
    let res = app
        .send_with(
            Method::POST,
            "/v1/session",
            &[("cookie", planted)],
            Some(json!({ "email": ADMIN_EMAIL, "password": ADMIN_PASSWORD })),
        )
        .await;
    assert_eq!(res.status(), 200);
    let first = session_cookie(&res).unwrap();
    assert_ne!(first, planted, "a planted id is never adopted");
    let second = app.login_ok(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_ne!(first, second.cookie);
    let third = app.login_ok(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_ne!(second.cookie, third.cookie);
    assert_ne!(second.csrf, third.csrf);
    let res = app
        .send_with(Method::GET, "/v1/me", &[("cookie", planted)], None)
        .await;
    assert_eq!(res.status(), 401);

    // logout ends exactly that session
    let res = app
        .send_with(
            Method::DELETE,
            "/v1/session",
            &[("cookie", &second.cookie)],
            None,
        )
        .await;
    assert_eq!(res.status(), 204);
    let removal = set_cookie(&res).expect("cookie removed");
    assert!(removal.to_lowercase().contains("max-age=0"), "{removal}");
    let res = app
        .send_with(Method::GET, "/v1/me", &[("cookie", &second.cookie)], None)
        .await;
    expect_error(res, 401, "invalid_token").await;
    let res = app
        .send_with(Method::GET, "/v1/me", &[("cookie", &third.cookie)], None)
        .await;
    assert_eq!(res.status(), 200);
    // logout without a session is harmless
    assert_eq!(
        app.send(Method::DELETE, "/v1/session", None, None)
            .await
            .status(),
        204
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_401() {
    let app = spawn_app().await;
    let u = app
        .create_user_with(json!({ "email": "off@example.com", "role": "analyst", "password": PW }))
        .await;
    app.patch(
        &format!("/v1/users/{u}"),
        &app.admin_token,
        json!({ "enabled": false }),
    )
    .await;
    let mut bodies = Vec::new();
    for (email, pw) in [
        (ADMIN_EMAIL, "wrong password"),
        ("nobody@example.com", ADMIN_PASSWORD),
        ("off@example.com", PW),
        (ADMIN_EMAIL, ""),
    ] {
        let res = app.login_raw(email, pw).await;
        assert_eq!(res.status(), 401, "{email}");
        assert!(set_cookie(&res).is_none(), "no cookie on failure");
        let text = res.text().await.unwrap();
        let b: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(b["error"]["code"], "invalid_credentials");
        bodies.push(text);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
    // a login body without a password is a 422 naming it (SPEC §17), not a 5xx
    let res = app
        .send(
            Method::POST,
            "/v1/session",
            None,
            Some(json!({ "email": "x" })),
        )
        .await;
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn ten_failed_logins_lock_the_account_with_429() {
    let app = spawn_app().await;
    app.create_user_with(json!({ "email": "v@example.com", "role": "analyst", "password": PW }))
        .await;
    for i in 0..10 {
        let res = app.login_raw("v@example.com", "not the password").await;
        assert_eq!(res.status(), 401, "attempt {i}");
    }
    // even the right password is refused now
    let res = app.login_raw("v@example.com", PW).await;
    assert_eq!(res.status(), 429);
    let retry: u64 = header(&res, "retry-after")
        .parse()
        .expect("Retry-After seconds");
    assert!(retry > 0 && retry <= 15 * 60, "{retry}");
    expect_error(res, 429, "too_many_attempts").await;
    let res = app.login_raw("V@example.com", PW).await;
    assert_eq!(res.status(), 429, "the same account whatever the case");
    // other accounts are not affected
    assert_eq!(
        app.login_raw(ADMIN_EMAIL, ADMIN_PASSWORD).await.status(),
        200
    );
    // unknown emails behave the same way (existence does not leak)
    for _ in 0..10 {
        assert_eq!(
            app.login_raw("ghost@example.com", "x-password")
                .await
                .status(),
            401
        );
    }
    expect_error(
        app.login_raw("ghost@example.com", "x-password").await,
        429,
        "too_many_attempts",
    )
    .await;
    // after the window the account can sign in again
    app.advance(chrono::Duration::minutes(16));
    assert_eq!(app.login_raw("v@example.com", PW).await.status(), 200);
}

#[tokio::test]
async fn disabling_a_user_or_changing_its_password_ends_its_sessions_at_once() {
    let app = spawn_app().await;
    let u = app
        .create_user_with(json!({ "email": "s@example.com", "role": "analyst", "password": PW }))
        .await;
    let path = format!("/v1/users/{u}");
    let s1 = app.login_ok("s@example.com", PW).await;
    let s2 = app.login_ok("s@example.com", PW).await;
    let me = |s: &Session| {
        let cookie = s.cookie.clone();
        let app = &app;
        async move {
            app.send_with(Method::GET, "/v1/me", &[("cookie", &cookie)], None)
                .await
                .status()
        }
    };
    assert_eq!(me(&s1).await, 200);
    assert_eq!(me(&s2).await, 200);
    assert_eq!(
        app.patch(&path, &app.admin_token, json!({ "enabled": false }))
            .await
            .status(),
        200
    );
    assert_eq!(me(&s1).await, 401);
    assert_eq!(me(&s2).await, 401);
    assert_eq!(
        app.patch(&path, &app.admin_token, json!({ "enabled": true }))
            .await
            .status(),
        200
    );
    assert_eq!(
        me(&s1).await,
        401,
        "enabling again does not revive old sessions"
    );

    let s3 = app.login_ok("s@example.com", PW).await;
    assert_eq!(me(&s3).await, 200);
    let res = app
        .patch(
            &path,
            &app.admin_token,
            json!({ "password": "another-password" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(body(res).await.get("password").is_none());
    assert_eq!(me(&s3).await, 401);
    assert_eq!(app.login_raw("s@example.com", PW).await.status(), 401);
    assert_eq!(
        app.login_raw("s@example.com", "another-password")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn passwords_are_at_least_8_characters_and_never_truncated() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/v1/users",
            &app.admin_token,
            json!({ "email": "p@example.com", "role": "analyst", "password": "1234567" }),
        )
        .await;
    let b = expect_error(res, 422, "validation_failed").await;
    assert!(b["error"]["fields"]["password"].is_string(), "{b}");
    let long = "p".repeat(199) + "!";
    let u = app
        .create_user_with(json!({ "email": "p@example.com", "role": "analyst", "password": long }))
        .await;
    assert_eq!(app.login_raw("p@example.com", &long).await.status(), 200);
    let almost = "p".repeat(199) + "?";
    assert_eq!(
        app.login_raw("p@example.com", &almost).await.status(),
        401,
        "no truncation"
    );
    let path = format!("/v1/users/{u}");
    assert_eq!(
        app.patch(&path, &app.admin_token, json!({ "password": "short" }))
            .await
            .status(),
        422
    );
    assert_eq!(
        app.patch(&path, &app.admin_token, json!({ "password": "12345678" }))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.login_raw("p@example.com", "12345678").await.status(),
        200
    );
    // multi-byte characters count as characters
    let res = app
        .post(
            "/v1/users",
            &app.admin_token,
            json!({ "email": "q@example.com", "role": "analyst", "password": "ééééééé" }),
        )
        .await;
    assert_eq!(res.status(), 422, "7 characters, 14 bytes");
}
