//! `tokend migrate` on an empty database and on one already migrated.

use crate::support::*;
use tokend_test_support::proc::*;

/// How many migration files the binary embeds (`migrations/NNNN_*.sql`).
pub fn migration_count() -> i64 {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    std::fs::read_dir(dir)
        .expect("migrations dir")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "sql"))
        .count() as i64
}

fn user_version(w: &Workdir) -> i64 {
    w.db()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("user_version")
}

#[test]
fn migrate_creates_the_schema_on_an_empty_database() {
    let w = Workdir::new();
    let mut cmd = w.tokend();
    cmd.arg("migrate");
    let out = run(cmd).expect_code(0);
    let latest = migration_count();
    assert!(
        out.stdout.contains(&format!("schema version {latest}")),
        "{}",
        out.stdout
    );
    assert_eq!(user_version(&w), latest);
    let conn = w.db();
    for table in [
        "companies",
        "users",
        "sessions",
        "tokens",
        "legacy_credentials",
        "nodes",
        "audit_events",
    ] {
        assert_eq!(count(&conn, table), 0, "{table} exists and is empty");
    }
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(mode, "wal");
    assert_integrity(&w.db);
}

#[tokio::test]
async fn migrate_on_a_migrated_database_is_a_no_op_that_keeps_data() {
    let r = running();
    r.create_user("ann@example.com", "analyst").await;
    let before: Vec<Vec<String>> = ["companies", "users", "tokens", "audit_events"]
        .iter()
        .map(|t| r.dump(t))
        .collect();
    for _ in 0..2 {
        let mut cmd = r.w.tokend();
        cmd.arg("migrate");
        let out = run(cmd).expect_code(0);
        assert!(
            out.stdout
                .contains(&format!("schema version {}", migration_count())),
            "{}",
            out.stdout
        );
    }
    let after: Vec<Vec<String>> = ["companies", "users", "tokens", "audit_events"]
        .iter()
        .map(|t| r.dump(t))
        .collect();
    assert_eq!(before, after);
    // The running server is unaffected.
    assert_eq!(r.get("/v1/me", &r.admin).await.0, 200);
    assert_integrity(&r.w.db);
}

#[test]
fn migrate_refuses_a_database_from_the_future_or_garbage() {
    // A newer schema than this binary knows.
    let w = Workdir::new();
    let mut cmd = w.tokend();
    cmd.arg("migrate");
    run(cmd).expect_code(0);
    w.db()
        .execute_batch(&format!("PRAGMA user_version = {};", migration_count() + 5))
        .expect("bump version");
    let mut cmd = w.tokend();
    cmd.arg("migrate");
    let out = run(cmd);
    assert_ne!(out.code(), 0, "a future schema is refused: {}", out.stdout);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    // Not a database at all.
    let w = Workdir::new();
    std::fs::write(&w.db, b"this is not an SQLite database, just some text padding it out....................................................").expect("write");
    let mut cmd = w.tokend();
    cmd.arg("migrate");
    let out = run(cmd);
    assert_ne!(out.code(), 0);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert!(!out.stderr.trim().is_empty());
}
