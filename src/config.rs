//! Configuration: flags > environment (`TOKEND_*`) > TOML file > defaults.
//!
//! One `RawConfig` struct is both the clap argument group (flags and env) and the TOML file
//! shape, so a setting is declared once. `Config::resolve` merges and validates.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::db::DbTarget;
use crate::domain::time::parse_duration;

pub mod oidc;
pub use oidc::{OidcConfig, Secret};

/// Settings as given, before defaults and validation.
#[derive(Debug, Clone, Default, clap::Args, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    /// SQLite database file, or a PostgreSQL URL (postgres://user@host1,host2/db?target_session_attrs=read-write) [default: ./tokend.db]
    #[arg(long, env = "TOKEND_DB", global = true, hide_env_values = true)]
    pub db: Option<DbTarget>,
    /// Address to listen on, host:port [default: 127.0.0.1:8080]
    #[arg(long, env = "TOKEND_BIND", global = true)]
    pub bind: Option<String>,
    /// Master key file (created with mode 0600 when missing) [default: <db>.key; ./tokend.key with PostgreSQL]
    #[arg(long, env = "TOKEND_MASTER_KEY_FILE", global = true)]
    pub master_key_file: Option<PathBuf>,
    /// How long a disabled token is kept before it is purged [default: 7d]
    #[arg(long, env = "TOKEND_DISABLED_RETENTION", global = true)]
    pub disabled_retention: Option<String>,
    /// Interval of the expiry job [default: 60s]
    #[arg(long, env = "TOKEND_EXPIRY_INTERVAL", global = true)]
    pub expiry_interval: Option<String>,
    /// Interval of the purge job [default: 60s]
    #[arg(long, env = "TOKEND_PURGE_INTERVAL", global = true)]
    pub purge_interval: Option<String>,
    /// Interval of the reconcile job [default: 10m]
    #[arg(long, env = "TOKEND_RECONCILE_INTERVAL", global = true)]
    pub reconcile_interval: Option<String>,
    /// Interval of the last-use flush [default: 5s]
    #[arg(long, env = "TOKEND_FLUSH_INTERVAL", global = true)]
    pub flush_interval: Option<String>,
    /// Behind HTTPS: `__Host-` cookie name and `Secure` [default: false]
    #[arg(long, env = "TOKEND_SECURE_COOKIES", global = true)]
    pub secure_cookies: Option<bool>,
    /// Console session lifetime [default: 12h]
    #[arg(long, env = "TOKEND_SESSION_TTL", global = true)]
    pub session_ttl: Option<String>,
    /// Header carrying the SSO user's email from an authenticating proxy
    #[arg(long, env = "TOKEND_SSO_HEADER", global = true)]
    pub sso_header: Option<String>,
    /// Addresses allowed to send the SSO header (comma-separated IPs/CIDRs)
    #[arg(long, env = "TOKEND_SSO_TRUSTED_PROXIES", global = true)]
    pub sso_trusted_proxies: Option<String>,
    /// Reverse proxies whose X-Forwarded-For names the client (comma-separated IPs/CIDRs)
    #[arg(long, env = "TOKEND_TRUSTED_PROXIES", global = true)]
    pub trusted_proxies: Option<String>,
    /// Addresses allowed to read /metrics [default: 127.0.0.0/8,::1]
    #[arg(long, env = "TOKEND_METRICS_ALLOW", global = true)]
    pub metrics_allow: Option<String>,
    /// HTTP worker threads [default: number of cores]
    #[arg(long, env = "TOKEND_WORKERS", global = true)]
    pub workers: Option<usize>,
    /// Allow webhook targets on loopback, private, link-local or unspecified addresses
    /// (rule 33; for tests and closed networks) [default: false]
    #[arg(
        long,
        env = "TOKEND_WEBHOOK_ALLOW_PRIVATE",
        global = true,
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub webhook_allow_private: Option<bool>,
    /// Tracing filter, e.g. `info` or `tokend=debug` [default: info]
    #[arg(long, env = "TOKEND_LOG", global = true)]
    pub log: Option<String>,
    /// OpenID Connect issuer URL; enables "Sign in with SSO" (see docs/SSO.md)
    #[arg(long, env = "TOKEND_OIDC_ISSUER", global = true)]
    pub oidc_issuer: Option<String>,
    /// OpenID Connect client id
    #[arg(long, env = "TOKEND_OIDC_CLIENT_ID", global = true)]
    pub oidc_client_id: Option<String>,
    /// OpenID Connect client secret
    #[arg(
        long,
        env = "TOKEND_OIDC_CLIENT_SECRET",
        global = true,
        hide_env_values = true
    )]
    pub oidc_client_secret: Option<Secret>,
    /// Redirect URL registered at the provider [default: <this server>/login/oidc/callback]
    #[arg(long, env = "TOKEND_OIDC_REDIRECT_URL", global = true)]
    pub oidc_redirect_url: Option<String>,
    /// Create unknown users on their first SSO sign-in, with this role
    #[arg(long, env = "TOKEND_OIDC_AUTO_PROVISION", global = true)]
    pub oidc_auto_provision: Option<String>,
}

