//! `tokend user create` and `tokend token create` against a running server on the same file:
//! CLI writes become visible to the server within about a second (shared epoch), the token
//! value is the only thing on stdout, and every bad input changes nothing.

use std::time::Duration;

use chrono::{Duration as Days, Utc};
use serde_json::Value;
use tokend::domain::token_value::TokenValue;

use crate::support::*;
use tokend_test_support::proc::*;

fn user_create(r: &Running, args: &[&str], stdin: &str) -> Output {
    let mut cmd = r.w.tokend();
    cmd.args(["user", "create"]).args(args);
    run_with_stdin(cmd, stdin)
}

fn token_create(r: &Running, args: &[&str]) -> Output {
    let mut cmd = r.w.tokend();
    cmd.args(["token", "create"]).args(args);
    run(cmd)
}

#[tokio::test]
async fn user_create_with_password_from_stdin_can_log_in() {
    let r = running();
    let out = user_create(
        &r,
        &[
            "--email",
            "Bob@Example.com",
            "--role",
            "analyst",
            "--name",
            "Bob B",
            "--password-stdin",
        ],
        "a long enough password\n",
    )
    .expect_code(0);
    let id: i64 = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("prints the id: {}", out.stdout));
    assert_eq!(
        r.login("bob@example.com", "a long enough password").await,
        200
    );
    assert_eq!(
        r.login("bob@example.com", "a long enough passwor").await,
        401
    );
    let (s, u) = r.get(&format!("/v1/users/{id}"), &r.admin).await;
    assert_eq!(s, 200);
    assert_eq!(u["email"], "bob@example.com");
    assert_eq!(u["name"], "Bob B");
    assert_eq!(u["role"], "analyst");
    // The CLI write is audited like an API one.
    let audited: i64 =
        r.w.db()
            .query_row(
                "SELECT COUNT(*) FROM audit_events WHERE action = 'user.created' AND user_id = ?1",
                [id],
                |row| row.get(0),
            )
            .expect("audit");
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn user_create_rejects_bad_input_and_stores_nothing() {
    let r = running();
    r.create_user("taken@example.com", "read_only").await;
    let before = r.dump("users");
    let cases: &[(&[&str], &str, i32, &str)] = &[
        (
            &["--email", "not-an-email", "--role", "analyst"],
            "",
            2,
            "email",
        ),
        (
            &["--email", "x@example.com", "--role", "wizard"],
            "",
            2,
            "wizard",
        ),
        (
            &[
                "--email",
                "x@example.com",
                "--role",
                "analyst",
                "--password-stdin",
            ],
            "short\n",
            2,
            "password",
        ),
        (
            &[
                "--email",
                "x@example.com",
                "--role",
                "analyst",
                "--password-stdin",
            ],
            "",
            2,
            "password",
        ),
        (
            &[
                "--email",
                "x@example.com",
                "--role",
                "analyst",
                "--permissions",
                "tokens:read",
            ],
            "",
            2,
            "custom",
        ),
        (
            &[
                "--email",
                "x@example.com",
                "--role",
                "custom",
                "--permissions",
                "tokens:fly",
            ],
            "",
            2,
            "tokens:fly",
        ),
        (
            &["--email", "taken@example.com", "--role", "analyst"],
            "",
            1,
            "exists",
        ),
        (
            &[
                "--email",
                "x@example.com",
                "--role",
                "analyst",
                "--company-id",
                "999",
            ],
            "",
            1,
            "",
        ),
        (&["--role", "analyst"], "", 2, "--email"),
    ];
    for (args, stdin, code, needle) in cases {
        let out = user_create(&r, args, stdin);
        assert_eq!(out.code(), *code, "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        assert!(
            out.stdout.trim().is_empty(),
            "{args:?}: stdout {}",
            out.stdout
        );
        assert!(
            out.stderr.to_lowercase().contains(&needle.to_lowercase()),
            "{args:?}: stderr should mention `{needle}`: {}",
            out.stderr
        );
        assert_eq!(r.dump("users"), before, "{args:?} changed the users table");
    }
}

/// Asserts stdout is exactly one token value and returns it.
fn only_value(out: &Output) -> String {
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "only the value on stdout: {:?}", out.stdout);
    let v = lines[0];
    TokenValue::parse(v).unwrap_or_else(|e| panic!("`{v}` is not a token value: {e}"));
    assert!(!out.stderr.contains(v), "the value is not logged");
    v.to_string()
}

#[tokio::test]
async fn rule_27_token_create_prints_only_the_value_which_authenticates_and_is_audited_as_cli() {
    let r = running();
    r.create_user("ci@example.com", "deploy").await;
    let out = token_create(
        &r,
        &[
            "--owner",
            "CI@example.com",
            "--name",
            "pipeline",
            "--role-template",
            "deploy",
        ],
    )
    .expect_code(0);
    let value = only_value(&out);
    let me = r.me_eventually(&value).await;
    assert_eq!(me["user"]["email"], "ci@example.com");
    let id = me["token_id"].as_i64().expect("token id");
    let (_, t) = r.get(&format!("/v1/tokens/{id}"), &r.admin).await;
    assert_eq!(t["name"], "pipeline");
    assert_eq!(t["role_template"], "deploy");
    let mut perms: Vec<&str> = t["permissions"]
        .as_array()
        .expect("perms")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    perms.sort();
    assert_eq!(
        perms,
        ["nodes:read", "nodes:write", "tokens:read", "tokens:write"]
    );
    // Rule 27: the audit names the command line as the way in, acting as the owner (the
    // token is the owner's own, not delegated).
    let (_, audit) = r
        .get(
            &format!("/v1/audit?token_id={id}&action=token.created"),
            &r.admin,
        )
        .await;
    assert_eq!(audit["items"][0]["via"], "cli", "{audit}");
    assert_eq!(audit["items"][0]["actor_id"], me["user"]["id"]);
    assert_eq!(t["delegated"], false);
    // The value is not stored in clear anywhere in the database file.
    let raw = std::fs::read(&r.w.db).expect("read db");
    let wal = std::fs::read(r.w.path("tokend.db-wal")).unwrap_or_default();
    for bytes in [raw, wal] {
        assert!(
            !bytes
                .windows(value.len())
                .any(|win| win == value.as_bytes()),
            "plaintext value on disk"
        );
    }
}

