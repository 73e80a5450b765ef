//! `tokend backup FILE`: an online, consistent copy while the server writes; refuses to
//! overwrite without `--force`; the copy passes `PRAGMA integrity_check` and can be served.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::support::*;
use tokend_test_support::proc::*;

fn backup(r: &Running, file: &std::path::Path, force: bool) -> Output {
    let mut cmd = r.w.tokend();
    cmd.arg("backup").arg(file);
    if force {
        cmd.arg("--force");
    }
    run(cmd)
}

/// Tokens and their `token.created` audit rows are written in one transaction, so a
/// consistent copy has exactly one such row per token.
fn assert_consistent(path: &std::path::Path) -> i64 {
    assert_integrity(path);
    let conn = rusqlite::Connection::open(path).expect("open copy");
    let fk: i64 = conn
        .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .expect("foreign_key_check");
    assert_eq!(fk, 0, "foreign keys hold in the copy");
    let orphans: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM tokens t WHERE NOT EXISTS
               (SELECT 1 FROM audit_events a WHERE a.action = 'token.created' AND a.token_id = t.id)",
            [],
            |r| r.get(0),
        )
        .expect("orphans");
    let ghosts: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM audit_events a WHERE a.action = 'token.created'
               AND NOT EXISTS (SELECT 1 FROM tokens t WHERE t.id = a.token_id)",
            [],
            |r| r.get(0),
        )
        .expect("ghosts");
    assert_eq!(
        (orphans, ghosts),
        (0, 0),
        "a half-applied write in the copy"
    );
    count(&conn, "tokens")
}

#[tokio::test]
async fn backup_while_the_server_writes_is_consistent_and_restorable() {
    let r = Arc::new(running());
    let ann = r.create_user("ann@example.com", "analyst").await;
    // A writer creating tokens at full speed until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (r, stop, written) = (r.clone(), stop.clone(), written.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) && i < 5000 {
                i += 1;
                let (s, b) = r
                    .post("/v1/tokens", &r.admin, json!({ "name": format!("w{i}"), "owner_id": ann, "role_template": "read_only" }))
                    .await;
                assert_eq!(s, 201, "{b}");
                written.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    // Wait until writes are flowing, then back up in the middle of them.
    let flowing = eventually(Duration::from_secs(10), || async {
        (written.load(Ordering::Relaxed) >= 20).then_some(())
    })
    .await;
    assert!(flowing.is_some(), "the writer makes progress");
    let copy = r.w.path("copy.db");
    let copy_path = copy.clone();
    let r2 = r.clone();
    let out = tokio::task::spawn_blocking(move || backup(&r2, &copy_path, false))
        .await
        .expect("join");
    let out = out.expect_code(0);
    assert!(out.stdout.contains("copy.db"), "{}", out.stdout);
    let during = written.load(Ordering::Relaxed);
    assert!(
        eventually(Duration::from_secs(10), || async {
            (written.load(Ordering::Relaxed) >= during + 20).then_some(())
        })
        .await
        .is_some(),
        "writes continue after the backup"
    );
    stop.store(true, Ordering::Relaxed);
    writer.await.expect("writer");
    let copied = assert_consistent(&copy);
    let total = count(&r.w.db(), "tokens");
    assert!(
        copied >= 20 && copied < total,
        "a snapshot from the middle: {copied} of {total}"
    );
    assert!(
        !r.w.path("copy.db-wal").exists()
            || std::fs::metadata(r.w.path("copy.db-wal"))
                .map(|m| m.len())
                .unwrap_or(0)
                == 0
    );

    // Refuses to overwrite without --force, and leaves the file as it was.
    let before = std::fs::read(&copy).expect("read copy");
    let out = backup(&r, &copy, false);
    assert_ne!(out.code(), 0);
    assert!(out.stderr.contains("--force"), "{}", out.stderr);
    assert_eq!(
        std::fs::read(&copy).expect("read copy"),
        before,
        "untouched"
    );
    // --force replaces it with a current copy.
    backup(&r, &copy, true).expect_code(0);
    assert_eq!(assert_consistent(&copy), total);

    // Restore: the copy plus the key file serve the same tokens.
    let restored = Workdir::new();
    std::fs::copy(&copy, &restored.db).expect("copy db");
    std::fs::copy(r.w.path("tokend.db.key"), restored.path("tokend.db.key")).expect("copy key");
    let server = Server::start(&restored.db, &ServerOpts::default());
    let res = client()
        .get(server.url("/v1/me"))
        .bearer_auth(&r.admin)
        .send()
        .await
        .expect("me");
    assert_eq!(
        res.status(),
        200,
        "the admin token works on the restored copy"
    );
    assert!(
        server.banner.iter().all(|l| !l.contains("created")),
        "no new bootstrap on a restore"
    );
}

#[test]
fn backup_errors_are_reported_and_create_nothing() {
    let w = Workdir::new();
    let mut cmd = w.tokend();
    cmd.arg("migrate");
    run(cmd).expect_code(0);
    // Into a directory that does not exist.
    let target = w.path("no/such/dir/copy.db");
    let mut cmd = w.tokend();
    cmd.arg("backup").arg(&target);
    let out = run(cmd);
    assert_ne!(out.code(), 0);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert!(!target.exists());
    // Without a file argument: usage error.
    let mut cmd = w.tokend();
    cmd.arg("backup");
    run(cmd).expect_code(2);
}

/// The permission bits of `path`.
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test]
async fn rule_32_database_wal_shm_master_key_and_backups_are_private() {
    // The test process's own umask lets files be world-readable; tokend must not.
    let r = running();
    r.create_user("u@example.com", "analyst").await;
    let dir = r.w.dir.path();
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir") {
        let p = entry.expect("entry").path();
        seen.push(p.file_name().unwrap().to_string_lossy().to_string());
        assert_eq!(mode(&p), 0o600, "{} is private", p.display());
    }
    for f in ["tokend.db", "tokend.db-wal", "tokend.db-shm"] {
        assert!(seen.iter().any(|s| s == f), "{f} exists: {seen:?}");
    }
    assert!(
        seen.iter().any(|s| s.ends_with(".key")),
        "the master key: {seen:?}"
    );
    let copy = r.w.path("copy.db");
    backup(&r, &copy, false).expect_code(0);
    assert_eq!(mode(&copy), 0o600, "the backup is private");
}
