//! `tokend token …`: the command line acting as a token's owner (with the owner's full
//! permissions, audited `via: cli`), through the same service functions as the API, so the
//! same rules apply. `generate` only prints a fresh value (for `TOKEND_ADMIN_TOKEN`).

use clap::{ArgGroup, Subcommand, ValueEnum};

use super::{open, split_list, Exit};
use crate::config::Config;
use crate::domain::caller::Caller;
use crate::domain::listing::{TokenFilter, TokenStatus};
use crate::domain::names::Email;
use crate::domain::token_value::{TokenValue, ValueKind};
use crate::service::tokens::{self, CreateToken, TokenView, UpdateToken};
use crate::service::Error;
use crate::service::{users, Page};
use crate::state::AppState;

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a token and print only its value (for scripts: V=$(tokend token create …))
    ///
    /// The token belongs to --owner and holds either a role template's permissions or an
    /// explicit list, never more than the owner holds. The value works on a running server
    /// at once.
    #[command(group(ArgGroup::new("power").required(true).args(["role_template", "permissions"])))]
    Create {
        /// Owner's email
        #[arg(long, value_name = "EMAIL")]
        owner: String,
        /// Token name, 1 to 128 characters, unique per owner
        #[arg(long, value_name = "NAME")]
        name: String,
        /// Permissions of a role: admin, analyst, api_developer, read_only or deploy (or
        /// custom, with --permissions)
        #[arg(long, value_name = "TEMPLATE")]
        role_template: Option<String>,
        /// Explicit permissions, comma-separated, e.g. tokens:read,nodes:write (each held by
        /// the owner)
        #[arg(long, value_name = "PERM,...")]
        permissions: Option<String>,
        /// Expiry: 2030-01-01 (midnight UTC), 2030-01-01 12:00:00 (UTC) or RFC 3339
        /// [default: the company's default lifetime, if any]
        #[arg(long, value_name = "TIME")]
        expires_at: Option<String>,
        /// Free text shown with the token
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
    },
    /// List tokens as a table (newest first), or as JSON
    List {
        /// Only the tokens of this owner (email)
        #[arg(long, value_name = "EMAIL")]
        owner: Option<String>,
        /// Only tokens in this state
        #[arg(long, value_enum)]
        status: Option<Status>,
        /// Print a JSON array of the tokens as the API shows them
        #[arg(long)]
        json: bool,
    },
    /// Enable a token (refused with the reason when a rule forbids it, e.g. a leaked or
    /// expired token, or a disabled owner)
    Enable {
        /// Token id (see `tokend token list`)
        #[arg(value_name = "ID")]
        id: i64,
    },
    /// Disable a token (it is purged after the disabled-token retention period)
    Disable {
        /// Token id (see `tokend token list`)
        #[arg(value_name = "ID")]
        id: i64,
    },
    /// Delete a token now
    Delete {
        /// Token id (see `tokend token list`)
        #[arg(value_name = "ID")]
        id: i64,
    },
    /// Print a fresh, well-formed token value (tkd_…) without storing anything, e.g. for
    /// TOKEND_ADMIN_TOKEN at first start
    Generate,
}

/// A token's state in `token list --status`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Status {
    /// Usable now (enabled)
    Enabled,
    /// Disabled by someone or by a rule (expired ones included)
    Disabled,
    /// Past its expiry time
    Expired,
}

