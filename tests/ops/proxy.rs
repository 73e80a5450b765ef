//! Reverse-proxy integration (`/v1/auth/verify`): a real nginx with `auth_request`
//! in front of the demo upstream (`upstream.rs`), which echoes the identity it receives. The nginx
//! configuration is the one `docs/reverse-proxy.md` ships.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::app::*;
use crate::upstream::{spawn_upstream, user_of};
use tokend_test_support::proc::*;

/// nginx as installed by `scripts/install-test-deps` (never skipped: missing is a failure).
fn nginx_binary() -> PathBuf {
    for candidate in [
        "/usr/sbin/nginx",
        "/usr/local/sbin/nginx",
        "/usr/local/nginx/sbin/nginx",
    ] {
        if Path::new(candidate).exists() {
            return candidate.into();
        }
    }
    let out = Command::new("sh")
        .args(["-c", "command -v nginx"])
        .output()
        .expect("sh");
    let found = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        !found.is_empty(),
        "nginx is not installed: run scripts/install-test-deps (the reverse-proxy test needs it)"
    );
    found.into()
}

/// The nginx configuration of `docs/reverse-proxy.md`, with test paths and ports.
fn nginx_conf(dir: &Path, listen: u16, tokend: u16, upstream: u16) -> String {
    let d = dir.display();
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;

    upstream tokend {{ server 127.0.0.1:{tokend}; }}
    upstream app {{ server 127.0.0.1:{upstream}; }}

    server {{
        listen 127.0.0.1:{listen};

        # Forward-auth subrequests: only headers go to tokend, never the body.
        location = /_tokend_read {{
            internal;
            proxy_pass http://tokend/v1/auth/verify?scope=attacks:read;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
        }}
        location = /_tokend_write {{
            internal;
            proxy_pass http://tokend/v1/auth/verify?scope=attacks:read&scope=attacks:write;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
        }}

        location /read/ {{
            auth_request /_tokend_read;
            auth_request_set $user $upstream_http_x_auth_user_email;
            proxy_set_header X-Auth-User-Email $user;
            proxy_set_header Authorization "";
            proxy_pass http://app;
        }}
        location /write/ {{
            auth_request /_tokend_write;
            auth_request_set $user $upstream_http_x_auth_user_email;
            proxy_set_header X-Auth-User-Email $user;
            proxy_set_header Authorization "";
            proxy_pass http://app;
        }}
    }}
}}
"#
    )
}

