//! Editing an API token: the fields a manager may change, within the owner's permissions and
//! the company's expiry policy; enabling needs a valid expiry and an active owner (rule 4), and
//! is refused for a leaked token (rule 38). A change that gives the token power back needs
//! the caller to cover the token's power (rule 36); one that only takes power away does not.

use serde_json::json;

use super::changes::{disable_row, record_toggle};
use super::rules::{
    check_bounds, check_expiry, company, load_visible, name_taken, parse_cidrs,
    requested_permissions,
};
use super::types::{view, TokenView, UpdateToken};
use crate::db::companies::Company;
use crate::db::tokens::TokenRow;
use crate::db::{self, Tx};
use crate::domain::authz::stored_nets;
use crate::domain::caller::Caller;
use crate::domain::limits::{Quota, RateLimit};
use crate::domain::names::{parse_description, TokenName};
use crate::domain::permissions::Permission;
use crate::domain::time::expired;
use crate::domain::token::{Audience, DisabledReason, TokenKind};
use crate::domain::user::User;
use crate::service::audit::{opt_time, record, Actor, Event};
use crate::service::error::{Error, Result};
use crate::service::policy::{access, ensure, ensure_covers_token, ensure_owner_active};
use crate::service::{require, Env};

/// `PATCH /v1/tokens/{id}`.
pub fn update(
    tx: &mut Tx,
    env: &Env,
    caller: &Caller,
    id: i64,
    input: UpdateToken,
) -> Result<TokenView> {
    require(caller, Permission::TokensWrite)?;
    let now = env.now_ms();
    let mut t = load_visible(tx, caller, id)?;
    ensure(access(caller, &t).manage, "manage")?;
    refuse_fixed_fields(&input)?;
    let owner = db::users::get(tx, t.owner_id)?.ok_or(Error::NotFound)?;
    let company = company(tx, t.company_id)?;
    let before = t.clone();
    let (rate, quota) =
        super::types::parse_limits(input.rate_limit.as_ref(), input.quota.as_ref())?;
    let mut changed = apply_fields(tx, &mut t, &input, (&owner, caller, &company), now)?;
    let toggled = apply_enabled(&mut t, input.enabled, &owner, now)?;
    if raises_power(&before, &t) || limits_loosened(&before, rate, quota) {
        ensure_covers_token(caller, &before)?;
    }
    db::tokens::update(tx, &t, now).map_err(name_taken)?;
    if let Some(rate) = rate {
        db::tokens::limits::set_rate_limit(tx, id, rate)?;
        changed.push("rate_limit");
    }
    if let Some(quota) = quota {
        db::tokens::limits::set_quota(tx, id, quota, now)?;
        changed.push("quota");
    }
    let actor = Actor::of(caller);
    if !changed.is_empty() {
        let details = json!({
            "fields": changed,
            "name": t.name,
            "permissions_before": before.permissions,
            "permissions": t.permissions,
            "expires_at": opt_time(t.expires_at),
        });
        record(
            tx,
            &actor,
            Event {
                action: "token.updated",
                company_id: Some(t.company_id),
                token_id: Some(t.id),
                user_id: Some(t.owner_id),
                details,
            },
            now,
        )?;
    }
    if let Some(on) = toggled {
        record_toggle(tx, &actor, &t, on, now)?;
    }
    let row = db::tokens::get(tx, id)?.ok_or(Error::NotFound)?;
    Ok(view(&row, caller, &company, env))
}

/// The owner and the kind of a token never change.
fn refuse_fixed_fields(input: &UpdateToken) -> Result<()> {
    if input.owner_id {
        return Err(Error::Invalid {
            code: "owner_immutable",
            message: "the owner of a token cannot be changed".into(),
            fields: [("owner_id".to_string(), "cannot be changed".to_string())].into(),
        });
    }
    if input.kind {
        return Err(Error::field("kind", "cannot be changed"));
    }
    Ok(())
}

