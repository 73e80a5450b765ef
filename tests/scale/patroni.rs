//! Automatic failover under Patroni + etcd (the Debian packages, run by the test as its own
//! processes on loopback): three PostgreSQL nodes with `synchronous_mode: true`, two tokend
//! replicas on the multi-host URL writing continuously; the primary's postmaster is killed
//! with SIGKILL, Patroni promotes the synchronous standby by itself, both replicas write again
//! within 10 s of the promotion, and no write answered 2xx is lost. The Patroni configuration
//! is the one docs/SCALING.md shows, read from that file.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::faults::{more_writes, reconnected, write_until};
use crate::Replica;
use tokend_test_support::proc::{self, Server, ServerOpts};

/// The ```yaml block after "patroni.yml" in docs/SCALING.md.
fn documented_config() -> String {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/SCALING.md"))
        .expect("read docs/SCALING.md");
    let at = doc
        .find("# /etc/patroni/patroni.yml")
        .expect("the Patroni example in docs/SCALING.md");
    let start = doc[..at].rfind("```yaml\n").expect("its ```yaml fence") + "```yaml\n".len();
    let len = doc[start..].find("```").expect("the end of the block");
    doc[start..start + len].to_string()
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A command run as `postgres` when root (PostgreSQL refuses root); `setpriv` execs, so the
/// child's pid is the program's own.
fn as_postgres(program: &str) -> Command {
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            program,
        ]);
        c
    } else {
        Command::new(program)
    }
}

struct Node {
    name: String,
    pg_port: u16,
    api_port: u16,
    data: PathBuf,
    child: Child,
}

/// etcd and three Patroni nodes under one temp dir; all stopped and removed on drop.
struct PatroniCluster {
    dir: PathBuf,
    etcd: Child,
    nodes: Vec<Node>,
    http: reqwest::Client,
}

impl PatroniCluster {
    fn start() -> PatroniCluster {
        let dir = tempfile::Builder::new()
            .prefix("tokend-patroni-")
            .tempdir()
            .expect("temp dir")
            .keep();
        let (client, peer) = (free_port(), free_port());
        let etcd = Command::new("etcd")
            .args(["--name", "e1", "--data-dir"])
            .arg(dir.join("etcd"))
            .args([
                "--listen-client-urls",
                &format!("http://127.0.0.1:{client}"),
                "--advertise-client-urls",
                &format!("http://127.0.0.1:{client}"),
                "--listen-peer-urls",
                &format!("http://127.0.0.1:{peer}"),
                "--initial-advertise-peer-urls",
                &format!("http://127.0.0.1:{peer}"),
                "--initial-cluster",
                &format!("e1=http://127.0.0.1:{peer}"),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("etcd.log")).expect("etcd log"))
            .spawn()
            .expect("run etcd (scripts/install-test-deps installs etcd-server)");
        let template = documented_config();
        let bin = tokend_test_support::pg::bin_dir()
            .to_string_lossy()
            .into_owned();
        let mut nodes = Vec::new();
        for i in 1..=3 {
            let name = format!("node{i}");
            let home = dir.join(&name);
            std::fs::create_dir_all(&home).expect("node dir");
            let (pg_port, api_port) = (free_port(), free_port());
            let data = home.join("data");
            let config = template
                .replace("$NAME", &name)
                .replace("$HOST", "127.0.0.1")
                .replace("$API_PORT", &api_port.to_string())
                .replace("$PG_PORT", &pg_port.to_string())
                .replace("$ETCD_HOSTS", &format!("127.0.0.1:{client}"))
                .replace("$DATA_DIR", &data.to_string_lossy())
                .replace("$BIN_DIR", &bin)
                .replace("$SOCKET_DIR", &home.to_string_lossy());
            let file = home.join("patroni.yml");
            std::fs::write(&file, config).expect("write patroni.yml");
            if is_root() {
                let ok = Command::new("chown")
                    .arg("-R")
                    .arg("postgres:")
                    .arg(&dir)
                    .status();
                assert!(ok.is_ok_and(|s| s.success()), "chown");
            }
            let log = std::fs::File::create(home.join("patroni.log")).expect("log");
            let child = as_postgres("patroni")
                .arg(&file)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("run patroni (scripts/install-test-deps installs it)");
            nodes.push(Node {
                name,
                pg_port,
                api_port,
                data,
                child,
            });
        }
        PatroniCluster {
            dir,
            etcd,
            nodes,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .expect("client"),
        }
    }

    /// `GET /cluster` of a node that answers: the members with role and state.
    async fn members(&self) -> Vec<Value> {
        for n in &self.nodes {
            let url = format!("http://127.0.0.1:{}/cluster", n.api_port);
            if let Ok(res) = self.http.get(url).send().await {
                if let Ok(v) = res.json::<Value>().await {
                    return v["members"].as_array().cloned().unwrap_or_default();
                }
            }
        }
        Vec::new()
    }

