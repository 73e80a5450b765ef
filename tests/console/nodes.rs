//! The Nodes page: a deploy user creates a node, copies its node token from the one-time
//! page, the node reports with it, and the node is deleted behind a confirmation — with
//! JavaScript on and off; read-only users only look, others have no Nodes page.

use serde_json::json;

use crate::app::{spawn_app, TestApp, PASSWORD};
use crate::browser::{Browser, Options};

async fn node_call(app: &TestApp, value: &str, header: &str) -> u16 {
    let req = app.client.get(app.url("/v1/nodes/self"));
    let req = if header == "bearer" {
        req.bearer_auth(value)
    } else {
        req.header(header, value)
    };
    req.send().await.expect("request").status().as_u16()
}

async fn a_deploy_user_creates_uses_and_deletes_a_node(javascript: bool) {
    let app = spawn_app().await;
    app.create_user("deployer@example.com", "deploy").await;
    let b = Browser::start(&app.address, Options::js(javascript)).await;
    b.login("deployer@example.com", PASSWORD).await;
    b.click("Nodes").await;
    assert_eq!(b.heading().await, "Nodes");
    b.sees("Node tokens or API tokens?").await;
    b.sees("No nodes yet.").await;

    b.fill("Node name", "edge-1").await;
    b.click("Create node").await;
    assert_eq!(b.heading().await, "Node created");
    b.sees("It will not be shown again").await;
    let value = b.value_of("token-value").await;
    assert!(value.starts_with("tkn_"), "a node token: {value}");
    let curl = b.value_of("curl-example").await;
    assert!(
        curl.contains(&value) && curl.ends_with("/v1/nodes/self"),
        "{curl}"
    );
    assert_eq!(node_call(&app, &value, "bearer").await, 200);
    assert_eq!(node_call(&app, &value, "X-WallarmApi-Token").await, 200);
    let beat = app
        .client
        .post(app.url("/v1/nodes/self/heartbeat"))
        .bearer_auth(&value)
        .json(&json!({ "version": "4.10.2" }))
        .send()
        .await
        .expect("heartbeat");
    assert!(beat.status().is_success(), "{}", beat.status());

    b.click("Close").await;
    assert_eq!(b.path().await, "/nodes");
    let row = b.row_text("edge-1").await;
    assert!(row.contains("4.10.2") && row.contains("127.0.0.1"), "{row}");
    assert!(!row.contains("Never"), "last seen is shown: {row}");
    b.does_not_see(&value).await;

    b.click_in_row("edge-1", "Delete").await;
    if javascript {
        let text = b.answer_dialog(true).await;
        assert!(text.contains("stops working"), "{text}");
    } else {
        assert_eq!(b.heading().await, "Delete node?");
        b.click("Delete").await;
    }
    b.sees("Node “edge-1” deleted.").await;
    b.sees("No nodes yet.").await;
    assert_eq!(node_call(&app, &value, "bearer").await, 401);
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_user_manages_nodes_with_javascript() {
    a_deploy_user_creates_uses_and_deletes_a_node(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_user_manages_nodes_without_javascript() {
    a_deploy_user_creates_uses_and_deletes_a_node(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_read_only_looks_and_others_have_no_nodes_page() {
    let app = spawn_app().await;
    app.create_user("viewer@example.com", "read_only").await;
    app.create_user("dev@example.com", "api_developer").await;
    app.admin_post("/v1/nodes", json!({ "name": "edge-ro" }), 201)
        .await;
    let b = Browser::start(&app.address, Options::default()).await;
    b.login("viewer@example.com", PASSWORD).await;
    b.click("Nodes").await;
    assert!(b.row_text("edge-ro").await.contains("Never"));
    assert!(
        !b.has_button("Create node").await,
        "no create without nodes:write"
    );
    assert!(
        !b.has_button("Delete").await,
        "no delete without nodes:write"
    );
    b.logout().await;

    b.login("dev@example.com", PASSWORD).await;
    assert!(
        !b.has_button("Nodes").await,
        "no Nodes item without nodes:read"
    );
    b.goto("/nodes").await;
    b.does_not_see("edge-ro").await;
    b.sees("nodes:read").await;
    b.finish().await;
}
