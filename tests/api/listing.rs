//! `GET /v1/tokens` filters and paging, query plans, bulk actions, the audit log, and
//! `Cache-Control` on answers that carry a value.

use std::collections::{BTreeSet, HashSet};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

pub(crate) fn names(list: &Value) -> BTreeSet<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

pub(crate) fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn list_filters_by_name_owner_creator_status_kind_and_expiry() {
    let app = spawn_app().await;
    let (admin, admin_tok) = app.quick_user_with_token("boss@example.com", "admin").await;
    let (a, a_tok) = app.quick_user_with_token("a@example.com", "analyst").await;
    let b = app.quick_user("b@example.com", "analyst").await;
    let now = app.server_now();
    let in_days = |d: i64| rfc3339_after(now, d * 86_400);
    let mk = |body: Value| {
        let app = &app;
        let admin_tok = admin_tok.clone();
        async move { app.create_token(&admin_tok, body).await }
    };
    mk(json!({ "name": "Deploy-Prod", "owner_id": a, "expires_at": in_days(10) })).await;
    mk(json!({ "name": "deploy-staging", "owner_id": a, "expires_at": in_days(40) })).await;
    mk(json!({ "name": "metrics", "owner_id": a, "enabled": false })).await;
    mk(json!({ "name": "Backup_job", "owner_id": b })).await;
    mk(json!({ "name": "BackupXjob", "owner_id": b })).await;
    mk(json!({ "name": "Team", "kind": "shared" })).await;
    mk(json!({ "name": "100%" })).await;
    app.create_token(&a_tok, json!({ "name": "self-made" }))
        .await;

    let q = |query: &str| {
        let app = &app;
        let admin_tok = admin_tok.clone();
        let query = query.to_string();
        async move {
            names(
                &app.get_ok(&format!("/v1/tokens?limit=500&{query}"), &admin_tok)
                    .await,
            )
        }
    };
    assert_eq!(
        q("name=DEPLOY").await,
        set(&["Deploy-Prod", "deploy-staging"])
    );
    assert_eq!(q("name=ploy-p").await, set(&["Deploy-Prod"]));
    assert_eq!(q("name=%25").await, set(&["100%"]), "% is literal");
    assert_eq!(q("name=p_j").await, set(&["Backup_job"]), "_ is literal");
    assert_eq!(q("name=nothing-like-it").await, set(&[]));
    let owned_by_a = q(&format!("owner_id={a}")).await;
    assert_eq!(owned_by_a.len(), 5, "{owned_by_a:?}");
    assert!(owned_by_a.is_superset(&set(&[
        "Deploy-Prod",
        "deploy-staging",
        "metrics",
        "self-made"
    ])));
    // Each helper user made its own first token (named `t-…`) itself.
    let by_a = q(&format!("creator_id={a}")).await;
    let by_a: BTreeSet<String> = by_a.into_iter().filter(|n| !n.starts_with("t-")).collect();
    assert_eq!(by_a, set(&["self-made"]));
    let by_admin = q(&format!("creator_id={admin}")).await;
    assert_eq!(
        by_admin.len(),
        8,
        "7 made for others + its own: {by_admin:?}"
    );
    assert_eq!(q("status=disabled").await, set(&["metrics"]));
    let enabled = q("status=enabled").await;
    assert!(
        !enabled.contains("metrics") && enabled.contains("Team") && enabled.contains("self-made")
    );
    assert_eq!(q("kind=shared").await, set(&["Team"]));
    assert!(!q("kind=private").await.contains("Team"));
    assert!(q("kind=legacy").await.is_empty());
    let cut = in_days(20);
    assert_eq!(
        q(&format!("expires_before={cut}")).await,
        set(&["Deploy-Prod"])
    );
    assert_eq!(
        q(&format!("expires_after={cut}")).await,
        set(&["deploy-staging"])
    );
    let cut_plain = (now + chrono::Duration::days(20))
        .format("%Y-%m-%d%%20%H:%M:%S")
        .to_string();
    assert_eq!(
        q(&format!("expires_before={cut_plain}")).await,
        set(&["Deploy-Prod"])
    );
    assert_eq!(
        q(&format!(
            "expires_after={}&expires_before={}",
            in_days(5),
            in_days(50)
        ))
        .await,
        set(&["Deploy-Prod", "deploy-staging"])
    );
    assert_eq!(
        q(&format!("owner_id={a}&status=enabled&name=deploy")).await,
        set(&["Deploy-Prod", "deploy-staging"])
    );
    // the same filters for a non-administrator stay within what it may see
    let mine = names(&app.get_ok("/v1/tokens?name=deploy", &a_tok).await);
    assert_eq!(mine, set(&["Deploy-Prod", "deploy-staging"]));
    assert!(names(
        &app.get_ok(&format!("/v1/tokens?owner_id={b}"), &a_tok)
            .await
    )
    .is_empty());

    for bad in [
        "status=maybe",
        "kind=robot",
        "expires_before=tomorrow",
        "expires_after=2030-13-01",
        "owner_id=abc",
        "creator_id=1.5",
    ] {
        // SPEC §17: a bad query value is 422 naming the parameter
        let res = app.get(&format!("/v1/tokens?{bad}"), &admin_tok).await;
        let b = expect_error(res, 422, "validation_failed").await;
        let field = bad.split('=').next().unwrap();
        assert!(b["error"]["fields"][field].is_string(), "{bad}: {b}");
    }
    let res = app.get("/v1/tokens?unknown=1", &admin_tok).await;
    expect_error(res, 400, "bad_request").await;
}

