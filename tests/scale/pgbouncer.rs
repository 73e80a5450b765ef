//! tokend through PgBouncer (the Debian `pgbouncer`, run by the test as its own process on a
//! free port): session pooling keeps two replicas coherent; transaction pooling, which would
//! silently break LISTEN and the session advisory locks, is refused at start with what to do.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::coherence::{trials, BOUND};
use crate::{p95_max, Setup};
use tokend_test_support::pg::PgCluster;

/// One PgBouncer in front of a cluster, for every database (`* = host=… port=…`).
pub struct Bouncer {
    child: Child,
    pub port: u16,
    dir: PathBuf,
}

impl Bouncer {
    /// Starts PgBouncer with `pool_mode` in front of the cluster on `pg_port`; waits until it
    /// accepts connections. PgBouncer refuses to run as root: as root it runs as `postgres`.
    pub fn start(pg_port: u16, pool_mode: &str) -> Bouncer {
        for attempt in 1..=3 {
            let root = bouncer_dir();
            let port = free_port();
            let d = root.display().to_string();
            let ini = format!(
                "[databases]\n* = host=127.0.0.1 port={pg_port}\n\n[pgbouncer]\n\
                 listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = trust\nauth_file = {d}/userlist.txt\npool_mode = {pool_mode}\n\
                 max_client_conn = 500\ndefault_pool_size = 120\n\
                 logfile = {d}/pgbouncer.log\npidfile = {d}/pgbouncer.pid\n"
            );
            std::fs::write(root.join("pgbouncer.ini"), ini).expect("write pgbouncer.ini");
            std::fs::write(root.join("userlist.txt"), "\"postgres\" \"\"\n").expect("userlist");
            chown_postgres(&root);
            let mut cmd = if is_root() {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--", &pgbouncer_binary()]);
                c
            } else {
                Command::new(pgbouncer_binary())
            };
            let child = cmd
                .arg(root.join("pgbouncer.ini"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("run pgbouncer (scripts/install-test-deps installs it)");
            let mut b = Bouncer {
                child,
                port,
                dir: root,
            };
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = b.child.try_wait() {
                    break;
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return b;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            b.stop();
            if attempt == 3 {
                panic!("pgbouncer did not start:\n{}", b.log());
            }
        }
        unreachable!()
    }

    /// `postgres://postgres@127.0.0.1:PORT/DB` through the pooler.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }

    /// Stops PgBouncer (by the pid it wrote: as root, the child is `runuser`).
    fn stop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("pgbouncer.pid")) {
            let _ = Command::new("kill").args(["-TERM", pid.trim()]).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(self.dir.join("pgbouncer.pid"));
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A new dir under the temp dir, readable by `postgres` (PgBouncer's user when root).
fn bouncer_dir() -> PathBuf {
    let dir = tempfile::Builder::new()
        .prefix("tokend-pgbouncer-")
        .tempdir()
        .expect("temp dir")
        .keep();
    chown_postgres(&dir);
    dir
}

fn chown_postgres(dir: &Path) {
    if is_root() {
        let ok = Command::new("chown")
            .arg("-R")
            .arg("postgres:")
            .arg(dir)
            .status();
        assert!(ok.is_ok_and(|s| s.success()), "chown {}", dir.display());
    }
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn pgbouncer_binary() -> String {
    for c in [
        "/usr/sbin/pgbouncer",
        "/usr/bin/pgbouncer",
        "/usr/local/bin/pgbouncer",
    ] {
        if Path::new(c).exists() {
            return c.into();
        }
    }
    panic!("pgbouncer is not installed: run scripts/install-test-deps");
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbouncer_session_mode_keeps_two_replicas_coherent() {
    let _serial = crate::serial();
    let cluster = PgCluster::start();
    cluster.create_database("tokend");
    let bouncer = Bouncer::start(cluster.port(), "session");
    let setup = Setup::on(cluster, bouncer.url("tokend"));
    let a = setup.replica(&[]);
    let b = setup.replica(&[]);
    let (mut created, mut changed) = trials(&a, &b, &setup.admin, 25).await;
    let (c95, cmax) = p95_max(&mut created);
    let (p95, max) = p95_max(&mut changed);
    eprintln!(
        "pgbouncer (session) coherence over {} trials: new token accepted p95 {c95:?} max \
         {cmax:?}; change honoured p95 {p95:?} max {max:?}",
        changed.len()
    );
    assert!(cmax <= BOUND, "a new token took {cmax:?} through PgBouncer");
    assert!(max <= BOUND, "a change took {max:?} through PgBouncer");
    let seen = setup.cluster.psql(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tokend' \
         AND client_addr IS NOT NULL",
    );
    assert_ne!(seen, "0", "tokend's sessions come through PgBouncer");
}

#[test]
fn pgbouncer_transaction_mode_is_refused_at_start_saying_what_to_do() {
    let _serial = crate::serial();
    let cluster = PgCluster::start();
    cluster.create_database("tokend");
    for mode in ["transaction", "statement"] {
        let bouncer = Bouncer::start(cluster.port(), mode);
        let url = bouncer.url("tokend");
        for args in [&["migrate"][..], &["serve", "--port", "0"][..]] {
            let mut cmd = tokend_test_support::proc::tokend(Path::new(&url));
            cmd.args(args)
                .env("TOKEND_ADMIN_TOKEN", tokend_test_support::proc::new_value())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
            let mut child = cmd.spawn().expect("spawn tokend");
            let status =
                tokend_test_support::proc::wait_timeout(&mut child, Duration::from_secs(30))
                    .unwrap_or_else(|| {
                        let _ = child.kill();
                        panic!("tokend {args:?} kept running through pool_mode = {mode}")
                    });
            let mut err = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut pipe, &mut err);
            }
            eprintln!(
                "pgbouncer ({mode}): tokend {args:?}: exit {:?}: {}",
                status.code(),
                err.trim()
            );
            assert_eq!(status.code(), Some(1), "{err}");
            assert!(
                err.contains("pool_mode = session") && err.contains("transaction"),
                "says what to do: {err}"
            );
        }
    }
    // The same cluster straight, or through session pooling, is accepted.
    let session = Bouncer::start(cluster.port(), "session");
    for url in [cluster.url("tokend"), session.url("tokend")] {
        let out = tokend_test_support::proc::run({
            let mut c = tokend_test_support::proc::tokend(Path::new(&url));
            c.arg("migrate");
            c
        });
        assert_eq!(out.code(), 0, "{url}: {out:?}");
    }
}
