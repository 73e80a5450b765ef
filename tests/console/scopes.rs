//! Settings → API scopes and Settings → Roles (SPEC §18), with JavaScript on and off: an
//! administrator defines a scope, makes a role holding it, edits the role after a preview of
//! what a holder's token loses, and deletes the scope after a confirmation saying what loses
//! it; the role form groups permissions by prefix.

use serde_json::{json, Value};

use crate::app::{spawn_app, TestApp, PASSWORD};
use crate::browser::{Browser, Options};

async fn api(app: &TestApp, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    let mut req = app
        .client
        .request(method, app.url(path))
        .bearer_auth(&app.admin_token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request");
    res.json().await.unwrap_or(Value::Null)
}

async fn an_administrator_manages_scopes_and_roles(javascript: bool) {
    let app = spawn_app().await;
    app.create_user("boss@example.com", "admin").await;
    let b = Browser::start(&app.address, Options::js(javascript)).await;
    b.login("boss@example.com", PASSWORD).await;
    b.click("Settings").await;
    b.click("API scopes").await;
    assert_eq!(b.heading().await, "API scopes");
    b.sees("attacks:read").await;

    // a bad name is refused, naming the field; nothing is stored
    b.fill("Name", "Orders").await;
    b.click("Define scope").await;
    b.sees("Name: must").await;
    b.fill("Name", "orders:write").await;
    b.fill("Description", "Create and change orders").await;
    b.click("Define scope").await;
    b.sees("Scope “orders:write” defined.").await;
    assert!(b
        .row_text("orders:write")
        .await
        .contains("Create and change orders"));

    // a role holding it; the grid groups the company's scopes by prefix
    b.click("Roles").await;
    assert_eq!(b.heading().await, "Roles");
    b.sees("built-in").await;
    let groups = b.text_of("fieldset[data-prefix='orders']").await;
    assert!(groups.contains("orders:write"), "{groups}");
    b.fill("Name", "Orders CI").await;
    b.permission("orders:write", true).await;
    b.permission("attacks:read", true).await;
    b.click("Create role").await;
    b.sees("Role “Orders CI” created.").await;

    // a holder with a token holding orders:write
    let roles = api(&app, reqwest::Method::GET, "/v1/roles", None).await;
    let role = roles["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Orders CI")
        .expect("the role")["id"]
        .as_i64()
        .unwrap();
    let ci = api(
        &app,
        reqwest::Method::POST,
        "/v1/users",
        Some(json!({ "email": "ci@example.com", "role": "company", "role_id": role })),
    )
    .await["id"]
        .as_i64()
        .expect("ci user");
    let token = api(
        &app,
        reqwest::Method::POST,
        "/v1/tokens",
        Some(json!({ "name": "deploy", "owner_id": ci, "permissions": ["orders:write", "attacks:read"] })),
    )
    .await;
    let token_id = token["id"].as_i64().expect("token");

    // editing the role shows what the token loses before saving
    b.click("Orders CI").await;
    assert_eq!(b.heading().await, "Role Orders CI");
    b.sees("1 user(s) hold this role").await;
    b.permission("orders:write", false).await;
    b.click("Save").await;
    assert_eq!(b.heading().await, "Save role?");
    b.sees("token “deploy” loses orders:write").await;
    let t = api(
        &app,
        reqwest::Method::GET,
        &format!("/v1/tokens/{token_id}"),
        None,
    )
    .await;
    assert!(
        t["permissions"].to_string().contains("orders:write"),
        "not saved yet: {t}"
    );
    b.click("Save").await;
    b.sees("Role “Orders CI” saved.").await;
    let t = api(
        &app,
        reqwest::Method::GET,
        &format!("/v1/tokens/{token_id}"),
        None,
    )
    .await;
    assert_eq!(t["permissions"], json!(["attacks:read"]), "{t}");

    // a role in use is not deleted
    b.click("Roles").await;
    b.click_in_row("Orders CI", "Delete").await;
    assert_eq!(b.heading().await, "Delete role?");
    b.click("Delete").await;
    b.sees("hold this role").await;

    // deleting the scope says what loses it, then removes it
    b.click("API scopes").await;
    b.click_in_row("orders:write", "Delete").await;
    assert_eq!(b.heading().await, "Delete scope?");
    b.sees("Delete the scope “orders:write”? It is removed from every role")
        .await;
    b.click("Delete").await;
    b.sees("Scope “orders:write” deleted").await;
    b.does_not_see("Create and change orders").await;
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_an_administrator_manages_scopes_and_roles_with_javascript() {
    an_administrator_manages_scopes_and_roles(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_an_administrator_manages_scopes_and_roles_without_javascript() {
    an_administrator_manages_scopes_and_roles(false).await;
}
