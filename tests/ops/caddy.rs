//! Caddy's `forward_auth` in front of a demo upstream, with the real `caddy` binary
//! (`caddy run --adapter caddyfile`, its own process on free ports, not the system service).
//! The Caddyfile is the one `docs/reverse-proxy.md` shows, read from that file.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::app::*;
use crate::upstream::spawn_upstream;
use tokend_test_support::proc::*;

/// The ```caddyfile block of docs/reverse-proxy.md.
fn documented_caddyfile() -> String {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/reverse-proxy.md"
    ))
    .expect("read docs/reverse-proxy.md");
    let start = doc
        .find("```caddyfile\n")
        .expect("a ```caddyfile block in docs/reverse-proxy.md")
        + "```caddyfile\n".len();
    let len = doc[start..]
        .find("```")
        .expect("the end of the caddyfile block");
    doc[start..start + len].to_string()
}

struct Caddy {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("probe");
    l.local_addr().expect("addr").port()
}

/// `caddy run` with the documented Caddyfile on a free port (admin endpoint off, state in a
/// temp dir), retrying if another process takes the port first.
async fn start_caddy(tokend: u16, upstream: u16) -> Caddy {
    // Test-only global options: no admin endpoint (port 2019 may be taken), nothing persisted.
    let caddyfile = format!("{{\n\tadmin off\n}}\n\n{}", documented_caddyfile());
    let mut last = String::new();
    for _ in 0..5 {
        let dir = tempfile::tempdir().expect("caddy dir");
        let file = dir.path().join("Caddyfile");
        std::fs::write(&file, &caddyfile).expect("write Caddyfile");
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("caddy.log")).expect("log");
        let child = Command::new("caddy")
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&file)
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path())
            .env("SITE", format!("http://127.0.0.1:{port}"))
            .env("TOKEND", format!("127.0.0.1:{tokend}"))
            .env("APP", format!("127.0.0.1:{upstream}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("run caddy (scripts/install-test-deps installs it)");
        let mut caddy = Caddy {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = caddy.child.try_wait() {
                break;
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return caddy;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        last = std::fs::read_to_string(caddy._dir.path().join("caddy.log")).unwrap_or_default();
    }
    panic!("caddy did not start:\n{last}");
}

/// GET through Caddy with `headers` → (status, body).
async fn via(caddy: &Caddy, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut req = client().get(format!("http://127.0.0.1:{}{path}", caddy.port));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.expect("request through caddy");
    (res.status().as_u16(), res.text().await.expect("body"))
}

#[tokio::test]
async fn caddy_forward_auth_passes_identity_stops_401_403_and_strips_forged_headers() {
    let app = spawn_app().await;
    let upstream = spawn_upstream();
    let caddy = start_caddy(app.port, upstream).await;
    let ann = app.create_user("ann@example.com", "analyst").await;
    let (id, reader) = app
        .token_for(ann, json!({ "role_template": "read_only" }))
        .await;
    let bearer = format!("Bearer {reader}");

    // 200: the upstream gets tokend's identity headers, and not the token.
    let (status, body) = via(&caddy, "/read/reports", &[("Authorization", &bearer)]).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("x-auth-user-email: ann@example.com"),
        "{body}"
    );
    assert!(body.contains(&format!("x-auth-token-id: {id}")), "{body}");
    assert!(body.contains(&format!("x-auth-user-id: {ann}")), "{body}");
    assert!(body.contains("x-auth-permissions: "), "{body}");
    assert!(
        !body.contains("authorization"),
        "the token went upstream: {body}"
    );

    // Forged identity headers: replaced by tokend's or dropped, never passed on.
    let forged = [
        ("Authorization", bearer.as_str()),
        ("X-Auth-User-Email", "root@example.com"),
        ("X-Auth-User-Id", "1"),
        ("X-Auth-Company-Id", "666"),
        ("X-Auth-Permissions", "users:write tokens:write"),
        ("X-Auth-Admin", "true"),
    ];
    let (status, body) = via(&caddy, "/read/reports", &forged).await;
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("x-auth-user-id:"))
        .collect();
    assert_eq!(ids, [format!("x-auth-user-id: {ann}")], "{body}");
    for bad in ["root@example.com", "666", "users:write", "x-auth-admin"] {
        assert!(
            !body.contains(bad),
            "forged {bad:?} reached the upstream: {body}"
        );
    }
    assert!(
        body.contains("x-auth-user-email: ann@example.com"),
        "{body}"
    );

    // 403: a valid token without attacks:write stops at the proxy with tokend's answer.
    let (status, body) = via(&caddy, "/write/rules", &forged).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains("insufficient_scope") || body.contains("\"error\""),
        "{body}"
    );
    assert!(!body.contains("x-auth-"), "the upstream answered: {body}");

    // 401: no token, a malformed one, an unknown one — forged headers or not.
    for headers in [
        vec![],
        vec![("X-Auth-User-Email", "root@example.com")],
        vec![("Authorization", "Bearer tkd_nonsense")],
    ] {
        let (status, body) = via(&caddy, "/read/reports", &headers).await;
        assert_eq!(status, 401, "{headers:?}: {body}");
        assert!(!body.contains("x-auth-"), "the upstream answered: {body}");
    }
    let unknown = format!("Bearer {}", new_value());
    assert_eq!(
        via(&caddy, "/read/x", &[("Authorization", &unknown)])
            .await
            .0,
        401
    );

    // A token with both scopes passes /write/.
    let (_, writer) = app
        .token_for(
            ann,
            json!({ "permissions": ["attacks:read", "attacks:write"] }),
        )
        .await;
    let (status, body) = via(
        &caddy,
        "/write/rules",
        &[("Authorization", &format!("Bearer {writer}"))],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("x-auth-user-email: ann@example.com"),
        "{body}"
    );

    // Disabled: 401 at once through the proxy.
    let (s, _) = app
        .call(
            Method::PATCH,
            &format!("/v1/tokens/{id}"),
            Some(&app.admin_token),
            Some(json!({ "enabled": false })),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        via(&caddy, "/read/x", &[("Authorization", &bearer)])
            .await
            .0,
        401
    );
    eprintln!("caddy: 200 with identity headers, forged X-Auth-* dropped, 403 and 401 stopped at the proxy");
}
