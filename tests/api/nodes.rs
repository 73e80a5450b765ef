//! Rule 22 (nodes and node tokens), through HTTP.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

/// Creates a node with `token` (asserts 201); returns the whole answer `{node, token}`.
async fn create_node(app: &TestApp, token: &str, name: &str) -> Value {
    let res = app.post("/v1/nodes", token, json!({ "name": name })).await;
    let status = res.status();
    let cache = res
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let b = body(res).await;
    assert_eq!(status, 201, "create node: {b}");
    assert_eq!(
        cache.as_deref(),
        Some("no-store"),
        "the answer carries a secret"
    );
    b
}

fn node_value(created: &Value) -> String {
    created["token"]["value"]
        .as_str()
        .expect("token value")
        .to_string()
}

#[tokio::test]
async fn rule_22_a_deploy_template_token_creates_a_node_with_its_node_token() {
    let app = spawn_app().await;
    // A deploy user's token made from the `deploy` template (it carries everything its
    // owner holds, so it may mint the node's credential: rule 23)…
    let (_, deployer) = app.user_with_token("dee@example.com", "deploy").await;
    let res = app
        .post(
            "/v1/tokens",
            &deployer,
            json!({ "name": "ci deploy", "role_template": "deploy" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let deploy = body(res).await;
    assert_eq!(
        sorted_strings(&deploy["permissions"]),
        vec!["nodes:read", "nodes:write", "tokens:read", "tokens:write"]
    );
    let deploy_value = deploy["value"].as_str().unwrap();
    let created = create_node(&app, deploy_value, "edge-1").await;
    assert_eq!(created["node"]["name"], "edge-1");
    assert!(created["node"]["id"].is_i64());
    assert!(created["node"]["last_seen_at"].is_null());
    assert_eq!(created["token"]["kind"], "node");
    assert!(created["token"]["id"].is_i64());
    let value = node_value(&created);
    assert!(value.starts_with("tkn_") && value.len() == 40, "{value}");

    // …and the deploy user's own first token.
    let other = create_node(&app, &deployer, "edge-2").await;
    assert_ne!(node_value(&other), value);
    let list = body(app.get("/v1/nodes", &deployer).await).await;
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"edge-1") && names.contains(&"edge-2"),
        "{list}"
    );
    assert!(list.get("next_cursor").is_some());

    // Without `nodes:write` there is no node to be had; `nodes:read` still lists.
    let (_, analyst) = app.user_with_token("ann@example.com", "analyst").await;
    expect_error(
        app.post("/v1/nodes", &analyst, json!({ "name": "edge-3" }))
            .await,
        403,
        "insufficient_scope",
    )
    .await;
    assert_eq!(app.get("/v1/nodes", &analyst).await.status(), 200);
    let (_, dev) = app
        .user_with_token("dev@example.com", "api_developer")
        .await;
    expect_error(app.get("/v1/nodes", &dev).await, 403, "insufficient_scope").await;

    // Node tokens are listed under their node, not among API tokens.
    let tokens = body(app.get("/v1/tokens?limit=500", &app.admin_token).await).await;
    assert!(tokens["items"].as_array().unwrap().iter().all(
        |t| t["kind"] != "node" && !t["value_hint"].as_str().unwrap_or("").starts_with("tkn_")
    ));
}

#[tokio::test]
async fn rule_22_node_token_calls_only_the_nodes_own_endpoints() {
    let app = spawn_app().await;
    let created = create_node(&app, &app.admin_token, "edge-1").await;
    let node_id = created["node"]["id"].as_i64().unwrap();
    let value = node_value(&created);

    let me = body(app.get("/v1/nodes/self", &value).await).await;
    assert_eq!(me["id"], node_id);
    assert_eq!(me["name"], "edge-1");
    let res = app
        .post(
            "/v1/nodes/self/heartbeat",
            &value,
            json!({ "version": "4.10.2" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let beat = body(res).await;
    assert_eq!(beat["version"], "4.10.2");
    assert!(beat["last_seen_at"].is_string());
    assert_eq!(beat["last_seen_ip"], "127.0.0.1");
    // `version` is optional.
    let res = app
        .send(
            Method::POST,
            "/v1/nodes/self/heartbeat",
            Some(&value),
            Some(json!({})),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        body(res).await["version"],
        "4.10.2",
        "an absent version keeps the last one"
    );
    let listed = body(app.get("/v1/nodes", &app.admin_token).await).await;
    assert_eq!(listed["items"][0]["version"], "4.10.2");
    for bad in [
        json!({ "version": "" }),
        json!({ "version": "x".repeat(65) }),
        json!({ "version": "a\u{7}b" }),
    ] {
        let res = app
            .post("/v1/nodes/self/heartbeat", &value, bad.clone())
            .await;
        assert_eq!(res.status(), 422, "{bad}");
    }
    let res = app
        .post(
            "/v1/nodes/self/heartbeat",
            &value,
            json!({ "version": "1", "extra": true }),
        )
        .await;
    assert_eq!(res.status(), 400, "unknown fields are refused");

    // Every other route of the API answers 403 to a node token — including forward-auth.
    for (method, path, needs) in tokend::routes::api::ROUTES {
        if *needs == "—" || *needs == "node token" {
            continue;
        }
        let path = path.replace("{id}", &node_id.to_string());
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        // A well-formed body, so that only the credential can be refused.
        let body_json = match (method.as_str(), path.as_str()) {
            ("GET" | "DELETE", _) => None,
            ("POST", "/v1/tokens") | ("POST", "/v1/nodes") | ("POST", "/v1/companies") => {
                Some(json!({ "name": "x" }))
            }
            ("POST", "/v1/tokens/bulk") => Some(json!({ "ids": [1], "action": "disable" })),
            ("POST", "/v1/users") => Some(json!({ "email": "x@example.com", "role": "analyst" })),
            _ => Some(json!({})),
        };
        let res = app
            .send(method.clone(), &path, Some(&value), body_json)
            .await;
        assert_eq!(res.status(), 403, "{method} {path} with a node token");
    }
    for scope in ["", "?scope=nodes:read"] {
        let res = app.get(&format!("/v1/auth/verify{scope}"), &value).await;
        assert_eq!(res.status(), 403, "verify{scope}");
    }
    // The compatibility headers carry the same refusal.
    for header in ["X-API-Token", "X-WallarmApi-Token", "WallarmApi-Token"] {
        let res = app
            .send_with(Method::GET, "/v1/me", &[(header, value.as_str())], None)
            .await;
        assert_eq!(res.status(), 403, "{header}");
        let res = app
            .send_with(
                Method::GET,
                "/v1/nodes/self",
                &[(header, value.as_str())],
                None,
            )
            .await;
        assert_eq!(res.status(), 200, "{header} on the node's own endpoint");
    }
    // The node still exists and its token still works after all those refusals.
    assert_eq!(app.get("/v1/nodes/self", &value).await.status(), 200);
}

#[tokio::test]
async fn rule_22_api_tokens_and_other_credentials_cannot_act_as_a_node() {
    let app = spawn_app().await;
    create_node(&app, &app.admin_token, "edge-1").await;
    let (owner, analyst) = app.user_with_token("ann@example.com", "analyst").await;
    for token in [app.admin_token.as_str(), analyst.as_str()] {
        assert_eq!(app.get("/v1/nodes/self", token).await.status(), 403);
        assert_eq!(
            app.post("/v1/nodes/self/heartbeat", token, json!({}))
                .await
                .status(),
            403
        );
    }
    // Legacy credentials are API credentials too.
    let creds = body(
        app.post(
            &format!("/v1/users/{owner}/legacy-credentials"),
            &app.admin_token,
            json!({}),
        )
        .await,
    )
    .await;
    let res = app
        .legacy_get(
            "/v1/nodes/self",
            creds["uuid"].as_str().unwrap(),
            creds["secret"].as_str().unwrap(),
        )
        .await;
    assert_eq!(res.status(), 403);
    // No credentials, or an unknown node token: 401.
    assert_eq!(
        app.send(Method::GET, "/v1/nodes/self", None, None)
            .await
            .status(),
        401
    );
    let unknown = tokend::domain::token_value::TokenValue::generate(
        tokend::domain::token_value::ValueKind::Node,
    );
    assert_eq!(
        app.get("/v1/nodes/self", unknown.expose()).await.status(),
        401
    );
}

#[tokio::test]
async fn rule_22_deleting_the_node_deletes_its_token_at_once() {
    let app = spawn_app().await;
    let created = create_node(&app, &app.admin_token, "edge-1").await;
    let node_id = created["node"]["id"].as_i64().unwrap();
    let value = node_value(&created);
    let keep = create_node(&app, &app.admin_token, "edge-2").await;
    assert_eq!(app.get("/v1/nodes/self", &value).await.status(), 200);

    // Deleting needs `nodes:write`.
    let (_, analyst) = app.user_with_token("ann@example.com", "analyst").await;
    expect_error(
        app.delete(&format!("/v1/nodes/{node_id}"), &analyst).await,
        403,
        "insufficient_scope",
    )
    .await;
    assert_eq!(app.get("/v1/nodes/self", &value).await.status(), 200);

    assert_eq!(
        app.delete(&format!("/v1/nodes/{node_id}"), &app.admin_token)
            .await
            .status(),
        204
    );
    expect_error(
        app.get("/v1/nodes/self", &value).await,
        401,
        "invalid_token",
    )
    .await;
    assert_eq!(
        app.post("/v1/nodes/self/heartbeat", &value, json!({}))
            .await
            .status(),
        401
    );
    assert_eq!(app.get("/v1/me", &value).await.status(), 401);
    let list = body(app.get("/v1/nodes", &app.admin_token).await).await;
    assert!(list["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["id"] != node_id));
    assert_eq!(
        app.delete(&format!("/v1/nodes/{node_id}"), &app.admin_token)
            .await
            .status(),
        404
    );
    // Other nodes are untouched.
    assert_eq!(
        app.get("/v1/nodes/self", &node_value(&keep)).await.status(),
        200
    );
    let stored: i64 = app
        .store()
        .query_row(
            "SELECT COUNT(*) FROM nodes WHERE id = $1",
            tokend::params![node_id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, 0);
}
