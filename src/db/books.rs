//! The write transaction's books, proved on an in-memory SQLite database: each db write
//! function records by itself the digests it makes valid or invalid and whether it touches
//! what the authentication path reads; a failed savepoint forgets what its step recorded.

use super::tokens::NewToken;
use super::users::NewUser;
use super::*;
use crate::domain::permissions::PermissionSet;
use crate::domain::roles::Role;
use crate::domain::token::{Audience, TokenKind};
use crate::domain::token_value::legacy_key;

fn memory() -> Connection {
    let mut conn = Connection::sqlite(rusqlite::Connection::open_in_memory().expect("sqlite"));
    migrate(&mut conn).expect("migrate");
    conn
}

/// A company and a user in it, committed; their ids.
fn seeded(conn: &Connection) -> (i64, i64) {
    let tx = Tx::begin(conn).expect("begin");
    let company = companies::insert(&tx, "Acme", 0).expect("company");
    let user = users::insert(
        &tx,
        &NewUser {
            company_id: company,
            email: "a@example.com",
            name: "A",
            role: Role::ApiDeveloper,
            custom: PermissionSet::EMPTY,
            enabled: true,
            sso: false,
            password_hash: None,
            now: 0,
            role_id: None,
        },
    )
    .expect("user");
    tx.commit(None).expect("commit");
    (company, user)
}

fn new_token(company: i64, owner: i64, name: &str, digest: TokenDigest) -> NewToken<'_> {
    NewToken {
        company_id: company,
        owner_id: owner,
        creator_id: Some(owner),
        kind: TokenKind::Private,
        audience: Audience::Administrators,
        name,
        description: "",
        permissions: PermissionSet::EMPTY,
        role_template: None,
        digest,
        value_hint: "x",
        value_enc: None,
        enabled: true,
        expires_at: None,
        allowed_cidrs: "",
        now: 0,
    }
}

/// A committed token with value digest `digest`; its id.
fn stored_token(conn: &Connection, (company, user): (i64, i64), digest: TokenDigest) -> i64 {
    let tx = Tx::begin(conn).expect("begin");
    let id = tokens::insert(&tx, &new_token(company, user, "stored", digest)).expect("token");
    tx.commit(None).expect("commit");
    id
}

/// One write to check, on a fresh transaction.
type Step<'a> = Box<dyn Fn(&Tx) -> Result<()> + 'a>;

fn nothing() -> Effects {
    Effects::default()
}

#[test]
fn books_a_new_transaction_records_nothing() {
    let conn = memory();
    let tx = Tx::begin(&conn).expect("begin");
    assert_eq!(tx.effects(), nothing());
    assert_eq!(tx.commit(None).expect("commit"), nothing());
}

#[test]
fn books_inserting_a_token_records_its_digest() {
    let conn = memory();
    let (company, user) = seeded(&conn);
    let d = TokenDigest::of("value-1");
    let tx = Tx::begin(&conn).expect("begin");
    tokens::insert(&tx, &new_token(company, user, "t", d)).expect("token");
    let e = tx.commit(None).expect("commit");
    assert_eq!(e.added, vec![d]);
    assert!(e.removed.is_empty());
    assert!(e.touches_auth);
}

#[test]
fn books_a_failed_savepoint_forgets_what_its_step_recorded() {
    let conn = memory();
    let (company, user) = seeded(&conn);
    let (kept, lost) = (TokenDigest::of("kept"), TokenDigest::of("lost"));
    let mut tx = Tx::begin(&conn).expect("begin");
    tx.savepoint(|tx| tokens::insert(tx, &new_token(company, user, "kept", kept)).map(|_| ()))
        .expect("savepoint")
        .expect("kept step");
    let failed = tx
        .savepoint(|tx| {
            tokens::insert(tx, &new_token(company, user, "lost", lost))?;
            // The step fails after its write: the row and its digest both go.
            Err::<(), Error>(Error::Other("step refused".into()))
        })
        .expect("savepoint");
    assert!(failed.is_err());
    assert_eq!(tx.effects().added, vec![kept]);
    let e = tx.commit(None).expect("commit");
    assert_eq!(e.added, vec![kept]);
    assert_eq!(
        tokens::by_digest(&conn, &lost, 0)
            .expect("read")
            .map(|t| t.id),
        None
    );
}

#[test]
fn books_a_failed_savepoint_alone_leaves_auth_untouched() {
    let conn = memory();
    let (company, user) = seeded(&conn);
    let mut tx = Tx::begin(&conn).expect("begin");
    let failed = tx
        .savepoint(|tx| {
            let t = new_token(company, user, "gone", TokenDigest::of("gone"));
            tokens::insert(tx, &t)?;
            Err::<(), Error>(Error::Other("refused".into()))
        })
        .expect("savepoint");
    assert!(failed.is_err());
    assert_eq!(tx.commit(None).expect("commit"), nothing());
}

