//! The database going away: 503 `storage_unavailable` (never 500) while it is gone, service
//! resuming by itself when it returns, and a primary failover to a synchronous standby that
//! loses no acknowledged write.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::{until, Replica, Setup};
use tokend_test_support::pg::PgCluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_down_answers_503_storage_unavailable_and_service_resumes_by_itself() {
    let _serial = crate::serial();
    let setup = Setup::start();
    let a = setup.replica(&[]);
    let admin = &setup.admin;
    let (_, value) = a
        .token(
            admin,
            json!({ "name": "before", "role_template": "read_only" }),
        )
        .await;
    setup.cluster.stop();
    let (status, body) = a.get("/v1/tokens", admin).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "storage_unavailable", "{body}");
    let (status, body) = a
        .post(
            "/v1/tokens",
            admin,
            json!({ "name": "during", "role_template": "read_only" }),
        )
        .await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (503, &json!("storage_unavailable"))
    );
    assert_eq!(a.get("/readyz", "").await.0, 503, "readiness fails");
    assert_eq!(
        a.get("/healthz", "").await.0,
        200,
        "the process itself is alive"
    );
    setup.cluster.start_again();
    let back = until(Duration::from_secs(20), || async {
        a.get("/readyz", "").await.0 == 200 && a.get("/v1/tokens", admin).await.0 == 200
    })
    .await
    .expect("service resumes without a restart");
    eprintln!("service resumed {back:?} after the database came back");
    assert_eq!(a.me(&value).await, 200);
    a.token(
        admin,
        json!({ "name": "after", "role_template": "read_only" }),
    )
    .await;
}

/// Writes tokens through the replica at `base` until `stop`, keeping those answered 201 and
/// counting them in `acked` as they come (several writers may share one count).
pub async fn write_until(
    base: String,
    admin: String,
    stop: Arc<AtomicBool>,
    acked_count: Arc<AtomicUsize>,
) -> Vec<(i64, String)> {
    let http = reqwest::Client::new();
    let mut acked = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let res = http
            .post(format!("{base}/v1/tokens"))
            .bearer_auth(&admin)
            .json(&json!({ "name": format!("w{n}"), "role_template": "read_only" }))
            .timeout(Duration::from_secs(15))
            .send()
            .await;
        if let Ok(res) = res {
            if res.status().as_u16() == 201 {
                let v: serde_json::Value = res.json().await.expect("json");
                acked.push((
                    v["id"].as_i64().expect("id"),
                    v["value"].as_str().expect("value").into(),
                ));
                acked_count.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    acked
}

/// Waits (≤ 20 s) until `acked` counts `more` writes beyond what it counts now.
pub async fn more_writes(acked: &AtomicUsize, more: usize) {
    let from = acked.load(Ordering::Relaxed);
    let done = until(Duration::from_secs(20), || async {
        acked.load(Ordering::Relaxed) >= from + more
    })
    .await;
    assert!(
        done.is_some(),
        "no {more} more writes acknowledged within 20 s"
    );
}

/// How long after now until `r` acknowledges a write again.
pub async fn reconnected(r: &Replica, admin: &str) -> Duration {
    until(Duration::from_secs(30), || async {
        r.post(
            "/v1/tokens",
            admin,
            json!({ "name": format!("probe-{}", tokend_test_support::proc::new_value()), "role_template": "read_only" }),
        )
        .await
        .0 == 201
    })
    .await
    .expect("the replica writes again after the failover")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_to_a_promoted_synchronous_standby_loses_no_acknowledged_write() {
    let _serial = crate::serial();
    let primary = PgCluster::start();
    primary.create_database("tokend");
    let standby = PgCluster::start_standby(&primary, true);
    let url = format!(
        "postgresql://postgres@127.0.0.1:{},127.0.0.1:{}/tokend?target_session_attrs=read-write",
        primary.port(),
        standby.port()
    );
    let setup = Setup::on(primary, url);
    let a = setup.replica(&[]);
    let b = setup.replica(&[]);
    let admin = setup.admin.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let acked_count = Arc::new(AtomicUsize::new(0));
    let writer = tokio::spawn(write_until(
        a.server.base.clone(),
        admin.clone(),
        stop.clone(),
        acked_count.clone(),
    ));
    // The failover comes once some writes were acknowledged (seen through the API).
    let written = until(Duration::from_secs(20), || async {
        let (_, list) = a.get("/v1/tokens?name=w&limit=100", &admin).await;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        let by_writer = |t: &&serde_json::Value| {
            t["name"].as_str().is_some_and(|n| {
                n.strip_prefix('w')
                    .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            })
        };
        items.iter().filter(by_writer).count() >= 5
    })
    .await;
    assert!(
        written.is_some(),
        "no writes acknowledged before the failover"
    );
    setup.cluster.stop_immediate();
    standby.promote();
    let (ta, tb) = tokio::join!(reconnected(&a, &admin), reconnected(&b, &admin));
    let reconnect = [ta, tb];
    // The writer itself gets writes acknowledged on the promoted standby too.
    more_writes(&acked_count, 3).await;
    stop.store(true, Ordering::Relaxed);
    let acked = writer.await.expect("writer");
    assert!(
        acked.len() >= 5,
        "writes were acknowledged before the failover: {}",
        acked.len()
    );
    let mut lost = 0;
    for (id, value) in &acked {
        if b.get(&format!("/v1/tokens/{id}"), &admin).await.0 != 200 || b.me(value).await != 200 {
            lost += 1;
        }
    }
    let slowest = reconnect.iter().max().copied().unwrap_or_default();
    eprintln!(
        "failover: {} acknowledged writes, {lost} lost; replicas wrote again {reconnect:?} after the promotion",
        acked.len()
    );
    assert_eq!(lost, 0, "acknowledged writes lost");
    assert!(
        slowest <= Duration::from_secs(10),
        "reconnect took {slowest:?}"
    );
}
