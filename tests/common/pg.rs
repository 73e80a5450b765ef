//! Throwaway PostgreSQL clusters for tests that need real PostgreSQL processes: a primary,
//! streaming standbys (asynchronous or synchronous), clean stops, crashes, restarts and
//! promotion. Std-only (`tokend_test_support::pg`).
//!
//! Each cluster lives in its own temp dir (data dir, Unix socket, server log `log`), listens on
//! 127.0.0.1 only, on a free port, with trust authentication for user `postgres`, and has
//! fsync off: fast, and only for tests. Dropping a [`PgCluster`] kills its server and removes
//! the temp dir. The binaries are the newest `/usr/lib/postgresql/*/bin`, else
//! `pg_config --bindir` (`scripts/install-test-deps` installs PostgreSQL). As root, every
//! PostgreSQL program runs as the `postgres` user (`runuser -u postgres --`), since initdb
//! refuses root; the temp dir must then be reachable by that user. `scripts/pg` is the
//! equivalent for scripts.

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long to wait for a server to start, stop, replicate or be promoted.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Settings of every cluster: those of `scripts/pg`, plus what standbys need.
const SETTINGS: &str = "
# tests/common/pg.rs: a throwaway test cluster
listen_addresses = '127.0.0.1'
fsync = off
synchronous_commit = on
wal_level = replica
max_wal_senders = 10
max_connections = 300
shared_buffers = 128MB
hot_standby = on
wal_keep_size = '64MB'
";

/// initdb options: superuser postgres, trusted, UTF-8 with byte-order (C) collation.
const INITDB_OPTIONS: &[&str] = &[
    "--username=postgres",
    "--auth=trust",
    "--encoding=UTF8",
    "--locale=C",
    "--no-sync",
];

/// Trust authentication, on 127.0.0.1 only (normal and replication connections).
const PG_HBA: &str = "\
# TYPE  DATABASE     USER  ADDRESS       METHOD
host    all          all   127.0.0.1/32  trust
host    replication  all   127.0.0.1/32  trust
";

/// One PostgreSQL server with its own data dir and port; killed and deleted on drop.
pub struct PgCluster {
    /// The temp dir holding everything: `data/`, the Unix socket and the server `log`.
    root: PathBuf,
    /// The data dir, `root/data`.
    data: PathBuf,
    /// Its TCP port on 127.0.0.1.
    port: u16,
    /// The directory of the PostgreSQL programs.
    bin: PathBuf,
    /// Its `cluster_name`: the `application_name` of its WAL receiver when it is a standby.
    name: String,
}

impl PgCluster {
    /// initdb + start a fresh primary on 127.0.0.1, on a free port. Panics on failure.
    pub fn start() -> PgCluster {
        let mut pg = PgCluster::new_dir();
        let data = pg.data.to_str().unwrap().to_string();
        pg.run("initdb", &[&["-D", &data][..], INITDB_OPTIONS].concat());
        fs::write(pg.data.join("pg_hba.conf"), PG_HBA).expect("write pg_hba.conf");
        append(&pg.data.join("postgresql.conf"), SETTINGS);
        pg.boot();
        pg
    }

    /// A fresh primary like [`PgCluster::start`], with `settings` added to postgresql.conf,
    /// `hba` as pg_hba.conf, and `files` (name, contents) written into the data dir first with
    /// mode 0600 (a server certificate and key for `ssl = on`, a CA file).
    pub fn start_with(settings: &str, hba: &str, files: &[(&str, &[u8])]) -> PgCluster {
        let mut pg = PgCluster::new_dir();
        let data = pg.data.to_str().unwrap().to_string();
        pg.run("initdb", &[&["-D", &data][..], INITDB_OPTIONS].concat());
        fs::write(pg.data.join("pg_hba.conf"), hba).expect("write pg_hba.conf");
        append(&pg.data.join("postgresql.conf"), SETTINGS);
        append(&pg.data.join("postgresql.conf"), settings);
        for (name, contents) in files {
            pg.put_file(name, contents);
        }
        pg.boot();
        pg
    }

    /// Writes `contents` to `name` in the data dir, mode 0600, owned by `postgres` when root
    /// (for a certificate or key the server reads; reload the configuration to use it).
    pub fn put_file(&self, name: &str, contents: &[u8]) {
        use std::os::unix::fs::PermissionsExt;
        let path = self.data.join(name);
        fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        if is_root() {
            check(Command::new("chown").arg("postgres:").arg(&path), "chown");
        }
    }

