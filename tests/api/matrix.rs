//! The authorization matrix: every API route in `ROUTES` is documented in the
//! OpenAPI document and vice versa; every route refuses anonymous callers (or gives its public
//! answer) and callers lacking its permission; and the token routes give the table of
//! role × ownership outcomes below.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokend::routes::api::ROUTES;

use crate::helpers::*;

const MISSING: &str = r#"Bearer realm="tokend""#;
const SCOPE: &str = r#"Bearer realm="tokend", error="insufficient_scope""#;

#[tokio::test]
async fn every_route_is_in_the_openapi_document_and_every_operation_in_routes() {
    let app = spawn_app().await;
    let doc = body(
        app.client
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete", "head", "options"]
                .contains(&method.as_str())
            {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let listed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(listed.len(), ROUTES.len(), "ROUTES has duplicates");
    let undocumented: Vec<_> = listed.difference(&documented).collect();
    let unlisted: Vec<_> = documented.difference(&listed).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from /openapi.json: {undocumented:?}"
    );
    assert!(
        unlisted.is_empty(),
        "OpenAPI operations without a ROUTES entry: {unlisted:?}"
    );
    // every entry names what it needs: a catalogue permission or one of the special forms
    for (m, p, needs) in ROUTES {
        assert!(
            CATALOGUE.contains(needs) || ["—", "any", "a token", "node token"].contains(needs),
            "{m} {p}: unknown need {needs:?}"
        );
    }
    // and every route of the HTTP interface is there
    for (m, p) in [
        ("GET", "/v1/tokens"),
        ("POST", "/v1/tokens/{id}/reveal"),
        ("GET", "/v1/auth/verify"),
        ("POST", "/v1/maintenance/run"),
        ("POST", "/v1/users/{id}/legacy-credentials"),
    ] {
        assert!(listed.contains(&(m.to_string(), p.to_string())), "{m} {p}");
    }
}

/// Objects to address in `{id}` paths and the callers of the matrix.
struct World {
    token_id: i64,
    user_id: i64,
    node_id: i64,
    node_token: String,
    scope_id: i64,
    role_id: i64,
}

async fn world(app: &TestApp) -> World {
    let user_id = app.quick_user("target@example.com", "analyst").await;
    let (token_id, _) = app.token_for(user_id, json!({})).await;
    let res = app
        .post("/v1/nodes", &app.admin_token, json!({ "name": "edge" }))
        .await;
    assert_eq!(res.status(), 201);
    let n = body(res).await;
    let scope_id = crate::scopes::define_scope(app, &app.admin_token, "matrix:read").await;
    let role_id =
        crate::scopes::define_role(app, &app.admin_token, "Matrix", &["matrix:read"]).await;
    World {
        token_id,
        user_id,
        node_id: n["node"]["id"].as_i64().unwrap(),
        node_token: n["token"]["value"].as_str().unwrap().to_string(),
        scope_id,
        role_id,
    }
}

fn concrete(path: &str, w: &World) -> String {
    let id = if path.starts_with("/v1/tokens/") {
        w.token_id
    } else if path.starts_with("/v1/users/") {
        w.user_id
    } else if path.starts_with("/v1/scopes/") {
        w.scope_id
    } else if path.starts_with("/v1/roles/") {
        w.role_id
    } else {
        w.node_id
    };
    path.replace("{id}", &id.to_string())
}

/// A body that passes extraction for each route (so the checks reach authorization).
fn payload(method: &str, path: &str) -> Option<Value> {
    match (method, path) {
        ("POST", "/v1/tokens") => Some(json!({ "name": "matrix", "permissions": ["tokens:read"] })),
        ("POST", "/v1/tokens/bulk") => Some(json!({ "ids": [1], "action": "disable" })),
        ("POST", "/v1/users") => Some(json!({ "email": "m@example.com", "role": "read_only" })),
        ("POST", "/v1/companies") => Some(json!({ "name": "Matrix" })),
        ("POST", "/v1/nodes") => Some(json!({ "name": "m" })),
        ("POST", "/v1/scopes") => Some(json!({ "name": "matrix:write" })),
        ("POST", "/v1/roles") => Some(json!({ "name": "Matrix 2" })),
        ("POST", "/v1/session") => {
            Some(json!({ "email": "nobody@example.com", "password": "wrong-password" }))
        }
        ("POST", "/v1/revoke") => Some(json!({ "values": [forged_value(3)] })),
        ("PATCH", _) => Some(json!({})),
        ("POST", _) => Some(json!({})),
        _ => None,
    }
}

fn method(m: &str) -> Method {
    Method::from_bytes(m.as_bytes()).unwrap()
}

#[tokio::test]
async fn every_route_refuses_anonymous_callers_and_callers_without_its_permission() {
    let app = spawn_app().await;
    let w = world(&app).await;
    // the public answers of the `—` routes
    let public = |m: &str, p: &str| -> u16 {
        match (m, p) {
            ("GET", "/healthz") | ("GET", "/readyz") => 200,
            ("POST", "/v1/session") => 401, // wrong credentials: invalid_credentials
            ("DELETE", "/v1/session") => 204,
            ("POST", "/v1/revoke") => 202, // public revoke: nothing matched
            _ => panic!("no public answer known for {m} {p}"),
        }
    };
    // for each permission a route needs, a custom user holding every permission but that one
    let mut lacking: std::collections::HashMap<&str, String> = Default::default();
    for (_, _, needs) in ROUTES {
        if CATALOGUE.contains(needs) && !lacking.contains_key(needs) {
            let perms: Vec<&str> = CATALOGUE.iter().copied().filter(|p| p != needs).collect();
            let (_, t) = app
                .custom_user_with_token(
                    &format!("lacks-{}@example.com", needs.replace(':', "-")),
                    &perms,
                )
                .await;
            lacking.insert(needs, t);
        }
    }
    let (_, minimal) = app
        .custom_user_with_token("min@example.com", &["attacks:read"])
        .await;

    for (m, p, needs) in ROUTES {
        let path = concrete(p, &w);
        let what = format!("{m} {p} ({needs})");
        // anonymous
        let res = app.send(method(m), &path, None, payload(m, p)).await;
        if *needs == "—" {
            assert_eq!(res.status().as_u16(), public(m, p), "{what}");
            continue;
        }
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(header(&res, "www-authenticate"), MISSING, "{what}");
        expect_error(res, 401, "unauthenticated").await;

        // a caller lacking what the route needs
        match *needs {
            "any" => {
                let res = app
                    .send(method(m), &path, Some(&minimal), payload(m, p))
                    .await;
                assert_eq!(res.status(), 200, "{what}: any valid token");
            }
            "a token" => {
                let res = app
                    .send(
                        method(m),
                        &format!("{path}?scope=users:write"),
                        Some(&minimal),
                        None,
                    )
                    .await;
                assert_eq!(res.status(), 403, "{what}");
                assert_eq!(header(&res, "www-authenticate"), SCOPE, "{what}");
                let res = app
                    .send(
                        method(m),
                        &format!("{path}?scope=attacks:read"),
                        Some(&minimal),
                        None,
                    )
                    .await;
                assert_eq!(res.status(), 200, "{what}");
            }
            "node token" => {
                let res = app
                    .send(method(m), &path, Some(&app.admin_token), payload(m, p))
                    .await;
                assert_eq!(
                    res.status(),
                    403,
                    "{what}: an API token, even the global admin's"
                );
                let res = app
                    .send(method(m), &path, Some(&w.node_token), payload(m, p))
                    .await;
                assert_eq!(res.status(), 200, "{what}: the node's own token");
            }
            perm => {
                let res = app
                    .send(method(m), &path, Some(&lacking[perm]), payload(m, p))
                    .await;
                assert_eq!(header(&res, "www-authenticate"), SCOPE, "{what}");
                expect_error(res, 403, "insufficient_scope").await;
                // a node token never reaches an API route
                let res = app
                    .send(method(m), &path, Some(&w.node_token), payload(m, p))
                    .await;
                assert_eq!(res.status(), 403, "{what}: node token");
            }
        }
    }
    // nothing was deleted along the way
    assert_eq!(
        app.get(&format!("/v1/tokens/{}", w.token_id), &app.admin_token)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get(&format!("/v1/users/{}", w.user_id), &app.admin_token)
            .await
            .status(),
        200
    );
}

/// Who calls, relative to the token addressed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Owner,
    OtherUser,
    CompanyAdmin,
    ForeignAdmin,
    GlobalAdmin,
}

