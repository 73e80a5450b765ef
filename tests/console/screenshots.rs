//! Screenshots of the main pages at 1280×800 and 390 px wide, and a check that no page
//! scrolls sideways on a phone. `UPDATE_SCREENSHOTS=1` writes them to `docs/screenshots/`.

use serde_json::json;

use crate::app::{spawn_app_with, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::browser::{Browser, Options, DESKTOP, PHONE};

/// A company with a few users and tokens in every state.
async fn seed(app: &TestApp) -> (i64, i64) {
    let alice = app.create_user("alice@example.com", "analyst").await;
    let bob = app.create_user("bob@example.com", "deploy").await;
    app.admin_post(
        "/v1/users",
        json!({ "email": "carol@example.com", "name": "Carol (SSO)", "role": "read_only", "sso": true }),
        201,
    )
    .await;
    let (_, v) = app.token_named(alice, "grafana-dashboards", json!({ "role_template": "read_only", "description": "Read-only access for the Grafana datasource" })).await;
    app.token_status(&v).await;
    app.token_named(alice, "incident-bot", json!({ "permissions": ["incidents:read", "incidents:write"], "expires_at": "2031-03-01T09:00:00Z" })).await;
    let (old, _) = app
        .token_named(bob, "edge-deploy", json!({ "role_template": "deploy" }))
        .await;
    // A webhook target that refuses connections: disabling a token queues an event whose
    // delivery fails (shown under the settings).
    let settings = json!({ "idle_disable_days": 90, "webhook_url": "http://127.0.0.1:9/tokend", "webhook_secret": "0123456789abcdef-webhook" });
    let res = app
        .client
        .patch(app.url("/v1/settings"))
        .bearer_auth(&app.admin_token)
        .json(&settings)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 200);
    app.admin_post(
        "/v1/tokens/bulk",
        json!({ "ids": [old], "action": "disable" }),
        200,
    )
    .await;
    app.token_named(
        1,
        "team-shared",
        json!({ "kind": "shared", "audience": "company", "role_template": "analyst" }),
    )
    .await;
    app.admin_post(
        &format!("/v1/users/{bob}/legacy-credentials"),
        json!({}),
        201,
    )
    .await;
    (alice, old)
}

async fn both(b: &Browser, name: &str) {
    b.resize(DESKTOP).await;
    b.screenshot(&format!("{name}-1280")).await;
    b.resize(PHONE).await;
    let (scroll, inner) =
        b.c.execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .map(|v| (v[0].as_i64().unwrap_or(0), v[1].as_i64().unwrap_or(0)))
        .expect("widths");
    assert!(
        scroll <= inner,
        "{name}: the page scrolls sideways at {inner} px ({scroll} px wide)"
    );
    b.screenshot(&format!("{name}-390")).await;
    b.resize(DESKTOP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_of_the_main_pages() {
    let app = spawn_app_with(|c| c.webhook_allow_private = true).await;
    let (alice, disabled) = seed(&app).await;
    let b = Browser::start(&app.address, Options::default()).await;

    b.goto("/login").await;
    both(&b, "login").await;
    b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    b.goto("/tokens/new").await;
    b.fill("Name", "ci-pipeline").await;
    b.fill("Description", "Builds and deploys from CI").await;
    both(&b, "token-create").await;
    b.check("Set expiration date and time", true).await;
    b.fill("Expires at (UTC)", "2031-12-31 23:59:00").await;
    b.select("Role template", "Read only").await;
    b.click("Create").await;
    both(&b, "token-value").await;
    // Used once (recent address) and rotated with a day's overlap.
    let value = b.value_of("token-value").await;
    app.token_status(&value).await;
    app.admin_post("/v1/maintenance/run", json!({}), 200).await;

    b.goto("/").await;
    both(&b, "tokens").await;
    b.goto("/?sort=expires&order=asc&per_page=25").await;
    both(&b, "tokens-sorted-by-expiry").await;

    // The owner picker: the Select page, searched by name.
    b.goto("/tokens/new").await;
    b.fill("Name", "for-bob").await;
    b.click("Select").await;
    b.fill("Email or name", "bob").await;
    b.click("Search").await;
    both(&b, "token-owner-picker").await;

    b.goto(&format!("/tokens/{disabled}")).await;
    both(&b, "token-disabled").await;
    b.goto("/").await;
    b.click("ci-pipeline").await;
    let detail = b.path().await;
    app.admin_post(
        &format!("/v1{detail}/renew"),
        json!({ "grace_seconds": 86400 }),
        200,
    )
    .await;
    b.goto(&detail).await;
    both(&b, "token-detail").await;

    b.goto("/users").await;
    both(&b, "users").await;
    b.goto(&format!("/users/{alice}")).await;
    both(&b, "user-edit").await;
    b.select("Role", "API Developer").await;
    b.click("Save changes").await;
    both(&b, "user-role-preview").await;

    // A node that reported, and the page showing a new node's token once.
    let node = app
        .admin_post("/v1/nodes", json!({ "name": "edge-fra-1" }), 201)
        .await;
    let node_token = node["token"]["value"]
        .as_str()
        .expect("node token")
        .to_string();
    let beat = app
        .client
        .post(app.url("/v1/nodes/self/heartbeat"))
        .bearer_auth(&node_token)
        .json(&json!({ "version": "4.10.2" }))
        .send()
        .await
        .expect("heartbeat");
    assert!(beat.status().is_success());
    b.goto("/nodes").await;
    both(&b, "nodes").await;
    b.fill("Node name", "edge-ams-2").await;
    b.click("Create node").await;
    both(&b, "node-created").await;

    b.goto("/audit").await;
    both(&b, "audit").await;
    b.goto("/settings").await;
    both(&b, "settings").await;
    b.goto("/profile").await;
    both(&b, "profile").await;
    b.finish().await;
}
