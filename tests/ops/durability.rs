//! Durability: the real binary, writes at full speed from several clients, `kill -9`
//! at random moments, restart on the same file. Every write answered 2xx must be there,
//! nothing half-applied (a disabled owner never has an enabled token; every token has its
//! audit row), and `PRAGMA integrity_check` is clean. Bounded: 10 rounds, well under 60 s.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use tokend_test_support::proc::*;
use tokend_test_support::store::assert_integrity;

const ROUNDS: usize = 10;
const CLIENTS: usize = 4;

/// SplitMix64: a small seeded generator, so a failing run can be replayed with its seed.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The seed: `TOKEND_TEST_SEED` when set (to replay), else the clock.
pub fn seed() -> u64 {
    std::env::var("TOKEND_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}

/// What the server acknowledged (2xx). A write sent just before the kill may have committed
/// without an answer, so only facts that nothing in this test ever undoes are recorded, and a
/// missing token is a loss only if no DELETE was ever sent for it.
#[derive(Default)]
struct Ledger {
    /// user id → (email, disable acknowledged)
    users: BTreeMap<i64, (String, bool)>,
    /// token id → (owner id, name, disable acknowledged, delete acknowledged)
    tokens: BTreeMap<i64, (i64, String, bool, bool)>,
    /// Tokens a DELETE was sent for: one may have committed just before the kill, unanswered.
    delete_sent: std::collections::BTreeSet<i64>,
    acked: usize,
    serial: usize,
}

enum Op {
    CreateUser,
    CreateToken(i64),
    DisableToken(i64),
    DeleteToken(i64),
    DisableUser(i64),
    Read,
}

fn pick(ledger: &Ledger, rng: &mut Rng) -> Op {
    let users: Vec<i64> = ledger
        .users
        .iter()
        .filter(|(_, u)| !u.1)
        .map(|(id, _)| *id)
        .collect();
    let tokens: Vec<i64> = ledger
        .tokens
        .iter()
        .filter(|(_, t)| !t.3)
        .map(|(id, _)| *id)
        .collect();
    let roll = rng.below(100);
    match roll {
        _ if users.is_empty() || roll < 12 => Op::CreateUser,
        _ if tokens.is_empty() || roll < 55 => {
            Op::CreateToken(users[rng.below(users.len() as u64) as usize])
        }
        55..=69 => Op::DisableToken(tokens[rng.below(tokens.len() as u64) as usize]),
        70..=79 => Op::DeleteToken(tokens[rng.below(tokens.len() as u64) as usize]),
        80..=87 => Op::DisableUser(users[rng.below(users.len() as u64) as usize]),
        _ => Op::Read,
    }
}

/// One client: writes as fast as the server answers until the server dies.
async fn client_loop(
    base: String,
    admin: String,
    ledger: Arc<Mutex<Ledger>>,
    mut rng: Rng,
    round: usize,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let (op, n) = {
            let mut l = ledger.lock().expect("ledger");
            l.serial += 1;
            let op = pick(&l, &mut rng);
            if let Op::DeleteToken(id) = op {
                l.delete_sent.insert(id);
            }
            (op, l.serial)
        };
        let (method, path, body) = match &op {
            Op::CreateUser => (
                Method::POST,
                "/v1/users".to_string(),
                Some(
                    json!({ "email": format!("u{round}-{n}@example.com"), "role": "analyst", "password": "password-123" }),
                ),
            ),
            Op::CreateToken(owner) => (
                Method::POST,
                "/v1/tokens".to_string(),
                Some(
                    json!({ "name": format!("t{round}-{n}"), "owner_id": owner, "role_template": "read_only" }),
                ),
            ),
            Op::DisableToken(id) => (
                Method::PATCH,
                format!("/v1/tokens/{id}"),
                Some(json!({ "enabled": false })),
            ),
            Op::DeleteToken(id) => (Method::DELETE, format!("/v1/tokens/{id}"), None),
            Op::DisableUser(id) => (
                Method::PATCH,
                format!("/v1/users/{id}"),
                Some(json!({ "enabled": false })),
            ),
            Op::Read => (Method::GET, "/v1/tokens?limit=20".to_string(), None),
        };
        let mut req = http
            .request(method, format!("{base}{path}"))
            .bearer_auth(&admin);
        if let Some(b) = &body {
            req = req.json(b);
        }
        // A transport error means the server is gone: this round is over for this client.
        let Ok(res) = req.send().await else { return };
        let status = res.status().as_u16();
        let Ok(text) = res.text().await else { return };
        assert!(
            status < 500,
            "server error during the load: {status} {text}"
        );
        if !(200..300).contains(&status) {
            continue; // e.g. a token of an owner disabled meanwhile: refused, not acknowledged
        }
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let mut l = ledger.lock().expect("ledger");
        l.acked += 1;
        match op {
            Op::CreateUser => {
                let id = v["id"].as_i64().expect("user id");
                let email = v["email"].as_str().expect("email").to_string();
                l.users.insert(id, (email, false));
            }
            Op::CreateToken(owner) => {
                let id = v["id"].as_i64().expect("token id");
                let name = v["name"].as_str().expect("name").to_string();
                l.tokens.insert(id, (owner, name, false, false));
            }
            Op::DisableToken(id) => {
                if let Some(t) = l.tokens.get_mut(&id) {
                    t.2 = true;
                }
            }
            Op::DeleteToken(id) => {
                if let Some(t) = l.tokens.get_mut(&id) {
                    t.3 = true;
                }
            }
            Op::DisableUser(id) => {
                if let Some(u) = l.users.get_mut(&id) {
                    u.1 = true;
                }
            }
            Op::Read => l.acked -= 1,
        }
    }
}

/// Checks the file against the ledger; returns the number of acknowledged writes missing.
fn verify(w: &Workdir, ledger: &Ledger) -> usize {
    assert_integrity(&w.db);
    let conn = w.db();
    let fk: i64 = conn
        .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .expect("foreign_key_check");
    assert_eq!(fk, 0, "foreign keys hold");
    let mut lost = 0;
    for (id, (email, disabled)) in &ledger.users {
        let row: Option<(String, bool)> = conn
            .query_row(
                "SELECT email, enabled FROM users WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok();
        match row {
            None => {
                eprintln!("lost: user {id} ({email}) is missing");
                lost += 1;
            }
            Some((e, enabled)) => {
                assert_eq!(&e, email);
                if *disabled && enabled {
                    eprintln!("lost: user {id} was disabled (2xx) but is enabled");
                    lost += 1;
                }
            }
        }
    }
    for (id, (owner, name, disabled, deleted)) in &ledger.tokens {
        let row: Option<(i64, String, bool)> = conn
            .query_row(
                "SELECT owner_id, name, enabled FROM tokens WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .ok();
        match (row, deleted) {
            (Some(_), true) => {
                eprintln!("lost: token {id} was deleted (2xx) but is present");
                lost += 1;
            }
            (None, true) => {}
            (None, false) if ledger.delete_sent.contains(id) => {}
            (None, false) => {
                let audit: Vec<String> = conn
                    .prepare(
                        "SELECT action || ' ' || details FROM audit_events WHERE token_id = ?1",
                    )
                    .and_then(|mut st| st.query_map([id], |r| r.get::<_, String>(0))?.collect())
                    .unwrap_or_default();
                eprintln!("lost: token {id} ({name}) is missing; audit: {audit:?}");
                lost += 1;
            }
            (Some((o, n, enabled)), false) => {
                assert_eq!((&o, &n), (owner, name));
                let owner_disabled = ledger.users.get(owner).is_some_and(|u| u.1);
                if (*disabled || owner_disabled) && enabled {
                    eprintln!("lost: token {id} should be disabled (own {disabled}, owner {owner_disabled}) but is enabled");
                    lost += 1;
                }
            }
        }
    }
    // Nothing half-applied: cascades and audit rows commit with their cause.
    let enabled_under_disabled: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM tokens t JOIN users u ON u.id = t.owner_id WHERE u.enabled = 0 AND t.enabled = 1",
            [],
            |r| r.get(0),
        )
        .expect("cascade check");
    assert_eq!(
        enabled_under_disabled, 0,
        "a disabled owner with an enabled token: half-applied cascade"
    );
    let reasonless: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM tokens WHERE enabled = 0 AND (disabled_reason IS NULL OR disabled_at IS NULL)",
            [],
            |r| r.get(0),
        )
        .expect("reason check");
    assert_eq!(reasonless, 0, "a disabled token without reason or time");
    let unaudited: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM tokens t WHERE NOT EXISTS
               (SELECT 1 FROM audit_events a WHERE a.action = 'token.created' AND a.token_id = t.id)",
            [],
            |r| r.get(0),
        )
        .expect("audit check");
    assert_eq!(unaudited, 0, "a token without its creation audit row");
    let disabled_unaudited: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM users u WHERE u.enabled = 0 AND NOT EXISTS
               (SELECT 1 FROM audit_events a WHERE a.action = 'user.disabled' AND a.user_id = u.id)",
            [],
            |r| r.get(0),
        )
        .expect("audit check");
    assert_eq!(
        disabled_unaudited, 0,
        "a disabled user without its audit row"
    );
    let deleted_but_present: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM tokens t WHERE EXISTS
               (SELECT 1 FROM audit_events a WHERE a.action = 'token.deleted' AND a.token_id = t.id)",
            [],
            |r| r.get(0),
        )
        .expect("delete check");
    assert_eq!(
        deleted_but_present, 0,
        "a token audited as deleted is still there"
    );
    lost
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_points_loses_no_acknowledged_write() {
    let started = Instant::now();
    let seed = seed();
    eprintln!("durability seed {seed} (replay with TOKEND_TEST_SEED={seed})");
    let mut rng = Rng::new(seed);
    let w = Workdir::new();
    let admin = new_value();
    let opts = ServerOpts::with_token(&admin);
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut total_lost = 0;
    for round in 0..ROUNDS {
        let mut server = Server::start(&w.db, &opts);
        assert!(
            server.banner.iter().all(|l| !l.contains("created")) || round == 0,
            "a restart must not bootstrap again"
        );
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| {
                tokio::spawn(client_loop(
                    server.base.clone(),
                    admin.clone(),
                    ledger.clone(),
                    Rng::new(rng.next()),
                    round,
                ))
            })
            .collect();
        // Let the load build up, then kill at a random point.
        let before = ledger.lock().expect("ledger").acked;
        let grown = eventually(Duration::from_secs(15), || async {
            (ledger.lock().expect("ledger").acked >= before + 10).then_some(())
        })
        .await;
        assert!(
            grown.is_some(),
            "round {round}: the clients make progress\n{}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(20 + rng.below(800))).await;
        server.kill9();
        for c in clients {
            c.await.expect("client task");
        }
        let l = ledger.lock().expect("ledger");
        let lost = verify(&w, &l);
        eprintln!(
            "round {round}: killed with {} acknowledged writes so far ({} users, {} tokens); lost {lost}",
            l.acked,
            l.users.len(),
            l.tokens.len()
        );
        total_lost += lost;
    }
    // The file still serves: restart once more and use it.
    let server = Server::start(&w.db, &opts);
    let res = client()
        .get(server.url("/v1/tokens?limit=500"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("list");
    assert_eq!(res.status(), 200);
    let l = ledger.lock().expect("ledger");
    eprintln!(
        "durability: {ROUNDS} kill -9 rounds, {} acknowledged writes, {total_lost} lost, {:.1} s",
        l.acked,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(total_lost, 0, "acknowledged writes were lost (seed {seed})");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "bounded run time"
    );
}