impl RawConfig {
    /// `self`'s values where set, else `other`'s.
    fn or(self, other: RawConfig) -> RawConfig {
        RawConfig {
            db: self.db.or(other.db),
            bind: self.bind.or(other.bind),
            master_key_file: self.master_key_file.or(other.master_key_file),
            disabled_retention: self.disabled_retention.or(other.disabled_retention),
            expiry_interval: self.expiry_interval.or(other.expiry_interval),
            purge_interval: self.purge_interval.or(other.purge_interval),
            reconcile_interval: self.reconcile_interval.or(other.reconcile_interval),
            flush_interval: self.flush_interval.or(other.flush_interval),
            secure_cookies: self.secure_cookies.or(other.secure_cookies),
            session_ttl: self.session_ttl.or(other.session_ttl),
            sso_header: self.sso_header.or(other.sso_header),
            sso_trusted_proxies: self.sso_trusted_proxies.or(other.sso_trusted_proxies),
            trusted_proxies: self.trusted_proxies.or(other.trusted_proxies),
            metrics_allow: self.metrics_allow.or(other.metrics_allow),
            workers: self.workers.or(other.workers),
            webhook_allow_private: self.webhook_allow_private.or(other.webhook_allow_private),
            log: self.log.or(other.log),
            oidc_issuer: self.oidc_issuer.or(other.oidc_issuer),
            oidc_client_id: self.oidc_client_id.or(other.oidc_client_id),
            oidc_client_secret: self.oidc_client_secret.or(other.oidc_client_secret),
            oidc_redirect_url: self.oidc_redirect_url.or(other.oidc_redirect_url),
            oidc_auto_provision: self.oidc_auto_provision.or(other.oidc_auto_provision),
        }
    }
}

/// The effective configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// Shown without its password (`tokend config`, `Debug`).
    pub db: DbTarget,
    pub bind: SocketAddr,
    pub master_key_file: PathBuf,
    #[serde(with = "humantime_serde_compat")]
    pub disabled_retention: Duration,
    #[serde(with = "humantime_serde_compat")]
    pub expiry_interval: Duration,
    #[serde(with = "humantime_serde_compat")]
    pub purge_interval: Duration,
    #[serde(with = "humantime_serde_compat")]
    pub reconcile_interval: Duration,
    #[serde(with = "humantime_serde_compat")]
    pub flush_interval: Duration,
    pub secure_cookies: bool,
    #[serde(with = "humantime_serde_compat")]
    pub session_ttl: Duration,
    pub sso_header: Option<String>,
    pub sso_trusted_proxies: Vec<IpNet>,
    pub trusted_proxies: Vec<IpNet>,
    pub metrics_allow: Vec<IpNet>,
    pub workers: usize,
    /// Webhook targets may be loopback/private/link-local/unspecified addresses (rule 33).
    pub webhook_allow_private: bool,
    pub log: String,
    /// OpenID Connect sign-in; `None` when not configured.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcConfig>,
}

mod humantime_serde_compat {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}

/// A configuration error: printed as is, exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

fn duration(name: &str, v: Option<String>, default: &str) -> Result<Duration, ConfigError> {
    let d = parse_duration(v.as_deref().unwrap_or(default))
        .map_err(|e| ConfigError(format!("{name}: {e}")))?;
    if d.is_zero() {
        return Err(ConfigError(format!("{name}: must be longer than zero")));
    }
    Ok(d)
}

/// Parses a comma-separated list of IPs or CIDRs.
pub fn parse_nets(name: &str, v: Option<&str>) -> Result<Vec<IpNet>, ConfigError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| ConfigError(format!("{name}: `{s}` is not an IP address or CIDR")))
        })
        .collect()
}

