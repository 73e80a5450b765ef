//! Lifecycle rules: the cascades of rules 15, 16 and 18 (run inside the transaction of their
//! cause), and the scheduler's jobs (expire, purge, reconcile), each a plain function of `now`.

use serde::Serialize;
use serde_json::json;

use super::audit::{record, Actor, Event};
use super::tokens::{delete_row, disable_row, record_toggle};
use crate::db::tokens::TokenRow;
use crate::db::{self, Tx};
use crate::domain::permissions::PermissionSet;
use crate::domain::token::{DisabledReason, TokenKind};
use crate::domain::user::User;
use crate::service::error::Result;

/// What changing a user does to one of its tokens (rules 15, 16, 18).
#[derive(Debug, Clone)]
pub struct TokenEffect {
    pub token: TokenRow,
    /// The permissions the token loses (rule 16).
    pub lost: PermissionSet,
    /// Whether the token ends up disabled, and why.
    pub disabled: Option<DisabledReason>,
}

/// The cascade of changing user `before` into `after`, over the user's `tokens`, computed in
/// this one place: `users::update` applies it ([`apply_owner_change`]) and the console's
/// preview shows it, so the two cannot disagree. Only tokens that change are returned.
/// Owner disabled → enabled tokens disabled (rule 15); switched to SSO → the same (rule 18);
/// permissions reduced → what the owner lost is removed from each token, and a token left
/// with nothing is disabled (rule 16). Tokens already disabled keep their reason.
pub fn plan_owner_change(before: &User, after: &User, tokens: Vec<TokenRow>) -> Vec<TokenEffect> {
    let held = after.permissions();
    let cut = if before.enabled && !after.enabled {
        Some(DisabledReason::OwnerDisabled)
    } else if !before.sso && after.sso {
        Some(DisabledReason::OwnerSso)
    } else {
        None
    };
    let trims = !before.permissions().is_subset_of(&held);
    tokens
        .into_iter()
        .filter_map(|token| {
            let (lost, emptied) = if trims {
                trim_of(&token, &held)
            } else {
                (PermissionSet::EMPTY, false)
            };
            let disabled = match token.enabled {
                true => cut.or(emptied.then_some(DisabledReason::NoPermissions)),
                false => None,
            };
            (disabled.is_some() || !lost.is_empty()).then_some(TokenEffect {
                token,
                lost,
                disabled,
            })
        })
        .collect()
}

/// Carries out a plan of [`plan_owner_change`]: first every token the owner's disabling or
/// switch to SSO disables (audited `token.disabled`), then every trim (audited
/// `token.updated`, reason `owner_permissions_reduced`).
pub fn apply_owner_change(
    tx: &mut Tx,
    actor: &Actor,
    plan: Vec<TokenEffect>,
    held: &PermissionSet,
    now: i64,
) -> Result<()> {
    let mut trims = Vec::new();
    for mut e in plan {
        if let Some(r @ (DisabledReason::OwnerDisabled | DisabledReason::OwnerSso)) = e.disabled {
            disable_row(&mut e.token, r, now);
            db::tokens::update(tx, &e.token, now)?;
            record_toggle(tx, actor, &e.token, false, now)?;
        }
        if !e.lost.is_empty() {
            trims.push(e.token);
        }
    }
    for t in trims {
        trim_token(tx, actor, t, held, now, "owner_permissions_reduced")?;
    }
    Ok(())
}

/// What narrowing `t` to `held` takes away, and whether it leaves the token with nothing.
/// Legacy tokens follow their owner's role and lose nothing.
fn trim_of(t: &TokenRow, held: &PermissionSet) -> (PermissionSet, bool) {
    if t.kind == TokenKind::Legacy {
        return (PermissionSet::EMPTY, false);
    }
    let lost = t.permissions.difference(held);
    let emptied = !lost.is_empty() && t.permissions.intersection(held).is_empty();
    (lost, emptied)
}

/// Rule 16: removes from every token of `owner` the permissions the owner no longer holds.
/// A token left with none is disabled (`no_permissions`). Legacy tokens follow the role anyway.
pub fn trim_to_owner(tx: &mut Tx, actor: &Actor, owner: &User, now: i64) -> Result<usize> {
    let held = owner.permissions();
    let mut n = 0;
    for t in db::tokens::of_owner(tx, owner.id)? {
        n += trim_token(tx, actor, t, &held, now, "owner_permissions_reduced")?;
    }
    Ok(n)
}

