//! Upgrade in place: a database made by the first migration only (as `rusqlite_migration`
//! leaves it: `PRAGMA user_version = 1`), filled with data, is opened by the current binary;
//! the schema moves to the latest version and every row survives. Today there is one
//! migration; the test compares every v1 column of every v1 table, so it bites once
//! `0002_*.sql` exists.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::Connection;
use tokend::domain::token_value::TokenValue;

use tokend_test_support::proc::*;
use tokend_test_support::store::assert_integrity;

fn migrations_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations")
}

fn latest_version() -> i64 {
    std::fs::read_dir(migrations_dir())
        .expect("migrations")
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "sql"))
        .count() as i64
}

/// table → (columns, rows as text).
type Contents = BTreeMap<String, (Vec<String>, Vec<String>)>;

/// Every table of `conn`, or only the tables and columns of `only` (the v1 ones).
fn contents(conn: &Connection, only: Option<&Contents>) -> Contents {
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .expect("tables")
        .query_map([], |r| r.get(0))
        .expect("query")
        .map(|r| r.expect("name"))
        .collect();
    let mut out = BTreeMap::new();
    for t in tables {
        let columns: Vec<String> = match only {
            Some(v1) => match v1.get(&t) {
                Some((cols, _)) => cols.clone(),
                None => continue,
            },
            None => conn
                .prepare(&format!(
                    "SELECT name FROM pragma_table_info('{t}') ORDER BY cid"
                ))
                .expect("columns")
                .query_map([], |r| r.get(0))
                .expect("query")
                .map(|r| r.expect("column"))
                .collect(),
        };
        let sql = format!("SELECT {} FROM {t} ORDER BY rowid", columns.join(", "));
        let rows: Vec<String> = conn
            .prepare(&sql)
            .unwrap_or_else(|e| panic!("{t}: a v1 column disappeared ({e})"))
            .query_map([], |r| {
                (0..columns.len())
                    .map(|i| {
                        r.get::<_, rusqlite::types::Value>(i)
                            .map(|v| format!("{v:?}"))
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(|v| v.join("|"))
            })
            .expect("rows")
            .map(|r| r.expect("row"))
            .collect();
        out.insert(t, (columns, rows));
    }
    out
}

/// A v1 database with a bit of everything, through plain SQL (as the v1 binary wrote it).
pub(crate) fn make_v1(path: &Path, value: &str, password_hash: &str) {
    let conn = Connection::open(path).expect("create");
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;")
        .expect("pragmas");
    let v1 = std::fs::read_to_string(migrations_dir().join("0001_init.sql")).expect("0001");
    conn.execute_batch(&format!("BEGIN; {v1}\nPRAGMA user_version = 1; COMMIT;"))
        .expect("apply 0001");
    let digest = TokenValue::parse(value).expect("value").digest().0.to_vec();
    let now: i64 = 1_790_000_000_000;
    conn.execute_batch(&format!(
        "INSERT INTO companies (id, name, token_reveal, max_token_lifetime_days, created_at)
              VALUES (1, 'Default', 'allowed', 90, {now}), (2, 'Other', 'show_once', NULL, {now});
         INSERT INTO users (id, company_id, email, name, role, permissions, enabled, sso, password_hash, created_at, updated_at)
              VALUES (1, 1, 'admin@example.com', 'Admin', 'global_admin', '', 1, 0, '{password_hash}', {now}, {now}),
                     (2, 1, 'ann@example.com', 'Ann', 'analyst', '', 1, 0, NULL, {now}, {now}),
                     (3, 2, 'cus@example.com', 'Cus', 'custom', 'attacks:read tokens:read', 0, 0, NULL, {now}, {now}),
                     (4, 1, 'sso@example.com', 'Sso', 'read_only', '', 1, 1, NULL, {now}, {now});
         INSERT INTO audit_events (company_id, actor_id, actor_email, token_id, user_id, action, ip, details, created_at)
              VALUES (1, NULL, NULL, NULL, 1, 'user.created', NULL, '{{}}', {now}),
                     (1, 1, 'admin@example.com', 1, 2, 'token.created', '127.0.0.1', '{{\"name\":\"ci\"}}', {now});
         INSERT INTO nodes (company_id, name, token_digest, token_hint, creator_id, created_at, last_seen_at, last_seen_ip, version)
              VALUES (1, 'edge-1', x'{}', 'tkn_abcd', 1, {now}, {now}, '10.0.0.5', '4.8');
         INSERT INTO sessions (id_digest, user_id, csrf_token, created_at, expires_at)
              VALUES (x'{}', 1, 'csrf', {now}, {});",
        "ab".repeat(32),
        "cd".repeat(32),
        now + 3_600_000
    ))
    .expect("fill v1");
    conn.execute(
        "INSERT INTO tokens (id, company_id, owner_id, creator_id, kind, audience, name, name_key, description,
                             permissions, role_template, digest, value_hint, enabled, created_at, updated_at,
                             last_used_at, last_used_ip)
         VALUES (1, 1, 1, 1, 'private', 'administrators', 'CI', 'ci', 'from v1',
                 'tokens:read tokens:write users:read', 'admin', ?1, ?2, 1, ?3, ?3, ?3, '10.1.2.3')",
        rusqlite::params![digest, &value[..8], now],
    )
    .expect("token");
    conn.execute_batch(&format!(
        "INSERT INTO tokens (id, company_id, owner_id, creator_id, kind, audience, name, name_key, description,
                             permissions, role_template, digest, value_hint, enabled, disabled_reason, disabled_at,
                             expires_at, created_at, updated_at)
              VALUES (2, 1, 2, 1, 'shared', 'company', 'Team', 'team', '', 'attacks:read', 'read_only',
                      x'{}', 'tkd_team', 0, 'manual', {now}, {}, {now}, {now}),
                     (3, 1, 2, 1, 'legacy', 'administrators', 'Legacy API credentials', 'legacy api credentials', '',
                      '', NULL, x'{}', 'tkd_lega', 1, NULL, NULL, NULL, {now}, {now});
         INSERT INTO legacy_credentials (token_id, uuid, secret_digest, created_at)
              VALUES (3, '6f1c1c1e-7a8b-4c0d-9e2f-0a1b2c3d4e5f', x'{}', {now});
         INSERT INTO token_recent_ips (token_id, ip, first_seen_at, last_seen_at) VALUES (1, '10.1.2.3', {now}, {now});",
        "01".repeat(32),
        now + 86_400_000,
        "02".repeat(32),
        "03".repeat(32)
    ))
    .expect("more tokens");
    let user_version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(user_version, 1);
}

