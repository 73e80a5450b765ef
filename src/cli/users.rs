//! `tokend user create` and `tokend user set-password`: the operator of the machine (who owns
//! the database anyway) acting without a grant limit, with the same validation and audit as
//! the API (`via: cli`).

use std::io::Read;

use clap::Subcommand;

use super::{failed, open, refused, split_list, Exit};
use crate::config::Config;
use crate::domain::names::{check_password, Email};
use crate::domain::roles::Role;
use crate::domain::secret::Secret;
use crate::service::bootstrap;
use crate::service::users::{self, UserView};
use crate::service::Error;

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user (on a fresh database this also creates the default company)
    ///
    /// Prints the new user as labelled lines (`id: 9`, `email: …`, `role: …`), or one JSON
    /// object with --json.
    Create {
        /// The user's email (sign-in name; stored in lower case)
        #[arg(long, value_name = "EMAIL")]
        email: String,
        /// Role: global_admin, admin, analyst, api_developer, read_only, deploy, or custom
        /// (with --permissions)
        #[arg(long, value_name = "ROLE")]
        role: String,
        /// Display name [default: the part of the email before @]
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        /// The permissions of a custom role, comma-separated, e.g. tokens:read,nodes:read
        #[arg(long, value_name = "PERM,...")]
        permissions: Option<String>,
        /// Read the password from standard input (one line; 12 to 256 characters); without
        /// it the user has no password until one is set
        #[arg(long)]
        password_stdin: bool,
        /// SSO user: signs in through the authenticating proxy or OpenID Connect, never with
        /// a password, and holds no API tokens
        #[arg(long)]
        sso: bool,
        /// Company id [default: the first company]
        #[arg(long, value_name = "ID")]
        company_id: Option<i64>,
        /// Print the user as JSON (for scripts)
        #[arg(long)]
        json: bool,
    },
    /// Set a user's password (e.g. a lost administrator password); ends the user's sessions
    ///
    /// Reads the new password from standard input. Refused for SSO users. Audited as
    /// `user.updated` with `via: cli`.
    SetPassword {
        /// The user's email
        #[arg(value_name = "EMAIL")]
        email: String,
        /// Read the new password from standard input (one line; 12 to 256 characters)
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

pub fn run(config: Config, command: UserCommand) -> Result<i32, Exit> {
    match command {
        UserCommand::Create {
            email,
            role,
            name,
            permissions,
            password_stdin,
            sso,
            company_id,
            json,
        } => {
            let input = users::CreateUser {
                email,
                name,
                role,
                permissions: split_list(&permissions),
                enabled: Some(true),
                sso: Some(sso),
                password: password_stdin.then(read_password).transpose()?,
                company_id,
                role_id: None,
            };
            create(config, input, json)
        }
        UserCommand::SetPassword { email, .. } => set_password(config, &email),
    }
}

/// One line of standard input, without its line break.
fn read_password() -> Result<Secret, Exit> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s)?;
    Ok(Secret::new(s.trim_end_matches(['\n', '\r'])))
}

fn create(config: Config, input: users::CreateUser, json: bool) -> Result<i32, Exit> {
    let company_id = input.company_id;
    // The fields are checked before the database is opened: a usage error changes nothing.
    let mut valid = users::validate_new_user(input, 0).map_err(refused)?;
    let hash = valid
        .password
        .take()
        .map(|p| crate::crypto::hash_password(p.expose()))
        .transpose()?;
    let state = open(config)?;
    let env = state.env();
    let (user, first) = state
        .write_blocking(|tx| {
            if company_id.is_none() {
                valid.company_id = bootstrap::default_company(tx, &env)?.0;
            }
            let first = bootstrap::needed(tx)?;
            let user = users::insert(tx, &env, &bootstrap::operator(), &valid, hash.as_deref())?;
            Ok((user, first))
        })
        .map_err(failed)?;
    print_user(&user, json)?;
    if first && user.role != Role::GlobalAdmin {
        eprintln!(
            "tokend: warning: {} is the first user and not a global administrator; the server \
             creates none on a database that has users (create one with --role global_admin)",
            user.email
        );
    }
    Ok(0)
}

/// The user as labelled lines, or as JSON.
fn print_user(u: &UserView, json: bool) -> Result<(), Exit> {
    if json {
        println!("{}", serde_json::to_string_pretty(u)?);
        return Ok(());
    }
    println!("id: {}", u.id);
    println!("email: {}", u.email);
    println!("name: {}", u.name);
    println!("role: {}", u.role);
    println!("permissions: {}", u.permissions.names().join(","));
    println!("company_id: {}", u.company_id);
    println!("sso: {}", u.sso);
    Ok(())
}

fn set_password(config: Config, email: &str) -> Result<i32, Exit> {
    let email = Email::parse(email).map_err(|m| Exit(2, format!("EMAIL: {m}")))?;
    let password = read_password()?;
    check_password(password.expose()).map_err(|m| Exit(2, format!("--password-stdin: {m}")))?;
    let hash = crate::crypto::hash_password(password.expose())?;
    let state = open(config)?;
    let env = state.env();
    let user = state
        .write_blocking(|tx| bootstrap::set_password(tx, &env, &email, &hash))
        .map_err(|e| match e {
            Error::Invalid { fields, .. } if !fields.is_empty() => {
                Exit(1, fields.into_values().collect::<Vec<_>>().join("; "))
            }
            e => Exit(1, e.to_string()),
        })?;
    println!(
        "password set for {} (id {}); their sessions ended",
        user.email, user.id
    );
    Ok(0)
}
