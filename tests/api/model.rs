//! Model-based property test of the lifecycle rules (rules 2–4, 15–21).
//!
//! Random sequences of operations — create / edit / disable / enable / delete / renew tokens,
//! change roles and custom permission sets, disable / enable users, switch SSO, issue legacy
//! credentials, advance time, run the scheduler's jobs — drive the real service layer on a
//! temporary database (no HTTP, no argon2: fast). After every step the database is compared
//! with a small in-test model that predicts every outcome (which operations succeed, with which
//! error code, and the state afterwards), and the invariants are checked directly:
//!
//! - no enabled token of a disabled or SSO owner;
//! - no token wider than its owner, and no enabled token without permissions;
//! - no token authenticates past its expiry (nor when disabled, deleted, renewed away, or its
//!   owner inactive), checked through the real hot path `auth::extract::authenticate_*`;
//! - nothing is purged before its retention, and every purged token has its `token.purged`
//!   audit row; every disable has its `token.disabled` row with the right reason;
//! - the reconcile job never finds anything to repair (the cascades run in the transaction of
//!   their cause).
//!
//! Time is virtual: every step advances the clock by whole minutes and a case runs in well
//! under a minute of real time, so "has this instant passed?" has one exact answer.
//!
//! The normal suite runs 256 cases. A longer run:
//!
//! ```text
//! PROPTEST_CASES=5000 cargo test --release --test api model
//! ```

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use tokend::config::Config;
use tokend::domain::caller::Caller;
use tokend::domain::names::Email;
use tokend::domain::permissions::{Permission as P, PermissionSet};
use tokend::domain::roles::Role;
use tokend::domain::user::permissions_of;
use tokend::error::ApiError;
use tokend::service::audit::Actor;
use tokend::service::tokens::{CreateToken, RenewToken, UpdateToken};
use tokend::service::users::{UpdateUser, ValidCreate};
use tokend::state::AppState;

const MINUTE_MS: i64 = 60_000;
/// The retention of this test's server, in minutes (2 days: purges happen often).
const RETENTION_MIN: i64 = 2 * 24 * 60;
const USERS: usize = 3;
/// Permissions random sets are drawn from (bit i = POOL[i]).
const POOL: [&str; 7] = [
    "attacks:read",
    "attacks:write",
    "api_discovery:read",
    "nodes:read",
    "nodes:write",
    "tokens:read",
    "tokens:write",
];
const ROLES: [Role; 6] = [
    Role::Admin,
    Role::Analyst,
    Role::ReadOnly,
    Role::ApiDeveloper,
    Role::Deploy,
    Role::Custom,
];
const TEMPLATES: [Role; 5] = [
    Role::Admin,
    Role::Analyst,
    Role::ReadOnly,
    Role::ApiDeveloper,
    Role::Deploy,
];
/// Clock steps and expiry lifetimes, in minutes.
const STEPS: [i64; 7] = [1, 30, 60, 1440, 2 * 1440, 3 * 1440, 7 * 1440];
const LIFETIMES: [i64; 6] = [1, 30, 60, 1440, 3 * 1440, 9 * 1440];

fn set_of(mask: u8) -> PermissionSet {
    let names: Vec<&str> = POOL
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, p)| *p)
        .collect();
    PermissionSet::parse_names(&names).expect("pool names")
}

/// The explicit set a `Perms::Explicit` / `Perms::Within` asks for, given what the owner holds.
fn explicit(p: &Perms, held: PermissionSet) -> PermissionSet {
    match p {
        Perms::Explicit(mask) => set_of(*mask),
        Perms::Within(mask) => set_of(*mask).intersection(&held),
        // A template gives its permissions as an explicit set of the company's scopes.
        Perms::Template(i) => {
            PermissionSet::from_storage(&TEMPLATES[*i].permissions().to_storage())
        }
    }
}

fn names(set: PermissionSet) -> Vec<String> {
    set.names().iter().map(|s| s.to_string()).collect()
}

#[derive(Debug, Clone)]
enum Perms {
    Template(usize),
    /// Exactly these (may exceed the owner: refused).
    Explicit(u8),
    /// These, as far as the owner holds them (may be empty: refused).
    Within(u8),
}

#[derive(Debug, Clone)]
enum Op {
    CreateToken {
        owner: usize,
        perms: Perms,
        lifetime: Option<usize>,
        enabled: bool,
        by_self: bool,
    },
    SetPerms {
        token: u8,
        perms: Perms,
    },
    SetExpiry {
        token: u8,
        lifetime: Option<usize>,
        enable: bool,
    },
    Enable {
        token: u8,
    },
    Disable {
        token: u8,
    },
    Delete {
        token: u8,
    },
    Renew {
        token: u8,
    },
    SetRole {
        user: usize,
        role: usize,
    },
    SetCustom {
        user: usize,
        mask: u8,
    },
    /// SPEC §18: the user takes the company role.
    SetCompanyRole {
        user: usize,
    },
    /// SPEC §18: the company role's set changes (its holders' tokens are trimmed).
    EditRole {
        mask: u8,
    },
    SetUserEnabled {
        user: usize,
        enabled: bool,
    },
    SetSso {
        user: usize,
        sso: bool,
    },
    IssueLegacy {
        user: usize,
    },
    Advance {
        step: usize,
    },
    RunJobs,
}

