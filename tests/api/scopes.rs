//! SPEC §18: API scopes and roles defined per company. Scopes: the seed catalogue every
//! company starts with, `/v1/scopes` CRUD, deletion (previewed, then removed from every role,
//! user and token), `/v1/auth/verify` answering `unknown_scope`, company isolation. Roles:
//! `/v1/roles` CRUD, assignment, the rule 16 cascade of an edit (previewed), `role_in_use`,
//! and no power growing through a custom role (rules 2, 23, 26).

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

const SEED: [&str; 12] = [
    "api_discovery:read",
    "api_discovery:write",
    "attacks:read",
    "attacks:write",
    "incidents:read",
    "incidents:write",
    "integrations:read",
    "integrations:write",
    "rules:read",
    "rules:write",
    "vulnerabilities:read",
    "vulnerabilities:write",
];

pub async fn scope_names(app: &TestApp, token: &str) -> Vec<String> {
    let b = app.get_ok("/v1/scopes", token).await;
    b["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|s| s["name"].as_str().expect("name").to_string())
        .collect()
}

/// Defines scope `name` with `token`; returns its id.
pub async fn define_scope(app: &TestApp, token: &str, name: &str) -> i64 {
    let res = app
        .post(
            "/v1/scopes",
            token,
            json!({ "name": name, "description": "test" }),
        )
        .await;
    let b = body(res).await;
    b["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("define {name}: {b}"))
}

/// Creates a company role with `token`; returns its id.
pub async fn define_role(app: &TestApp, token: &str, name: &str, perms: &[&str]) -> i64 {
    let res = app
        .post(
            "/v1/roles",
            token,
            json!({ "name": name, "permissions": perms }),
        )
        .await;
    let status = res.status();
    let b = body(res).await;
    assert_eq!(status, 201, "define role {name}: {b}");
    b["id"].as_i64().expect("role id")
}

async fn verify(app: &TestApp, token: &str, scope: &str) -> (u16, Value) {
    let res = app
        .send(
            Method::GET,
            &format!("/v1/auth/verify?scope={scope}"),
            Some(token),
            None,
        )
        .await;
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn token_perms(app: &TestApp, id: i64) -> Vec<String> {
    sorted_strings(&app.token_view(id).await["permissions"])
}

#[tokio::test]
async fn scopes_every_company_starts_with_the_seed_catalogue_and_existing_tokens_keep_working() {
    let app = spawn_app().await;
    assert_eq!(scope_names(&app, &app.admin_token).await, SEED.to_vec());
    let other = app.create_company("Other").await;
    let (_, b_admin) = app.user_in_company("b@example.com", "admin", other).await;
    assert_eq!(scope_names(&app, &b_admin).await, SEED.to_vec());
    // the seed roles hold their seed scopes as before
    let (_, analyst) = app.quick_user_with_token("an@example.com", "analyst").await;
    assert_eq!(verify(&app, &analyst, "attacks:write").await.0, 200);
    assert_eq!(
        verify(&app, &analyst, "attacks:read,tokens:read").await.0,
        200
    );
    let (s, b) = verify(&app, &analyst, "integrations:write").await;
    assert_eq!(
        (s, b["error"]["code"].clone()),
        (403, json!("insufficient_scope"))
    );
    // /v1/permissions: the management permissions and the company's scopes
    let b = app.get_ok("/v1/permissions", &analyst).await;
    assert_eq!(b["items"].as_array().map(Vec::len), Some(25));
}

#[tokio::test]
async fn scopes_crud_validates_names_and_descriptions_and_refuses_duplicates() {
    let app = spawn_app().await;
    let t = &app.admin_token;
    for bad in [
        "orders",
        "Orders:write",
        "1orders:write",
        "orders:",
        "orders:write:all",
        "tokens:mint",
        "orders:wr ite",
        &format!("{}:read", "o".repeat(64)),
        &format!("orders:{}", "w".repeat(32)),
    ] {
        let res = app.post("/v1/scopes", t, json!({ "name": bad })).await;
        let b = expect_error(res, 422, "validation_failed").await;
        assert!(b["error"]["fields"]["name"].is_string(), "{bad}: {b}");
    }
    let res = app
        .post(
            "/v1/scopes",
            t,
            json!({ "name": "orders:read", "description": "d".repeat(257) }),
        )
        .await;
    let b = expect_error(res, 422, "validation_failed").await;
    assert!(b["error"]["fields"]["description"].is_string(), "{b}");
    let res = app
        .post(
            "/v1/scopes",
            t,
            json!({ "name": "orders:read", "description": "a\u{0}b" }),
        )
        .await;
    expect_error(res, 422, "validation_failed").await;
    assert_eq!(scope_names(&app, t).await, SEED.to_vec(), "nothing stored");

    let res = app
        .post(
            "/v1/scopes",
            t,
            json!({ "name": "billing.v2:read-all", "description": "d".repeat(256) }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created = body(res).await;
    let id = created["id"].as_i64().unwrap();
    let res = app
        .post("/v1/scopes", t, json!({ "name": "billing.v2:read-all" }))
        .await;
    expect_error(res, 409, "name_taken").await;

    let b = app.get_ok(&format!("/v1/scopes/{id}"), t).await;
    assert_eq!(b["name"], "billing.v2:read-all");
    let res = app
        .patch(
            &format!("/v1/scopes/{id}"),
            t,
            json!({ "description": "Read bills" }),
        )
        .await;
    assert_eq!(body(res).await["description"], "Read bills");
    let res = app
        .patch(
            &format!("/v1/scopes/{id}"),
            t,
            json!({ "name": "billing:read" }),
        )
        .await;
    let b = expect_error(res, 422, "validation_failed").await;
    assert!(b["error"]["fields"]["name"].is_string(), "{b}");

    // settings:read to list, settings:write to change
    let (_, analyst) = app.quick_user_with_token("an@example.com", "analyst").await;
    assert_eq!(app.get("/v1/scopes", &analyst).await.status(), 403);
    let (_, reader) = app
        .custom_user_with_token(
            "r@example.com",
            &["settings:read", "tokens:read", "tokens:write"],
        )
        .await;
    assert_eq!(app.get("/v1/scopes", &reader).await.status(), 200);
    let res = app
        .post("/v1/scopes", &reader, json!({ "name": "x:y" }))
        .await;
    expect_error(res, 403, "insufficient_scope").await;
    let res = app.delete(&format!("/v1/scopes/{id}"), &reader).await;
    expect_error(res, 403, "insufficient_scope").await;
}

#[tokio::test]
async fn scopes_verify_answers_unknown_scope_for_a_name_the_company_does_not_define() {
    let app = spawn_app().await;
    let t = &app.admin_token;
    let (s, b) = verify(&app, t, "orders:write").await;
    assert_eq!(
        (s, b["error"]["code"].clone()),
        (400, json!("unknown_scope"))
    );
    let (s, b) = verify(&app, t, "root").await;
    assert_eq!(
        (s, b["error"]["code"].clone()),
        (400, json!("unknown_scope"))
    );
    define_scope(&app, t, "orders:write").await;
    define_scope(&app, t, "orders:read").await;
    // the global administrator holds every scope of its company, defined now or later
    assert_eq!(verify(&app, t, "orders:write").await.0, 200);
    let (uid, _) = app
        .custom_user_with_token(
            "ci@example.com",
            &["tokens:read", "tokens:write", "orders:read"],
        )
        .await;
    let (_, ci) = app
        .token_for(uid, json!({ "permissions": ["orders:read"] }))
        .await;
    assert_eq!(verify(&app, &ci, "orders:read").await.0, 200);
    let (s, b) = verify(&app, &ci, "orders:write").await;
    assert_eq!(
        (s, b["error"]["code"].clone()),
        (403, json!("insufficient_scope"))
    );
    let (s, b) = verify(&app, &ci, "orders:read,orders:delete").await;
    assert_eq!(
        (s, b["error"]["code"].clone()),
        (400, json!("unknown_scope"))
    );
    // a token cannot ask for a scope the company does not define
    let res = app
        .post(
            "/v1/tokens",
            t,
            json!({ "name": "x", "permissions": ["orders:delete"] }),
        )
        .await;
    let b = expect_error(res, 422, "validation_failed").await;
    assert!(b["error"]["fields"]["permissions"].is_string(), "{b}");
}

#[tokio::test]
async fn scopes_and_roles_of_one_company_are_invisible_and_unusable_in_another() {
    let app = spawn_app().await;
    let t = &app.admin_token;
    let scope = define_scope(&app, t, "orders:write").await;
    let role = define_role(
        &app,
        t,
        "Orders team",
        &["tokens:read", "tokens:write", "orders:write"],
    )
    .await;
    let other = app.create_company("Other").await;
    let (_, b_admin) = app.user_in_company("b@example.com", "admin", other).await;
    for (m, p) in [
        (Method::GET, format!("/v1/scopes/{scope}")),
        (Method::PATCH, format!("/v1/scopes/{scope}")),
        (Method::DELETE, format!("/v1/scopes/{scope}")),
        (Method::GET, format!("/v1/scopes/{scope}/delete-preview")),
        (Method::GET, format!("/v1/roles/{role}")),
        (Method::PATCH, format!("/v1/roles/{role}")),
        (Method::DELETE, format!("/v1/roles/{role}")),
        (Method::POST, format!("/v1/roles/{role}/preview")),
    ] {
        let body = (m != Method::GET && m != Method::DELETE).then(|| json!({ "description": "x" }));
        let res = app.send(m.clone(), &p, Some(&b_admin), body).await;
        assert_eq!(res.status(), 404, "{m} {p}");
    }
    assert!(!scope_names(&app, &b_admin)
        .await
        .contains(&"orders:write".to_string()));
    let roles = app.get_ok("/v1/roles", &b_admin).await;
    assert!(
        !roles["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == role),
        "{roles}"
    );
    // unusable: a token, a custom user, a role assignment in company B
    let res = app
        .post(
            "/v1/tokens",
            &b_admin,
            json!({ "name": "x", "permissions": ["orders:write"] }),
        )
        .await;
    expect_error(res, 422, "validation_failed").await;
    let res = app
        .post(
            "/v1/users",
            &b_admin,
            json!({ "email": "c@example.com", "role": "custom", "permissions": ["orders:write"] }),
        )
        .await;
    expect_error(res, 422, "validation_failed").await;
    let res = app
        .post(
            "/v1/users",
            &b_admin,
            json!({ "email": "d@example.com", "role": "company", "role_id": role }),
        )
        .await;
    let b = expect_error(res, 422, "validation_failed").await;
    assert!(b["error"]["fields"]["role_id"].is_string(), "{b}");
    let (s, b) = verify(&app, &b_admin, "orders:write").await;
    assert_eq!(
        (s, b["error"]["code"].clone()),
        (400, json!("unknown_scope"))
    );
    // company B defines its own scope of the same name independently
    define_scope(&app, &b_admin, "orders:write").await;
    assert_eq!(verify(&app, &b_admin, "orders:write").await.0, 200);
}

#[tokio::test]
async fn scopes_delete_is_previewed_then_removes_the_scope_from_roles_users_and_tokens() {
    let app = spawn_app().await;
    let t = &app.admin_token;
    let write = define_scope(&app, t, "orders:write").await;
    define_scope(&app, t, "orders:read").await;
    let role = define_role(
        &app,
        t,
        "Orders",
        &["tokens:read", "tokens:write", "orders:write", "orders:read"],
    )
    .await;
    let custom = app
        .create_user_with(json!({ "email": "c@example.com", "role": "custom",
            "permissions": ["tokens:read", "tokens:write", "orders:read", "orders:write"] }))
        .await;
    let holder = app
        .create_user_with(json!({ "email": "h@example.com", "role": "company", "role_id": role }))
        .await;
    let (only_write, _) = app
        .token_for(custom, json!({ "permissions": ["orders:write"] }))
        .await;
    let (both, both_value) = app
        .token_for(
            holder,
            json!({ "permissions": ["orders:read", "orders:write"] }),
        )
        .await;
    let (untouched, _) = app
        .token_for(custom, json!({ "permissions": ["orders:read"] }))
        .await;

    let p = app
        .get_ok(&format!("/v1/scopes/{write}/delete-preview"), t)
        .await;
    let mut lost: Vec<(i64, bool)> = p["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["token_id"].as_i64().unwrap(),
                x["disabled"].as_bool().unwrap(),
            )
        })
        .collect();
    lost.sort();
    assert_eq!(lost, vec![(only_write, true), (both, false)], "{p}");
    assert_eq!(ids(&json!({ "items": p["roles"] })), vec![role], "{p}");
    assert_eq!(ids(&json!({ "items": p["users"] })), vec![custom], "{p}");
    // the preview changed nothing
    assert_eq!(token_perms(&app, only_write).await, vec!["orders:write"]);

    let res = app.delete(&format!("/v1/scopes/{write}"), t).await;
    assert_eq!(res.status(), 200);
    assert!(!scope_names(&app, t)
        .await
        .contains(&"orders:write".to_string()));
    let v = app.token_view(only_write).await;
    assert_eq!(
        (v["enabled"].clone(), v["disabled_reason"].clone()),
        (json!(false), json!("no_permissions")),
        "{v}"
    );
    assert_eq!(token_perms(&app, both).await, vec!["orders:read"]);
    assert_eq!(token_perms(&app, untouched).await, vec!["orders:read"]);
    let r = app.get_ok(&format!("/v1/roles/{role}"), t).await;
    assert_eq!(
        sorted_strings(&r["permissions"]),
        vec!["orders:read", "tokens:read", "tokens:write"]
    );
    for u in [custom, holder] {
        let u = app.get_ok(&format!("/v1/users/{u}"), t).await;
        assert!(
            !sorted_strings(&u["permissions"]).contains(&"orders:write".to_string()),
            "{u}"
        );
    }
    let (s, b) = verify(&app, &both_value, "orders:write").await;
    assert_eq!(
        (s, b["error"]["code"].clone()),
        (400, json!("unknown_scope"))
    );
    assert_eq!(verify(&app, &both_value, "orders:read").await.0, 200);
    let ev = app.audit_events("action=scope.deleted").await;
    assert_eq!(ev.len(), 1, "audited once: {ev:?}");
    assert_eq!(ev[0]["details"]["name"], "orders:write");
    let trims = app
        .audit_events(&format!("token_id={both}&action=token.updated"))
        .await;
    assert!(
        trims
            .iter()
            .any(|e| e["details"]["reason"] == "scope_deleted"),
        "{trims:?}"
    );
    assert_eq!(
        app.get(&format!("/v1/scopes/{write}"), t).await.status(),
        404
    );
}

#[tokio::test]
async fn roles_crud_lists_builtin_and_company_roles_and_assigns_either() {
    let app = spawn_app().await;
    let t = &app.admin_token;
    define_scope(&app, t, "orders:write").await;
    let role = define_role(
        &app,
        t,
        "CI deployer",
        &["tokens:read", "tokens:write", "orders:write"],
    )
    .await;
    let res = app
        .post(
            "/v1/roles",
            t,
            json!({ "name": "ci DEPLOYER", "permissions": [] }),
        )
        .await;
    expect_error(res, 409, "name_taken").await;
    for (body, field) in [
        (json!({ "name": "analyst" }), "name"),
        (json!({ "name": "" }), "name"),
        (json!({ "name": "x".repeat(65) }), "name"),
        (
            json!({ "name": "ok", "permissions": ["orders:delete"] }),
            "permissions",
        ),
        (
            json!({ "name": "ok", "permissions": ["Nope"] }),
            "permissions",
        ),
        (
            json!({ "name": "ok", "template": "global_admin" }),
            "template",
        ),
        (
            json!({ "name": "ok", "description": "d".repeat(1025) }),
            "description",
        ),
    ] {
        let res = app.post("/v1/roles", t, body.clone()).await;
        let b = expect_error(res, 422, "validation_failed").await;
        assert!(b["error"]["fields"][field].is_string(), "{body}: {b}");
    }
    // a built-in role is a template to start from
    let res = app
        .post(
            "/v1/roles",
            t,
            json!({ "name": "Analyst+", "template": "analyst", "permissions": ["orders:write"] }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let plus = body(res).await;
    let perms = sorted_strings(&plus["permissions"]);
    assert!(
        perms.contains(&"orders:write".to_string()) && perms.contains(&"rules:write".to_string()),
        "{plus}"
    );

    let list = app.get_ok("/v1/roles", t).await;
    let items = list["items"].as_array().unwrap();
    assert!(items
        .iter()
        .any(|r| r["name"] == "analyst" && r["builtin"] == true));
    assert!(items
        .iter()
        .any(|r| r["id"] == role && r["builtin"] == false));

    let u = app
        .create_user_with(json!({ "email": "ci@example.com", "role": "company", "role_id": role }))
        .await;
    let v = app.get_ok(&format!("/v1/users/{u}"), t).await;
    assert_eq!(
        (v["role"].clone(), v["role_id"].clone()),
        (json!("company"), json!(role))
    );
    assert_eq!(
        sorted_strings(&v["permissions"]),
        vec!["orders:write", "tokens:read", "tokens:write"]
    );
    let res = app
        .post(
            "/v1/users",
            t,
            json!({ "email": "x@example.com", "role": "company" }),
        )
        .await;
    expect_error(res, 422, "validation_failed").await;
    let res = app
        .post(
            "/v1/users",
            t,
            json!({ "email": "x@example.com", "role": "analyst", "role_id": role }),
        )
        .await;
    expect_error(res, 422, "validation_failed").await;
    // and back to a built-in role
    let v = app.update_user(u, json!({ "role": "read_only" })).await;
    assert_eq!(v["role"], "read_only");
    assert!(v.get("role_id").is_none() || v["role_id"].is_null(), "{v}");
}

#[tokio::test]
async fn roles_editing_a_role_is_previewed_and_trims_every_holders_tokens() {
    let app = spawn_app().await;
    let t = &app.admin_token;
    define_scope(&app, t, "orders:write").await;
    define_scope(&app, t, "orders:read").await;
    let role = define_role(
        &app,
        t,
        "Orders",
        &["tokens:read", "tokens:write", "orders:read", "orders:write"],
    )
    .await;
    let a = app
        .create_user_with(json!({ "email": "a@example.com", "role": "company", "role_id": role }))
        .await;
    let b = app
        .create_user_with(json!({ "email": "b@example.com", "role": "company", "role_id": role }))
        .await;
    let (ta, va) = app
        .token_for(a, json!({ "permissions": ["orders:read", "orders:write"] }))
        .await;
    let (tb, _) = app
        .token_for(b, json!({ "permissions": ["orders:write"] }))
        .await;
    let (tc, _) = app
        .token_for(b, json!({ "permissions": ["orders:read"] }))
        .await;
    let change = json!({ "permissions": ["tokens:read", "tokens:write", "orders:read"] });
    let p = app
        .post(&format!("/v1/roles/{role}/preview"), t, change.clone())
        .await;
    assert_eq!(p.status(), 200);
    let p = body(p).await;
    let mut lost: Vec<(i64, Vec<String>, bool)> = p["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["token_id"].as_i64().unwrap(),
                sorted_strings(&x["lost"]),
                x["disabled"].as_bool().unwrap(),
            )
        })
        .collect();
    lost.sort();
    assert_eq!(
        lost,
        vec![
            (ta, vec!["orders:write".to_string()], false),
            (tb, vec!["orders:write".to_string()], true)
        ],
        "{p}"
    );
    assert_eq!(p["users"], 2);
    assert_eq!(
        token_perms(&app, ta).await,
        vec!["orders:read", "orders:write"],
        "preview stores nothing"
    );

    let res = app.patch(&format!("/v1/roles/{role}"), t, change).await;
    assert_eq!(res.status(), 200);
    assert_eq!(token_perms(&app, ta).await, vec!["orders:read"]);
    assert_eq!(
        app.token_view(tb).await["disabled_reason"],
        "no_permissions"
    );
    assert_eq!(token_perms(&app, tc).await, vec!["orders:read"]);
    let (s, _) = verify(&app, &va, "orders:write").await;
    assert_eq!(s, 403);
    // raising the role again restores nothing (rule 16)
    let res = app
        .patch(
            &format!("/v1/roles/{role}"),
            t,
            json!({ "permissions": ["tokens:read", "tokens:write", "orders:read", "orders:write"] }),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(token_perms(&app, ta).await, vec!["orders:read"]);
    let u = app.get_ok(&format!("/v1/users/{a}"), t).await;
    assert!(
        sorted_strings(&u["permissions"]).contains(&"orders:write".to_string()),
        "{u}"
    );
}

#[tokio::test]
async fn roles_a_role_in_use_cannot_be_deleted() {
    let app = spawn_app().await;
    let t = &app.admin_token;
    let role = define_role(&app, t, "Readers", &["tokens:read", "attacks:read"]).await;
    let u = app
        .create_user_with(json!({ "email": "a@example.com", "role": "company", "role_id": role }))
        .await;
    let res = app.delete(&format!("/v1/roles/{role}"), t).await;
    expect_error(res, 409, "role_in_use").await;
    app.update_user(u, json!({ "role": "read_only" })).await;
    let res = app.delete(&format!("/v1/roles/{role}"), t).await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.get(&format!("/v1/roles/{role}"), t).await.status(), 404);
    assert_eq!(app.audit_events("action=role.deleted").await.len(), 1);
}

#[tokio::test]
async fn roles_no_power_grows_through_a_custom_role() {
    let app = spawn_app().await;
    let t = &app.admin_token;
    define_scope(&app, t, "orders:write").await;
    let strong = define_role(
        &app,
        t,
        "Orders",
        &["tokens:read", "tokens:write", "orders:write"],
    )
    .await;
    // a helpdesk that manages users and settings but holds no API scope
    let helpdesk_perms = [
        "users:read",
        "users:write",
        "settings:read",
        "settings:write",
        "tokens:read",
        "tokens:write",
        "tokens:admin",
    ];
    let (_, helpdesk) = app
        .custom_user_with_token("help@example.com", &helpdesk_perms)
        .await;
    // cannot define a role beyond itself, from a list or from a template
    let res = app
        .post(
            "/v1/roles",
            &helpdesk,
            json!({ "name": "x", "permissions": ["orders:write"] }),
        )
        .await;
    expect_error(res, 403, "forbidden").await;
    let res = app
        .post(
            "/v1/roles",
            &helpdesk,
            json!({ "name": "x", "template": "analyst" }),
        )
        .await;
    expect_error(res, 403, "forbidden").await;
    let res = app
        .post(
            "/v1/roles",
            &helpdesk,
            json!({ "name": "x", "permissions": ["companies:read"] }),
        )
        .await;
    expect_error(res, 403, "forbidden").await;
    // cannot edit a role holding more than itself, nor widen one it covers
    let res = app
        .patch(
            &format!("/v1/roles/{strong}"),
            &helpdesk,
            json!({ "description": "mine" }),
        )
        .await;
    expect_error(res, 403, "user_exceeds_caller").await;
    let weak = define_role(&app, &helpdesk, "Weak", &["tokens:read", "tokens:write"]).await;
    let res = app
        .patch(
            &format!("/v1/roles/{weak}"),
            &helpdesk,
            json!({ "permissions": ["tokens:read", "orders:write"] }),
        )
        .await;
    expect_error(res, 403, "forbidden").await;
    // cannot assign a role beyond itself
    let res = app
        .post(
            "/v1/users",
            &helpdesk,
            json!({ "email": "n@example.com", "role": "company", "role_id": strong }),
        )
        .await;
    expect_error(res, 403, "forbidden").await;
    let plain = app.quick_user("p@example.com", "read_only").await;
    let res = app
        .patch(
            &format!("/v1/users/{plain}"),
            &helpdesk,
            json!({ "role": "company", "role_id": strong }),
        )
        .await;
    assert_eq!(res.status(), 403, "{}", body(res).await);
    // rule 26 and 23 against a holder of the strong role: its power comes from the role
    let holder = app
        .create_user_with(json!({ "email": "h@example.com", "role": "company", "role_id": strong }))
        .await;
    let res = app
        .patch(
            &format!("/v1/users/{holder}"),
            &helpdesk,
            json!({ "name": "renamed" }),
        )
        .await;
    expect_error(res, 403, "user_exceeds_caller").await;
    let res = app
        .post(
            "/v1/tokens",
            &helpdesk,
            json!({ "name": "x", "owner_id": holder, "permissions": ["tokens:read"] }),
        )
        .await;
    expect_error(res, 403, "owner_exceeds_caller").await;
    // rule 2: a holder's token stays within the role
    let (_, holder_token) = app
        .token_for(
            holder,
            json!({ "permissions": ["tokens:read", "tokens:write", "orders:write"] }),
        )
        .await;
    let res = app
        .post(
            "/v1/tokens",
            &holder_token,
            json!({ "name": "wider", "permissions": ["orders:write", "attacks:read"] }),
        )
        .await;
    expect_error(res, 422, "permissions_exceed_owner").await;
}

#[tokio::test]
async fn roles_rule_36_a_custom_scope_is_power_a_caller_must_cover() {
    let app = spawn_app().await;
    let t = &app.admin_token;
    define_scope(&app, t, "orders:write").await;
    let owner = app
        .create_user_with(json!({ "email": "o@example.com", "role": "custom",
            "permissions": ["tokens:read", "tokens:write", "orders:write"] }))
        .await;
    let (token, _) = app
        .token_for(owner, json!({ "permissions": ["orders:write"] }))
        .await;
    app.update_token(token, json!({ "enabled": false })).await;
    // a token administrator without orders:write manages the token but cannot give it power
    let (_, helpdesk) = app
        .custom_user_with_token(
            "help@example.com",
            &["tokens:read", "tokens:write", "tokens:admin", "users:read"],
        )
        .await;
    let res = app
        .patch(
            &format!("/v1/tokens/{token}"),
            &helpdesk,
            json!({ "enabled": true }),
        )
        .await;
    expect_error(res, 403, "token_exceeds_caller").await;
    let res = app
        .patch(
            &format!("/v1/tokens/{token}"),
            &helpdesk,
            json!({ "description": "seen" }),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", body(res).await);
    // the administrator holds every scope of the company: it covers the token
    let res = app
        .patch(
            &format!("/v1/tokens/{token}"),
            t,
            json!({ "enabled": true }),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", body(res).await);
}

/// The scopes a company defines are kept in memory for verify; defining or deleting one is
/// seen by the very next verify (the wildcard of the administrators asks the list each time).
#[tokio::test]
async fn scopes_verify_sees_a_scope_defined_or_deleted_at_once() {
    let app = spawn_app().await;
    let t = &app.admin_token;
    for round in 0..3 {
        let name = format!("orders{round}:write");
        assert_eq!(verify(&app, t, &name).await.0, 400, "{name} not defined");
        assert_eq!(
            verify(&app, t, &name).await.0,
            400,
            "{name} still not defined"
        );
        let id = define_scope(&app, t, &name).await;
        assert_eq!(verify(&app, t, &name).await.0, 200, "{name} defined");
        assert_eq!(verify(&app, t, &name).await.0, 200, "{name} still defined");
        let res = app.delete(&format!("/v1/scopes/{id}"), t).await;
        assert_eq!(res.status(), 200, "{}", body(res).await);
        let (s, b) = verify(&app, t, &name).await;
        assert_eq!(
            (s, &b["error"]["code"]),
            (400, &json!("unknown_scope")),
            "{name} deleted"
        );
    }
}
