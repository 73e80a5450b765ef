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

use crate::config::{Config, RawConfig};
use crate::error::ApiError;
use crate::state::AppState;
use crate::telemetry;

pub use legacy::LegacyCommand;
pub use ops::MaintenanceCommand;
pub use tokens::TokenCommand;
pub use users::UserCommand;

#[derive(Parser, Debug)]
#[command(name = "tokend", version, about = "Self-hosted API token service")]
pub struct Cli {
    #[command(flatten)]
    pub config: RawConfig,
    /// TOML configuration file
    #[arg(long, env = "TOKEND_CONFIG", global = true)]
    pub config_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (API, console, scheduler)
    Serve {
        /// Port to listen on (overrides the port of --bind; 0 picks a free one)
        #[arg(long)]
        port: Option<u16>,
    },
    /// Apply database migrations and exit
    Migrate,
    /// Print the effective configuration
    Config,
    /// Manage users
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage tokens
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Run the scheduler's jobs now
    Maintenance {
        #[command(subcommand)]
        command: MaintenanceCommand,
    },
    /// Online backup of the database to FILE (safe while the server runs)
    Backup {
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

fn config(cli: &Cli) -> Result<Config, Exit> {
    Config::resolve(cli.config.clone(), cli.config_file.as_deref())
        .map_err(|e| Exit(2, e.to_string()))
}

pub(crate) fn open(config: Config) -> Result<std::sync::Arc<AppState>, Exit> {
    AppState::open(config, true).map_err(|e| Exit(1, format!("{e:#}")))
}

/// A service refusal as the command line reports it: the fields it names as `--field: why`
/// (usage errors, exit 2), anything else as its message (exit 1).
pub(crate) fn refused(e: ApiError) -> Exit {
    {
        match e {
            ApiError::Unprocessable { fields, .. } if !fields.is_empty() => Exit(
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
pub(crate) fn failed(e: ApiError) -> Exit {
    Exit(1, refused(e).1)
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
    let mut config = config(&cli)?;
    telemetry::init(&config.log);
    match cli.command {
        Command::Serve { port } => {
            if let Some(p) = port {
                config.bind.set_port(p);
            }
            ops::serve(config)
        }
        Command::Migrate => ops::migrate(&config),
        Command::Config => ops::print_config(&config),
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
