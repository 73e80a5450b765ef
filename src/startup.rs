//! `Application::build` opens the database, binds the listener (port 0 allowed), bootstraps
//! an empty database, starts the scheduler and returns a server ready to run — exactly as
//! production starts, so tests spawn the real thing.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use anyhow::{bail, Context};

use crate::config::Config;
use crate::domain::names::check_password;
use crate::domain::token_value::TokenValue;
use crate::routes;
use crate::service::bootstrap::{self, FirstStart};
use crate::service::Error;
use crate::state::AppState;

/// First-start settings, read from `TOKEND_ADMIN_*` by the CLI. `Debug` hides the password
/// and the token (rule 45).
#[derive(Default, Clone)]
pub struct Bootstrap {
    pub admin_email: Option<String>,
    pub admin_password: Option<String>,
    pub admin_token: Option<String>,
}

/// What bootstrapping did on an empty database. `Debug` hides the generated password.
pub struct Bootstrapped {
    pub email: String,
    /// The generated password, when none was given (printed once).
    pub generated_password: Option<String>,
}

impl std::fmt::Debug for Bootstrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::domain::secret::redacted;
        f.debug_struct("Bootstrap")
            .field("admin_email", &self.admin_email)
            .field("admin_password", &redacted(&self.admin_password))
            .field("admin_token", &redacted(&self.admin_token))
            .finish()
    }
}

impl std::fmt::Debug for Bootstrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::domain::secret::redacted;
        f.debug_struct("Bootstrapped")
            .field("email", &self.email)
            .field("generated_password", &redacted(&self.generated_password))
            .finish()
    }
}

impl Bootstrapped {
    /// The line that announces the administrator (with its generated password).
    pub fn announcement(&self) -> String {
        match &self.generated_password {
            Some(p) => format!(
                "tokend: created global administrator {} with password {p} (shown once)",
                self.email
            ),
            None => format!("tokend: created global administrator {}", self.email),
        }
    }
}

impl Bootstrap {
    pub fn from_env() -> Bootstrap {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Bootstrap {
            admin_email: var("TOKEND_ADMIN_EMAIL"),
            admin_password: var("TOKEND_ADMIN_PASSWORD"),
            admin_token: var("TOKEND_ADMIN_TOKEN"),
        }
    }

    /// The given token value, after checking the given settings (before anything is opened,
    /// so a bad setting stores nothing).
    pub fn check(&self) -> anyhow::Result<Option<TokenValue>> {
        if let Some(p) = &self.admin_password {
            check_password(p).map_err(|m| anyhow::anyhow!("TOKEND_ADMIN_PASSWORD: {m}"))?;
        }
        match &self.admin_token {
            Some(t) => Ok(Some(TokenValue::parse(t.trim()).map_err(|e| {
                anyhow::anyhow!(
                    "TOKEND_ADMIN_TOKEN is not a well-formed token value ({e}); \
                     expected tkd_ + 30 base62 characters + 6 checksum characters \
                     (`tokend token generate` prints one)"
                )
            })?)),
            None => Ok(None),
        }
    }

    /// On a database without users: the company (unless one exists), a global administrator,
    /// and the admin token.
    pub fn apply(&self, state: &AppState) -> anyhow::Result<Option<Bootstrapped>> {
        let token = self.check()?;
        if !state.read_blocking(bootstrap::needed)? {
            return Ok(None);
        }
        let email = self.admin_email.as_deref().unwrap_or("admin@tokend.local");
        let (password, generated) = match &self.admin_password {
            Some(p) => (p.clone(), None),
            None => {
                let p = crate::crypto::random_token::<15>();
                (p.clone(), Some(p))
            }
        };
        let hash = crate::crypto::hash_password(&password)?;
        let env = state.env();
        let start = FirstStart {
            admin_email: email,
            password_hash: &hash,
            admin_token: token,
        };
        let created = state
            .write_blocking(|tx| bootstrap::first_start(tx, &env, start))
            .map_err(|e| match e {
                Error::Invalid { fields, .. } if fields.contains_key("email") => {
                    anyhow::anyhow!("TOKEND_ADMIN_EMAIL: {}", fields["email"])
                }
                e => anyhow::anyhow!("bootstrap failed: {e}"),
            })?;
        let Some(admin) = created else {
            return Ok(None);
        };
        Ok(Some(Bootstrapped {
            email: admin.email,
            generated_password: generated,
        }))
    }
}

