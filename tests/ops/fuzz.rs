//! Input fuzzing (bad input): arbitrary JSON, wrong types, unknown fields, huge
//! strings and numbers, bad UTF-8, bad `limit`/`cursor` values and bad ids against every route
//! of `tokend::routes::api::ROUTES`; random credentials in every auth header. Never a 5xx,
//! never a dropped connection (a panic), always the error envelope on a 4xx, and nothing
//! stored changes on a 4xx. Bounded: a fixed number of cases per property.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, TestCaseError, TestRunner};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Method;
use serde_json::{json, Map, Value};
use tokend::routes::api::ROUTES;

use crate::app::*;
use tokend_test_support::proc::new_value;

/// Cases per property; each case is one request plus two table snapshots.
const ROUTE_CASES: u32 = 600;
const AUTH_CASES: u32 = 300;

const FIELDS: &[&str] = &[
    "name",
    "description",
    "owner_id",
    "kind",
    "audience",
    "role_template",
    "permissions",
    "expires_at",
    "enabled",
    "allowed_cidrs",
    "ids",
    "action",
    "email",
    "password",
    "role",
    "sso",
    "company_id",
    "token_reveal",
    "max_token_lifetime_days",
    "idle_disable_days",
    "webhook_url",
    "webhook_secret",
    "grace_seconds",
    "version",
    "values",
    "uuid",
    "secret",
];

const HUGE_NUMBERS: &[&str] = &[
    "1e400",
    "-1e400",
    "1e-400",
    "123456789012345678901234567890",
    "18446744073709551616",
    "-9223372036854775809",
    "9223372036854775808",
    "0.1e99999",
    "-0",
    "1.7976931348623157e309",
];