pub fn run(config: Config, command: TokenCommand) -> Result<i32, Exit> {
    match command {
        TokenCommand::Create {
            owner,
            name,
            role_template,
            permissions,
            expires_at,
            description,
        } => {
            let expires_at = expires_at
                .as_deref()
                .map(super::parse_cli_time)
                .transpose()
                .map_err(|e| Exit(2, format!("--expires-at: {e}")))?;
            let email = Email::parse(&owner).map_err(|m| Exit(2, format!("--owner: {m}")))?;
            let input = CreateToken {
                name,
                description,
                role_template,
                permissions: split_list(&permissions),
                expires_at,
                ..CreateToken::default()
            };
            create(config, &email, input)
        }
        TokenCommand::List {
            owner,
            status,
            json,
        } => {
            let owner = owner
                .map(|o| Email::parse(&o).map_err(|m| Exit(2, format!("--owner: {m}"))))
                .transpose()?;
            list(config, owner.as_ref(), status, json)
        }
        TokenCommand::Enable { id } => toggle(config, id, true),
        TokenCommand::Disable { id } => toggle(config, id, false),
        TokenCommand::Delete { id } => delete(config, id),
        TokenCommand::Generate => {
            println!("{}", TokenValue::generate(ValueKind::Api).expose());
            Ok(0)
        }
    }
}

fn create(config: Config, email: &Email, input: CreateToken) -> Result<i32, Exit> {
    let state = open(config)?;
    let user = state
        .read_blocking(|c| users::by_email(c, email))?
        .ok_or_else(|| Exit(1, format!("--owner {email}: no user with this email")))?;
    let given = (
        input.role_template.clone(),
        input.permissions.clone().map(|p| p.join(",")),
    );
    let caller = Caller::cli(user);
    let env = state.env();
    let created = state
        .write_blocking(|tx| tokens::create(tx, &env, &caller, input))
        .map_err(|e| create_refused(e, email, &given))?;
    println!("{}", created.value.expose());
    Ok(0)
}

