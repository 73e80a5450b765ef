//! The command line. Every command takes `--db PATH`; errors go to stderr with a
//! non-zero exit (2 for usage and configuration errors, 1 otherwise).

use std::io::{Read, Write};
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{Config, RawConfig};
use crate::domain::model::Caller;
use crate::domain::names::{check_password, Email};
use crate::domain::permissions::PermissionSet;
use crate::domain::roles::Role;
use crate::domain::time::parse_time;
use crate::service::audit::Actor;
use crate::service::tokens::CreateToken;
use crate::service::users::ValidCreate;
use crate::startup::{Application, Bootstrap};
use crate::state::AppState;
use crate::{db, jobs, service, telemetry};

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

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        name: Option<String>,
        /// Comma-separated permissions (custom role)
        #[arg(long)]
        permissions: Option<String>,
        /// Read the password from standard input
        #[arg(long)]
        password_stdin: bool,
        /// SSO user (signs in through the authenticating proxy)
        #[arg(long)]
        sso: bool,
        /// Company id [default: the first company]
        #[arg(long)]
        company_id: Option<i64>,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a token and print only its value
    Create {
        /// Owner's email
        #[arg(long)]
        owner: String,
        #[arg(long)]
        name: String,
        #[arg(long, conflicts_with = "permissions")]
        role_template: Option<String>,
        /// Comma-separated permissions
        #[arg(long)]
        permissions: Option<String>,
        /// RFC 3339 or "YYYY-MM-DD hh:mm:ss" (UTC)
        #[arg(long)]
        expires_at: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum MaintenanceCommand {
    /// Run expiry, purge, reconcile and flush now
    Run,
}

#[derive(Subcommand, Debug)]
pub enum LegacyCommand {
    /// Import UUID + secret credentials from a CSV file with header `email,uuid,secret`
    Import { file: PathBuf },
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

fn open(config: Config) -> Result<std::sync::Arc<AppState>, Exit> {
    AppState::open(config, true).map_err(|e| Exit(1, format!("{e:#}")))
}

fn split_list(s: &Option<String>) -> Option<Vec<String>> {
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
            serve(config)
        }
        Command::Migrate => {
            let pool = db::open(&config.db, 1).map_err(|e| Exit(1, format!("{e:#}")))?;
            let v = db::schema_version(&*pool.get()?)?;
            println!("database {} is at schema version {v}", config.db.display());
            Ok(0)
        }
        Command::Config => {
            print!(
                "{}",
                toml::to_string(&config).map_err(|e| Exit(1, e.to_string()))?
            );
            Ok(0)
        }
        Command::User {
            command:
                UserCommand::Create {
                    email,
                    role,
                    name,
                    permissions,
                    password_stdin,
                    sso,
                    company_id,
                },
        } => {
            let email = Email::parse(&email).map_err(|m| Exit(2, format!("--email: {m}")))?;
            let role = Role::parse(&role)
                .ok_or_else(|| Exit(2, format!("--role: unknown role `{role}`")))?;
            let custom = match (role, split_list(&permissions)) {
                (Role::Custom, Some(l)) => PermissionSet::parse_names(&l)
                    .map_err(|n| Exit(2, format!("--permissions: unknown permission `{n}`")))?,
                (_, None) => PermissionSet::EMPTY,
                (_, Some(_)) => return Err(Exit(2, "--permissions needs --role custom".into())),
            };
            let password = if password_stdin {
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s)?;
                let p = s.trim_end_matches(['\n', '\r']).to_string();
                check_password(&p).map_err(|m| Exit(2, format!("password: {m}")))?;
                Some(p)
            } else {
                None
            };
            let hash = password
                .as_deref()
                .map(crate::auth::password::hash)
                .transpose()?;
            let state = open(config)?;
            let company_id = match company_id {
                Some(c) => c,
                None => state
                    .read_blocking(|c| Ok(db::companies::list(c, None, None, usize::MAX >> 1)?))?
                    .last()
                    .map(|c| c.id)
                    .ok_or_else(|| Exit(1, "no company yet: start the server once".into()))?,
            };
            let valid = ValidCreate {
                company_id,
                name: name
                    .unwrap_or_else(|| email.as_str().split('@').next().unwrap_or("user").into()),
                email,
                role,
                custom,
                enabled: true,
                sso,
                password: None,
            };
            let env = state.env();
            let user = state.write_blocking(|tx| {
                service::users::insert(tx, &env, &Actor::system(), &valid, hash.as_deref())
            })?;
            println!("{}", user.id);
            Ok(0)
        }
        Command::Token {
            command:
                TokenCommand::Create {
                    owner,
                    name,
                    role_template,
                    permissions,
                    expires_at,
                    description,
                },
        } => {
            let expires_at = expires_at
                .as_deref()
                .map(parse_time)
                .transpose()
                .map_err(|e| Exit(2, format!("--expires-at: {e}")))?;
            let state = open(config)?;
            let email = owner.trim().to_lowercase();
            let user = state
                .read_blocking(|c| Ok(db::users::by_email(c, &email)?))?
                .ok_or_else(|| Exit(1, format!("no user with email {email}")))?;
            // The CLI acts as the owner, with the owner's full permissions.
            let caller = Caller::cli(user);
            let input = CreateToken {
                name,
                description,
                role_template,
                permissions: split_list(&permissions),
                expires_at,
                ..CreateToken::default()
            };
            let env = state.env();
            let created =
                state.write_blocking(|tx| service::tokens::create(tx, &env, &caller, input))?;
            println!("{}", created.value.expose());
            Ok(0)
        }
        Command::Maintenance {
            command: MaintenanceCommand::Run,
        } => {
            let state = open(config)?;
            let r = jobs::run_all(&state)?;
            println!("expire: {} tokens disabled", r.expire);
            println!("idle: {} tokens disabled", r.idle);
            println!("purge: {} tokens deleted", r.purge);
            println!(
                "reconcile: {} of disabled owners, {} of SSO owners, {} trimmed, {} grace periods ended",
                r.reconcile.owner_disabled, r.reconcile.owner_sso, r.reconcile.trimmed, r.reconcile.grace_ended
            );
            println!("flush: {} tokens", r.flush);
            println!("sessions: {} expired removed", r.sessions);
            Ok(0)
        }
        Command::Backup { file, force } => {
            if file.exists() && !force {
                return Err(Exit(
                    1,
                    format!("{} exists; pass --force to overwrite it", file.display()),
                ));
            }
            if force && file.exists() {
                std::fs::remove_file(&file)?;
            }
            let pool = db::open(&config.db, 1).map_err(|e| Exit(1, format!("{e:#}")))?;
            db::backup(&*pool.get()?, &file)
                .map_err(|e| Exit(1, format!("backup failed: {e:#}")))?;
            println!("backed up {} to {}", config.db.display(), file.display());
            Ok(0)
        }
        Command::Legacy {
            command: LegacyCommand::Import { file },
        } => legacy_import(config, &file),
        Command::Scan { paths } => scan(&paths),
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

fn serve(config: Config) -> Result<i32, Exit> {
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        let app = Application::build(config, &Bootstrap::from_env())
            .map_err(|e| Exit(1, format!("{e:#}")))?;
        if let Some(b) = &app.bootstrapped {
            match &b.generated_password {
                Some(p) => println!(
                    "tokend: created global administrator {} with password {p} (shown once)",
                    b.email
                ),
                None => println!("tokend: created global administrator {}", b.email),
            }
        }
        let addr = app.state().config.bind;
        println!("tokend listening on http://{}:{}", addr.ip(), app.port());
        let _ = std::io::stdout().flush();
        app.run_until_stopped().await?;
        Ok(0)
    })
}

