//! SPEC §17, "no input reaches a panic": every console page and form, signed in as each kind
//! of user, with hostile and random values in every query parameter, form field and path id
//! (empty, 10 000 characters, NUL and control characters, lone `%`, invalid UTF-8 escapes
//! like `%ff`, huge and negative numbers, impossible dates, SQL and HTML, other scripts),
//! with a valid CSRF token and without one. Every request gets an answer (never a dropped
//! connection) below 500, and the server still answers `/healthz` afterwards.
//!
//! The pages come from a list that must match the router (`src/routes/pages/mod.rs`, read
//! at test time): a console route missing here fails the test, so no page skips fuzzing.
//! The values come from a seeded generator (`TOKEND_FUZZ_SEED` picks another seed), so a
//! failure is reproducible; the run is bounded (a few thousand requests, seconds).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;
use reqwest::Client;
use serde_json::json;

use crate::app::{spawn_app, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD};
use crate::http::{hidden, signed_in_as};

/// Every console route: method, path, and the query parameters (GET) or form fields (POST)
/// its handler reads. `{id}` and `{file}` are path segments, fuzzed too.
const ROUTES: &[(&str, &str, &[&str])] = &[
    ("GET", "/static/{file}", &[]),
    ("GET", "/login", &["next"]),
    ("POST", "/login", &["email", "password"]),
    ("GET", "/login/oidc", &["next"]),
    ("GET", "/login/oidc/callback", &["code", "state", "error"]),
    ("GET", "/", LIST),
    ("GET", "/tokens", LIST),
    ("POST", "/tokens", TOKEN_FORM),
    ("GET", "/tokens/new", &["owner", "back"]),
    ("POST", "/tokens/new", TOKEN_FORM),
    ("GET", "/tokens/new/owner", SELECT),
    ("POST", "/tokens/new/owner", SELECT),
    ("GET", "/console/owners", &["q"]),
    ("GET", "/tokens/value/{id}", &[]),
    (
        "POST",
        "/tokens/bulk",
        &["ids", "action", "back", "confirmed"],
    ),
    ("GET", "/tokens/{id}", &["back"]),
    ("POST", "/tokens/{id}", TOKEN_FORM),
    ("POST", "/tokens/{id}/toggle", &["enabled", "back"]),
    ("POST", "/tokens/{id}/reveal", &[]),
    (
        "POST",
        "/tokens/{id}/regenerate",
        &["grace_seconds", "confirmed"],
    ),
    ("POST", "/tokens/{id}/lock", &[]),
    ("POST", "/tokens/{id}/delete", &["confirmed", "back"]),
    ("GET", "/users", &["cursor"]),
    ("POST", "/users", USER_FORM),
    ("GET", "/users/new", &[]),
    ("GET", "/users/{id}", &[]),
    ("POST", "/users/{id}", USER_FORM),
    ("POST", "/users/{id}/legacy", &["confirmed"]),
    ("POST", "/users/{id}/delete", &["confirmed"]),
    (
        "GET",
        "/audit",
        &["action", "actor", "token", "since", "until", "cursor"],
    ),
    ("GET", "/nodes", &[]),
    ("POST", "/nodes", &["name"]),
    ("GET", "/nodes/value/{id}", &[]),
    ("POST", "/nodes/{id}/delete", &["name", "confirmed"]),
    ("GET", "/settings", &[]),
    (
        "POST",
        "/settings",
        &[
            "default_token_lifetime_days",
            "max_token_lifetime_days",
            "idle_disable_days",
            "token_reveal",
            "webhook_url",
            "webhook_secret",
            "remove_secret",
        ],
    ),
    ("GET", "/settings/scopes", &[]),
    ("POST", "/settings/scopes", &["name", "description"]),
    ("POST", "/settings/scopes/{id}/delete", &["confirmed"]),
    ("GET", "/settings/roles", &[]),
    (
        "POST",
        "/settings/roles",
        &["name", "description", "permissions"],
    ),
    ("GET", "/settings/roles/{id}", &[]),
    (
        "POST",
        "/settings/roles/{id}",
        &["name", "description", "permissions", "confirmed"],
    ),
    (
        "POST",
        "/settings/roles/{id}/delete",
        &["name", "confirmed"],
    ),
    ("GET", "/profile", &[]),
    (
        "POST",
        "/profile/password",
        &["current_password", "password", "password_confirm"],
    ),
    // Last: a valid one ends the session.
    ("POST", "/logout", &[]),
];