/// Token routes, addressed by id.
#[derive(Debug, Clone, Copy)]
enum Op {
    Get,
    Patch,
    Delete,
    Renew,
    Reveal,
}

const OPS: [Op; 5] = [Op::Get, Op::Patch, Op::Delete, Op::Renew, Op::Reveal];
const WHO: [Who; 5] = [
    Who::Owner,
    Who::OtherUser,
    Who::CompanyAdmin,
    Who::ForeignAdmin,
    Who::GlobalAdmin,
];

/// Expected status for a private token of a non-administrator (rules 8, 12, 13).
fn private_table(who: Who, op: Op) -> u16 {
    use Op::*;
    use Who::*;
    match (who, op) {
        (Owner, Get | Patch | Renew | Reveal) => 200,
        (Owner, Delete) => 204,
        (OtherUser | ForeignAdmin, _) => 404,
        (CompanyAdmin | GlobalAdmin, Get | Patch) => 200,
        (CompanyAdmin | GlobalAdmin, Delete) => 204,
        // the value is the owner's alone (rule 12); renew is owner only
        (CompanyAdmin | GlobalAdmin, Renew | Reveal) => 403,
    }
}

/// Expected status for a shared token (rule 9): `member_sees` for audience `company`.
/// The owner is an administrator of the company; `OtherUser` is a non-admin member.
fn shared_table(who: Who, op: Op, member_sees: bool) -> u16 {
    use Op::*;
    use Who::*;
    match (who, op) {
        (ForeignAdmin, _) => 404,
        (OtherUser, _) if !member_sees => 404,
        (OtherUser, Get) => 200,
        // a member uses the value only when it covers the token's power (rule 36): an
        // analyst does not cover an administrator's whole set
        (OtherUser, Reveal) => 403,
        (OtherUser, Patch | Delete | Renew) => 403,
        (Owner | CompanyAdmin | GlobalAdmin, Delete) => 204,
        (Owner | CompanyAdmin | GlobalAdmin, _) => 200,
    }
}

