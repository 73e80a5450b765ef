//! `tokend maintenance run`: the scheduler's jobs on demand, printing what each did; a
//! running server on the same file sees the result.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use serde_json::json;

use crate::support::*;
use tokend_test_support::proc::*;

/// Runs `maintenance run` with `retention` and returns job → report line.
fn maintenance(r: &Running, retention: &str) -> BTreeMap<String, String> {
    let mut cmd = r.w.tokend();
    cmd.env("TOKEND_DISABLED_RETENTION", retention)
        .args(["maintenance", "run"]);
    let out = run(cmd).expect_code(0);
    out.stdout
        .lines()
        .filter_map(|l| {
            l.split_once(": ")
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

fn leading_number(s: &str) -> usize {
    s.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in `{s}`"))
}

#[tokio::test]
async fn maintenance_run_prints_each_job_and_applies_expiry_and_purge() {
    // The server's own scheduler stays out of the way; the CLI does the work.
    let r = running_with(
        ServerOpts::default()
            .env("TOKEND_EXPIRY_INTERVAL", "1h")
            .env("TOKEND_PURGE_INTERVAL", "1h"),
    );
    let ann = r.create_user("ann@example.com", "analyst").await;
    let soon = (Utc::now() + chrono::Duration::milliseconds(1500)).to_rfc3339();
    let (s, expiring) = r
        .post("/v1/tokens", &r.admin, json!({ "name": "short", "owner_id": ann, "role_template": "read_only", "expires_at": soon }))
        .await;
    assert_eq!(s, 201, "{expiring}");
    let (s, disabled) = r
        .post("/v1/tokens", &r.admin, json!({ "name": "off", "owner_id": ann, "role_template": "read_only", "enabled": false }))
        .await;
    assert_eq!(s, 201, "{disabled}");
    let first = maintenance(&r, "7d");
    for job in ["expire", "idle", "purge", "reconcile", "flush", "sessions"] {
        assert!(first.contains_key(job), "no `{job}` line in {first:?}");
    }
    assert_eq!(
        leading_number(&first["purge"]),
        0,
        "nothing disabled for 7 days yet"
    );
    // Expiry: poll until the token's instant has passed and the job disables it.
    // (On a slow machine the first run may already have seen the instant pass.)
    let mut expired = leading_number(&first["expire"]);
    for _ in 0..40 {
        if expired > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        expired += leading_number(&maintenance(&r, "7d")["expire"]);
    }
    assert_eq!(expired, 1, "the expiring token was disabled by the job");
    let id = expiring["id"].as_i64().expect("id");
    let (_, t) = r.get(&format!("/v1/tokens/{id}"), &r.admin).await;
    assert_eq!(t["enabled"], false);
    assert_eq!(t["disabled_reason"], "expired");
    // Purge with a 1 s retention: both disabled tokens go, with an audit record each.
    let mut purged = 0;
    for _ in 0..40 {
        purged += leading_number(&maintenance(&r, "1s")["purge"]);
        if purged >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(purged, 2);
    let conn = r.w.db();
    assert_eq!(
        count(&conn, "tokens"),
        1,
        "only the bootstrap token is left"
    );
    let audited: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'token.purged'",
            [],
            |row| row.get(0),
        )
        .expect("audit");
    assert_eq!(audited, 2);
    // The running server sees the deletion.
    let gone = eventually(Duration::from_secs(5), || async {
        (r.get(&format!("/v1/tokens/{id}"), &r.admin).await.0 == 404).then_some(())
    })
    .await;
    assert!(gone.is_some(), "the server still shows the purged token");
}

#[test]
fn maintenance_run_on_an_empty_database_reports_zeroes() {
    let w = Workdir::new();
    let mut cmd = w.tokend();
    cmd.args(["maintenance", "run"]);
    let out = run(cmd).expect_code(0);
    for line in out.stdout.lines() {
        assert!(line.contains(": 0 ") || line.contains(" 0 "), "{line}");
    }
    assert!(out.stdout.contains("expire:"), "{}", out.stdout);
}