fn op() -> impl Strategy<Value = Op> {
    let perms = prop_oneof![
        1 => (0..TEMPLATES.len()).prop_map(Perms::Template),
        1 => (0u8..128).prop_map(Perms::Explicit),
        2 => (0u8..128).prop_map(Perms::Within),
    ];
    let lifetime = prop::option::weighted(0.5, 0..LIFETIMES.len());
    prop_oneof![
        6 => (0..USERS, perms.clone(), lifetime.clone(), prop::bool::weighted(0.85), any::<bool>())
            .prop_map(|(owner, perms, lifetime, enabled, by_self)| Op::CreateToken {
                owner, perms, lifetime, enabled, by_self,
            }),
        2 => (any::<u8>(), perms).prop_map(|(token, perms)| Op::SetPerms { token, perms }),
        2 => (any::<u8>(), lifetime, any::<bool>())
            .prop_map(|(token, lifetime, enable)| Op::SetExpiry { token, lifetime, enable }),
        3 => any::<u8>().prop_map(|token| Op::Enable { token }),
        3 => any::<u8>().prop_map(|token| Op::Disable { token }),
        1 => any::<u8>().prop_map(|token| Op::Delete { token }),
        1 => any::<u8>().prop_map(|token| Op::Renew { token }),
        2 => (0..USERS, 0..ROLES.len()).prop_map(|(user, role)| Op::SetRole { user, role }),
        2 => (0..USERS, 0u8..128).prop_map(|(user, mask)| Op::SetCustom { user, mask }),
        2 => (0..USERS).prop_map(|user| Op::SetCompanyRole { user }),
        2 => (0u8..128).prop_map(|mask| Op::EditRole { mask }),
        2 => (0..USERS, any::<bool>())
            .prop_map(|(user, enabled)| Op::SetUserEnabled { user, enabled }),
        1 => (0..USERS, any::<bool>()).prop_map(|(user, sso)| Op::SetSso { user, sso }),
        1 => (0..USERS).prop_map(|user| Op::IssueLegacy { user }),
        4 => (0..STEPS.len()).prop_map(|step| Op::Advance { step }),
        3 => Just(Op::RunJobs),
    ]
}

// ------------------------------------------------------------------ the model

#[derive(Debug, Clone)]
struct MUser {
    id: i64,
    role: Role,
    custom: PermissionSet,
    enabled: bool,
    sso: bool,
}

impl MUser {
    fn perms(&self) -> PermissionSet {
        permissions_of(self.role, &self.custom)
    }
    fn active(&self) -> bool {
        self.enabled && !self.sso
    }
}

#[derive(Debug, Clone)]
struct MToken {
    owner: usize,
    legacy: bool,
    perms: PermissionSet,
    enabled: bool,
    reason: Option<&'static str>,
    /// Virtual minutes.
    disabled_at: Option<i64>,
    expires_at: Option<i64>,
    value: String,
    creds: Option<(String, String)>,
    /// Reasons of the `token.disabled` audit rows expected, in order.
    disabled_events: Vec<&'static str>,
}

#[derive(Debug, Default)]
struct Model {
    /// Virtual now, in minutes since the case began.
    now: i64,
    users: Vec<MUser>,
    tokens: BTreeMap<i64, MToken>,
    /// Every token id ever created, in order (operations pick from these, gone ones too).
    ever: Vec<i64>,
    /// Gone tokens: id → `Some(reason at purge)` when purged, `None` when deleted.
    gone: BTreeMap<i64, Option<Option<&'static str>>>,
    /// Values and UUID + secret pairs that must never authenticate again.
    dead_values: Vec<String>,
    dead_creds: Vec<(String, String)>,
    /// The set of the company role (SPEC §18); `None` until the case starts.
    role_set: Option<PermissionSet>,
}

impl Model {
    fn pick(&self, n: u8) -> Option<i64> {
        (!self.ever.is_empty()).then(|| self.ever[n as usize % self.ever.len()])
    }

    fn disable(&mut self, id: i64, reason: &'static str) {
        let now = self.now;
        let t = self.tokens.get_mut(&id).expect("token");
        if t.enabled {
            t.enabled = false;
            t.reason = Some(reason);
            t.disabled_at = Some(now);
            t.disabled_events.push(reason);
        }
    }

    fn owned_by(&self, user: usize) -> Vec<i64> {
        self.tokens
            .iter()
            .filter(|(_, t)| t.owner == user)
            .map(|(id, _)| *id)
            .collect()
    }

    fn end_creds(&mut self, id: i64) {
        if let Some(c) = self.tokens.get_mut(&id).and_then(|t| t.creds.take()) {
            self.dead_creds.push(c);
        }
    }

    fn remove(&mut self, id: i64, purged: bool) {
        self.end_creds(id);
        let t = self.tokens.remove(&id).expect("token");
        self.dead_values.push(t.value);
        self.gone.insert(id, purged.then_some(t.reason));
    }

    /// Rule 16: the owner's tokens lose what the owner no longer holds.
    fn trim(&mut self, user: usize) {
        let held = self.users[user].perms();
        for id in self.owned_by(user) {
            let t = &self.tokens[&id];
            if t.legacy || t.perms.is_subset_of(&held) {
                continue;
            }
            let perms = t.perms.intersection(&held);
            self.tokens.get_mut(&id).expect("token").perms = perms.clone();
            if perms.is_empty() {
                self.disable(id, "no_permissions");
            }
        }
    }

