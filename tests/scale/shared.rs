//! What replicas share through the database: scheduled jobs run once, and limits count every
//! replica's events.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::{until, Replica, Setup};
use tokend_test_support::proc::ADMIN_EMAIL;

/// (event, delivery id) of every request a webhook target received.
type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A webhook target that answers 200 and records what it receives.
fn webhook_target() -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let (mut event, mut id, mut length) = (String::new(), String::new(), 0usize);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                let lower = line.to_ascii_lowercase();
                let value = line
                    .split_once(':')
                    .map_or("", |(_, v)| v.trim())
                    .to_string();
                if lower.starts_with("x-tokend-event:") {
                    event = value;
                } else if lower.starts_with("x-tokend-delivery:") {
                    id = value;
                } else if lower.starts_with("content-length:") {
                    length = value.parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0u8; length];
            let _ = reader.read_exact(&mut body);
            sink.lock().expect("lock").push((event, id));
            let _ = reader
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, seen)
}

/// The webhook delivery rounds `r` has finished (`tokend_job_runs_total{job="webhooks"}`).
async fn delivery_rounds(r: &Replica) -> u64 {
    let res = r.http.get(r.server.url("/metrics")).send().await;
    let text = res.expect("metrics").text().await.expect("metrics text");
    text.lines()
        .find_map(|l| l.strip_prefix("tokend_job_runs_total{job=\"webhooks\"} "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_run_once_across_replicas_no_double_expiry_and_each_webhook_once() {
    let _serial = crate::serial();
    let setup = Setup::start();
    let fast = [("TOKEND_EXPIRY_INTERVAL", "1s")];
    let a = setup.replica(&fast);
    let b = setup.replica(&fast);
    let admin = &setup.admin;
    let (url, seen) = webhook_target();
    let (status, body) = a
        .patch("/v1/settings", admin, json!({ "webhook_url": url }))
        .await;
    assert_eq!(status, 200, "{body}");
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
    let mut ids = Vec::new();
    for i in 0..6 {
        let replica = if i % 2 == 0 { &a } else { &b };
        let body = json!({ "name": format!("expiring-{i}"), "role_template": "read_only", "expires_at": soon });
        ids.push(replica.token(admin, body).await.0);
    }
    // Both replicas run the expiry job every second; each token is disabled once.
    for id in &ids {
        let path = format!("/v1/tokens/{id}");
        let done = until(Duration::from_secs(20), || async {
            a.get(&path, admin).await.1["enabled"] == false
        })
        .await;
        assert!(done.is_some(), "token {id} was never marked expired");
    }
    let expired = |s: &[(String, String)]| s.iter().filter(|(e, _)| e == "token.expired").count();
    let delivered = until(Duration::from_secs(20), || async {
        expired(&seen.lock().expect("lock")) >= ids.len()
    })
    .await;
    assert!(delivered.is_some(), "deliveries: {:?}", seen.lock());
    // Before counting, each replica finishes two more delivery rounds (a round that finds the
    // other replica delivering ends at once, the other's ends later): any second delivery of
    // an event would have arrived by then.
    let (runs_a, runs_b) = (delivery_rounds(&a).await, delivery_rounds(&b).await);
    let settled = until(Duration::from_secs(20), || async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        delivery_rounds(&a).await >= runs_a + 2 && delivery_rounds(&b).await >= runs_b + 2
    })
    .await;
    assert!(
        settled.is_some(),
        "the replicas stopped their delivery rounds"
    );
    for id in &ids {
        let (_, audit) = a
            .get(
                &format!("/v1/audit?token_id={id}&action=token.disabled"),
                admin,
            )
            .await;
        let n = audit["items"].as_array().map_or(0, Vec::len);
        assert_eq!(
            n, 1,
            "token {id}: one `token.disabled` audit event: {audit}"
        );
    }
    let seen = seen.lock().expect("lock").clone();
    let mut per_delivery: HashMap<&str, usize> = HashMap::new();
    for (_, id) in &seen {
        *per_delivery.entry(id.as_str()).or_default() += 1;
    }
    assert!(
        per_delivery.values().all(|n| *n == 1),
        "a webhook event was delivered twice: {seen:?}"
    );
    assert_eq!(expired(&seen), ids.len(), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_throttle_and_revoke_limit_hold_across_replicas() {
    let _serial = crate::serial();
    let setup = Setup::start();
    let a = setup.replica(&[]);
    let b = setup.replica(&[]);
    let wrong = json!({ "email": ADMIN_EMAIL, "password": "not the password" });
    for i in 0..10 {
        let r = if i % 2 == 0 { &a } else { &b };
        let (status, body) = r.post("/v1/session", "", wrong.clone()).await;
        assert_eq!(status, 401, "attempt {i}: {body}");
    }
    for r in [&a, &b] {
        let (status, body) = r.post("/v1/session", "", wrong.clone()).await;
        assert_eq!(status, 429, "the 11th failure, on either replica: {body}");
    }
    let leaked = json!({ "values": [tokend_test_support::proc::new_value()] });
    for i in 0..30 {
        let r = if i % 2 == 0 { &a } else { &b };
        let (status, body) = r.post("/v1/revoke", "", leaked.clone()).await;
        assert_eq!(status, 202, "revoke call {i}: {body}");
    }
    for r in [&a, &b] {
        let (status, body): (u16, Value) = r.post("/v1/revoke", "", leaked.clone()).await;
        assert_eq!(
            status, 429,
            "the 31st call in a minute, on either replica: {body}"
        );
    }
}
