//! The authorization matrix, second half: every route in `ROUTES` run by three credentials
//! that carry less than their holder might seem to (rules 23–26):
//! (a) a delegated token — made for a company administrator by the global administrator;
//! (b) a global administrator's own token without `companies:*` and `maintenance:run`,
//!     addressing another company's objects;
//! (c) a `custom` helpdesk user holding `users:read`/`users:write`, addressing an
//!     administrator (a more powerful user).
//! Each scenario names the answer of every route; a route added later without an entry
//! panics here, so the matrix cannot silently fall behind.

use reqwest::Method;
use serde_json::{json, Value};
use tokend::routes::api::ROUTES;

use crate::helpers::*;

/// The answer a route must give: a status and, for errors, the error code.
type Want = (u16, Option<&'static str>);

const OK: Want = (200, None);
const CREATED: Want = (201, None);
const GONE: Want = (204, None);
const NOT_FOUND: Want = (404, Some("not_found"));
const SCOPE: Want = (403, Some("insufficient_scope"));
const DELEGATED: Want = (403, Some("delegated_token"));
const API_TOKEN_AS_NODE: Want = (403, Some("forbidden"));

/// The objects `{id}` paths address.
struct Targets {
    token_id: i64,
    user_id: i64,
    node_id: i64,
    /// An API scope and an unused company role (SPEC §18).
    scope_id: i64,
    role_id: i64,
}

/// A scope and an unused role of the company `admin_token` administers: (scope, role).
async fn scope_and_role(app: &TestApp, admin_token: &str) -> (i64, i64) {
    let scope = crate::scopes::define_scope(app, admin_token, "matrix:read").await;
    let role = crate::scopes::define_role(app, admin_token, "Matrix", &["tokens:read"]).await;
    (scope, role)
}

fn concrete(path: &str, t: &Targets) -> String {
    let id = if path.starts_with("/v1/tokens/") {
        t.token_id
    } else if path.starts_with("/v1/users/") {
        t.user_id
    } else if path.starts_with("/v1/scopes/") {
        t.scope_id
    } else if path.starts_with("/v1/roles/") {
        t.role_id
    } else {
        t.node_id
    };
    path.replace("{id}", &id.to_string())
}

/// A body that passes extraction; `PATCH /v1/users/{id}` tries to change the password,
/// the change delegated tokens and weaker users must not make.
fn payload(m: &str, p: &str, t: &Targets) -> Option<Value> {
    match (m, p) {
        ("POST", "/v1/tokens") => Some(json!({
            "name": format!("m-{}", rand_suffix()), "permissions": ["tokens:read"]
        })),
        ("POST", "/v1/tokens/bulk") => Some(json!({ "ids": [t.token_id], "action": "disable" })),
        ("POST", "/v1/users") => Some(json!({
            "email": format!("m-{}@example.com", rand_suffix()), "role": "read_only"
        })),
        ("POST", "/v1/companies") => Some(json!({ "name": "Matrix" })),
        ("POST", "/v1/nodes") => Some(json!({ "name": "m" })),
        ("POST", "/v1/scopes") => Some(json!({ "name": "matrix:write" })),
        ("POST", "/v1/roles") => Some(json!({ "name": "Matrix 2" })),
        ("PATCH", "/v1/users/{id}") => Some(json!({ "password": "a-new-password-1" })),
        ("PATCH", _) => Some(json!({})),
        ("POST", _) => Some(json!({})),
        _ => None,
    }
}

/// Runs every non-public route with `token` and compares with `want`; returns the
/// mismatches. `forward-auth` is asked for `users:read`, which all three callers hold.
async fn run(
    app: &TestApp,
    token: &str,
    t: &Targets,
    want: impl Fn(&str, &str) -> Want,
) -> Vec<String> {
    let mut failures = Vec::new();
    for (m, p, needs) in ROUTES {
        if *needs == "—" {
            continue;
        }
        let (status, code) = want(m, p);
        let mut path = concrete(p, t);
        if *needs == "a token" {
            path.push_str("?scope=users:read");
        }
        let method = Method::from_bytes(m.as_bytes()).unwrap();
        let res = app.send(method, &path, Some(token), payload(m, p, t)).await;
        let got = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        let got_code = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"]["code"].as_str().map(str::to_string));
        if got != status || (code.is_some() && got_code.as_deref() != code) {
            failures.push(format!(
                "{m} {p}: got {got} {got_code:?}, want {status} {code:?}"
            ));
        }
    }
    failures
}

/// A node of the default company, made by a deploy user; returns its id.
async fn own_company_node(app: &TestApp) -> i64 {
    let (_, deployer) = app.user_with_token("dee@example.com", "deploy").await;
    let res = app
        .post("/v1/nodes", &deployer, json!({ "name": "n" }))
        .await;
    body(res).await["node"]["id"].as_i64().unwrap()
}

fn unknown(m: &str, p: &str) -> ! {
    panic!("{m} {p}: no expected answer in this matrix — add the route here")
}

/// (a) A token the global administrator made for a company administrator, carrying all
/// of the administrator's permissions: everything the administrator may do, except
/// minting, renewing and revealing tokens, issuing legacy credentials and changing
/// credentials (rule 25).
fn delegated(m: &str, p: &str) -> Want {
    match (m, p) {
        ("GET", "/v1/me" | "/v1/permissions" | "/v1/roles" | "/v1/tokens") => OK,
        ("POST", "/v1/tokens") => DELEGATED,
        ("POST", "/v1/tokens/bulk") => OK,
        ("GET" | "PATCH", "/v1/tokens/{id}") => OK,
        ("GET", "/v1/tokens/{id}/usage") => OK,
        ("DELETE", "/v1/tokens/{id}") => GONE,
        (
            "POST",
            "/v1/tokens/{id}/regenerate" | "/v1/tokens/{id}/renew" | "/v1/tokens/{id}/reveal",
        ) => DELEGATED,
        ("GET", "/v1/users" | "/v1/users/{id}") => OK,
        ("POST", "/v1/users") => CREATED,
        ("PATCH", "/v1/users/{id}") => DELEGATED,
        ("DELETE", "/v1/users/{id}") => GONE,
        ("POST", "/v1/users/{id}/legacy-credentials") => DELEGATED,
        ("GET", "/v1/audit" | "/v1/settings" | "/v1/webhooks/deliveries") => OK,
        ("PATCH", "/v1/settings") => OK,
        ("GET" | "POST", "/v1/companies") => SCOPE,
        ("GET", "/v1/auth/verify") => OK,
        ("GET", "/v1/nodes") => OK,
        ("POST", "/v1/nodes") => CREATED,
        ("DELETE", "/v1/nodes/{id}") => GONE,
        ("GET", "/v1/nodes/self") | ("POST", "/v1/nodes/self/heartbeat") => API_TOKEN_AS_NODE,
        ("POST", "/v1/maintenance/run") => SCOPE,
        // SPEC §18: a delegated administrator's token manages scopes and roles
        ("GET", "/v1/scopes" | "/v1/scopes/{id}" | "/v1/scopes/{id}/delete-preview") => OK,
        ("GET", "/v1/roles/{id}") | ("POST", "/v1/roles/{id}/preview") => OK,
        ("PATCH", "/v1/scopes/{id}" | "/v1/roles/{id}") => OK,
        ("POST", "/v1/scopes" | "/v1/roles") => CREATED,
        ("DELETE", "/v1/scopes/{id}") => OK,
        ("DELETE", "/v1/roles/{id}") => GONE,
        _ => unknown(m, p),
    }
}

#[tokio::test]
async fn rule_25_matrix_a_delegated_token_on_every_route() {
    let app = spawn_app().await;
    let admin = app.quick_user("boss@example.com", "admin").await;
    let (_, token) = app.delegated_token_for(admin, json!({})).await;
    let me = app.get_ok("/v1/me", &token).await;
    assert_eq!(me["delegated"], true, "{me}");
    let target = app.create_user("target@example.com", "analyst").await;
    let (token_id, _) = app.token_for(target, json!({})).await;
    let (scope_id, role_id) = scope_and_role(&app, &app.admin_token).await;
    let t = Targets {
        token_id,
        user_id: target,
        node_id: own_company_node(&app).await,
        scope_id,
        role_id,
    };
    let failures = run(&app, &token, &t, delegated).await;
    assert!(failures.is_empty(), "delegated:\n{}", failures.join("\n"));
}

/// (b) The global administrator's own token from the `admin` template (no `companies:*`,
/// no `maintenance:run`), addressing objects of another company: it acts inside its own
/// company only, like any administrator's (rule 24).
fn narrow_global(m: &str, p: &str) -> Want {
    match (m, p) {
        ("GET", "/v1/me" | "/v1/permissions" | "/v1/roles" | "/v1/tokens") => OK,
        // a token for itself, within this credential (nothing is granted by default)
        ("POST", "/v1/tokens") => CREATED,
        ("POST", "/v1/tokens/bulk") => OK, // per-id results: not found
        ("GET" | "PATCH" | "DELETE", "/v1/tokens/{id}") => NOT_FOUND,
        ("GET", "/v1/tokens/{id}/usage") => NOT_FOUND,
        (
            "POST",
            "/v1/tokens/{id}/regenerate" | "/v1/tokens/{id}/renew" | "/v1/tokens/{id}/reveal",
        ) => NOT_FOUND,
        ("GET", "/v1/users") => OK,
        ("POST", "/v1/users") => CREATED, // in its own company
        ("GET" | "PATCH" | "DELETE", "/v1/users/{id}") => NOT_FOUND,
        ("POST", "/v1/users/{id}/legacy-credentials") => NOT_FOUND,
        ("GET", "/v1/audit" | "/v1/settings" | "/v1/webhooks/deliveries") => OK,
        ("PATCH", "/v1/settings") => OK,
        ("GET" | "POST", "/v1/companies") => SCOPE,
        ("GET", "/v1/auth/verify") => OK,
        ("GET", "/v1/nodes") => OK,
        // a node token's power is its own node: nodes:write suffices (rule 39)
        ("POST", "/v1/nodes") => CREATED,
        ("DELETE", "/v1/nodes/{id}") => NOT_FOUND,
        ("GET", "/v1/nodes/self") | ("POST", "/v1/nodes/self/heartbeat") => API_TOKEN_AS_NODE,
        ("POST", "/v1/maintenance/run") => SCOPE,
        // SPEC §18: its own company's scopes and roles; another company's are invisible
        ("GET", "/v1/scopes") => OK,
        ("POST", "/v1/scopes" | "/v1/roles") => CREATED,
        (_, p) if p.starts_with("/v1/scopes/") || p.starts_with("/v1/roles/") => NOT_FOUND,
        _ => unknown(m, p),
    }
}

#[tokio::test]
async fn rule_24_matrix_a_global_admins_token_without_companies_or_maintenance() {
    let app = spawn_app().await;
    let narrow = app
        .create_token(
            &app.admin_token,
            json!({ "name": "narrow", "role_template": "admin" }),
        )
        .await;
    let token = narrow["value"].as_str().unwrap().to_string();
    let c2 = app.create_company("Foreign").await;
    let (_, foreign_admin) = app.user_in_company("fa@foreign.example", "admin", c2).await;
    let (u2, _) = app
        .user_in_company("u2@foreign.example", "analyst", c2)
        .await;
    let (t2, _) = app.token_for(u2, json!({})).await;
    let node = body(
        app.post("/v1/nodes", &foreign_admin, json!({ "name": "n2" }))
            .await,
    )
    .await;
    let (scope_id, role_id) = scope_and_role(&app, &foreign_admin).await;
    let t = Targets {
        token_id: t2,
        user_id: u2,
        node_id: node["node"]["id"].as_i64().unwrap(),
        scope_id,
        role_id,
    };
    let failures = run(&app, &token, &t, narrow_global).await;
    assert!(
        failures.is_empty(),
        "narrow global:\n{}",
        failures.join("\n")
    );

    // Lists stay inside its own company, and the foreign objects are untouched.
    let listed = |v: &Value, id: i64| ids(v).contains(&id);
    assert!(!listed(
        &app.get_ok("/v1/tokens?limit=500", &token).await,
        t2
    ));
    assert!(!listed(
        &app.get_ok("/v1/users?limit=500", &token).await,
        u2
    ));
    assert!(!listed(
        &app.get_ok(
            "/v1/users?limit=500&company_id={c2}"
                .replace("{c2}", &c2.to_string())
                .as_str(),
            &token
        )
        .await,
        u2
    ));
    let audit = app.get_ok("/v1/audit?limit=500", &token).await;
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["company_id"] != c2),
        "foreign audit events leak"
    );
    expect_error(
        app.get(&format!("/v1/settings?company_id={c2}"), &token)
            .await,
        404,
        "not_found",
    )
    .await;
    let t2_now = app
        .get_ok(&format!("/v1/tokens/{t2}"), &app.admin_token)
        .await;
    assert_eq!(t2_now["enabled"], true, "bulk did not reach it");
    app.get_ok(&format!("/v1/users/{u2}"), &app.admin_token)
        .await;
}

