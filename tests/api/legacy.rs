//! Rules 19–21 (legacy UUID + secret credentials and their token), through HTTP.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

/// Issued legacy credentials.
struct Legacy {
    uuid: String,
    secret: String,
    token_id: i64,
}

async fn issue(app: &TestApp, user: i64) -> Legacy {
    let res = app
        .post(
            &format!("/v1/users/{user}/legacy-credentials"),
            &app.admin_token,
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(
        res.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store"),
        "a response carrying a secret is not cached"
    );
    let b = body(res).await;
    let uuid = b["uuid"].as_str().expect("uuid").to_string();
    assert!(uuid::Uuid::parse_str(&uuid).is_ok(), "{uuid}");
    let secret = b["secret"].as_str().expect("secret").to_string();
    assert!(secret.len() >= 16, "a high-entropy secret: {secret}");
    Legacy {
        uuid,
        secret,
        token_id: b["token_id"].as_i64().expect("token_id"),
    }
}

impl Legacy {
    async fn me(&self, app: &TestApp) -> reqwest::Response {
        app.legacy_get("/v1/me", &self.uuid, &self.secret).await
    }

    async fn permissions(&self, app: &TestApp) -> Vec<String> {
        let res = self.me(app).await;
        assert_eq!(res.status(), 200);
        sorted_strings(&body(res).await["permissions"])
    }
}

/// The owner reveals the legacy token's own `tkd_` value (rule 20: it works too).
async fn reveal(app: &TestApp, owner_token: &str, token_id: i64) -> String {
    let res = app
        .post(
            &format!("/v1/tokens/{token_id}/reveal"),
            owner_token,
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    body(res).await["value"]
        .as_str()
        .expect("value")
        .to_string()
}

// ---------------------------------------------------------------- rule 19

#[tokio::test]
async fn rule_19_legacy_token_holds_exactly_the_owners_current_role_permissions() {
    let app = spawn_app().await;
    let owner = app.create_user("leo@example.com", "analyst").await;
    let creds = issue(&app, owner).await;
    assert_eq!(
        creds.permissions(&app).await,
        app.role_permissions("analyst").await
    );

    // It follows the role both ways, unlike ordinary tokens (which are only trimmed).
    app.update_user(owner, json!({ "role": "read_only" })).await;
    assert_eq!(
        creds.permissions(&app).await,
        app.role_permissions("read_only").await
    );
    app.update_user(
        owner,
        json!({ "role": "custom", "permissions": ["attacks:read", "tokens:read"] }),
    )
    .await;
    assert_eq!(
        creds.permissions(&app).await,
        vec!["attacks:read", "tokens:read"]
    );
    app.update_user(owner, json!({ "role": "analyst" })).await;
    let analyst = app.role_permissions("analyst").await;
    assert_eq!(creds.permissions(&app).await, analyst);
    // A role change never disables it, and the forward-auth answer agrees.
    let t = app.token_view(creds.token_id).await;
    assert_eq!(t["enabled"], true);
    let res = app
        .send_with(
            Method::GET,
            "/v1/auth/verify?scope=attacks:write",
            &[
                ("X-WallarmApi-UUID", creds.uuid.as_str()),
                ("X-WallarmApi-Secret", creds.secret.as_str()),
            ],
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    let mut header: Vec<String> = res.headers()["x-auth-permissions"]
        .to_str()
        .unwrap()
        .split(' ')
        .map(str::to_string)
        .collect();
    header.sort();
    assert_eq!(header, analyst);
    assert_eq!(
        res.headers()["x-auth-token-id"].to_str().unwrap(),
        creds.token_id.to_string()
    );
}

#[tokio::test]
async fn rule_19_legacy_permissions_are_not_displayed_and_cannot_be_changed() {
    let app = spawn_app().await;
    let (owner, owner_token) = app.user_with_token("leo@example.com", "analyst").await;
    let creds = issue(&app, owner).await;

    let t = app.token_view(creds.token_id).await;
    assert_eq!(t["kind"], "legacy");
    assert_eq!(t["owner"]["id"], owner);
    assert!(
        t.get("permissions").is_none(),
        "permissions are not displayed: {t}"
    );
    assert!(t["role_template"].is_null(), "{t}");
    let mine = body(
        app.get(&format!("/v1/tokens/{}", creds.token_id), &owner_token)
            .await,
    )
    .await;
    assert!(mine.get("permissions").is_none(), "{mine}");
    let list = body(app.get("/v1/tokens?kind=legacy", &app.admin_token).await).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert!(items[0].get("permissions").is_none(), "{list}");

    for change in [
        json!({ "permissions": ["attacks:read"] }),
        json!({ "role_template": "read_only" }),
        json!({ "role_template": "custom", "permissions": ["attacks:read"] }),
        json!({ "name": "renamed", "permissions": ["tokens:read"] }),
    ] {
        expect_error(
            app.update_token(creds.token_id, change.clone()).await,
            422,
            "legacy_permissions_fixed",
        )
        .await;
        expect_error(
            app.patch(
                &format!("/v1/tokens/{}", creds.token_id),
                &owner_token,
                change,
            )
            .await,
            422,
            "legacy_permissions_fixed",
        )
        .await;
    }
    assert_eq!(
        app.token_view(creds.token_id).await["name"],
        t["name"],
        "refused edits change nothing"
    );
    assert_eq!(
        creds.permissions(&app).await,
        app.role_permissions("analyst").await
    );
}

#[tokio::test]
async fn rule_19_one_legacy_token_per_user_issued_by_administrators_secret_never_stored() {
    let app = spawn_app().await;
    let (owner, owner_token) = app.user_with_token("leo@example.com", "analyst").await;
    // Issuing needs `users:write` (administrators).
    expect_error(
        app.post(
            &format!("/v1/users/{owner}/legacy-credentials"),
            &owner_token,
            json!({}),
        )
        .await,
        403,
        "insufficient_scope",
    )
    .await;
    let creds = issue(&app, owner).await;
    expect_error(
        app.post(
            &format!("/v1/users/{owner}/legacy-credentials"),
            &app.admin_token,
            json!({}),
        )
        .await,
        409,
        "legacy_exists",
    )
    .await;
    let legacy_tokens: i64 = app
        .store()
        .query_row(
            "SELECT COUNT(*) FROM tokens WHERE owner_id = $1 AND kind = 'legacy'",
            tokend::params![owner],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(legacy_tokens, 1);
    // The secret is stored only as a keyed digest: it appears nowhere in the database files.
    let mut bytes = Vec::new();
    for suffix in ["", "-wal"] {
        let mut path = app.db_path.clone().into_os_string();
        path.push(suffix);
        if let Ok(b) = std::fs::read(&path) {
            bytes.extend(b);
        }
    }
    let secret = creds.secret.as_bytes();
    assert!(
        !bytes.windows(secret.len()).any(|w| w == secret),
        "the legacy secret is stored in clear"
    );
}

// ---------------------------------------------------------------- rule 20

#[tokio::test]
async fn rule_20_uuid_secret_and_the_legacy_tokens_own_value_both_authenticate() {
    let app = spawn_app().await;
    let (owner, owner_token) = app.user_with_token("leo@example.com", "analyst").await;
    let creds = issue(&app, owner).await;

    let me = body(creds.me(&app).await).await;
    assert_eq!(me["user"]["id"], owner);
    assert_eq!(me["token_id"], creds.token_id);
    assert_eq!(me["auth_method"], "legacy");
    // UUIDs are case-insensitive.
    let upper = app
        .legacy_get("/v1/me", &creds.uuid.to_uppercase(), &creds.secret)
        .await;
    assert_eq!(upper.status(), 200);

    let value = reveal(&app, &owner_token, creds.token_id).await;
    assert!(value.starts_with("tkd_"), "{value}");
    let me = body(app.get("/v1/me", &value).await).await;
    assert_eq!(me["token_id"], creds.token_id);
    assert_eq!(me["auth_method"], "token");
    assert_eq!(
        sorted_strings(&me["permissions"]),
        app.role_permissions("analyst").await
    );
    // Both keep working side by side.
    assert_eq!(creds.me(&app).await.status(), 200);
    assert_eq!(app.me_status(&value).await, 200);

    // A wrong secret or an unknown UUID is refused like any invalid credential.
    let wrong = app
        .legacy_get("/v1/me", &creds.uuid, "not-the-secret-at-all")
        .await;
    assert_eq!(wrong.status(), 401);
    let wrong = body(wrong).await;
    assert_eq!(wrong["error"]["code"], "invalid_token");
    let unknown = app
        .legacy_get("/v1/me", &uuid::Uuid::new_v4().to_string(), &creds.secret)
        .await;
    assert_eq!(
        body(unknown).await,
        wrong,
        "unknown and wrong credentials answer alike"
    );
    let res = app
        .send_with(
            Method::GET,
            "/v1/me",
            &[("X-WallarmApi-UUID", creds.uuid.as_str())],
            None,
        )
        .await;
    assert_eq!(
        res.status(),
        401,
        "a UUID without its secret is no credential"
    );
    // Last use of the legacy path is recorded on the legacy token.
    app.maintenance().await;
    assert!(app.token_view(creds.token_id).await["last_used_at"].is_string());
}

#[tokio::test]
async fn rule_20_legacy_headers_obey_expiry_disable_and_owner_state() {
    let app = spawn_app().await;
    let owner = app.create_user("leo@example.com", "analyst").await;
    let creds = issue(&app, owner).await;
    let id = creds.token_id;
    assert_eq!(creds.me(&app).await.status(), 200);

    // Expiry: refused from the instant of expiry, before any job.
    let soon = app.server_time_plus(chrono::Duration::hours(1));
    assert_eq!(
        app.update_token(id, json!({ "expires_at": soon }))
            .await
            .status(),
        200
    );
    assert_eq!(creds.me(&app).await.status(), 200);
    app.advance(chrono::Duration::hours(2));
    let expired = creds.me(&app).await;
    assert_eq!(expired.status(), 401);
    let expired = body(expired).await;
    app.maintenance().await;
    assert_eq!(app.token_view(id).await["disabled_reason"], "expired");
    assert_eq!(
        app.update_token(id, json!({ "expires_at": null, "enabled": true }))
            .await
            .status(),
        200
    );
    assert_eq!(
        creds.me(&app).await.status(),
        200,
        "UUID + secret survive a re-enable"
    );

    // Disabled by hand.
    assert_eq!(
        app.update_token(id, json!({ "enabled": false }))
            .await
            .status(),
        200
    );
    let disabled = creds.me(&app).await;
    assert_eq!(disabled.status(), 401);
    assert_eq!(
        body(disabled).await,
        expired,
        "disabled and expired answer alike"
    );
    assert_eq!(
        app.update_token(id, json!({ "enabled": true }))
            .await
            .status(),
        200
    );
    assert_eq!(creds.me(&app).await.status(), 200);

    // Owner disabled: refused at once; stays refused after the owner comes back.
    app.update_user(owner, json!({ "enabled": false })).await;
    assert_eq!(creds.me(&app).await.status(), 401);
    assert_eq!(
        app.token_view(id).await["disabled_reason"],
        "owner_disabled"
    );
    expect_error(
        app.update_token(id, json!({ "enabled": true })).await,
        409,
        "owner_inactive",
    )
    .await;
    app.update_user(owner, json!({ "enabled": true })).await;
    assert_eq!(creds.me(&app).await.status(), 401);
    assert_eq!(
        app.update_token(id, json!({ "enabled": true }))
            .await
            .status(),
        200
    );
    assert_eq!(creds.me(&app).await.status(), 200);
}

// ---------------------------------------------------------------- rule 21

#[tokio::test]
async fn rule_21_renewing_the_legacy_token_ends_uuid_secret_but_the_token_lives_on() {
    let app = spawn_app().await;
    let (owner, owner_token) = app.user_with_token("leo@example.com", "analyst").await;
    let creds = issue(&app, owner).await;
    let old_value = reveal(&app, &owner_token, creds.token_id).await;
    assert_eq!(creds.me(&app).await.status(), 200);

    let res = app
        .post(
            &format!("/v1/tokens/{}/renew", creds.token_id),
            &owner_token,
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let renewed = body(res).await;
    let new_value = renewed["value"].as_str().unwrap().to_string();

    expect_error(creds.me(&app).await, 401, "invalid_token").await;
    expect_error(app.get("/v1/me", &old_value).await, 401, "invalid_token").await;
    let me = body(app.get("/v1/me", &new_value).await).await;
    assert_eq!(me["token_id"], creds.token_id, "the legacy token lives on");
    assert_eq!(
        sorted_strings(&me["permissions"]),
        app.role_permissions("analyst").await
    );
    let t = app.token_view(creds.token_id).await;
    assert_eq!(t["kind"], "legacy");
    assert_eq!(t["enabled"], true);
    let left: i64 = app
        .store()
        .query_row(
            "SELECT COUNT(*) FROM legacy_credentials",
            tokend::params![],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0, "the UUID + secret are erased");

    // For good: renewing again, or restarting the index, brings nothing back.
    app.post(
        &format!("/v1/tokens/{}/renew", creds.token_id),
        &owner_token,
        json!({}),
    )
    .await;
    app.maintenance().await;
    assert_eq!(creds.me(&app).await.status(), 401);
    // The user still holds a legacy token: new credentials need it deleted first.
    expect_error(
        app.post(
            &format!("/v1/users/{owner}/legacy-credentials"),
            &app.admin_token,
            json!({}),
        )
        .await,
        409,
        "legacy_exists",
    )
    .await;
}

#[tokio::test]
async fn rule_21_deleting_the_legacy_token_ends_uuid_secret_and_new_ones_can_be_issued() {
    let app = spawn_app().await;
    let owner = app.create_user("leo@example.com", "analyst").await;
    let first = issue(&app, owner).await;
    assert_eq!(first.me(&app).await.status(), 200);
    assert_eq!(
        app.delete(&format!("/v1/tokens/{}", first.token_id), &app.admin_token)
            .await
            .status(),
        204
    );
    expect_error(first.me(&app).await, 401, "invalid_token").await;

    // "To control a legacy user's permissions, delete the legacy token and create a new one."
    let second = issue(&app, owner).await;
    assert_ne!(second.uuid, first.uuid);
    assert_eq!(second.me(&app).await.status(), 200);
    assert_eq!(first.me(&app).await.status(), 401);
    let reused = app.legacy_get("/v1/me", &first.uuid, &second.secret).await;
    assert_eq!(reused.status(), 401);
}

#[tokio::test]
async fn rule_21_switching_the_owner_to_sso_ends_uuid_secret_for_good() {
    let app = spawn_app().await;
    let owner = app.create_user("leo@example.com", "analyst").await;
    let creds = issue(&app, owner).await;
    let user: Value = app.update_user(owner, json!({ "sso": true })).await;
    assert_eq!(user["sso"], true);
    expect_error(creds.me(&app).await, 401, "invalid_token").await;
    app.update_user(owner, json!({ "sso": false })).await;
    assert_eq!(
        app.update_token(creds.token_id, json!({ "enabled": true }))
            .await
            .status(),
        200
    );
    expect_error(creds.me(&app).await, 401, "invalid_token").await;
}

/// Issuing legacy credentials hands the caller a credential that acts as the owner, with the
/// owner's role permissions (rule 19). Like any token an administrator creates for another
/// user (rules 2 and 10), it may not carry more than the issuer holds: a company administrator
/// cannot mint credentials of a global administrator.
#[tokio::test]
async fn rule_19_administrators_cannot_issue_legacy_credentials_wider_than_their_own() {
    let app = spawn_app().await;
    let (_, admin) = app.user_with_token("ada@example.com", "admin").await;
    let global = body(app.get("/v1/me", &app.admin_token).await).await["user"]["id"]
        .as_i64()
        .unwrap();
    let res = app
        .post(
            &format!("/v1/users/{global}/legacy-credentials"),
            &admin,
            json!({}),
        )
        .await;
    let status = res.status();
    let b = body(res).await;
    if status == 201 {
        // Show what the escalation would give before failing.
        let res = app
            .legacy_get(
                "/v1/companies",
                b["uuid"].as_str().unwrap(),
                b["secret"].as_str().unwrap(),
            )
            .await;
        panic!(
            "an admin obtained a global administrator's credentials; /v1/companies answers {}",
            res.status()
        );
    }
    assert_eq!(status, 403, "{b}");
    assert_eq!(b["error"]["code"], "owner_exceeds_caller", "{b}");
    let count: i64 = app
        .store()
        .query_row(
            "SELECT COUNT(*) FROM tokens WHERE owner_id = $1 AND kind = 'legacy'",
            tokend::params![global],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(count, 0);

    // Within its own reach it works, and a global administrator may issue for anyone.
    let analyst = app.create_user("ann@example.com", "analyst").await;
    let res = app
        .post(
            &format!("/v1/users/{analyst}/legacy-credentials"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let (_, narrow_admin_token) = {
        let id = app.create_user("nat@example.com", "admin").await;
        app.token_for(id, json!({ "permissions": ["users:read", "users:write"] }))
            .await
    };
    // A token narrowed to `users:*` cannot mint an analyst's (wider) credentials either.
    let deployer = app.create_user("dee@example.com", "deploy").await;
    expect_error(
        app.post(
            &format!("/v1/users/{deployer}/legacy-credentials"),
            &narrow_admin_token,
            json!({}),
        )
        .await,
        403,
        "owner_exceeds_caller",
    )
    .await;
    let other_admin = app.create_user("oda@example.com", "admin").await;
    let res = app
        .post(
            &format!("/v1/users/{other_admin}/legacy-credentials"),
            &app.admin_token,
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn rule_19_credentials_can_be_imported_through_the_api() {
    let app = spawn_app().await;
    let user = app.create_user("imported@example.com", "analyst").await;
    let uuid = "0b6f3c1e-8d2a-4f5b-9c7d-2e1f0a9b8c7d";
    let secret = "an-older-scheme-secret-1234567890";
    let path = format!("/v1/users/{user}/legacy-credentials");
    let res = app
        .post(&path, &app.admin_token, json!({ "uuid": uuid }))
        .await;
    expect_error(res, 422, "validation_failed").await;
    let res = app
        .post(
            &path,
            &app.admin_token,
            json!({ "uuid": "not-a-uuid", "secret": secret }),
        )
        .await;
    expect_error(res, 422, "validation_failed").await;
    let res = app
        .post(
            &path,
            &app.admin_token,
            json!({ "uuid": uuid, "secret": secret, "x": 1 }),
        )
        .await;
    expect_error(res, 400, "bad_request").await;
    let res = app
        .post(
            &path,
            &app.admin_token,
            json!({ "uuid": uuid, "secret": secret }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .client
        .get(app.url("/v1/me"))
        .header("X-WallarmApi-UUID", uuid)
        .header("X-WallarmApi-Secret", secret)
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["user"]["email"], "imported@example.com");
}

#[tokio::test]
async fn rule_21_an_ended_uuid_never_works_again_even_when_re_imported() {
    let app = spawn_app().await;
    let user = app.create_user("retired@example.com", "analyst").await;
    let uuid = "6a1d2f3e-4b5c-4d6e-8f70-9a8b7c6d5e4f";
    let secret = "an-older-scheme-secret-abcdefghij";
    let path = format!("/v1/users/{user}/legacy-credentials");
    let created = body(
        app.post(
            &path,
            &app.admin_token,
            json!({ "uuid": uuid, "secret": secret }),
        )
        .await,
    )
    .await;
    let token_id = created["token_id"].as_i64().expect("token id");
    let res = app
        .delete(&format!("/v1/tokens/{token_id}"), &app.admin_token)
        .await;
    assert_eq!(res.status(), 204);
    let res = app
        .post(
            &path,
            &app.admin_token,
            json!({ "uuid": uuid, "secret": secret }),
        )
        .await;
    expect_error(res, 409, "uuid_retired").await;
    let res = app
        .client
        .get(app.url("/v1/me"))
        .header("X-WallarmApi-UUID", uuid)
        .header("X-WallarmApi-Secret", secret)
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 401);
    // Fresh credentials for the same user are still possible.
    assert_eq!(
        app.post(&path, &app.admin_token, json!({})).await.status(),
        201
    );
}
