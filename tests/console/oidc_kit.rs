//! What the OpenID Connect browser tests need: a real `oidc-provider` process
//! (`tests/oidc/provider.mjs`), tokend configured for it, a stand-in callback listener, and
//! readers of the audit log.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Once};

use serde_json::{json, Value};
use tokend::config::{OidcConfig, Secret};
use tokend::domain::roles::Role;

use crate::browser::Browser;
use tokend_test_support::{self as common, TestApp};

pub const CLIENT_ID: &str = "tokend-test";
pub const CLIENT_SECRET: &str = "a client secret for the tests";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Installs node and oidc-provider when this machine lacks them (never skipped).
pub fn ensure_provider_installed() {
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

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A running `oidc-provider`; killed (with its process group) on drop.
pub struct Provider {
    child: Child,
}

impl Provider {
    /// Starts the provider on `port` for a client redirecting to `redirect`; its signing keys
    /// carry the key id prefix `kid` and ID tokens are signed with `alg`.
    pub fn start(port: u16, redirect: &str, kid: &str, alg: &str) -> Provider {
        Provider::start_with(port, redirect, kid, alg, &[])
    }

    /// `start` with more environment for the provider script (see its header).
    pub fn start_with(
        port: u16,
        redirect: &str,
        kid: &str,
        alg: &str,
        env: &[(&str, &str)],
    ) -> Provider {
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
            .envs(env.iter().copied())
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

pub fn oidc_config(port: u16, redirect: Option<String>, provision: Option<Role>) -> OidcConfig {
    OidcConfig {
        issuer: format!("http://127.0.0.1:{port}"),
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.parse::<Secret>().expect("secret"),
        redirect_url: redirect,
        auto_provision: provision,
    }
}

/// tokend configured for a provider on `port` (which need not run yet).
pub async fn spawn_with_oidc(
    port: u16,
    redirect: Option<String>,
    provision: Option<Role>,
) -> TestApp {
    common::spawn_app_with(|c| {
        c.oidc = Some(oidc_config(port, redirect, provision));
    })
    .await
}

/// An analyst `email`, signing in with SSO only when `sso`, else with the tests' password.
pub async fn analyst(app: &TestApp, email: &str, sso: bool) {
    let mut body = json!({ "email": email, "role": "analyst", "sso": sso });
    if !sso {
        body["password"] = json!(crate::app::PASSWORD);
    }
    app.create_user_with(body).await;
}

/// The `session.login*` audit events, oldest first, as (action, details).
/// The sign-in audit events: (action, details with the event's `via` column added).
pub fn login_events(app: &TestApp) -> Vec<(String, Value)> {
    let conn = rusqlite::Connection::open(&app.db_path).expect("db");
    let mut st = conn
        .prepare("SELECT action, details, via FROM audit_events WHERE action LIKE 'session.login%' ORDER BY id")
        .expect("query");
    st.query_map([], |r| {
        let d: String = r.get(1)?;
        let mut details: Value = serde_json::from_str(&d).unwrap_or(Value::Null);
        details["via"] = Value::String(r.get(2)?);
        Ok((r.get(0)?, details))
    })
    .expect("rows")
    .map(|r| r.expect("row"))
    .collect()
}

pub fn last_failure_reason(app: &TestApp) -> String {
    let events = login_events(app);
    let (action, details) = events.last().expect("an audited sign-in").clone();
    assert_eq!(action, "session.login_failed", "{details}");
    assert_eq!(details["via"], "sso");
    details["reason"].as_str().unwrap_or_default().to_string()
}

/// Clicks *Sign in with SSO* and signs in at the provider as `email`.
pub async fn sso_sign_in(b: &Browser, email: &str) {
    b.goto("/login").await;
    b.click("Sign in with SSO").await;
    b.sees("Test provider").await;
    b.fill("Provider email", email).await;
    b.click("Continue").await;
}

/// Forgets every cookie of 127.0.0.1 (tokend's and the provider's: cookies ignore ports).
pub async fn forget_cookies(b: &Browser) {
    b.c.delete_all_cookies().await.expect("delete cookies");
}

/// A plain HTTP listener standing in for tokend's callback: the browser stops there, so the
/// test holds a fresh, unused `code` and `state` to tamper with or replay.
pub struct Holder {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Holder {
    pub fn start() -> Holder {
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

    pub fn redirect(&self) -> String {
        format!("http://127.0.0.1:{}/login/oidc/callback", self.port)
    }

    /// The (code, state) of the last callback the provider sent the browser to.
    pub fn last(&self) -> (String, String) {
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

pub fn callback(code: &str, state: &str) -> String {
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("code", code)
        .append_pair("state", state)
        .finish();
    format!("/login/oidc/callback?{q}")
}