/// Narrows token `t` to `held`, audited with `reason`; disables it (`no_permissions`) when
/// nothing is left. Legacy tokens follow their owner's role and are left alone.
pub(crate) fn trim_token(
    tx: &mut Tx,
    actor: &Actor,
    mut t: TokenRow,
    held: &crate::domain::permissions::PermissionSet,
    now: i64,
    reason: &str,
) -> Result<usize> {
    let (lost, emptied) = trim_of(&t, held);
    if lost.is_empty() {
        return Ok(0);
    }
    t.permissions = t.permissions.intersection(held);
    let disable = emptied && t.enabled;
    if disable {
        disable_row(&mut t, DisabledReason::NoPermissions, now);
    }
    db::tokens::update(tx, &t, now)?;
    record(
        tx,
        actor,
        Event {
            action: "token.updated",
            company_id: Some(t.company_id),
            token_id: Some(t.id),
            user_id: Some(t.owner_id),
            details: json!({
                "name": t.name, "fields": ["permissions"], "reason": reason,
                "removed": lost, "permissions": t.permissions,
            }),
        },
        now,
    )?;
    if disable {
        record_toggle(tx, actor, &t, false, now)?;
    }
    Ok(1)
}

/// Job: marks enabled tokens past their expiry as disabled (`expired`). Requests already
/// refuse them at the instant of expiry; this makes the state visible and starts the purge
/// clock.
pub fn expire(tx: &mut Tx, now: i64) -> Result<usize> {
    let actor = Actor::system();
    let rows = db::tokens::expired_enabled(tx, now, 10_000)?;
    let n = rows.len();
    for mut t in rows {
        disable_row(&mut t, DisabledReason::Expired, now);
        db::tokens::update(tx, &t, now)?;
        record_toggle(tx, &actor, &t, false, now)?;
    }
    Ok(n)
}

/// Job: deletes up to `batch` tokens disabled for longer than the retention (rule 17),
/// leaving a `token.purged` audit row each. The caller loops over batches so that no single
/// transaction holds the write lock for long.
pub fn purge_batch(tx: &mut Tx, now: i64, retention_ms: i64, batch: usize) -> Result<usize> {
    let actor = Actor::system();
    let rows = db::tokens::disabled_before(tx, now - retention_ms, batch)?;
    for t in &rows {
        delete_row(tx, &actor, t, "token.purged", now)?;
    }
    Ok(rows.len())
}

/// What the reconcile job repaired.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Enabled tokens of disabled owners, now disabled.
    pub owner_disabled: usize,
    /// Enabled tokens of SSO owners, now disabled.
    pub owner_sso: usize,
    /// Tokens wider than their owner, now trimmed.
    pub trimmed: usize,
    /// Rotation grace periods that had ended, now cleared.
    pub grace_ended: usize,
}

/// Job: repairs any token inconsistent with its owner (should find nothing, since the
/// cascades run in the transaction of their cause; it guards against older data and bugs).
pub fn reconcile(tx: &mut Tx, now: i64) -> Result<ReconcileReport> {
    let actor = Actor::system();
    let mut report = ReconcileReport::default();
    // Enabled under an owner who can hold no tokens (rule 15, 18), or holding permissions the
    // owner no longer has (rule 16; a legacy token always has exactly its owner's role).
    let candidates = db::tokens::holdings_where(tx, |h| {
        (h.enabled && !h.owner.can_hold_tokens())
            || (h.kind != TokenKind::Legacy && !h.permissions.is_subset_of(&h.owner.permissions()))
    })?;
    for id in candidates {
        let Some(mut t) = db::tokens::get(tx, id)? else {
            continue;
        };
        let Some(owner) = db::users::get(tx, t.owner_id)? else {
            continue;
        };
        if t.enabled && !owner.can_hold_tokens() {
            let reason = if owner.sso {
                report.owner_sso += 1;
                DisabledReason::OwnerSso
            } else {
                report.owner_disabled += 1;
                DisabledReason::OwnerDisabled
            };
            disable_row(&mut t, reason, now);
            db::tokens::update(tx, &t, now)?;
            record_toggle(tx, &actor, &t, false, now)?;
        }
        report.trimmed += trim_token(
            tx,
            &actor,
            t,
            &owner.permissions(),
            now,
            "owner_permissions_reduced",
        )?;
    }
    for _ in db::tokens::end_grace(tx, now)? {
        report.grace_ended += 1;
    }
    Ok(report)
}

/// Job: disables enabled tokens unused for the company's `idle_disable_days` (reason `idle`).
pub fn disable_idle(tx: &mut Tx, now: i64) -> Result<usize> {
    let actor = Actor::system();
    let mut n = 0;
    for c in db::companies::list(tx, None, None, usize::MAX >> 1)? {
        let Some(days) = c.idle_disable_days else {
            continue;
        };
        for mut t in db::tokens::idle_enabled(tx, c.id, now - days * 86_400_000)? {
            disable_row(&mut t, DisabledReason::Idle, now);
            db::tokens::update(tx, &t, now)?;
            record_toggle(tx, &actor, &t, false, now)?;
            n += 1;
        }
    }
    Ok(n)
}
