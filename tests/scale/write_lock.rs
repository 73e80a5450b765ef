//! Writes on PostgreSQL serialize on one advisory lock (`db::pg::LOCK_WRITES_SQL`), taken
//! first by every write transaction of every replica: while another session holds it, a write
//! waits, and it completes once the lock is released.

use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;

use crate::Setup;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_lock_a_write_waits_while_another_session_holds_the_write_lock() {
    let _serial = crate::serial();
    let setup = Setup::start();
    let r = setup.replica(&[]);
    let admin = &setup.admin;
    let body = json!({ "name": "before", "role_template": "read_only" });
    assert_eq!(r.post("/v1/tokens", admin, body).await.0, 201);

    // Another session takes the write lock in a transaction and holds it until told.
    let (held_tx, held) = mpsc::channel::<()>();
    let (release, release_rx) = mpsc::channel::<()>();
    let url = setup.url.clone();
    let holder = std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
        let mut tx = c.transaction().expect("begin");
        tx.batch_execute(tokend::db::pg::LOCK_WRITES_SQL)
            .expect("take the write lock");
        held_tx.send(()).expect("report the lock held");
        let _ = release_rx.recv();
        tx.commit().expect("commit, releasing the lock");
    });
    held.recv().expect("the lock is held");

    let body = json!({ "name": "during", "role_template": "read_only" });
    let write = r.post("/v1/tokens", admin, body);
    tokio::pin!(write);
    // What is checked here is that nothing completes during this time: a fixed wait.
    let early = tokio::time::timeout(Duration::from_millis(500), &mut write).await;
    assert!(
        early.is_err(),
        "a write completed while another session held the write lock: {early:?}"
    );
    release.send(()).expect("release the lock");
    let (status, created) = tokio::time::timeout(Duration::from_secs(20), write)
        .await
        .expect("the write completes once the lock is released");
    assert_eq!(status, 201, "{created}");
    holder.join().expect("lock holder");
}