/// A refused creation, naming the flag and value at fault and why.
fn create_refused(e: Error, owner: &Email, given: &(Option<String>, Option<String>)) -> Exit {
    let (template, permissions) = given;
    // What decided the token's permissions, as the user typed it.
    let power = match (template, permissions) {
        (Some(t), _) => format!("--role-template {t}"),
        (None, Some(p)) => format!("--permissions {p}"),
        (None, None) => "--permissions".to_string(),
    };
    match e {
        Error::Invalid {
            code: "permissions_exceed_owner",
            fields,
            ..
        } => {
            let excess = fields
                .get("permissions")
                .map(|s| s.split_whitespace().collect::<Vec<_>>().join(", "))
                .unwrap_or_default();
            Exit(2, format!("{power}: the owner does not hold {excess}"))
        }
        Error::Invalid { fields, .. } if !fields.is_empty() => Exit(
            2,
            fields
                .iter()
                .map(|(f, m)| match f.as_str() {
                    "permissions" | "role_template" => format!("{power}: {m}"),
                    f => format!("--{}: {m}", f.replace('_', "-")),
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Error::Refused(r) => Exit(1, format!("--owner {owner}: {}", r.message())),
        e => Exit(1, e.to_string()),
    }
}

/// The acting user for a command on token `id`: its owner.
fn owner_of(state: &AppState, id: i64) -> Result<Caller, Exit> {
    let owner = state.read_blocking(|c| users::owner_of_token(c, id))?;
    owner
        .map(Caller::cli)
        .ok_or_else(|| Exit(1, format!("ID {id}: no such token")))
}

/// A refusal of a command on token `id`: the rule's message (exit 1).
fn on_token(id: i64) -> impl Fn(Error) -> Exit {
    move |e| match e {
        Error::NotFound => Exit(1, format!("ID {id}: no such token")),
        Error::Invalid {
            message, fields, ..
        } if !fields.is_empty() => Exit(
            1,
            format!(
                "token {id}: {message} ({})",
                fields.values().cloned().collect::<Vec<_>>().join("; ")
            ),
        ),
        e => Exit(1, format!("token {id}: {e}")),
    }
}

fn toggle(config: Config, id: i64, enabled: bool) -> Result<i32, Exit> {
    let state = open(config)?;
    let caller = owner_of(&state, id)?;
    let env = state.env();
    let input = UpdateToken {
        enabled: Some(enabled),
        ..UpdateToken::default()
    };
    let t = state
        .write_blocking(|tx| tokens::update(tx, &env, &caller, id, input))
        .map_err(on_token(id))?;
    let what = if enabled { "enabled" } else { "disabled" };
    match (&t.purge_at, enabled) {
        (Some(at), false) => println!("token {} ({}) {what}; purged at {at}", t.id, t.name),
        _ => println!("token {} ({}) {what}", t.id, t.name),
    }
    Ok(0)
}

fn delete(config: Config, id: i64) -> Result<i32, Exit> {
    let state = open(config)?;
    let caller = owner_of(&state, id)?;
    let env = state.env();
    state
        .write_blocking(|tx| tokens::delete(tx, &env, &caller, id))
        .map_err(on_token(id))?;
    println!("token {id} deleted");
    Ok(0)
}

fn list(
    config: Config,
    owner: Option<&Email>,
    status: Option<Status>,
    json: bool,
) -> Result<i32, Exit> {
    let state = open(config)?;
    let env = state.env();
    let mut filter = TokenFilter {
        status: status.map(|s| match s {
            Status::Enabled => TokenStatus::Enabled,
            Status::Disabled => TokenStatus::Disabled,
            Status::Expired => TokenStatus::Expired,
        }),
        ..TokenFilter::default()
    };
    let items = state.read_blocking(|c| -> crate::service::Result<_> {
        // The operator sees every token: the list is read as the first global administrator
        // (who sees every company's), or as the named owner when there is none.
        let owner_user = match owner {
            Some(email) => match users::by_email(c, email)? {
                Some(u) => Some(u),
                None => return Ok(None),
            },
            None => None,
        };
        filter.owner_id = owner_user.as_ref().map(|u| u.id);
        let viewer = match users::first_global_admin(c)?.or(owner_user) {
            Some(u) => u,
            None => return Ok(Some(Vec::new())),
        };
        let caller = Caller::cli(viewer);
        let mut all: Vec<TokenView> = Vec::new();
        let mut page = Page {
            before: None,
            limit: crate::service::MAX_LIMIT,
        };
        loop {
            let (items, _) = tokens::list(c, &env, &caller, &filter, page)?;
            let full = items.len() == page.limit;
            page.before = items.last().map(|t| t.id);
            all.extend(items);
            if !full {
                break;
            }
        }
        Ok(Some(all))
    });
    let items = match items {
        Ok(Some(items)) => items,
        Ok(None) => {
            let email = owner.map(|e| e.as_str()).unwrap_or_default();
            return Err(Exit(1, format!("--owner {email}: no user with this email")));
        }
        Err(e) => return Err(Exit(1, e.to_string())),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&items)?);
        return Ok(0);
    }
    print_table(&items, env.now_ms());
    Ok(0)
}

/// The tokens as an aligned table.
fn print_table(items: &[TokenView], now_ms: i64) {
    let expired = |t: &TokenView| {
        t.expires_at
            .as_deref()
            .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
            .is_some_and(|e| e.timestamp_millis() <= now_ms)
    };
    let rows: Vec<[String; 7]> = items
        .iter()
        .map(|t| {
            let status = match (&t.disabled_reason, t.enabled) {
                (_, true) if expired(t) => "expired".to_string(),
                (_, true) => "enabled".to_string(),
                (Some(r), false) => format!("disabled ({r})"),
                (None, false) => "disabled".to_string(),
            };
            [
                t.id.to_string(),
                t.name.clone(),
                t.owner.email.clone(),
                t.role_template.clone().unwrap_or_else(|| "-".into()),
                status,
                t.expires_at.clone().unwrap_or_else(|| "never".into()),
                t.last_used_at.clone().unwrap_or_else(|| "never".into()),
            ]
        })
        .collect();
    let header = [
        "ID",
        "NAME",
        "OWNER",
        "TEMPLATE",
        "STATUS",
        "EXPIRES",
        "LAST USED",
    ];
    let mut widths = header.map(|h| h.chars().count());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for r in &rows {
        line(r.iter().map(String::as_str).collect());
    }
    if rows.is_empty() {
        println!("(no tokens)");
    }
}
