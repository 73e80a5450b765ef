//! The command line. Every command takes `--db PATH`; errors go to stderr with a
//! non-zero exit (2 for usage and configuration errors, 1 otherwise). Each command is a thin
//! shell around the service functions the API uses: parse, call, print.

mod legacy;
mod ops;
mod scan;
mod tokens;
mod users;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{Config, GlobalArgs, RawConfig};
use crate::service::Error;
use crate::state::AppState;
use crate::telemetry;

pub use legacy::LegacyCommand;
pub use ops::MaintenanceCommand;
pub use tokens::TokenCommand;
pub use users::UserCommand;

#[derive(Parser, Debug)]
#[command(
    name = "tokend",
    version,
    about = "Self-hosted API token service",
    after_help = "Every setting of `serve` can also come from a TOKEND_* variable or a TOML file \
                  (--config-file); see `tokend serve --help` and `tokend config`."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (API, console, scheduler)
    ///
    /// On an empty database the first start creates the company and a global administrator
    /// (TOKEND_ADMIN_EMAIL, TOKEND_ADMIN_PASSWORD or a random password printed once,
    /// TOKEND_ADMIN_TOKEN), once the listener is bound.
    Serve {
        #[command(flatten)]
        server: RawConfig,
        /// Port to listen on, overriding the port of --bind; 0 picks a free port (the
        /// address is printed)
        #[arg(long, value_name = "N")]
        port: Option<u16>,
    },
    /// Apply database migrations and exit
    Migrate,
    /// Print the effective server configuration as a TOML file
    ///
    /// Takes the same settings as `serve` (flags, TOKEND_* variables, --config-file) and
    /// prints the result in a form `--config-file` reads back unchanged: durations as 7d or
    /// 36h, address lists as one comma-separated string, unset keys as comments. The OpenID
    /// Connect client secret is never printed.
    Config {
        #[command(flatten)]
        server: RawConfig,
    },
    /// Manage users: create, set-password
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage tokens: create, list, enable, disable, delete, generate
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Run the scheduler's jobs now
    Maintenance {
        #[command(subcommand)]
        command: MaintenanceCommand,
    },
    /// Online backup of the SQLite database to FILE (safe while the server runs)
    Backup {
        /// The backup file to write
        file: PathBuf,
        /// Overwrite FILE if it exists
        #[arg(long)]
        force: bool,
    },
    /// Copy this SQLite database (--db) into an empty PostgreSQL database
    ///
    /// Copies every row of the SQLite database named by --db (companies, users, tokens, legacy
    /// credentials, nodes, the audit log, webhook deliveries) into the PostgreSQL database URL,
    /// in one transaction, and moves the id sequences past the copied ids. URL must name an
    /// existing, empty database (create it with createdb; do not start the server on it first,
    /// as that creates a company and an administrator): a database with any company or user is
    /// refused and nothing is written. Console sessions and rate-limit counters are not copied.
    /// Stop the server first: writes made during the copy are not in it.
    ///
    /// Keep the master key: start the server on the new database with the SQLite database's
    /// key file (--master-key-file or TOKEND_MASTER_KEY_FILE; by default it is <db>.key beside
    /// the SQLite file, whereas with a PostgreSQL URL it is ./tokend.key). Without that key,
    /// stored token values cannot be revealed and legacy credentials no longer authenticate.
    MigrateTo {
        /// The target PostgreSQL database, postgres://user@host/db
        #[arg(value_name = "URL")]
        url: String,
    },
    /// Legacy (UUID + secret) credentials
    Legacy {
        #[command(subcommand)]
        command: LegacyCommand,
    },
    /// Find token values with valid checksums in files (exit 1 when any is found)
    Scan {
        /// Files or directories (searched recursively)
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

/// A failure with its exit code.
pub struct Exit(pub i32, pub String);

impl<E: std::fmt::Display> From<E> for Exit {
    fn from(e: E) -> Self {
        Exit(1, e.to_string())
    }
}

/// Parses the command line and runs it; returns the process exit code.
pub fn run() -> i32 {
    private_umask();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    match execute(cli) {
        Ok(code) => code,
        Err(Exit(code, msg)) => {
            eprintln!("tokend: {msg}");
            code
        }
    }
}

pub(crate) fn open(config: Config) -> Result<std::sync::Arc<AppState>, Exit> {
    AppState::open(config, true).map_err(|e| Exit(1, format!("{e:#}")))
}

/// A service refusal as the command line reports it: the fields it names as `--field: why`
/// (usage errors, exit 2), anything else as its message (exit 1).
pub(crate) fn refused(e: Error) -> Exit {
    {
        match e {
            Error::Invalid { fields, .. } if !fields.is_empty() => Exit(
                2,
                fields
                    .iter()
                    .map(|(f, m)| format!("--{}: {m}", f.replace('_', "-")))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            e => Exit(1, e.to_string()),
        }
    }
}

/// A failure of the database step: exit 1, with the fields named as `refused` does.
pub(crate) fn failed(e: Error) -> Exit {
    Exit(1, refused(e).1)
}

/// A time as the command line takes it: a bare date (`2030-01-01`, midnight UTC), or what the
/// API takes (`2030-01-01 12:00:00` in UTC, RFC 3339).
pub(crate) fn parse_cli_time(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    crate::domain::time::parse_time(s).map_err(|_| {
        format!(
            "`{}` is not a time: use a date (2030-01-31, midnight UTC), \
             2030-01-31 12:00:00 (UTC) or RFC 3339 (2030-01-31T12:00:00+02:00)",
            s.trim()
        )
    })
}

pub(crate) fn split_list(s: &Option<String>) -> Option<Vec<String>> {
    s.as_ref().map(|s| {
        s.split(',')
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect()
    })
}

fn execute(cli: Cli) -> Result<i32, Exit> {
    let Cli { global, command } = cli;
    // The server's settings: its flags under `serve` and `config`; for every other command
    // the same TOKEND_* variables and file, so they agree with the server.
    let (server, serving) = match &command {
        Command::Serve { server, .. } => (server.clone(), true),
        Command::Config { server } => (server.clone(), false),
        _ => (
            RawConfig::from_env().map_err(|e| Exit(2, e.to_string()))?,
            false,
        ),
    };
    let mut config = Config::resolve(server.with_global(&global), global.config_file.as_deref())
        .map_err(|e| Exit(2, e.to_string()))?;
    // Only the server logs `info` by default; a one-shot command prints its result and
    // nothing else unless asked (`--log`, TOKEND_LOG).
    let default_filter = if serving { "info" } else { "warn" };
    telemetry::init_with(
        config.log.as_deref().unwrap_or(default_filter),
        config.log_format,
    );
    match command {
        Command::Serve { port, .. } => {
            if let Some(p) = port {
                config.bind.set_port(p);
            }
            ops::serve(config)
        }
        Command::Migrate => ops::migrate(&config),
        Command::Config { .. } => ops::print_config(&config),
        Command::User { command } => users::run(config, command),
        Command::Token { command } => tokens::run(config, command),
        Command::Maintenance { command } => ops::maintenance(config, command),
        Command::Backup { file, force } => ops::backup(&config, &file, force),
        Command::MigrateTo { url } => ops::migrate_to(&config, &url),
        Command::Legacy { command } => legacy::run(config, command),
        Command::Scan { paths } => scan::scan(&paths),
    }
}

/// Rule 32: every file this process creates (database, `-wal`/`-shm`, master key, backups)
/// is readable by its owner only, whatever the caller's umask.
fn private_umask() {
    #[cfg(unix)]
    {
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    }
}
