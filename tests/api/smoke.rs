use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn bootstrap_token_authenticates_as_global_admin() {
    let app = spawn_app().await;
    let res = app.get("/v1/me", &app.admin_token).await;
    assert_eq!(res.status(), 200);
    let me = body(res).await;
    assert_eq!(me["user"]["email"], ADMIN_EMAIL);
    assert_eq!(me["user"]["role"], "global_admin");
}

#[tokio::test]
async fn rule_1_user_creates_and_uses_own_token() {
    let app = spawn_app().await;
    let (_, analyst) = app.user_with_token("ann@example.com", "analyst").await;
    let res = app
        .post(
            "/v1/tokens",
            &analyst,
            json!({ "name": "mine", "role_template": "read_only" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created = body(res).await;
    let value = created["value"].as_str().unwrap();
    let me = body(app.get("/v1/me", value).await).await;
    assert_eq!(me["user"]["email"], "ann@example.com");
    assert_eq!(me["token_id"], created["id"]);
}
