//! `tokend token create`: the command line acting as the owner, with the owner's full
//! permissions as its bound, through the same `service::tokens::create` as the API; the
//! token's own permissions are chosen explicitly (`--role-template` or `--permissions`).

use clap::Subcommand;

use super::{open, refused, split_list, Exit};
use crate::config::Config;
use crate::domain::model::Caller;
use crate::domain::names::Email;
use crate::domain::time::parse_time;
use crate::service::tokens::{self, CreateToken};
use crate::service::users;

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

pub fn run(config: Config, command: TokenCommand) -> Result<i32, Exit> {
    let TokenCommand::Create {
        owner,
        name,
        role_template,
        permissions,
        expires_at,
        description,
    } = command;
    if role_template.is_none() && permissions.is_none() {
        return Err(Exit(
            2,
            "choose the token's permissions: --role-template (admin, analyst, api_developer, \
             read_only, deploy) or --permissions a,b,c; a token gets nothing by default"
                .into(),
        ));
    }
    let expires_at = expires_at
        .as_deref()
        .map(parse_time)
        .transpose()
        .map_err(|e| Exit(2, format!("--expires-at: {e}")))?;
    let email = Email::parse(&owner).map_err(|m| Exit(2, format!("--owner: {m}")))?;
    let state = open(config)?;
    let user = state
        .read_blocking(|c| users::by_email(c, &email))?
        .ok_or_else(|| Exit(1, format!("no user with email {email}")))?;
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
    let created = state
        .write_blocking(|tx| tokens::create(tx, &env, &caller, input))
        .map_err(refused)?;
    println!("{}", created.value.expose());
    Ok(0)
}