    /// Waits until all three run, one the leader and one its synchronous standby.
    async fn wait_healthy(&self, limit: Duration) {
        let start = Instant::now();
        loop {
            let m = self.members().await;
            let running = m
                .iter()
                .filter(|m| m["state"] == "running" || m["state"] == "streaming")
                .count();
            let has = |role: &str| m.iter().any(|m| m["role"] == role);
            if running == 3 && has("leader") && has("sync_standby") {
                return;
            }
            if start.elapsed() > limit {
                panic!(
                    "Patroni cluster not healthy after {limit:?}: {m:?}\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The node whose REST API answers 200 to `GET /primary`.
    async fn primary(&self) -> Option<usize> {
        for (i, n) in self.nodes.iter().enumerate() {
            let url = format!("http://127.0.0.1:{}/primary", n.api_port);
            if let Ok(res) = self.http.get(url).send().await {
                if res.status().as_u16() == 200 {
                    return Some(i);
                }
            }
        }
        None
    }

    /// `postgresql://postgres@n1,n2,n3/DB?target_session_attrs=read-write`.
    fn url(&self, db: &str) -> String {
        let hosts: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.pg_port))
            .collect();
        format!(
            "postgresql://postgres@{}/{db}?target_session_attrs=read-write",
            hosts.join(",")
        )
    }

    fn psql(&self, node: usize, sql: &str) -> String {
        let bin = tokend_test_support::pg::bin_dir().join("psql");
        let port = self.nodes[node].pg_port.to_string();
        let out = Command::new(bin)
            .args([
                "-X",
                "-At",
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
                sql,
            ])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The postmaster pid of a node (first line of `postmaster.pid`).
    fn postmaster(&self, node: usize) -> String {
        let pid = std::fs::read_to_string(self.nodes[node].data.join("postmaster.pid"))
            .expect("postmaster.pid");
        pid.lines().next().unwrap_or_default().trim().to_string()
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for n in &self.nodes {
            let log = std::fs::read_to_string(self.dir.join(&n.name).join("patroni.log"))
                .unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            out.push_str(&format!("--- {} ---\n", n.name));
            for l in tail.iter().rev() {
                out.push_str(l);
                out.push('\n');
            }
        }
        out
    }
}

impl Drop for PatroniCluster {
    fn drop(&mut self) {
        // Patroni stops its PostgreSQL on SIGTERM; whatever still runs is killed.
        for n in &self.nodes {
            let _ = Command::new("kill")
                .args(["-TERM", &n.child.id().to_string()])
                .status();
        }
        for n in &mut self.nodes {
            if proc::wait_timeout(&mut n.child, Duration::from_secs(20)).is_none() {
                let _ = n.child.kill();
                let _ = n.child.wait();
            }
            if let Ok(pid) = std::fs::read_to_string(n.data.join("postmaster.pid")) {
                let pid = pid.lines().next().unwrap_or_default().trim().to_string();
                if !pid.is_empty() {
                    let _ = Command::new("kill").args(["-KILL", &pid]).status();
                }
            }
        }
        let _ = self.etcd.kill();
        let _ = self.etcd.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn replica(url: &str, key: &Path, admin: &str) -> Replica {
    let opts = ServerOpts::with_token(admin).env("TOKEND_MASTER_KEY_FILE", &key.to_string_lossy());
    Replica::new(Server::start(Path::new(url), &opts), admin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patroni_promotes_by_itself_and_both_replicas_write_again_losing_nothing() {
    let _serial = crate::serial();
    let begun = Instant::now();
    let cluster = PatroniCluster::start();
    cluster.wait_healthy(Duration::from_secs(90)).await;
    let old = cluster.primary().await.expect("a primary");
    cluster.psql(old, "CREATE DATABASE tokend");
    let url = cluster.url("tokend");
    let dir = tempfile::tempdir().expect("temp dir");
    let key = dir.path().join("tokend.key");
    let admin = proc::new_value();
    let a = replica(&url, &key, &admin);
    let b = replica(&url, &key, &admin);
    eprintln!("patroni: cluster and replicas up in {:?}", begun.elapsed());

    let stop = Arc::new(AtomicBool::new(false));
    let acked_count = Arc::new(AtomicUsize::new(0));
    let writers = [
        tokio::spawn(write_until(
            a.server.base.clone(),
            admin.clone(),
            stop.clone(),
            acked_count.clone(),
        )),
        tokio::spawn(write_until(
            b.server.base.clone(),
            admin.clone(),
            stop.clone(),
            acked_count.clone(),
        )),
    ];
    // The failover comes once the writers have writes acknowledged.
    more_writes(&acked_count, 5).await;

    let pid = cluster.postmaster(old);
    let killed = Instant::now();
    let ok = Command::new("kill").args(["-KILL", &pid]).status();
    assert!(ok.is_ok_and(|s| s.success()), "kill -9 {pid}");
    let new = loop {
        match cluster.primary().await {
            Some(i) if i != old => break i,
            _ => {}
        }
        if killed.elapsed() > Duration::from_secs(60) {
            panic!(
                "Patroni promoted no standby within 60 s\n{}",
                cluster.logs()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let promoted = killed.elapsed();
    let (ta, tb) = tokio::join!(reconnected(&a, &admin), reconnected(&b, &admin));
    // The writers themselves get writes acknowledged on the new primary too.
    more_writes(&acked_count, 3).await;
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for w in writers {
        acked.extend(w.await.expect("writer"));
    }
    assert!(acked.len() >= 5, "writes acknowledged: {}", acked.len());
    let mut lost = 0;
    for (id, value) in &acked {
        if b.get(&format!("/v1/tokens/{id}"), &admin).await.0 != 200 || a.me(value).await != 200 {
            lost += 1;
        }
    }
    let on_new = cluster.psql(new, "SELECT pg_is_in_recovery()");
    eprintln!(
        "patroni timeline: kill -9 postmaster of {} at 0 ms → {} promoted at {:?} → replica A \
         writing {:?} later, replica B {:?} later; {} acknowledged writes, {lost} lost \
         (test {:?} in all)",
        cluster.nodes[old].name,
        cluster.nodes[new].name,
        promoted,
        ta,
        tb,
        acked.len(),
        begun.elapsed()
    );
    assert_eq!(on_new, "f", "the promoted node is a primary");
    assert_eq!(lost, 0, "acknowledged writes lost");
    let slowest = ta.max(tb);
    assert!(
        slowest <= Duration::from_secs(10),
        "writing again took {slowest:?} after the promotion"
    );
}
