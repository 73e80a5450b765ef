//! Rules 1–7, 10 and 11: creating, using, expiring, enabling, renewing and naming tokens.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

const ROLES: [&str; 5] = ["admin", "analyst", "api_developer", "read_only", "deploy"];

#[tokio::test]
async fn rule_1_every_user_creates_sees_and_uses_own_tokens() {
    let app = spawn_app().await;
    for role in ROLES {
        let email = format!("{role}-user@example.com");
        let (id, token) = app.quick_user_with_token(&email, role).await;
        let created = app.create_token(&token, json!({ "name": "mine" })).await;
        assert_eq!(created["owner"]["id"], id, "{role}");
        assert_eq!(created["creator"]["id"], id, "{role}");
        let value = created["value"].as_str().unwrap();
        // use it
        let me = app.get_ok("/v1/me", value).await;
        assert_eq!(me["user"]["email"], email.as_str());
        assert_eq!(me["token_id"], created["id"]);
        // see the value again
        let res = app
            .post(
                &format!("/v1/tokens/{}/reveal", created["id"]),
                value,
                json!({}),
            )
            .await;
        assert_eq!(res.status(), 200, "{role} reveals own token");
        assert_eq!(body(res).await["value"], value);
    }
}

#[tokio::test]
async fn rule_1_user_without_tokens_write_cannot_create_or_edit_tokens() {
    let app = spawn_app().await;
    let perms = ["tokens:read", "attacks:read"];
    let uid = app
        .create_user_with(json!({
            "email": "ro@example.com", "role": "custom", "permissions": perms,
            "password": "password-123",
        }))
        .await;
    let (tid, token) = app.token_for(uid, json!({ "permissions": perms })).await;
    let path = format!("/v1/tokens/{tid}");
    let before = app.get_ok(&path, &app.admin_token).await;

    let res = app
        .post(
            "/v1/tokens",
            &token,
            json!({ "name": "x", "permissions": ["tokens:read"] }),
        )
        .await;
    assert_eq!(
        header(&res, "www-authenticate"),
        r#"Bearer realm="tokend", error="insufficient_scope""#
    );
    expect_error(res, 403, "insufficient_scope").await;
    expect_error(
        app.patch(&path, &token, json!({ "name": "renamed" })).await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(
        app.patch(&path, &token, json!({ "enabled": false })).await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(app.delete(&path, &token).await, 403, "insufficient_scope").await;
    expect_error(
        app.post(&format!("{path}/renew"), &token, json!({})).await,
        403,
        "insufficient_scope",
    )
    .await;
    // reading own tokens still works (tokens:read); the token was made by an administrator
    // (the user cannot make tokens), so it is delegated and cannot reveal values (rule 25)…
    assert_eq!(
        app.get_ok("/v1/tokens", &token).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    expect_error(
        app.post(&format!("{path}/reveal"), &token, json!({})).await,
        403,
        "delegated_token",
    )
    .await;
    // …but the owner reveals it in a session of its own
    let own = app.login_ok("ro@example.com", "password-123").await;
    let res = app
        .send_with(
            Method::POST,
            &format!("{path}/reveal"),
            &[("cookie", &own.cookie), ("x-csrf-token", &own.csrf)],
            Some(json!({})),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["value"], token.as_str());

    // the same through a console session
    let s = app.login_ok("ro@example.com", "password-123").await;
    let res = app
        .send_with(
            Method::POST,
            "/v1/tokens",
            &[("cookie", &s.cookie), ("x-csrf-token", &s.csrf)],
            Some(json!({ "name": "y", "permissions": ["tokens:read"] })),
        )
        .await;
    expect_error(res, 403, "insufficient_scope").await;
    let after = app.get_ok(&path, &app.admin_token).await;
    assert_eq!(after["name"], before["name"], "unchanged");
    assert_eq!(after["enabled"], true, "unchanged");
    assert_eq!(
        ids(&app
            .get_ok(&format!("/v1/tokens?owner_id={uid}"), &app.admin_token)
            .await),
        vec![tid]
    );
}

#[tokio::test]
async fn rule_2_permissions_exceeding_owner_are_refused_at_creation() {
    let app = spawn_app().await;
    let (analyst, token) = app.quick_user_with_token("an@example.com", "analyst").await;
    let b = expect_error(
        app.post(
            "/v1/tokens",
            &token,
            json!({ "name": "a", "permissions": ["attacks:read", "users:read"] }),
        )
        .await,
        422,
        "permissions_exceed_owner",
    )
    .await;
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("users:read"),
        "{b}"
    );
    expect_error(
        app.post(
            "/v1/tokens",
            &token,
            json!({ "name": "b", "role_template": "admin" }),
        )
        .await,
        422,
        "permissions_exceed_owner",
    )
    .await;
    // an administrator creating for the analyst is bounded by the analyst too
    expect_error(
        app.post(
            "/v1/tokens",
            &app.admin_token,
            json!({ "name": "c", "owner_id": analyst, "permissions": ["attacks:read", "audit:read"] }),
        )
        .await,
        422,
        "permissions_exceed_owner",
    )
    .await;
    expect_error(
        app.post(
            "/v1/tokens",
            &app.admin_token,
            json!({ "name": "d", "owner_id": analyst, "role_template": "admin" }),
        )
        .await,
        422,
        "permissions_exceed_owner",
    )
    .await;
    let list = app
        .get_ok(&format!("/v1/tokens?owner_id={analyst}"), &app.admin_token)
        .await;
    assert_eq!(ids(&list).len(), 1, "nothing was created: {list}");
}

#[tokio::test]
async fn rule_2_permissions_exceeding_owner_are_refused_on_edit() {
    let app = spawn_app().await;
    let analyst = app.quick_user("an@example.com", "analyst").await;
    let (tid, token) = app
        .token_for(
            analyst,
            json!({ "permissions": ["attacks:read", "tokens:read", "tokens:write"] }),
        )
        .await;
    let path = format!("/v1/tokens/{tid}");
    for (who, t) in [
        ("owner", token.as_str()),
        ("admin", app.admin_token.as_str()),
    ] {
        expect_error(
            app.patch(
                &path,
                t,
                json!({ "permissions": ["attacks:read", "audit:read"] }),
            )
            .await,
            422,
            "permissions_exceed_owner",
        )
        .await;
        expect_error(
            app.patch(&path, t, json!({ "role_template": "admin" }))
                .await,
            422,
            "permissions_exceed_owner",
        )
        .await;
        let now = app.get_ok(&path, &app.admin_token).await;
        assert_eq!(
            sorted_strings(&now["permissions"]),
            sorted(&["attacks:read", "tokens:read", "tokens:write"]),
            "{who}: unchanged"
        );
    }
    // within the owner's permissions an edit works
    let res = app
        .patch(
            &path,
            &app.admin_token,
            json!({ "permissions": ["attacks:read", "rules:write", "tokens:write"] }),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        sorted_strings(&body(res).await["permissions"]),
        sorted(&["attacks:read", "rules:write", "tokens:write"])
    );
}

#[tokio::test]
async fn rule_2_empty_permission_set_is_refused_at_creation() {
    let app = spawn_app().await;
    let (_, token) = app.quick_user_with_token("an@example.com", "analyst").await;
    let res = app
        .post(
            "/v1/tokens",
            &token,
            json!({ "name": "none", "permissions": [] }),
        )
        .await;
    assert_eq!(res.status(), 422);
    let res = app
        .post(
            "/v1/tokens",
            &token,
            json!({ "name": "none", "role_template": "custom", "permissions": [] }),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(ids(&app.get_ok("/v1/tokens", &token).await).len(), 1);
}

#[tokio::test]
async fn rule_3_expired_token_stops_authenticating_at_every_request_before_the_scheduler() {
    let app = spawn_app_with(|c| c.expiry_interval = Duration::from_secs(3600)).await;
    let analyst = app.quick_user("an@example.com", "analyst").await;
    let expires = rfc3339_after(app.server_now(), 3600);
    let (tid, value) = app
        .token_for(analyst, json!({ "expires_at": expires }))
        .await;
    let path = format!("/v1/tokens/{tid}");
    assert_eq!(
        app.get_ok(&path, &value).await["expires_at"],
        expires.as_str()
    );
    assert_eq!(app.get("/v1/me", &value).await.status(), 200);

    app.advance(chrono::Duration::seconds(3601));
    let res = app.get("/v1/me", &value).await;
    assert_eq!(
        header(&res, "www-authenticate"),
        r#"Bearer realm="tokend", error="invalid_token""#
    );
    expect_error(res, 401, "invalid_token").await;
    let res = app
        .send(Method::GET, "/v1/auth/verify", Some(&value), None)
        .await;
    assert_eq!(res.status(), 401);
    // the scheduler has not run: the stored flag still says enabled
    let t = app.get_ok(&path, &app.admin_token).await;
    assert_eq!(t["enabled"], true, "{t}");

    let report = app.maintenance().await;
    assert!(report["expire"].as_u64().unwrap() >= 1, "{report}");
    let t = app.get_ok(&path, &app.admin_token).await;
    assert_eq!(t["enabled"], false);
    assert_eq!(t["disabled_reason"], "expired");
    assert!(t["disabled_at"].is_string());
    assert_eq!(app.get("/v1/me", &value).await.status(), 401);
}

#[tokio::test]
async fn rule_3_past_expiry_at_creation_is_refused() {
    let app = spawn_app().await;
    let (_, token) = app.quick_user_with_token("an@example.com", "analyst").await;
    let now = app.server_now();
    for past in [
        rfc3339_after(now, -60),
        (now - chrono::Duration::days(1))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
    ] {
        expect_error(
            app.post(
                "/v1/tokens",
                &token,
                json!({ "name": "p", "role_template": "read_only", "expires_at": past }),
            )
            .await,
            422,
            "expiry_in_past",
        )
        .await;
    }
    // the `YYYY-MM-DD hh:mm:ss` (UTC) form is accepted and written back as RFC 3339
    let future = now + chrono::Duration::days(2);
    let t = app
        .create_token(
            &token,
            json!({ "name": "f", "expires_at": future.format("%Y-%m-%d %H:%M:%S").to_string() }),
        )
        .await;
    assert_eq!(
        t["expires_at"],
        future.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    );
}

#[tokio::test]
async fn rule_4_tokens_are_disabled_and_enabled_by_hand() {
    let app = spawn_app().await;
    let analyst = app.quick_user("an@example.com", "analyst").await;
    let (tid, value) = app.token_for(analyst, json!({})).await;
    let (_, other) = app.token_for(analyst, json!({})).await;
    let path = format!("/v1/tokens/{tid}");
    assert_eq!(app.get("/v1/me", &value).await.status(), 200);

    // the owner disables it with another of its tokens
    let res = app.patch(&path, &other, json!({ "enabled": false })).await;
    assert_eq!(res.status(), 200);
    let t = body(res).await;
    assert_eq!(t["enabled"], false);
    assert_eq!(t["disabled_reason"], "manual");
    assert!(t["disabled_at"].is_string());
    expect_error(app.get("/v1/me", &value).await, 401, "invalid_token").await;

    let res = app.patch(&path, &other, json!({ "enabled": true })).await;
    assert_eq!(res.status(), 200);
    let t = body(res).await;
    assert_eq!(t["enabled"], true);
    assert!(
        t["disabled_reason"].is_null() && t["disabled_at"].is_null(),
        "{t}"
    );
    assert_eq!(app.get("/v1/me", &value).await.status(), 200);

    // an administrator too
    let t = body(
        app.patch(&path, &app.admin_token, json!({ "enabled": false }))
            .await,
    )
    .await;
    assert_eq!(t["disabled_reason"], "manual");
    assert_eq!(app.get("/v1/me", &value).await.status(), 401);
}

#[tokio::test]
async fn rule_4_enabling_an_expired_token_needs_a_new_valid_expiry() {
    let app = spawn_app_with(|c| c.expiry_interval = Duration::from_secs(3600)).await;
    let analyst = app.quick_user("an@example.com", "analyst").await;
    let soon = rfc3339_after(app.server_now(), 60);
    let (a, a_value) = app.token_for(analyst, json!({ "expires_at": soon })).await;
    let (b, b_value) = app.token_for(analyst, json!({ "expires_at": soon })).await;
    let (c, c_value) = app.token_for(analyst, json!({ "expires_at": soon })).await;
    app.advance(chrono::Duration::seconds(120));

    // the scheduler has not run yet: the stored flag is still `true`
    let pa = format!("/v1/tokens/{a}");
    assert_eq!(app.get_ok(&pa, &app.admin_token).await["enabled"], true);
    expect_error(
        app.patch(&pa, &app.admin_token, json!({ "enabled": true }))
            .await,
        422,
        "expiry_in_past",
    )
    .await;
    let past = rfc3339_after(app.server_now(), -10);
    expect_error(
        app.patch(
            &pa,
            &app.admin_token,
            json!({ "enabled": true, "expires_at": past }),
        )
        .await,
        422,
        "expiry_in_past",
    )
    .await;
    // with a new future expiry in the same request it works at once
    let later = rfc3339_after(app.server_now(), 3600);
    let res = app
        .patch(
            &pa,
            &app.admin_token,
            json!({ "enabled": true, "expires_at": later }),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["expires_at"], later.as_str());
    assert_eq!(app.get("/v1/me", &a_value).await.status(), 200);

    // after the scheduler marked them expired
    app.maintenance().await;
    let pb = format!("/v1/tokens/{b}");
    let t = app.get_ok(&pb, &app.admin_token).await;
    assert_eq!(
        (t["enabled"].clone(), t["disabled_reason"].clone()),
        (json!(false), json!("expired"))
    );
    expect_error(
        app.patch(&pb, &app.admin_token, json!({ "enabled": true }))
            .await,
        422,
        "expiry_in_past",
    )
    .await;
    assert_eq!(
        app.get_ok(&pb, &app.admin_token).await["enabled"],
        false,
        "unchanged"
    );
    // `null` (no expiry) in the same request
    let res = app
        .patch(
            &pb,
            &app.admin_token,
            json!({ "enabled": true, "expires_at": null }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let t = body(res).await;
    assert_eq!(t["enabled"], true);
    assert!(t["expires_at"].is_null());
    assert_eq!(app.get("/v1/me", &b_value).await.status(), 200);

    // the owner gets the same answer
    let pc = format!("/v1/tokens/{c}");
    expect_error(
        app.patch(&pc, &a_value, json!({ "enabled": true })).await,
        422,
        "expiry_in_past",
    )
    .await;
    assert_eq!(app.get("/v1/me", &c_value).await.status(), 401);
}

#[tokio::test]
async fn rule_5_renew_issues_a_new_value_and_the_old_one_stops_at_once() {
    let app = spawn_app().await;
    let analyst = app.quick_user("an@example.com", "analyst").await;
    let (tid, old) = app.token_for(analyst, json!({})).await;
    // warm any cache with the old value
    for _ in 0..3 {
        assert_eq!(app.get("/v1/me", &old).await.status(), 200);
    }
    let res = app
        .post(&format!("/v1/tokens/{tid}/renew"), &old, json!({}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "cache-control"), "no-store");
    let r = body(res).await;
    let new = r["value"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert!(spec_well_formed(&new, "tkd_"), "{new}");
    assert_eq!(r["id"], tid);
    assert_eq!(r["value_hint"], &new[..8]);
    expect_error(app.get("/v1/me", &old).await, 401, "invalid_token").await;
    let me = app.get_ok("/v1/me", &new).await;
    assert_eq!(me["token_id"], tid);

    // renewing again: the previous new value stops too; any moment works (even disabled)
    app.patch(
        &format!("/v1/tokens/{tid}"),
        &app.admin_token,
        json!({ "enabled": false }),
    )
    .await;
    let res = app
        .send(
            Method::POST,
            &format!("/v1/tokens/{tid}/renew"),
            Some(&new),
            None,
        )
        .await;
    assert_eq!(res.status(), 401, "a disabled token cannot renew itself");
    let (_, other) = app.token_for(analyst, json!({})).await;
    let res = app
        .post(&format!("/v1/tokens/{tid}/renew"), &other, json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let third = body(res).await["value"].as_str().unwrap().to_string();
    app.patch(
        &format!("/v1/tokens/{tid}"),
        &app.admin_token,
        json!({ "enabled": true }),
    )
    .await;
    assert_eq!(app.get("/v1/me", &new).await.status(), 401);
    assert_eq!(app.get("/v1/me", &third).await.status(), 200);
}

#[tokio::test]
async fn rule_6_tokens_may_be_created_disabled() {
    let app = spawn_app().await;
    let (_, token) = app.quick_user_with_token("an@example.com", "analyst").await;
    let t = app
        .create_token(&token, json!({ "name": "later", "enabled": false }))
        .await;
    assert_eq!(t["enabled"], false);
    assert_eq!(t["disabled_reason"], "manual");
    let value = t["value"].as_str().unwrap();
    expect_error(app.get("/v1/me", value).await, 401, "invalid_token").await;
    let res = app
        .patch(
            &format!("/v1/tokens/{}", t["id"]),
            &token,
            json!({ "enabled": true }),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get("/v1/me", value).await.status(), 200);
    // the default is enabled
    let t = app.create_token(&token, json!({ "name": "now" })).await;
    assert_eq!(t["enabled"], true);
}

#[tokio::test]
async fn rule_7_name_is_trimmed_and_1_to_128_characters() {
    let app = spawn_app().await;
    let (_, token) = app.quick_user_with_token("an@example.com", "analyst").await;
    let t = app
        .create_token(&token, json!({ "name": "  ci deploy \t" }))
        .await;
    assert_eq!(t["name"], "ci deploy");
    for bad in ["", "   ", "\t\n"] {
        let res = app.post("/v1/tokens", &token, json!({ "name": bad })).await;
        assert_eq!(res.status(), 422, "name {bad:?}");
    }
    let long = "é".repeat(128);
    assert_eq!(
        app.create_token(&token, json!({ "name": long })).await["name"],
        long.as_str()
    );
    let res = app
        .post("/v1/tokens", &token, json!({ "name": "x".repeat(129) }))
        .await;
    assert_eq!(res.status(), 422);
    let res = app
        .post(
            "/v1/tokens",
            &token,
            json!({ "name": format!("  {}  ", "y".repeat(128)), "role_template": "read_only" }),
        )
        .await;
    assert_eq!(res.status(), 201, "128 after trimming");
    let res = app
        .post("/v1/tokens", &token, json!({ "description": "no name" }))
        .await;
    assert!(res.status().is_client_error());

    let path = format!("/v1/tokens/{}", t["id"]);
    assert_eq!(
        app.patch(&path, &token, json!({ "name": "  " }))
            .await
            .status(),
        422
    );
    assert_eq!(
        app.patch(&path, &token, json!({ "name": "z".repeat(129) }))
            .await
            .status(),
        422
    );
    let res = app
        .patch(&path, &token, json!({ "name": " renamed " }))
        .await;
    assert_eq!(body(res).await["name"], "renamed");
}

#[tokio::test]
async fn rule_7_name_is_unique_among_one_owners_tokens() {
    let app = spawn_app().await;
    let (a, a_token) = app.quick_user_with_token("a@example.com", "analyst").await;
    let (_, b_token) = app.quick_user_with_token("b@example.com", "analyst").await;
    app.create_token(&a_token, json!({ "name": "ci" })).await;
    expect_error(
        app.post(
            "/v1/tokens",
            &a_token,
            json!({ "name": "ci", "role_template": "read_only" }),
        )
        .await,
        409,
        "name_taken",
    )
    .await;
    expect_error(
        app.post(
            "/v1/tokens",
            &a_token,
            json!({ "name": "  ci ", "role_template": "read_only" }),
        )
        .await,
        409,
        "name_taken",
    )
    .await;
    // an administrator creating for the same owner meets the same rule
    expect_error(
        app.post(
            "/v1/tokens",
            &app.admin_token,
            json!({ "name": "ci", "owner_id": a, "role_template": "read_only" }),
        )
        .await,
        409,
        "name_taken",
    )
    .await;
    // another owner may use the name
    app.create_token(&b_token, json!({ "name": "ci" })).await;
    app.create_token(&app.admin_token, json!({ "name": "ci" }))
        .await;
    // renaming onto a taken name
    let other = app.create_token(&a_token, json!({ "name": "other" })).await;
    expect_error(
        app.patch(
            &format!("/v1/tokens/{}", other["id"]),
            &a_token,
            json!({ "name": "ci" }),
        )
        .await,
        409,
        "name_taken",
    )
    .await;
    // a name freed by deletion can be reused
    let ci = app.get_ok("/v1/tokens?name=ci&limit=500", &a_token).await;
    let ci_id = ci["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ci")
        .unwrap()["id"]
        .clone();
    assert_eq!(
        app.delete(&format!("/v1/tokens/{ci_id}"), &a_token)
            .await
            .status(),
        204
    );
    app.create_token(&a_token, json!({ "name": "ci" })).await;
}

#[tokio::test]
async fn rule_7_description_is_optional_and_at_most_1024_characters() {
    let app = spawn_app().await;
    let (_, token) = app.quick_user_with_token("an@example.com", "analyst").await;
    let t = app.create_token(&token, json!({ "name": "a" })).await;
    assert_eq!(t["description"], "");
    let d = "ü".repeat(1024);
    let t2 = app
        .create_token(&token, json!({ "name": "b", "description": d }))
        .await;
    assert_eq!(t2["description"], d.as_str());
    let res = app
        .post(
            "/v1/tokens",
            &token,
            json!({ "name": "c", "description": "d".repeat(1025) }),
        )
        .await;
    assert_eq!(res.status(), 422);
    let path = format!("/v1/tokens/{}", t["id"]);
    assert_eq!(
        app.patch(&path, &token, json!({ "description": "d".repeat(1025) }))
            .await
            .status(),
        422
    );
    let res = app
        .patch(&path, &token, json!({ "description": "what it is for" }))
        .await;
    assert_eq!(body(res).await["description"], "what it is for");
}

#[tokio::test]
async fn rule_10_admin_creates_a_token_assigned_to_another_user() {
    let app = spawn_app().await;
    let (admin, admin_token) = app.quick_user_with_token("boss@example.com", "admin").await;
    let analyst = app.quick_user("an@example.com", "analyst").await;
    let t = app
        .create_token(
            &admin_token,
            json!({ "name": "for ann", "owner_id": analyst, "role_template": "read_only" }),
        )
        .await;
    assert_eq!(t["owner"]["id"], analyst);
    assert_eq!(t["owner"]["email"], "an@example.com");
    assert_eq!(t["creator"]["id"], admin);
    assert_eq!(t["creator"]["email"], "boss@example.com");
    let me = app.get_ok("/v1/me", t["value"].as_str().unwrap()).await;
    assert_eq!(me["user"]["id"], analyst, "acts as its owner");
    assert_eq!(sorted_strings(&me["permissions"]), spec_role("read_only"));

    // bounded by that owner, not by the administrator
    expect_error(
        app.post(
            "/v1/tokens",
            &admin_token,
            json!({ "name": "wide", "owner_id": analyst, "role_template": "admin" }),
        )
        .await,
        422,
        "permissions_exceed_owner",
    )
    .await;
    // the owner is fixed
    expect_error(
        app.patch(
            &format!("/v1/tokens/{}", t["id"]),
            &admin_token,
            json!({ "owner_id": admin }),
        )
        .await,
        422,
        "owner_immutable",
    )
    .await;
    // a non-administrator cannot assign a token to someone else
    let (_, other_token) = app.quick_user_with_token("bo@example.com", "analyst").await;
    let res = app
        .post(
            "/v1/tokens",
            &other_token,
            json!({ "name": "x", "owner_id": analyst }),
        )
        .await;
    assert_eq!(res.status(), 403);
    // nor can an administrator assign one to a user of another company
    let c2 = app.create_company("Other Co").await;
    let (stranger, _) = app
        .user_in_company("str@other.example", "analyst", c2)
        .await;
    let res = app
        .post(
            "/v1/tokens",
            &admin_token,
            json!({ "name": "x", "owner_id": stranger }),
        )
        .await;
    assert!(
        res.status().is_client_error() && res.status() != 401,
        "{}",
        res.status()
    );
    assert_eq!(
        ids(&app
            .get_ok(&format!("/v1/tokens?owner_id={stranger}"), &app.admin_token)
            .await)
        .len(),
        1
    );
}

#[tokio::test]
async fn rule_11_role_templates_give_exactly_the_roles_permissions() {
    let app = spawn_app().await;
    for template in ROLES {
        let t = app
            .create_token(
                &app.admin_token,
                json!({ "name": template, "role_template": template }),
            )
            .await;
        assert_eq!(
            sorted_strings(&t["permissions"]),
            spec_role(template),
            "template {template}"
        );
        assert_eq!(t["role_template"], template);
        let me = app.get_ok("/v1/me", t["value"].as_str().unwrap()).await;
        assert_eq!(
            sorted_strings(&me["permissions"]),
            spec_role(template),
            "effective, {template}"
        );
    }
    // `custom`: pick by hand
    let t = app
        .create_token(
            &app.admin_token,
            json!({ "name": "hand", "role_template": "custom", "permissions": ["rules:read", "audit:read"] }),
        )
        .await;
    assert_eq!(
        sorted_strings(&t["permissions"]),
        sorted(&["audit:read", "rules:read"])
    );
    assert_eq!(t["role_template"], "custom");
    let res = app
        .post(
            "/v1/tokens",
            &app.admin_token,
            json!({ "name": "c", "role_template": "custom" }),
        )
        .await;
    assert_eq!(res.status(), 422, "custom needs an explicit list");
    for bad in ["global_admin", "boss", ""] {
        let res = app
            .post(
                "/v1/tokens",
                &app.admin_token,
                json!({ "name": "c", "role_template": bad }),
            )
            .await;
        assert_eq!(res.status(), 422, "template {bad:?}");
    }
    let res = app
        .post(
            "/v1/tokens",
            &app.admin_token,
            json!({ "name": "c", "permissions": ["nope:read"] }),
        )
        .await;
    assert_eq!(res.status(), 422, "unknown permission");

    // a template on behalf of another user, within that user's role
    let analyst = app.quick_user("an@example.com", "analyst").await;
    for template in ["analyst", "read_only", "api_developer"] {
        let t = app
            .create_token(
                &app.admin_token,
                json!({ "name": template, "owner_id": analyst, "role_template": template }),
            )
            .await;
        assert_eq!(sorted_strings(&t["permissions"]), spec_role(template));
    }
    // a template can also be applied on edit
    let t = app
        .create_token(
            &app.admin_token,
            json!({ "name": "edit-me", "role_template": "deploy" }),
        )
        .await;
    let res = app
        .patch(
            &format!("/v1/tokens/{}", t["id"]),
            &app.admin_token,
            json!({ "role_template": "api_developer" }),
        )
        .await;
    assert_eq!(
        sorted_strings(&body(res).await["permissions"]),
        spec_role("api_developer")
    );
}

#[tokio::test]
async fn rule_7_missing_name_is_a_validation_error_like_an_empty_one() {
    let app = spawn_app().await;
    for body in [json!({}), json!({ "name": "   " })] {
        let res = app.post("/v1/tokens", &app.admin_token, body).await;
        let b = expect_error(res, 422, "validation_failed").await;
        assert!(b["error"]["fields"]["name"].is_string(), "{b}");
    }
}
