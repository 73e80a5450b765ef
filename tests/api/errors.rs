//! Bad input: the error envelope for every kind of malformed request, never a
//! 5xx, nothing stored changes; security headers; health, readiness, API docs.

use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::helpers::*;

/// Asserts a 4xx answer in the error envelope; returns (status, code).
async fn envelope(res: Response, what: &str) -> (u16, String) {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    assert!(
        (400..500).contains(&status),
        "{what}: status {status}, body {text}"
    );
    let b: Value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{what}: not JSON: {text}"));
    let code = b["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("{what}: no code: {b}"));
    assert!(b["error"]["message"].is_string(), "{what}: no message: {b}");
    (status, code.to_string())
}

/// Every JSON-taking endpoint, with a target that exists.
async fn json_endpoints(app: &TestApp) -> Vec<(Method, String)> {
    let me = app.get_ok("/v1/me", &app.admin_token).await;
    let (tid, _) = app
        .token_for(
            me["user"]["id"].as_i64().unwrap(),
            json!({ "name": "target" }),
        )
        .await;
    let uid = app.quick_user("target@example.com", "analyst").await;
    vec![
        (Method::POST, "/v1/tokens".into()),
        (Method::PATCH, format!("/v1/tokens/{tid}")),
        (Method::POST, "/v1/tokens/bulk".into()),
        (Method::POST, format!("/v1/tokens/{tid}/renew")),
        (Method::POST, "/v1/users".into()),
        (Method::PATCH, format!("/v1/users/{uid}")),
        (Method::PATCH, "/v1/settings".into()),
        (Method::POST, "/v1/companies".into()),
        (Method::POST, "/v1/nodes".into()),
        (Method::POST, "/v1/session".into()),
    ]
}

/// What the database holds, to check that refused requests change nothing.
fn snapshot(app: &TestApp) -> String {
    let db = app.store();
    let mut out = String::new();
    for (sql, columns) in [
        (
            "SELECT id, name, enabled, permissions, expires_at, digest FROM tokens ORDER BY id",
            6,
        ),
        (
            "SELECT id, email, role, enabled, name FROM users ORDER BY id",
            5,
        ),
        (
            "SELECT id, name, token_reveal, max_token_lifetime_days FROM companies ORDER BY id",
            4,
        ),
        ("SELECT COUNT(*) FROM nodes", 1),
    ] {
        let rows = db
            .query_map(sql, tokend::params![], |r| {
                (0..columns)
                    .map(|i| r.get::<tokend::db::Col>(i).map(|c| format!("{c:?}")))
                    .collect::<tokend::db::Result<Vec<_>>>()
            })
            .unwrap();
        out.push_str(&format!("{rows:?}\n"));
    }
    out
}

#[tokio::test]
async fn malformed_bodies_get_a_4xx_envelope_and_change_nothing() {
    let app = spawn_app().await;
    let endpoints = json_endpoints(&app).await;
    let before = snapshot(&app);
    let bodies: Vec<(&str, Vec<u8>, &str, u16)> = vec![
        (
            "malformed JSON",
            b"{\"name\": ".to_vec(),
            "application/json",
            400,
        ),
        (
            "trailing garbage",
            b"{} x".to_vec(),
            "application/json",
            400,
        ),
        ("array", b"[1, 2]".to_vec(), "application/json", 400),
        ("string", b"\"name\"".to_vec(), "application/json", 400),
        ("number", b"42".to_vec(), "application/json", 400),
        (
            "bad UTF-8",
            vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'],
            "application/json",
            400,
        ),
        (
            "NUL bytes",
            b"\x00\x00\x00".to_vec(),
            "application/json",
            400,
        ),
        (
            "form body",
            b"name=x".to_vec(),
            "application/x-www-form-urlencoded",
            400,
        ),
        (
            "unknown field",
            br#"{"surprise": true}"#.to_vec(),
            "application/json",
            400,
        ),
        (
            "deep nesting",
            "[".repeat(10_000).into_bytes(),
            "application/json",
            400,
        ),
    ];
    for (method, path) in &endpoints {
        for (what, raw, ct, status) in &bodies {
            let res = app
                .send_raw(method.clone(), path, &app.admin_token, ct, raw.clone())
                .await;
            let (got, code) = envelope(res, &format!("{method} {path} {what}")).await;
            assert_eq!(got, *status, "{method} {path} {what}: {code}");
            assert_eq!(code, "bad_request", "{method} {path} {what}");
        }
        // wrong types for the fields each endpoint takes
        for wrong in [
            json!({ "name": 5 }),
            json!({ "name": ["x"] }),
            json!({ "email": {"a": 1}, "role": "analyst" }),
            json!({ "ids": "all", "action": "delete" }),
            json!({ "enabled": "yes" }),
            json!({ "expires_at": 1234 }),
            json!({ "token_reveal": true }),
        ] {
            let res = app
                .send(
                    method.clone(),
                    path,
                    Some(&app.admin_token),
                    Some(wrong.clone()),
                )
                .await;
            // A field the endpoint takes, of the wrong type: 422 naming it (SPEC §17); a
            // field it does not take: 400 naming it.
            let what = format!("{method} {path} {wrong}");
            let text = res.text().await.unwrap();
            let b: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{what}: {text}"));
            match b["error"]["code"].as_str() {
                Some("validation_failed") => assert!(
                    b["error"]["fields"]
                        .as_object()
                        .is_some_and(|f| !f.is_empty()),
                    "{what}: {b}"
                ),
                Some("bad_request") => assert!(
                    b["error"]["message"]
                        .as_str()
                        .unwrap_or("")
                        .contains("unknown field"),
                    "{what}: {b}"
                ),
                _ => panic!("{what}: {b}"),
            }
            assert!(
                !text.contains("invalid type"),
                "{what}: serde's words: {text}"
            );
        }
    }
    assert_eq!(before, snapshot(&app), "nothing stored changed");
    // an absent body is fine where the body is optional
    let renew = endpoints
        .iter()
        .find(|(_, p)| p.ends_with("/renew"))
        .unwrap();
    let res = app
        .send(Method::POST, &renew.1, Some(&app.admin_token), None)
        .await;
    assert_eq!(res.status(), 200, "renew without a body");
}

#[tokio::test]
async fn bodies_over_64_kib_get_413() {
    let app = spawn_app().await;
    let endpoints = json_endpoints(&app).await;
    let before = snapshot(&app);
    let big = json!({ "name": "big", "description": "d".repeat(70 * 1024) })
        .to_string()
        .into_bytes();
    for (method, path) in &endpoints {
        let res = app
            .send_raw(
                method.clone(),
                path,
                &app.admin_token,
                "application/json",
                big.clone(),
            )
            .await;
        let (status, code) = envelope(res, &format!("{method} {path}")).await;
        assert_eq!(
            (status, code.as_str()),
            (413, "payload_too_large"),
            "{method} {path}"
        );
    }
    // just under the limit is parsed (and then validated)
    let ok = json!({ "name": "ok", "description": "d".repeat(60 * 1024) })
        .to_string()
        .into_bytes();
    let res = app
        .send_raw(
            Method::POST,
            "/v1/tokens",
            &app.admin_token,
            "application/json",
            ok,
        )
        .await;
    assert_eq!(res.status(), 422, "description too long, but not a 413");
    assert_eq!(snapshot(&app), before, "nothing stored changed");
}

#[tokio::test]
async fn bad_ids_and_unknown_routes_get_4xx_never_5xx() {
    let app = spawn_app().await;
    let t = &app.admin_token;
    for id in [
        "abc",
        "-1",
        "0",
        "1.5",
        "99999999999999999999",
        "%00",
        "%F0%9F%92%A9",
        "1e3",
        "0x10",
        "%20",
    ] {
        for (method, path) in [
            (Method::GET, format!("/v1/tokens/{id}")),
            (Method::PATCH, format!("/v1/tokens/{id}")),
            (Method::DELETE, format!("/v1/tokens/{id}")),
            (Method::POST, format!("/v1/tokens/{id}/renew")),
            (Method::POST, format!("/v1/tokens/{id}/reveal")),
            (Method::GET, format!("/v1/users/{id}")),
            (Method::PATCH, format!("/v1/users/{id}")),
            (Method::DELETE, format!("/v1/users/{id}")),
            (Method::POST, format!("/v1/users/{id}/legacy-credentials")),
            (Method::DELETE, format!("/v1/nodes/{id}")),
        ] {
            let payload = (method == Method::PATCH).then(|| json!({ "name": "x" }));
            let res = app.send(method.clone(), &path, Some(t), payload).await;
            let (status, _) = envelope(res, &format!("{method} {path}")).await;
            assert_eq!(status, 404, "{method} {path}");
        }
    }
    for path in [
        "/v1/nope",
        "/v1/tokens/1/explode",
        "/v1/",
        "/v1/tokens/bulk/1",
    ] {
        let res = app.get(path, t).await;
        let (status, code) = envelope(res, path).await;
        assert_eq!((status, code.as_str()), (404, "not_found"), "{path}");
    }
    for (method, path) in [
        (Method::PUT, "/v1/tokens"),
        (Method::DELETE, "/v1/tokens"),
        (Method::PUT, "/v1/me"),
    ] {
        let res = app.send(method.clone(), path, Some(t), None).await;
        assert!(
            res.status().is_client_error(),
            "{method} {path}: {}",
            res.status()
        );
    }
    // bad query values: 422 naming the parameter (SPEC §17); an unknown parameter: 400
    for q in [
        "/v1/tokens?limit=%FF",
        "/v1/tokens?owner_id=1&owner_id=2",
        "/v1/audit?since=yesterday",
        "/v1/users?limit=9999",
    ] {
        let res = app.get(q, t).await;
        let (status, code) = envelope(res, q).await;
        assert_eq!((status, code.as_str()), (422, "validation_failed"), "{q}");
    }
    let res = app.get("/v1/tokens?bogus=1", t).await;
    let (status, _) = envelope(res, "unknown parameter").await;
    assert_eq!(status, 400);
    // odd header values never break authentication
    let long = format!("Bearer tkd_{}", "a".repeat(4000));
    let res = app
        .client
        .get(app.url("/v1/me"))
        .header("authorization", long)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app
        .client
        .get(app.url("/v1/me"))
        .header(
            "authorization",
            reqwest::header::HeaderValue::from_bytes(b"Bearer tkd_\xff\xfe").unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn responses_carry_security_headers() {
    let app = spawn_app().await;
    let mut responses = vec![
        (
            "healthz",
            app.client.get(app.url("/healthz")).send().await.unwrap(),
        ),
        ("me", app.get("/v1/me", &app.admin_token).await),
        ("401", app.send(Method::GET, "/v1/tokens", None, None).await),
        ("404", app.get("/v1/nope", &app.admin_token).await),
        (
            "openapi",
            app.client
                .get(app.url("/openapi.json"))
                .send()
                .await
                .unwrap(),
        ),
    ];
    responses.push((
        "create",
        app.post("/v1/tokens", &app.admin_token, json!({ "name": "h" }))
            .await,
    ));
    for (what, res) in &responses {
        let csp = header(res, "content-security-policy");
        assert!(csp.contains("default-src 'self'"), "{what}: {csp}");
        let script = csp
            .split(';')
            .find(|d| d.trim().starts_with("script-src"))
            .unwrap_or("");
        assert!(!script.contains("unsafe-inline"), "{what}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
        assert_eq!(header(res, "x-frame-options"), "DENY", "{what}");
        assert_eq!(header(res, "referrer-policy"), "no-referrer", "{what}");
        assert_eq!(header(res, "x-content-type-options"), "nosniff", "{what}");
        assert!(!header(res, "x-request-id").is_empty(), "{what}");
    }
}

#[tokio::test]
async fn health_readiness_and_api_docs_are_public() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let doc = body(res).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["paths"]["/v1/tokens"]["post"].is_object());
    let res = app.client.get(app.url("/api-docs/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().to_lowercase().contains("swagger"));
    // metrics answer on loopback
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("tokend_http_requests_total"));
}

#[tokio::test]
async fn metrics_are_refused_outside_the_allowed_addresses() {
    let app = spawn_app_with(|c| c.metrics_allow = vec!["10.0.0.0/8".parse().unwrap()]).await;
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    // a forged X-Forwarded-For does not help
    let res = app
        .client
        .get(app.url("/metrics"))
        .header("x-forwarded-for", "10.1.2.3")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
}

#[tokio::test]
async fn credentials_are_checked_before_the_body_so_bad_bodies_never_hide_401_or_403() {
    let app = spawn_app().await;
    // A well-formed but unknown token (needs no DB read) and a known node token (needs one):
    // whatever the body, the answer is about the credentials.
    let unknown = tokend::domain::token_value::TokenValue::generate(
        tokend::domain::token_value::ValueKind::Api,
    );
    let node = body(
        app.post(
            "/v1/nodes",
            &app.admin_token,
            serde_json::json!({ "name": "n1" }),
        )
        .await,
    )
    .await;
    let node_token = node["token"]["value"]
        .as_str()
        .expect("node token")
        .to_string();
    for _ in 0..20 {
        for raw in ["{not json", "[1,2]", "{\"unknown\": 1}"] {
            let res = app
                .client
                .post(app.url("/v1/tokens"))
                .bearer_auth(unknown.expose())
                .header("content-type", "application/json")
                .body(raw)
                .send()
                .await
                .expect("sent");
            assert_eq!(res.status(), 401, "unknown token with body {raw}");
            let res = app
                .client
                .post(app.url("/v1/tokens"))
                .bearer_auth(&node_token)
                .header("content-type", "application/json")
                .body(raw)
                .send()
                .await
                .expect("sent");
            assert_eq!(res.status(), 403, "node token with body {raw}");
        }
    }
}

/// A 500 for corrupt stored data: opaque body, a request id to find the log line by.
async fn assert_opaque_500(res: Response, what: &str) {
    assert_eq!(res.status(), 500, "{what}");
    let id = header(&res, "x-request-id");
    assert_eq!(id.len(), 12, "{what}: a request id");
    let b = body(res).await;
    assert_eq!(b["error"]["code"], "internal", "{what}: {b}");
    let text = b.to_string();
    assert!(
        !text.contains("corrupt") && !text.contains("bogus"),
        "{what}: {text}"
    );
}

#[tokio::test]
async fn corrupt_stored_data_is_an_error_never_a_default() {
    let app = spawn_app().await;
    let user = app.quick_user("u@example.com", "analyst").await;
    let (token, _) = app.token_for(user, json!({})).await;
    let db = app.store();
    // Corruption gets past the schema's CHECK constraints (a bad restore, a hand edit).
    let off = match app.state.pool.backend() {
        tokend::db::Backend::Sqlite => "PRAGMA ignore_check_constraints = ON",
        tokend::db::Backend::Postgres => "ALTER TABLE tokens DROP CONSTRAINT tokens_kind_check",
    };
    db.execute_batch(off).unwrap();
    // An unknown kind once read as `private`; a role as `custom`; a short digest as zeros.
    db.execute(
        "UPDATE tokens SET kind = 'bogus' WHERE id = $1",
        tokend::params![token],
    )
    .unwrap();
    assert_opaque_500(
        app.get(&format!("/v1/tokens/{token}"), &app.admin_token)
            .await,
        "unknown token kind",
    )
    .await;
    db.execute(
        "UPDATE tokens SET kind = 'private', digest = $2 WHERE id = $1",
        tokend::params![token, vec![0u8]],
    )
    .unwrap();
    assert_opaque_500(
        app.get(&format!("/v1/tokens/{token}"), &app.admin_token)
            .await,
        "a one-byte digest",
    )
    .await;
    db.execute(
        "UPDATE users SET role = 'bogus' WHERE id = $1",
        tokend::params![user],
    )
    .unwrap();
    assert_opaque_500(
        app.get(&format!("/v1/users/{user}"), &app.admin_token)
            .await,
        "unknown role",
    )
    .await;
}