    /// A streaming standby of `primary` (pg_basebackup -R) on its own free port. When
    /// `synchronous`, sets `synchronous_standby_names = '*'` on the primary and waits until the
    /// primary reports this standby as 'sync' (with several synchronous standbys only the first
    /// one is; the others are 'potential' and this would time out), else until it is streaming.
    /// The standby itself has no synchronous standbys, so it can commit once promoted.
    pub fn start_standby(primary: &PgCluster, synchronous: bool) -> PgCluster {
        let mut standby = PgCluster::new_dir();
        let data = standby.data.to_str().unwrap().to_string();
        let port = primary.port.to_string();
        let source = ["-h", "127.0.0.1", "-p", &port, "-U", "postgres"];
        let backup = ["-D", &data, "-R", "-X", "stream", "-c", "fast", "--no-sync"];
        standby.run("pg_basebackup", &[&source[..], &backup[..]].concat());
        let auto_conf = standby.data.join("postgresql.auto.conf");
        append(&auto_conf, "synchronous_standby_names = ''\n");
        standby.boot();
        if synchronous {
            primary.psql("ALTER SYSTEM SET synchronous_standby_names = '*'");
            primary.psql("SELECT pg_reload_conf()");
        }
        let (column, want) = if synchronous {
            ("sync_state", "sync")
        } else {
            ("state", "streaming")
        };
        let sql = format!(
            "SELECT {column} FROM pg_stat_replication WHERE application_name = '{}'",
            standby.name
        );
        wait_for(&format!("standby {} to be {want}", standby.name), || {
            primary.psql(&sql) == want
        });
        standby
    }

