//! Rules 36, 38 and 39: no operation hands out more power than the credential performing it
//! (lifting a rate limit or restarting a quota included).
//! The tables here are the rows the authorization matrix (`matrix.rs`) lacked: a narrow own
//! token of an administrator against that administrator's tokens, and a company administrator
//! against the global administrator's tokens.

use serde_json::{json, Value};

use crate::helpers::*;

/// What a caller does to a target token.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Get,
    Describe,
    Reveal,
    Renew,
    Enable,
    Disable,
    ExtendExpiry,
    RemoveExpiry,
    ShortenExpiry,
    RemoveBinding,
    WidenBinding,
    NarrowBinding,
    LiftRateLimit,
    RaiseRateLimit,
    TightenRateLimit,
    ResetQuota,
    RemoveQuota,
    Delete,
}

const OPS: [Op; 18] = [
    Op::Get,
    Op::Describe,
    Op::Reveal,
    Op::Renew,
    Op::Enable,
    Op::Disable,
    Op::ExtendExpiry,
    Op::RemoveExpiry,
    Op::ShortenExpiry,
    Op::RemoveBinding,
    Op::WidenBinding,
    Op::NarrowBinding,
    Op::LiftRateLimit,
    Op::RaiseRateLimit,
    Op::TightenRateLimit,
    Op::ResetQuota,
    Op::RemoveQuota,
    Op::Delete,
];

/// The answer when the caller has access to the token but does not cover its power: the
/// operations that only take power away (or touch nothing) pass, the others are refused.
fn uncovered(op: Op) -> (u16, Option<&'static str>) {
    match op {
        Op::Get
        | Op::Describe
        | Op::Disable
        | Op::ShortenExpiry
        | Op::NarrowBinding
        | Op::TightenRateLimit => (200, None),
        Op::Delete => (204, None),
        _ => (403, Some("token_exceeds_caller")),
    }
}

/// The answer when the caller covers the token: every operation passes.
fn covered(op: Op) -> (u16, Option<&'static str>) {
    match op {
        Op::Delete => (204, None),
        _ => (200, None),
    }
}

/// A fresh target in the state each operation needs: bound to 127.0.0.0/8 (so loosening is
/// possible while the test client still reaches it), expiring in 10 days, limited to 100
/// requests a minute and 1 000 a day, and disabled for `Enable`.
async fn prepare(app: &TestApp, id: i64, op: Op) {
    let expires = app.server_time_plus(chrono::Duration::days(10));
    let res = app
        .patch(
            &format!("/v1/tokens/{id}"),
            &app.admin_token,
            json!({
                "expires_at": expires,
                "allowed_cidrs": ["127.0.0.0/8"],
                "rate_limit": { "requests": 100, "per_seconds": 60 },
                "quota": { "limit": 1000, "period": "day" },
                "enabled": op != Op::Enable,
            }),
        )
        .await;
    assert_eq!(res.status(), 200, "prepare: {}", body(res).await);
}

/// Performs `op` on token `id` with `token`; returns the status and the error code.
async fn perform(app: &TestApp, token: &str, id: i64, op: Op) -> (u16, Option<String>) {
    let path = format!("/v1/tokens/{id}");
    let patch = |v: Value| (reqwest::Method::PATCH, path.clone(), Some(v));
    let (method, path, payload) = match op {
        Op::Get => (reqwest::Method::GET, path.clone(), None),
        Op::Describe => patch(json!({ "description": "touched" })),
        Op::Reveal => (
            reqwest::Method::POST,
            format!("{path}/reveal"),
            Some(json!({})),
        ),
        Op::Renew => (
            reqwest::Method::POST,
            format!("{path}/renew"),
            Some(json!({})),
        ),
        Op::Enable => patch(json!({ "enabled": true })),
        Op::Disable => patch(json!({ "enabled": false })),
        Op::ExtendExpiry => {
            patch(json!({ "expires_at": app.server_time_plus(chrono::Duration::days(20)) }))
        }
        Op::RemoveExpiry => patch(json!({ "expires_at": null })),
        Op::ShortenExpiry => {
            patch(json!({ "expires_at": app.server_time_plus(chrono::Duration::days(1)) }))
        }
        Op::RemoveBinding => patch(json!({ "allowed_cidrs": [] })),
        Op::WidenBinding => patch(json!({ "allowed_cidrs": ["127.0.0.0/8", "10.0.0.0/8"] })),
        Op::NarrowBinding => patch(json!({ "allowed_cidrs": ["127.0.0.1/32"] })),
        Op::LiftRateLimit => patch(json!({ "rate_limit": null })),
        Op::RaiseRateLimit => patch(json!({ "rate_limit": { "requests": 100, "per_seconds": 1 } })),
        Op::TightenRateLimit => {
            patch(json!({ "rate_limit": { "requests": 10, "per_seconds": 60 } }))
        }
        // the same quota again: its count starts afresh
        Op::ResetQuota => patch(json!({ "quota": { "limit": 1000, "period": "day" } })),
        Op::RemoveQuota => patch(json!({ "quota": null })),
        Op::Delete => (reqwest::Method::DELETE, path.clone(), None),
    };
    let res = app.send(method, &path, Some(token), payload).await;
    let status = res.status().as_u16();
    let b: Value = res.json().await.unwrap_or(Value::Null);
    (status, b["error"]["code"].as_str().map(str::to_string))
}

