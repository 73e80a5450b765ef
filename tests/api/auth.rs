//! Authentication: value format, the 401/403 forms, the headers that carry a
//! token, effective permissions, forward-auth, the hot path's database reads, last use.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

const INVALID: &str = r#"Bearer realm="tokend", error="invalid_token""#;
const MISSING: &str = r#"Bearer realm="tokend""#;
const SCOPE: &str = r#"Bearer realm="tokend", error="insufficient_scope""#;

#[tokio::test]
async fn token_values_have_the_spec_format_with_a_crc32_base62_checksum() {
    let app = spawn_app().await;
    // the checksum routine of this test matches zlib's crc32 on known vectors
    assert_eq!(crc32_ieee(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32_ieee(b""), 0);
    assert!(spec_well_formed(&app.admin_token, "tkd_"));
    let mut seen = std::collections::HashSet::new();
    for i in 0..20 {
        let t = app
            .create_token(&app.admin_token, json!({ "name": format!("v{i}") }))
            .await;
        let v = t["value"].as_str().unwrap();
        assert_eq!(v.len(), 40, "{v}");
        assert!(v.starts_with("tkd_"));
        assert!(v[4..].bytes().all(|b| b.is_ascii_alphanumeric()), "{v}");
        assert_eq!(spec_checksum(&v[4..34]), &v[34..], "checksum of {v}");
        assert_eq!(t["value_hint"], &v[..8]);
        assert!(seen.insert(v[4..34].to_string()), "random parts differ");
    }
    // node tokens use `tkn_`
    let res = app
        .post("/v1/nodes", &app.admin_token, json!({ "name": "edge-1" }))
        .await;
    assert_eq!(res.status(), 201);
    let n = body(res).await;
    let nv = n["token"]["value"].as_str().unwrap();
    assert!(spec_well_formed(nv, "tkn_"), "{nv}");
}

#[tokio::test]
async fn malformed_unknown_disabled_and_expired_values_get_the_same_401() {
    let app = spawn_app_with(|c| c.expiry_interval = Duration::from_secs(3600)).await;
    let analyst = app.quick_user("an@example.com", "analyst").await;
    let (_, good) = app.token_for(analyst, json!({})).await;
    let (_, disabled) = app.token_for(analyst, json!({ "enabled": false })).await;
    let (_, expired) = app
        .token_for(
            analyst,
            json!({ "expires_at": rfc3339_after(app.server_now(), 30) }),
        )
        .await;
    let (deleted_id, deleted) = app.token_for(analyst, json!({})).await;
    assert_eq!(
        app.delete(&format!("/v1/tokens/{deleted_id}"), &app.admin_token)
            .await
            .status(),
        204
    );
    app.advance(chrono::Duration::seconds(60));

    let random = &good[4..34];
    let mut bad_checksum = good.clone();
    let last = if good.ends_with('A') { "B" } else { "A" };
    bad_checksum.replace_range(39..40, last);
    let mut bad_alphabet = good.clone();
    bad_alphabet.replace_range(10..11, "-");
    let values = [
        ("prefix", format!("tkx_{}", &good[4..])),
        ("prefix case", format!("TKD_{}", &good[4..])),
        ("length short", good[..39].to_string()),
        ("length long", format!("{good}0")),
        ("alphabet", bad_alphabet),
        (
            "alphabet utf8",
            format!("tkd_{}é{}", &random[..29], &good[34..]),
        ),
        ("checksum", bad_checksum),
        ("garbage", "hello".to_string()),
        ("unknown well-formed", forged_value(7)),
        (
            "node prefix unknown",
            format!("tkn_{}", &forged_value(8)[4..]),
        ),
        ("deleted", deleted),
        ("disabled", disabled),
        ("expired", expired),
    ];
    assert_eq!(app.get("/v1/me", &good).await.status(), 200);
    let mut first_body: Option<String> = None;
    for (what, v) in &values {
        let res = app.get("/v1/me", v).await;
        assert_eq!(res.status(), 401, "{what}");
        assert_eq!(header(&res, "www-authenticate"), INVALID, "{what}");
        let text = res.text().await.unwrap();
        let b: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(b["error"]["code"], "invalid_token", "{what}");
        match &first_body {
            None => first_body = Some(text),
            Some(f) => assert_eq!(f, &text, "{what}: the body must not differ"),
        }
        // the same through every route, e.g. a token route and forward-auth
        let res = app.get("/v1/tokens", v).await;
        assert_eq!(res.status(), 401, "{what}");
        let res = app
            .send(Method::POST, "/v1/auth/verify", Some(v), None)
            .await;
        assert_eq!(
            (res.status().as_u16(), header(&res, "www-authenticate")),
            (401, INVALID.into()),
            "{what}"
        );
    }
    // an empty bearer and a non-bearer scheme are invalid credentials, not missing ones
    for auth in ["Bearer ", "Basic dXNlcjpwYXNz", "Token abc"] {
        let res = app
            .send_with(Method::GET, "/v1/me", &[("authorization", auth)], None)
            .await;
        assert_eq!(res.status(), 401, "{auth}");
    }
}

#[tokio::test]
async fn no_credentials_get_401_with_the_bare_bearer_challenge() {
    let app = spawn_app().await;
    for path in [
        "/v1/me",
        "/v1/tokens",
        "/v1/users",
        "/v1/auth/verify",
        "/v1/audit",
    ] {
        let res = app.send(Method::GET, path, None, None).await;
        assert_eq!(res.status(), 401, "{path}");
        assert_eq!(header(&res, "www-authenticate"), MISSING, "{path}");
        expect_error(res, 401, "unauthenticated").await;
    }
}

#[tokio::test]
async fn missing_permission_gets_403_insufficient_scope() {
    let app = spawn_app().await;
    let (_, dev) = app
        .quick_user_with_token("dev@example.com", "api_developer")
        .await;
    for (method, path) in [
        (Method::GET, "/v1/users"),
        (Method::GET, "/v1/audit"),
        (Method::GET, "/v1/settings"),
        (Method::GET, "/v1/nodes"),
        (Method::GET, "/v1/companies"),
    ] {
        let res = app.send(method, path, Some(&dev), None).await;
        assert_eq!(header(&res, "www-authenticate"), SCOPE, "{path}");
        expect_error(res, 403, "insufficient_scope").await;
    }
    let res = app
        .send(
            Method::GET,
            "/v1/auth/verify?scope=users:read",
            Some(&dev),
            None,
        )
        .await;
    assert_eq!(header(&res, "www-authenticate"), SCOPE);
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn all_four_token_headers_authenticate_and_the_first_match_wins() {
    let app = spawn_app().await;
    let (uid, value) = app.quick_user_with_token("an@example.com", "analyst").await;
    let bearer = format!("Bearer {value}");
    for (name, v) in [
        ("authorization", bearer.as_str()),
        ("x-api-token", value.as_str()),
        ("X-WallarmApi-Token", value.as_str()),
        ("WallarmApi-Token", value.as_str()),
    ] {
        let res = app
            .send_with(Method::GET, "/v1/me", &[(name, v)], None)
            .await;
        assert_eq!(res.status(), 200, "{name}");
        assert_eq!(body(res).await["user"]["id"], uid, "{name}");
        let res = app
            .send_with(Method::GET, "/v1/auth/verify", &[(name, v)], None)
            .await;
        assert_eq!(res.status(), 200, "{name} on verify");
    }
    // `bearer` is case-insensitive (RFC 6750 / 7235)
    let res = app
        .send_with(
            Method::GET,
            "/v1/me",
            &[("authorization", &format!("bearer {value}"))],
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    // first match wins: a bad Authorization is not rescued by a good X-API-Token
    let res = app
        .send_with(
            Method::GET,
            "/v1/me",
            &[("authorization", "Bearer nope"), ("x-api-token", &value)],
            None,
        )
        .await;
    assert_eq!(res.status(), 401);
    let res = app
        .send_with(
            Method::GET,
            "/v1/me",
            &[("authorization", &bearer), ("x-api-token", "nope")],
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_token_in_the_query_string_is_not_accepted() {
    let app = spawn_app().await;
    let (_, value) = app.quick_user_with_token("an@example.com", "analyst").await;
    for param in [
        "access_token",
        "token",
        "api_token",
        "x-api-token",
        "wallarmapi-token",
    ] {
        for path in ["/v1/me", "/v1/tokens", "/v1/auth/verify"] {
            let res = app
                .send(Method::GET, &format!("{path}?{param}={value}"), None, None)
                .await;
            assert_eq!(res.status(), 401, "{path}?{param}=");
            assert_eq!(header(&res, "www-authenticate"), MISSING);
        }
    }
}

#[tokio::test]
async fn effective_permissions_are_the_token_and_the_owners_current_permissions() {
    let app = spawn_app().await;
    let analyst = app.quick_user("an@example.com", "analyst").await;
    let (_, narrow) = app
        .token_for(
            analyst,
            json!({ "permissions": ["attacks:read", "rules:write", "tokens:read"] }),
        )
        .await;
    let (_, full) = app.token_for(analyst, json!({})).await;
    let me = app.get_ok("/v1/me", &narrow).await;
    assert_eq!(
        sorted_strings(&me["permissions"]),
        sorted(&["attacks:read", "rules:write", "tokens:read"])
    );
    assert_eq!(
        sorted_strings(&me["user"]["permissions"]),
        spec_role("analyst")
    );
    assert_eq!(me["auth_method"], "token");
    // the token's set limits the request even where the owner holds more
    expect_error(
        app.post("/v1/tokens", &narrow, json!({ "name": "x" }))
            .await,
        403,
        "insufficient_scope",
    )
    .await;

    // the owner's *current* permissions bound every request: change the role behind the
    // service's back (no cascade trims the stored token set) before the first use of `full`
    let db = app.store();
    db.execute(
        "UPDATE users SET role = 'api_developer' WHERE id = $1",
        tokend::params![analyst],
    )
    .unwrap();
    let me = app.get_ok("/v1/me", &full).await;
    assert_eq!(
        sorted_strings(&me["permissions"]),
        spec_role("api_developer"),
        "token ∩ owner"
    );
    let res = app
        .send(
            Method::GET,
            "/v1/auth/verify?scope=attacks:read",
            Some(&full),
            None,
        )
        .await;
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn forward_auth_verify_answers_any_method_with_identity_headers() {
    let app = spawn_app().await;
    let analyst = app.quick_user("an@example.com", "analyst").await;
    let (tid, value) = app
        .token_for(
            analyst,
            json!({ "permissions": ["attacks:read", "rules:read", "tokens:read"] }),
        )
        .await;
    let company = app.get_ok("/v1/me", &value).await["company"]["id"].clone();
    for method in [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
    ] {
        let res = app
            .send(
                method.clone(),
                "/v1/auth/verify?scope=attacks:read&scope=rules:read",
                Some(&value),
                None,
            )
            .await;
        assert_eq!(res.status(), 200, "{method}");
        assert_eq!(header(&res, "x-auth-user-id"), analyst.to_string());
        assert_eq!(header(&res, "x-auth-user-email"), "an@example.com");
        assert_eq!(header(&res, "x-auth-company-id"), company.to_string());
        assert_eq!(header(&res, "x-auth-token-id"), tid.to_string());
        let mut perms: Vec<String> = header(&res, "x-auth-permissions")
            .split(' ')
            .map(String::from)
            .collect();
        perms.sort();
        assert_eq!(
            perms,
            sorted(&["attacks:read", "rules:read", "tokens:read"])
        );
        assert!(
            res.bytes().await.unwrap().is_empty(),
            "{method}: empty body"
        );
    }
    // no scope: any valid token passes
    assert_eq!(
        app.send(Method::GET, "/v1/auth/verify", Some(&value), None)
            .await
            .status(),
        200
    );
    // every repeated scope must be held
    let res = app
        .send(
            Method::GET,
            "/v1/auth/verify?scope=attacks:read&scope=users:read",
            Some(&value),
            None,
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(header(&res, "www-authenticate"), SCOPE);
    let res = app
        .send(
            Method::GET,
            "/v1/auth/verify?scope=rules:write",
            Some(&value),
            None,
        )
        .await;
    assert_eq!(res.status(), 403);
    let res = app
        .send(
            Method::GET,
            "/v1/auth/verify?scope=attacks:read",
            None,
            None,
        )
        .await;
    assert_eq!(
        (res.status().as_u16(), header(&res, "www-authenticate")),
        (401, MISSING.into())
    );
    let res = app
        .send(Method::GET, "/v1/auth/verify", Some(&forged_value(1)), None)
        .await;
    assert_eq!(
        (res.status().as_u16(), header(&res, "www-authenticate")),
        (401, INVALID.into())
    );
    // an unknown scope is a bad request, never a pass
    let res = app
        .send(
            Method::GET,
            "/v1/auth/verify?scope=root",
            Some(&value),
            None,
        )
        .await;
    assert!(res.status().is_client_error(), "{}", res.status());
}

#[tokio::test]
async fn malformed_and_unknown_values_never_reach_the_database() {
    let app = spawn_app().await;
    let (_, good) = app.quick_user_with_token("an@example.com", "analyst").await;
    let metric = "tokend_auth_db_reads_total";
    let before = app.metric_sum(metric).await;
    let mut bad = good.clone();
    bad.replace_range(39..40, if good.ends_with('x') { "y" } else { "x" });
    for i in 0..50u64 {
        let forged = forged_value(1000 + i);
        assert_eq!(app.get("/v1/me", &forged).await.status(), 401);
        assert_eq!(
            app.send(Method::GET, "/v1/auth/verify", Some(&forged), None)
                .await
                .status(),
            401
        );
        assert_eq!(app.get("/v1/me", &bad).await.status(), 401);
        assert_eq!(app.get("/v1/me", &format!("tkd_{i}")).await.status(), 401);
    }
    assert_eq!(
        app.metric_sum(metric).await,
        before,
        "no database read for malformed/unknown values"
    );
    // the metric does count real lookups (so the check above can fail)
    let fresh = app.create_token(&good, json!({ "name": "fresh" })).await;
    assert_eq!(
        app.get("/v1/me", fresh["value"].as_str().unwrap())
            .await
            .status(),
        200
    );
    assert!(
        app.metric_sum(metric).await > before,
        "a known value costs a read"
    );
}

#[tokio::test]
async fn last_use_is_buffered_and_written_by_the_flush_job() {
    let app = spawn_app_with(|c| c.flush_interval = Duration::from_secs(3600)).await;
    let analyst = app.quick_user("an@example.com", "analyst").await;
    let (tid, value) = app.token_for(analyst, json!({})).await;
    let path = format!("/v1/tokens/{tid}");
    assert!(app.get_ok(&path, &app.admin_token).await["last_used_at"].is_null());
    assert_eq!(app.get("/v1/me", &value).await.status(), 200);
    assert_eq!(
        app.send(Method::GET, "/v1/auth/verify", Some(&value), None)
            .await
            .status(),
        200
    );
    // no write on the hot path: nothing stored until the flush
    let t = app.get_ok(&path, &app.admin_token).await;
    assert!(t["last_used_at"].is_null(), "{t}");
    let report = app.maintenance().await;
    assert!(report["flush"].as_u64().unwrap() >= 1, "{report}");
    let t = app.get_ok(&path, &app.admin_token).await;
    assert!(t["last_used_at"].is_string(), "{t}");
    assert_eq!(t["last_used_ip"], "127.0.0.1");
    assert_eq!(t["recent_ips"][0]["ip"], "127.0.0.1");
    let used = chrono::DateTime::parse_from_rfc3339(t["last_used_at"].as_str().unwrap()).unwrap();
    let delta = (app.server_now() - used.with_timezone(&chrono::Utc)).num_seconds();
    assert!((0..60).contains(&delta), "last use is recent: {delta}s");
}

#[tokio::test]
async fn me_describes_the_caller() {
    let app = spawn_app().await;
    let me = app.get_ok("/v1/me", &app.admin_token).await;
    assert_eq!(me["user"]["email"], ADMIN_EMAIL);
    assert_eq!(me["user"]["role"], "global_admin");
    assert!(me["company"]["id"].is_i64());
    assert!(me["token_id"].is_i64());
    assert_eq!(
        sorted_strings(&me["permissions"]),
        spec_role("global_admin")
    );
    assert!(me["user"].get("password_hash").is_none() && me["user"].get("password").is_none());
}
