//! Rule 36 as a property: no operation hands out more power than the credential performing it.
//!
//! Random sequences of operations — create tokens (for oneself or others, private or shared),
//! reveal, renew, enable, disable, bulk enable, later or no expiry, loosen or add an IP binding,
//! other permissions, set a user's password or email (with and without the current password),
//! change a role, enable a user, issue legacy credentials, create a node, revoke a known value —
//! are sent over HTTP to one running server by random credentials: a company administrator's
//! full, narrow and users-only own tokens, a token an administrator made for an analyst
//! (delegated), legacy UUID + secret credentials, a console session (the only credential that
//! knows a password), a custom "helpdesk" role, the global administrator's full token and its
//! admin-template token (no `companies:*`), and another company's administrator.
//!
//! Before each step the caller's power is read (`GET /v1/me`: its effective permissions and
//! company); after it, the test checks what the step handed out or gave back:
//! - every value in the answer (create, renew, reveal, legacy credentials) authenticates with
//!   at most the caller's permissions, in a company the caller reaches;
//! - every token that became usable again or gained power (enabled, its owner enabled, a later
//!   or no expiry, a looser binding, a permission it lacked — a legacy token's owner's role
//!   included) is within the caller's power before and after;
//! - a password or email changed only by a session of that user (which knows the current
//!   password), or by a caller covering the user (rule 26);
//! - a leaked token is enabled only through a renew (rule 38).
//!
//! The normal suite runs 24 cases of up to 40 steps each; `PROPTEST_CASES=500 cargo test
//! --release --test api rule_36_property` runs longer.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

const TEMPLATES: [&str; 5] = ["admin", "analyst", "read_only", "api_developer", "deploy"];
const ROLES: [&str; 4] = ["admin", "analyst", "read_only", "deploy"];
const PASSWORD: &str = "initial-password-1";

/// How a credential authenticates.
#[derive(Debug, Clone)]
enum Auth {
    Bearer(String),
    Legacy { uuid: String, secret: String },
    Session { cookie: String, csrf: String },
}

#[derive(Debug, Clone)]
struct Credential {
    label: &'static str,
    auth: Auth,
    user: i64,
    /// The token behind it (updated when it renews itself).
    token_id: Option<i64>,
}

/// One operation; indices pick a target modulo the case's pools.
#[derive(Debug, Clone)]
enum Op {
    Create {
        owner: usize,
        template: usize,
        shared: bool,
    },
    Reveal(usize),
    Renew(usize),
    Enable(usize),
    Disable(usize),
    BulkEnable(usize),
    ExtendExpiry(usize),
    RemoveExpiry(usize),
    Unbind(usize),
    Bind(usize),
    Template(usize, usize),
    Password {
        user: usize,
        current: bool,
    },
    Email {
        user: usize,
        current: bool,
    },
    Role(usize, usize),
    DisableUser(usize),
    EnableUser(usize),
    IssueLegacy(usize),
    CreateNode,
    Revoke(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let i = || 0usize..64;
    prop_oneof![
        (i(), 0..TEMPLATES.len(), any::<bool>()).prop_map(|(owner, template, shared)| {
            Op::Create {
                owner,
                template,
                shared,
            }
        }),
        i().prop_map(Op::Reveal),
        i().prop_map(Op::Renew),
        i().prop_map(Op::Enable),
        i().prop_map(Op::Disable),
        i().prop_map(Op::BulkEnable),
        i().prop_map(Op::ExtendExpiry),
        i().prop_map(Op::RemoveExpiry),
        i().prop_map(Op::Unbind),
        i().prop_map(Op::Bind),
        (i(), 0..TEMPLATES.len()).prop_map(|(t, r)| Op::Template(t, r)),
        (i(), any::<bool>()).prop_map(|(user, current)| Op::Password { user, current }),
        (i(), any::<bool>()).prop_map(|(user, current)| Op::Email { user, current }),
        (i(), 0..ROLES.len()).prop_map(|(u, r)| Op::Role(u, r)),
        i().prop_map(Op::DisableUser),
        i().prop_map(Op::EnableUser),
        i().prop_map(Op::IssueLegacy),
        Just(Op::CreateNode),
        i().prop_map(Op::Revoke),
    ]
}

/// What one credential may do: effective permissions, company, and whether it reaches others.
#[derive(Debug, Clone, Default)]
struct Power {
    permissions: BTreeSet<String>,
    company: i64,
}

impl Power {
    fn reaches(&self, company: i64) -> bool {
        self.company == company || self.permissions.contains("companies:write")
    }