/// Runs every operation by `caller` against fresh targets, each a token that `owner` makes
/// for itself from `body` (a create body without its name); returns the mismatches.
async fn table(
    app: &TestApp,
    caller: &str,
    (what, owner, body): (&str, i64, Value),
    want: impl Fn(Op) -> (u16, Option<&'static str>),
) -> Vec<String> {
    let mut failures = Vec::new();
    for op in OPS {
        let mut b = body.clone();
        b["name"] = json!(format!("{what} {}", rand_suffix()));
        let (id, _) = app.own_token(owner, b).await;
        prepare(app, id, op).await;
        let before = app.token_view(id).await;
        let (status, code) = perform(app, caller, id, op).await;
        let (ws, wc) = want(op);
        if status != ws || code.as_deref() != wc {
            failures.push(format!(
                "{what} {op:?}: got {status} {code:?}, want {ws} {wc:?}"
            ));
        }
        if status == 403 {
            // a refusal changes nothing stored
            let after = app.token_view(id).await;
            for field in [
                "enabled",
                "expires_at",
                "allowed_cidrs",
                "value_hint",
                "permissions",
                "rate_limit",
                "quota",
                "quota_remaining",
            ] {
                if before[field] != after[field] {
                    failures.push(format!("{what} {op:?}: refused but {field} changed"));
                }
            }
        }
    }
    failures
}

async fn me(app: &TestApp, token: &str) -> Value {
    app.get_ok("/v1/me", token).await
}

#[tokio::test]
async fn rule_36_a_narrow_own_token_cannot_raise_or_reveal_its_owners_tokens() {
    let app = spawn_app().await;
    let admin = app.quick_user("boss@example.com", "admin").await;
    // the administrator's own narrow token for a script: not delegated
    let (_, narrow) = app
        .own_token(
            admin,
            json!({ "name": "script", "role_template": "api_developer" }),
        )
        .await;
    let mut failures = Vec::new();
    // the administrator's full private token
    failures.extend(
        table(
            &app,
            &narrow,
            ("full own token", admin, json!({ "role_template": "admin" })),
            uncovered,
        )
        .await,
    );
    // a shared token the administrator made with its whole power
    failures.extend(
        table(
            &app,
            &narrow,
            (
                "own shared token",
                admin,
                json!({ "kind": "shared", "role_template": "admin" }),
            ),
            // a narrow token without tokens:admin does not manage shared tokens at all
            |op| match op {
                Op::Get => (200, None),
                Op::Reveal => (403, Some("token_exceeds_caller")),
                _ => (403, Some("forbidden")),
            },
        )
        .await,
    );
    // a token within the narrow one's power: everything passes
    failures.extend(
        table(
            &app,
            &narrow,
            (
                "covered own token",
                admin,
                json!({ "permissions": ["api_discovery:read"] }),
            ),
            covered,
        )
        .await,
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn rule_36_a_narrow_own_token_cannot_renew_or_reveal_the_owners_legacy_token() {
    let app = spawn_app().await;
    let admin = app.quick_user("boss@example.com", "admin").await;
    let creds = app.issue_legacy_credentials(admin).await;
    let legacy = creds["token_id"].as_i64().unwrap();
    let (_, narrow) = app
        .own_token(
            admin,
            json!({ "name": "script", "permissions": ["tokens:read", "tokens:write"] }),
        )
        .await;
    for op in [Op::Reveal, Op::Renew] {
        let (status, code) = perform(&app, &narrow, legacy, op).await;
        assert_eq!(
            (status, code.as_deref()),
            (403, Some("token_exceeds_caller")),
            "{op:?}"
        );
    }
    // UUID + secret still work: the refused renew ended nothing
    let uuid = creds["uuid"].as_str().unwrap();
    let secret = creds["secret"].as_str().unwrap();
    assert_eq!(app.legacy_get("/v1/me", uuid, secret).await.status(), 200);
    // the owner's full token covers it
    let (_, full) = app
        .own_token(admin, json!({ "name": "full", "role_template": "admin" }))
        .await;
    let res = app
        .post(&format!("/v1/tokens/{legacy}/reveal"), &full, json!({}))
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn rule_36_a_company_admin_cannot_raise_or_reveal_the_global_admins_tokens() {
    let app = spawn_app().await;
    let (_, company_admin) = app
        .quick_user_with_token("company-admin@example.com", "admin")
        .await;
    let global = me(&app, &app.admin_token).await["user"]["id"]
        .as_i64()
        .unwrap();
    let mut failures = Vec::new();
    // the global administrator's private token carries companies:*
    failures.extend(
        table(
            &app,
            &company_admin,
            ("global admin's private token", global, json!({})),
            // the value of a private token is its owner's alone (rule 12)
            |op| match op {
                Op::Reveal | Op::Renew => (403, Some("forbidden")),
                op => uncovered(op),
            },
        )
        .await,
    );
    // a shared token the global administrator made in the company, with companies:*
    failures.extend(
        table(
            &app,
            &company_admin,
            (
                "global admin's shared token",
                global,
                json!({ "kind": "shared" }),
            ),
            uncovered,
        )
        .await,
    );
    // a global administrator's token without companies:* is within a company admin's power
    failures.extend(
        table(
            &app,
            &company_admin,
            (
                "global admin's admin-template token",
                global,
                json!({ "kind": "shared", "role_template": "admin" }),
            ),
            covered,
        )
        .await,
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn rule_36_can_reveal_and_the_console_controls_say_what_the_caller_may_do() {
    let app = spawn_app().await;
    let admin = app.quick_user("boss@example.com", "admin").await;
    let (full, full_value) = app
        .own_token(admin, json!({ "name": "full", "role_template": "admin" }))
        .await;
    let (_, narrow) = app
        .own_token(
            admin,
            json!({ "name": "script", "role_template": "api_developer" }),
        )
        .await;
    let path = format!("/v1/tokens/{full}");
    assert_eq!(app.get_ok(&path, &narrow).await["can_reveal"], false);
    assert_eq!(app.get_ok(&path, &full_value).await["can_reveal"], true);
}

#[tokio::test]
async fn rule_36_a_team_token_is_revealed_only_by_members_who_cover_it() {
    let app = spawn_app().await;
    let (_, admin) = app.quick_user_with_token("a@example.com", "admin").await;
    let (_, reader) = app
        .quick_user_with_token("r@example.com", "read_only")
        .await;
    let (_, dev) = app
        .quick_user_with_token("d@example.com", "api_developer")
        .await;
    let team = app
        .create_token(
            &admin,
            json!({ "name": "team", "kind": "shared", "audience": "company", "role_template": "read_only" }),
        )
        .await;
    let id = team["id"].as_i64().unwrap();
    let path = format!("/v1/tokens/{id}/reveal");
    let res = app.post(&path, &reader, json!({})).await;
    assert_eq!(res.status(), 200, "a read_only member holds what it grants");
    assert_eq!(body(res).await["value"], team["value"]);
    let res = app.post(&path, &dev, json!({})).await;
    expect_error(res, 403, "token_exceeds_caller").await;
}

#[tokio::test]
async fn rule_38_a_leaked_token_stays_disabled_until_it_is_regenerated() {
    let app = spawn_app().await;
    let (owner, _) = app
        .quick_user_with_token("owner@example.com", "analyst")
        .await;
    let (id, value) = app.own_token(owner, json!({ "name": "ci" })).await;
    let (_, owner_token) = app.own_token(owner, json!({ "name": "mine" })).await;
    let res = app
        .send(
            reqwest::Method::POST,
            "/v1/revoke",
            None,
            Some(json!({ "values": [value] })),
        )
        .await;
    assert_eq!(res.status(), 202);
    assert_eq!(app.token_view(id).await["disabled_reason"], "leaked");
    // neither the owner, nor the global administrator, nor a bulk enable brings it back
    for token in [owner_token.as_str(), app.admin_token.as_str()] {
        let res = app
            .patch(
                &format!("/v1/tokens/{id}"),
                token,
                json!({ "enabled": true }),
            )
            .await;
        expect_error(res, 409, "token_leaked").await;
    }
    let res = app
        .post(
            "/v1/tokens/bulk",
            &app.admin_token,
            json!({ "ids": [id], "action": "enable" }),
        )
        .await;
    assert_eq!(
        body(res).await["results"][0]["error"]["code"],
        "token_leaked"
    );
    assert_eq!(app.me_status(&value).await, 401);
    // regenerating gives a new value and enables it; the leaked value stays dead
    let res = app
        .post(&format!("/v1/tokens/{id}/renew"), &owner_token, json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let renewed = body(res).await;
    assert_eq!(renewed["enabled"], true, "{renewed}");
    assert_eq!(renewed["disabled_reason"], Value::Null);
    assert_eq!(app.me_status(renewed["value"].as_str().unwrap()).await, 200);
    assert_eq!(app.me_status(&value).await, 401);
    let enabled = app
        .audit_events(&format!("action=token.enabled&token_id={id}"))
        .await;
    assert_eq!(enabled.len(), 1, "the re-enable is audited");
}

#[tokio::test]
async fn rule_38_the_global_admins_leaked_token_is_not_re_enabled_by_a_company_admin() {
    let app = spawn_app().await;
    let (_, company_admin) = app
        .quick_user_with_token("company-admin@example.com", "admin")
        .await;
    let global = me(&app, &app.admin_token).await["user"]["id"]
        .as_i64()
        .unwrap();
    let (id, value) = app.own_token(global, json!({ "name": "deploy" })).await;
    let res = app
        .send(
            reqwest::Method::POST,
            "/v1/revoke",
            None,
            Some(json!({ "values": [value] })),
        )
        .await;
    assert_eq!(res.status(), 202);
    let res = app
        .patch(
            &format!("/v1/tokens/{id}"),
            &company_admin,
            json!({ "enabled": true }),
        )
        .await;
    assert_eq!(res.status().as_u16(), 409);
    let res = app
        .post(&format!("/v1/tokens/{id}/renew"), &company_admin, json!({}))
        .await;
    assert_eq!(res.status().as_u16(), 403);
    assert_eq!(app.me_status(&value).await, 401);
    assert_eq!(app.token_view(id).await["enabled"], false);
}

#[tokio::test]
async fn rule_39_an_administrators_own_deploy_token_creates_nodes() {
    let app = spawn_app().await;
    let admin = app.quick_user("boss@example.com", "admin").await;
    let (_, deploy) = app
        .own_token(
            admin,
            json!({ "name": "deploy", "role_template": "deploy" }),
        )
        .await;
    let res = app
        .post("/v1/nodes", &deploy, json!({ "name": "edge-1" }))
        .await;
    assert_eq!(res.status(), 201);
    let created = body(res).await;
    let node_token = created["token"]["value"].as_str().unwrap();
    assert!(node_token.starts_with("tkn_"));
    // the node token's power is its own node, nothing of the administrator's
    let res = app.get("/v1/nodes/self", node_token).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get("/v1/tokens", node_token).await.status(), 403);
    assert_eq!(app.get("/v1/users", node_token).await.status(), 403);
    // the global administrator's own Deploy token too
    let (_, g_deploy) = app
        .own_token(
            me(&app, &app.admin_token).await["user"]["id"]
                .as_i64()
                .unwrap(),
            json!({ "name": "g-deploy", "role_template": "deploy" }),
        )
        .await;
    let res = app
        .post("/v1/nodes", &g_deploy, json!({ "name": "edge-2" }))
        .await;
    assert_eq!(res.status(), 201);
    // without nodes:write, no node
    let (_, reader) = app
        .own_token(admin, json!({ "name": "r", "role_template": "read_only" }))
        .await;
    let res = app
        .post("/v1/nodes", &reader, json!({ "name": "edge-3" }))
        .await;
    expect_error(res, 403, "insufficient_scope").await;
}