/// Applies the edited fields to `t`; returns their names (for the audit record).
fn apply_fields(
    conn: &crate::db::Connection,
    t: &mut TokenRow,
    input: &UpdateToken,
    (owner, caller, company): (&User, &Caller, &Company),
    now: i64,
) -> Result<Vec<&'static str>> {
    let mut changed = Vec::new();
    if let Some(n) = &input.name {
        t.name = TokenName::parse(n)
            .map_err(|m| Error::field("name", m))?
            .as_str()
            .to_string();
        changed.push("name");
    }
    if let Some(d) = &input.description {
        t.description = parse_description(d).map_err(|m| Error::field("description", m))?;
        changed.push("description");
    }
    let asks_permissions = input.permissions.is_some() || input.role_template.is_some();
    if asks_permissions && t.kind == TokenKind::Legacy {
        return Err(Error::invalid(
            "legacy_permissions_fixed",
            "a legacy token always has exactly its owner's role permissions",
        ));
    }
    if let Some((set, template)) = requested_permissions(
        conn,
        t.company_id,
        input.role_template.as_deref(),
        input.permissions.as_deref(),
    )? {
        check_bounds(&set, owner, caller)?;
        t.permissions = set;
        t.role_template = template;
        changed.push("permissions");
    }
    if let Some(a) = &input.audience {
        if t.kind != TokenKind::Shared {
            return Err(Error::field(
                "audience",
                "only shared tokens have an audience",
            ));
        }
        t.audience = Audience::parse(a)
            .ok_or_else(|| Error::field("audience", "must be `administrators` or `company`"))?;
        changed.push("audience");
    }
    if let Some(list) = &input.allowed_cidrs {
        t.allowed_cidrs = parse_cidrs(list)?;
        changed.push("allowed_cidrs");
    }
    if let Some(exp) = input.expires_at {
        let exp = exp.map(|e| e.timestamp_millis());
        check_expiry(exp, company, now)?;
        t.expires_at = exp;
        changed.push("expires_at");
    }
    Ok(changed)
}

const LEAKED: &str = DisabledReason::Leaked.as_str();

/// Whether the edit from `before` to `after` gives the token power back (rule 36): enabled
/// again, a later or no expiry, a looser or no IP binding, or permissions it did not have.
fn raises_power(before: &TokenRow, after: &TokenRow) -> bool {
    let enabled = after.enabled && !before.enabled;
    let expiry = match (before.expires_at, after.expires_at) {
        (Some(_), None) => true,
        (Some(b), Some(a)) => a > b,
        (None, _) => false,
    };
    let permissions = !after.permissions.is_subset_of(&before.permissions);
    enabled
        || expiry
        || permissions
        || binding_loosened(&before.allowed_cidrs, &after.allowed_cidrs)
}

/// Whether an edit of the limits lets the token do more than before (rule 36): a rate limit
/// removed or admitting more requests or a bigger burst, or any change to an existing quota —
/// even the same quota starts its count afresh. Adding limits to a token without them, and a
/// rate limit that only tightens, take power away.
fn limits_loosened(
    before: &TokenRow,
    rate: Option<Option<RateLimit>>,
    quota: Option<Option<Quota>>,
) -> bool {
    let rate = match (before.limits.rate, rate) {
        (Some(_), Some(None)) => true,
        // requests / per_seconds compared without division
        (Some(o), Some(Some(n))) => {
            n.requests > o.requests || n.requests * o.per_seconds > o.requests * n.per_seconds
        }
        _ => false,
    };
    rate || (before.limits.quota.is_some() && quota.is_some())
}

/// Whether the binding `after` admits an address `before` did not (no binding admits all).
fn binding_loosened(before: &str, after: &str) -> bool {
    let (old, new) = (stored_nets(before), stored_nets(after));
    if old.is_empty() {
        return false;
    }
    new.is_empty() || new.iter().any(|n| !old.iter().any(|o| o.contains(n)))
}

/// Applies `enabled`; returns the new state when it changed.
fn apply_enabled(
    t: &mut TokenRow,
    enabled: Option<bool>,
    owner: &User,
    now: i64,
) -> Result<Option<bool>> {
    match enabled {
        Some(true) if !t.enabled && t.disabled_reason.as_deref() == Some(LEAKED) => {
            Err(Error::conflict(
                "token_leaked",
                "the token's value leaked: regenerate it to get a new value, which enables it",
            ))
        }
        Some(true) => {
            // Rule 4: enabling needs a valid expiry, whatever the stored flag says.
            if expired(t.expires_at, now) {
                return Err(Error::Invalid {
                    code: "expiry_in_past",
                    message:
                        "the token has expired: set a new future expires_at (or null) to enable it"
                            .into(),
                    fields: [("expires_at".to_string(), "has passed".to_string())].into(),
                });
            }
            ensure_owner_active(owner)?;
            if t.kind != TokenKind::Legacy && t.permissions.is_empty() {
                return Err(Error::field(
                    "permissions",
                    "a token without permissions cannot be enabled",
                ));
            }
            if t.enabled {
                return Ok(None);
            }
            t.enabled = true;
            t.disabled_reason = None;
            t.disabled_at = None;
            Ok(Some(true))
        }
        Some(false) if t.enabled => {
            disable_row(t, DisabledReason::Manual, now);
            Ok(Some(false))
        }
        _ => Ok(None),
    }
}
