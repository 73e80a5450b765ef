//! Graceful shutdown: on SIGTERM or SIGINT the server stops accepting, finishes the requests
//! in flight, flushes buffered last-use data and closes the database (WAL checkpointed).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use tokend_test_support::proc::*;
use tokend_test_support::store::assert_integrity;

/// Reads one HTTP/1.1 response with a `Content-Length` body from `s`.
fn read_response(s: &mut TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = s.read(&mut byte).expect("read head");
        assert_eq!(
            n,
            1,
            "connection closed mid-head: {}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let status = head[9..12].parse().expect("status");
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())
                .flatten()
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).expect("read body");
    (status, String::from_utf8_lossy(&body).to_string())
}

fn last_used(w: &Workdir, id: i64) -> Option<i64> {
    w.db()
        .query_row("SELECT last_used_at FROM tokens WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .expect("token row")
}

async fn graceful_stop_on(signal: &str) {
    let w = Workdir::new();
    let admin = new_value();
    // Last use is only written by the final flush: the periodic one is an hour away.
    let opts = ServerOpts::with_token(&admin).env("TOKEND_FLUSH_INTERVAL", "1h");
    let mut server = Server::start(&w.db, &opts);
    let http = client();
    let me = http
        .get(server.url("/v1/me"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("me");
    assert_eq!(me.status(), 200);
    let admin_token_id = me.json::<Value>().await.expect("json")["token_id"]
        .as_i64()
        .expect("id");
    assert_eq!(
        last_used(&w, admin_token_id),
        None,
        "last use is buffered, not written per request"
    );

    // A request in flight: the connection is established and served once (so a worker owns
    // it), then a second request's head and half its body are sent before the signal. The
    // head asks for `100 Continue`, which the server sends once it has read the head: a
    // connection whose request has not been read yet is idle to the server and is closed at
    // once by a graceful stop, so the signal must not overtake the head.
    let mut conn = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("write");
    assert_eq!(read_response(&mut conn).0, 200);
    let body = json!({ "name": "made-during-shutdown", "role_template": "read_only" }).to_string();
    let head = format!(
        "POST /v1/tokens HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {admin}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\
         Expect: 100-continue\r\n\r\n",
        body.len()
    );
    let (first, rest) = body.split_at(body.len() / 2);
    conn.write_all(head.as_bytes()).expect("write head");
    assert_eq!(read_response(&mut conn).0, 100, "the head was read");
    conn.write_all(first.as_bytes()).expect("write half");
    conn.flush().expect("flush");

    server.signal(signal);
    // It stops accepting new connections…
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", server.port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "still accepting connections 10 s after SIG{signal}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // …but finishes the request in flight.
    conn.write_all(rest.as_bytes()).expect("write rest");
    let (status, text) = read_response(&mut conn);
    assert_eq!(status, 201, "the in-flight request completes: {text}");
    let created: Value = serde_json::from_str(&text).expect("json");
    let value = created["value"].as_str().expect("value").to_string();

    let exit = server.wait_exit(Duration::from_secs(30));
    assert!(
        exit.success(),
        "clean exit after SIG{signal}: {exit:?}\n{}",
        server.stderr()
    );
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
    // Closed cleanly: the last connection checkpointed and removed the WAL.
    let wal = w.path("tokend.db-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) == 0,
        "the WAL was left behind: the database was not closed"
    );
    assert_integrity(&w.db);
    assert!(
        last_used(&w, admin_token_id).is_some(),
        "buffered last use was flushed at shutdown"
    );

    // After a restart, the API shows the flushed data and the token made during shutdown.
    let server = Server::start(&w.db, &opts);
    let (s, t) = {
        let res = http
            .get(server.url(&format!("/v1/tokens/{admin_token_id}")))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("get");
        (res.status(), res.json::<Value>().await.expect("json"))
    };
    assert_eq!(s, 200);
    assert!(
        t["last_used_at"].is_string(),
        "last_used_at after restart: {t}"
    );
    assert_eq!(t["last_used_ip"], "127.0.0.1");
    let res = http
        .get(server.url("/v1/me"))
        .bearer_auth(&value)
        .send()
        .await
        .expect("me");
    assert_eq!(res.status(), 200, "the token created in flight is stored");
}

#[tokio::test]
async fn sigterm_finishes_in_flight_requests_flushes_and_closes() {
    graceful_stop_on("TERM").await;
}

#[tokio::test]
async fn sigint_finishes_in_flight_requests_flushes_and_closes() {
    graceful_stop_on("INT").await;
}
