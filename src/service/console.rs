//! Read-only questions the web console asks beyond the JSON API's: what a caller may do with
//! each token (so pages show only usable controls), a token's owner's current permissions (the
//! bound of its permission checkboxes), a user found by email, and the preview of a user change
//! (which tokens would lose which permissions). The rules themselves stay in their modules:
//! this module only asks `policy::access` and reuses the users module's parsing.

use std::collections::HashMap;

use crate::db::Connection;

use super::lifecycle::plan_owner_change;
use super::policy::ensure_may_create_token_for;
use super::policy::{access, Access};
use super::tokens::{get, TokenView};
use super::users::{load_visible as load_user, planned_change, UpdateUser, UserView};
use super::{require, Env, Page};
use crate::db;
use crate::domain::model::{Caller, TokenKind};
use crate::domain::names::Email;
use crate::domain::permissions::{Permission, PermissionSet};
use crate::service::error::{Error, Result};

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
            renew: write && super::policy::may_renew(a, kind) && a.covers,
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
    let row = super::tokens::load_visible(conn, caller, id)?;
    let owner_permissions = db::users::get(conn, row.owner_id)?
        .map(|u| u.permissions())
        .unwrap_or_default();
    let now = env.now_ms();
    let usage = super::tokens::usage_counts(
        conn,
        caller,
        id,
        super::tokens::Bucket::Day,
        (now - 6 * 86_400_000, now),
    )?;
    Ok(TokenPage {
        token,
        controls: Controls::of(caller, access(caller, &row), row.kind),
        owner_permissions,
        usage,
    })
}

/// A user the picker lists, and why the caller may not make tokens for them (if so).
pub type OwnerChoice = (UserView, Option<String>);

/// One page of the owner picker: users of the caller's reach whose email or name contains
/// `needle`, by email, and whether more follow. Each says whether the caller may make tokens
/// for them (rule 23), and if not, why.
pub fn search_owners(
    conn: &Connection,
    caller: &Caller,
    needle: &str,
    offset: usize,
    limit: usize,
) -> Result<(Vec<OwnerChoice>, bool)> {
    require(caller, Permission::UsersRead)?;
    // Rule 44: no email or name holds a control character, so such a needle matches nobody
    // (and never reaches the query).
    let Ok(needle) = crate::domain::names::plain_text(needle.trim()) else {
        return Ok((Vec::new(), false));
    };
    let mut rows = db::users::search(conn, caller.company_scope(), needle, offset, limit + 1)?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let found = rows
        .iter()
        .map(|u| {
            let why = ensure_may_create_token_for(caller, u)
                .err()
                .map(|e| e.to_string());
            (UserView::from(u), why)
        })
        .collect();
    Ok((found, more))
}

/// A user of the caller's reach by email (the console's "User" fields take emails).
pub fn find_user(conn: &Connection, caller: &Caller, email: &str) -> Result<UserView> {
    let Ok(email) = Email::parse(email) else {
        return Err(Error::NotFound);
    };
    if email.as_str() == caller.user.email {
        return Ok(UserView::from(&caller.user));
    }
    require(caller, Permission::UsersRead)?;
    db::users::by_email(conn, &email)?
        .filter(|u| caller.reaches_company(u.company_id))
        .map(|u| UserView::from(&u))
        .ok_or(Error::NotFound)
}

/// What a typed "User" field names: one user, several (how many), or nobody.
#[derive(Debug, Clone)]
pub enum UserMatch {
    One(UserView),
    Many(usize),
    Nobody,
}

/// The most candidates a typed name is compared with (a count past it is shown as this).
const MATCH_SCAN: usize = 1000;

