//! Rule 37 in the console: the Profile page's own-password form (current password first; the
//! other sessions end) and the current password asked on the Users page for one's own email.
//! Rule 46: the preview of a user change only for a change the caller may make, listing only
//! tokens it may see. Over plain HTTP, plus one Chromium run of the profile form.

use reqwest::Client;
use serde_json::{json, Value};

use crate::app::{spawn_app, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD};
use crate::browser::{Browser, Options};
use crate::http::{hidden, post_form, signed_in_as};

/// Form fields as posted.
type Pairs<'a> = &'a [(&'a str, &'a str)];

/// Creates a user with the test password as the bootstrap admin; returns its id.
async fn user(app: &TestApp, body: Value) -> i64 {
    let mut body = body;
    body["password"] = json!(PASSWORD);
    app.admin_post("/v1/users", body, 201).await["id"]
        .as_i64()
        .expect("id")
}

/// The page at `path` for client `c`: (status, html).
async fn page(app: &TestApp, c: &Client, path: &str) -> (u16, String) {
    let res = c.get(app.url(path)).send().await.expect("page");
    (res.status().as_u16(), res.text().await.expect("html"))
}

/// Posts `pairs` (plus the CSRF token of the page at `from`) to `to`: (status, html).
async fn submit(
    app: &TestApp,
    c: &Client,
    from: &str,
    to: &str,
    pairs: &[(&str, &str)],
) -> (u16, String) {
    let csrf = hidden(&page(app, c, from).await.1, "csrf_token");
    let mut all = vec![("csrf_token", csrf.as_str())];
    all.extend_from_slice(pairs);
    let res = post_form(c, app.url(to), &all).await.expect("post");
    (res.status().as_u16(), res.text().await.expect("html"))
}