impl Config {
    /// Merges `given` (flags and env, already merged by clap) over the TOML file named by
    /// `file` (or `TOKEND_CONFIG`) over the defaults, and validates the result.
    pub fn resolve(given: RawConfig, file: Option<&Path>) -> Result<Config, ConfigError> {
        let from_file = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError(format!("cannot read config file {}: {e}", path.display()))
                })?;
                toml::from_str::<RawConfig>(&text).map_err(|e| {
                    // Name the line (and so the key) at fault, not only what was wrong.
                    let at = e.span().map_or(String::new(), |s| {
                        let n = text.get(..s.start).unwrap_or("").matches('\n').count();
                        let line = text.lines().nth(n).unwrap_or("").trim();
                        format!(", line {} `{line}`", n + 1)
                    });
                    ConfigError(format!(
                        "config file {}{at}: {}",
                        path.display(),
                        e.message()
                    ))
                })?
            }
            None => RawConfig::default(),
        };
        let r = given.or(from_file);
        let db = r.db.unwrap_or_else(|| DbTarget::new("./tokend.db"));
        if crate::db::is_keyword_string(&db.to_string_lossy()) {
            return Err(ConfigError(format!(
                "db: `{}` reads as a libpq key=value string; give PostgreSQL as a URL, \
                 e.g. postgres://user@host/db (password in PGPASSWORD or ~/.pgpass)",
                crate::db::shown(&db)
            )));
        }
        let bind_text = r.bind.unwrap_or_else(|| "127.0.0.1:8080".to_string());
        let bind = bind_text.parse::<SocketAddr>().map_err(|_| {
            ConfigError(format!(
                "bind: `{bind_text}` is not host:port, e.g. 127.0.0.1:8080"
            ))
        })?;
        // Beside an SQLite file; in the working directory for a PostgreSQL URL (every replica
        // needs the same key: set TOKEND_MASTER_KEY_FILE there).
        let master_key_file = r.master_key_file.unwrap_or_else(|| {
            if crate::db::is_postgres_url(&db.to_string_lossy()) {
                return PathBuf::from("./tokend.key");
            }
            let mut p = db.to_path_buf().into_os_string();
            p.push(".key");
            PathBuf::from(p)
        });
        let metrics_allow = match r.metrics_allow.as_deref() {
            Some(v) => parse_nets("metrics_allow", Some(v))?,
            None => parse_nets("metrics_allow", Some("127.0.0.0/8,::1/128"))?,
        };
        let workers = r
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        if workers == 0 || workers > 256 {
            return Err(ConfigError("workers: must be between 1 and 256".into()));
        }
        let sso_header = r.sso_header.filter(|h| !h.trim().is_empty());
        if let Some(h) = &sso_header {
            if actix_web::http::header::HeaderName::from_bytes(h.as_bytes()).is_err() {
                return Err(ConfigError(format!(
                    "sso_header: `{h}` is not a header name"
                )));
            }
        }
        let oidc = oidc::resolve(oidc::RawOidc {
            issuer: r.oidc_issuer,
            client_id: r.oidc_client_id,
            client_secret: r.oidc_client_secret,
            redirect_url: r.oidc_redirect_url,
            auto_provision: r.oidc_auto_provision,
        })?;
        Ok(Config {
            db,
            bind,
            master_key_file,
            disabled_retention: duration("disabled_retention", r.disabled_retention, "7d")?,
            expiry_interval: duration("expiry_interval", r.expiry_interval, "60s")?,
            purge_interval: duration("purge_interval", r.purge_interval, "60s")?,
            reconcile_interval: duration("reconcile_interval", r.reconcile_interval, "10m")?,
            flush_interval: duration("flush_interval", r.flush_interval, "5s")?,
            secure_cookies: r.secure_cookies.unwrap_or(false),
            session_ttl: duration("session_ttl", r.session_ttl, "12h")?,
            sso_header,
            sso_trusted_proxies: parse_nets(
                "sso_trusted_proxies",
                r.sso_trusted_proxies.as_deref(),
            )?,
            trusted_proxies: parse_nets("trusted_proxies", r.trusted_proxies.as_deref())?,
            metrics_allow,
            workers,
            webhook_allow_private: r.webhook_allow_private.unwrap_or(false),
            log: r.log.unwrap_or_else(|| "info".to_string()),
            oidc,
        })
    }

    /// A configuration for tests: a database at `db`, port 0, short intervals.
    pub fn for_tests(db: PathBuf) -> Config {
        let mut c = Config::resolve(
            RawConfig {
                db: Some(db.into()),
                bind: Some("127.0.0.1:0".into()),
                workers: Some(2),
                ..RawConfig::default()
            },
            None,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        c.log = "warn".into();
        c
    }
}