#[tokio::test]
async fn token_create_with_permissions_and_expiry() {
    let r = running();
    r.create_user("ann@example.com", "analyst").await;
    let at = (Utc::now() + Days::days(3))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    let out = token_create(
        &r,
        &[
            "--owner",
            "ann@example.com",
            "--name",
            "reader",
            "--permissions",
            "attacks:read, tokens:read",
            "--expires-at",
            &at,
        ],
    )
    .expect_code(0);
    let value = only_value(&out);
    let me = r.me_eventually(&value).await;
    let mut perms: Vec<&str> = me["permissions"]
        .as_array()
        .expect("perms")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    perms.sort();
    assert_eq!(perms, ["attacks:read", "tokens:read"]);
    let id = me["token_id"].as_i64().expect("id");
    let (_, t) = r.get(&format!("/v1/tokens/{id}"), &r.admin).await;
    let expires = t["expires_at"].as_str().expect("expires_at");
    assert_eq!(&expires[..10], &at[..10], "{expires} vs {at}");
    // Scope is enforced: the token cannot list users.
    assert_eq!(r.get("/v1/users", &value).await.0, 403);
}

#[tokio::test]
async fn token_create_rejects_bad_input_and_stores_nothing() {
    let r = running();
    r.create_user("ann@example.com", "analyst").await;
    let sso = r.create_user("sso@example.com", "analyst").await;
    let (s, _) = r
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/users/{sso}"),
            Some(&r.admin),
            Some(serde_json::json!({ "sso": true })),
        )
        .await;
    assert_eq!(s, 200);
    token_create(
        &r,
        &[
            "--owner",
            "ann@example.com",
            "--name",
            "first",
            "--role-template",
            "read_only",
        ],
    )
    .expect_code(0);
    let before = r.dump("tokens");
    let past = (Utc::now() - Days::days(1)).to_rfc3339();
    let cases: &[&[&str]] = &[
        &[
            "--owner",
            "nobody@example.com",
            "--name",
            "x",
            "--role-template",
            "read_only",
        ],
        &[
            "--owner",
            "ann@example.com",
            "--name",
            "x",
            "--permissions",
            "users:write",
        ],
        &[
            "--owner",
            "ann@example.com",
            "--name",
            "x",
            "--permissions",
            "tokens:fly",
        ],
        &[
            "--owner",
            "ann@example.com",
            "--name",
            "x",
            "--permissions",
            "",
        ],
        &[
            "--owner",
            "ann@example.com",
            "--name",
            "x",
            "--role-template",
            "admin",
        ],
        &[
            "--owner",
            "ann@example.com",
            "--name",
            "x",
            "--role-template",
            "wizard",
        ],
        &[
            "--owner",
            "ann@example.com",
            "--name",
            "x",
            "--expires-at",
            &past,
            "--role-template",
            "read_only",
        ],
        &[
            "--owner",
            "ann@example.com",
            "--name",
            "x",
            "--expires-at",
            "next tuesday",
            "--role-template",
            "read_only",
        ],
        &[
            "--owner",
            "ann@example.com",
            "--name",
            "first",
            "--role-template",
            "read_only",
        ],
        &[
            "--owner",
            "ann@example.com",
            "--name",
            "   ",
            "--role-template",
            "read_only",
        ],
        &[
            "--owner",
            "sso@example.com",
            "--name",
            "x",
            "--role-template",
            "read_only",
        ],
        &[
            "--owner",
            "ann@example.com",
            "--name",
            "x",
            "--role-template",
            "read_only",
            "--permissions",
            "tokens:read",
        ],
        &["--owner", "ann@example.com"],
    ];
    for args in cases {
        let out = token_create(&r, args);
        assert_ne!(out.code(), 0, "{args:?} succeeded: {}", out.stdout);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        assert!(
            out.stdout.is_empty(),
            "{args:?}: nothing on stdout, got {}",
            out.stdout
        );
        assert!(
            !out.stderr.trim().is_empty(),
            "{args:?}: a message on stderr"
        );
        assert_eq!(
            r.dump("tokens"),
            before,
            "{args:?} changed the tokens table"
        );
    }
}

/// A value made by the command line against the live database works on the running server
/// almost at once (it looks for outside writes every 50 ms): measured over 20 tokens, each
/// must work within a second even on a loaded test machine; the delays are printed.
#[tokio::test]
async fn a_token_made_by_the_command_line_works_on_the_running_server_at_once() {
    let r = running();
    r.create_user("fast@example.com", "deploy").await;
    let mut delays = Vec::new();
    for n in 0..20 {
        let name = format!("quick-{n}");
        let out = token_create(
            &r,
            &[
                "--owner",
                "fast@example.com",
                "--name",
                &name,
                "--role-template",
                "deploy",
            ],
        )
        .expect_code(0);
        let value = only_value(&out);
        let start = std::time::Instant::now();
        loop {
            if r.get("/v1/me", &value).await.0 == 200 {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(1),
                "token {n} still refused after a second"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        delays.push(start.elapsed());
    }
    delays.sort();
    eprintln!(
        "command-line write seen by the server: p95 {:?}, max {:?}",
        delays[18], delays[19]
    );
}
