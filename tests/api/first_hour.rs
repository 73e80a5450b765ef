//! SPEC §17, least privilege by default: a token gets only the permissions asked for, so
//! `POST /v1/tokens` naming neither `role_template` nor `permissions` is refused (422
//! `permissions_required`, naming the field) and stores nothing; the bootstrap token keeps
//! every permission of the global administrator.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn first_hour_api_token_create_without_template_or_permissions_is_422_permissions_required() {
    let app = spawn_app().await;
    let (ann, ann_token) = app
        .quick_user_with_token("ann@example.com", "analyst")
        .await;
    let before = app.get_ok("/v1/tokens?limit=500", &app.admin_token).await["items"]
        .as_array()
        .map_or(0, Vec::len);
    for (who, token, body) in [
        ("the owner", ann_token.as_str(), json!({ "name": "bare" })),
        (
            "an administrator for someone",
            app.admin_token.as_str(),
            json!({ "name": "bare", "owner_id": ann }),
        ),
        (
            "null fields",
            ann_token.as_str(),
            json!({ "name": "bare", "role_template": null, "permissions": null }),
        ),
    ] {
        let res = app.post("/v1/tokens", token, body).await;
        let b = expect_error(res, 422, "permissions_required").await;
        assert!(
            b["error"]["fields"]["permissions"].is_string(),
            "{who}: fields.permissions: {b}"
        );
        assert!(
            b["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("role_template"),
            "{who}: the message says what to send: {b}"
        );
    }
    let after = app.get_ok("/v1/tokens?limit=500", &app.admin_token).await["items"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(before, after, "nothing stored");

    // Naming a template or a list still works, and grants exactly that.
    let t = app
        .create_token(
            &ann_token,
            json!({ "name": "ro", "role_template": "read_only" }),
        )
        .await;
    assert_eq!(t["role_template"], "read_only");
    let t = app
        .create_token(
            &ann_token,
            json!({ "name": "one", "permissions": ["attacks:read"] }),
        )
        .await;
    assert_eq!(t["permissions"], json!(["attacks:read"]));
}

#[tokio::test]
async fn first_hour_the_bootstrap_token_keeps_every_permission_of_the_global_administrator() {
    let app = spawn_app().await;
    let me = app.get_ok("/v1/me", &app.admin_token).await;
    let perms = me["permissions"].as_array().expect("permissions");
    assert_eq!(perms.len(), 25, "{me}");
    for p in ["companies:write", "maintenance:run", "users:write"] {
        assert!(perms.iter().any(|x| x == p), "{p}: {me}");
    }
}
