//! The command line on PostgreSQL: `backup` points at pg_dump, and `migrate` reports the
//! schema version.

use std::path::{Path, PathBuf};

use tokend::startup::off_runtime;

use crate::migrate::migration_count;
use crate::pg::PgCluster;
use crate::proc::*;

/// A throwaway cluster with one empty database, and that database's URL.
fn cluster() -> (PgCluster, String) {
    let pg = PgCluster::start();
    pg.create_database("tokend");
    let url = pg.url("tokend");
    (pg, url)
}

/// `tokend --db URL`, run in `w` with `w`'s master key, so nothing lands in the crate dir.
fn on_url(url: &str, w: &Workdir) -> std::process::Command {
    let mut cmd = tokend(Path::new(url));
    cmd.current_dir(w.dir.path())
        .env("TOKEND_MASTER_KEY_FILE", key_file(w));
    cmd
}

/// The master key beside `w`'s SQLite database (the default `<db>.key`).
fn key_file(w: &Workdir) -> PathBuf {
    w.path("tokend.db.key")
}

#[test]
fn backup_of_a_postgresql_database_points_at_pg_dump_and_writes_nothing() {
    let w = Workdir::new();
    let file = w.path("copy.db");
    // Port 1: were the database opened, the command would fail to connect (exit 1) instead.
    let url = "postgres://tokend:s3cret-pw@127.0.0.1:1/tokend";
    for force in [false, true] {
        let mut cmd = on_url(url, &w);
        cmd.arg("backup").arg(&file);
        if force {
            cmd.arg("--force");
        }
        let out = run(cmd).expect_code(2);
        assert!(out.stderr.contains("pg_dump -Fc -f"), "{}", out.stderr);
        assert!(
            out.stderr
                .contains("'postgres://tokend@127.0.0.1:1/tokend'"),
            "the URL without its password: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("s3cret"), "{}", out.stderr);
        assert!(out.stdout.is_empty(), "{}", out.stdout);
    }
    let left: Vec<_> = std::fs::read_dir(w.dir.path()).expect("dir").collect();
    assert!(left.is_empty(), "no file written: {left:?}");
}

#[test]
fn migrate_on_a_postgresql_url_creates_the_schema_and_reports_its_version() {
    let (pg, _) = cluster();
    let w = Workdir::new();
    // Trust authentication ignores the password; it must not be printed anyway.
    let url = format!(
        "postgres://postgres:pw-not-shown@127.0.0.1:{}/tokend",
        pg.port()
    );
    for _ in 0..2 {
        let mut cmd = on_url(&url, &w);
        cmd.arg("migrate");
        let out = run(cmd).expect_code(0);
        let latest = migration_count();
        assert!(
            out.stdout.contains(&format!("schema version {latest}")),
            "{}",
            out.stdout
        );
        assert!(!out.stdout.contains("pw-not-shown"), "{}", out.stdout);
    }
    let (version, epoch) = off_runtime(|| {
        let pool = tokend::db::open(Path::new(&url), 1).expect("open");
        let conn = pool.get().expect("connection");
        let v = tokend::db::schema_version(&conn).expect("version");
        (v, tokend::db::read_epoch(&conn).expect("epoch"))
    });
    assert_eq!((version, epoch), (migration_count(), 0));
}