#[tokio::test]
async fn a_version_1_database_upgrades_in_place_keeping_every_row() {
    let w = Workdir::new();
    let value = new_value();
    let hash = tokend::crypto::hash_password(ADMIN_PASSWORD).expect("hash");
    make_v1(&w.db, &value, &hash);
    let before = contents(&w.db(), None);
    assert!(
        before.values().map(|(_, rows)| rows.len()).sum::<usize>() >= 15,
        "v1 data was written"
    );

    // `tokend migrate` brings it to the latest version…
    let mut cmd = w.tokend();
    cmd.arg("migrate");
    let out = run(cmd).expect_code(0);
    let latest = latest_version();
    assert!(
        out.stdout.contains(&format!("schema version {latest}")),
        "{}",
        out.stdout
    );
    let conn = w.db();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, latest);
    // …with every v1 row, in every v1 column, unchanged.
    let after = contents(&conn, Some(&before));
    for (table, (_, rows)) in &before {
        assert_eq!(
            &after[table].1, rows,
            "rows of `{table}` changed in the upgrade"
        );
    }
    drop(conn);
    assert_integrity(&w.db);

    // And the server runs on it: the v1 token authenticates, the v1 password logs in.
    let server = Server::start(&w.db, &ServerOpts::default());
    assert!(
        server.banner.iter().all(|l| !l.contains("created")),
        "no bootstrap on a non-empty database"
    );
    let http = client();
    let me = http
        .get(server.url("/v1/me"))
        .bearer_auth(&value)
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), 200);
    let me: serde_json::Value = me.json().await.expect("json");
    assert_eq!(me["user"]["email"], "admin@example.com");
    let t = http
        .get(server.url("/v1/tokens/2"))
        .bearer_auth(&value)
        .send()
        .await
        .expect("token");
    assert_eq!(t.status(), 200);
    let t: serde_json::Value = t.json().await.expect("json");
    assert_eq!(
        (
            t["name"].as_str(),
            t["enabled"].as_bool(),
            t["disabled_reason"].as_str()
        ),
        (Some("Team"), Some(false), Some("manual"))
    );
    let login = http
        .post(server.url("/v1/session"))
        .json(&serde_json::json!({ "email": "admin@example.com", "password": ADMIN_PASSWORD }))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 200);
}

#[test]
fn opening_a_version_1_database_through_the_library_upgrades_it_too() {
    let w = Workdir::new();
    let value = new_value();
    make_v1(
        &w.db,
        &value,
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
    );
    let before = contents(&w.db(), None);
    let config = tokend::config::Config::for_tests(w.db.clone());
    let state = tokend::state::AppState::open(config, true).expect("open v1 database");
    drop(state);
    let conn = w.db();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, latest_version());
    let after = contents(&conn, Some(&before));
    for (table, (_, rows)) in &before {
        assert_eq!(&after[table].1, rows, "rows of `{table}` changed");
    }
}
