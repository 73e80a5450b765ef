//! Rules 15–18 (lifecycle cascades, purge, SSO), proven through HTTP.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

fn days(n: i64) -> chrono::Duration {
    chrono::Duration::days(n)
}

fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

/// Asserts a token value no longer authenticates: 401 `invalid_token` on `/v1/me` and on the
/// forward-auth endpoint.
async fn assert_dead(app: &TestApp, value: &str) {
    expect_error(app.get("/v1/me", value).await, 401, "invalid_token").await;
    let res = app.get("/v1/auth/verify", value).await;
    assert_eq!(res.status(), 401, "verify must refuse a dead token");
}

/// The single `token.disabled` audit event of a token (asserts there is exactly one).
async fn disabled_event(app: &TestApp, token_id: i64) -> Value {
    let events = app
        .audit_events(&format!("token_id={token_id}&action=token.disabled"))
        .await;
    assert_eq!(
        events.len(),
        1,
        "one token.disabled event for {token_id}: {events:?}"
    );
    events[0].clone()
}

// ---------------------------------------------------------------- rule 15

#[tokio::test]
async fn rule_15_disabling_owner_disables_all_its_tokens_at_once_with_audit() {
    let app = spawn_app().await;
    let owner = app.create_user("olga@example.com", "admin").await;
    let (private, private_value) = app.token_for(owner, json!({})).await;
    let (shared, shared_value) = app.token_for(owner, json!({ "kind": "shared" })).await;
    let (manual, _) = app.token_for(owner, json!({ "enabled": false })).await;
    let (_, bystander) = app.user_with_token("bob@example.com", "analyst").await;
    // Use the tokens first, so that any cached authentication would have to be invalidated.
    assert_eq!(app.me_status(&private_value).await, 200);
    assert_eq!(app.me_status(&shared_value).await, 200);
    let manual_before = app.token_view(manual).await;

    let user = app.update_user(owner, json!({ "enabled": false })).await;
    assert_eq!(user["enabled"], false);

    // No job ran: the cascade happened with the change itself.
    assert_dead(&app, &private_value).await;
    assert_dead(&app, &shared_value).await;
    assert_eq!(
        app.me_status(&bystander).await,
        200,
        "other users' tokens are untouched"
    );
    for id in [private, shared] {
        let t = app.token_view(id).await;
        assert_eq!(t["enabled"], false, "{t}");
        assert_eq!(t["disabled_reason"], "owner_disabled", "{t}");
        assert!(
            t["disabled_at"].is_string() && t["purge_at"].is_string(),
            "{t}"
        );
        let e = disabled_event(&app, id).await;
        assert_eq!(e["details"]["reason"], "owner_disabled", "{e}");
    }
    // A token already disabled keeps its reason and its purge clock.
    let manual_after = app.token_view(manual).await;
    assert_eq!(manual_after["disabled_reason"], "manual");
    assert_eq!(manual_after["disabled_at"], manual_before["disabled_at"]);
    assert!(app
        .audit_events(&format!("token_id={manual}&action=token.disabled"))
        .await
        .iter()
        .all(|e| e["details"]["reason"] != "owner_disabled"));

    // Same transaction: the cascade's audit rows carry the instant of the user change.
    let user_events = app.audit_events("action=user.disabled").await;
    let user_event = user_events
        .iter()
        .find(|e| e["user_id"] == owner)
        .expect("user.disabled event");
    for id in [private, shared] {
        assert_eq!(
            disabled_event(&app, id).await["created_at"],
            user_event["created_at"]
        );
    }
    // The database agrees: no enabled token of a disabled owner.
    let enabled: i64 = app
        .store()
        .query_row(
            "SELECT COUNT(*) FROM tokens WHERE owner_id = $1 AND enabled = 1",
            tokend::params![owner],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(enabled, 0);
}

#[tokio::test]
async fn rule_15_enabling_the_user_again_does_not_reenable_its_tokens() {
    let app = spawn_app().await;
    let owner = app.create_user("olga@example.com", "analyst").await;
    let (id, value) = app.token_for(owner, json!({})).await;
    app.update_user(owner, json!({ "enabled": false })).await;
    let user = app.update_user(owner, json!({ "enabled": true })).await;
    assert_eq!(user["enabled"], true);

    assert_dead(&app, &value).await;
    let t = app.token_view(id).await;
    assert_eq!(t["enabled"], false);
    assert_eq!(t["disabled_reason"], "owner_disabled");
    // Even after the jobs run.
    app.maintenance().await;
    assert_dead(&app, &value).await;

    // Enabling it by hand, now that the owner is active, works.
    let res = app.update_token(id, json!({ "enabled": true })).await;
    assert_eq!(res.status(), 200);
    let t = body(res).await;
    assert_eq!(t["enabled"], true);
    assert!(
        t["disabled_reason"].is_null() && t["disabled_at"].is_null(),
        "{t}"
    );
    assert_eq!(app.me_status(&value).await, 200);
}

#[tokio::test]
async fn rule_15_tokens_cannot_be_enabled_while_owner_disabled() {
    let app = spawn_app().await;
    let owner = app.create_user("olga@example.com", "analyst").await;
    let (id, value) = app.token_for(owner, json!({})).await;
    app.update_user(owner, json!({ "enabled": false })).await;

    expect_error(
        app.update_token(id, json!({ "enabled": true })).await,
        409,
        "owner_inactive",
    )
    .await;
    let later = app.server_time_plus(days(30));
    expect_error(
        app.update_token(id, json!({ "enabled": true, "expires_at": later }))
            .await,
        409,
        "owner_inactive",
    )
    .await;
    let bulk = body(
        app.post(
            "/v1/tokens/bulk",
            &app.admin_token,
            json!({ "ids": [id], "action": "enable" }),
        )
        .await,
    )
    .await;
    assert_eq!(bulk["results"][0]["ok"], false, "{bulk}");
    assert_eq!(
        bulk["results"][0]["error"]["code"], "owner_inactive",
        "{bulk}"
    );
    // Nor can a new token be created for a disabled user.
    expect_error(
        app.post(
            "/v1/tokens",
            &app.admin_token,
            json!({ "name": "new", "owner_id": owner }),
        )
        .await,
        409,
        "owner_inactive",
    )
    .await;

    let t = app.token_view(id).await;
    assert_eq!(t["enabled"], false);
    assert_eq!(t["disabled_reason"], "owner_disabled");
    assert!(
        t["expires_at"].is_null(),
        "a refused edit changes nothing: {t}"
    );
    assert_dead(&app, &value).await;
}

#[tokio::test]
async fn rule_15_disabling_the_user_ends_its_console_sessions() {
    let app = spawn_app().await;
    let owner = app.create_user("olga@example.com", "analyst").await;
    let (cookie, _) = app
        .password_session("olga@example.com", "password-123")
        .await;
    assert_eq!(app.cookie_get("/v1/me", &cookie).await.status(), 200);

    app.update_user(owner, json!({ "enabled": false })).await;
    assert_eq!(app.cookie_get("/v1/me", &cookie).await.status(), 401);
    let left: i64 = app
        .store()
        .query_row(
            "SELECT COUNT(*) FROM sessions WHERE user_id = $1",
            tokend::params![owner],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0, "the sessions are deleted, not merely refused");

    // Enabling the user does not revive the old session; a new login works.
    app.update_user(owner, json!({ "enabled": true })).await;
    assert_eq!(app.cookie_get("/v1/me", &cookie).await.status(), 401);
    let (fresh, _) = app
        .password_session("olga@example.com", "password-123")
        .await;
    assert_ne!(fresh, cookie);
    assert_eq!(app.cookie_get("/v1/me", &fresh).await.status(), 200);
}

/// Issue #5 decision: deleting a user deletes its tokens (audited), and is refused with 409
/// `owns_shared_tokens` while the user owns shared tokens others rely on.
#[tokio::test]
async fn user_delete_deletes_its_tokens_and_is_refused_while_it_owns_shared_tokens() {
    let app = spawn_app().await;
    let owner = app.create_user("olga@example.com", "admin").await;
    let (private, private_value) = app.token_for(owner, json!({})).await;
    let (shared, _) = app.token_for(owner, json!({ "kind": "shared" })).await;

    expect_error(
        app.delete(&format!("/v1/users/{owner}"), &app.admin_token)
            .await,
        409,
        "owns_shared_tokens",
    )
    .await;
    assert_eq!(
        app.me_status(&private_value).await,
        200,
        "a refused delete changes nothing"
    );

    assert_eq!(
        app.delete(&format!("/v1/tokens/{shared}"), &app.admin_token)
            .await
            .status(),
        204
    );
    assert_eq!(
        app.delete(&format!("/v1/users/{owner}"), &app.admin_token)
            .await
            .status(),
        204
    );
    assert_dead(&app, &private_value).await;
    assert_eq!(
        app.get(&format!("/v1/tokens/{private}"), &app.admin_token)
            .await
            .status(),
        404
    );
    let deleted = app
        .audit_events(&format!("token_id={private}&action=token.deleted"))
        .await;
    assert_eq!(deleted.len(), 1);
    assert!(app
        .audit_events("action=user.deleted")
        .await
        .iter()
        .any(|e| e["user_id"] == owner));
}

// ---------------------------------------------------------------- rule 16

#[tokio::test]
async fn rule_16_role_change_trims_tokens_and_raising_it_restores_nothing() {
    let app = spawn_app().await;
    let owner = app.create_user("ann@example.com", "analyst").await;
    let analyst = app.role_permissions("analyst").await;
    let (wide, wide_value) = app
        .token_for(owner, json!({ "role_template": "analyst" }))
        .await;
    let (narrow, _) = app
        .token_for(
            owner,
            json!({ "permissions": ["attacks:read", "tokens:read"] }),
        )
        .await;
    assert_eq!(
        sorted_strings(&app.token_view(wide).await["permissions"]),
        analyst
    );
    let narrow_before = app.token_view(narrow).await;
    let verify = |scope: &str| format!("/v1/auth/verify?scope={scope}");
    assert_eq!(
        app.get(&verify("attacks:write"), &wide_value)
            .await
            .status(),
        200
    );

    app.update_user(owner, json!({ "role": "read_only" })).await;
    let read_only = app.role_permissions("read_only").await;
    let expected: Vec<String> = analyst
        .iter()
        .filter(|p| read_only.contains(p))
        .cloned()
        .collect();
    let t = app.token_view(wide).await;
    assert_eq!(sorted_strings(&t["permissions"]), expected);
    assert_eq!(
        t["enabled"], true,
        "a trimmed token with permissions left stays enabled"
    );
    assert!(!expected.contains(&"attacks:write".to_string()));
    // At once, on the hot path.
    expect_error(
        app.get(&verify("attacks:write"), &wide_value).await,
        403,
        "insufficient_scope",
    )
    .await;
    assert_eq!(
        app.get(&verify("attacks:read"), &wide_value).await.status(),
        200
    );
    // A token within the new role is untouched.
    let narrow_after = app.token_view(narrow).await;
    assert_eq!(narrow_after["permissions"], narrow_before["permissions"]);
    assert_eq!(narrow_after["updated_at"], narrow_before["updated_at"]);
    // Audited, with what was removed.
    let events = app
        .audit_events(&format!("token_id={wide}&action=token.updated"))
        .await;
    let trim = events
        .iter()
        .find(|e| e["details"]["reason"] == "owner_permissions_reduced")
        .unwrap_or_else(|| panic!("trim audited: {events:?}"));
    assert!(sorted_strings(&trim["details"]["removed"]).contains(&"attacks:write".to_string()));
    assert!(app
        .audit_events(&format!("token_id={narrow}&action=token.updated"))
        .await
        .is_empty());

    // Raising the role again restores nothing.
    app.update_user(owner, json!({ "role": "analyst" })).await;
    assert_eq!(
        sorted_strings(&app.token_view(wide).await["permissions"]),
        expected
    );
    expect_error(
        app.get(&verify("attacks:write"), &wide_value).await,
        403,
        "insufficient_scope",
    )
    .await;
    app.maintenance().await;
    assert_eq!(
        sorted_strings(&app.token_view(wide).await["permissions"]),
        expected
    );

    // A further reduction trims again.
    app.update_user(owner, json!({ "role": "api_developer" }))
        .await;
    assert_eq!(
        sorted_strings(&app.token_view(wide).await["permissions"]),
        vec!["api_discovery:read", "tokens:read", "tokens:write"]
    );
    assert_eq!(
        sorted_strings(&app.token_view(narrow).await["permissions"]),
        vec!["tokens:read"]
    );
}

#[tokio::test]
async fn rule_16_custom_set_shrink_trims_and_a_token_left_empty_is_disabled() {
    let app = spawn_app().await;
    let full = [
        "attacks:read",
        "rules:read",
        "nodes:read",
        "tokens:read",
        "tokens:write",
    ];
    let owner = app
        .create_user_with(json!({
            "email": "cus@example.com", "role": "custom", "permissions": full,
            "password": "password-123",
        }))
        .await;
    let (two, two_value) = app
        .token_for(
            owner,
            json!({ "permissions": ["attacks:read", "rules:read"] }),
        )
        .await;
    let (nodes, nodes_value) = app
        .token_for(owner, json!({ "permissions": ["nodes:read"] }))
        .await;
    let (tokens_only, tokens_value) = app
        .token_for(owner, json!({ "permissions": ["tokens:read"] }))
        .await;
    assert_eq!(app.me_status(&nodes_value).await, 200);

    let user = app
        .update_user(
            owner,
            json!({ "permissions": ["attacks:read", "tokens:read", "tokens:write"] }),
        )
        .await;
    assert_eq!(user["role"], "custom");

    let t = app.token_view(two).await;
    assert_eq!(sorted_strings(&t["permissions"]), vec!["attacks:read"]);
    assert_eq!(t["enabled"], true);
    assert_eq!(app.me_status(&two_value).await, 200);
    // Left with nothing: disabled (`no_permissions`), at once.
    let t = app.token_view(nodes).await;
    assert_eq!(sorted_strings(&t["permissions"]), Vec::<String>::new());
    assert_eq!(t["enabled"], false);
    assert_eq!(t["disabled_reason"], "no_permissions");
    assert_dead(&app, &nodes_value).await;
    let e = disabled_event(&app, nodes).await;
    assert_eq!(e["details"]["reason"], "no_permissions");
    assert!(app
        .audit_events(&format!("token_id={nodes}&action=token.updated"))
        .await
        .iter()
        .any(|e| e["details"]["reason"] == "owner_permissions_reduced"));
    assert_eq!(app.me_status(&tokens_value).await, 200);
    assert_eq!(
        sorted_strings(&app.token_view(tokens_only).await["permissions"]),
        vec!["tokens:read"]
    );

    // Raising the set again restores nothing, and an empty token cannot be enabled.
    app.update_user(owner, json!({ "permissions": full })).await;
    assert_eq!(
        sorted_strings(&app.token_view(two).await["permissions"]),
        vec!["attacks:read"]
    );
    let t = app.token_view(nodes).await;
    assert_eq!(t["enabled"], false);
    assert_eq!(sorted_strings(&t["permissions"]), Vec::<String>::new());
    let res = app.update_token(nodes, json!({ "enabled": true })).await;
    assert_eq!(res.status(), 422);
    // Given permissions again by hand, it may be enabled.
    let res = app
        .update_token(
            nodes,
            json!({ "permissions": ["nodes:read"], "enabled": true }),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.me_status(&nodes_value).await, 200);

    // Switching to a custom role without a list empties the set: every token is disabled.
    app.update_user(owner, json!({ "role": "read_only" })).await;
    app.update_user(owner, json!({ "role": "custom" })).await;
    for id in [two, nodes, tokens_only] {
        let t = app.token_view(id).await;
        assert_eq!(t["enabled"], false, "{t}");
        assert_eq!(t["disabled_reason"], "no_permissions", "{t}");
    }
}

// ---------------------------------------------------------------- rule 17

#[tokio::test]
async fn rule_17_disabled_token_is_purged_after_retention_and_audit_remains() {
    let app = spawn_app().await;
    let owner = app.create_user("pam@example.com", "analyst").await;
    let (id, _) = app.token_for(owner, json!({ "enabled": false })).await;
    let (kept, kept_value) = app.token_for(owner, json!({})).await;
    let t = app.token_view(id).await;
    assert_eq!(t["disabled_reason"], "manual");
    let disabled_at = json_time(&t["disabled_at"]);
    assert_eq!(
        json_time(&t["purge_at"]) - disabled_at,
        days(7),
        "default retention 7 days"
    );
    assert!(app.token_view(kept).await["purge_at"].is_null());

    // Nothing is purged before the retention has passed.
    app.advance(days(7) - minutes(1));
    app.maintenance().await;
    assert_eq!(app.token_view(id).await["enabled"], false);
    assert!(app
        .audit_events(&format!("token_id={id}&action=token.purged"))
        .await
        .is_empty());

    app.advance(minutes(2));
    app.maintenance().await;
    expect_error(
        app.get(&format!("/v1/tokens/{id}"), &app.admin_token).await,
        404,
        "not_found",
    )
    .await;
    let purged = app
        .audit_events(&format!("token_id={id}&action=token.purged"))
        .await;
    assert_eq!(purged.len(), 1, "{purged:?}");
    assert!(
        purged[0]["actor_id"].is_null(),
        "the system purges: {}",
        purged[0]
    );
    assert_eq!(purged[0]["details"]["reason"], "manual");
    // The token's earlier history remains too.
    assert!(!app
        .audit_events(&format!("token_id={id}&action=token.created"))
        .await
        .is_empty());
    // Enabled tokens are never purged, however old.
    assert_eq!(app.me_status(&kept_value).await, 200);
    assert_eq!(app.me_status(&app.admin_token).await, 200);
}

#[tokio::test]
async fn rule_17_enabling_resets_the_purge_clock() {
    let app = spawn_app().await;
    let owner = app.create_user("pam@example.com", "analyst").await;
    let (id, value) = app.token_for(owner, json!({})).await;
    assert_eq!(
        app.update_token(id, json!({ "enabled": false }))
            .await
            .status(),
        200
    );
    app.advance(days(5));
    let res = app.update_token(id, json!({ "enabled": true })).await;
    let t = body(res).await;
    assert_eq!(t["enabled"], true);
    assert!(t["purge_at"].is_null() && t["disabled_at"].is_null(), "{t}");

    app.advance(days(1));
    let t = body(app.update_token(id, json!({ "enabled": false })).await).await;
    let second = json_time(&t["disabled_at"]);
    assert_eq!(json_time(&t["purge_at"]), second + days(7));

    // 12 days after the first disable, 6 after the second: still kept.
    app.advance(days(6));
    app.maintenance().await;
    assert_eq!(app.token_view(id).await["enabled"], false);

    app.advance(days(1) + minutes(1));
    app.maintenance().await;
    assert_eq!(
        app.get(&format!("/v1/tokens/{id}"), &app.admin_token)
            .await
            .status(),
        404
    );
    assert_dead(&app, &value).await;
    assert_eq!(
        app.audit_events(&format!("token_id={id}&action=token.purged"))
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn rule_17_owner_cascade_keeps_the_clock_of_tokens_already_disabled() {
    let app = spawn_app().await;
    let owner = app.create_user("pam@example.com", "analyst").await;
    let (early, _) = app.token_for(owner, json!({ "enabled": false })).await;
    let (late, _) = app.token_for(owner, json!({})).await;
    app.advance(days(3));
    app.update_user(owner, json!({ "enabled": false })).await;
    assert_eq!(app.token_view(early).await["disabled_reason"], "manual");
    assert_eq!(
        app.token_view(late).await["disabled_reason"],
        "owner_disabled"
    );

    // 7 days after the manual disable: only the early one goes.
    app.advance(days(4) + minutes(1));
    app.maintenance().await;
    assert_eq!(
        app.get(&format!("/v1/tokens/{early}"), &app.admin_token)
            .await
            .status(),
        404
    );
    assert_eq!(app.token_view(late).await["enabled"], false);

    app.advance(days(3));
    app.maintenance().await;
    assert_purged(&app, late, "owner_disabled").await;
}

#[tokio::test]
async fn rule_17_expired_tokens_are_disabled_then_purged() {
    let app = spawn_app().await;
    let owner = app.create_user("pam@example.com", "analyst").await;
    let (id, value) = app
        .token_for(
            owner,
            json!({ "expires_at": app.server_time_plus(chrono::Duration::hours(1)) }),
        )
        .await;
    app.advance(chrono::Duration::hours(2));
    // Refused from the instant of expiry, before any job runs.
    assert_dead(&app, &value).await;
    app.maintenance().await;
    let t = app.token_view(id).await;
    assert_eq!(t["enabled"], false);
    assert_eq!(t["disabled_reason"], "expired");

    app.advance(days(7) - minutes(1));
    app.maintenance().await;
    assert_eq!(app.token_view(id).await["disabled_reason"], "expired");
    app.advance(minutes(2));
    app.maintenance().await;
    assert_purged(&app, id, "expired").await;
}

/// Black box: a server with a 2 s retention purges by itself (its real scheduler, no
/// maintenance call), and not before the retention has passed.
#[tokio::test]
async fn rule_17_scheduler_purges_by_itself_after_a_short_retention() {
    let app = spawn_app_with(|c| {
        c.disabled_retention = Duration::from_secs(2);
        c.purge_interval = Duration::from_secs(1);
    })
    .await;
    let owner = app.create_user("pam@example.com", "analyst").await;
    let (id, _) = app.token_for(owner, json!({})).await;
    let (kept, kept_value) = app.token_for(owner, json!({})).await;

    let start = Instant::now();
    let t = body(app.update_token(id, json!({ "enabled": false })).await).await;
    assert_eq!(
        json_time(&t["purge_at"]) - json_time(&t["disabled_at"]),
        chrono::Duration::seconds(2)
    );
    let gone_after = loop {
        let status = app
            .get(&format!("/v1/tokens/{id}"), &app.admin_token)
            .await
            .status();
        if status == 404 {
            break start.elapsed();
        }
        assert_eq!(status, 200);
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "not purged within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        gone_after >= Duration::from_secs(2),
        "purged {gone_after:?} after being disabled, before the 2 s retention"
    );
    let purged = app
        .audit_events(&format!("token_id={id}&action=token.purged"))
        .await;
    assert_eq!(purged.len(), 1);
    assert!(purged[0]["actor_id"].is_null());
    assert_eq!(app.token_view(kept).await["enabled"], true);
    assert_eq!(app.me_status(&kept_value).await, 200);
}

// ---------------------------------------------------------------- rule 18

#[tokio::test]
async fn rule_18_switching_to_sso_disables_tokens_and_ends_legacy_compatibility() {
    let app = spawn_app().await;
    let owner = app.create_user("sid@example.com", "analyst").await;
    let (id, value) = app.token_for(owner, json!({})).await;
    let creds = body(
        app.post(
            &format!("/v1/users/{owner}/legacy-credentials"),
            &app.admin_token,
            json!({}),
        )
        .await,
    )
    .await;
    let (uuid, secret) = (
        creds["uuid"].as_str().unwrap(),
        creds["secret"].as_str().unwrap(),
    );
    let legacy_id = creds["token_id"].as_i64().unwrap();
    assert_eq!(app.me_status(&value).await, 200);
    assert_eq!(app.legacy_get("/v1/me", uuid, secret).await.status(), 200);

    let user = app.update_user(owner, json!({ "sso": true })).await;
    assert_eq!(user["sso"], true);

    assert_dead(&app, &value).await;
    expect_error(
        app.legacy_get("/v1/me", uuid, secret).await,
        401,
        "invalid_token",
    )
    .await;
    for t in [id, legacy_id] {
        let v = app.token_view(t).await;
        assert_eq!(v["enabled"], false, "{v}");
        assert_eq!(v["disabled_reason"], "owner_sso", "{v}");
        assert_eq!(
            disabled_event(&app, t).await["details"]["reason"],
            "owner_sso"
        );
    }
    let creds_left: i64 = app
        .store()
        .query_row(
            "SELECT COUNT(*) FROM legacy_credentials",
            tokend::params![],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(creds_left, 0, "the UUID + secret are erased");
    // While SSO, tokens cannot be enabled again.
    expect_error(
        app.update_token(id, json!({ "enabled": true })).await,
        403,
        "sso_user",
    )
    .await;

    // Switching back does not bring back the UUID + secret, nor enable the tokens.
    app.update_user(owner, json!({ "sso": false })).await;
    expect_error(
        app.legacy_get("/v1/me", uuid, secret).await,
        401,
        "invalid_token",
    )
    .await;
    assert_dead(&app, &value).await;
    assert_eq!(
        app.update_token(legacy_id, json!({ "enabled": true }))
            .await
            .status(),
        200
    );
    expect_error(
        app.legacy_get("/v1/me", uuid, secret).await,
        401,
        "invalid_token",
    )
    .await;
}

#[tokio::test]
async fn rule_18_sso_users_get_no_tokens_and_no_legacy_credentials() {
    let app = spawn_app().await;
    let sso = app
        .create_user_with(json!({ "email": "sso@example.com", "role": "analyst", "sso": true }))
        .await;
    expect_error(
        app.post(
            "/v1/tokens",
            &app.admin_token,
            json!({ "name": "x", "owner_id": sso }),
        )
        .await,
        403,
        "sso_user",
    )
    .await;
    expect_error(
        app.post(
            &format!("/v1/users/{sso}/legacy-credentials"),
            &app.admin_token,
            json!({}),
        )
        .await,
        403,
        "sso_user",
    )
    .await;
    let count: i64 = app
        .store()
        .query_row(
            "SELECT COUNT(*) FROM tokens WHERE owner_id = $1",
            tokend::params![sso],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(count, 0);
    // An SSO user has no password.
    assert_eq!(
        app.post(
            "/v1/users",
            &app.admin_token,
            json!({ "email": "sso2@example.com", "role": "analyst", "sso": true, "password": "password-123" }),
        )
        .await
        .status(),
        422
    );
    assert_eq!(
        app.patch(
            &format!("/v1/users/{sso}"),
            &app.admin_token,
            json!({ "password": "password-123" })
        )
        .await
        .status(),
        422
    );
}

#[tokio::test]
async fn rule_18_password_login_of_sso_users_is_refused() {
    let app = spawn_app().await;
    app.create_user_with(json!({ "email": "sso@example.com", "role": "analyst", "sso": true }))
        .await;
    let login = |email: &'static str| {
        app.send(
            Method::POST,
            "/v1/session",
            None,
            Some(json!({ "email": email, "password": "password-123" })),
        )
    };
    expect_error(login("sso@example.com").await, 403, "sso_user").await;

    // A password user switched to SSO: its password no longer opens a session, and its
    // sessions end.
    let owner = app.create_user("pwd@example.com", "analyst").await;
    let (cookie, _) = app
        .password_session("pwd@example.com", "password-123")
        .await;
    app.update_user(owner, json!({ "sso": true })).await;
    assert_eq!(app.cookie_get("/v1/me", &cookie).await.status(), 401);
    let res = login("pwd@example.com").await;
    assert!(session_cookie_value(&res).is_none());
    expect_error(res, 403, "sso_user").await;
    // Switched back, the old password was erased: it does not work either.
    app.update_user(owner, json!({ "sso": false })).await;
    expect_error(login("pwd@example.com").await, 401, "invalid_credentials").await;
}

/// The CSRF token of the newest session of `user` (read from the database: the test signs
/// in through the proxy, not through a form).
fn csrf_of(app: &TestApp, user: i64) -> String {
    app.store()
        .query_row(
            "SELECT csrf_token FROM sessions WHERE user_id = $1 ORDER BY created_at DESC LIMIT 1",
            tokend::params![user],
            |r| r.get(0),
        )
        .expect("a session")
}

pub fn sso_app_config(trusted: &'static str) -> impl FnOnce(&mut tokend::config::Config) {
    move |c| {
        c.sso_header = Some("X-Forwarded-Email".into());
        c.sso_trusted_proxies =
            tokend::config::parse_nets("sso_trusted_proxies", Some(trusted)).unwrap();
    }
}

#[tokio::test]
async fn rule_18_sso_header_from_trusted_proxy_opens_a_session() {
    let app = spawn_app_with(sso_app_config("127.0.0.1/32")).await;
    let sso = app
        .create_user_with(json!({ "email": "sam@example.com", "role": "analyst", "sso": true }))
        .await;
    let res = app
        .send_with(
            Method::GET,
            "/login",
            &[("X-Forwarded-Email", "sam@example.com")],
            None,
        )
        .await;
    assert_eq!(
        res.status(),
        303,
        "the proxy-authenticated user is signed in and redirected"
    );
    assert_eq!(res.headers()["location"], "/");
    let cookie = session_cookie_value(&res).expect("a session cookie");
    let me = body(app.cookie_get("/v1/me", &cookie).await).await;
    assert_eq!(me["user"]["email"], "sam@example.com");
    assert_eq!(me["user"]["sso"], true);
    assert_eq!(me["auth_method"], "session");
    assert!(app
        .audit_events("action=session.login")
        .await
        .iter()
        .any(|e| e["user_id"] == sso && e["details"]["method"] == "sso"));

    // The tokens section is closed to SSO users: listing and creating answer 403 `sso_user`.
    expect_error(app.cookie_get("/v1/tokens", &cookie).await, 403, "sso_user").await;
    let session = format!("tokend_session={cookie}");
    let csrf = csrf_of(&app, sso);
    let res = app
        .send_with(
            Method::POST,
            "/v1/tokens",
            &[
                ("Cookie", session.as_str()),
                ("X-CSRF-Token", csrf.as_str()),
            ],
            Some(json!({ "name": "mine" })),
        )
        .await;
    expect_error(res, 403, "sso_user").await;

    // The header opens sessions only for SSO users that exist and are enabled.
    let _pwd = app.create_user("pwd@example.com", "analyst").await;
    for email in ["pwd@example.com", "nobody@example.com"] {
        let res = app
            .send_with(Method::GET, "/login", &[("X-Forwarded-Email", email)], None)
            .await;
        assert!(
            session_cookie_value(&res).is_none(),
            "no session for {email}"
        );
    }
    // Without the header, the login page is just a page.
    let res = app.send_with(Method::GET, "/login", &[], None).await;
    assert!(session_cookie_value(&res).is_none());

    // Disabling the SSO user ends its session.
    app.update_user(sso, json!({ "enabled": false })).await;
    assert_eq!(app.cookie_get("/v1/me", &cookie).await.status(), 401);
    let res = app
        .send_with(
            Method::GET,
            "/login",
            &[("X-Forwarded-Email", "sam@example.com")],
            None,
        )
        .await;
    assert!(
        session_cookie_value(&res).is_none(),
        "a disabled SSO user gets no session"
    );
}

#[tokio::test]
async fn rule_18_sso_header_from_untrusted_address_is_ignored() {
    // Only 10.1.2.3 may send the header; the test client connects from 127.0.0.1.
    let app = spawn_app_with(sso_app_config("10.1.2.3/32")).await;
    let sso = app
        .create_user_with(json!({ "email": "sam@example.com", "role": "analyst", "sso": true }))
        .await;
    let spoofs: [&[(&str, &str)]; 2] = [
        &[("X-Forwarded-Email", "sam@example.com")],
        // Claiming to come through the trusted proxy changes nothing.
        &[
            ("X-Forwarded-Email", "sam@example.com"),
            ("X-Forwarded-For", "10.1.2.3"),
        ],
    ];
    let plain = app
        .send_with(Method::GET, "/login", &[], None)
        .await
        .status();
    assert_eq!(plain, 200, "the login page");
    for headers in spoofs {
        let res = app.send_with(Method::GET, "/login", headers, None).await;
        // Ignored: the answer is the plain login page.
        assert_eq!(res.status(), plain, "{headers:?}");
        assert!(
            session_cookie_value(&res).is_none(),
            "header honoured from {headers:?}"
        );
    }
    let sessions: i64 = app
        .store()
        .query_row(
            "SELECT COUNT(*) FROM sessions WHERE user_id = $1",
            tokend::params![sso],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(sessions, 0);
    // Nor does the header authenticate API requests.
    let res = app
        .send_with(
            Method::GET,
            "/v1/me",
            &[("X-Forwarded-Email", "sam@example.com")],
            None,
        )
        .await;
    assert_eq!(res.status(), 401);
}

// ---------------------------------------------------------------- the reconcile job

/// The reconcile job repairs what no cascade should ever leave behind (older data, a manual
/// edit of the database, a bug), reports what it fixed, and audits each repair. Until it runs,
/// the hot path already refuses or narrows such tokens on its own.
#[tokio::test]
async fn reconcile_repairs_tokens_inconsistent_with_their_owners() {
    let app = spawn_app().await;
    let disabled = app.create_user("dis@example.com", "analyst").await;
    let (disabled_token, disabled_value) = app.token_for(disabled, json!({})).await;
    let narrowed = app.create_user("nar@example.com", "analyst").await;
    let (wide_token, wide_value) = app
        .token_for(narrowed, json!({ "role_template": "analyst" }))
        .await;
    let sso = app.create_user("sso@example.com", "analyst").await;
    let (sso_token, _) = app.token_for(sso, json!({})).await;
    // Written behind the service's back: no cascade ran.
    let db = app.store();
    db.execute(
        "UPDATE users SET enabled = 0 WHERE id = $1",
        tokend::params![disabled],
    )
    .unwrap();
    db.execute(
        "UPDATE users SET role = 'read_only' WHERE id = $1",
        tokend::params![narrowed],
    )
    .unwrap();
    db.execute(
        "UPDATE users SET sso = 1 WHERE id = $1",
        tokend::params![sso],
    )
    .unwrap();

    assert_dead(&app, &disabled_value).await;
    let res = app
        .get("/v1/auth/verify?scope=attacks:write", &wide_value)
        .await;
    assert_eq!(
        res.status(),
        403,
        "effective permissions = token ∩ owner's current ones"
    );
    assert_eq!(
        app.token_view(disabled_token).await["enabled"],
        true,
        "not repaired yet"
    );

    let report = app.maintenance().await;
    assert_eq!(report["reconcile"]["owner_disabled"], 1, "{report}");
    assert_eq!(report["reconcile"]["owner_sso"], 1, "{report}");
    assert_eq!(report["reconcile"]["trimmed"], 1, "{report}");
    let t = app.token_view(disabled_token).await;
    assert_eq!(
        (t["enabled"].clone(), t["disabled_reason"].clone()),
        (json!(false), json!("owner_disabled"))
    );
    let t = app.token_view(sso_token).await;
    assert_eq!(
        (t["enabled"].clone(), t["disabled_reason"].clone()),
        (json!(false), json!("owner_sso"))
    );
    let read_only = app.role_permissions("read_only").await;
    let t = app.token_view(wide_token).await;
    assert!(
        sorted_strings(&t["permissions"])
            .iter()
            .all(|p| read_only.contains(p)),
        "{t}"
    );
    assert_eq!(t["enabled"], true);
    let e = disabled_event(&app, disabled_token).await;
    assert!(e["actor_id"].is_null(), "repaired by the system: {e}");

    // Nothing left to repair.
    let again = app.maintenance().await;
    assert_eq!(
        again["reconcile"],
        json!({ "owner_disabled": 0, "owner_sso": 0, "trimmed": 0, "grace_ended": 0 })
    );
}

/// The token is gone (404) and its `token.purged` audit record remains, with the reason it
/// had been disabled for (rule 17).
async fn assert_purged(app: &TestApp, id: i64, reason: &str) {
    let res = app.get(&format!("/v1/tokens/{id}"), &app.admin_token).await;
    assert_eq!(res.status(), 404, "token {id} should be purged");
    let purged = app
        .audit_events(&format!("token_id={id}&action=token.purged"))
        .await;
    assert_eq!(purged[0]["details"]["reason"], reason, "{purged:?}");
}