#[tokio::test]
async fn list_limit_is_1_to_500_and_cursor_paging_returns_every_token_once() {
    let app = spawn_app().await;
    for i in 0..23 {
        app.create_token(&app.admin_token, json!({ "name": format!("page-{i:02}") }))
            .await;
    }
    let all = ids(&app.get_ok("/v1/tokens?limit=500", &app.admin_token).await);
    assert_eq!(all.len(), 24, "23 + the bootstrap token");
    let default = app.get_ok("/v1/tokens", &app.admin_token).await;
    assert_eq!(ids(&default).len(), 24);
    assert!(default["next_cursor"].is_null());

    for bad in ["501", "0", "-1", "abc", "1.5", "100000000000000000000"] {
        let res = app
            .get(&format!("/v1/tokens?limit={bad}"), &app.admin_token)
            .await;
        let b = expect_error(res, 422, "validation_failed").await;
        assert!(b["error"]["fields"]["limit"].is_string(), "{b}");
    }
    let page = app.get_ok("/v1/tokens?limit=500", &app.admin_token).await;
    assert!(page["next_cursor"].is_null());

    for (limit, filter) in [(5, ""), (1, ""), (7, "&name=page-"), (24, "")] {
        let mut seen: Vec<i64> = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut path = format!("/v1/tokens?limit={limit}{filter}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let p = app.get_ok(&path, &app.admin_token).await;
            let got = ids(&p);
            assert!(got.len() <= limit);
            seen.extend(&got);
            pages += 1;
            assert!(pages < 100, "paging does not end");
            match p["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        let expected = if filter.is_empty() { 24 } else { 23 };
        assert_eq!(seen.len(), expected, "limit {limit}{filter}: {seen:?}");
        let unique: HashSet<i64> = seen.iter().copied().collect();
        assert_eq!(unique.len(), expected, "each token exactly once");
        assert!(seen.windows(2).all(|w| w[0] > w[1]), "stable order");
        if filter.is_empty() {
            assert_eq!(seen, all);
        }
    }

    // a cursor survives a deletion between pages
    let p1 = app.get_ok("/v1/tokens?limit=10", &app.admin_token).await;
    let first = ids(&p1);
    let c = p1["next_cursor"].as_str().unwrap().to_string();
    app.delete(&format!("/v1/tokens/{}", first[3]), &app.admin_token)
        .await;
    let p2 = ids(&app
        .get_ok(&format!("/v1/tokens?limit=10&cursor={c}"), &app.admin_token)
        .await);
    assert_eq!(p2, all[10..20].to_vec());

    // tampered, foreign or malformed cursors are refused
    let mut flipped: Vec<char> = c.chars().collect();
    let last = flipped.len() - 1;
    flipped[last] = if flipped[last] == 'A' { 'B' } else { 'A' };
    let flipped: String = flipped.into_iter().collect();
    let mut mid: Vec<char> = c.chars().collect();
    mid[1] = if mid[1] == 'x' { 'y' } else { 'x' };
    let mid: String = mid.into_iter().collect();
    for bad in [
        flipped,
        mid,
        "abc".into(),
        "10".into(),
        "%00".into(),
        "x".repeat(5000),
    ] {
        let res = app
            .get(&format!("/v1/tokens?cursor={bad}"), &app.admin_token)
            .await;
        expect_error(res, 422, "validation_failed").await;
    }
    let other = spawn_app().await;
    let res = other
        .get(&format!("/v1/tokens?cursor={c}"), &other.admin_token)
        .await;
    expect_error(res, 422, "validation_failed").await;
}

fn plan(app: &TestApp, sql: &str) -> String {
    let db = app.store();
    let rows = db
        .query_map(
            &format!("EXPLAIN QUERY PLAN {sql}"),
            tokend::params![],
            |r| r.get::<String>(3),
        )
        .unwrap();
    rows.join("\n")
}

/// PostgreSQL's plan of `sql` with sequential scans made a last resort, so a table this
/// small is still read through an index whenever one fits.
fn pg_plan(app: &TestApp, sql: &str) -> String {
    let db = app.store();
    db.execute_batch("BEGIN; SET LOCAL enable_seqscan = off")
        .unwrap();
    let rows = db
        .query_map(&format!("EXPLAIN {sql}"), tokend::params![], |r| {
            r.get::<String>(0)
        })
        .unwrap();
    db.execute_batch("ROLLBACK").unwrap();
    rows.join("\n")
}

/// The same queries as below on PostgreSQL: each one finds its rows through an index.
fn pg_queries_use_indexes(app: &TestApp) {
    let d = "'\\x0011223344556677889900112233445566778899001122334455667788990011'::bytea";
    let p = pg_plan(
        app,
        &format!("SELECT id, owner_id FROM tokens WHERE digest = {d}"),
    );
    assert!(p.contains("tokens_digest"), "{p}");
    let p = pg_plan(
        app,
        &format!(
            "SELECT t.id, u.id FROM tokens t JOIN users u ON u.id = t.owner_id
             WHERE t.digest = {d} OR t.prev_digest = {d}"
        ),
    );
    assert!(
        p.contains("tokens_digest") && p.contains("tokens_prev_digest"),
        "{p}"
    );
    let p = pg_plan(
        app,
        "SELECT u.id FROM legacy_credentials l JOIN tokens t ON t.id = l.token_id
         JOIN users u ON u.id = t.owner_id WHERE l.uuid = 'x'",
    );
    assert!(p.contains("legacy_uuid"), "{p}");
    let select = "SELECT t.id, o.email, c.email FROM tokens t JOIN users o ON o.id = t.owner_id
                  LEFT JOIN users c ON c.id = t.creator_id WHERE 1 = 1";
    for wh in [
        "AND t.company_id = 1",
        "AND t.company_id = 1 AND t.id < 100",
        "AND (t.owner_id = 2 OR (t.company_id = 1 AND t.kind = 'shared' AND t.audience = 'company'))",
        "AND t.company_id = 1 AND t.owner_id = 2",
        "AND t.company_id = 1 AND t.name_key LIKE '%ci%' ESCAPE '\\'",
    ] {
        let p = pg_plan(app, &format!("{select} {wh} ORDER BY t.id DESC LIMIT 50"));
        assert!(!p.contains("Seq Scan on tokens"), "{wh}: {p}");
    }
    let p = pg_plan(
        app,
        "SELECT id FROM tokens WHERE enabled = 1 AND expires_at IS NOT NULL AND expires_at <= 5",
    );
    assert!(p.contains("tokens_expiry"), "{p}");
    let p = pg_plan(
        app,
        "SELECT id FROM tokens WHERE enabled = 0 AND disabled_at <= 5",
    );
    assert!(p.contains("tokens_disabled_at"), "{p}");
}

/// A full scan of the tokens table (aliased `t` or not) without an index.
fn scans_tokens(plan: &str) -> bool {
    plan.lines().any(|l| {
        let l = l.trim();
        (l == "SCAN t"
            || l == "SCAN tokens"
            || l.starts_with("SCAN t ")
            || l.starts_with("SCAN tokens "))
            && !l.contains("INDEX")
    })
}

#[tokio::test]
async fn digest_lookup_and_list_queries_use_indexes() {
    let app = spawn_app().await;
    if app.state.pool.backend() == tokend::db::Backend::Postgres {
        return pg_queries_use_indexes(&app);
    }
    let d = "x'0011223344556677889900112233445566778899001122334455667788990011'";
    // the hot-path lookup of a value's digest
    let p = plan(
        &app,
        &format!("SELECT id, owner_id FROM tokens WHERE digest = {d}"),
    );
    assert!(p.contains("SEARCH tokens USING INDEX tokens_digest"), "{p}");
    let p = plan(
        &app,
        &format!(
            "SELECT t.id, u.id FROM tokens t JOIN users u ON u.id = t.owner_id
             WHERE t.digest = {d} OR t.prev_digest = {d}"
        ),
    );
    assert!(
        p.contains("INDEX tokens_digest (digest=?)")
            && p.contains("INDEX tokens_prev_digest (prev_digest=?)"),
        "{p}"
    );
    assert!(!scans_tokens(&p), "{p}");
    let p = plan(
        &app,
        "SELECT u.id FROM legacy_credentials l JOIN tokens t ON t.id = l.token_id
         JOIN users u ON u.id = t.owner_id WHERE l.uuid = 'x'",
    );
    assert!(p.contains("INDEX legacy_uuid (uuid=?)"), "{p}");

    // the list queries of `GET /v1/tokens` (as `db::tokens::list` builds them)
    let select = "SELECT t.id, o.email, c.email FROM tokens t JOIN users o ON o.id = t.owner_id
                  LEFT JOIN users c ON c.id = t.creator_id WHERE 1 = 1";
    for (what, wh, index) in [
        ("company admin", "AND t.company_id = 1", "tokens_company"),
        ("company admin, next page", "AND t.company_id = 1 AND t.id < 100", "tokens_company"),
        (
            "non-admin",
            "AND (t.owner_id = 2 OR (t.company_id = 1 AND t.kind = 'shared' AND t.audience = 'company'))",
            "tokens_owner_name",
        ),
        ("owner filter", "AND t.company_id = 1 AND t.owner_id = 2", ""),
        ("creator filter", "AND t.company_id = 1 AND t.creator_id = 2", ""),
        ("name filter", "AND t.company_id = 1 AND t.name_key LIKE '%ci%' ESCAPE '\\'", "tokens_company"),
    ] {
        let p = plan(&app, &format!("{select} {wh} ORDER BY t.id DESC LIMIT 50"));
        assert!(!scans_tokens(&p), "{what}: {p}");
        assert!(p.contains(index), "{what}: {p}");
    }
    // the expiry and purge jobs
    let p = plan(
        &app,
        "SELECT id FROM tokens WHERE enabled = 1 AND expires_at IS NOT NULL AND expires_at <= 5",
    );
    assert!(p.contains("tokens_expiry"), "{p}");
    let p = plan(
        &app,
        "SELECT id FROM tokens WHERE enabled = 0 AND disabled_at <= 5",
    );
    assert!(p.contains("tokens_disabled_at"), "{p}");
}

#[tokio::test]
async fn bulk_enable_disable_delete_report_per_id_results() {
    let app = spawn_app().await;
    let a = app.quick_user("a@example.com", "analyst").await;
    let (a1, v1) = app.token_for(a, json!({})).await;
    let (a2, v2) = app.token_for(a, json!({})).await;
    let (_, a_tok) = app.token_for(a, json!({})).await;
    let (b, b_tok) = app.quick_user_with_token("b@example.com", "analyst").await;
    let (b1, vb) = app.token_for(b, json!({})).await;
    let missing = 987_654;

    let res = app
        .post(
            "/v1/tokens/bulk",
            &a_tok,
            json!({ "ids": [a1, b1, missing, a2], "action": "disable" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let r = body(res).await;
    let results = r["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    let got: Vec<(i64, bool)> = results
        .iter()
        .map(|x| (x["id"].as_i64().unwrap(), x["ok"] == true))
        .collect();
    assert_eq!(
        got,
        vec![(a1, true), (b1, false), (missing, false), (a2, true)]
    );
    assert_eq!(results[1]["error"]["code"], "not_found");
    assert_eq!(results[2]["error"]["code"], "not_found");
    assert_eq!(
        results[1]["error"], results[2]["error"],
        "another's token looks like a missing one"
    );
    assert!(results[0].get("error").is_none_or(Value::is_null));
    for (v, expect) in [(&v1, 401), (&v2, 401), (&vb, 200)] {
        assert_eq!(app.get("/v1/me", v).await.status(), expect);
    }
    let t = app.get_ok(&format!("/v1/tokens/{a1}"), &a_tok).await;
    assert_eq!(
        (t["enabled"].clone(), t["disabled_reason"].clone()),
        (json!(false), json!("manual"))
    );

    let r = body(
        app.post(
            "/v1/tokens/bulk",
            &a_tok,
            json!({ "ids": [a1, a2], "action": "enable" }),
        )
        .await,
    )
    .await;
    assert!(
        r["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["ok"] == true),
        "{r}"
    );
    assert_eq!(app.get("/v1/me", &v1).await.status(), 200);

    let r = body(
        app.post(
            "/v1/tokens/bulk",
            &a_tok,
            json!({ "ids": [a1, b1], "action": "delete" }),
        )
        .await,
    )
    .await;
    assert_eq!(r["results"][0]["ok"], true);
    assert_eq!(r["results"][1]["ok"], false);
    assert_eq!(
        app.get(&format!("/v1/tokens/{a1}"), &app.admin_token)
            .await
            .status(),
        404
    );
    assert_eq!(
        app.get(&format!("/v1/tokens/{b1}"), &b_tok).await.status(),
        200
    );

    // an administrator reaches both owners; a failing item does not undo the others
    let soon = rfc3339_after(app.server_now(), 30);
    let (exp, _) = app.token_for(b, json!({ "expires_at": soon })).await;
    app.advance(chrono::Duration::seconds(60));
    let r = body(
        app.post(
            "/v1/tokens/bulk",
            &app.admin_token,
            json!({ "ids": [a2, b1], "action": "disable" }),
        )
        .await,
    )
    .await;
    assert!(
        r["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["ok"] == true),
        "{r}"
    );
    let r = body(
        app.post(
            "/v1/tokens/bulk",
            &app.admin_token,
            json!({ "ids": [a2, exp, b1], "action": "enable" }),
        )
        .await,
    )
    .await;
    assert_eq!(r["results"][0]["ok"], true);
    assert_eq!(r["results"][1]["ok"], false);
    assert_eq!(r["results"][1]["error"]["code"], "expiry_in_past");
    assert_eq!(r["results"][2]["ok"], true);
    assert_eq!(app.get("/v1/me", &vb).await.status(), 200);

    // bad requests
    for (bad, status) in [
        (json!({ "ids": [a2], "action": "explode" }), 422),
        (json!({ "ids": [], "action": "disable" }), 422),
        (json!({ "ids": [a2], "action": "disable", "extra": 1 }), 400),
        (json!({ "ids": "all", "action": "disable" }), 422),
    ] {
        let res = app.post("/v1/tokens/bulk", &a_tok, bad.clone()).await;
        assert_eq!(res.status(), status, "{bad}");
    }
}

#[tokio::test]
async fn audit_records_token_changes_with_actor_token_and_ip_but_never_a_value() {
    let app = spawn_app().await;
    let a = app
        .create_user_with(
            json!({ "email": "a@example.com", "role": "analyst", "password": "password-123" }),
        )
        .await;
    let (_, a_tok) = app.token_for(a, json!({})).await;
    let t = app.create_token(&a_tok, json!({ "name": "audited" })).await;
    let tid = t["id"].as_i64().unwrap();
    let v1 = t["value"].as_str().unwrap().to_string();
    let path = format!("/v1/tokens/{tid}");
    assert_eq!(
        app.patch(&path, &a_tok, json!({ "name": "audited-2" }))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.patch(&path, &a_tok, json!({ "enabled": false }))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.patch(&path, &a_tok, json!({ "enabled": true }))
            .await
            .status(),
        200
    );
    let res = app.post(&format!("{path}/renew"), &a_tok, json!({})).await;
    let v2 = body(res).await["value"].as_str().unwrap().to_string();
    assert_eq!(
        app.post(&format!("{path}/reveal"), &a_tok, json!({}))
            .await
            .status(),
        200
    );
    let res = app
        .post(
            "/v1/tokens/bulk",
            &a_tok,
            json!({ "ids": [tid], "action": "disable" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.delete(&path, &a_tok).await.status(), 204);

    let events = app.audit_events(&format!("token_id={tid}")).await;
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "token.created",
        "token.updated",
        "token.disabled",
        "token.enabled",
        "token.renewed",
        "token.revealed",
        "token.deleted",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing in {actions:?}"
        );
    }
    assert_eq!(
        actions.iter().filter(|a| **a == "token.disabled").count(),
        2,
        "bulk is audited too"
    );
    assert_eq!(actions.first(), Some(&"token.deleted"), "newest first");
    for e in &events {
        assert_eq!(e["actor_id"], a, "{e}");
        assert_eq!(e["actor_email"], "a@example.com");
        assert_eq!(e["token_id"], tid);
        assert_eq!(e["ip"], "127.0.0.1");
        assert!(e["created_at"].is_string());
    }

    // sessions and users
    assert_eq!(
        app.login_raw("a@example.com", "wrong-password")
            .await
            .status(),
        401
    );
    assert_eq!(
        app.login_raw("a@example.com", "password-123")
            .await
            .status(),
        200
    );
    let u = app.quick_user("gone@example.com", "read_only").await;
    let up = format!("/v1/users/{u}");
    assert_eq!(
        app.patch(&up, &app.admin_token, json!({ "name": "Gone" }))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.patch(&up, &app.admin_token, json!({ "enabled": false }))
            .await
            .status(),
        200
    );
    assert_eq!(app.delete(&up, &app.admin_token).await.status(), 204);
    let fail = app.audit_events("action=session.login_failed").await;
    assert_eq!(fail.len(), 1);
    assert_eq!(fail[0]["ip"], "127.0.0.1");
    assert_eq!(fail[0]["user_id"], a);
    assert!(
        !fail[0].to_string().contains("wrong-password"),
        "no password in the log"
    );
    let ok = app.audit_events("action=session.login").await;
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0]["actor_id"], a);
    let admin_id = app.get_ok("/v1/me", &app.admin_token).await["user"]["id"].clone();
    for action in [
        "user.created",
        "user.updated",
        "user.disabled",
        "user.deleted",
    ] {
        let ev = app.audit_events(&format!("action={action}")).await;
        let e = ev
            .iter()
            .find(|e| e["user_id"] == u)
            .unwrap_or_else(|| panic!("{action}: {ev:?}"));
        assert_eq!(e["actor_id"], admin_id, "{action}");
        assert_eq!(e["ip"], "127.0.0.1");
    }

    // filters and paging
    let by_a = app.audit_events(&format!("actor_id={a}")).await;
    assert!(by_a.iter().all(|e| e["actor_id"] == a));
    assert!(by_a.len() >= 9);
    let renewed = app.audit_events("action=token.renewed").await;
    assert_eq!(renewed.len(), 1);
    let future = rfc3339_after(app.server_now(), 3600);
    assert!(app
        .audit_events(&format!("since={future}"))
        .await
        .is_empty());
    assert!(!app
        .audit_events(&format!("until={future}"))
        .await
        .is_empty());
    let p1 = app
        .get_ok(
            &format!("/v1/audit?token_id={tid}&limit=3"),
            &app.admin_token,
        )
        .await;
    let c = p1["next_cursor"].as_str().unwrap();
    let p2 = app
        .get_ok(
            &format!("/v1/audit?token_id={tid}&limit=3&cursor={c}"),
            &app.admin_token,
        )
        .await;
    let all: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert_eq!([ids(&p1), ids(&p2)].concat(), all[..6].to_vec());

    // never a value, anywhere in the log
    let text = app
        .get("/v1/audit?limit=500", &app.admin_token)
        .await
        .text()
        .await
        .unwrap();
    for v in [&v1, &v2, &a_tok, &app.admin_token] {
        assert!(
            !text.contains(&v[4..34]),
            "a token value leaked into the audit log"
        );
    }
    // reading the log needs audit:read
    expect_error(
        app.get("/v1/audit", &a_tok).await,
        403,
        "insufficient_scope",
    )
    .await;
}

#[tokio::test]
async fn audit_log_of_a_company_admin_is_limited_to_its_company() {
    let app = spawn_app().await;
    let c2 = app.create_company("Other").await;
    let (_, admin2) = app.user_in_company("boss@other.example", "admin", c2).await;
    let (_, admin1) = app.quick_user_with_token("boss@example.com", "admin").await;
    app.create_token(&admin1, json!({ "name": "c1 token" }))
        .await;
    let seen = app.get_ok("/v1/audit?limit=500", &admin2).await;
    let items = seen["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|e| e["company_id"] == c2), "{seen}");
    let global = app.audit_events("action=token.created").await;
    assert!(global.iter().any(|e| e["company_id"] != c2));
}

#[tokio::test]
async fn responses_carrying_a_value_are_not_cached() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/v1/tokens",
            &app.admin_token,
            json!({ "name": "n", "role_template": "read_only" }),
        )
        .await;
    assert_eq!(header(&res, "cache-control"), "no-store");
    let t = body(res).await;
    let id = t["id"].as_i64().unwrap();
    let res = app
        .post(
            &format!("/v1/tokens/{id}/reveal"),
            &app.admin_token,
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "cache-control"), "no-store");
    let res = app
        .send(
            Method::POST,
            &format!("/v1/tokens/{id}/renew"),
            Some(&app.admin_token),
            None,
        )
        .await;
    assert_eq!(res.status(), 200, "renew without a body");
    assert_eq!(header(&res, "cache-control"), "no-store");
    let u = app.quick_user("l@example.com", "analyst").await;
    let res = app
        .post(
            &format!("/v1/users/{u}/legacy-credentials"),
            &app.admin_token,
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(header(&res, "cache-control"), "no-store");
    let res = app
        .post("/v1/nodes", &app.admin_token, json!({ "name": "edge" }))
        .await;
    assert_eq!(header(&res, "cache-control"), "no-store");
    let res = app.login_raw(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(header(&res, "cache-control"), "no-store");
}
