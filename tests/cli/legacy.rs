//! `tokend legacy import FILE.csv` (rules 19–20): valid rows become legacy tokens whose
//! UUID + secret headers authenticate; unknown emails, SSO users, duplicates and malformed
//! rows are skipped and reported with their line numbers.

use std::time::Duration;

use serde_json::json;

use crate::support::*;
use tokend_test_support::proc::*;

const U1: &str = "6f1c1c1e-7a8b-4c0d-9e2f-0a1b2c3d4e5f";
const U2: &str = "0b6e2a9c-1d2e-4f30-8a4b-5c6d7e8f9a0b";
const U3: &str = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
const U4: &str = "2b3c4d5e-6f70-4b8c-9dae-1f2a3b4c5d6e";
const U5: &str = "3c4d5e6f-7081-4c9d-aebf-2a3b4c5d6e7f";
const U6: &str = "4d5e6f70-8192-4dae-bfc0-3b4c5d6e7f80";

fn import(r: &Running, file: &std::path::Path) -> Output {
    let mut cmd = r.w.tokend();
    cmd.args(["legacy", "import"]).arg(file);
    run(cmd)
}

async fn legacy_status(r: &Running, uuid: &str, secret: &str) -> u16 {
    r.http
        .get(r.server.url("/v1/me"))
        .header("X-WallarmApi-UUID", uuid)
        .header("X-WallarmApi-Secret", secret)
        .send()
        .await
        .expect("me")
        .status()
        .as_u16()
}

#[tokio::test]
async fn legacy_import_imports_valid_rows_and_reports_the_rest_by_line() {
    let r = running();
    r.create_user("ann@example.com", "analyst").await;
    r.create_user("bob@example.com", "read_only").await;
    let sso = r.create_user("sso@example.com", "analyst").await;
    let (s, _) = r
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/users/{sso}"),
            Some(&r.admin),
            Some(json!({ "sso": true })),
        )
        .await;
    assert_eq!(s, 200);
    let csv = r.w.path("legacy.csv");
    std::fs::write(
        &csv,
        format!(
            "email,uuid,secret\n\
             Ann@Example.com,{U1},ann-secret-0000001\n\
             nobody@example.com,{U2},secret-0000000002\n\
             sso@example.com,{U3},secret-0000000003\n\
             bob@example.com,{U1},secret-0000000004\n\
             ann@example.com,{U4},secret-0000000005\n\
             bob@example.com,not-a-uuid,secret-0000000006\n\
             bob@example.com,{U5}\n\
             bob@example.com,{U6},short\n\
             bob@example.com,{U5},bob-secret-0000009\n"
        ),
    )
    .expect("write csv");
    let out = import(&r, &csv).expect_code(0);
    assert_eq!(out.stdout.trim(), "imported 2, skipped 7");
    for line in 3..=9 {
        assert!(
            out.stderr.contains(&format!("legacy.csv:{line}:")),
            "line {line} reported:\n{}",
            out.stderr
        );
    }
    for line in [2, 10] {
        assert!(
            !out.stderr.contains(&format!("legacy.csv:{line}:")),
            "{}",
            out.stderr
        );
    }
    assert!(
        !out.stderr.contains("ann-secret") && !out.stderr.contains("secret-000"),
        "secrets not echoed: {}",
        out.stderr
    );
    // The running server accepts the imported credentials (after its ~1 s epoch check).
    let ok = eventually(Duration::from_secs(5), || async {
        // Rows are committed one by one: once the last one works, the server has seen all.
        (legacy_status(&r, U5, "bob-secret-0000009").await == 200).then_some(())
    })
    .await;
    assert!(ok.is_some(), "imported UUID + secret authenticate");
    assert_eq!(legacy_status(&r, U1, "ann-secret-0000001").await, 200);
    let (s, me) = {
        let res = r
            .http
            .get(r.server.url("/v1/me"))
            .header("X-WallarmApi-UUID", U5)
            .header("X-WallarmApi-Secret", "bob-secret-0000009")
            .send()
            .await
            .expect("me");
        (
            res.status().as_u16(),
            res.json::<serde_json::Value>().await.expect("json"),
        )
    };
    assert_eq!(s, 200);
    assert_eq!(me["user"]["email"], "bob@example.com");
    assert_eq!(legacy_status(&r, U1, "wrong-secret").await, 401);
    assert_eq!(legacy_status(&r, U2, "secret-0000000002").await, 401);
    assert_eq!(legacy_status(&r, U3, "secret-0000000003").await, 401);
    let conn = r.w.db();
    assert_eq!(count(&conn, "legacy_credentials"), 2);
    let legacy_tokens: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM tokens WHERE kind = 'legacy'",
            [],
            |row| row.get(0),
        )
        .expect("count");
    assert_eq!(legacy_tokens, 2);
    // Importing the same file again skips every row (duplicates) and stores nothing.
    let before = (r.dump("tokens"), r.dump("legacy_credentials"));
    let out = import(&r, &csv).expect_code(0);
    assert_eq!(out.stdout.trim(), "imported 0, skipped 9");
    assert_eq!((r.dump("tokens"), r.dump("legacy_credentials")), before);
}

#[tokio::test]
async fn legacy_import_rejects_a_bad_file_and_stores_nothing() {
    let r = running();
    r.create_user("ann@example.com", "analyst").await;
    let before = r.dump("tokens");
    let bad_header = r.w.path("bad.csv");
    std::fs::write(
        &bad_header,
        format!("mail,id,key\nann@example.com,{U1},x\n"),
    )
    .expect("write");
    let out = import(&r, &bad_header);
    assert_ne!(out.code(), 0);
    assert!(out.stderr.contains("email,uuid,secret"), "{}", out.stderr);
    let out = import(&r, &r.w.path("missing.csv"));
    assert_ne!(out.code(), 0);
    assert!(out.stderr.contains("missing.csv"), "{}", out.stderr);
    let empty = r.w.path("empty.csv");
    std::fs::write(&empty, "").expect("write");
    let out = import(&r, &empty);
    assert_ne!(out.code(), 0, "{}", out.stdout);
    let binary = r.w.path("binary.csv");
    std::fs::write(&binary, b"email,uuid,secret\n\xff\xfe\x00garbage,\x80\n").expect("write");
    let out = import(&r, &binary);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert!(out.code() == 0 || out.code() == 1, "{}", out.stderr);
    assert_eq!(r.dump("tokens"), before);
    assert_eq!(count(&r.w.db(), "legacy_credentials"), 0);
}