    fn expired(&self, t: &MToken) -> bool {
        t.expires_at.is_some_and(|e| e <= self.now)
    }

    /// What enabling a token answers (rule 4, 15, 18), in the order the service checks.
    fn enable_refusal(&self, t: &MToken) -> Option<&'static str> {
        let owner = &self.users[t.owner];
        if self.expired(t) {
            Some("expiry_in_past")
        } else if owner.sso {
            Some("sso_user")
        } else if !owner.enabled {
            Some("owner_inactive")
        } else if !t.legacy && t.perms.is_empty() {
            Some("validation_failed")
        } else {
            None
        }
    }

    fn enable(&mut self, id: i64) {
        let t = self.tokens.get_mut(&id).expect("token");
        if !t.enabled {
            t.enabled = true;
            t.reason = None;
            t.disabled_at = None;
        }
    }

    /// Whether a token authenticates now, and with which effective permissions.
    fn authenticates(&self, t: &MToken) -> Option<PermissionSet> {
        let owner = &self.users[t.owner];
        (t.enabled && owner.active() && !self.expired(t)).then(|| {
            if t.legacy {
                owner.perms()
            } else {
                t.perms.intersection(&owner.perms())
            }
        })
    }
}

// ------------------------------------------------------------------ the system under test

struct Sut {
    state: Arc<AppState>,
    rt: Arc<tokio::runtime::Runtime>,
    admin: i64,
    /// The company role users may take (SPEC §18).
    role_id: i64,
    /// Real time (ms, server clock) at virtual minute 0.
    t0: i64,
    started: Instant,
    names: usize,
    /// Last disable instant seen for each token (real ms), to check purges against.
    seen_disabled_at: HashMap<i64, i64>,
    _dir: tempfile::TempDir,
}

type Outcome = Result<(), &'static str>;

/// What the generated cases exercised (printed at the end, to see the model is not vacuous).
#[derive(Debug, Default)]
struct Stats {
    outcomes: BTreeMap<String, usize>,
    purged: usize,
    expired: usize,
    auth_ok: usize,
    auth_refused: usize,
}

thread_local! {
    static STATS: std::cell::RefCell<Stats> = std::cell::RefCell::new(Stats::default());
}

fn tally(f: impl FnOnce(&mut Stats)) {
    STATS.with(|s| f(&mut s.borrow_mut()));
}

fn code<T, E: Into<ApiError>>(r: Result<T, E>) -> Result<T, &'static str> {
    r.map_err(|e| match e.into() {
        ApiError::Internal(e) => panic!("internal error: {e:#}"),
        e => e.code(),
    })
}

impl Sut {
    fn new(rt: Arc<tokio::runtime::Runtime>) -> Sut {
        // tmpfs when available: `synchronous=FULL` makes every commit an fsync.
        let dir = match std::path::Path::new("/dev/shm").is_dir() {
            true => tempfile::tempdir_in("/dev/shm").or_else(|_| tempfile::tempdir()),
            false => tempfile::tempdir(),
        }
        .expect("temp dir");
        let mut config = Config::for_tests(dir.path().join("model.db"));
        config.disabled_retention = Duration::from_secs(RETENTION_MIN as u64 * 60);
        let state = AppState::open(config, false).expect("state");
        let t0 = state.now_ms();
        let mut sut = Sut {
            state,
            rt,
            admin: 0,
            role_id: 0,
            t0,
            started: Instant::now(),
            names: 0,
            seen_disabled_at: HashMap::new(),
            _dir: dir,
        };
        let company = sut
            .state
            .write_blocking(|tx| {
                Ok::<_, tokend::service::Error>(tokend::db::companies::insert(tx, "Model", t0)?)
            })
            .expect("company");
        sut.admin = sut.insert_user(company, "admin@model.test", Role::GlobalAdmin);
        let env = sut.state.env();
        let caller = sut.caller(sut.admin);
        let role = sut
            .state
            .write_blocking(|tx| {
                tokend::service::roles::create(
                    tx,
                    &env,
                    &caller,
                    tokend::service::roles::CreateRole {
                        name: "Model role".into(),
                        permissions: Some(names(set_of(0x7f))),
                        ..Default::default()
                    },
                )
            })
            .expect("company role");
        sut.role_id = role.id.expect("role id");
        sut
    }

    fn edit_role(&self, set: &PermissionSet) -> Outcome {
        let env = self.state.env();
        let caller = self.caller(self.admin);
        let input = tokend::service::roles::UpdateRole {
            permissions: Some(names(set.clone())),
            ..Default::default()
        };
        code(self.state.write_blocking(|tx| {
            tokend::service::roles::update(tx, &env, &caller, self.role_id, input)
        }))
        .map(|_| ())
    }

    fn insert_user(&self, company_id: i64, email: &str, role: Role) -> i64 {
        let v = ValidCreate {
            company_id,
            email: Email::parse(email).expect("email"),
            name: email.into(),
            role,
            custom: PermissionSet::EMPTY,
            enabled: true,
            sso: false,
            password: None,
            role_id: None,
            grantor: None,
        };
        let env = self.state.env();
        self.state
            .write_blocking(|tx| {
                tokend::service::users::insert(tx, &env, &Actor::system(), &v, None)
            })
            .expect("user")
            .id
    }

