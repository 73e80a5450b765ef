//! A token's value: renew with optional overlap (rule 5, rule 21) and reveal (rules 12, 14).

use serde_json::json;

use crate::db::tokens::TokenRow;
use crate::db::{self, Tx};
use crate::domain::caller::Caller;
use crate::domain::permissions::Permission;
use crate::domain::time::expired;
use crate::domain::token::{DisabledReason, TokenKind};
use crate::domain::token_value::{TokenValue, ValueKind};
use crate::service::audit::{record, Actor, Event};
use crate::service::error::{Error, Result};
use crate::service::policy::{
    access, ensure, ensure_covers_token, ensure_not_delegated, ensure_owner_active, may_renew,
};
use crate::service::{require, Env};

use super::changes::record_toggle;
use super::rules::with_value;
use super::*;

pub fn renew(
    tx: &mut Tx,
    env: &Env,
    caller: &Caller,
    id: i64,
    input: RenewToken,
) -> Result<TokenWithValue> {
    require(caller, Permission::TokensWrite)?;
    ensure_not_delegated(caller, "renew tokens")?;
    let now = env.now_ms();
    let t = load_visible(tx, caller, id)?;
    // Owner only; a shared token is renewed by administrators (members only use its value).
    ensure(may_renew(access(caller, &t), t.kind), "renew")?;
    // Rule 36: a fresh value is the token's whole power.
    ensure_covers_token(caller, &t)?;
    let grace = input.grace_seconds.unwrap_or(0);
    if !(0..=MAX_GRACE_SECONDS).contains(&grace) {
        return Err(Error::field(
            "grace_seconds",
            format!("must be between 0 and {MAX_GRACE_SECONDS}"),
        ));
    }
    let company = company(tx, t.company_id)?;
    // Rule 21: renewing the legacy token ends UUID + secret for good.
    crate::service::legacy::end_compatibility(tx, t.id, now)?;
    // A new rotation ends any older grace period at once.
    let value = TokenValue::generate(ValueKind::Api);
    let digest = value.digest();
    let prev = (grace > 0).then(|| (&t.digest, now + grace * 1000));
    db::tokens::set_value(
        tx,
        t.id,
        &digest,
        &value.hint(),
        seal(env, &company, &value),
        prev,
        now,
    )?;
    let actor = Actor::of(caller);
    record(
        tx,
        &actor,
        Event {
            action: "token.renewed",
            company_id: Some(t.company_id),
            token_id: Some(t.id),
            user_id: Some(t.owner_id),
            details: json!({ "name": t.name, "grace_seconds": grace }),
        },
        now,
    )?;
    restore_leaked(tx, &actor, t, now)?;
    with_value(tx, env, caller, (id, &company), &value)
}

/// Rule 38: a token disabled because its value leaked comes back only with a new value, so
/// renewing enables it — when it could be enabled at all (active owner, not expired, some
/// permissions); otherwise it stays disabled until renewed again.
fn restore_leaked(tx: &mut Tx, actor: &Actor, mut t: TokenRow, now: i64) -> Result<()> {
    if t.enabled || t.disabled_reason.as_deref() != Some(DisabledReason::Leaked.as_str()) {
        return Ok(());
    }
    let owner = db::users::get(tx, t.owner_id)?.ok_or(Error::NotFound)?;
    let has_permissions = t.kind == TokenKind::Legacy || !t.permissions.is_empty();
    if ensure_owner_active(&owner).is_err() || expired(t.expires_at, now) || !has_permissions {
        return Ok(());
    }
    t.enabled = true;
    t.disabled_reason = None;
    t.disabled_at = None;
    db::tokens::update(tx, &t, now)?;
    record_toggle(tx, actor, &t, true, now)
}

pub fn reveal(tx: &mut Tx, env: &Env, caller: &Caller, id: i64) -> Result<String> {
    require(caller, Permission::TokensRead)?;
    ensure_not_delegated(caller, "reveal token values")?;
    let t = load_visible(tx, caller, id)?;
    ensure(access(caller, &t).use_value, "reveal")?;
    ensure_covers_token(caller, &t)?;
    let company = company(tx, t.company_id)?;
    let refused = || {
        Error::conflict(
            "reveal_disabled",
            "the value of this token is not stored (company policy show_once, or created before reveal was allowed); renew it to get a new value",
        )
    };
    if !company.reveal_allowed {
        return Err(refused());
    }
    let sealed = db::tokens::value_enc(tx, t.id)?.ok_or_else(refused)?;
    let value = env.keys.open(&sealed, &t.digest.0).ok_or_else(refused)?;
    record(
        tx,
        &Actor::of(caller),
        Event {
            action: "token.revealed",
            company_id: Some(t.company_id),
            token_id: Some(t.id),
            user_id: Some(t.owner_id),
            details: json!({ "name": t.name }),
        },
        env.now_ms(),
    )?;
    Ok(value)
}
