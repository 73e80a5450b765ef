//! SPEC §18 on an existing database: a v1 database (companies, users and tokens naming the
//! seed catalogue) opened by this binary gets the seed catalogue as every company's API
//! scopes, and every stored permission keeps its meaning.

use rusqlite::Connection;

use crate::upgrade::make_v1;
use tokend_test_support::proc::*;

const SEED: [&str; 12] = [
    "api_discovery:read",
    "api_discovery:write",
    "attacks:read",
    "attacks:write",
    "incidents:read",
    "incidents:write",
    "integrations:read",
    "integrations:write",
    "rules:read",
    "rules:write",
    "vulnerabilities:read",
    "vulnerabilities:write",
];

fn scopes_of(conn: &Connection, company: i64) -> Vec<String> {
    conn.prepare("SELECT name FROM scopes WHERE company_id = ?1 ORDER BY name")
        .expect("prepare")
        .query_map([company], |r| r.get(0))
        .expect("query")
        .map(|r| r.expect("name"))
        .collect()
}

#[test]
fn scopes_an_existing_database_gets_the_seed_catalogue_for_every_company() {
    let w = Workdir::new();
    make_v1(
        &w.db,
        &new_value(),
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
    );
    let config = tokend::config::Config::for_tests(w.db.clone());
    let state = tokend::state::AppState::open(config, true).expect("open v1 database");
    let (custom, analyst, token) = state
        .read_blocking(|c| {
            Ok::<_, tokend::service::Error>((
                tokend::db::users::get(c, 3)?,
                tokend::db::users::get(c, 2)?,
                tokend::db::tokens::get(c, 1)?,
            ))
        })
        .expect("read");
    drop(state);
    let conn = w.db();
    assert_eq!(scopes_of(&conn, 1), SEED.to_vec());
    assert_eq!(scopes_of(&conn, 2), SEED.to_vec());
    let custom = custom.expect("user 3");
    assert_eq!(
        custom.permissions().names(),
        vec!["attacks:read", "tokens:read"]
    );
    let analyst = analyst.expect("user 2").permissions();
    assert!(analyst.has_scope("rules:write") && analyst.has_scope("attacks:read"));
    assert!(!analyst.has_scope("integrations:write"));
    let token = token.expect("token 1");
    assert_eq!(
        token.permissions.names(),
        vec!["users:read", "tokens:read", "tokens:write"]
    );
    let role_id: Option<i64> = conn
        .query_row("SELECT role_id FROM users WHERE id = 3", [], |r| r.get(0))
        .expect("role_id column");
    assert_eq!(role_id, None);
}