struct Nginx {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts nginx on a free loopback port (retrying if another process takes the port
/// between our probe and nginx's bind).
async fn start_nginx(tokend: u16, upstream: u16) -> Nginx {
    let bin = nginx_binary();
    let mut last_error = String::new();
    for _ in 0..5 {
        let dir = tempfile::tempdir().expect("nginx dir");
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("probe")
            .local_addr()
            .expect("addr")
            .port();
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, nginx_conf(dir.path(), port, tokend, upstream)).expect("write conf");
        let test = Command::new(&bin)
            .arg("-t")
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&conf)
            .output()
            .expect("nginx -t");
        assert!(
            test.status.success(),
            "nginx -t: {}",
            String::from_utf8_lossy(&test.stderr)
        );
        let child = Command::new(&bin)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn nginx");
        let mut nginx = Nginx { child, port, dir };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut up = false;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = nginx.child.try_wait() {
                break;
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        if up {
            return nginx;
        }
        last_error =
            std::fs::read_to_string(nginx.dir.path().join("error.log")).unwrap_or_default();
    }
    panic!("nginx did not start: {last_error}");
}

/// GET through nginx → (status, `user=<email the upstream received>` or the body nginx
/// answered itself).
async fn via(nginx: &Nginx, path: &str, token: Option<&str>) -> (u16, String) {
    let mut req = client().get(format!("http://127.0.0.1:{}{path}", nginx.port));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("request through nginx");
    let status = res.status().as_u16();
    let body = res.text().await.expect("body");
    match status {
        200 => (status, user_of(&body)),
        _ => (status, body),
    }
}

#[tokio::test]
async fn nginx_auth_request_allows_refuses_and_follows_token_lifecycle() {
    let app = spawn_app().await;
    let upstream = spawn_upstream();
    let nginx = start_nginx(app.port, upstream).await;
    let ann = app.create_user("ann@example.com", "analyst").await;
    let (id, reader) = app
        .token_for(ann, json!({ "role_template": "read_only" }))
        .await;

    // Allowed: 200, and the upstream learns who is calling.
    assert_eq!(
        via(&nginx, "/read/reports", Some(&reader)).await,
        (200, "user=ann@example.com".into())
    );
    // The token lacks attacks:write: 403 (the upstream is not called).
    assert_eq!(via(&nginx, "/write/rules", Some(&reader)).await.0, 403);
    // No token, or a value that is not a token: 401.
    assert_eq!(via(&nginx, "/read/reports", None).await.0, 401);
    assert_eq!(
        via(&nginx, "/read/reports", Some("tkd_nonsense")).await.0,
        401
    );
    assert_eq!(
        via(&nginx, "/read/reports", Some(&new_value())).await.0,
        401
    );
    // A token with both scopes passes the write location too.
    let (_, writer) = app
        .token_for(
            ann,
            json!({ "permissions": ["attacks:read", "attacks:write"] }),
        )
        .await;
    assert_eq!(
        via(&nginx, "/write/rules", Some(&writer)).await,
        (200, "user=ann@example.com".into())
    );

    // Expired: the check happens at each request, before the scheduler marks it.
    let soon = (app.state.now() + chrono::Duration::minutes(5)).to_rfc3339();
    let (_, expiring) = app
        .token_for(
            ann,
            json!({ "role_template": "read_only", "expires_at": soon }),
        )
        .await;
    assert_eq!(via(&nginx, "/read/x", Some(&expiring)).await.0, 200);
    app.advance(chrono::Duration::minutes(10));
    assert_eq!(via(&nginx, "/read/x", Some(&expiring)).await.0, 401);
    assert_eq!(
        via(&nginx, "/read/x", Some(&reader)).await.0,
        200,
        "others still pass"
    );

    // Disabled by hand: 401 at once.
    let (s, _) = app
        .call(
            Method::PATCH,
            &format!("/v1/tokens/{id}"),
            Some(&app.admin_token),
            Some(json!({ "enabled": false })),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(via(&nginx, "/read/x", Some(&reader)).await.0, 401);

    // Renewed (by its owner): the old value stops at once, the new one passes.
    let (_, manager) = app
        .token_for(ann, json!({ "role_template": "analyst" }))
        .await;
    let (s, renewed) = app
        .call(
            Method::POST,
            &format!("/v1/tokens/{}/renew", app_token_id(&app, &writer).await),
            Some(&manager),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, 200, "{renewed}");
    let new_value = renewed["value"].as_str().expect("value");
    assert_eq!(via(&nginx, "/write/x", Some(&writer)).await.0, 401);
    assert_eq!(
        via(&nginx, "/write/x", Some(new_value)).await,
        (200, "user=ann@example.com".into())
    );

    // The owner disabled: every token of the owner stops.
    let (s, _) = app
        .call(
            Method::PATCH,
            &format!("/v1/users/{ann}"),
            Some(&app.admin_token),
            Some(json!({ "enabled": false })),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(via(&nginx, "/write/x", Some(new_value)).await.0, 401);
}

/// The id of the token whose value is `value`.
async fn app_token_id(app: &TestApp, value: &str) -> i64 {
    let (s, me) = app.call(Method::GET, "/v1/me", Some(value), None).await;
    assert_eq!(s, 200, "{me}");
    me["token_id"].as_i64().expect("token id")
}
