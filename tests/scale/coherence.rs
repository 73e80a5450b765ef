//! A change made through one replica is honoured by the other within 100 ms.

use std::time::Duration;

use serde_json::json;

use crate::{p95_max, until, Replica, Setup};

pub const BOUND: Duration = Duration::from_millis(100);

/// The changes measured, in turn.
#[derive(Debug, Clone, Copy)]
enum Change {
    Disable,
    Delete,
    Renew,
    OwnerDisabled,
    PermissionsTrimmed,
}

const CHANGES: [Change; 5] = [
    Change::Disable,
    Change::Delete,
    Change::Renew,
    Change::OwnerDisabled,
    Change::PermissionsTrimmed,
];

/// Whether replica `b` still honours what the change took away from `value`.
async fn still_honoured(b: &Replica, change: Change, value: &str) -> bool {
    let (status, me) = b.get("/v1/me", value).await;
    match change {
        Change::PermissionsTrimmed => {
            status == 200
                && me["permissions"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|p| p == "nodes:read"))
        }
        _ => status == 200,
    }
}

/// Makes `change` to token `id` (owned by user `owner`) through replica `a`.
async fn make(a: &Replica, admin: &str, change: Change, id: i64, owner: i64) {
    let path = format!("/v1/tokens/{id}");
    let (status, body) = match change {
        Change::Disable => a.patch(&path, admin, json!({ "enabled": false })).await,
        Change::Delete => {
            a.call(reqwest::Method::DELETE, &path, Some(admin), None)
                .await
        }
        Change::Renew => {
            a.post(
                &format!("{path}/renew"),
                admin,
                json!({ "grace_seconds": 0 }),
            )
            .await
        }
        Change::OwnerDisabled => {
            let p = format!("/v1/users/{owner}");
            a.patch(&p, admin, json!({ "enabled": false })).await
        }
        Change::PermissionsTrimmed => {
            let p = format!("/v1/users/{owner}");
            a.patch(&p, admin, json!({ "role": "api_developer" })).await
        }
    };
    assert!((200..300).contains(&status), "{change:?}: {status} {body}");
}

/// `n` trials, cycling through [`CHANGES`]: a token created through `a` until `b` accepts it,
/// then a change made through `a` until `b` honours it. The two delays of each trial.
pub async fn trials(
    a: &Replica,
    b: &Replica,
    admin: &str,
    n: usize,
) -> (Vec<Duration>, Vec<Duration>) {
    let (mut created, mut changed) = (Vec::new(), Vec::new());
    let tag = tokend_test_support::proc::new_value()[4..12].to_lowercase();
    for trial in 0..n {
        let change = CHANGES[trial % CHANGES.len()];
        let owner = a
            .create_user(&format!("u{trial}-{tag}@example.com"), "analyst")
            .await;
        let mut body = json!({
            "name": format!("trial-{trial}"),
            "permissions": ["tokens:read", "nodes:read"],
        });
        // A change to the owner needs an owner of its own; a renewal is the owner's to make.
        if matches!(change, Change::OwnerDisabled | Change::PermissionsTrimmed) {
            body["owner_id"] = json!(owner);
        }
        let (id, value) = a.token(admin, body).await;
        // A new token: accepted by the other replica (its digest reached the filter there).
        let took = until(Duration::from_secs(5), || async {
            b.me(&value).await == 200
        })
        .await
        .unwrap_or_else(|| panic!("trial {trial}: replica B never accepted the new token"));
        created.push(took);
        // The other replica has the row cached now; the change must reach its cache too.
        assert!(still_honoured(b, change, &value).await);
        make(a, admin, change, id, owner).await;
        let took = until(Duration::from_secs(5), || async {
            !still_honoured(b, change, &value).await
        })
        .await
        .unwrap_or_else(|| panic!("trial {trial}: replica B still honours {change:?}"));
        changed.push(took);
    }
    (created, changed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coherence_a_change_on_one_replica_is_honoured_by_the_other_within_100_ms() {
    let _serial = crate::serial();
    let setup = Setup::start();
    let a = setup.replica(&[]);
    let b = setup.replica(&[]);
    let (mut created, mut changed) = trials(&a, &b, &setup.admin, 25).await;
    let (c95, cmax) = p95_max(&mut created);
    let (p95, max) = p95_max(&mut changed);
    eprintln!(
        "coherence over {} trials: new token accepted p95 {c95:?} max {cmax:?}; \
         change honoured p95 {p95:?} max {max:?}",
        changed.len()
    );
    assert!(
        cmax <= BOUND,
        "a new token took {cmax:?} to work on the other replica"
    );
    assert!(
        max <= BOUND,
        "a change took {max:?} to reach the other replica"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coherence_a_token_made_by_the_command_line_works_on_every_replica_at_once() {
    let _serial = crate::serial();
    let setup = Setup::start();
    let a = setup.replica(&[]);
    let b = setup.replica(&[]);
    let out = tokend_test_support::proc::run({
        let mut c = tokend_test_support::proc::tokend(std::path::Path::new(&setup.url));
        c.env("TOKEND_MASTER_KEY_FILE", setup.key_file()).args([
            "token",
            "create",
            "--owner",
            tokend_test_support::proc::ADMIN_EMAIL,
            "--name",
            "from-cli",
            "--role-template",
            "admin",
        ]);
        c
    })
    .expect_code(0);
    let value = out
        .stdout
        .split_whitespace()
        .find(|w| w.starts_with("tkd_"))
        .unwrap_or_else(|| panic!("a value in {}", out.stdout))
        .to_string();
    for r in [&a, &b] {
        let took = until(Duration::from_secs(5), || async {
            r.me(&value).await == 200
        })
        .await
        .expect("the command line's token works");
        assert!(took <= BOUND, "took {took:?}");
    }
}