    fn caller(&self, user: i64) -> Caller {
        let u = self
            .state
            .read_blocking(|c| Ok::<_, tokend::service::Error>(tokend::db::users::get(c, user)?))
            .expect("read")
            .expect("user");
        Caller::session(u, "127.0.0.1".into())
    }

    fn virt(&self, ms: i64) -> i64 {
        (ms - self.t0).div_euclid(MINUTE_MS)
    }

    fn expiry(&self, lifetime: Option<usize>) -> Option<chrono::DateTime<chrono::Utc>> {
        lifetime.map(|i| self.state.now() + chrono::Duration::minutes(LIFETIMES[i]))
    }

    fn update_token(&self, id: i64, input: UpdateToken) -> Outcome {
        let env = self.state.env();
        let caller = self.caller(self.admin);
        code(
            self.state
                .write_blocking(|tx| tokend::service::tokens::update(tx, &env, &caller, id, input)),
        )
        .map(|_| ())
    }

    fn update_user(&self, id: i64, input: UpdateUser) -> Outcome {
        let env = self.state.env();
        let caller = self.caller(self.admin);
        code(self.state.write_blocking(|tx| {
            tokend::service::users::update(tx, &env, &caller, id, input, None)
        }))
        .map(|_| ())
    }
}

fn check(cond: bool, msg: impl FnOnce() -> String) -> Result<(), TestCaseError> {
    if cond {
        Ok(())
    } else {
        Err(TestCaseError::fail(msg()))
    }
}

fn expect_outcome(op: &Op, predicted: Outcome, got: Outcome) -> Result<(), TestCaseError> {
    let kind = format!("{op:?}");
    let kind = kind.split([' ', '{']).next().unwrap_or("?");
    let key = format!("{kind} {}", got.err().unwrap_or("ok"));
    tally(|s| *s.outcomes.entry(key).or_default() += 1);
    check(predicted == got, || {
        format!("{op:?}: the model predicted {predicted:?}, the service answered {got:?}")
    })
}

