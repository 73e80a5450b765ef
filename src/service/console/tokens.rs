//! What the console's token pages ask beyond the JSON API: which controls each token gets
//! (from `policy::access`), token names for lists, and a token page's whole content.

use std::collections::HashMap;

use crate::db::Connection;

use crate::db;
use crate::domain::caller::Caller;
use crate::domain::permissions::{Permission, PermissionSet};
use crate::domain::token::TokenKind;
use crate::service::error::Result;
use crate::service::policy::{access, Access};
use crate::service::tokens::{get, TokenView};
use crate::service::Env;

/// What the caller may do with one token, as the console's controls need it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Controls {
    /// Edit, enable/disable, delete.
    pub manage: bool,
    /// Regenerate the value (`renew`).
    pub renew: bool,
}

impl Controls {
    /// Managing and renewing also need `tokens:write` (a custom role may lack it).
    fn of(caller: &Caller, a: Access, kind: TokenKind) -> Controls {
        let write = caller.has(Permission::TokensWrite);
        Controls {
            manage: write && a.manage,
            renew: write && crate::service::policy::may_renew(a, kind) && a.covers,
        }
    }
}

/// The controls of each token in `ids` the caller can see (others are absent).
pub fn controls(conn: &Connection, caller: &Caller, ids: &[i64]) -> Result<HashMap<i64, Controls>> {
    Ok(db::tokens::by_ids(conn, ids)?
        .iter()
        .filter_map(|t| {
            let a = access(caller, t);
            a.see.then(|| (t.id, Controls::of(caller, a, t.kind)))
        })
        .collect())
}

/// The names of the tokens in `ids` the caller can see (webhook deliveries name tokens by id).
pub fn token_names(
    conn: &Connection,
    caller: &Caller,
    ids: &[i64],
) -> Result<HashMap<i64, String>> {
    Ok(db::tokens::by_ids(conn, ids)?
        .into_iter()
        .filter(|t| access(caller, t).see)
        .map(|t| (t.id, t.name))
        .collect())
}

/// A token's detail page: the token, the caller's controls, and the owner's permissions.
pub struct TokenPage {
    pub token: TokenView,
    pub controls: Controls,
    pub owner_permissions: PermissionSet,
    /// The last 7 UTC days' usage: (day start ms, allowed, refused), days with traffic.
    pub usage: Vec<(i64, i64, i64)>,
}

pub fn token_page(conn: &Connection, env: &Env, caller: &Caller, id: i64) -> Result<TokenPage> {
    let token = get(conn, env, caller, id)?;
    let row = crate::service::tokens::load_visible(conn, caller, id)?;
    let owner_permissions = db::users::get(conn, row.owner_id)?
        .map(|u| u.permissions())
        .unwrap_or_default();
    let now = env.now_ms();
    let usage = crate::service::tokens::usage_counts(
        conn,
        caller,
        id,
        crate::service::tokens::Bucket::Day,
        (now - 6 * 86_400_000, now),
    )?;
    Ok(TokenPage {
        token,
        controls: Controls::of(caller, access(caller, &row), row.kind),
        owner_permissions,
        usage,
    })
}
