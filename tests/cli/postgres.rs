//! The command line on PostgreSQL: `backup` points at pg_dump, `migrate` reports the schema
//! version, and `migrate-to` copies an SQLite database into an empty PostgreSQL one, which a
//! server then serves with the same users, tokens and credentials (given the same master key).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use tokend::db::Col;
use tokend::startup::off_runtime;

use crate::migrate::migration_count;
use crate::support::*;
use tokend_test_support::pg::PgCluster;
use tokend_test_support::proc::*;

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

fn migrate_to(w: &Workdir, url: &str) -> Output {
    let mut cmd = w.tokend();
    cmd.arg("migrate-to").arg(url);
    run(cmd)
}

/// A server on `url` with `w`'s master key.
fn serve_url(url: &str, w: &Workdir) -> Server {
    let key = key_file(w);
    let opts = ServerOpts::default().env("TOKEND_MASTER_KEY_FILE", &key.to_string_lossy());
    Server::start(Path::new(url), &opts)
}

/// Stops `server` gracefully, once it answers (a TERM right after its "listening" line can
/// arrive before its signal handler is installed).
async fn stop(server: &mut Server) {
    let res = client().get(server.url("/healthz")).send().await;
    assert_eq!(res.expect("healthz").status(), 200);
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{status}\n{}", server.stderr());
}

/// The tables `migrate-to` copies, with their columns, as the SQLite file `db` has them.
fn copied_tables(db: &Path) -> Vec<(String, Vec<String>)> {
    let conn = rusqlite::Connection::open(db).expect("open db");
    let mut stmt = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' \
             AND name NOT IN ('sessions', 'limit_events') ORDER BY name",
        )
        .expect("tables");
    let names: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .expect("tables")
        .map(|n| n.expect("name"))
        .collect();
    names
        .into_iter()
        .map(|t| {
            let sql = format!("SELECT name FROM pragma_table_info('{t}') ORDER BY cid");
            let mut stmt = conn.prepare(&sql).expect("columns");
            let cols = stmt.query_map([], |r| r.get(0)).expect("columns");
            let cols = cols.map(|c| c.expect("column")).collect();
            (t, cols)
        })
        .collect()
}