#[test]
fn books_session_audit_and_bookkeeping_writes_leave_auth_untouched() {
    let conn = memory();
    let (company, user) = seeded(&conn);
    let token = stored_token(&conn, (company, user), TokenDigest::of("v"));
    let tx = Tx::begin(&conn).expect("begin");
    sessions::delete_expired(&tx, 10).expect("expire");
    sessions::insert(&tx, &[7u8; 32], user, "csrf", 10, 100).expect("session");
    sessions::set_pending(&tx, user, "csrf", b"sealed").expect("pending");
    sessions::clear_pending(&tx, user, "csrf").expect("clear");
    sessions::delete(&tx, &[7u8; 32]).expect("logout");
    audit::insert(
        &tx,
        &audit::NewEvent {
            company_id: Some(company),
            actor_id: Some(user),
            actor_email: None,
            token_id: None,
            user_id: Some(user),
            action: "session.login",
            ip: None,
            details: "{}",
            now: 10,
            via: "session",
            credential_id: None,
            on_behalf_of: None,
        },
    )
    .expect("audit");
    limits::hit(&tx, "login", "a@example.com", 5, 60_000, 10).expect("hit");
    limits::release(&tx, "login", "a@example.com", 10).expect("release");
    limits::clear(&tx, "login", "a@example.com").expect("clear");
    limits::prune(&tx, 0).expect("prune");
    tokens::record_use(&tx, token, 10, "192.0.2.1").expect("last use");
    tokens::limits::add_usage(&tx, token, 0, 1, 0).expect("usage");
    tokens::limits::purge_usage(&tx, 0).expect("purge");
    tokens::limits::mark_quota_low(&tx, token, 0).expect("quota low");
    webhooks::insert(&tx, company, "e1", "token.expiring", Some(token), "{}", 10).expect("outbox");
    webhooks::mark_warned(&tx, token, "7d", 100).expect("warned");
    assert_eq!(tx.commit(None).expect("commit"), nothing());
}

#[test]
fn books_user_token_scope_role_and_company_writes_touch_auth() {
    let conn = memory();
    let (company, user) = seeded(&conn);
    let token = stored_token(&conn, (company, user), TokenDigest::of("v"));
    let t = tokens::get(&conn, token).expect("read").expect("token");
    let u = users::get(&conn, user).expect("read").expect("user");
    let c = companies::get(&conn, company)
        .expect("read")
        .expect("company");
    let steps: Vec<(&str, Step)> = vec![
        ("users::update", Box::new(|tx| users::update(tx, &u, 1))),
        (
            "users::set_password",
            Box::new(|tx| users::set_password(tx, user, Some("h"))),
        ),
        ("tokens::update", Box::new(|tx| tokens::update(tx, &t, 1))),
        (
            "tokens::set_rate_limit",
            Box::new(|tx| tokens::limits::set_rate_limit(tx, token, None)),
        ),
        (
            "tokens::set_quota",
            Box::new(|tx| tokens::limits::set_quota(tx, token, None, 1)),
        ),
        (
            "tokens::erase_values",
            Box::new(|tx| tokens::erase_values(tx, company).map(|_| ())),
        ),
        (
            "scopes::insert",
            Box::new(|tx| scopes::insert(tx, company, "extra", "", 1).map(|_| ())),
        ),
        (
            "roles::insert",
            Box::new(|tx| {
                roles::insert(tx, company, "r", "", &PermissionSet::EMPTY, 1).map(|_| ())
            }),
        ),
        (
            "companies::update_policy",
            Box::new(|tx| companies::update_policy(tx, &c)),
        ),
    ];
    for (name, step) in steps {
        let tx = Tx::begin(&conn).expect("begin");
        step(&tx).expect(name);
        let e = tx.commit(None).expect("commit");
        assert!(e.touches_auth, "{name} must mark the transaction");
        assert!(e.added.is_empty() && e.removed.is_empty(), "{name}");
    }
}

#[test]
fn books_deleting_a_token_records_its_current_and_previous_digests() {
    let conn = memory();
    let ids = seeded(&conn);
    let (old, new) = (TokenDigest::of("old"), TokenDigest::of("new"));
    let token = stored_token(&conn, ids, old);
    let tx = Tx::begin(&conn).expect("begin");
    tokens::set_value(&tx, token, &new, "n", None, Some((&old, 1_000)), 1).expect("renew");
    let e = tx.commit(None).expect("commit");
    assert_eq!((e.added, e.removed), (vec![new], vec![]));
    let tx = Tx::begin(&conn).expect("begin");
    tokens::delete(&tx, token).expect("delete");
    let e = tx.commit(None).expect("commit");
    assert!(e.added.is_empty());
    assert_eq!(e.removed, vec![new, old]);
}

