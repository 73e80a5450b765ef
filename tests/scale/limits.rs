//! SPEC §16 across two replicas on one PostgreSQL database: a `total` quota is exact under a
//! concurrent burst spread over both; a `day` quota overshoots by at most what each replica
//! admits between two flushes, and once a flush has brought the counts together every
//! replica refuses.

use std::time::Duration;

use serde_json::json;

use crate::{until, Replica, Setup};

/// Statuses of `n` concurrent `/v1/auth/verify` calls with `value` on each replica.
async fn burst(replicas: &[&Replica], value: &str, n: usize) -> Vec<u16> {
    let calls = replicas
        .iter()
        .flat_map(|r| (0..n).map(move |_| async move { r.get("/v1/auth/verify", value).await.0 }));
    futures_util::future::join_all(calls).await
}

/// Waits until `r` knows `value` (an unknown value is refused 401 and consumes nothing);
/// whether that first call was admitted.
async fn known(r: &Replica, value: &str) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        match r.get("/v1/auth/verify", value).await.0 {
            401 => tokio::time::sleep(Duration::from_millis(2)).await,
            s => return s == 200,
        }
    }
    panic!("the replica never learnt of the new token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_total_quota_is_exact_across_two_replicas_under_a_burst() {
    let _serial = crate::serial();
    let setup = Setup::start();
    let a = setup.replica(&[]);
    let b = setup.replica(&[]);
    let admin = &setup.admin;
    for limit in [1usize, 10] {
        let body = json!({ "name": format!("total-{limit}"), "role_template": "read_only",
                           "quota": { "limit": limit, "period": "total" } });
        let (id, value) = a.token(admin, body).await;
        let mut ok = usize::from(known(&b, &value).await);
        let statuses = burst(&[&a, &b], &value, 30).await;
        ok += statuses.iter().filter(|s| **s == 200).count();
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 429),
            "{statuses:?}"
        );
        assert_eq!(ok, limit, "exactly {limit} admitted over both replicas");
        let (_, t) = b.get(&format!("/v1/tokens/{id}"), admin).await;
        assert_eq!(t["quota_remaining"], 0, "{t}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_daily_quota_overshoot_across_two_replicas_is_bounded_by_one_flush() {
    let _serial = crate::serial();
    let setup = Setup::start();
    let flush = [("TOKEND_FLUSH_INTERVAL", "1s")];
    let a = setup.replica(&flush);
    let b = setup.replica(&flush);
    let admin = &setup.admin;
    let limit = 50usize;
    let body = json!({ "name": "daily", "role_template": "read_only",
                       "quota": { "limit": limit, "period": "day" } });
    let (_, value) = a.token(admin, body).await;
    let mut ok = usize::from(known(&b, &value).await);
    // Both replicas at once, well inside one flush interval: each admits at most the limit.
    let statuses = burst(&[&a, &b], &value, 60).await;
    ok += statuses.iter().filter(|s| **s == 200).count();
    let overshoot = ok.saturating_sub(limit);
    eprintln!(
        "day quota {limit}, two replicas, burst of 60 each: {ok} admitted, overshoot {overshoot}"
    );
    assert!(ok >= limit, "the quota itself is honoured: {ok}");
    assert!(
        overshoot <= limit,
        "each replica admits at most the limit between flushes: {ok}"
    );
    // After a flush each replica has the other's count: both refuse.
    let closed = until(Duration::from_secs(10), || async {
        a.get("/v1/auth/verify", &value).await.0 == 429
            && b.get("/v1/auth/verify", &value).await.0 == 429
    })
    .await;
    assert!(closed.is_some(), "both replicas refuse after a flush");
    let later = burst(&[&a, &b], &value, 10).await;
    assert!(later.iter().all(|s| *s == 429), "{later:?}");
}