const LIST: &[&str] = &[
    "name",
    "user",
    "creator",
    "status",
    "kind",
    "expires_after",
    "expires_before",
    "expires_within_days",
    "sort",
    "order",
    "per_page",
    "page",
];
const TOKEN_FORM: &[&str] = &[
    "name",
    "owner",
    "description",
    "kind",
    "audience",
    "role_template",
    "permissions",
    "set_expiry",
    "expires_at",
    "enabled",
    "allowed_cidrs",
    "back",
];
const SELECT: &[&str] = &["q", "page", "name", "role_template", "permissions", "back"];
const USER_FORM: &[&str] = &[
    "email",
    "name",
    "role",
    "permissions",
    "enabled",
    "sso",
    "password",
    "current_password",
    "confirmed",
];

/// Hostile values, already in their URL-encoded form: some are deliberately not valid
/// encodings (`%`, `%ff`, `%zz`, overlong UTF-8).
fn hostile() -> Vec<String> {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let mut v: Vec<String> = [
        "",
        " ",
        "0",
        "-1",
        "1",
        "99999999999999999999",
        "18446744073709551616",
        "-9223372036854775809",
        "1e308",
        "NaN",
        "2030-13-45",
        "2030-02-30 25:61:61",
        "0000-00-00T00:00:00Z",
        "9999-12-31 23:59:59",
        "'; DROP TABLE tokens; --",
        "<script>alert(1)</script>",
        "\"><img src=x onerror=alert(1)>",
        "Ωmega ☃ 🚀 名前",
        "\u{202e}evil\u{200b}",
        "../../etc/passwd",
        "//evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "\0",
        "\u{1}\u{7f}\t\r\n",
        "true",
        "on",
        "custom",
        "global_admin",
        "admin",
        "shared",
        "company",
        "delete",
        "desc",
        "expired",
        "admin@example.com",
        "Administrator",
        "alice",
        "%",
        "*",
        "_",
        "0.0.0.0/0",
        "::/0",
        "http://127.0.0.1:1/hook",
    ]
    .iter()
    .map(|s| enc(s))
    .collect();
    v.push("a".repeat(10_000));
    v.extend(
        [
            "%",
            "%ff",
            "%zz",
            "%C0%AF",
            "%E2%82",
            "%00",
            "%FF%FE%00",
            "a%2",
            "%%%",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    v
}

/// Path segments in place of `{id}` / `{file}` (the real ids are added per run).
const SEGMENTS: &[&str] = &[
    "abc",
    "-1",
    "0",
    "99999999999999999999",
    "%ff",
    "%00",
    "..%2F..%2Fetc",
    "1e3",
    "%20",
    "console.css",
];

/// A small seeded generator (xorshift64*): reproducible without depending on a crate's API.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Random bytes, percent-encoded one by one (any byte, valid UTF-8 or not).
    fn bytes(&mut self) -> String {
        let n = self.below(40);
        (0..n)
            .map(|_| format!("%{:02X}", self.next() as u8))
            .collect()
    }

    /// A hostile value or random bytes.
    fn value(&mut self, hostile: &[String]) -> String {
        if self.below(5) == 0 {
            self.bytes()
        } else {
            self.pick(hostile).clone()
        }
    }
}

fn seed() -> u64 {
    std::env::var("TOKEND_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x746f_6b65_6e64)
}

/// The (method, path) pairs the console router declares, read from its source.
fn router_routes() -> BTreeSet<(String, String)> {
    let src = include_str!("../../src/routes/pages/mod.rs");
    let body = &src[src.find("pub fn configure").expect("configure")..];
    let mut out = BTreeSet::new();
    let mut rest = body;
    // Each path literal, and the methods named before the next path literal.
    while let Some(start) = rest.find("\"/") {
        let after = &rest[start + 1..];
        let end = after.find('"').expect("end of path");
        let path = after[..end].to_string();
        let tail = &after[end..];
        let next = tail.find("\"/").unwrap_or(tail.len());
        let segment = &tail[..next];
        for (m, needle) in [("GET", "web::get()"), ("POST", "web::post()")] {
            if segment.contains(needle) {
                out.insert((m.to_string(), path.clone()));
            }
        }
        rest = &tail[next..];
    }
    out
}

#[test]
fn fuzz_route_list_matches_the_console_router() {
    let listed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    let routed = router_routes();
    assert!(routed.len() > 30, "the router was read: {routed:?}");
    let missing: Vec<_> = routed.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "console routes not fuzzed (add them to ROUTES in tests/console/fuzz.rs): {missing:?}"
    );
    let stale: Vec<_> = listed.difference(&routed).collect();
    assert!(
        stale.is_empty(),
        "ROUTES names routes the router lacks: {stale:?}"
    );
}

/// One signed-in person and the ids their pages can name.
struct Who {
    label: &'static str,
    client: Client,
    csrf: String,
}

/// Ids that exist in the fixture (tokens, users, nodes), mixed into the path segments.
struct Fixture {
    ids: Vec<String>,
}

async fn fixture(app: &TestApp) -> (Fixture, Vec<(&'static str, String)>) {
    let admin = app.create_user("admin2@example.com", "admin").await;
    let analyst = app.create_user("analyst@example.com", "analyst").await;
    let ro = app.create_user("ro@example.com", "read_only").await;
    app.admin_post(
        "/v1/users",
        json!({
            "email": "helpdesk@example.com", "role": "custom", "password": PASSWORD,
            "permissions": ["users:read", "users:write", "tokens:read", "tokens:write", "audit:read"],
        }),
        201,
    )
    .await;
    app.admin_post(
        "/v1/users",
        json!({
            "email": "viewer@example.com", "role": "custom", "password": PASSWORD,
            "permissions": ["attacks:read", "tokens:read"],
        }),
        201,
    )
    .await;
    let mut ids = Vec::new();
    for (owner, name) in [
        (1, "root-token"),
        (admin, "admin-token"),
        (analyst, "an-token"),
        (ro, "ro-token"),
    ] {
        let (id, _) = app.token_named(owner, name, json!({})).await;
        ids.push(id.to_string());
    }
    let node = app
        .admin_post("/v1/nodes", json!({ "name": "edge" }), 201)
        .await;
    ids.push(node["node"]["id"].as_i64().expect("node id").to_string());
    ids.extend([admin, analyst, ro].iter().map(i64::to_string));
    let people = vec![
        ("global admin", ADMIN_EMAIL.to_string()),
        ("admin", "admin2@example.com".to_string()),
        ("analyst", "analyst@example.com".to_string()),
        ("read_only", "ro@example.com".to_string()),
        ("custom role", "helpdesk@example.com".to_string()),
        ("no tokens:write", "viewer@example.com".to_string()),
    ];
    (Fixture { ids }, people)
}

async fn sign_in(app: &TestApp, label: &'static str, email: &str) -> Who {
    let password = if email == ADMIN_EMAIL {
        ADMIN_PASSWORD
    } else {
        PASSWORD
    };
    let client = signed_in_as(app, email, password).await;
    let html = client
        .get(app.url("/profile"))
        .send()
        .await
        .expect("profile")
        .text()
        .await
        .expect("html");
    Who {
        label,
        client,
        csrf: hidden(&html, "csrf_token"),
    }
}

/// Requests answered by a redirect to the login page (the session ended): counted, so the
/// test can tell that the pages themselves were reached.
static TO_LOGIN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Sends one request; a dropped connection or a 5xx is a failure (returned as text).
async fn probe(
    app: &TestApp,
    who: &Who,
    method: &str,
    path: &str,
    pairs: &[(&str, String)],
    csrf: bool,
) -> Option<String> {
    let encoded: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let res = if method == "GET" {
        let url = if encoded.is_empty() {
            app.url(path)
        } else {
            format!("{}?{}", app.url(path), encoded.join("&"))
        };
        who.client.get(url).send().await
    } else {
        let mut body = encoded;
        if csrf {
            body.insert(0, format!("csrf_token={}", who.csrf));
        }
        who.client
            .post(app.url(path))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body.join("&"))
            .send()
            .await
    };
    let shown: String = format!("{method} {path} {pairs:?}")
        .chars()
        .take(300)
        .collect();
    if let Ok(r) = &res {
        if r.headers().get("location").is_some_and(|l| l == "/login") {
            TO_LOGIN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    match res {
        Err(e) => Some(format!("{}: {shown}: no answer: {e}", who.label)),
        Ok(r) if r.status().is_server_error() => {
            Some(format!("{}: {shown}: {}", who.label, r.status()))
        }
        Ok(r) if method == "POST" && !csrf && !r.status().is_client_error() => Some(format!(
            "{}: {shown}: {} without a CSRF token",
            who.label,
            r.status()
        )),
        Ok(_) => None,
    }
}

/// Every route with hostile values, for one person; returns the failures and the count.
async fn fuzz_as(app: &TestApp, who: &Who, fx: &Fixture, seed: u64) -> (Vec<String>, usize) {
    let hostile = hostile();
    let mut rng = Rng::new(seed);
    let mut failures = Vec::new();
    let mut sent = 0;
    let mut segments: Vec<String> = SEGMENTS.iter().map(|s| s.to_string()).collect();
    segments.extend(fx.ids.iter().cloned());
    for (method, template, params) in ROUTES {
        if *template == "/logout" {
            continue;
        }
        let ids: Vec<String> = if template.contains('{') {
            // Three real ids (tokens, users, nodes) and two other segments.
            let mut v: Vec<String> = (0..3).map(|_| rng.pick(&fx.ids).clone()).collect();
            v.extend((0..2).map(|_| rng.pick(&segments).clone()));
            v
        } else {
            vec![String::new()]
        };
        for id in &ids {
            let path = template.replace("{id}", id).replace("{file}", id);
            let mut cases: Vec<Vec<(&str, String)>> = vec![Vec::new()];
            // Each parameter alone, with a few values.
            for p in *params {
                for _ in 0..2 {
                    cases.push(vec![(p, rng.value(&hostile))]);
                }
            }
            // Everything at once, twice (plus a repeated key).
            for _ in 0..2 {
                let mut all: Vec<(&str, String)> =
                    params.iter().map(|p| (*p, rng.value(&hostile))).collect();
                if let Some(p) = params.first() {
                    all.push((p, rng.value(&hostile)));
                }
                cases.push(all);
            }
            // Path ids are fuzzed on their own: fewer value cases per id.
            if !id.is_empty() && !fx.ids.contains(id) {
                cases.truncate(4);
            }
            for pairs in &cases {
                sent += 1;
                if let Some(f) = probe(app, who, method, &path, pairs, true).await {
                    failures.push(f);
                }
            }
            if *method == "POST" {
                let all: Vec<(&str, String)> =
                    params.iter().map(|p| (*p, rng.value(&hostile))).collect();
                sent += 1;
                if let Some(f) = probe(app, who, method, &path, &all, false).await {
                    failures.push(f);
                }
            }
        }
    }
    // The logout form: without a token (refused), then with it (signed out).
    for csrf in [false, true] {
        sent += 1;
        if let Some(f) = probe(app, who, "POST", "/logout", &[], csrf).await {
            failures.push(f);
        }
    }
    (failures, sent)
}

/// Global admin, admin, analyst, read_only, a custom role, a user without `tokens:write`.
const PEOPLE: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_console_pages_never_5xx() {
    let start = Instant::now();
    let seed = seed();
    let mut failures = Vec::new();
    let mut sent = 0;
    // A fresh server per person: one person's fuzzing may delete or disable the others.
    for n in 0..PEOPLE {
        let app = spawn_app().await;
        let (fx, people) = fixture(&app).await;
        let (label, email) = &people[n];
        let who = sign_in(&app, label, email).await;
        let (f, s) = fuzz_as(&app, &who, &fx, seed.wrapping_add(n as u64)).await;
        failures.extend(f);
        sent += s;
        // Still alive after each person.
        let res = app.client.get(app.url("/healthz")).send().await;
        assert!(
            res.is_ok_and(|r| r.status() == 200),
            "/healthz after fuzzing as {label}"
        );
    }
    let took = start.elapsed();
    let to_login = TO_LOGIN.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "console fuzz: {sent} requests as {PEOPLE} people in {took:.1?} (seed {seed}), \
         {to_login} sent to the login page"
    );
    assert!(
        failures.is_empty(),
        "{} of {sent} requests failed (seed {seed}):\n{}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(sent > 1000, "the fuzz ran: {sent} requests");
    assert!(
        to_login * 5 < sent,
        "most requests reached a page, not the login redirect: {to_login} of {sent}"
    );
    assert!(took < Duration::from_secs(120), "bounded: {took:?}");
}
