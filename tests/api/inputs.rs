//! Rules 43–45 and 47 through HTTP: webhook targets that are not global unicast, control
//! characters in any input (run these on PostgreSQL too: `TOKEND_TEST_PG`), secrets that never
//! print, and client addresses compared normalised.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use tokend_test_support::PASSWORD;

/// Webhook URLs naming an address that is not global unicast, each written so that the
/// rule 33 filter alone (loopback, private, link-local, unspecified) let it through.
const NOT_GLOBAL: &[&str] = &[
    "http://[64:ff9b::a9fe:a9fe]/", // NAT64 of 169.254.169.254 (cloud metadata)
    "http://[64:ff9b::7f00:1]/",    // NAT64 of 127.0.0.1
    "http://[64:ff9b:1::a9fe:a9fe]/", // local-use NAT64 prefix
    "http://[2002:7f00:1::1]/",     // 6to4 of 127.0.0.1
    "http://[2002:a9fe:a9fe::1]/",  // 6to4 of 169.254.169.254
    "http://[::ffff:0:7f00:1]/",    // SIIT ::ffff:0:0:0/96 of 127.0.0.1
    "http://[::ffff:0:a00:1]/",     // SIIT of 10.0.0.1
    "http://198.18.0.1/",           // benchmarking 198.18.0.0/15
    "http://198.19.255.254/",
    "http://192.0.0.8/",  // IETF protocol assignments 192.0.0.0/24
    "http://192.0.2.10/", // documentation
    "http://224.0.0.1/",  // multicast
    "http://239.255.255.250:1900/",
    "http://240.0.0.1/",                              // reserved
    "http://255.255.255.255/",                        // broadcast
    "http://[ff02::1]/",                              // IPv6 multicast
    "http://[2001:db8::1]/",                          // documentation
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", // Teredo
    "http://[100::1]/",                               // discard-only
    "http://[fec0::1]/",                              // site-local
];

async fn settings(app: &TestApp) -> Value {
    app.get_ok("/v1/settings", &app.admin_token).await
}

#[tokio::test]
async fn rule_43_webhook_targets_that_are_not_global_unicast_are_refused() {
    let app = spawn_app().await;
    let before = settings(&app).await;
    assert_eq!(before["webhook_url"], Value::Null);
    for url in NOT_GLOBAL {
        let res = app
            .patch(
                "/v1/settings",
                &app.admin_token,
                json!({ "webhook_url": url, "token_reveal": "show_once" }),
            )
            .await;
        expect_error(res, 422, "webhook_target_forbidden").await;
        assert_eq!(settings(&app).await, before, "{url}: nothing stored");
    }
    // A global address is accepted (no DNS needed for a literal).
    let res = app
        .patch(
            "/v1/settings",
            &app.admin_token,
            json!({ "webhook_url": "https://93.184.216.34/hook" }),
        )
        .await;
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );
}

#[tokio::test]
async fn rule_43_the_private_override_still_allows_them() {
    let app = spawn_app_with(|c| c.webhook_allow_private = true).await;
    for url in ["http://[64:ff9b::7f00:1]/", "http://198.18.0.1/"] {
        let res = app
            .patch(
                "/v1/settings",
                &app.admin_token,
                json!({ "webhook_url": url }),
            )
            .await;
        assert_eq!(res.status(), 200, "{url}");
    }
}

/// The control characters each input is tried with.
const CONTROLS: [&str; 3] = ["\u{0}", "\u{1}", "\u{1b}"];

/// Everything a bad input could have changed, read through the API (without the fields that
/// every request moves: last use and last contact).
async fn snapshot(app: &TestApp) -> Value {
    let t = &app.admin_token;
    let mut all = json!({
        "tokens": app.get_ok("/v1/tokens?limit=500", t).await,
        "users": app.get_ok("/v1/users?limit=500", t).await,
        "companies": app.get_ok("/v1/companies", t).await,
        "nodes": app.get_ok("/v1/nodes", t).await,
        "settings": app.get_ok("/v1/settings", t).await,
    });
    strip_moving(&mut all);
    all
}

fn strip_moving(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.starts_with("last_used") && !k.starts_with("last_seen"));
            m.remove("recent_ips");
            m.values_mut().for_each(strip_moving);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_moving),
        _ => {}
    }
}