/// Applies one operation to both the service and the model.
fn step(sut: &mut Sut, m: &mut Model, op: &Op) -> Result<(), TestCaseError> {
    match op.clone() {
        Op::CreateToken {
            owner,
            perms,
            lifetime,
            enabled,
            by_self,
        } => {
            let u = m.users[owner].clone();
            let self_service = by_self && u.active();
            let (set, input_perms, template) = match perms {
                Perms::Template(i) => (TEMPLATES[i].permissions(), None, Some(TEMPLATES[i].name())),
                p => {
                    let set = explicit(&p, u.perms());
                    (set.clone(), Some(names(set)), None)
                }
            };
            let predicted = if self_service && !u.perms().contains(P::TokensWrite) {
                Err("insufficient_scope")
            } else if u.sso {
                Err("sso_user")
            } else if !u.enabled {
                Err("owner_inactive")
            } else if set.is_empty() {
                Err("validation_failed")
            } else if !set.is_subset_of(&u.perms()) {
                Err("permissions_exceed_owner")
            } else {
                Ok(())
            };
            sut.names += 1;
            let input = CreateToken {
                name: format!("t{}", sut.names),
                owner_id: (!self_service).then_some(u.id),
                role_template: template.map(str::to_string),
                permissions: input_perms,
                expires_at: sut.expiry(lifetime),
                enabled: Some(enabled),
                ..CreateToken::default()
            };
            let caller = sut.caller(if self_service { u.id } else { sut.admin });
            let env = sut.state.env();
            let got =
                code(sut.state.write_blocking(|tx| {
                    tokend::service::tokens::create(tx, &env, &caller, input)
                }));
            expect_outcome(op, predicted, got.as_ref().map(|_| ()).map_err(|e| *e))?;
            if let Ok(created) = got {
                let id = created.token.id;
                m.ever.push(id);
                m.tokens.insert(
                    id,
                    MToken {
                        owner,
                        legacy: false,
                        perms: set,
                        enabled,
                        reason: (!enabled).then_some("manual"),
                        disabled_at: (!enabled).then_some(m.now),
                        expires_at: lifetime.map(|i| m.now + LIFETIMES[i]),
                        value: created.value.expose().to_string(),
                        creds: None,
                        disabled_events: Vec::new(),
                    },
                );
            }
        }
        Op::SetPerms { token, perms } => {
            let Some(id) = m.pick(token) else {
                return Ok(());
            };
            let held = m
                .tokens
                .get(&id)
                .map_or(PermissionSet::EMPTY, |t| m.users[t.owner].perms());
            let (set, request) = match perms {
                Perms::Template(i) => (
                    TEMPLATES[i].permissions(),
                    UpdateToken {
                        role_template: Some(TEMPLATES[i].name().into()),
                        ..UpdateToken::default()
                    },
                ),
                p => {
                    let set = explicit(&p, held);
                    let request = UpdateToken {
                        permissions: Some(names(set.clone())),
                        ..UpdateToken::default()
                    };
                    (set, request)
                }
            };
            let predicted = match m.tokens.get(&id) {
                None => Err("not_found"),
                Some(t) if t.legacy => Err("legacy_permissions_fixed"),
                Some(_) if set.is_empty() => Err("validation_failed"),
                Some(t) if !set.is_subset_of(&m.users[t.owner].perms()) => {
                    Err("permissions_exceed_owner")
                }
                Some(_) => Ok(()),
            };
            let got = sut.update_token(id, request);
            expect_outcome(op, predicted, got)?;
            if got.is_ok() {
                m.tokens.get_mut(&id).expect("token").perms = set;
            }
        }
        Op::SetExpiry {
            token,
            lifetime,
            enable,
        } => {
            let Some(id) = m.pick(token) else {
                return Ok(());
            };
            let new_expiry = lifetime.map(|i| m.now + LIFETIMES[i]);
            let predicted = match m.tokens.get(&id) {
                None => Err("not_found"),
                Some(t) if enable => {
                    let mut after = t.clone();
                    after.expires_at = new_expiry;
                    m.enable_refusal(&after).map_or(Ok(()), Err)
                }
                Some(_) => Ok(()),
            };
            let got = sut.update_token(
                id,
                UpdateToken {
                    expires_at: Some(sut.expiry(lifetime)),
                    enabled: enable.then_some(true),
                    ..UpdateToken::default()
                },
            );
            expect_outcome(op, predicted, got)?;
            if got.is_ok() {
                m.tokens.get_mut(&id).expect("token").expires_at = new_expiry;
                if enable {
                    m.enable(id);
                }
            }
        }
        Op::Enable { token } => {
            let Some(id) = m.pick(token) else {
                return Ok(());
            };
            let predicted = match m.tokens.get(&id) {
                None => Err("not_found"),
                Some(t) => m.enable_refusal(t).map_or(Ok(()), Err),
            };
            let got = sut.update_token(
                id,
                UpdateToken {
                    enabled: Some(true),
                    ..UpdateToken::default()
                },
            );
            expect_outcome(op, predicted, got)?;
            if got.is_ok() {
                m.enable(id);
            }
        }
        Op::Disable { token } => {
            let Some(id) = m.pick(token) else {
                return Ok(());
            };
            let predicted = if m.tokens.contains_key(&id) {
                Ok(())
            } else {
                Err("not_found")
            };
            let got = sut.update_token(
                id,
                UpdateToken {
                    enabled: Some(false),
                    ..UpdateToken::default()
                },
            );
            expect_outcome(op, predicted, got)?;
            if got.is_ok() {
                m.disable(id, "manual");
            }
        }
        Op::Delete { token } => {
            let Some(id) = m.pick(token) else {
                return Ok(());
            };
            let predicted = if m.tokens.contains_key(&id) {
                Ok(())
            } else {
                Err("not_found")
            };
            let env = sut.state.env();
            let caller = sut.caller(sut.admin);
            let got = code(
                sut.state
                    .write_blocking(|tx| tokend::service::tokens::delete(tx, &env, &caller, id)),
            );
            expect_outcome(op, predicted, got)?;
            if got.is_ok() {
                m.remove(id, false);
            }
        }
        Op::Renew { token } => {
            // Only the owner renews a private or legacy token; a signed-in owner is active.
            let Some(id) = m.pick(token) else {
                return Ok(());
            };
            let Some(t) = m.tokens.get(&id) else {
                return Ok(());
            };
            let owner = m.users[t.owner].clone();
            if !owner.active() {
                return Ok(());
            }
            let predicted = if owner.perms().contains(P::TokensWrite) {
                Ok(())
            } else {
                Err("insufficient_scope")
            };
            let env = sut.state.env();
            let caller = sut.caller(owner.id);
            let got = code(sut.state.write_blocking(|tx| {
                tokend::service::tokens::renew(tx, &env, &caller, id, RenewToken::default())
            }));
            expect_outcome(op, predicted, got.as_ref().map(|_| ()).map_err(|e| *e))?;
            if let Ok(renewed) = got {
                m.end_creds(id);
                let t = m.tokens.get_mut(&id).expect("token");
                let old = std::mem::replace(&mut t.value, renewed.value.expose().to_string());
                m.dead_values.push(old);
            }
        }
        Op::SetRole { user, role } => {
            let role = ROLES[role];
            let got = sut.update_user(
                m.users[user].id,
                UpdateUser {
                    role: Some(role.name().into()),
                    ..UpdateUser::default()
                },
            );
            expect_outcome(op, Ok(()), got)?;
            let u = &mut m.users[user];
            if !(role == Role::Custom && u.role == Role::Custom) {
                u.custom = PermissionSet::EMPTY;
            }
            u.role = role;
            m.trim(user);
        }
        Op::SetCustom { user, mask } => {
            let got = sut.update_user(
                m.users[user].id,
                UpdateUser {
                    role: Some("custom".into()),
                    permissions: Some(names(set_of(mask))),
                    ..UpdateUser::default()
                },
            );
            expect_outcome(op, Ok(()), got)?;
            m.users[user].role = Role::Custom;
            m.users[user].custom = set_of(mask);
            m.trim(user);
        }
        Op::SetCompanyRole { user } => {
            let got = sut.update_user(
                m.users[user].id,
                UpdateUser {
                    role: Some("company".into()),
                    role_id: Some(sut.role_id),
                    ..UpdateUser::default()
                },
            );
            expect_outcome(op, Ok(()), got)?;
            let set = m.role_set.clone().unwrap_or_else(|| set_of(0x7f));
            m.users[user].role = Role::Company;
            m.users[user].custom = set;
            m.trim(user);
        }
        Op::EditRole { mask } => {
            let set = set_of(mask);
            let got = sut.edit_role(&set);
            expect_outcome(op, Ok(()), got)?;
            m.role_set = Some(set.clone());
            for user in 0..m.users.len() {
                if m.users[user].role == Role::Company {
                    m.users[user].custom = set.clone();
                    m.trim(user);
                }
            }
        }
        Op::SetUserEnabled { user, enabled } => {
            let got = sut.update_user(
                m.users[user].id,
                UpdateUser {
                    enabled: Some(enabled),
                    ..UpdateUser::default()
                },
            );
            expect_outcome(op, Ok(()), got)?;
            let was = std::mem::replace(&mut m.users[user].enabled, enabled);
            if was && !enabled {
                for id in m.owned_by(user) {
                    m.disable(id, "owner_disabled");
                }
            }
        }
        Op::SetSso { user, sso } => {
            let got = sut.update_user(
                m.users[user].id,
                UpdateUser {
                    sso: Some(sso),
                    ..UpdateUser::default()
                },
            );
            expect_outcome(op, Ok(()), got)?;
            let was = std::mem::replace(&mut m.users[user].sso, sso);
            if !was && sso {
                for id in m.owned_by(user) {
                    m.disable(id, "owner_sso");
                    m.end_creds(id);
                }
            }
        }
        Op::IssueLegacy { user } => {
            let u = m.users[user].clone();
            let has_legacy = m.tokens.values().any(|t| t.owner == user && t.legacy);
            let predicted = if u.sso {
                Err("sso_user")
            } else if !u.enabled {
                Err("owner_inactive")
            } else if has_legacy {
                Err("legacy_exists")
            } else {
                Ok(())
            };
            let env = sut.state.env();
            let caller = sut.caller(sut.admin);
            let got = code(sut.state.write_blocking(|tx| {
                tokend::service::legacy::issue(tx, &env, &caller, u.id, Default::default())
            }));
            expect_outcome(op, predicted, got.as_ref().map(|_| ()).map_err(|e| *e))?;
            if let Ok(creds) = got {
                // The legacy token's own value works too (rule 20): its owner reveals it, when
                // the owner may read tokens at all.
                let value =
                    if u.perms().contains(P::TokensRead) {
                        let owner = sut.caller(u.id);
                        let env = sut.state.env();
                        let id = creds.token_id;
                        code(sut.state.write_blocking(|tx| {
                            tokend::service::tokens::reveal(tx, &env, &owner, id)
                        }))
                        .unwrap_or_else(|e| panic!("the owner cannot reveal its legacy token: {e}"))
                    } else {
                        String::new()
                    };
                m.ever.push(creds.token_id);
                m.tokens.insert(
                    creds.token_id,
                    MToken {
                        owner: user,
                        legacy: true,
                        perms: PermissionSet::EMPTY,
                        enabled: true,
                        reason: None,
                        disabled_at: None,
                        expires_at: None,
                        value,
                        creds: Some((creds.uuid, creds.secret.expose().to_string())),
                        disabled_events: Vec::new(),
                    },
                );
            }
        }
        Op::Advance { step } => {
            sut.state
                .clock
                .advance(chrono::Duration::minutes(STEPS[step]));
            m.now += STEPS[step];
        }
        Op::RunJobs => {
            let report = tokend::jobs::run_all(&sut.state)
                .unwrap_or_else(|e| panic!("maintenance failed: {e}"));
            let mut expired = 0;
            for id in m.tokens.keys().copied().collect::<Vec<_>>() {
                let t = &m.tokens[&id];
                if t.enabled && m.expired(t) {
                    m.disable(id, "expired");
                    expired += 1;
                }
            }
            let due: Vec<i64> = m
                .tokens
                .iter()
                .filter(|(_, t)| {
                    !t.enabled && t.disabled_at.is_some_and(|d| d + RETENTION_MIN <= m.now)
                })
                .map(|(id, _)| *id)
                .collect();
            for id in &due {
                m.remove(*id, true);
            }
            tally(|s| {
                s.expired += expired;
                s.purged += due.len();
            });
            check(report.expire == expired, || {
                format!("expire job: {report:?}, model {expired}")
            })?;
            check(report.purge == due.len(), || {
                format!("purge job: {report:?}, model {due:?}")
            })?;
            check(report.idle == 0, || format!("idle job: {report:?}"))?;
            check(report.reconcile == Default::default(), || {
                format!("reconcile found something to repair: {report:?}")
            })?;
        }
    }
    Ok(())
}

