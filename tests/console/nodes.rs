//! The Nodes page: a deploy user creates a node, copies its node token from the one-time
//! page, the node reports with it, and the node is deleted behind a confirmation — with
//! JavaScript on and off; read-only users only look (their forged posts are refused), others
//! have no Nodes page.

use serde_json::json;

use crate::app::{spawn_app, TestApp, PASSWORD};
use crate::browser::{Browser, Options};
use crate::http::{hidden, post_form, signed_in_as};

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
    b.sees("X-WallarmApi-Token: <value>").await;
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

/// The names of the company's nodes, read through the API as the administrator.
async fn node_names(app: &TestApp) -> Vec<String> {
    let list: serde_json::Value = app
        .client
        .get(app.url("/v1/nodes"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|n| n["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The page decides nothing: without `nodes:read` the page is a 403, and forged posts from a
/// user without `nodes:write` are refused by the service and change nothing.
#[tokio::test]
async fn nodes_pages_refuse_over_http_without_the_permission() {
    let app = spawn_app().await;
    app.create_user("viewer@example.com", "read_only").await;
    app.create_user("dev@example.com", "api_developer").await;
    let node = app
        .admin_post("/v1/nodes", json!({ "name": "edge-kept" }), 201)
        .await;
    let id = node["node"]["id"].as_i64().expect("node id");

    let dev = signed_in_as(&app, "dev@example.com", PASSWORD).await;
    let res = dev.get(app.url("/nodes")).send().await.expect("get");
    assert_eq!(res.status(), 403, "no nodes:read, no page");
    let html = res.text().await.expect("html");
    assert!(html.contains("nodes:read") && !html.contains("edge-kept"));
    let profile = dev.get(app.url("/profile")).send().await.expect("get");
    let html = profile.text().await.expect("html");
    assert!(
        html.contains("aria-label=\"Main\""),
        "the navigation is there"
    );
    assert!(!html.contains("href=\"/nodes\""), "with no Nodes item");
    let csrf = hidden(&html, "csrf_token");
    let res = post_form(
        &dev,
        app.url("/nodes"),
        &[("csrf_token", csrf.as_str()), ("name", "edge-dev")],
    )
    .await
    .expect("post");
    assert_eq!(res.status(), 403);

    let viewer = signed_in_as(&app, "viewer@example.com", PASSWORD).await;
    let res = viewer.get(app.url("/nodes")).send().await.expect("get");
    assert_eq!(res.status(), 200);
    let html = res.text().await.expect("html");
    assert!(html.contains("edge-kept") && html.contains("href=\"/nodes\""));
    assert!(
        !html.contains("action=\"/nodes\"") && !html.contains("/delete\""),
        "no create or delete form without nodes:write"
    );
    let csrf = hidden(&html, "csrf_token");
    let res = post_form(
        &viewer,
        app.url("/nodes"),
        &[("csrf_token", csrf.as_str()), ("name", "edge-viewer")],
    )
    .await
    .expect("post");
    assert_eq!(res.status(), 403, "the service refuses without nodes:write");
    let res = post_form(
        &viewer,
        app.url(&format!("/nodes/{id}/delete")),
        &[
            ("csrf_token", csrf.as_str()),
            ("name", "edge-kept"),
            ("confirmed", "1"),
        ],
    )
    .await
    .expect("post");
    assert_eq!(res.status(), 303, "back to the list with the refusal");
    let flash = viewer.get(app.url("/nodes")).send().await.expect("get");
    assert!(flash.text().await.expect("html").contains("nodes:write"));
    assert_eq!(node_names(&app).await, vec!["edge-kept".to_string()]);

    // Without the form's token nothing happens either.
    let res = post_form(
        &viewer,
        app.url(&format!("/nodes/{id}/delete")),
        &[("csrf_token", "forged"), ("confirmed", "1")],
    )
    .await
    .expect("post");
    assert_eq!(res.status(), 403);
    assert_eq!(node_names(&app).await, vec!["edge-kept".to_string()]);
}