#[tokio::test]
async fn rule_44_control_characters_in_any_input_are_422_and_change_nothing() {
    let app = spawn_app().await;
    let admin = app.admin_token.clone();
    let user = app.create_user("ctl@example.com", "admin").await;
    let (token_id, _) = app
        .token_for(
            user,
            json!({ "name": "ci", "permissions": ["tokens:read"] }),
        )
        .await;
    let node = body(
        app.post("/v1/nodes", &admin, json!({ "name": "edge" }))
            .await,
    )
    .await;
    let node_token = node["token"]["value"]
        .as_str()
        .expect("node value")
        .to_string();
    let before = snapshot(&app).await;

    for c in CONTROLS {
        let tries: Vec<(Method, String, Option<&str>, Value)> = vec![
            (
                Method::POST,
                "/v1/tokens".into(),
                Some(&admin),
                json!({ "name": format!("n{c}"), "permissions": ["tokens:read"] }),
            ),
            (
                Method::POST,
                "/v1/tokens".into(),
                Some(&admin),
                json!({ "name": "d", "description": format!("d{c}"), "permissions": ["tokens:read"] }),
            ),
            (
                Method::PATCH,
                format!("/v1/tokens/{token_id}"),
                Some(&admin),
                json!({ "name": format!("n{c}") }),
            ),
            (
                Method::PATCH,
                format!("/v1/tokens/{token_id}"),
                Some(&admin),
                json!({ "description": format!("x{c}y") }),
            ),
            (
                Method::POST,
                "/v1/users".into(),
                Some(&admin),
                json!({ "email": format!("a{c}@example.com"), "role": "analyst", "password": PASSWORD }),
            ),
            (
                Method::POST,
                "/v1/users".into(),
                Some(&admin),
                json!({ "email": "b@example.com", "name": format!("B{c}"), "role": "analyst", "password": PASSWORD }),
            ),
            (
                Method::POST,
                "/v1/users".into(),
                Some(&admin),
                json!({ "email": "c@example.com", "role": "analyst", "password": format!("password{c}123") }),
            ),
            (
                Method::PATCH,
                format!("/v1/users/{user}"),
                Some(&admin),
                json!({ "name": format!("N{c}") }),
            ),
            (
                Method::PATCH,
                format!("/v1/users/{user}"),
                Some(&admin),
                json!({ "email": format!("ctl{c}@example.com") }),
            ),
            (
                Method::POST,
                format!("/v1/users/{user}/legacy-credentials"),
                Some(&admin),
                json!({ "uuid": "6f1c2b1e-8d4a-4c3e-9b7a-2e5d1f0a9c3b", "secret": format!("0123456789abcdef{c}") }),
            ),
            (
                Method::POST,
                "/v1/companies".into(),
                Some(&admin),
                json!({ "name": format!("Acme{c}") }),
            ),
            (
                Method::POST,
                "/v1/nodes".into(),
                Some(&admin),
                json!({ "name": format!("edge{c}") }),
            ),
            (
                Method::POST,
                "/v1/nodes/self/heartbeat".into(),
                Some(&node_token),
                json!({ "version": format!("1.0{c}") }),
            ),
            (
                Method::PATCH,
                "/v1/settings".into(),
                Some(&admin),
                json!({ "webhook_url": format!("https://93.184.216.34/{c}") }),
            ),
            (
                Method::PATCH,
                "/v1/settings".into(),
                Some(&admin),
                json!({ "webhook_secret": format!("0123456789abcdef{c}") }),
            ),
            (
                Method::PATCH,
                "/v1/settings".into(),
                Some(&admin),
                json!({ "token_reveal": format!("allowed{c}") }),
            ),
            (
                Method::POST,
                "/v1/revoke".into(),
                None,
                json!({ "values": [format!("tkd_{c}")] }),
            ),
        ];
        for (method, path, token, body_json) in tries {
            let res = app
                .send(method.clone(), &path, token, Some(body_json.clone()))
                .await;
            let what = format!("{method} {path} {body_json}");
            let got = res.status().as_u16();
            let b = body(res).await;
            assert_eq!(got, 422, "{what}: {b}");
            assert_eq!(b["error"]["code"], "validation_failed", "{what}: {b}");
        }
        // Query filters.
        let e = percent(c);
        for path in [
            format!("/v1/tokens?name={e}"),
            format!("/v1/tokens?name=ci{e}"),
            format!("/v1/audit?action={e}"),
            format!("/v1/audit?action=token.created{e}"),
        ] {
            let res = app.get(&path, &admin).await;
            let got = res.status().as_u16();
            let b = body(res).await;
            assert_eq!(got, 422, "GET {path}: {b}");
            assert_eq!(b["error"]["code"], "validation_failed", "GET {path}: {b}");
        }
        for path in [
            format!("/v1/users?cursor={e}"),
            format!("/v1/nodes?cursor={e}"),
        ] {
            let got = app.get(&path, &admin).await.status().as_u16();
            assert!((400..500).contains(&got), "GET {path}: {got}");
        }
        // Rule 28's cousin: a sign-in email that does not parse is a failed sign-in (401),
        // and it is stored nowhere.
        for email in [format!("ctl{c}@example.com"), format!("{ADMIN_EMAIL}{c}")] {
            let res = app.login_raw(&email, PASSWORD).await;
            expect_error(res, 401, "invalid_credentials").await;
        }
    }
    // Tab and line breaks are allowed in descriptions, and only there.
    let res = app
        .patch(
            &format!("/v1/tokens/{token_id}"),
            &admin,
            json!({ "name": "a\tb" }),
        )
        .await;
    expect_error(res, 422, "validation_failed").await;
    assert_eq!(snapshot(&app).await, before, "nothing changed");
    let text = "line one\r\n\tline two\nend";
    let res = app
        .patch(
            &format!("/v1/tokens/{token_id}"),
            &admin,
            json!({ "description": text }),
        )
        .await;
    assert_eq!(body(res).await["description"], text);
    // No audit record carries a control character (JSON writes them as `\u00XX`).
    let audit = app.get_ok("/v1/audit?limit=500", &admin).await;
    for e in audit["items"].as_array().expect("items") {
        let text = e.to_string();
        assert!(
            !["\\u0000", "\\u0001", "\\u001b"]
                .iter()
                .any(|c| text.contains(c)),
            "{e}"
        );
    }
}

