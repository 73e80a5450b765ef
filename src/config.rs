//! Configuration: flags > environment (`TOKEND_*`) > TOML file > defaults.
//!
//! One `RawConfig` struct is both the server's clap argument group (flags and env, under
//! `serve` and `config`) and the TOML file shape, so a server setting is declared once; the
//! settings every command takes are `GlobalArgs`. `Config::resolve` merges and validates;
//! `print` writes the effective configuration back as a file `--config-file` reads.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::db::DbTarget;

mod fields;
pub mod oidc;
pub mod print;
pub use fields::parse_nets;
use fields::{db_target, default_key_file, duration, log_filter, read_file, sso_header};
pub use oidc::{OidcConfig, Secret};

/// How log lines are written on stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event
    #[default]
    Text,
    /// One JSON object per line (for log collectors)
    Json,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// The settings every command takes (before or after the command name): where the database
/// and its key are, the configuration file, and logging.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Global options (any command)")]
pub struct GlobalArgs {
    /// SQLite database file, or a PostgreSQL URL
    /// (postgres://user@host1,host2/db?target_session_attrs=read-write) [default: ./tokend.db]
    #[arg(
        long,
        env = "TOKEND_DB",
        global = true,
        value_name = "PATH|URL",
        hide_env_values = true
    )]
    pub db: Option<DbTarget>,
    /// Master key file, 32 bytes, created with mode 0600 when missing
    /// [default: <db>.key beside an SQLite file; ./tokend.key with PostgreSQL]
    #[arg(
        long,
        env = "TOKEND_MASTER_KEY_FILE",
        global = true,
        value_name = "PATH"
    )]
    pub master_key_file: Option<PathBuf>,
    /// TOML configuration file; its keys are the long flag names with `_` (print one with
    /// `tokend config`)
    #[arg(long, env = "TOKEND_CONFIG", global = true, value_name = "PATH")]
    pub config_file: Option<PathBuf>,
    /// Log filter: a level (error, warn, info, debug, trace) or directives such as
    /// `tokend=debug,warn` [default: info for `serve`, warn for every other command]
    #[arg(long, env = "TOKEND_LOG", global = true, value_name = "FILTER")]
    pub log: Option<String>,
    /// Log line format on stderr [default: text]
    #[arg(long, env = "TOKEND_LOG_FORMAT", global = true, value_enum)]
    pub log_format: Option<LogFormat>,
}