/// Resolves at SIGTERM or SIGINT. Both stop the server gracefully (stop accepting, finish
/// in-flight requests); actix's own handlers would treat SIGINT as a forced stop.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received; stopping gracefully"),
                    _ = int.recv() => tracing::info!("SIGINT received; stopping gracefully"),
                }
            }
            _ => {
                tracing::error!("cannot install signal handlers; stop with SIGKILL");
                std::future::pending::<()>().await
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs `f` on a new plain thread and waits for it: database work from async code that is not
/// on the blocking pool (start and shutdown).
pub fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().expect("the database thread finishes"))
}

pub struct Application {
    port: u16,
    server: Server,
    state: Arc<AppState>,
    _scheduler: crate::jobs::Running,
    pub bootstrapped: Option<Bootstrapped>,
}

impl Application {
    /// Opens the database, binds the listener, and only then bootstraps an empty database:
    /// a start that cannot listen creates no administrator. Should anything fail after the
    /// administrator was created, its announcement (with a generated password) is printed
    /// on stderr before the error, so the password is never lost.
    pub fn build(config: Config, boot: &Bootstrap) -> anyhow::Result<Application> {
        boot.check()?;
        // The blocking PostgreSQL client runs its own small runtime, which cannot start on a
        // thread already driving one: opening the database is done on a plain thread.
        let state = off_runtime(|| AppState::open(config, false))?;
        let listener = match bind(&state.config) {
            Ok(l) => l,
            Err(e) => {
                release(state);
                return Err(e);
            }
        };
        let bootstrapped = match off_runtime(|| boot.apply(&state)) {
            Ok(b) => b,
            Err(e) => {
                release(state);
                return Err(e);
            }
        };
        let (server, port) = match http_server(&state, listener) {
            Ok(s) => s,
            Err(e) => {
                if let Some(b) = &bootstrapped {
                    eprintln!("{}", b.announcement());
                }
                release(state);
                return Err(e);
            }
        };
        let scheduler = crate::jobs::start(state.clone());
        Ok(Application {
            port,
            server,
            state,
            _scheduler: scheduler,
            bootstrapped,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Serves until SIGINT/SIGTERM (graceful: in-flight requests finish), then writes the
    /// buffered last-use data.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Application {
            server,
            state,
            _scheduler,
            ..
        } = self;
        let result = server.await;
        drop(_scheduler);
        if let Err(e) = off_runtime(|| crate::jobs::flush(&state)) {
            tracing::error!(error = %e, "final flush failed");
        }
        // Failed sign-ins counted in the current minute (rule 41) are written too.
        let aggregates =
            off_runtime(|| crate::auth::session::write_failure_aggregates(&state, true));
        if let Err(e) = aggregates {
            tracing::error!(error = %e, "final audit of failed sign-ins failed");
        }
        release(state);
        result
    }
}

/// The bound listener of `c.bind`, after the settings the server alone checks.
fn bind(c: &Config) -> anyhow::Result<TcpListener> {
    if c.sso_header.is_some() && c.sso_trusted_proxies.is_empty() {
        bail!(
            "TOKEND_SSO_HEADER needs TOKEND_SSO_TRUSTED_PROXIES (the proxies allowed to send it)"
        );
    }
    TcpListener::bind(c.bind).with_context(|| format!("cannot listen on {}", c.bind))
}

/// The HTTP server over `state` on `listener` (not yet running), and its port.
fn http_server(state: &Arc<AppState>, listener: TcpListener) -> anyhow::Result<(Server, u16)> {
    let c = &state.config;
    let port = listener.local_addr()?.port();
    crate::telemetry::install_panic_hook();
    let data = web::Data::from(state.clone());
    let oidc = web::Data::new(crate::auth::oidc::Oidc::from_config(c.oidc.as_ref()));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(oidc.clone())
            .wrap(from_fn(routes::middleware::catch_panics))
            .wrap(from_fn(routes::middleware::common))
            .configure(routes::configure)
    })
    .workers(c.workers)
    .shutdown_timeout(10)
    .shutdown_signal(stop_signal())
    .listen(listener)?
    .run();
    Ok((server, port))
}

/// Drops `state` on a plain thread. When it is the last reference, a PostgreSQL pool closes
/// its clients, and closing a blocking client on a thread that drives a runtime panics (an
/// abort, in a destructor).
fn release(state: Arc<AppState>) {
    off_runtime(move || drop(state));
}