/// (c) A `custom` helpdesk user with `users:read` + `users:write` (and its own tokens),
/// addressing a company administrator: it may read the administrator but change nothing
/// about them (rule 26), nor mint their credentials (rule 23), nor see their tokens
/// (rule 13); it reaches no route it lacks the permission of.
fn helpdesk(m: &str, p: &str) -> Want {
    match (m, p) {
        ("GET", "/v1/me" | "/v1/permissions" | "/v1/roles" | "/v1/tokens") => OK,
        ("POST", "/v1/tokens") => CREATED,
        ("POST", "/v1/tokens/bulk") => OK, // per-id results: not found
        (_, p) if p.starts_with("/v1/tokens/") => NOT_FOUND,
        ("GET", "/v1/users" | "/v1/users/{id}") => OK,
        // read_only's permissions are not the helpdesk's to grant
        ("POST", "/v1/users") => (403, Some("forbidden")),
        ("PATCH" | "DELETE", "/v1/users/{id}") => (403, Some("user_exceeds_caller")),
        ("POST", "/v1/users/{id}/legacy-credentials") => (403, Some("owner_exceeds_caller")),
        ("GET", "/v1/audit" | "/v1/settings" | "/v1/webhooks/deliveries") => SCOPE,
        ("PATCH", "/v1/settings") => SCOPE,
        ("GET" | "POST", "/v1/companies") => SCOPE,
        ("GET", "/v1/auth/verify") => OK,
        ("GET" | "POST", "/v1/nodes") | ("DELETE", "/v1/nodes/{id}") => SCOPE,
        ("GET", "/v1/nodes/self") | ("POST", "/v1/nodes/self/heartbeat") => API_TOKEN_AS_NODE,
        ("POST", "/v1/maintenance/run") => SCOPE,
        // SPEC §18: scopes and role changes need settings:*; reading a role does not
        ("GET", "/v1/roles/{id}") => OK,
        (_, p) if p.starts_with("/v1/scopes") || p.starts_with("/v1/roles") => SCOPE,
        _ => unknown(m, p),
    }
}

