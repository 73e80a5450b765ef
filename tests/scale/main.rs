//! Scale-out on PostgreSQL with real processes: throwaway PostgreSQL clusters
//! (`tests/common/pg.rs`) and `tokend serve` replicas started as the binary a team deploys.
//! Coherence across replicas, jobs run once, shared limits, the database going away and
//! coming back, and a primary failover with synchronous replication.

mod coherence;
mod faults;
mod limits;
mod patroni;
mod pgbouncer;
mod shared;
mod tls;
mod write_lock;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use tokend_test_support::http::Api;
use tokend_test_support::pg::PgCluster;
use tokend_test_support::proc::{self, new_value, Server, ServerOpts};

/// The scale tests run one at a time: each measures delays (coherence within 100 ms, reconnect
/// within 10 s) that would mostly measure the other tests if they shared the two cores.
pub struct Serial {
    _held: std::sync::MutexGuard<'static, ()>,
}

pub fn serial() -> Serial {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    Serial {
        _held: LOCK.lock().unwrap_or_else(|e| e.into_inner()),
    }
}

/// A PostgreSQL database, the master key file every replica shares, and the admin token the
/// first replica bootstraps.
pub struct Setup {
    pub cluster: PgCluster,
    pub url: String,
    pub dir: TempDir,
    pub admin: String,
}

impl Setup {
    /// A fresh cluster with one database.
    pub fn start() -> Setup {
        let cluster = PgCluster::start();
        cluster.create_database("tokend");
        let url = cluster.url("tokend");
        Setup::on(cluster, url)
    }

    /// The same on an existing cluster and database URL (a multi-host URL for failover).
    pub fn on(cluster: PgCluster, url: String) -> Setup {
        Setup {
            cluster,
            url,
            dir: tempfile::tempdir().expect("temp dir"),
            admin: new_value(),
        }
    }

    pub fn key_file(&self) -> PathBuf {
        self.dir.path().join("tokend.key")
    }

    /// A replica on the database, with `env` on top of the shared settings.
    pub fn replica(&self, env: &[(&str, &str)]) -> Replica {
        let key = self.key_file();
        let mut opts = ServerOpts::with_token(&self.admin)
            .env("TOKEND_MASTER_KEY_FILE", &key.to_string_lossy())
            .env("TOKEND_WEBHOOK_ALLOW_PRIVATE", "true");
        for (k, v) in env {
            opts = opts.env(k, v);
        }
        Replica::new(Server::start(Path::new(&self.url), &opts), &self.admin)
    }
}

/// One running `tokend serve` and an HTTP client for it; derefs to its [`Api`] (`call`,
/// `create_user` as the admin it was started with).
pub struct Replica {
    pub server: Server,
    pub http: reqwest::Client,
    pub api: Api,
}

impl std::ops::Deref for Replica {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Replica {
    /// The replica `server`, administered with the token value `admin`.
    pub fn new(server: Server, admin: &str) -> Replica {
        let http = proc::client();
        let api = server.api(&http, admin);
        Replica { server, http, api }
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(token), Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PATCH, path, Some(token), Some(body))
            .await
    }

    /// The status `GET /v1/me` answers for `value`.
    pub async fn me(&self, value: &str) -> u16 {
        self.get("/v1/me", value).await.0
    }

    /// Creates a token from `body` as `admin`; returns (id, value).
    pub async fn token(&self, admin: &str, body: Value) -> (i64, String) {
        let (status, v) = self.post("/v1/tokens", admin, body).await;
        assert_eq!(status, 201, "create token: {v}");
        (
            v["id"].as_i64().expect("id"),
            v["value"].as_str().expect("value").to_string(),
        )
    }
}

/// Polls `check` every 2 ms until it holds; how long that took, or `None` after `limit`.
pub async fn until<F, Fut>(limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    None
}

/// The 95th percentile and the maximum of `delays`.
pub fn p95_max(delays: &mut [Duration]) -> (Duration, Duration) {
    delays.sort();
    let i = ((delays.len() as f64) * 0.95).ceil() as usize - 1;
    (delays[i.min(delays.len() - 1)], delays[delays.len() - 1])
}