#[test]
fn books_renewing_without_grace_removes_the_old_and_earlier_previous_values() {
    let conn = memory();
    let ids = seeded(&conn);
    let (a, b, c) = (
        TokenDigest::of("a"),
        TokenDigest::of("b"),
        TokenDigest::of("c"),
    );
    let token = stored_token(&conn, ids, a);
    let tx = Tx::begin(&conn).expect("begin");
    tokens::set_value(&tx, token, &b, "b", None, Some((&a, 1_000)), 1).expect("renew");
    tx.commit(None).expect("commit");
    let tx = Tx::begin(&conn).expect("begin");
    tokens::set_value(&tx, token, &c, "c", None, None, 2).expect("renew");
    let e = tx.commit(None).expect("commit");
    assert_eq!(e.added, vec![c]);
    assert_eq!(e.removed, vec![b, a]);
}

#[test]
fn books_an_ended_grace_period_records_the_previous_value_removed() {
    let conn = memory();
    let ids = seeded(&conn);
    let (a, b) = (TokenDigest::of("a"), TokenDigest::of("b"));
    let token = stored_token(&conn, ids, a);
    let tx = Tx::begin(&conn).expect("begin");
    tokens::set_value(&tx, token, &b, "b", None, Some((&a, 1_000)), 1).expect("renew");
    tx.commit(None).expect("commit");
    let tx = Tx::begin(&conn).expect("begin");
    assert_eq!(tokens::end_grace(&tx, 2_000).expect("grace"), vec![a]);
    let e = tx.commit(None).expect("commit");
    assert_eq!((e.added, e.removed), (vec![], vec![a]));
}

#[test]
fn books_legacy_credentials_record_their_uuid_key() {
    let conn = memory();
    let ids = seeded(&conn);
    let token = stored_token(&conn, ids, TokenDigest::of("v"));
    let uuid = "6f1c2a3b-0000-4000-8000-000000000001";
    let tx = Tx::begin(&conn).expect("begin");
    legacy::insert(&tx, token, uuid, b"secret-digest", 1).expect("legacy");
    let e = tx.commit(None).expect("commit");
    assert_eq!(e.added, vec![legacy_key(uuid)]);
    let tx = Tx::begin(&conn).expect("begin");
    assert_eq!(
        legacy::take_for_token(&tx, token, 2).expect("take"),
        Some(uuid.to_string())
    );
    let e = tx.commit(None).expect("commit");
    assert_eq!((e.added, e.removed), (vec![], vec![legacy_key(uuid)]));
    assert!(e.touches_auth);
}

#[test]
fn books_node_tokens_enter_and_leave_the_filter_once() {
    let conn = memory();
    let (company, user) = seeded(&conn);
    let (d1, d2) = (TokenDigest::of("n1"), TokenDigest::of("n2"));
    let tx = Tx::begin(&conn).expect("begin");
    let n1 = nodes::insert(&tx, company, "n1", &d1, "h", user, 1).expect("node");
    let n2 = nodes::insert(&tx, company, "n2", &d2, "h", user, 1).expect("node");
    assert_eq!(tx.commit(None).expect("commit").added, vec![d1, d2]);
    let tx = Tx::begin(&conn).expect("begin");
    nodes::heartbeat(&tx, n1, 2, "192.0.2.1", Some("1.0")).expect("heartbeat");
    assert_eq!(tx.commit(None).expect("commit"), nothing());
    // Disabled (leaked): out of the filter; deleted afterwards: not removed a second time.
    let tx = Tx::begin(&conn).expect("begin");
    nodes::disable_token(&tx, n1, "leaked", 3).expect("disable");
    nodes::delete(&tx, n1).expect("delete");
    nodes::delete(&tx, n2).expect("delete");
    let e = tx.commit(None).expect("commit");
    assert_eq!(e.removed, vec![d1, d2]);
    assert!(e.touches_auth);
}

#[test]
fn books_only_a_write_touching_auth_bumps_the_change_counter() {
    let conn = memory();
    let (company, user) = seeded(&conn);
    let before = read_epoch(&conn).expect("epoch");
    let tx = Tx::begin(&conn).expect("begin");
    sessions::insert(&tx, &[1u8; 32], user, "c", 1, 100).expect("session");
    tx.commit(Some("me")).expect("commit");
    assert_eq!(read_epoch(&conn).expect("epoch"), before);
    stored_token(&conn, (company, user), TokenDigest::of("counted"));
    assert_eq!(read_epoch(&conn).expect("epoch"), before);
    let tx = Tx::begin(&conn).expect("begin");
    tokens::insert(&tx, &new_token(company, user, "t2", TokenDigest::of("t2"))).expect("token");
    tx.commit(Some("me")).expect("commit");
    assert_eq!(read_epoch(&conn).expect("epoch"), before + 1);
}