const HELPDESK: [&str; 4] = ["users:read", "users:write", "tokens:read", "tokens:write"];

#[tokio::test]
async fn rule_26_matrix_a_helpdesk_role_against_an_administrator() {
    let app = spawn_app().await;
    let admin = app.create_user("boss@example.com", "admin").await;
    let (token_id, _) = app.token_for(admin, json!({})).await;
    let helpdesk_id = app
        .create_user_with(json!({
            "email": "help@example.com", "role": "custom",
            "permissions": HELPDESK, "password": "password-123",
        }))
        .await;
    let (_, token) = app
        .token_for(helpdesk_id, json!({ "permissions": HELPDESK }))
        .await;
    let (scope_id, role_id) = scope_and_role(&app, &app.admin_token).await;
    let t = Targets {
        token_id,
        user_id: admin,
        node_id: own_company_node(&app).await,
        scope_id,
        role_id,
    };
    let failures = run(&app, &token, &t, helpdesk).await;
    assert!(failures.is_empty(), "helpdesk:\n{}", failures.join("\n"));
    // The administrator is untouched: same password, still enabled, no legacy token.
    app.login_ok("boss@example.com", "password-123").await;
    let a = app
        .get_ok(&format!("/v1/users/{admin}"), &app.admin_token)
        .await;
    assert_eq!(a["enabled"], true);
    assert_eq!(a["role"], "admin");
}
