//! How the console finds people: the owner picker, a user named by email or by a typed
//! name, a user's current permissions, and the choices of user pickers.

use crate::db::Connection;

use crate::db;
use crate::domain::caller::Caller;
use crate::domain::names::Email;
use crate::domain::permissions::{Permission, PermissionSet};
use crate::service::error::{Error, Result};
use crate::service::policy::ensure_may_create_token_for;
use crate::service::users::{load_visible as load_user, UserView};
use crate::service::{require, Env, Page};

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
    Ok(crate::service::users::list(conn, env, caller, None, page)?.0)
}