async fn api_login_status(app: &TestApp, email: &str, password: &str) -> u16 {
    app.client
        .post(app.url("/v1/session"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .expect("login")
        .status()
        .as_u16()
}

#[tokio::test]
async fn rule_37_profile_password_form_needs_the_current_password_and_ends_other_sessions() {
    let app = spawn_app().await;
    user(
        &app,
        json!({ "email": "ann@example.com", "role": "read_only" }),
    )
    .await;
    let c1 = signed_in_as(&app, "ann@example.com", PASSWORD).await;
    let c2 = signed_in_as(&app, "ann@example.com", PASSWORD).await;
    let (status, html) = page(&app, &c1, "/profile").await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"<form method="post" action="/profile/password""#));
    assert!(html.contains("Current password") && html.contains("Confirm new password"));

    // A forged form is refused and changes nothing.
    let forged = [
        ("csrf_token", "forged"),
        ("current_password", PASSWORD),
        ("password", "new-password-9"),
        ("password_confirm", "new-password-9"),
    ];
    let res = post_form(&c1, app.url("/profile/password"), &forged)
        .await
        .expect("post");
    assert_eq!(res.status(), 403);

    // Wrong current password, mismatched or short new password: refused, nothing echoed.
    let cases: [(Pairs, u16, &str); 4] = [
        (
            &[
                ("current_password", "Wrong-Guess-77"),
                ("password", "new-password-9"),
                ("password_confirm", "new-password-9"),
            ],
            403,
            "the current password is wrong",
        ),
        (
            &[
                ("password", "new-password-9"),
                ("password_confirm", "new-password-9"),
            ],
            422,
            "Enter your current password.",
        ),
        (
            &[
                ("current_password", PASSWORD),
                ("password", "new-password-9"),
                ("password_confirm", "Other-Password-8"),
            ],
            422,
            "The two new passwords differ.",
        ),
        (
            &[
                ("current_password", PASSWORD),
                ("password", "Short-7"),
                ("password_confirm", "Short-7"),
            ],
            422,
            "at least 8",
        ),
    ];
    for (pairs, want, message) in cases {
        let (status, html) = submit(&app, &c1, "/profile", "/profile/password", pairs).await;
        assert_eq!(status, want, "{pairs:?}");
        assert!(html.contains(message), "{message}: {html}");
        for (_, v) in pairs {
            assert!(!html.contains(v), "rule 34: {v} echoed");
        }
    }
    assert_eq!(
        api_login_status(&app, "ann@example.com", PASSWORD).await,
        200
    );

    // The right one: changed, this browser stays signed in on a fresh session, the other ends.
    let csrf = hidden(&page(&app, &c1, "/profile").await.1, "csrf_token");
    let res = post_form(
        &c1,
        app.url("/profile/password"),
        &[
            ("csrf_token", csrf.as_str()),
            ("current_password", PASSWORD),
            ("password", "new-password-9"),
            ("password_confirm", "new-password-9"),
        ],
    )
    .await
    .expect("post");
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/profile");
    let (status, html) = page(&app, &c1, "/profile").await;
    assert_eq!(status, 200);
    assert!(html.contains("Password changed. Your other sessions have been signed out."));
    assert_ne!(hidden(&html, "csrf_token"), csrf, "a fresh session");
    let res = c2.get(app.url("/profile")).send().await.expect("page");
    assert_eq!(res.status(), 303, "the other session ended");
    assert_eq!(res.headers()["location"], "/login");
    assert_eq!(
        api_login_status(&app, "ann@example.com", PASSWORD).await,
        401
    );
    assert_eq!(
        api_login_status(&app, "ann@example.com", "new-password-9").await,
        200
    );
}

#[tokio::test]
async fn rule_37_the_users_page_asks_for_the_current_password_to_change_ones_own_email() {
    let app = spawn_app().await;
    let boss = user(
        &app,
        json!({ "email": "boss@example.com", "name": "Boss", "role": "admin" }),
    )
    .await;
    let c = signed_in_as(&app, "boss@example.com", PASSWORD).await;
    let path = format!("/users/{boss}");
    let (_, html) = page(&app, &c, &path).await;
    assert!(
        html.contains(r#"name="current_password""#),
        "asked on one's own page"
    );
    let change = |current: &'static str| {
        vec![
            ("email", "chief@example.com"),
            ("name", "Boss"),
            ("role", "admin"),
            ("enabled", "1"),
            ("current_password", current),
        ]
    };
    let (status, html) = submit(&app, &c, &path, &path, &change("")).await;
    assert_eq!(status, 422);
    assert!(html.contains("enter your current password"), "{html}");
    let (status, html) = submit(&app, &c, &path, &path, &change("Wrong-Guess-77")).await;
    assert_eq!(status, 403);
    assert!(html.contains("the current password is wrong") && !html.contains("Wrong-Guess-77"));
    let stored = app
        .client
        .get(app.url(&format!("/v1/users/{boss}")))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .expect("get")
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(stored["email"], "boss@example.com", "unchanged so far");

    let csrf = hidden(&page(&app, &c, &path).await.1, "csrf_token");
    let mut pairs = vec![("csrf_token", csrf.as_str())];
    pairs.extend(change(PASSWORD));
    let res = post_form(&c, app.url(&path), &pairs).await.expect("post");
    assert_eq!(res.status(), 303);
    assert_eq!(
        api_login_status(&app, "chief@example.com", PASSWORD).await,
        200
    );
    // Another user's page asks for no password of the caller.
    let other = user(
        &app,
        json!({ "email": "ann@example.com", "role": "analyst" }),
    )
    .await;
    let (_, html) = page(&app, &c, &format!("/users/{other}")).await;
    assert!(!html.contains(r#"name="current_password""#));
}

#[tokio::test]
async fn rule_46_a_helpdesk_gets_no_preview_of_a_change_it_may_not_make() {
    let app = spawn_app().await;
    let boss = user(
        &app,
        json!({ "email": "boss@example.com", "name": "Boss", "role": "admin" }),
    )
    .await;
    app.token_named(boss, "boss-deploy-pipeline", json!({}))
        .await;
    let perms = ["users:read", "users:write"];
    user(
        &app,
        json!({ "email": "help@example.com", "role": "custom", "permissions": perms }),
    )
    .await;
    let c = signed_in_as(&app, "help@example.com", PASSWORD).await;
    let path = format!("/users/{boss}");
    for change in [
        vec![
            ("email", "boss@example.com"),
            ("name", "Boss"),
            ("role", "read_only"),
            ("enabled", "1"),
        ],
        vec![
            ("email", "boss@example.com"),
            ("name", "Boss"),
            ("role", "admin"),
        ],
    ] {
        let (status, html) = submit(&app, &c, &path, &path, &change).await;
        assert_eq!(status, 403, "{change:?}");
        assert!(html.contains("Not allowed"), "{html}");
        assert!(
            !html.contains("boss-deploy-pipeline"),
            "no token names: {html}"
        );
        assert!(!html.contains("Confirm change"), "{html}");
    }
    let stored = app
        .client
        .get(app.url(&format!("/v1/users/{boss}")))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .expect("get")
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(
        (stored["role"].as_str(), stored["enabled"].as_bool()),
        (Some("admin"), Some(true))
    );
}

#[tokio::test]
async fn rule_46_an_allowed_preview_lists_only_tokens_the_caller_may_see() {
    let app = spawn_app().await;
    let held = ["users:read", "tokens:read", "tokens:write"];
    let target = user(
        &app,
        json!({ "email": "tina@example.com", "role": "custom", "permissions": held }),
    )
    .await;
    let two = json!({ "permissions": ["users:read", "tokens:read"] });
    app.token_named(target, "tina-private-hidden", two.clone())
        .await;
    let mut shared = two.clone();
    shared["kind"] = json!("shared");
    shared["audience"] = json!("company");
    app.token_named(target, "team-visible", shared).await;
    let perms = ["users:read", "users:write", "tokens:read", "tokens:write"];
    user(
        &app,
        json!({ "email": "help@example.com", "role": "custom", "permissions": perms }),
    )
    .await;
    let c = signed_in_as(&app, "help@example.com", PASSWORD).await;
    let path = format!("/users/{target}");
    let change = [
        ("email", "tina@example.com"),
        ("name", "tina"),
        ("role", "custom"),
        ("permissions", "users:read"),
        ("enabled", "1"),
    ];
    let (status, html) = submit(&app, &c, &path, &path, &change).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Confirm change of tina@example.com"),
        "{html}"
    );
    assert!(
        html.contains("team-visible"),
        "a token the helpdesk sees: {html}"
    );
    assert!(
        !html.contains("tina-private-hidden"),
        "a private token of someone else is not listed: {html}"
    );
    // The administrator, who sees every token of the company, is shown both.
    let admin = signed_in_as(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (status, html) = submit(&app, &admin, &path, &path, &change).await;
    assert_eq!(status, 200);
    assert!(html.contains("team-visible") && html.contains("tina-private-hidden"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_37_profile_change_password_form_in_a_browser() {
    let app = spawn_app().await;
    user(
        &app,
        json!({ "email": "ann@example.com", "role": "analyst" }),
    )
    .await;
    let b = Browser::start(&app.address, Options::default()).await;
    b.login("ann@example.com", PASSWORD).await;
    b.click("Profile").await;
    b.fill("Current password", "not-my-password").await;
    b.fill("New password", "brand-new-pass-1").await;
    b.fill("Confirm new password", "brand-new-pass-1").await;
    b.click("Change password").await;
    b.sees("the current password is wrong").await;
    assert_eq!(
        b.field_value("New password").await,
        "",
        "never filled back in"
    );
    b.fill("Current password", PASSWORD).await;
    b.fill("New password", "brand-new-pass-1").await;
    b.fill("Confirm new password", "brand-new-pass-1").await;
    b.click("Change password").await;
    b.sees("Password changed. Your other sessions have been signed out.")
        .await;
    assert_eq!(b.path().await, "/profile");
    b.logout().await;
    b.login("ann@example.com", "brand-new-pass-1").await;
    b.finish().await;
}