/// Settings as given, before defaults and validation: the server's flags (under `serve` and
/// `config`) and the shape of the TOML file. The global settings (`db`, `master_key_file`,
/// `log`, `log_format`) are flags of [`GlobalArgs`]; here they are only file keys.
#[derive(Debug, Clone, Default, clap::Args, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[command(next_help_heading = "Server options (also TOKEND_* variables and --config-file keys)")]
pub struct RawConfig {
    #[arg(skip)]
    pub db: Option<DbTarget>,
    #[arg(skip)]
    pub master_key_file: Option<PathBuf>,
    #[arg(skip)]
    pub log: Option<String>,
    #[arg(skip)]
    pub log_format: Option<LogFormat>,
    /// Address to listen on, IP:PORT [default: 127.0.0.1:8080]
    #[arg(long, env = "TOKEND_BIND", value_name = "IP:PORT")]
    pub bind: Option<String>,
    /// How long a disabled token is kept before it is purged: a duration such as 7d, 36h,
    /// 30m, 2s [default: 7d]
    #[arg(long, env = "TOKEND_DISABLED_RETENTION", value_name = "DURATION")]
    pub disabled_retention: Option<String>,
    /// Interval of the expiry job (expiry, idle tokens, warnings, webhook delivery)
    /// [default: 60s]
    #[arg(long, env = "TOKEND_EXPIRY_INTERVAL", value_name = "DURATION")]
    pub expiry_interval: Option<String>,
    /// Interval of the purge job [default: 60s]
    #[arg(long, env = "TOKEND_PURGE_INTERVAL", value_name = "DURATION")]
    pub purge_interval: Option<String>,
    /// Interval of the reconcile job [default: 10m]
    #[arg(long, env = "TOKEND_RECONCILE_INTERVAL", value_name = "DURATION")]
    pub reconcile_interval: Option<String>,
    /// Interval of the last-use flush [default: 5s]
    #[arg(long, env = "TOKEND_FLUSH_INTERVAL", value_name = "DURATION")]
    pub flush_interval: Option<String>,
    /// Behind HTTPS: name the session cookie `__Host-tokend_session` and mark it `Secure`;
    /// true or false (the bare flag means true) [default: false]
    #[arg(
        long,
        env = "TOKEND_SECURE_COOKIES",
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub secure_cookies: Option<bool>,
    /// Console session lifetime, a duration [default: 12h]
    #[arg(long, env = "TOKEND_SESSION_TTL", value_name = "DURATION")]
    pub session_ttl: Option<String>,
    /// Header carrying the SSO user's email from an authenticating proxy, e.g.
    /// X-Forwarded-Email (needs --sso-trusted-proxies) [default: none, SSO header off]
    #[arg(long, env = "TOKEND_SSO_HEADER", value_name = "HEADER")]
    pub sso_header: Option<String>,
    /// Addresses allowed to send the SSO header: comma-separated IPs or CIDRs
    /// [default: none]
    #[arg(long, env = "TOKEND_SSO_TRUSTED_PROXIES", value_name = "IP|CIDR,...")]
    pub sso_trusted_proxies: Option<String>,
    /// Reverse proxies whose X-Forwarded-For names the client: comma-separated IPs or CIDRs
    /// [default: none, the peer address is the client]
    #[arg(long, env = "TOKEND_TRUSTED_PROXIES", value_name = "IP|CIDR,...")]
    pub trusted_proxies: Option<String>,
    /// Addresses allowed to read /metrics: comma-separated IPs or CIDRs
    /// [default: 127.0.0.0/8,::1/128]
    #[arg(long, env = "TOKEND_METRICS_ALLOW", value_name = "IP|CIDR,...")]
    pub metrics_allow: Option<String>,
    /// HTTP worker threads, 1 to 256 [default: number of cores]
    #[arg(long, env = "TOKEND_WORKERS", value_name = "N")]
    pub workers: Option<usize>,
    /// Allow webhook targets on loopback, private, link-local or unspecified addresses
    /// (rule 33; for tests and closed networks); true or false (the bare flag means true)
    /// [default: false]
    #[arg(
        long,
        env = "TOKEND_WEBHOOK_ALLOW_PRIVATE",
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub webhook_allow_private: Option<bool>,
    /// OpenID Connect issuer URL (https; http only on loopback); enables "Sign in with SSO"
    /// together with the client id and secret (see docs/SSO.md) [default: none]
    #[arg(long, env = "TOKEND_OIDC_ISSUER", value_name = "URL")]
    pub oidc_issuer: Option<String>,
    /// OpenID Connect client id [default: none]
    #[arg(long, env = "TOKEND_OIDC_CLIENT_ID", value_name = "ID")]
    pub oidc_client_id: Option<String>,
    /// OpenID Connect client secret (prefer the environment variable: flags are visible to
    /// other local users) [default: none]
    #[arg(
        long,
        env = "TOKEND_OIDC_CLIENT_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub oidc_client_secret: Option<Secret>,
    /// Redirect URL registered at the provider [default: <this server>/login/oidc/callback]
    #[arg(long, env = "TOKEND_OIDC_REDIRECT_URL", value_name = "URL")]
    pub oidc_redirect_url: Option<String>,
    /// Create unknown users on their first SSO sign-in, with this role: global_admin, admin,
    /// analyst, api_developer, read_only or deploy [default: none, no automatic creation]
    #[arg(long, env = "TOKEND_OIDC_AUTO_PROVISION", value_name = "ROLE")]
    pub oidc_auto_provision: Option<String>,
}