const QUERY_KEYS: &[&str] = &[
    "limit",
    "cursor",
    "name",
    "owner_id",
    "creator_id",
    "status",
    "kind",
    "expires_before",
    "expires_after",
    "actor_id",
    "token_id",
    "action",
    "since",
    "until",
    "company_id",
    "scope",
    "zzz",
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(PropConfig {
        cases,
        failure_persistence: None,
        max_shrink_iters: 200,
        ..PropConfig::default()
    })
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec![0i64, 1, -1, 500, 501, i64::MAX, i64::MIN]).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,24}".prop_map(Value::String),
        (1usize..20_000).prop_map(|n| Value::String("x".repeat(n))),
        prop::sample::select(vec![
            "2000-01-01T00:00:00Z",
            "9999-12-31 23:59:59",
            "2030-02-30T00:00:00Z",
            "tomorrow",
            "read_only",
            "admin",
            "global_admin",
            "custom",
            "shared",
            "company",
            "disable",
            "delete",
            "enable",
            "show_once",
            "tokens:read",
            "users:write",
            "10.0.0.0/8",
            "::1",
            "a@b.c",
            "http://127.0.0.1:1/hook",
        ])
        .prop_map(|s| Value::String(s.to_string())),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 6, |inner| {
        let key = prop_oneof![
            3 => prop::sample::select(FIELDS).prop_map(str::to_string),
            1 => "[a-z_]{1,12}",
            1 => ".{0,6}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

/// A request body and its content type.
#[derive(Debug, Clone)]
struct Body {
    bytes: Vec<u8>,
    content_type: Option<&'static str>,
}

/// A valid-looking body for a route, which the fuzzer then bends.
fn base_body(method: &str, path: &str, fx: &Fixtures) -> Value {
    match (method, path) {
        ("POST", "/v1/session") => {
            json!({ "email": "ann@example.com", "password": "password-123" })
        }
        ("POST", "/v1/tokens") => {
            json!({ "name": "fz", "owner_id": fx.user, "role_template": "read_only" })
        }
        ("PATCH", "/v1/tokens/{id}") => json!({ "name": "renamed", "enabled": true }),
        ("POST", "/v1/tokens/bulk") => json!({ "ids": [fx.tokens[0]], "action": "enable" }),
        ("POST", "/v1/tokens/{id}/renew" | "/v1/tokens/{id}/regenerate") => {
            json!({ "grace_seconds": 0 })
        }
        ("POST", "/v1/users") => {
            json!({ "email": "fz@example.com", "role": "analyst", "password": "password-123" })
        }
        ("PATCH", "/v1/users/{id}") => json!({ "name": "Renamed" }),
        ("PATCH", "/v1/settings") => json!({ "max_token_lifetime_days": 30 }),
        ("POST", "/v1/companies") => json!({ "name": "Fuzz Inc" }),
        ("POST", "/v1/nodes") => json!({ "name": "node-fz" }),
        ("POST", "/v1/nodes/self/heartbeat") => json!({ "version": "1.0" }),
        ("POST", "/v1/revoke") => json!({ "values": ["tkd_x"] }),
        _ => json!({}),
    }
}

fn body_strategy(base: Value) -> impl Strategy<Value = Body> {
    let json_ct = prop_oneof![
        8 => Just(Some("application/json")),
        1 => Just(Some("text/plain")),
        1 => Just(None),
        1 => Just(Some("application/json; charset=utf-16")),
    ];
    let arbitrary = (json_value(), json_ct.clone()).prop_map(|(v, ct)| Body {
        bytes: serde_json::to_vec(&v).unwrap_or_default(),
        content_type: ct,
    });
    let b1 = base.clone();
    let wrong_type = (prop::sample::select(FIELDS), leaf(), any::<bool>()).prop_map(
        move |(f, v, replace_known)| {
            let mut obj = b1.clone();
            if let Some(m) = obj.as_object_mut() {
                let key = if replace_known {
                    m.keys().next().cloned().unwrap_or_else(|| f.to_string())
                } else {
                    f.to_string()
                };
                m.insert(key, v);
            }
            Body {
                bytes: serde_json::to_vec(&obj).unwrap_or_default(),
                content_type: Some("application/json"),
            }
        },
    );
    let b2 = base.clone();
    let unknown = "[a-z]{1,10}".prop_map(move |k| {
        let mut obj = b2.clone();
        if let Some(m) = obj.as_object_mut() {
            m.insert(format!("zz_{k}"), json!(1));
        }
        Body {
            bytes: serde_json::to_vec(&obj).unwrap_or_default(),
            content_type: Some("application/json"),
        }
    });
    let b3 = base.clone();
    let huge_number = (
        prop::sample::select(FIELDS),
        prop::sample::select(HUGE_NUMBERS),
    )
        .prop_map(move |(f, n)| {
            let mut text = serde_json::to_string(&b3).unwrap_or_else(|_| "{}".into());
            if text.len() > 2 {
                text.insert_str(text.len() - 1, &format!(",\"{f}\":{n}"));
            } else {
                text = format!("{{\"{f}\":{n}}}");
            }
            Body {
                bytes: text.into_bytes(),
                content_type: Some("application/json"),
            }
        });
    let bad_utf8 = (
        prop::sample::select(FIELDS),
        prop::collection::vec(any::<u8>(), 1..40),
    )
        .prop_map(|(f, junk)| {
            let mut bytes = format!("{{\"{f}\": \"").into_bytes();
            bytes.extend([0xff, 0xfe, 0xc3]);
            bytes.extend(junk);
            bytes.extend(b"\"}");
            Body {
                bytes,
                content_type: Some("application/json"),
            }
        });
    let garbage = prop::collection::vec(any::<u8>(), 0..300).prop_map(|bytes| Body {
        bytes,
        content_type: Some("application/json"),
    });
    let nested = (1usize..3000).prop_map(|depth| Body {
        bytes: format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes(),
        content_type: Some("application/json"),
    });
    let valid = Just(Body {
        bytes: serde_json::to_vec(&base).unwrap_or_default(),
        content_type: Some("application/json"),
    });
    prop_oneof![
        4 => arbitrary,
        4 => wrong_type,
        2 => unknown,
        2 => huge_number,
        2 => bad_utf8,
        1 => garbage,
        1 => nested,
        1 => valid,
        1 => Just(Body { bytes: Vec::new(), content_type: None }),
    ]
}

fn id_strategy(fx: &Fixtures) -> impl Strategy<Value = String> {
    let known: Vec<String> = fx
        .tokens
        .iter()
        .chain(fx.users.iter())
        .chain([fx.node].iter())
        .map(|i| i.to_string())
        .collect();
    prop_oneof![
        3 => prop::sample::select(known),
        3 => prop::sample::select(vec![
            "0", "-1", "abc", "9223372036854775808", "-9223372036854775809", "1e3", "0x10",
            "%20", "%00", "%FF", "1%2F2", "%E2%82%AC", "..", "999999", "1.5", "+2", "00002",
        ])
        .prop_map(str::to_string),
        1 => "1{300}",
        1 => "[a-zA-Z0-9._~-]{0,24}",
    ]
    // Never the bootstrap administrator (user 1) or its token (1): the fuzzer must keep its
    // credentials to reach the handlers.
    .prop_map(|s| if s == "1" { "0".to_string() } else { s })
}

fn query_strategy(cursors: Vec<String>) -> impl Strategy<Value = String> {
    let value = prop_oneof![
        prop::sample::select(vec![
            "-1",
            "0",
            "1",
            "500",
            "501",
            "99999999999999999999",
            "-9223372036854775809",
            "abc",
            "",
            "1.5",
            "true",
            "enabled",
            "disabled",
            "legacy",
            "2000-01-01T00:00:00Z",
            "yesterday",
            "tokens:read",
            "tokens:fly",
            "%",
            "\u{0}",
        ])
        .prop_map(str::to_string),
        "[A-Za-z0-9_=-]{0,40}",
        ".{0,12}",
        prop::sample::select(cursors),
    ];
    let pairs =
        prop::collection::vec((prop::sample::select(QUERY_KEYS), value), 0..4).prop_map(|pairs| {
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in pairs {
                s.append_pair(k, &v);
            }
            s.finish()
        });
    prop_oneof![
        4 => pairs,
        1 => "[!-~&&[^#]]{0,30}",
    ]
}

/// Objects the fuzzer aims at (never the administrator itself).
struct Fixtures {
    user: i64,
    users: Vec<i64>,
    tokens: Vec<i64>,
    node: i64,
    node_token: String,
    cursors: Vec<String>,
}

async fn fixtures(app: &TestApp) -> Fixtures {
    let user = app.create_user("ann@example.com", "analyst").await;
    let mut users = vec![user];
    for i in 0..6 {
        users.push(
            app.create_user(&format!("victim{i}@example.com"), "read_only")
                .await,
        );
    }
    let mut tokens = Vec::new();
    for (i, u) in users.iter().cycle().take(16).enumerate() {
        let (id, _) = app
            .token_for(
                *u,
                json!({ "name": format!("victim-{i}"), "role_template": "read_only" }),
            )
            .await;
        tokens.push(id);
    }
    let (s, node) = app
        .call(
            Method::POST,
            "/v1/nodes",
            Some(&app.admin_token),
            Some(json!({ "name": "n1" })),
        )
        .await;
    assert_eq!(s, 201, "{node}");
    let mut cursors = vec![String::from("")];
    for list in [
        "/v1/tokens?limit=1",
        "/v1/users?limit=1",
        "/v1/audit?limit=1",
    ] {
        let (_, page) = app
            .call(Method::GET, list, Some(&app.admin_token), None)
            .await;
        if let Some(c) = page["next_cursor"].as_str() {
            cursors.push(c.to_string());
        }
    }
    Fixtures {
        user,
        users,
        tokens,
        node: node["node"]["id"].as_i64().expect("node id"),
        node_token: node["token"]["value"]
            .as_str()
            .expect("node token")
            .to_string(),
        cursors,
    }
}

#[derive(Debug, Clone)]
struct RouteCase {
    route: usize,
    id: String,
    query: String,
    body: Option<Body>,
}

/// Checks one response: no 5xx, envelope on 4xx, nothing stored changed on 4xx.
fn check_response(
    what: &str,
    status: u16,
    content_type: &str,
    text: &str,
    before: &[Vec<String>],
    after: &[Vec<String>],
) -> Result<(), TestCaseError> {
    prop_assert!(status < 500, "{what} → {status}: {text}");
    if (400..500).contains(&status) {
        prop_assert!(
            content_type.starts_with("application/json"),
            "{what} → {status} with {content_type}: {text}"
        );
        let v: Value = serde_json::from_str(text)
            .map_err(|_| TestCaseError::fail(format!("{what} → {status}, not JSON: {text}")))?;
        prop_assert!(
            v["error"]["code"].as_str().is_some_and(|c| !c.is_empty())
                && v["error"]["message"].is_string(),
            "{what} → {status} without the error envelope: {text}"
        );
        prop_assert!(before == after, "{what} → {status} changed stored data");
    }
    Ok(())
}

#[test]
fn every_route_survives_arbitrary_input() {
    let rt = runtime();
    let (app, fx) = rt.block_on(async {
        let app = spawn_app().await;
        let fx = fixtures(&app).await;
        (app, fx)
    });
    let conn = app.db();
    let route_ix = 0..ROUTES.len();
    let bodies: Vec<_> = ROUTES
        .iter()
        .map(|(m, p, _)| base_body(m, p, &fx))
        .collect();
    let strategy = (
        route_ix,
        id_strategy(&fx),
        query_strategy(fx.cursors.clone()),
    )
        .prop_flat_map(move |(route, id, query)| {
            let body = body_strategy(bodies[route].clone());
            (
                Just(route),
                Just(id),
                Just(query),
                prop::option::weighted(0.85, body),
            )
        })
        .prop_map(|(route, id, query, body)| RouteCase {
            route,
            id,
            query,
            body,
        });
    let statuses: std::cell::RefCell<BTreeMap<u16, usize>> = Default::default();
    let mut runner = runner(ROUTE_CASES);
    let result = runner.run(&strategy, |case| {
        let (method, pattern, _) = ROUTES[case.route];
        let path = pattern.replace("{id}", &case.id);
        let url = if case.query.is_empty() {
            app.url(&path)
        } else {
            app.url(&format!("{path}?{}", case.query))
        };
        let token = if pattern.starts_with("/v1/nodes/self") {
            &fx.node_token
        } else {
            &app.admin_token
        };
        let before = snapshot(&conn);
        let (status, ct, text) = rt.block_on(async {
            let mut req = app
                .client
                .request(Method::from_bytes(method.as_bytes()).expect("method"), &url)
                .bearer_auth(token);
            if let Some(b) = &case.body {
                if let Some(ct) = b.content_type {
                    req = req.header("content-type", ct);
                }
                req = req.body(b.bytes.clone());
            }
            let res = req.send().await.map_err(|e| {
                TestCaseError::fail(format!("{method} {url}: no answer (a panic?): {e}"))
            })?;
            let status = res.status().as_u16();
            let ct = res
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let text = res
                .text()
                .await
                .map_err(|e| TestCaseError::fail(format!("{method} {url}: body: {e}")))?;
            Ok::<_, TestCaseError>((status, ct, text))
        })?;
        *statuses.borrow_mut().entry(status).or_default() += 1;
        let after = snapshot(&conn);
        check_response(
            &format!("{method} {url}"),
            status,
            &ct,
            &text,
            &before,
            &after,
        )
    });
    let statuses = statuses.into_inner();
    eprintln!("route fuzz: {ROUTE_CASES} cases, statuses {statuses:?}");
    if let Err(e) = result {
        panic!("{e}");
    }
    // The administrator survived the run, so the cases reached the handlers.
    let (s, _) = rt.block_on(app.call(Method::GET, "/v1/me", Some(&app.admin_token), None));
    assert_eq!(s, 200);
    assert!(
        statuses.keys().any(|s| (200..300).contains(s)),
        "some cases succeed"
    );
    assert!(statuses.len() >= 5, "a spread of outcomes: {statuses:?}");
}

fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![8 => 0x20u8..0x7f, 1 => 0x80u8..=0xff, 1 => Just(b'\t')];
    let random = prop::collection::vec(byte, 0..120);
    let prefixed = (
        prop::sample::select(vec![
            "Bearer ",
            "bearer ",
            "BEARER  ",
            "Basic ",
            "Token ",
            "Bearer tkd_",
            "Bearer tkn_",
            "tkd_",
            "",
        ]),
        "[0-9A-Za-z]{0,40}",
    )
        .prop_map(|(p, s)| format!("{p}{s}").into_bytes());
    let near_valid = (0usize..40, "[0-9A-Za-z!]").prop_map(|(pos, c)| {
        let mut v = new_value().into_bytes();
        let i = pos.min(v.len() - 1);
        v[i] = c.as_bytes()[0];
        let mut out = b"Bearer ".to_vec();
        out.extend(v);
        out
    });
    let unknown_valid = Just(()).prop_map(|_| format!("Bearer {}", new_value()).into_bytes());
    prop_oneof![3 => random, 3 => prefixed, 2 => near_valid, 1 => unknown_valid]
}

#[derive(Debug, Clone)]
struct AuthCase {
    headers: Vec<(&'static str, Vec<u8>)>,
    target: usize,
}

const AUTH_TARGETS: &[(&str, &str)] = &[
    ("GET", "/v1/me"),
    ("GET", "/v1/auth/verify?scope=tokens:read"),
    ("POST", "/v1/tokens"),
    ("GET", "/v1/nodes/self"),
];

#[test]
fn random_credentials_never_authenticate_or_fail_the_server() {
    let rt = runtime();
    let app = rt.block_on(spawn_app());
    let conn = app.db();
    let names = prop::sample::select(vec![
        "authorization",
        "x-api-token",
        "x-wallarmapi-token",
        "wallarmapi-token",
        "x-wallarmapi-uuid",
        "x-wallarmapi-secret",
        "cookie",
        "x-csrf-token",
    ]);
    let strategy = (
        prop::collection::vec((names, header_bytes()), 1..4),
        0..AUTH_TARGETS.len(),
    )
        .prop_map(|(headers, target)| AuthCase { headers, target });
    let mut runner = runner(AUTH_CASES);
    let statuses: std::cell::RefCell<BTreeMap<u16, usize>> = Default::default();
    let result = runner.run(&strategy, |case| {
        let (method, path) = AUTH_TARGETS[case.target];
        let before = snapshot(&conn);
        let (status, ct, text) = rt.block_on(async {
            let mut req = app
                .client
                .request(
                    Method::from_bytes(method.as_bytes()).expect("method"),
                    app.url(path),
                )
                .header("content-type", "application/json")
                .body(r#"{"name":"fz","role_template":"read_only"}"#);
            for (name, bytes) in &case.headers {
                let mut v = bytes.clone();
                if *name == "cookie" {
                    let mut c = b"tokend_session=".to_vec();
                    c.extend(v);
                    v = c;
                }
                if let Ok(value) = HeaderValue::from_bytes(&v) {
                    req = req.header(HeaderName::from_static(name), value);
                }
            }
            let res = req
                .send()
                .await
                .map_err(|e| TestCaseError::fail(format!("{method} {path}: no answer: {e}")))?;
            let status = res.status().as_u16();
            let ct = res
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            Ok::<_, TestCaseError>((status, ct, res.text().await.unwrap_or_default()))
        })?;
        *statuses.borrow_mut().entry(status).or_default() += 1;
        prop_assert!(
            matches!(status, 400 | 401 | 403),
            "{method} {path} with {:?} → {status}: {text}",
            case.headers
        );
        let after = snapshot(&conn);
        check_response(
            &format!("{method} {path}"),
            status,
            &ct,
            &text,
            &before,
            &after,
        )
    });
    eprintln!(
        "auth header fuzz: {AUTH_CASES} cases, statuses {:?}",
        statuses.into_inner()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Sends a raw HTTP/1.1 request and returns the status line's code and the body.
fn raw(port: u16, request: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    // The server may answer 413 and close before reading everything: a failed write is fine.
    let _ = s.write_all(request);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).to_string();
    let code = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (code, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_64_kib_answer_413_on_every_route() {
    let app = spawn_app().await;
    let fx = fixtures(&app).await;
    let conn = app.db();
    let (_, doc) = app.call(Method::GET, "/openapi.json", None, None).await;
    let big = json!({ "name": "x".repeat(70 * 1024), "description": "y" }).to_string();
    for (method, pattern, _) in ROUTES {
        let path = pattern.replace("{id}", &fx.tokens[1].to_string());
        let token = if pattern.starts_with("/v1/nodes/self") {
            &fx.node_token
        } else {
            &app.admin_token
        };
        let before = snapshot(&conn);
        // With a Content-Length: refused up front, whatever the route.
        let res = app
            .client
            .request(
                Method::from_bytes(method.as_bytes()).expect("method"),
                app.url(&path),
            )
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        assert_eq!(
            status,
            413,
            "{method} {path} with a {} byte body: {text}",
            big.len()
        );
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        assert_eq!(
            v["error"]["code"], "payload_too_large",
            "{method} {path}: {text}"
        );
        // Chunked, without a length: refused by every route that reads a body.
        let takes_body = !doc["paths"][pattern][method.to_lowercase()]["requestBody"].is_null();
        if takes_body {
            let mut req = format!(
                "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            )
            .into_bytes();
            for chunk in big.as_bytes().chunks(8192) {
                req.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
                req.extend(chunk);
                req.extend(b"\r\n");
            }
            req.extend(b"0\r\n\r\n");
            let (code, body) = raw(app.port, &req);
            assert_eq!(code, 413, "{method} {path} chunked: {body}");
        }
        assert_eq!(
            snapshot(&conn),
            before,
            "{method} {path}: a 413 changed stored data"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_array_is_never_taken_for_an_object() {
    // serde would fill a struct's fields by position from an array (`["Acme"]` → a company
    // named Acme); the interface counts it as a wrong type.
    let app = spawn_app().await;
    let fx = fixtures(&app).await;
    let conn = app.db();
    let (_, doc) = app.call(Method::GET, "/openapi.json", None, None).await;
    let mut checked = 0;
    for (method, pattern, _) in ROUTES {
        if doc["paths"][pattern][method.to_lowercase()]["requestBody"].is_null() {
            continue;
        }
        let path = pattern.replace("{id}", &fx.tokens[2].to_string());
        let token = if pattern.starts_with("/v1/nodes/self") {
            &fx.node_token
        } else {
            &app.admin_token
        };
        for body in [
            json!([]),
            json!([null, null]),
            json!(["Acme"]),
            json!(["fz@example.com", "analyst", "password-123"]),
        ] {
            let before = snapshot(&conn);
            let (status, v) = app
                .call(
                    Method::from_bytes(method.as_bytes()).expect("method"),
                    &path,
                    Some(token),
                    Some(body.clone()),
                )
                .await;
            assert_eq!(status, 400, "{method} {path} with {body}: {v}");
            assert_eq!(v["error"]["code"], "bad_request");
            assert_eq!(
                snapshot(&conn),
                before,
                "{method} {path} with {body} changed stored data"
            );
        }
        checked += 1;
    }
    assert!(checked >= 10, "routes with a body: {checked}");
}