    /// Its TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://postgres@127.0.0.1:PORT/DB`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Runs `sql` with psql against database "postgres" and returns its trimmed unaligned,
    /// tuples-only output (`psql -At`). Panics on error. Several statements in one call run in
    /// one transaction, so give ALTER SYSTEM, CREATE DATABASE and the like a call of their own.
    pub fn psql(&self, sql: &str) -> String {
        let port = self.port.to_string();
        let server = ["-h", "127.0.0.1", "-p", &port, "-U", "postgres"];
        let options = ["-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", "postgres", "-c"];
        let out = self.run("psql", &[&server[..], &options[..], &[sql]].concat());
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// CREATE DATABASE `name`.
    pub fn create_database(&self, name: &str) {
        let quoted = name.replace('"', "\"\"");
        self.psql(&format!("CREATE DATABASE \"{quoted}\""));
    }

    /// Stops the server cleanly (`pg_ctl stop -m fast`); does nothing if it is not running.
    pub fn stop(&self) {
        self.pg_ctl_stop("fast");
    }

    /// Kills the server as a crash would (`pg_ctl stop -m immediate`: no shutdown checkpoint,
    /// crash recovery at the next start); does nothing if it is not running.
    pub fn stop_immediate(&self) {
        self.pg_ctl_stop("immediate");
    }

    /// Starts the stopped server again on the same data dir and port (`pg_ctl start -w`) and
    /// waits until it accepts connections. Panics with the server log on failure.
    pub fn start_again(&self) {
        if let Err(why) = self.pg_ctl_start() {
            panic!("PostgreSQL on port {} did not restart: {why}", self.port);
        }
        self.wait_ready();
    }

    /// Promotes a standby to primary (`pg_ctl promote -w`) and waits until it is out of
    /// recovery.
    pub fn promote(&self) {
        self.run(
            "pg_ctl",
            &["promote", "-w", "-t", "60", "-D", self.data_dir()],
        );
        wait_for(&format!("{} to leave recovery", self.name), || {
            self.psql("SELECT pg_is_in_recovery()") == "f"
        });
    }

    /// The server log (for assertion messages).
    pub fn log(&self) -> String {
        fs::read_to_string(self.root.join("log")).unwrap_or_default()
    }

    /// A new, empty cluster dir under the temp dir, owned by `postgres` when root.
    fn new_dir() -> PgCluster {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let (pid, n) = (std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let nanos = nanos.as_nanos();
        let root = std::env::temp_dir().join(format!("tokend-pg-{pid}-{n}-{nanos}"));
        fs::create_dir(&root).unwrap_or_else(|e| panic!("create {}: {e}", root.display()));
        let pg = PgCluster {
            data: root.join("data"),
            root,
            port: 0,
            bin: bin_dir().to_path_buf(),
            name: format!("pg_{pid}_{n}"),
        };
        if is_root() {
            let mut chown = Command::new("chown");
            check(chown.args(["-R", "postgres:"]).arg(&pg.root), "chown");
        }
        pg
    }

    /// First start: on a free port (another one if it is taken meanwhile), with its socket in
    /// the cluster dir; waits until it accepts connections. Panics with the log on failure.
    fn boot(&mut self) {
        for attempt in 1.. {
            self.port = free_port();
            let socket_dir = self.root.to_str().unwrap().replace('\'', "''");
            let settings = format!(
                "port = {}\nunix_socket_directories = '{socket_dir}'\ncluster_name = '{}'\n",
                self.port, self.name
            );
            append(&self.data.join("postgresql.auto.conf"), &settings);
            match self.pg_ctl_start() {
                Ok(()) => break,
                Err(_) if attempt < 3 && self.log().contains("already in use") => continue,
                Err(why) => panic!("PostgreSQL did not start on port {}: {why}", self.port),
            }
        }
        self.wait_ready();
    }

    /// `pg_ctl start -w`; the error carries pg_ctl's output and the server log.
    fn pg_ctl_start(&self) -> Result<(), String> {
        let log = self.root.join("log");
        let args = ["start", "-w", "-t", "60", "-D", self.data_dir(), "-l"];
        let out = self.command("pg_ctl").args(args).arg(log).output();
        let out = out.expect("run pg_ctl");
        if out.status.success() {
            return Ok(());
        }
        Err(format!(
            "{}\n--- server log ---\n{}",
            describe(&out),
            self.log()
        ))
    }

    /// `pg_ctl stop -m MODE` if the server is running.
    fn pg_ctl_stop(&self, mode: &str) {
        if self.running() {
            let data = self.data_dir();
            self.run(
                "pg_ctl",
                &["stop", "-w", "-t", "60", "-m", mode, "-D", data],
            );
        }
    }

    /// Whether its server is running (`pg_ctl status`).
    fn running(&self) -> bool {
        let status = self
            .command("pg_ctl")
            .args(["status", "-D", self.data_dir()])
            .output();
        status.is_ok_and(|o| o.status.success())
    }

    /// Waits until `pg_isready` says the server accepts connections.
    fn wait_ready(&self) {
        let port = self.port.to_string();
        let what = format!("PostgreSQL on port {port} to accept connections");
        wait_for(&what, || {
            let mut pg_isready = self.command("pg_isready");
            let status = pg_isready
                .args(["-q", "-h", "127.0.0.1", "-p", &port])
                .status();
            status.is_ok_and(|s| s.success())
        });
    }

    /// The data dir as a program argument.
    fn data_dir(&self) -> &str {
        self.data.to_str().expect("a UTF-8 temp dir")
    }

    /// Runs PostgreSQL program `prog` with `args` and returns its output; panics on failure.
    fn run(&self, prog: &str, args: &[&str]) -> Output {
        check(self.command(prog).args(args), prog)
    }

    /// A command running `prog` of the bin dir, as `postgres` when root, in the cluster dir
    /// (a working directory that user can read).
    fn command(&self, prog: &str) -> Command {
        let program = self.bin.join(prog);
        let mut cmd = if is_root() {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        };
        cmd.current_dir(&self.root);
        cmd
    }
}

impl Drop for PgCluster {
    /// Kills the server if it runs (`pg_ctl stop -m immediate`) and removes the cluster dir.
    fn drop(&mut self) {
        if self.running() {
            let mut pg_ctl = self.command("pg_ctl");
            let _ = pg_ctl
                .args(["stop", "-w", "-m", "immediate", "-D", self.data_dir()])
                .output();
        }
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// Runs `cmd` and returns its output; panics with its status and output if it fails.
fn check(cmd: &mut Command, what: &str) -> Output {
    let out = cmd.output();
    let out = out.unwrap_or_else(|e| panic!("cannot run {what} ({cmd:?}): {e}"));
    if !out.status.success() {
        panic!("{what} failed ({cmd:?}): {}", describe(&out));
    }
    out
}

/// A command's exit status, stdout and stderr, for error messages.
fn describe(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let status = out.status;
    format!("{status}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}")
}

/// Polls `done` until it holds; panics after [`TIMEOUT`] naming what it waited for.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > TIMEOUT {
            panic!("timed out after {TIMEOUT:?} waiting for {what}");
        }
        sleep(Duration::from_millis(50));
    }
}

/// Appends `text` to the file at `path`.
fn append(path: &Path, text: &str) {
    let mut file = fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    file.write_all(text.as_bytes())
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// A TCP port of 127.0.0.1 that is free now (the OS's pick for port 0).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// Whether this process runs as root (the owner of /proc/self is the effective uid).
fn is_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0))
}

/// The newest `/usr/lib/postgresql/VERSION/bin` with a pg_ctl, else `pg_config --bindir`.
pub fn bin_dir() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let version = |dir: &Path| -> Vec<u32> {
            let name = dir.file_name().unwrap_or_default().to_string_lossy();
            name.split('.').map(|n| n.parse().unwrap_or(0)).collect()
        };
        let installed = fs::read_dir("/usr/lib/postgresql").into_iter().flatten();
        let newest = installed
            .flatten()
            .map(|entry| entry.path())
            .filter(|dir| dir.join("bin/pg_ctl").is_file())
            .max_by_key(|dir| version(dir));
        if let Some(dir) = newest {
            return dir.join("bin");
        }
        let out = Command::new("pg_config").arg("--bindir").output();
        match out {
            Ok(out) if out.status.success() => {
                PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_string())
            }
            _ => panic!("no PostgreSQL binaries found: run scripts/install-test-deps"),
        }
    })
}
