//! The list's SQL scope and `policy::access` are two writings of one visibility rule: for
//! random companies, users (every role, random custom sets) and tokens (every kind and
//! audience), the tokens a list returns are exactly those `access(..).see` allows.

use proptest::prelude::*;
use tokend::db;
use tokend::db::tokens::NewToken;
use tokend::db::users::NewUser;
use tokend::domain::caller::Caller;
use tokend::domain::listing::TokenFilter;
use tokend::domain::permissions::{Permission, PermissionSet};
use tokend::domain::roles::Role;
use tokend::domain::token::{Audience, TokenKind};
use tokend::domain::token_value::{TokenValue, ValueKind};
use tokend::service::policy::{access, list_scope};

/// A user: company (0 or 1), role index, custom permission bits.
type UserSpec = (usize, usize, u32);
/// A token: owner index, kind index, audience index.
type TokenSpec = (usize, usize, usize);

fn custom_set(bits: u32) -> PermissionSet {
    Permission::ALL
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, p)| *p)
        .collect()
}

fn check(users: &[UserSpec], tokens: &[TokenSpec]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("dir");
    let pool = db::open(&dir.path().join("v.db"), 1).expect("db");
    let raw = pool.get().expect("conn");
    // Writes go through a write transaction (rolled back when the check ends).
    let conn = db::Tx::begin(&raw).expect("tx");
    let companies = [
        db::companies::insert(&conn, "A", 0).expect("company"),
        db::companies::insert(&conn, "B", 0).expect("company"),
    ];
    let mut ids = Vec::new();
    for (n, (company, role, bits)) in users.iter().enumerate() {
        let role = Role::ALL[*role];
        let custom = if role == Role::Custom {
            custom_set(*bits)
        } else {
            PermissionSet::EMPTY
        };
        let email = format!("u{n}@example.com");
        let new = NewUser {
            company_id: companies[*company],
            email: &email,
            name: "u",
            role,
            custom,
            enabled: true,
            sso: false,
            password_hash: None,
            now: 0,
            role_id: None,
        };
        ids.push(db::users::insert(&conn, &new).expect("user"));
    }
    let mut legacy_owners = std::collections::HashSet::new();
    for (n, (owner, kind, audience)) in tokens.iter().enumerate() {
        let owner = db::users::get(&conn, ids[owner % ids.len()])
            .expect("read")
            .expect("owner");
        let kind = [TokenKind::Private, TokenKind::Shared, TokenKind::Legacy][*kind];
        if kind == TokenKind::Legacy && !legacy_owners.insert(owner.id) {
            continue; // one legacy token per user
        }
        let audience = match (kind, audience) {
            (TokenKind::Shared, 1) => Audience::Company,
            _ => Audience::Administrators,
        };
        let value = TokenValue::generate(ValueKind::Api);
        let name = format!("t{n}");
        let new = NewToken {
            company_id: owner.company_id,
            owner_id: owner.id,
            creator_id: Some(owner.id),
            kind,
            audience,
            name: &name,
            description: "",
            permissions: owner.permissions(),
            role_template: None,
            digest: value.digest(),
            value_hint: "x",
            value_enc: None,
            enabled: true,
            expires_at: None,
            allowed_cidrs: "",
            now: 0,
        };
        db::tokens::insert(&conn, &new).expect("token");
    }
    let all = db::tokens::list(
        &conn,
        tokend::domain::listing::Scope::All,
        &TokenFilter::default(),
        None,
        10_000,
    )
    .expect("all");
    for id in &ids {
        let user = db::users::get(&conn, *id).expect("read").expect("user");
        let caller = Caller::session(user, "127.0.0.1".into());
        let mut listed: Vec<i64> = db::tokens::list(
            &conn,
            list_scope(&caller),
            &TokenFilter::default(),
            None,
            10_000,
        )
        .expect("list")
        .iter()
        .map(|t| t.id)
        .collect();
        listed.sort();
        let mut allowed: Vec<i64> = all
            .iter()
            .filter(|t| access(&caller, t).see)
            .map(|t| t.id)
            .collect();
        allowed.sort();
        prop_assert_eq!(
            &listed,
            &allowed,
            "user {} ({:?}, {:?})",
            caller.user.id,
            caller.user.role,
            caller.permissions.names()
        );
        let counted =
            db::tokens::count(&conn, list_scope(&caller), &TokenFilter::default()).expect("count");
        prop_assert_eq!(counted as usize, allowed.len(), "the total agrees too");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn list_visibility_in_sql_is_exactly_policy_access(
        users in prop::collection::vec((0..2usize, 0..Role::ALL.len(), any::<u32>()), 1..7),
        tokens in prop::collection::vec((0..7usize, 0..3usize, 0..2usize), 0..16),
    ) {
        check(&users, &tokens)?;
    }
}