/// `op` on token `id` with `who_token`, through the common call helper: the status.
async fn attempt(app: &TestApp, who_token: &str, op: Op, id: i64) -> u16 {
    let path = format!("/v1/tokens/{id}");
    let (method, path, body) = match op {
        Op::Get => (Method::GET, path, None),
        Op::Patch => (
            Method::PATCH,
            path,
            Some(json!({ "description": "touched" })),
        ),
        Op::Delete => (Method::DELETE, path, None),
        Op::Renew => (Method::POST, format!("{path}/renew"), Some(json!({}))),
        Op::Reveal => (Method::POST, format!("{path}/reveal"), Some(json!({}))),
    };
    let (status, body) = app.call(method, &path, Some(who_token), body).await;
    if status == 404 {
        // existence does not leak: the same answer as for an id that never existed
        assert_eq!(body["error"]["code"], "not_found");
    }
    status
}

#[tokio::test]
async fn token_routes_follow_the_role_and_ownership_table() {
    let app = spawn_app().await;
    let c2 = app.create_company("Foreign").await;
    let (owner, owner_tok) = app
        .quick_user_with_token("owner@example.com", "analyst")
        .await;
    let (_, other_tok) = app
        .quick_user_with_token("other@example.com", "analyst")
        .await;
    let (_, admin_tok) = app
        .quick_user_with_token("admin@company.example", "admin")
        .await;
    let (_, foreign_tok) = app
        .user_in_company("admin@foreign.example", "admin", c2)
        .await;
    let (_, second_admin) = app
        .quick_user_with_token("admin2@company.example", "admin")
        .await;
    let token_of = |who: Who| -> &str {
        match who {
            Who::Owner => &owner_tok,
            Who::OtherUser => &other_tok,
            Who::CompanyAdmin => &admin_tok,
            Who::ForeignAdmin => &foreign_tok,
            Who::GlobalAdmin => &app.admin_token,
        }
    };

    let mut failures = Vec::new();
    for who in WHO {
        for op in OPS {
            // private token of a non-administrator
            let (id, _) = app.token_for(owner, json!({})).await;
            let got = attempt(&app, token_of(who), op, id).await;
            let want = private_table(who, op);
            if got != want {
                failures.push(format!("private {who:?} {op:?}: got {got}, want {want}"));
            }
            // shared tokens owned by the company administrator, both audiences
            for member_sees in [false, true] {
                let audience = if member_sees {
                    "company"
                } else {
                    "administrators"
                };
                let t = app
                    .create_token(&admin_tok, json!({ "name": format!("s-{}", rand_suffix()), "kind": "shared", "audience": audience }))
                    .await;
                let id = t["id"].as_i64().unwrap();
                // here the owner is the company admin itself
                let caller = match who {
                    Who::Owner => admin_tok.as_str(),
                    // another administrator of the same company
                    Who::CompanyAdmin => second_admin.as_str(),
                    w => token_of(w),
                };
                let got = attempt(&app, caller, op, id).await;
                let want = shared_table(who, op, member_sees);
                if got != want {
                    failures.push(format!(
                        "shared/{audience} {who:?} {op:?}: got {got}, want {want}"
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "authorization matrix:\n{}",
        failures.join("\n")
    );
}
