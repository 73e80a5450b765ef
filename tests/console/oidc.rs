//! *Sign in with SSO* through OpenID Connect (rule 18), in Chromium, against a real provider:
//! the certified `oidc-provider` package started on loopback by `tests/oidc/provider.mjs`
//! (installed into `.oidc/` by scripts/install-test-deps, which runs when it is missing).
//! Helpers in `oidc_kit.rs`.

use serde_json::Value;
use tokend::domain::roles::Role;

use crate::browser::{Browser, Options};
use crate::oidc_kit::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_18_oidc_sso_user_signs_in_others_are_refused() {
    let port = free_port();
    let app = spawn_with_oidc(port, None, None).await;
    let _provider = Provider::start(
        port,
        &format!("{}/login/oidc/callback", app.address),
        "k1",
        "RS256",
    );
    analyst(&app, "carol@example.com", true).await;
    analyst(&app, "dave@example.com", false).await;
    analyst(&app, "unverified@example.com", true).await;
    let b = Browser::start(&app.address, Options::default()).await;

    sso_sign_in(&b, "carol@example.com").await;
    let path = b.path().await;
    assert!(
        path == "/" || path == "/profile",
        "signed in, at {path}: {}\n{:?}",
        b.text().await,
        login_events(&app)
    );
    b.sees("carol@example.com").await;
    b.sees("Single sign-on users have no API tokens.").await;
    assert!(
        !b.has_button("API tokens").await,
        "rule 18: no tokens section"
    );
    let (action, details) = login_events(&app).last().cloned().expect("audited");
    assert_eq!(action, "session.login", "{details}");
    assert_eq!(details["via"], "sso");
    assert_eq!(details["method"], "oidc");
    b.logout().await;

    forget_cookies(&b).await;
    sso_sign_in(&b, "dave@example.com").await;
    assert_eq!(b.heading().await, "Sign-in refused");
    b.sees("signs in with a password").await;
    assert_eq!(last_failure_reason(&app), "not_sso_user");

    forget_cookies(&b).await;
    sso_sign_in(&b, "unverified@example.com").await;
    assert_eq!(b.heading().await, "Sign-in refused");
    b.sees("has not verified your email").await;
    assert_eq!(last_failure_reason(&app), "email_unverified");

    forget_cookies(&b).await;
    sso_sign_in(&b, "nobody@example.com").await;
    assert_eq!(b.heading().await, "Sign-in refused");
    assert_eq!(last_failure_reason(&app), "unknown_user");
    b.goto("/").await;
    assert_eq!(
        b.path().await,
        "/login",
        "no refused sign-in opened a session"
    );
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_tampered_state_and_replayed_code_are_refused() {
    let port = free_port();
    let holder = Holder::start();
    let app = spawn_with_oidc(port, Some(holder.redirect()), None).await;
    let _provider = Provider::start(port, &holder.redirect(), "k1", "RS256");
    analyst(&app, "carol@example.com", true).await;
    let b = Browser::start(&app.address, Options::default()).await;

    sso_sign_in(&b, "carol@example.com").await;
    b.sees("Held").await;
    let (code, state) = holder.last();

    b.goto(&callback(&code, &format!("{state}x"))).await;
    assert_eq!(b.heading().await, "Sign-in refused", "a tampered state");
    assert_eq!(last_failure_reason(&app), "state_mismatch");

    b.goto(&format!(
        "{}&iss=https%3A%2F%2Fevil.example.com",
        callback(&code, &state)
    ))
    .await;
    assert_eq!(b.heading().await, "Sign-in refused", "another issuer");
    assert_eq!(last_failure_reason(&app), "issuer_mismatch");

    b.goto(&callback(&code, &state)).await;
    b.sees("carol@example.com").await;
    assert_eq!(
        login_events(&app).last().expect("audited").0,
        "session.login"
    );

    b.goto(&callback(&code, &state)).await;
    assert_eq!(
        b.heading().await,
        "Sign-in refused",
        "the same callback again"
    );

    // A new sign-in's state with the used code: the provider refuses the code.
    b.goto("/login/oidc").await;
    b.sees("Held").await;
    let (_, fresh) = holder.last();
    b.goto(&callback(&code, &fresh)).await;
    assert_eq!(b.heading().await, "Sign-in refused", "a replayed code");
    assert_eq!(last_failure_reason(&app), "code_rejected");
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_id_token_signed_by_another_key_is_refused_and_rotated_keys_are_fetched() {
    let port = free_port();
    let app = spawn_with_oidc(port, None, None).await;
    let redirect = format!("{}/login/oidc/callback", app.address);
    analyst(&app, "carol@example.com", true).await;
    let b = Browser::start(&app.address, Options::default()).await;

    let first = Provider::start(port, &redirect, "k1", "RS256");
    sso_sign_in(&b, "carol@example.com").await;
    b.sees("carol@example.com").await;
    b.logout().await;
    drop(first);

    // The same key ids over new keys: a token tokend's cached keys do not verify.
    let other = Provider::start(port, &redirect, "k1", "RS256");
    forget_cookies(&b).await;
    sso_sign_in(&b, "carol@example.com").await;
    assert_eq!(b.heading().await, "Sign-in refused");
    assert_eq!(last_failure_reason(&app), "id_token_invalid");
    drop(other);

    // A rotation to new key ids (and ES256): the key set is fetched again.
    let _rotated = Provider::start(port, &redirect, "k2", "ES256");
    forget_cookies(&b).await;
    sso_sign_in(&b, "carol@example.com").await;
    b.sees("carol@example.com").await;
    assert_eq!(
        login_events(&app).last().expect("audited").0,
        "session.login"
    );
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_down_shows_a_clear_error_page() {
    let port = free_port(); // nothing listens there
    let app = spawn_with_oidc(port, None, None).await;
    let res = tokend_test_support::client()
        .get(format!("{}/login/oidc", app.address))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 502);
    assert!(res
        .text()
        .await
        .expect("body")
        .contains("Single sign-on unavailable"));
    assert_eq!(last_failure_reason(&app), "provider_unavailable");

    let b = Browser::start(&app.address, Options::default()).await;
    b.goto("/login").await;
    b.click("Sign in with SSO").await;
    assert_eq!(b.heading().await, "Single sign-on unavailable");
    b.sees("cannot be reached").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_auto_provision_creates_an_sso_user_with_the_role_email_from_userinfo() {
    let port = free_port();
    let app = spawn_with_oidc(port, None, Some(Role::ReadOnly)).await;
    let _provider = Provider::start_with(
        port,
        &format!("{}/login/oidc/callback", app.address),
        "k1",
        "RS256",
        &[("EMAIL_IN_USERINFO_ONLY", "1")],
    );
    let b = Browser::start(&app.address, Options::default()).await;
    sso_sign_in(&b, "newcomer@example.com").await;
    b.sees("newcomer@example.com").await;
    let users: Value = tokend_test_support::client()
        .get(format!("{}/v1/users", app.address))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let text = users.to_string();
    let all = users["items"]
        .as_array()
        .or(users.as_array())
        .expect("users");
    let u = all
        .iter()
        .find(|u| u["email"] == "newcomer@example.com")
        .unwrap_or_else(|| panic!("provisioned: {text}"));
    assert_eq!(u["sso"], true);
    assert_eq!(u["role"], "read_only");
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_oidc_the_login_page_has_no_sso_button() {
    let app = crate::app::spawn_app().await;
    let page = app
        .client
        .get(app.url("/login"))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("body");
    assert!(page.contains("Log in to tokend"));
    assert!(!page.contains("Sign in with SSO"));
    let res = app
        .client
        .get(app.url("/login/oidc"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 404);
}