/// Compares the database with the model and checks the invariants directly.
fn verify(sut: &mut Sut, m: &Model) -> Result<(), TestCaseError> {
    check(sut.started.elapsed() < Duration::from_secs(50), || {
        "a case ran for 50 s: the virtual-minute clock assumption no longer holds".into()
    })?;
    type Row = (
        i64,
        i64,
        String,
        String,
        bool,
        Option<String>,
        Option<i64>,
        Option<i64>,
    );
    let (rows, users, audit, creds) = sut
        .state
        .read_blocking(|c| {
            let rows: Vec<Row> = c.query_map(
                "SELECT id, owner_id, kind, permissions, enabled, disabled_reason, disabled_at,
                            expires_at FROM tokens ORDER BY id",
                tokend::params![],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                        r.get(7)?,
                    ))
                },
            )?;
            let mut users = HashMap::new();
            for u in &m.users {
                users.insert(u.id, tokend::db::users::get(c, u.id)?.expect("user"));
            }
            let audit = c.query_map(
                "SELECT token_id, action, details, created_at FROM audit_events
                     WHERE action IN ('token.disabled', 'token.purged', 'token.deleted')
                     ORDER BY id",
                tokend::params![],
                |r| {
                    Ok((
                        r.get::<i64>(0)?,
                        r.get::<String>(1)?,
                        r.get::<String>(2)?,
                        r.get::<i64>(3)?,
                    ))
                },
            )?;
            let creds = c.query_map(
                "SELECT token_id, uuid FROM legacy_credentials ORDER BY token_id",
                tokend::params![],
                |r| Ok((r.get::<i64>(0)?, r.get::<String>(1)?)),
            )?;
            Ok::<_, tokend::service::Error>((rows, users, audit, creds))
        })
        .expect("read");

    // Users.
    for mu in &m.users {
        let u = &users[&mu.id];
        check(
            u.role == mu.role
                && u.custom == mu.custom
                && u.enabled == mu.enabled
                && u.sso == mu.sso,
            || format!("user {}: stored {u:?}, model {mu:?}", mu.id),
        )?;
    }
    // Tokens, against the model and the invariants.
    let stored: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let modelled: Vec<i64> = m.tokens.keys().copied().collect();
    check(stored == modelled, || {
        format!("tokens stored {stored:?}, model {modelled:?}")
    })?;
    for (id, owner_id, kind, perms, enabled, reason, disabled_at, expires_at) in &rows {
        let t = &m.tokens[id];
        let owner = &users[owner_id];
        let perms = PermissionSet::from_storage(perms);
        let legacy = kind == "legacy";
        check(
            *owner_id == m.users[t.owner].id && legacy == t.legacy,
            || format!("token {id}: owner/kind"),
        )?;
        check(!(*enabled && (!owner.enabled || owner.sso)), || {
            format!("INVARIANT: token {id} enabled under an inactive owner {owner:?}")
        })?;
        check(legacy || perms.is_subset_of(&owner.permissions()), || {
            format!(
                "INVARIANT: token {id} {:?} wider than its owner {:?}",
                perms.names(),
                owner.permissions().names()
            )
        })?;
        check(legacy || !*enabled || !perms.is_empty(), || {
            format!("INVARIANT: token {id} enabled without permissions")
        })?;
        check(legacy || perms == t.perms, || {
            format!(
                "token {id}: permissions {:?}, model {:?}",
                perms.names(),
                t.perms.names()
            )
        })?;
        check(
            *enabled == t.enabled && reason.as_deref() == t.reason,
            || {
                format!(
                    "token {id}: enabled {enabled} {reason:?}, model {} {:?}",
                    t.enabled, t.reason
                )
            },
        )?;
        check(disabled_at.map(|d| sut.virt(d)) == t.disabled_at, || {
            format!(
                "token {id}: disabled at minute {:?}, model {:?}",
                disabled_at.map(|d| sut.virt(d)),
                t.disabled_at
            )
        })?;
        check(expires_at.map(|e| sut.virt(e)) == t.expires_at, || {
            format!(
                "token {id}: expires at minute {:?}, model {:?}",
                expires_at.map(|e| sut.virt(e)),
                t.expires_at
            )
        })?;
        if let Some(d) = disabled_at {
            sut.seen_disabled_at.insert(*id, *d);
        }
    }
    // Audit: every disable with its reason, every purge (never before its retention).
    let mut disabled: HashMap<i64, Vec<String>> = HashMap::new();
    let mut purged: HashMap<i64, Vec<(String, i64)>> = HashMap::new();
    let mut deleted: HashMap<i64, usize> = HashMap::new();
    for (token, action, details, at) in &audit {
        let details: serde_json::Value = serde_json::from_str(details).expect("details");
        let reason = details["reason"].as_str().unwrap_or("").to_string();
        match action.as_str() {
            "token.disabled" => disabled.entry(*token).or_default().push(reason),
            "token.purged" => purged.entry(*token).or_default().push((reason, *at)),
            _ => *deleted.entry(*token).or_default() += 1,
        }
    }
    for (id, t) in &m.tokens {
        let got = disabled.remove(id).unwrap_or_default();
        check(got == t.disabled_events, || {
            format!(
                "token {id}: token.disabled audit {got:?}, model {:?}",
                t.disabled_events
            )
        })?;
        check(!purged.contains_key(id), || {
            format!("token {id} has a purge record but exists")
        })?;
    }
    for (id, how) in &m.gone {
        let p = purged.get(id).cloned().unwrap_or_default();
        match how {
            Some(reason) => {
                check(p.len() == 1 && Some(p[0].0.as_str()) == *reason, || {
                    format!("purged token {id}: token.purged audit {p:?}, model reason {reason:?}")
                })?;
                let disabled_at = sut.seen_disabled_at.get(id).copied().unwrap_or(i64::MAX);
                let since = p[0].1.saturating_sub(disabled_at);
                check(since >= RETENTION_MIN * MINUTE_MS, || {
                    format!("INVARIANT: token {id} purged {since} ms after being disabled")
                })?;
            }
            None => check(p.is_empty() && deleted.get(id) == Some(&1), || {
                format!(
                    "deleted token {id}: purge {p:?}, deletions {:?}",
                    deleted.get(id)
                )
            })?,
        }
    }
    // Legacy credentials alive exactly where the model has them.
    let alive: Vec<(i64, String)> = m
        .tokens
        .iter()
        .filter_map(|(id, t)| t.creds.as_ref().map(|(u, _)| (*id, u.clone())))
        .collect();
    check(creds == alive, || {
        format!("legacy credentials {creds:?}, model {alive:?}")
    })?;

    // The hot path: who authenticates, with what.
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let state = sut.state.clone();
    let rt = sut.rt.clone();
    for (id, t) in &m.tokens {
        let expected = m.authenticates(t);
        if !t.value.is_empty() {
            let got = rt.block_on(tokend::auth::extract::authenticate_token(
                &state, &t.value, ip,
            ));
            same_auth(*id, "value", expected.clone(), got)?;
        }
        if let Some((uuid, secret)) = &t.creds {
            let got = rt.block_on(tokend::auth::extract::authenticate_legacy(
                &state, uuid, secret, ip,
            ));
            same_auth(*id, "UUID + secret", expected.clone(), got)?;
        }
        if let Some(e) = t.expires_at.filter(|e| *e <= m.now) {
            check(expected.is_none(), || {
                format!("INVARIANT: token {id} expired at minute {e}")
            })?;
        }
    }
    for v in m.dead_values.iter().filter(|v| !v.is_empty()) {
        let got = rt.block_on(tokend::auth::extract::authenticate_token(&state, v, ip));
        check(got.is_err(), || {
            "a deleted, purged or renewed-away value authenticates".into()
        })?;
    }
    for (uuid, secret) in &m.dead_creds {
        // Each refused attempt counts against its client address (rule 29): ask from a
        // fresh address each time, so the throttle never hides a live credential's answer.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
        let from = IpAddr::V4(Ipv4Addr::from(
            0x0A00_0000 + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        ));
        let got = rt.block_on(tokend::auth::extract::authenticate_legacy(
            &state, uuid, secret, from,
        ));
        check(got.is_err(), || {
            format!("ended legacy credentials {uuid} authenticate")
        })?;
    }
    Ok(())
}

