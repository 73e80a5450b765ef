//! `tokend user create`: the same validation and audit as `POST /v1/users`, acting as the
//! operator of the machine (no grant limit, since the operator owns the database anyway).

use std::io::Read;

use clap::Subcommand;

use super::{failed, open, refused, split_list, Exit};
use crate::config::Config;
use crate::domain::secret::Secret;
use crate::service::audit::Actor;
use crate::service::{companies, users};

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

pub fn run(config: Config, command: UserCommand) -> Result<i32, Exit> {
    let UserCommand::Create {
        email,
        role,
        name,
        permissions,
        password_stdin,
        sso,
        company_id,
    } = command;
    let password = if password_stdin {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        Some(Secret::new(s.trim_end_matches(['\n', '\r'])))
    } else {
        None
    };
    let input = users::CreateUser {
        email,
        name,
        role,
        permissions: split_list(&permissions),
        enabled: Some(true),
        sso: Some(sso),
        password,
        company_id,
    };
    // The fields are checked before the database is opened: a usage error changes nothing.
    let mut valid = users::validate_new_user(input, 0).map_err(refused)?;
    let hash = valid
        .password
        .take()
        .map(|p| crate::auth::password::hash(p.expose()))
        .transpose()?;
    let state = open(config)?;
    if company_id.is_none() {
        valid.company_id = state
            .read_blocking(companies::first_id)?
            .ok_or_else(|| Exit(1, "no company yet: start the server once".into()))?;
    }
    let env = state.env();
    let user = state
        .write_blocking(|tx| users::insert(tx, &env, &Actor::system(), &valid, hash.as_deref()))
        .map_err(failed)?;
    println!("{}", user.id);
    Ok(0)
}