/// Every row of `tables` in the database `target` (SQLite file or URL), every column read
/// through tokend's own connection: the same text on both backends for the same data.
fn dump(target: &str, tables: &[(String, Vec<String>)]) -> Vec<String> {
    off_runtime(|| {
        let pool = tokend::db::open(Path::new(target), 1).expect("open database");
        let conn = pool.get().expect("connection");
        let mut out = Vec::new();
        for (t, cols) in tables {
            let sql = format!("SELECT {} FROM {t}", cols.join(", "));
            let mut rows = conn
                .query_map(&sql, tokend::db::params![], |r| {
                    let values = (0..cols.len())
                        .map(|i| r.get::<Col>(i).map(|c| format!("{c:?}")))
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(format!("{t}: {}", values.join(" ")))
                })
                .unwrap_or_else(|e| panic!("dump {t}: {e}"));
            rows.sort();
            out.extend(rows);
        }
        out
    })
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

/// Users, tokens, a legacy credential and a node on `r`'s SQLite database; returns the value
/// of Ann's token, Bob's legacy UUID + secret and the node's token.
async fn fill(r: &Running) -> (String, (String, String), String) {
    let mut cmd = r.w.tokend();
    cmd.args(["user", "create", "--email", "ann@example.com"])
        .args(["--role", "analyst", "--password-stdin"]);
    run_with_stdin(cmd, "ann's long password\n").expect_code(0);
    let mut cmd = r.w.tokend();
    cmd.args([
        "token",
        "create",
        "--owner",
        "ann@example.com",
        "--name",
        "laptop",
    ])
    .args(["--role-template", "read_only"]);
    let ann_token = run(cmd).expect_code(0).stdout.trim().to_string();
    r.create_user("bob@example.com", "read_only").await;
    let uuid = "6f1c1c1e-7a8b-4c0d-9e2f-0a1b2c3d4e5f";
    let secret = "bob-secret-0000009";
    let csv = r.w.path("legacy.csv");
    std::fs::write(
        &csv,
        format!("email,uuid,secret\nbob@example.com,{uuid},{secret}\n"),
    )
    .expect("write csv");
    let mut cmd = r.w.tokend();
    cmd.args(["legacy", "import"]).arg(&csv);
    run(cmd).expect_code(0);
    let (s, node) = r
        .post("/v1/nodes", &r.admin, json!({ "name": "edge-1" }))
        .await;
    assert_eq!(s, 201, "{node}");
    let node_token = node["token"]["value"]
        .as_str()
        .expect("node value")
        .to_string();
    // SPEC §18: a scope of the company's own, and a role a user holds
    let (s, _) = r
        .post("/v1/scopes", &r.admin, json!({ "name": "orders:write" }))
        .await;
    assert_eq!(s, 201);
    let (s, role) = r
        .post(
            "/v1/roles",
            &r.admin,
            json!({ "name": "Orders", "permissions": ["tokens:read", "orders:write"] }),
        )
        .await;
    assert_eq!(s, 201, "{role}");
    let (s, carol) = r
        .post(
            "/v1/users",
            &r.admin,
            json!({ "email": "carol@example.com", "role": "company", "role_id": role["id"] }),
        )
        .await;
    assert_eq!(s, 201, "{carol}");
    r.me_eventually(&ann_token).await;
    (ann_token, (uuid.into(), secret.into()), node_token)
}

/// Rows the CLI cannot make, written straight into the stopped server's SQLite file: every
/// copied table holds some, audit events fill several INSERT batches (NULLs included), and
/// the transient tables hold rows that must stay behind.
fn plant(db: &Path) {
    let conn = rusqlite::Connection::open(db).expect("open db");
    let token: i64 = conn
        .query_row(
            "SELECT MIN(id) FROM tokens WHERE kind = 'private'",
            [],
            |r| r.get(0),
        )
        .expect("a token");
    conn.execute_batch(&format!(
        "INSERT INTO retired_legacy_uuids (uuid, retired_at) VALUES ('gone', 1);
         INSERT INTO token_warnings (token_id, warning, expires_at) VALUES ({token}, '7d', 5);
         INSERT OR IGNORE INTO token_recent_ips (token_id, ip, first_seen_at, last_seen_at)
             VALUES ({token}, '192.0.2.7', 1, 2);
         INSERT INTO webhook_outbox (company_id, event_id, event_type, token_id, body,
             next_attempt_at, created_at)
             VALUES (1, 'ev-1', 'token.created', {token}, '{{}}', 3, 3);
         INSERT INTO sessions (id_digest, user_id, csrf_token, created_at, expires_at)
             VALUES (x'00', 1, 'csrf', 1, 9999999999999);
         INSERT INTO limit_events (name, key, at) VALUES ('login', 'a@example.com', 1);"
    ))
    .expect("plant rows");
    let mut stmt = conn
        .prepare(
            "INSERT INTO audit_events (company_id, actor_email, action, via, created_at) \
             VALUES (?1, ?2, 'test.planted', 'cli', ?3)",
        )
        .expect("prepare");
    for i in 0..450_i64 {
        let company = (i % 3 != 0).then_some(1_i64);
        let email = (i % 2 == 0).then(|| format!("p{i}@example.com"));
        stmt.execute(rusqlite::params![company, email, i])
            .expect("audit row");
    }
}

async fn status_with(r: &Running, path: &str, headers: &[(&str, &str)]) -> u16 {
    let mut req = r.http.get(r.server.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("request").status().as_u16()
}

#[tokio::test]
async fn migrate_to_copies_everything_and_the_same_credentials_work_on_postgresql() {
    let (_pg, url) = cluster();
    let mut r = running();
    let (ann_token, (uuid, secret), node_token) = fill(&r).await;
    stop(&mut r.server).await;
    plant(&r.w.db);
    let tables = copied_tables(&r.w.db);
    let before = dump(&r.w.db.to_string_lossy(), &tables);
    for (t, _) in &tables {
        let prefix = format!("{t}: ");
        assert!(
            before.iter().any(|row| row.starts_with(&prefix)),
            "rows in {t}"
        );
    }

    let out = migrate_to(&r.w, &url).expect_code(0);
    for line in [
        "companies",
        "users",
        "tokens",
        "legacy_credentials",
        "nodes",
    ] {
        assert!(out.stdout.contains(line), "{line} reported: {}", out.stdout);
    }
    let users = format!("{:<22} 4 rows", "users");
    assert!(out.stdout.contains(&users), "{}", out.stdout);
    assert!(out.stdout.contains("sessions"), "{}", out.stdout);
    assert!(out.stdout.contains("limit_events"), "{}", out.stdout);
    let key = key_file(&r.w);
    assert!(
        out.stdout
            .contains(&format!("--master-key-file {}", key.display())),
        "{}",
        out.stdout
    );
    assert_eq!(
        dump(&url, &tables),
        before,
        "every row of every table, as it was"
    );
    let transient = [
        ("sessions".to_string(), vec!["user_id".to_string()]),
        ("limit_events".to_string(), vec!["key".to_string()]),
    ];
    assert_eq!(dump(&url, &transient), Vec::<String>::new(), "not copied");
    // Once copied, the database is in use: a second copy is refused.
    migrate_to(&r.w, &url).expect_code(1);

    // A server on PostgreSQL with the SQLite database's master key.
    r.use_server(serve_url(&url, &r.w));
    assert!(
        r.server.banner.iter().all(|l| !l.contains("created")),
        "no bootstrap on a copied database: {:?}",
        r.server.banner
    );
    let (s, me) = r.get("/v1/me", &ann_token).await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["user"]["email"], "ann@example.com");
    assert_eq!(r.get("/v1/me", &r.admin).await.0, 200);
    // The stored value decrypts and the legacy secret verifies: the key is the same.
    let token_id = me["token_id"].as_i64().expect("token id");
    let (s, revealed) = r
        .post(
            &format!("/v1/tokens/{token_id}/reveal"),
            &ann_token,
            json!({}),
        )
        .await;
    assert_eq!(
        (s, revealed["value"].as_str()),
        (200, Some(ann_token.as_str()))
    );
    let legacy = [
        ("X-WallarmApi-UUID", &*uuid),
        ("X-WallarmApi-Secret", &*secret),
    ];
    assert_eq!(status_with(&r, "/v1/me", &legacy).await, 200);
    let node = format!("Bearer {node_token}");
    let node = [("Authorization", node.as_str())];
    assert_eq!(status_with(&r, "/v1/nodes/self", &node).await, 200);
    // New rows get ids after the copied ones.
    let (s, users) = r.get("/v1/users", &r.admin).await;
    assert_eq!(s, 200, "{users}");
    let ids: Vec<i64> = users["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|u| u["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids.len(), 4, "{users}");
    let carl = r.create_user("carl@example.com", "analyst").await;
    assert_eq!(carl, ids.iter().max().unwrap() + 1);
}

#[tokio::test]
async fn migrate_to_a_database_in_use_is_refused_and_changes_nothing() {
    let (_pg, url) = cluster();
    let mut r = running();
    fill(&r).await;
    stop(&mut r.server).await;
    // The usual mistake: the server was started on the new database first, which created a
    // company and an administrator there (committed before it listens; then it is killed).
    let other = Workdir::new();
    drop(serve_url(&url, &other));
    let tables = copied_tables(&r.w.db);
    let before = dump(&url, &tables);
    assert!(!before.is_empty());

    let out = migrate_to(&r.w, &url).expect_code(1);
    assert!(
        out.stderr.contains("already has companies or users"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert_eq!(dump(&url, &tables), before, "the target is untouched");
}

#[tokio::test]
async fn serve_on_postgresql_stops_cleanly_and_reports_startup_errors() {
    let (_pg, url) = cluster();
    let w = Workdir::new();
    // SIGTERM: a graceful stop, exit 0 (the pool is closed off the runtime).
    stop(&mut serve_url(&url, &w)).await;
    // A failure after the database is open: the error, exit 1, no abort.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let bind = taken.local_addr().expect("address").to_string();
    let mut cmd = on_url(&url, &w);
    cmd.args(["serve", "--bind", &bind]);
    let out = run(cmd).expect_code(1);
    assert!(out.stderr.contains("cannot listen"), "{}", out.stderr);
}