/// `c` percent-encoded for a query string.
fn percent(c: &str) -> String {
    c.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// Rule 45: `Debug` of what holds a secret shows that it is there, never what it is.
#[test]
fn rule_45_debug_never_shows_a_secret() {
    use tokend::config::Config;
    use tokend::startup::Bootstrap;

    let url = "postgresql://tokend:pw?7@x@db1:5432,db2/tokend?password=pw2";
    let config = Config::for_tests(url.into());
    let boot = Bootstrap {
        admin_email: Some("a@b.io".into()),
        admin_password: Some("pw-bootstrap".into()),
        admin_token: Some("tkd_pwtoken".into()),
    };
    let company = tokend::db::companies::Company {
        id: 1,
        name: "Acme".into(),
        reveal_allowed: true,
        max_token_lifetime_days: None,
        idle_disable_days: None,
        default_token_lifetime_days: 30,
        webhook_url: Some("https://example.com/h".into()),
        webhook_secret: Some("pw-webhook-secret".into()),
        created_at: 0,
    };
    let update: tokend::service::companies::UpdateSettings =
        serde_json::from_value::<tokend::routes::api::wire::companies::UpdateSettings>(
            json!({ "webhook_secret": "pw-webhook-secret" }),
        )
        .unwrap()
        .into();
    let printed = [
        format!("{config:?}"),
        format!("{boot:?}"),
        format!("{company:?}"),
        format!("{update:?}"),
    ];
    for p in &printed {
        assert!(!p.contains("pw"), "{p}");
        assert!(p.contains("***") || p.contains("<redacted>"), "{p}");
    }
    assert!(
        printed[0].contains("db1:5432,db2"),
        "the hosts stay: {}",
        printed[0]
    );
    assert!(printed[2].contains("https://example.com/h"));
}

/// Rule 47: a server listening on `[::]` sees IPv4 clients as `::ffff:a.b.c.d`; they are
/// compared (and recorded) as the IPv4 addresses they are.
#[tokio::test]
async fn rule_47_ipv4_clients_of_a_dual_stack_listener_match_ipv4_cidrs() {
    let app = spawn_app_with(|c| c.bind = "[::]:0".parse().expect("bind")).await;
    // Reach it over IPv4 (the peer is `::ffff:127.0.0.1`) and as the mapped address itself.
    for base in [
        format!("http://127.0.0.1:{}", app.port),
        format!("http://[::ffff:127.0.0.1]:{}", app.port),
    ] {
        let user = app
            .create_user(&format!("dual{}@example.com", rand_suffix()), "analyst")
            .await;
        let (id, bound) = app
            .token_for(
                user,
                json!({
                    "name": "bound",
                    "permissions": ["tokens:read"],
                    "allowed_cidrs": ["127.0.0.1/32"]
                }),
            )
            .await;
        let res = app
            .client
            .get(format!("{base}/v1/me"))
            .bearer_auth(&bound)
            .send()
            .await
            .expect("me");
        assert_eq!(res.status(), 200, "{base}: the binding matches");
        app.maintenance().await;
        let view = app.token_view(id).await;
        assert_eq!(
            view["recent_ips"][0]["ip"], "127.0.0.1",
            "{base}: recorded as IPv4: {view}"
        );
        // The metrics allow-list (127.0.0.0/8 by default) matches too.
        let res = app
            .client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .expect("metrics");
        assert_eq!(res.status(), 200, "{base}: /metrics");
    }
}

#[tokio::test]
async fn rule_47_trusted_proxies_given_as_ipv4_match_a_mapped_peer() {
    let app = spawn_app_with(|c| {
        c.bind = "[::]:0".parse().expect("bind");
        c.trusted_proxies = vec!["127.0.0.1/32".parse().expect("net")];
    })
    .await;
    let user = app.create_user("proxied@example.com", "analyst").await;
    let (id, value) = app
        .token_for(
            user,
            json!({ "name": "p", "permissions": ["tokens:read"], "allowed_cidrs": ["203.0.113.0/24"] }),
        )
        .await;
    let res = app
        .client
        .get(format!("http://[::ffff:127.0.0.1]:{}/v1/me", app.port))
        .bearer_auth(&value)
        // The proxy, itself reached over IPv4 on a dual-stack listener, forwards the mapped form.
        .header("X-Forwarded-For", "::ffff:203.0.113.9")
        .send()
        .await
        .expect("me");
    assert_eq!(res.status(), 200, "the forwarded client is used");
    app.maintenance().await;
    assert_eq!(
        app.token_view(id).await["recent_ips"][0]["ip"],
        "203.0.113.9"
    );
}

/// The value of `name="{field}" value="…"` in a page.
fn hidden(html: &str, field: &str) -> String {
    let key = format!("name=\"{field}\" value=\"");
    let start = html
        .find(&key)
        .unwrap_or_else(|| panic!("no {field} in page"))
        + key.len();
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Posts an urlencoded form, as a browser does.
async fn post_form(c: &reqwest::Client, url: String, pairs: &[(&str, &str)]) -> reqwest::Response {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    c.post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("form posted")
}

/// Rule 44 in the console: the sign-in form, a signed form and the list filters answer a
/// control character with a 4xx page (never a 500), and nothing is stored.
#[tokio::test]
async fn rule_44_console_forms_and_filters_refuse_control_characters() {
    let app = spawn_app().await;
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let login = |c: reqwest::Client, email: String| {
        let app = &app;
        async move {
            let page = c.get(app.url("/login")).send().await.expect("login page");
            let csrf = hidden(&page.text().await.expect("html"), "csrf_token");
            post_form(
                &c,
                app.url("/login"),
                &[
                    ("csrf_token", &csrf),
                    ("email", &email),
                    ("password", ADMIN_PASSWORD),
                ],
            )
            .await
        }
    };
    for ctl in CONTROLS {
        let res = login(c.clone(), format!("{ADMIN_EMAIL}{ctl}")).await;
        assert_eq!(res.status(), 401, "sign-in with {ctl:?} in the email");
        let html = res.text().await.expect("html");
        assert!(!html.contains(ctl), "the email is not echoed back");
    }
    let res = login(c.clone(), ADMIN_EMAIL.to_string()).await;
    assert_eq!(res.status(), 303, "signed in");
    let before = settings(&app).await;
    let page = c.get(app.url("/settings")).send().await.expect("settings");
    let csrf = hidden(&page.text().await.expect("html"), "csrf_token");
    for ctl in CONTROLS {
        let secret = format!("0123456789abcdef{ctl}");
        let url = format!("https://93.184.216.34/{ctl}");
        for (field, value) in [("webhook_secret", &secret), ("webhook_url", &url)] {
            let res = post_form(
                &c,
                app.url("/settings"),
                &[("csrf_token", &csrf), ("reveal", "allowed"), (field, value)],
            )
            .await;
            assert_eq!(res.status(), 422, "{field} with {ctl:?}");
        }
        let e = percent(ctl);
        for path in [
            format!("/audit?action={e}"),
            format!("/tokens?name={e}"),
            format!("/console/owners?q={e}"),
            format!("/tokens?owner=a{e}%40example.com"),
            // Any filter the page cannot read (it once divided by a page size of zero).
            "/tokens?status=bogus".to_string(),
        ] {
            let got = c.get(app.url(&path)).send().await.expect("page").status();
            assert!(got.as_u16() < 500, "GET {path}: {got}");
        }
    }
    assert_eq!(settings(&app).await, before, "nothing stored");
    let audit = app.get_ok("/v1/audit?limit=500", &app.admin_token).await;
    assert!(!audit.to_string().contains("\\u0000"), "{audit}");
}