impl RawConfig {
    /// The server settings given by the environment alone (`TOKEND_*`): what commands other
    /// than `serve` and `config` use, so they agree with a server started in the same
    /// environment without taking the server's flags.
    pub fn from_env() -> Result<RawConfig, ConfigError> {
        use clap::{Args, FromArgMatches};
        let cmd = RawConfig::augment_args(clap::Command::new("tokend").no_binary_name(true));
        let matches = cmd
            .try_get_matches_from(Vec::<String>::new())
            .map_err(|e| ConfigError(e.to_string().trim().to_string()))?;
        RawConfig::from_arg_matches(&matches).map_err(|e| ConfigError(e.to_string()))
    }

    /// These settings with the global ones (`--db`, `--master-key-file`, `--log`,
    /// `--log-format`) where given.
    pub fn with_global(self, g: &GlobalArgs) -> RawConfig {
        RawConfig {
            db: g.db.clone().or(self.db),
            master_key_file: g.master_key_file.clone().or(self.master_key_file),
            log: g.log.clone().or(self.log),
            log_format: g.log_format.or(self.log_format),
            ..self
        }
    }
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
            log_format: self.log_format.or(other.log_format),
            oidc_issuer: self.oidc_issuer.or(other.oidc_issuer),
            oidc_client_id: self.oidc_client_id.or(other.oidc_client_id),
            oidc_client_secret: self.oidc_client_secret.or(other.oidc_client_secret),
            oidc_redirect_url: self.oidc_redirect_url.or(other.oidc_redirect_url),
            oidc_auto_provision: self.oidc_auto_provision.or(other.oidc_auto_provision),
        }
    }
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Shown without its password (`tokend config`, `Debug`).
    pub db: DbTarget,
    pub bind: SocketAddr,
    pub master_key_file: PathBuf,
    pub disabled_retention: Duration,
    pub expiry_interval: Duration,
    pub purge_interval: Duration,
    pub reconcile_interval: Duration,
    pub flush_interval: Duration,
    pub secure_cookies: bool,
    pub session_ttl: Duration,
    pub sso_header: Option<String>,
    pub sso_trusted_proxies: Vec<IpNet>,
    pub trusted_proxies: Vec<IpNet>,
    pub metrics_allow: Vec<IpNet>,
    pub workers: usize,
    /// Webhook targets may be loopback/private/link-local/unspecified addresses (rule 33).
    pub webhook_allow_private: bool,
    /// The log filter as given; `None`: `info` for the server, `warn` for other commands.
    pub log: Option<String>,
    pub log_format: LogFormat,
    /// OpenID Connect sign-in; `None` when not configured.
    pub oidc: Option<OidcConfig>,
}

/// A configuration error: printed as is, exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Merges `given` (flags and env, already merged by clap) over the TOML file named by
    /// `file` (or `TOKEND_CONFIG`) over the defaults, and validates the result.
    pub fn resolve(given: RawConfig, file: Option<&Path>) -> Result<Config, ConfigError> {
        let from_file = match file {
            Some(path) => read_file(path)?,
            None => RawConfig::default(),
        };
        let r = given.or(from_file);
        let db = db_target(r.db)?;
        let bind_text = r.bind.unwrap_or_else(|| "127.0.0.1:8080".to_string());
        let bind = bind_text.parse::<SocketAddr>().map_err(|_| {
            ConfigError(format!(
                "bind: `{bind_text}` is not host:port, e.g. 127.0.0.1:8080"
            ))
        })?;
        let master_key_file = r.master_key_file.unwrap_or_else(|| default_key_file(&db));
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
        let sso_header = sso_header(r.sso_header)?;
        let log = log_filter(r.log)?;
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
            log,
            log_format: r.log_format.unwrap_or_default(),
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
        c.log = Some("warn".into());
        c
    }
}
