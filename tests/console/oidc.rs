//! *Sign in with SSO* through OpenID Connect (rule 18), in Chromium, against a real provider:
//! the certified `oidc-provider` package started on loopback by `tests/oidc/provider.mjs`
//! (installed into `.oidc/` by scripts/install-test-deps, which runs when it is missing).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Once};

use serde_json::{json, Value};
use tokend::config::{OidcConfig, Secret};
use tokend::domain::roles::Role;

use crate::browser::{Browser, Options};
use crate::spawn::{self, Spawned};

const CLIENT_ID: &str = "tokend-test";
const CLIENT_SECRET: &str = "a client secret for the tests";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Installs node and oidc-provider when this machine lacks them (never skipped).
fn ensure_provider_installed() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let installed = root().join(".oidc/node_modules/oidc-provider/package.json");
        if !installed.exists() || Command::new("node").arg("--version").output().is_err() {
            let ok = Command::new(root().join("scripts/install-test-deps"))
                .status()
                .expect("scripts/install-test-deps runs");
            assert!(ok.success(), "scripts/install-test-deps failed");
        }
    });
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A running `oidc-provider`; killed (with its process group) on drop.
struct Provider {
    child: Child,
}

impl Provider {
    /// Starts the provider on `port` for a client redirecting to `redirect`; its signing keys
    /// carry the key id prefix `kid` and ID tokens are signed with `alg`.
    fn start(port: u16, redirect: &str, kid: &str, alg: &str) -> Provider {
        ensure_provider_installed();
        let mut child = Command::new("node")
            .arg(root().join("tests/oidc/provider.mjs"))
            .env("OIDC_MODULES", root().join(".oidc/node_modules"))
            .env("PORT", port.to_string())
            .env("CLIENT_ID", CLIENT_ID)
            .env("CLIENT_SECRET", CLIENT_SECRET)
            .env("REDIRECT_URI", redirect)
            .env("KID", kid)
            .env("ID_TOKEN_ALG", alg)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("node runs (scripts/install-test-deps installs it)");
        let out = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(out);
        let mut line = String::new();
        reader.read_line(&mut line).expect("provider output");
        // Keep draining its output: a closed pipe would end the provider at its next line.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        assert_eq!(
            line.trim(),
            format!("issuer http://127.0.0.1:{port}"),
            "the provider did not start"
        );
        Provider { child }
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

fn oidc_config(port: u16, redirect: Option<String>, provision: Option<Role>) -> OidcConfig {
    OidcConfig {
        issuer: format!("http://127.0.0.1:{port}"),
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.parse::<Secret>().expect("secret"),
        redirect_url: redirect,
        auto_provision: provision,
    }
}

/// tokend configured for a provider on `port` (which need not run yet).
async fn spawn_with_oidc(port: u16, redirect: Option<String>, provision: Option<Role>) -> Spawned {
    spawn::spawn(crate::app::ADMIN_EMAIL, crate::app::ADMIN_PASSWORD, |c| {
        c.oidc = Some(oidc_config(port, redirect, provision));
    })
    .await
}

async fn create_user(app: &Spawned, email: &str, sso: bool) {
    let mut body = json!({ "email": email, "role": "analyst", "sso": sso });
    if !sso {
        body["password"] = json!(crate::app::PASSWORD);
    }
    let res = spawn::client()
        .post(format!("{}/v1/users", app.address))
        .bearer_auth(&app.admin_token)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(
        res.status().as_u16(),
        201,
        "{}",
        res.text().await.unwrap_or_default()
    );
}

/// The `session.login*` audit events, oldest first, as (action, details).
fn login_events(app: &Spawned) -> Vec<(String, Value)> {
    let conn = rusqlite::Connection::open(&app.db_path).expect("db");
    let mut st = conn
        .prepare("SELECT action, details FROM audit_events WHERE action LIKE 'session.login%' ORDER BY id")
        .expect("query");
    st.query_map([], |r| {
        let d: String = r.get(1)?;
        Ok((r.get(0)?, serde_json::from_str(&d).unwrap_or(Value::Null)))
    })
    .expect("rows")
    .map(|r| r.expect("row"))
    .collect()
}

fn last_failure_reason(app: &Spawned) -> String {
    let events = login_events(app);
    let (action, details) = events.last().expect("an audited sign-in").clone();
    assert_eq!(action, "session.login_failed", "{details}");
    assert_eq!(details["via"], "sso");
    details["reason"].as_str().unwrap_or_default().to_string()
}

/// Clicks *Sign in with SSO* and signs in at the provider as `email`.
async fn sso_sign_in(b: &Browser, email: &str) {
    b.goto("/login").await;
    b.click("Sign in with SSO").await;
    b.sees("Test provider").await;
    b.fill("Provider email", email).await;
    b.click("Continue").await;
}

/// Forgets every cookie of 127.0.0.1 (tokend's and the provider's: cookies ignore ports).
async fn forget_cookies(b: &Browser) {
    b.c.delete_all_cookies().await.expect("delete cookies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_18_oidc_sso_user_signs_in_others_are_refused() {
    let port = free_port();
    let app = spawn_with_oidc(port, None, None).await;
    let _provider = Provider::start(
        port,
        &format!("{}/login/oidc/callback", app.address),
        "k1",
        "RS256",
    );
    create_user(&app, "carol@example.com", true).await;
    create_user(&app, "dave@example.com", false).await;
    create_user(&app, "unverified@example.com", true).await;
    let b = Browser::start(&app.address, Options::default()).await;

    sso_sign_in(&b, "carol@example.com").await;
    let path = b.path().await;
    assert!(
        path == "/" || path == "/profile",
        "signed in, at {path}: {}\n{:?}",
        b.text().await,
        login_events(&app)
    );
    b.sees("carol@example.com").await;
    b.sees("Single sign-on users have no API tokens.").await;
    assert!(
        !b.has_button("API tokens").await,
        "rule 18: no tokens section"
    );
    let (action, details) = login_events(&app).last().cloned().expect("audited");
    assert_eq!(action, "session.login", "{details}");
    assert_eq!(details["via"], "sso");
    assert_eq!(details["method"], "oidc");
    b.logout().await;

    forget_cookies(&b).await;
    sso_sign_in(&b, "dave@example.com").await;
    assert_eq!(b.heading().await, "Sign-in refused");
    b.sees("signs in with a password").await;
    assert_eq!(last_failure_reason(&app), "not_sso_user");

    forget_cookies(&b).await;
    sso_sign_in(&b, "unverified@example.com").await;
    assert_eq!(b.heading().await, "Sign-in refused");
    b.sees("has not verified your email").await;
    assert_eq!(last_failure_reason(&app), "email_unverified");

    forget_cookies(&b).await;
    sso_sign_in(&b, "nobody@example.com").await;
    assert_eq!(b.heading().await, "Sign-in refused");
    assert_eq!(last_failure_reason(&app), "unknown_user");
    b.goto("/").await;
    assert_eq!(
        b.path().await,
        "/login",
        "no refused sign-in opened a session"
    );
    b.finish().await;
}

/// A plain HTTP listener standing in for tokend's callback: the browser stops there, so the
/// test holds a fresh, unused `code` and `state` to tamper with or replay.
struct Holder {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Holder {
    fn start() -> Holder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                let mut buf = [0u8; 8192];
                let n = conn.read(&mut buf).unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                if let Some(target) = head.split_whitespace().nth(1) {
                    if target.starts_with("/login/oidc/callback") {
                        log.lock().expect("lock").push(target.to_string());
                    }
                }
                let body = "<!doctype html><html><body><h1>Held</h1></body></html>";
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Holder { port, seen }
    }

    fn redirect(&self) -> String {
        format!("http://127.0.0.1:{}/login/oidc/callback", self.port)
    }

    /// The (code, state) of the last callback the provider sent the browser to.
    fn last(&self) -> (String, String) {
        let target = self
            .seen
            .lock()
            .expect("lock")
            .last()
            .cloned()
            .expect("a callback");
        let url = url::Url::parse(&format!("http://x{target}")).expect("url");
        let get = |k: &str| {
            url.query_pairs()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_else(|| panic!("no {k} in {target}"))
        };
        (get("code"), get("state"))
    }
}

fn callback(code: &str, state: &str) -> String {
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("code", code)
        .append_pair("state", state)
        .finish();
    format!("/login/oidc/callback?{q}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_tampered_state_and_replayed_code_are_refused() {
    let port = free_port();
    let holder = Holder::start();
    let app = spawn_with_oidc(port, Some(holder.redirect()), None).await;
    let _provider = Provider::start(port, &holder.redirect(), "k1", "RS256");
    create_user(&app, "carol@example.com", true).await;
    let b = Browser::start(&app.address, Options::default()).await;

    sso_sign_in(&b, "carol@example.com").await;
    b.sees("Held").await;
    let (code, state) = holder.last();

    b.goto(&callback(&code, &format!("{state}x"))).await;
    assert_eq!(b.heading().await, "Sign-in refused", "a tampered state");
    assert_eq!(last_failure_reason(&app), "state_mismatch");

    b.goto(&callback(&code, &state)).await;
    b.sees("carol@example.com").await;
    assert_eq!(
        login_events(&app).last().expect("audited").0,
        "session.login"
    );

    b.goto(&callback(&code, &state)).await;
    assert_eq!(
        b.heading().await,
        "Sign-in refused",
        "the same callback again"
    );

    // A new sign-in's state with the used code: the provider refuses the code.
    b.goto("/login/oidc").await;
    b.sees("Held").await;
    let (_, fresh) = holder.last();
    b.goto(&callback(&code, &fresh)).await;
    assert_eq!(b.heading().await, "Sign-in refused", "a replayed code");
    assert_eq!(last_failure_reason(&app), "code_rejected");
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_id_token_signed_by_another_key_is_refused_and_rotated_keys_are_fetched() {
    let port = free_port();
    let app = spawn_with_oidc(port, None, None).await;
    let redirect = format!("{}/login/oidc/callback", app.address);
    create_user(&app, "carol@example.com", true).await;
    let b = Browser::start(&app.address, Options::default()).await;

    let first = Provider::start(port, &redirect, "k1", "RS256");
    sso_sign_in(&b, "carol@example.com").await;
    b.sees("carol@example.com").await;
    b.logout().await;
    drop(first);

    // The same key ids over new keys: a token tokend's cached keys do not verify.
    let other = Provider::start(port, &redirect, "k1", "RS256");
    forget_cookies(&b).await;
    sso_sign_in(&b, "carol@example.com").await;
    assert_eq!(b.heading().await, "Sign-in refused");
    assert_eq!(last_failure_reason(&app), "id_token_invalid");
    drop(other);

    // A rotation to new key ids (and ES256): the key set is fetched again.
    let _rotated = Provider::start(port, &redirect, "k2", "ES256");
    forget_cookies(&b).await;
    sso_sign_in(&b, "carol@example.com").await;
    b.sees("carol@example.com").await;
    assert_eq!(
        login_events(&app).last().expect("audited").0,
        "session.login"
    );
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_down_shows_a_clear_error_page() {
    let port = free_port(); // nothing listens there
    let app = spawn_with_oidc(port, None, None).await;
    let res = spawn::client()
        .get(format!("{}/login/oidc", app.address))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 502);
    assert!(res
        .text()
        .await
        .expect("body")
        .contains("Single sign-on unavailable"));
    assert_eq!(last_failure_reason(&app), "provider_unavailable");

    let b = Browser::start(&app.address, Options::default()).await;
    b.goto("/login").await;
    b.click("Sign in with SSO").await;
    assert_eq!(b.heading().await, "Single sign-on unavailable");
    b.sees("cannot be reached").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_auto_provision_creates_an_sso_user_with_the_role() {
    let port = free_port();
    let app = spawn_with_oidc(port, None, Some(Role::ReadOnly)).await;
    let _provider = Provider::start(
        port,
        &format!("{}/login/oidc/callback", app.address),
        "k1",
        "RS256",
    );
    let b = Browser::start(&app.address, Options::default()).await;
    sso_sign_in(&b, "newcomer@example.com").await;
    b.sees("newcomer@example.com").await;
    let users: Value = spawn::client()
        .get(format!("{}/v1/users", app.address))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let text = users.to_string();
    let all = users["items"]
        .as_array()
        .or(users.as_array())
        .expect("users");
    let u = all
        .iter()
        .find(|u| u["email"] == "newcomer@example.com")
        .unwrap_or_else(|| panic!("provisioned: {text}"));
    assert_eq!(u["sso"], true);
    assert_eq!(u["role"], "read_only");
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_oidc_the_login_page_has_no_sso_button() {
    let app = crate::app::spawn_app().await;
    let page = app
        .client
        .get(app.url("/login"))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("body");
    assert!(page.contains("Log in to tokend"));
    assert!(!page.contains("Sign in with SSO"));
    let res = app
        .client
        .get(app.url("/login/oidc"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 404);
}
