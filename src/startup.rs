//! `Application::build` opens the database, bootstraps an empty one, binds the listener
//! (port 0 allowed), starts the scheduler and returns a server ready to run — exactly as
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
use crate::error::ApiError;
use crate::routes;
use crate::service::bootstrap::{self, FirstStart};
use crate::state::AppState;

/// First-start settings, read from `TOKEND_ADMIN_*` by the CLI.
#[derive(Debug, Default, Clone)]
pub struct Bootstrap {
    pub admin_email: Option<String>,
    pub admin_password: Option<String>,
    pub admin_token: Option<String>,
}

/// What bootstrapping did on an empty database.
#[derive(Debug)]
pub struct Bootstrapped {
    pub email: String,
    /// The generated password, when none was given (printed once).
    pub generated_password: Option<String>,
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

    /// On an empty database: one company, a global administrator, and the admin token.
    pub fn apply(&self, state: &AppState) -> anyhow::Result<Option<Bootstrapped>> {
        let token = match &self.admin_token {
            Some(t) => Some(TokenValue::parse(t.trim()).map_err(|e| {
                anyhow::anyhow!(
                    "TOKEND_ADMIN_TOKEN is not a well-formed token value ({e}); \
                     expected tkd_ + 30 base62 characters + 6 checksum characters"
                )
            })?),
            None => None,
        };
        if !state.read_blocking(bootstrap::needed)? {
            return Ok(None);
        }
        let email = self.admin_email.as_deref().unwrap_or("admin@tokend.local");
        let (password, generated) = match &self.admin_password {
            Some(p) => {
                check_password(p).map_err(|m| anyhow::anyhow!("TOKEND_ADMIN_PASSWORD: {m}"))?;
                (p.clone(), None)
            }
            None => {
                let p = crate::crypto::random_token::<15>();
                (p.clone(), Some(p))
            }
        };
        let hash = crate::auth::password::hash(&password)?;
        let env = state.env();
        let start = FirstStart {
            admin_email: email,
            password_hash: &hash,
            admin_token: token,
        };
        let created = state
            .write_blocking(|tx| bootstrap::first_start(tx, &env, start))
            .map_err(|e| match e {
                ApiError::Unprocessable { fields, .. } if fields.contains_key("email") => {
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
    pub fn build(config: Config, boot: &Bootstrap) -> anyhow::Result<Application> {
        // The blocking PostgreSQL client runs its own small runtime, which cannot start on a
        // thread already driving one: opening the database is done on a plain thread.
        let (state, bootstrapped) = off_runtime(|| -> anyhow::Result<_> {
            let state = AppState::open(config, false)?;
            let bootstrapped = boot.apply(&state)?;
            Ok((state, bootstrapped))
        })?;
        let (server, port) = match http_server(&state) {
            Ok(s) => s,
            Err(e) => {
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
        release(state);
        result
    }
}

/// The listening HTTP server over `state` (not yet running), and its port.
fn http_server(state: &Arc<AppState>) -> anyhow::Result<(Server, u16)> {
    let c = &state.config;
    let listener =
        TcpListener::bind(c.bind).with_context(|| format!("cannot listen on {}", c.bind))?;
    let port = listener.local_addr()?.port();
    if c.sso_header.is_some() && c.sso_trusted_proxies.is_empty() {
        bail!(
            "TOKEND_SSO_HEADER needs TOKEND_SSO_TRUSTED_PROXIES (the proxies allowed to send it)"
        );
    }
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