fn legacy_import(config: Config, file: &std::path::Path) -> Result<i32, Exit> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(file)
        .map_err(|e| Exit(1, format!("cannot read {}: {e}", file.display())))?;
    let headers: Vec<String> = reader.headers()?.iter().map(|h| h.to_lowercase()).collect();
    if headers != ["email", "uuid", "secret"] {
        return Err(Exit(
            1,
            format!("{}: the header must be `email,uuid,secret`", file.display()),
        ));
    }
    let state = open(config)?;
    let (mut imported, mut skipped) = (0, 0);
    for (i, rec) in reader.records().enumerate() {
        let line = i + 2;
        let outcome = match rec {
            Ok(r) if r.len() == 3 => {
                let env = state.env();
                state
                    .write_blocking(|tx| service::legacy::import_row(tx, &env, &r[0], &r[1], &r[2]))
            }
            Ok(_) => Err(crate::error::ApiError::BadRequest(
                "expected 3 fields".into(),
            )),
            Err(e) => Err(crate::error::ApiError::BadRequest(e.to_string())),
        };
        match outcome {
            Ok(_) => imported += 1,
            Err(e) => {
                skipped += 1;
                eprintln!("{}:{line}: skipped: {e}", file.display());
            }
        }
    }
    println!("imported {imported}, skipped {skipped}");
    Ok(0)
}

fn scan(paths: &[PathBuf]) -> Result<i32, Exit> {
    let mut found = false;
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = stack.pop() {
        let meta = std::fs::metadata(&p).map_err(|e| Exit(2, format!("{}: {e}", p.display())))?;
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&p)
                .map_err(|e| Exit(2, format!("{}: {e}", p.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            entries.sort();
            entries.reverse();
            stack.extend(entries);
            continue;
        }
        let bytes = std::fs::read(&p).map_err(|e| Exit(2, format!("{}: {e}", p.display())))?;
        let text = String::from_utf8_lossy(&bytes);
        for (n, line) in text.lines().enumerate() {
            if !crate::domain::token_value::find_values(line).is_empty() {
                println!("{}:{}", p.display(), n + 1);
                found = true;
            }
        }
    }
    Ok(if found { 1 } else { 0 })
}
