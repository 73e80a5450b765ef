//! Runs the real `tokend` binary: one-shot commands and servers, with a clean environment
//! (no inherited `TOKEND_*`), temp directories and bounded waits (the cli, ops, api and scale
//! tests).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tokend::domain::token_value::{TokenValue, ValueKind};

pub use crate::app::{ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::http::Api;

/// The binary under test: `tokend` beside the `deps` directory of the running test binary
/// (cargo builds it for the integration tests of its package).
pub fn bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test binary's path");
        let dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>");
        let bin = dir.join(format!("tokend{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.is_file(), "{} is not built", bin.display());
        bin.to_str().expect("a UTF-8 target dir").to_string()
    })
}

/// A fresh, well-formed API token value.
pub fn new_value() -> String {
    TokenValue::generate(ValueKind::Api).expose().to_string()
}

/// `tokend --db DB` with an empty environment apart from `PATH` and quiet logs.
pub fn tokend(db: &Path) -> Command {
    let mut c = Command::new(bin());
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TOKEND_LOG", "warn")
        .arg("--db")
        .arg(db);
    c
}

/// What a finished command printed, and how it ended.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }

    /// Panics with both streams unless the exit code is `code`.
    pub fn expect_code(self, code: i32) -> Output {
        assert_eq!(
            self.code(),
            code,
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        assert!(
            !self.stderr.contains("panicked"),
            "the command panicked:\n{}",
            self.stderr
        );
        self
    }
}

/// Runs `cmd` to completion (at most 60 s) with `stdin` as its standard input.
pub fn run_with_stdin(mut cmd: Command, stdin: &str) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn tokend");
    {
        let mut input = child.stdin.take().expect("stdin");
        // A command may exit before reading its input; a broken pipe is fine.
        let _ = input.write_all(stdin.as_bytes());
    }
    wait_output(child, Duration::from_secs(60))
}

/// Runs `cmd` to completion (at most 60 s) with no standard input.
pub fn run(cmd: Command) -> Output {
    run_with_stdin(cmd, "")
}

fn wait_output(mut child: Child, limit: Duration) -> Output {
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = wait_timeout(&mut child, limit).unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("tokend did not finish within {limit:?}");
    });
    Output {
        status,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    }
}

/// Polls `child` until it exits or `limit` passes.
pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return Some(s);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `f` every 50 ms until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A temp directory holding `tokend.db`.
pub struct Workdir {
    pub dir: TempDir,
    pub db: PathBuf,
}

impl Workdir {
    pub fn new() -> Workdir {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("tokend.db");
        Workdir { dir, db }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `tokend --db <this db>`.
    pub fn tokend(&self) -> Command {
        tokend(&self.db)
    }

    /// Opens the database file directly (checks in tests).
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.db).expect("open db")
    }
}

impl Default for Workdir {
    fn default() -> Self {
        Workdir::new()
    }
}

/// A `tokend serve --port 0` process. Killed when dropped.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub base: String,
    /// Lines printed on stdout before "listening".
    pub banner: Vec<String>,
    stderr: Arc<Mutex<String>>,
}

/// Settings for `Server::start`.
#[derive(Clone)]
pub struct ServerOpts {
    pub admin_token: Option<String>,
    pub admin_email: Option<String>,
    pub admin_password: Option<String>,
    pub env: Vec<(String, String)>,
}

impl Default for ServerOpts {
    fn default() -> Self {
        ServerOpts {
            admin_token: None,
            admin_email: Some(ADMIN_EMAIL.into()),
            admin_password: Some(ADMIN_PASSWORD.into()),
            env: Vec::new(),
        }
    }
}

impl ServerOpts {
    pub fn with_token(token: &str) -> ServerOpts {
        ServerOpts {
            admin_token: Some(token.to_string()),
            ..ServerOpts::default()
        }
    }

    pub fn env(mut self, k: &str, v: &str) -> ServerOpts {
        self.env.push((k.into(), v.into()));
        self
    }
}

impl Server {
    /// Starts the server on `db` and waits (≤ 60 s) until it prints its address.
    pub fn start(db: &Path, opts: &ServerOpts) -> Server {
        match Server::try_start(db, opts) {
            Ok(s) => s,
            Err((out, err)) => {
                panic!("tokend serve did not start\n--- stdout\n{out}\n--- stderr\n{err}")
            }
        }
    }

    /// Starts the server; on failure returns what it printed (stdout, stderr).
    pub fn try_start(db: &Path, opts: &ServerOpts) -> Result<Server, (String, String)> {
        let mut cmd = tokend(db);
        for (k, v) in [
            ("TOKEND_ADMIN_TOKEN", &opts.admin_token),
            ("TOKEND_ADMIN_EMAIL", &opts.admin_email),
            ("TOKEND_ADMIN_PASSWORD", &opts.admin_password),
        ] {
            if let Some(v) = v {
                cmd.env(k, v);
            }
        }
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        cmd.args(["serve", "--port", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn tokend serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (drained_tx, drained) = mpsc::channel::<()>();
        {
            let mut pipe = child.stderr.take().expect("stderr");
            let sink = stderr.clone();
            thread::spawn(move || {
                // Tells the waiter when the pipe is closed and everything is read.
                let _drained = drained_tx;
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut s) = sink.lock() {
                        s.push_str(&String::from_utf8_lossy(&buf[..n]));
                    }
                }
            });
        }
        let (tx, rx) = mpsc::channel::<String>();
        {
            let pipe = child.stdout.take().expect("stdout");
            thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        // Nobody listens any more: keep draining so the server never blocks.
                        continue;
                    }
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut banner = Vec::new();
        let err_text =
            |stderr: &Arc<Mutex<String>>| stderr.lock().map(|s| s.clone()).unwrap_or_default();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left.min(Duration::from_millis(100))) {
                Ok(line) => {
                    if let Some(addr) = line.strip_prefix("tokend listening on http://") {
                        let port = addr
                            .rsplit(':')
                            .next()
                            .and_then(|p| p.trim().parse::<u16>().ok())
                            .expect("port in the listening line");
                        assert_ne!(port, 0, "the printed port is the bound one");
                        return Ok(Server {
                            child,
                            port,
                            base: format!("http://127.0.0.1:{port}"),
                            banner,
                            stderr,
                        });
                    }
                    banner.push(line);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(Some(_)) = child.try_wait() {
                        let _ = drained.recv_timeout(Duration::from_secs(10));
                        return Err((banner.join("\n"), err_text(&stderr)));
                    }
                    if Instant::now() >= deadline {
                        let _ = child.kill();
                        let _ = child.wait();
                        return Err((banner.join("\n"), err_text(&stderr)));
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let _ = wait_timeout(&mut child, Duration::from_secs(10));
                    let _ = drained.recv_timeout(Duration::from_secs(10));
                    return Err((banner.join("\n"), err_text(&stderr)));
                }
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Sends a signal by name (`TERM`, `INT`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args(["-s", name, &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -s {name} failed");
    }

    /// Waits (≤ `limit`) for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        wait_timeout(&mut self.child, limit)
            .unwrap_or_else(|| panic!("tokend did not exit within {limit:?}\n{}", self.stderr()))
    }

    /// `kill -9`, then reaps the process.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Server {
    /// Its API, reached with `http` and administered with `admin` (a token value).
    pub fn api(&self, http: &reqwest::Client, admin: &str) -> Api {
        Api {
            client: http.clone(),
            address: self.base.clone(),
            admin_token: admin.to_string(),
        }
    }
}

/// An HTTP client that never follows redirects and gives up after 30 s.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}
