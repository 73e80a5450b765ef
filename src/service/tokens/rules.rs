//! Checks shared by create and edit: visibility, permission bounds (rule 2), expiry and
//! lifetime policy (rules 3, 4), names (rule 7), owner state (rules 15, 18), sealing (rule 14).

use crate::db::Connection;
use ipnet::IpNet;

use crate::db::companies::Company;
use crate::db::tokens::TokenRow;
use crate::db::{self};
use crate::domain::caller::Caller;
use crate::domain::permissions::PermissionSet;
use crate::domain::roles::{parse_template, Role};
use crate::domain::token_value::TokenValue;
use crate::domain::user::User;
use crate::service::error::{Error, Result};
use crate::service::policy::{access, ensure_not_sso};
use crate::service::Env;

use super::*;

/// The answer to a call that made a new value (create, renew): the token as stored now, and
/// the value, shown this once.
pub(super) fn with_value(
    conn: &Connection,
    env: &Env,
    caller: &Caller,
    (id, company): (i64, &Company),
    value: &TokenValue,
) -> Result<TokenWithValue> {
    let row = db::tokens::get(conn, id)?.ok_or(Error::NotFound)?;
    Ok(TokenWithValue {
        token: view(&row, caller, company, env),
        value: crate::domain::secret::Secret::new(value.expose()),
    })
}

pub(super) fn company(conn: &Connection, id: i64) -> Result<Company> {
    db::companies::get(conn, id)?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("company {id} missing")))
}

/// Loads a token the caller can see; anything else is 404 (rule 13).
pub fn load_visible(conn: &Connection, caller: &Caller, id: i64) -> Result<TokenRow> {
    ensure_not_sso(caller)?;
    match db::tokens::get(conn, id)? {
        Some(t) if access(caller, &t).see => Ok(t),
        _ => Err(Error::NotFound),
    }
}

/// The permission set a create or edit asks for, from a template or an explicit list.
/// `None` when neither was given.
pub(super) fn requested_permissions(
    conn: &Connection,
    company_id: i64,
    template: Option<&str>,
    explicit: Option<&[String]>,
) -> Result<Option<(PermissionSet, Option<String>)>> {
    let asked = requested_names(template, explicit)?;
    match asked {
        // A template gives the company's scopes among its own (SPEC §18); an explicit list
        // must name scopes the company defines.
        Some((set, Some(t))) if t != "custom" => Ok(Some((
            crate::service::scopes::explicit(conn, company_id, &set)?,
            Some(t),
        ))),
        Some((set, t)) => {
            crate::service::scopes::check_defined(conn, company_id, &set, "permissions")?;
            Ok(Some((set, t)))
        }
        None => Ok(None),
    }
}

fn requested_names(
    template: Option<&str>,
    explicit: Option<&[String]>,
) -> Result<Option<(PermissionSet, Option<String>)>> {
    match (template, explicit) {
        (None, None) => Ok(None),
        (Some(t), explicit) => {
            let role = parse_template(t).ok_or_else(|| {
                Error::field(
                    "role_template",
                    "must be one of admin, analyst, api_developer, read_only, deploy, custom",
                )
            })?;
            match (role, explicit) {
                (Role::Custom, Some(list)) => Ok(Some((parse_list(list)?, Some("custom".into())))),
                (Role::Custom, None) => Err(Error::field(
                    "permissions",
                    "a custom template needs an explicit permission list",
                )),
                (_, Some(_)) => Err(Error::field(
                    "permissions",
                    "give either a role template or a permission list, not both",
                )),
                (role, None) => Ok(Some((role.permissions(), Some(role.name().to_string())))),
            }
        }
        (None, Some(list)) => Ok(Some((parse_list(list)?, Some("custom".into())))),
    }
}

pub(super) fn parse_list(list: &[String]) -> Result<PermissionSet> {
    PermissionSet::parse_names(list)
        .map_err(|n| Error::field("permissions", format!("unknown permission `{n}`")))
}

/// Rule 2: a token is never wider than its owner, nor than the credentials creating it.
pub(super) fn check_bounds(set: &PermissionSet, owner: &User, caller: &Caller) -> Result<()> {
    if set.is_empty() {
        return Err(Error::field(
            "permissions",
            "at least one permission is required",
        ));
    }
    let excess = set.difference(&owner.permissions());
    if !excess.is_empty() {
        return Err(Error::Invalid {
            code: "permissions_exceed_owner",
            message: format!("the owner does not hold: {}", excess.names().join(", ")),
            fields: [("permissions".to_string(), excess.names().join(" "))].into(),
        });
    }
    let beyond_caller = set.difference(&caller.permissions);
    if !beyond_caller.is_empty() {
        return Err(Error::invalid(
            "permissions_exceed_caller",
            format!(
                "your credentials do not hold: {}",
                beyond_caller.names().join(", ")
            ),
        ));
    }
    Ok(())
}

/// Rule 3 and the lifetime policy: an expiry must be in the future and within the policy.
pub(super) fn check_expiry(expires: Option<i64>, company: &Company, now: i64) -> Result<()> {
    if let Some(t) = expires {
        if t <= now {
            return Err(Error::Invalid {
                code: "expiry_in_past",
                message: "expires_at must be in the future".into(),
                fields: [(
                    "expires_at".to_string(),
                    "must be in the future".to_string(),
                )]
                .into(),
            });
        }
    }
    if let Some(days) = company.max_token_lifetime_days {
        let limit = now + days * 86_400_000;
        if expires.is_none_or(|t| t > limit) {
            return Err(Error::Invalid {
                code: "lifetime_exceeds_policy",
                message: format!("company policy: tokens must expire within {days} days"),
                fields: [(
                    "expires_at".to_string(),
                    format!("must be set and within {days} days"),
                )]
                .into(),
            });
        }
    }
    Ok(())
}

/// Validates an `allowed_cidrs` list into its storage form.
pub fn parse_cidrs(list: &[String]) -> Result<String> {
    if list.len() > MAX_CIDRS {
        return Err(Error::field(
            "allowed_cidrs",
            format!("at most {MAX_CIDRS} entries"),
        ));
    }
    let mut out = Vec::with_capacity(list.len());
    for s in list {
        let s = s.trim();
        let net = s
            .parse::<IpNet>()
            .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
            .map_err(|_| {
                Error::field(
                    "allowed_cidrs",
                    format!("`{s}` is not an IP address or CIDR"),
                )
            })?;
        out.push(net.trunc().to_string());
    }
    Ok(out.join(" "))
}

pub(super) fn name_taken(e: crate::db::Error) -> Error {
    if db::is_unique_violation(&e) {
        Error::conflict("name_taken", "the owner already has a token with this name")
    } else {
        e.into()
    }
}

/// Encrypts a value for storage when the company allows reveal (rule 14).
pub fn seal(env: &Env, company: &Company, value: &TokenValue) -> Option<Vec<u8>> {
    company
        .reveal_allowed
        .then(|| env.keys.seal(value.expose(), &value.digest().0))
}
