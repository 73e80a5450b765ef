//! Rule 37: changing one's own password or email needs one's current password — a token
//! alone never takes its owner's account — and wrong guesses count in the login throttle.
//! Changing someone else stays rule 26 (cover the target; no current password).

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

const PW: &str = "password-123";
const BOSS: &str = "boss@example.com";

/// `PATCH /v1/users/{id}` with a console session (cookie + CSRF header).
async fn patch_as_session(app: &TestApp, s: &Session, id: i64, change: Value) -> reqwest::Response {
    app.send_with(
        Method::PATCH,
        &format!("/v1/users/{id}"),
        &[
            ("cookie", s.cookie.as_str()),
            ("x-csrf-token", s.csrf.as_str()),
        ],
        Some(change),
    )
    .await
}

async fn me_with(app: &TestApp, s: &Session) -> u16 {
    app.send_with(
        Method::GET,
        "/v1/me",
        &[("cookie", s.cookie.as_str())],
        None,
    )
    .await
    .status()
    .as_u16()
}

#[tokio::test]
async fn rule_37_a_narrow_own_token_cannot_change_its_administrators_password_or_email() {
    let app = spawn_app().await;
    let boss = app.create_user(BOSS, "admin").await;
    let (_, script) = app
        .token_for(
            boss,
            json!({ "permissions": ["users:read", "users:write"] }),
        )
        .await;
    let me = app.get_ok("/v1/me", &script).await;
    assert_eq!(me["delegated"], false, "the administrator's own token");
    let path = format!("/v1/users/{boss}");

    for change in [
        json!({ "password": "taken-over-1" }),
        json!({ "email": "attacker@example.com" }),
        json!({ "email": "attacker@example.com", "password": "taken-over-1" }),
        json!({ "password": "taken-over-1", "current_password": "" }),
    ] {
        let b = expect_error(
            app.patch(&path, &script, change.clone()).await,
            422,
            "current_password_required",
        )
        .await;
        assert!(
            b["error"]["fields"]["current_password"].is_string(),
            "{change}: {b}"
        );
    }
    for change in [
        json!({ "password": "taken-over-1", "current_password": "a-wrong-guess" }),
        json!({ "email": "attacker@example.com", "current_password": "a-wrong-guess" }),
        // Out of bounds: wrong without being hashed.
        json!({ "password": "taken-over-1", "current_password": "x".repeat(1025) }),
    ] {
        expect_error(
            app.patch(&path, &script, change).await,
            403,
            "current_password_wrong",
        )
        .await;
    }
    // Nothing changed: the old password still signs in, the email is the same.
    app.login_ok(BOSS, PW).await;
    assert_eq!(app.login_raw(BOSS, "taken-over-1").await.status(), 401);
    let u = app.get_ok(&path, &app.admin_token).await;
    assert_eq!(u["email"], BOSS);
    // Each wrong guess is audited against the account.
    let failed = app
        .audit_events(&format!("action=user.reauth_failed&actor_id={boss}"))
        .await;
    assert_eq!(failed.len(), 3, "{failed:?}");
    assert_eq!(failed[0]["via"], "token");

    // Changes that are not secrets need no current password (one sent is ignored).
    let res = app
        .patch(
            &path,
            &script,
            json!({ "name": "The Boss", "current_password": "whatever" }),
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn rule_37_with_the_current_password_a_session_changes_it_and_other_sessions_end() {
    let app = spawn_app().await;
    let boss = app.create_user(BOSS, "admin").await;
    let (_, tok) = app.token_for(boss, json!({})).await;
    let s1 = app.login_ok(BOSS, PW).await;
    let s2 = app.login_ok(BOSS, PW).await;

    // Bounds come first (rule 28): a short new password is refused before any argon2 run,
    // and the (wrong) current password is not even checked.
    let hashes = app.metric_sum("tokend_password_hashes_total").await;
    let res = patch_as_session(
        &app,
        &s1,
        boss,
        json!({ "password": "short", "current_password": "a-wrong-guess" }),
    )
    .await;
    expect_error(res, 422, "validation_failed").await;
    assert_eq!(app.metric_sum("tokend_password_hashes_total").await, hashes);

    let res = patch_as_session(
        &app,
        &s1,
        boss,
        json!({ "password": "new-password-1", "current_password": PW }),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(body(res).await.get("current_password").is_none());
    assert_eq!(me_with(&app, &s2).await, 401, "other sessions end");
    assert_eq!(
        me_with(&app, &s1).await,
        401,
        "the API ends this session too"
    );
    assert_eq!(app.login_raw(BOSS, PW).await.status(), 401);
    assert_eq!(app.me_status(&tok).await, 200, "tokens are not sessions");

    // The same for the email, with the new current password.
    let s3 = app.login_ok(BOSS, "new-password-1").await;
    let res = patch_as_session(
        &app,
        &s3,
        boss,
        json!({ "email": "chief@example.com", "current_password": PW }),
    )
    .await;
    expect_error(res, 403, "current_password_wrong").await;
    let res = patch_as_session(
        &app,
        &s3,
        boss,
        json!({ "email": "chief@example.com", "current_password": "new-password-1" }),
    )
    .await;
    assert_eq!(body(res).await["email"], "chief@example.com");
    app.login_ok("chief@example.com", "new-password-1").await;

    // A token with the current password may change it too: it is not the token alone.
    let res = app
        .patch(
            &format!("/v1/users/{boss}"),
            &tok,
            json!({ "password": "newer-password-2", "current_password": "new-password-1" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    app.login_ok("chief@example.com", "newer-password-2").await;
}

#[tokio::test]
async fn rule_37_wrong_current_passwords_count_in_the_login_throttle() {
    let app = spawn_app().await;
    let boss = app.create_user(BOSS, "admin").await;
    let (_, tok) = app.token_for(boss, json!({})).await;
    let path = format!("/v1/users/{boss}");
    let guess = |n: usize| json!({ "password": "taken-over-1", "current_password": format!("guess-{n:04}") });
    for n in 0..10 {
        expect_error(
            app.patch(&path, &tok, guess(n)).await,
            403,
            "current_password_wrong",
        )
        .await;
    }
    let res = app.patch(&path, &tok, guess(10)).await;
    assert_eq!(res.status(), 429, "the 11th guess");
    assert!(res.headers().get("retry-after").is_some());
    // Locked like failed logins: the right password does not get through either way now.
    let right = json!({ "password": "taken-over-1", "current_password": PW });
    assert_eq!(app.patch(&path, &tok, right).await.status(), 429);
    assert_eq!(app.login_raw(BOSS, PW).await.status(), 429);
    // The window passes; the password never changed.
    app.advance(chrono::Duration::minutes(16));
    app.login_ok(BOSS, PW).await;
}

#[tokio::test]
async fn rule_37_an_administrator_covering_the_user_changes_it_without_the_current_password() {
    let app = spawn_app().await;
    let boss = app.create_user(BOSS, "admin").await;
    let (_, boss_tok) = app.token_for(boss, json!({})).await;
    let ann = app.create_user("ann@example.com", "analyst").await;
    // Rule 26, not rule 37: the administrator covers the analyst.
    let res = app
        .patch(
            &format!("/v1/users/{ann}"),
            &boss_tok,
            json!({ "password": "reset-password-1", "email": "ann2@example.com" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    app.login_ok("ann2@example.com", "reset-password-1").await;
    // The global administrator covers the administrator: no current password needed (one
    // given anyway is ignored).
    let res = app
        .patch(
            &format!("/v1/users/{boss}"),
            &app.admin_token,
            json!({ "password": "reset-password-2", "current_password": "not-checked" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    app.login_ok(BOSS, "reset-password-2").await;
    // An administrator who does not cover the target still cannot (rule 26).
    let admin_id = app.get_ok("/v1/me", &app.admin_token).await["user"]["id"]
        .as_i64()
        .unwrap();
    expect_error(
        app.patch(
            &format!("/v1/users/{admin_id}"),
            &boss_tok,
            json!({ "password": "reset-password-3" }),
        )
        .await,
        403,
        "user_exceeds_caller",
    )
    .await;
}

#[tokio::test]
async fn rule_37_an_account_without_a_password_cannot_set_its_own_this_way() {
    let app = spawn_app().await;
    let (me, tok) = app.quick_user_with_token("nopw@example.com", "admin").await;
    let path = format!("/v1/users/{me}");
    expect_error(
        app.patch(
            &path,
            &tok,
            json!({ "password": "first-password-1", "current_password": "anything-1" }),
        )
        .await,
        403,
        "current_password_wrong",
    )
    .await;
    assert_eq!(
        app.login_raw("nopw@example.com", "first-password-1")
            .await
            .status(),
        401
    );
    // An administrator covering it sets it (rule 26).
    app.update_user(me, json!({ "password": "first-password-1" }))
        .await;
    app.login_ok("nopw@example.com", "first-password-1").await;
}

#[tokio::test]
async fn rule_37_current_password_is_redacted_in_debug_output() {
    let update: tokend::service::users::UpdateUser =
        serde_json::from_value::<tokend::routes::api::wire::users::UpdateUser>(
            json!({ "password": "Sentinel-New-1", "current_password": "Sentinel-Old-1" }),
        )
        .unwrap()
        .into();
    let dump = format!("{update:?}");
    assert!(!dump.contains("Sentinel"), "{dump}");
}