fn same_auth(
    id: i64,
    how: &str,
    expected: Option<PermissionSet>,
    got: Result<Caller, ApiError>,
) -> Result<(), TestCaseError> {
    match (expected, got) {
        (None, Err(ApiError::Unauthenticated(_))) => {
            tally(|s| s.auth_refused += 1);
            Ok(())
        }
        (Some(perms), Ok(c)) if c.token_id == Some(id) && c.permissions == perms => {
            tally(|s| s.auth_ok += 1);
            Ok(())
        }
        (expected, got) => Err(TestCaseError::fail(format!(
            "token {id} by {how}: model expects {:?}, the hot path answered {:?}",
            expected.map(|p| format!("{p:?}")),
            got.map(|c| (c.token_id, format!("{:?}", c.permissions)))
                .map_err(|e| e.code())
        ))),
    }
}

fn run_case(
    rt: &Arc<tokio::runtime::Runtime>,
    roles: &[usize],
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let mut sut = Sut::new(rt.clone());
    let company = sut.caller(sut.admin).user.company_id;
    let mut m = Model::default();
    for (i, r) in roles.iter().enumerate() {
        let role = ROLES[*r];
        let id = sut.insert_user(company, &format!("u{i}@model.test"), role);
        m.users.push(MUser {
            id,
            role,
            custom: PermissionSet::EMPTY,
            enabled: true,
            sso: false,
        });
    }
    verify(&mut sut, &m)?;
    for op in ops {
        step(&mut sut, &mut m, op)?;
        verify(&mut sut, &m)?;
    }
    Ok(())
}

/// Random operation sequences keep the database equal to the model and the invariants true.
#[test]
fn model_lifecycle_random_sequences_keep_the_invariants() {
    let rt = Arc::new(
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime"),
    );
    // 256 cases unless PROPTEST_CASES says otherwise.
    let mut runner = TestRunner::new(ProptestConfig {
        source_file: Some(file!()),
        ..ProptestConfig::default()
    });
    let strategy = (
        prop::collection::vec(0..ROLES.len(), USERS),
        prop::collection::vec(op(), 1..48),
    );
    let started = Instant::now();
    let result = runner.run(&strategy, |(roles, ops)| run_case(&rt, &roles, &ops));
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!(
        "model: {} cases in {:.1} s",
        runner.config().cases,
        started.elapsed().as_secs_f64()
    );
    STATS.with(|s| eprintln!("model: exercised {:#?}", s.borrow()));
}