/// A user of the caller's reach named by what a person typed: an email (exactly, any case),
/// else a name (exactly, any case); when `partial` (list filters, which only read), a text
/// contained in exactly one user's email or name also names that user. Several exact names,
/// or several partial matches, are `Many`; the caller chooses. Callers without `users:read`
/// can only name themselves.
pub fn match_user(
    conn: &Connection,
    caller: &Caller,
    typed: &str,
    partial: bool,
) -> Result<UserMatch> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Ok(UserMatch::Nobody);
    }
    let lower = typed.to_lowercase();
    let me = &caller.user;
    let is_me = me.email.to_lowercase() == lower || me.name.to_lowercase() == lower;
    if !caller.has(Permission::UsersRead) {
        return Ok(if is_me {
            UserMatch::One(UserView::from(me))
        } else {
            UserMatch::Nobody
        });
    }
    if let Ok(email) = Email::parse(typed) {
        if let Some(u) =
            db::users::by_email(conn, &email)?.filter(|u| caller.reaches_company(u.company_id))
        {
            return Ok(UserMatch::One(UserView::from(&u)));
        }
    }
    let rows = db::users::search(conn, caller.company_scope(), typed, 0, MATCH_SCAN)?;
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|u| caller.reaches_company(u.company_id))
        .collect();
    let named: Vec<_> = rows
        .iter()
        .filter(|u| u.name.to_lowercase() == lower)
        .collect();
    Ok(match (named.as_slice(), rows.len()) {
        ([u], _) => UserMatch::One(UserView::from(*u)),
        ([], 0) => UserMatch::Nobody,
        ([], 1) if partial => UserMatch::One(UserView::from(&rows[0])),
        ([], n) => UserMatch::Many(n),
        (several, _) => UserMatch::Many(several.len()),
    })
}

impl UserMatch {
    /// The sentence a form shows beside a field that does not name exactly one user.
    pub fn problem(&self) -> Option<String> {
        match self {
            UserMatch::One(_) => None,
            UserMatch::Many(1) => Some("1 user matches — choose one".into()),
            UserMatch::Many(n) if *n >= MATCH_SCAN => {
                Some(format!("{n}+ users match — choose one"))
            }
            UserMatch::Many(n) => Some(format!("{n} users match — choose one")),
            UserMatch::Nobody => Some("no such user".into()),
        }
    }
}

/// The permissions a user holds (the bound of a token form's checkboxes for that owner).
pub fn user_permissions(conn: &Connection, caller: &Caller, id: i64) -> Result<PermissionSet> {
    if id == caller.user.id {
        return Ok(caller.user.permissions());
    }
    require(caller, Permission::UsersRead)?;
    Ok(load_user(conn, caller, id)?.permissions())
}

/// One token's fate under a previewed user change.
#[derive(Debug, Clone)]
pub struct TokenLoss {
    pub token_id: i64,
    pub name: String,
    /// Permissions the token would lose (rule 16).
    pub lost: PermissionSet,
    /// Whether it would end up disabled (no permission left, owner disabled or switched to SSO).
    pub disabled: bool,
}

/// What saving `input` on user `id` would do to the user's enabled or trimmed tokens.
/// Nothing is written. Rule 46: the change must be one the caller may make — the same
/// `users::planned_change` that `users::update` applies (rules 24, 26, grants), so a refused
/// change previews nothing — and only tokens the caller may see are listed.
pub fn user_change_preview(
    conn: &Connection,
    caller: &Caller,
    id: i64,
    input: &UpdateUser,
) -> Result<Vec<TokenLoss>> {
    require(caller, Permission::UsersWrite)?;
    let (before, after) = planned_change(conn, caller, id, input)?;
    let tokens = db::tokens::of_owner(conn, before.id)?;
    Ok(plan_owner_change(&before, &after, tokens)
        .into_iter()
        .filter(|e| access(caller, &e.token).see)
        .map(|e| TokenLoss {
            token_id: e.token.id,
            name: e.token.name,
            lost: e.lost,
            disabled: e.disabled.is_some(),
        })
        .collect())
}

/// Most users a picker lists (type-ahead covers the rest by email).
pub const USER_CHOICES: usize = 500;

/// The users an owner or filter picker offers: the caller's company (every company for a
/// global administrator), when `wanted`; otherwise none.
pub fn user_choices(
    conn: &Connection,
    env: &Env,
    caller: &Caller,
    wanted: bool,
) -> Result<Vec<UserView>> {
    if !wanted {
        return Ok(Vec::new());
    }
    let page = Page {
        before: None,
        limit: USER_CHOICES,
    };
    Ok(super::users::list(conn, env, caller, None, page)?.0)
}