    /// Whether this power covers `perms` in `company`.
    fn covers(&self, perms: &BTreeSet<String>, company: i64) -> bool {
        perms.is_subset(&self.permissions) && self.reaches(company)
    }
}

/// What is stored about a token that decides what it can do.
#[derive(Debug, Clone, PartialEq)]
struct TokenState {
    live: bool,
    enabled: bool,
    reason: Option<String>,
    expires_at: Option<i64>,
    cidrs: String,
    power: BTreeSet<String>,
    company: i64,
}

#[derive(Debug, Clone, PartialEq)]
struct UserState {
    password: Option<String>,
    email: String,
    permissions: BTreeSet<String>,
    company: i64,
}

/// One case's world.
struct World {
    creds: Vec<Credential>,
    users: Vec<i64>,
    tokens: Vec<i64>,
    /// Values anyone obtained (for `/v1/revoke`).
    values: Vec<String>,
}

fn names(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Sends `body` to `path` as `cred`.
async fn as_cred(
    app: &TestApp,
    cred: &Credential,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = app.client.request(method, app.url(path));
    req = match &cred.auth {
        Auth::Bearer(v) => req.bearer_auth(v),
        Auth::Legacy { uuid, secret } => req
            .header("X-WallarmApi-UUID", uuid)
            .header("X-WallarmApi-Secret", secret),
        Auth::Session { cookie, csrf } => req.header("Cookie", cookie).header("X-CSRF-Token", csrf),
    };
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request sent");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// The power of a credential now (`None` when it does not authenticate).
async fn power_of(app: &TestApp, cred: &Credential) -> Option<Power> {
    let (status, me) = as_cred(app, cred, Method::GET, "/v1/me", None).await;
    (status == 200).then(|| Power {
        permissions: names(&me["permissions"]),
        company: me["company"]["id"]
            .as_i64()
            .or_else(|| me["user"]["company_id"].as_i64())
            .expect("company of /v1/me"),
    })
}

async fn token_state(app: &TestApp, id: i64) -> Option<TokenState> {
    let now = app.server_now().timestamp_millis();
    app.state
        .read(move |c| -> tokend::service::Result<_> {
            let Some(t) = tokend::db::tokens::get(c, id)? else {
                return Ok(None);
            };
            let owner =
                tokend::db::users::get(c, t.owner_id)?.ok_or(tokend::service::Error::NotFound)?;
            let power = tokend::service::policy::power(&t);
            Ok(Some(TokenState {
                live: t.enabled && owner.can_hold_tokens() && t.expires_at.is_none_or(|e| e > now),
                enabled: t.enabled,
                reason: t.disabled_reason.clone(),
                expires_at: t.expires_at,
                cidrs: t.allowed_cidrs.clone(),
                power: power.names().into_iter().map(str::to_string).collect(),
                company: t.company_id,
            }))
        })
        .await
        .expect("token state")
}

async fn user_state(app: &TestApp, id: i64) -> Option<UserState> {
    let u = app
        .state
        .read(move |c| Ok::<_, tokend::service::Error>(tokend::db::users::get(c, id)?))
        .await
        .expect("user")?;
    let password = app
        .store()
        .query_row(
            "SELECT password_hash FROM users WHERE id = $1",
            tokend::params![id],
            |r| r.get::<Option<String>>(0),
        )
        .expect("password hash");
    Some(UserState {
        password,
        email: u.email.clone(),
        permissions: u
            .permissions()
            .names()
            .into_iter()
            .map(str::to_string)
            .collect(),
        company: u.company_id,
    })
}

async fn snapshot(
    app: &TestApp,
    w: &World,
) -> (
    BTreeMap<i64, Option<TokenState>>,
    BTreeMap<i64, Option<UserState>>,
) {
    let mut tokens = BTreeMap::new();
    for id in &w.tokens {
        tokens.insert(*id, token_state(app, *id).await);
    }
    let mut users = BTreeMap::new();
    for id in &w.users {
        users.insert(*id, user_state(app, *id).await);
    }
    (tokens, users)
}

/// Whether `b` (after) gives power back compared with `a` (before).
fn raised(a: &TokenState, b: &TokenState) -> bool {
    let expiry = match (a.expires_at, b.expires_at) {
        (Some(_), None) => true,
        (Some(x), Some(y)) => y > x,
        (None, _) => false,
    };
    let nets = |s: &str| -> Vec<ipnet::IpNet> {
        s.split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect()
    };
    let (old, new) = (nets(&a.cidrs), nets(&b.cidrs));
    let loosened = !old.is_empty()
        && (new.is_empty() || new.iter().any(|n| !old.iter().any(|o| o.contains(n))));
    (b.live && !a.live) || expiry || loosened || !b.power.is_subset(&a.power)
}

async fn setup(app: &TestApp, case: usize) -> World {
    let sfx = format!("{case}-{}", rand_suffix());
    let global = app.get_ok("/v1/me", &app.admin_token).await["user"]["id"]
        .as_i64()
        .expect("global admin id");
    let admin = app
        .create_user_with(json!({ "email": format!("admin-{sfx}@example.com"), "role": "admin", "password": PASSWORD }))
        .await;
    let analyst = app
        .quick_user(&format!("analyst-{sfx}@example.com"), "analyst")
        .await;
    let reader = app
        .quick_user(&format!("reader-{sfx}@example.com"), "read_only")
        .await;
    let helpdesk_perms = ["users:read", "users:write", "tokens:read", "tokens:write"];
    let helpdesk = app
        .create_user_with(json!({ "email": format!("help-{sfx}@example.com"), "role": "custom", "permissions": helpdesk_perms }))
        .await;
    let company2 = app.create_company(&format!("Other {sfx}")).await;
    let (foreign, foreign_token) = app
        .user_in_company(&format!("fa-{sfx}@example.com"), "admin", company2)
        .await;
    let mut creds = Vec::new();
    let mut tokens = Vec::new();
    let mut values = Vec::new();
    let own = |user: i64, label: &'static str, body: Value| (user, label, body);
    let specs = [
        own(admin, "admin full", json!({ "role_template": "admin" })),
        own(
            admin,
            "admin narrow",
            json!({ "role_template": "api_developer" }),
        ),
        own(
            admin,
            "admin users-only",
            json!({ "permissions": ["users:read", "users:write", "tokens:read", "tokens:write"] }),
        ),
        own(
            helpdesk,
            "helpdesk",
            json!({ "permissions": helpdesk_perms }),
        ),
        own(global, "global full", json!({})),
        own(
            global,
            "global admin-template",
            json!({ "role_template": "admin" }),
        ),
    ];
    for (user, label, mut body) in specs {
        body["name"] = json!(format!("{label} {sfx}"));
        let (id, value) = app.own_token(user, body).await;
        tokens.push(id);
        values.push(value.clone());
        creds.push(Credential {
            label,
            auth: Auth::Bearer(value),
            user,
            token_id: Some(id),
        });
    }
    let (delegated, value) = app
        .delegated_token_for(analyst, json!({ "name": format!("ci {sfx}") }))
        .await;
    tokens.push(delegated);
    values.push(value.clone());
    creds.push(Credential {
        label: "delegated analyst",
        auth: Auth::Bearer(value),
        user: analyst,
        token_id: Some(delegated),
    });
    for (user, label) in [(analyst, "legacy analyst"), (admin, "legacy admin")] {
        let c = app.issue_legacy_credentials(user).await;
        tokens.push(c["token_id"].as_i64().expect("legacy token id"));
        creds.push(Credential {
            label,
            auth: Auth::Legacy {
                uuid: c["uuid"].as_str().expect("uuid").into(),
                secret: c["secret"].as_str().expect("secret").into(),
            },
            user,
            token_id: c["token_id"].as_i64(),
        });
    }
    let session = app
        .login_ok(&format!("admin-{sfx}@example.com"), PASSWORD)
        .await;
    creds.push(Credential {
        label: "admin session",
        auth: Auth::Session {
            cookie: session.cookie,
            csrf: session.csrf,
        },
        user: admin,
        token_id: None,
    });
    creds.push(Credential {
        label: "foreign admin",
        auth: Auth::Bearer(foreign_token),
        user: foreign,
        token_id: None,
    });
    World {
        creds,
        users: vec![admin, analyst, reader, helpdesk, foreign, global],
        tokens,
        values,
    }
}

/// Sends `op` as credential `c`; returns the status and the answer.
async fn perform(app: &TestApp, w: &World, c: usize, op: &Op) -> (u16, Value) {
    let cred = &w.creds[c];
    let token = |i: usize| w.tokens[i % w.tokens.len()];
    let user = |i: usize| w.users[i % w.users.len()];
    let path = |i: usize| format!("/v1/tokens/{}", token(i));
    let patch = |i: usize, body: Value| (Method::PATCH, path(i), Some(body));
    let later = |days: i64| app.server_time_plus(chrono::Duration::days(days));
    // Only a session knows its user's password; a token can only guess.
    let known = match cred.auth {
        Auth::Session { .. } => PASSWORD,
        _ => "a-guessed-password",
    };
    let (method, path, body) = match op {
        Op::Create {
            owner,
            template,
            shared,
        } => {
            let mut b = json!({
                "name": format!("t-{}", rand_suffix()),
                "role_template": TEMPLATES[*template],
                "expires_at": later(30),
                "allowed_cidrs": ["127.0.0.0/8"],
            });
            if *shared {
                b["kind"] = json!("shared");
            }
            // half of the time for oneself
            if owner % 2 == 1 {
                b["owner_id"] = json!(user(owner / 2));
            }
            (Method::POST, "/v1/tokens".to_string(), Some(b))
        }
        Op::Reveal(i) => (
            Method::POST,
            format!("{}/reveal", path(*i)),
            Some(json!({})),
        ),
        Op::Renew(i) => (Method::POST, format!("{}/renew", path(*i)), Some(json!({}))),
        Op::Enable(i) => patch(*i, json!({ "enabled": true })),
        Op::Disable(i) => patch(*i, json!({ "enabled": false })),
        Op::BulkEnable(i) => (
            Method::POST,
            "/v1/tokens/bulk".into(),
            Some(json!({ "ids": [token(*i)], "action": "enable" })),
        ),
        Op::ExtendExpiry(i) => patch(*i, json!({ "expires_at": later(3650) })),
        Op::RemoveExpiry(i) => patch(*i, json!({ "expires_at": null })),
        Op::Unbind(i) => patch(*i, json!({ "allowed_cidrs": [] })),
        Op::Bind(i) => patch(*i, json!({ "allowed_cidrs": ["127.0.0.0/8"] })),
        Op::Template(i, t) => patch(*i, json!({ "role_template": TEMPLATES[*t] })),
        Op::Password { user: u, current } => {
            let mut b = json!({ "password": format!("new-password-{}", rand_suffix()) });
            if *current {
                b["current_password"] = json!(known);
            }
            (Method::PATCH, format!("/v1/users/{}", user(*u)), Some(b))
        }
        Op::Email { user: u, current } => {
            let mut b = json!({ "email": format!("moved-{}@example.com", rand_suffix()) });
            if *current {
                b["current_password"] = json!(known);
            }
            (Method::PATCH, format!("/v1/users/{}", user(*u)), Some(b))
        }
        Op::Role(u, r) => (
            Method::PATCH,
            format!("/v1/users/{}", user(*u)),
            Some(json!({ "role": ROLES[*r] })),
        ),
        Op::DisableUser(u) => (
            Method::PATCH,
            format!("/v1/users/{}", user(*u)),
            Some(json!({ "enabled": false })),
        ),
        Op::EnableUser(u) => (
            Method::PATCH,
            format!("/v1/users/{}", user(*u)),
            Some(json!({ "enabled": true })),
        ),
        Op::IssueLegacy(u) => (
            Method::POST,
            format!("/v1/users/{}/legacy-credentials", user(*u)),
            Some(json!({})),
        ),
        Op::CreateNode => (
            Method::POST,
            "/v1/nodes".into(),
            Some(json!({ "name": format!("n-{}", rand_suffix()) })),
        ),
        Op::Revoke(i) => {
            let v = &w.values[i % w.values.len()];
            let res = app
                .send(
                    Method::POST,
                    "/v1/revoke",
                    None,
                    Some(json!({ "values": [v] })),
                )
                .await;
            return (res.status().as_u16(), Value::Null);
        }
    };
    as_cred(app, cred, method, &path, body).await
}

/// Runs one case; returns the first violation found.
async fn run_case(app: &TestApp, case: usize, steps: &[(usize, Op)]) -> Result<(), String> {
    let mut w = setup(app, case).await;
    for (n, (c, op)) in steps.iter().enumerate() {
        let c = c % w.creds.len();
        let caller = w.creds[c].clone();
        let power = power_of(app, &caller).await.unwrap_or_default();
        let (tokens_before, users_before) = snapshot(app, &w).await;
        let (status, answer) = perform(app, &w, c, op).await;
        let at = || format!("step {n}: {} {op:?} → {status} {answer}", caller.label);
        if status >= 500 {
            return Err(format!("{}: a 5xx", at()));
        }
        // values handed out by the answer
        let mut handed = Vec::new();
        if status < 300 {
            if let Some(v) = answer["value"].as_str() {
                handed.push((Auth::Bearer(v.to_string()), answer["id"].as_i64()));
            }
            if let (Some(u), Some(s)) = (answer["uuid"].as_str(), answer["secret"].as_str()) {
                handed.push((
                    Auth::Legacy {
                        uuid: u.into(),
                        secret: s.into(),
                    },
                    answer["token_id"].as_i64(),
                ));
            }
            if let Some(v) = answer["token"]["value"].as_str() {
                // a node token: its power is its own node (rule 39); revocable like any value
                w.values.push(v.to_string());
            }
            if let Some(id) = answer["id"]
                .as_i64()
                .filter(|_| matches!(op, Op::Create { .. }))
            {
                w.tokens.push(id);
            }
            if let Some(id) = answer["token_id"].as_i64() {
                w.tokens.push(id);
            }
        }
        for (auth, id) in handed {
            let cred = Credential {
                label: "handed out",
                auth: auth.clone(),
                user: 0,
                token_id: id,
            };
            if let Auth::Bearer(v) = &auth {
                w.values.push(v.clone());
            }
            if let Some(got) = power_of(app, &cred).await {
                if !power.covers(&got.permissions, got.company) {
                    return Err(format!(
                        "{}: handed out a value with {:?} in company {} to a caller holding {:?} in company {}",
                        at(),
                        got.permissions.difference(&power.permissions).collect::<Vec<_>>(),
                        got.company,
                        power.permissions,
                        power.company
                    ));
                }
            }
            if let Some(state) = match id {
                Some(id) => token_state(app, id).await,
                None => None,
            } {
                if !power.covers(&state.power, state.company) {
                    return Err(format!(
                        "{}: handed out a token wider than the caller",
                        at()
                    ));
                }
            }
            // a credential that renewed itself goes on with its new value
            if matches!(op, Op::Renew(_)) && id.is_some() && id == caller.token_id {
                w.creds[c].auth = auth;
            }
        }
        let (tokens_after, users_after) = snapshot(app, &w).await;
        for (id, after) in &tokens_after {
            let (Some(after), Some(Some(before))) = (after, tokens_before.get(id)) else {
                continue;
            };
            if raised(before, after) {
                let within = power.covers(&before.power, before.company)
                    && power.covers(&after.power, after.company);
                if !within {
                    return Err(format!(
                        "{}: token {id} gained power beyond the caller ({before:?} → {after:?}; caller {power:?})",
                        at()
                    ));
                }
            }
            if before.reason.as_deref() == Some("leaked")
                && after.enabled
                && !matches!(op, Op::Renew(_))
            {
                return Err(format!(
                    "{}: leaked token {id} enabled without a new value",
                    at()
                ));
            }
        }
        for (id, after) in &users_after {
            let (Some(after), Some(Some(before))) = (after, users_before.get(id)) else {
                continue;
            };
            let secret_changed = after.password != before.password || after.email != before.email;
            if secret_changed {
                let own_session = *id == caller.user && matches!(caller.auth, Auth::Session { .. });
                let covers =
                    *id != caller.user && power.covers(&before.permissions, before.company);
                if !(own_session || covers) {
                    return Err(format!(
                        "{}: user {id}'s password or email changed by a credential that neither knows it nor covers the user",
                        at()
                    ));
                }
            }
        }
    }
    Ok(())
}

#[test]
fn rule_36_property_no_operation_yields_more_than_the_credential_performing_it() {
    // A current-thread runtime, as `#[tokio::test]` uses: the server task (and with it the
    // last reference to a PostgreSQL pool) is dropped on this thread when the test ends, not
    // on a runtime worker, where the blocking PostgreSQL client cannot close its connections.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let app = rt.block_on(spawn_app());
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(24);
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let case = std::sync::atomic::AtomicUsize::new(0);
    let steps = prop::collection::vec((0usize..16, op()), 1..40);
    let result = runner.run(&steps, |steps| {
        let n = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        rt.block_on(run_case(&app, n, &steps))
            .map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
