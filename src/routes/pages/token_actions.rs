//! Actions on API tokens: the status badge (enable/disable one), the mass actions (enable,
//! disable, delete through `tokens::bulk`), reveal, regenerate (with an optional overlap),
//! "Lock to these addresses" and delete. Dangerous actions ask for confirmation (`confirm.rs`)
//! unless the form says `confirmed=1`.

use actix_web::web;

use super::auth::SignedForm;
use super::confirm::{confirm, confirm_choosing, Choice};
use super::form::path_id;
use super::render::{in_place, Flash, PageResult};
use super::token_page::load;
use super::token_value::{remember_value, revealed_page, ValuePage};
use super::view::grace_options;
use crate::domain::token::TokenKind;
use crate::service::tokens::{self as svc, BulkRequest, RenewToken, UpdateToken};
use crate::state::Shared;

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// `POST /tokens/bulk`: mass enable, disable or delete (delete asks for confirmation).
pub async fn bulk(state: Shared, sf: SignedForm) -> PageResult {
    let SignedForm { user, form } = sf;
    let back = form.back("/");
    let ids: Vec<i64> = form
        .all("ids")
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect();
    let action = form.text("action");
    if ids.is_empty() {
        return Ok(user.redirect(&back, Flash::error("Select at least one token first.")));
    }
    if action == "delete" && !form.checked("confirmed") {
        return confirm(
            &user,
            &form,
            "/tokens/bulk",
            "Delete API tokens?",
            &format!(
                "Delete {}? Applications using them stop working at once. This cannot be undone.",
                plural(ids.len(), "selected token")
            ),
            "Delete",
            &back,
        );
    }
    let verb = match action.as_str() {
        "enable" => "enabled",
        "disable" => "disabled",
        _ => "deleted",
    };
    let env = state.env();
    let caller = user.caller.clone();
    let results = state
        .write(move |tx| svc::bulk(tx, &env, &caller, BulkRequest { ids, action }))
        .await;
    let flash = match results {
        Err(e) => Flash::error(in_place(e)?.to_string()),
        Ok(results) => {
            let ok = results.iter().filter(|r| r.ok).count();
            let failed: Vec<_> = results.iter().filter_map(|r| r.error.as_ref()).collect();
            let mut text = format!("{} {verb}.", plural(ok, "token"));
            match failed.first() {
                None => Flash::ok(text),
                Some(first) => {
                    text.push_str(&format!(
                        " {} could not be changed: {}",
                        plural(failed.len(), "token"),
                        first.message
                    ));
                    Flash::error(text)
                }
            }
        }
    };
    Ok(user.redirect(&back, flash))
}

/// `POST /tokens/{id}/toggle`: the status badge (enable or disable one token).
pub async fn toggle(state: Shared, path: web::Path<String>, sf: SignedForm) -> PageResult {
    let id = path_id(&path)?;
    let SignedForm { user, form } = sf;
    let enable = form.get("enabled") == Some("true");
    let back = form.back("/");
    let env = state.env();
    let caller = user.caller.clone();
    let input = UpdateToken {
        enabled: Some(enable),
        ..UpdateToken::default()
    };
    let flash = match state
        .write(move |tx| svc::update(tx, &env, &caller, id, input))
        .await
    {
        Ok(t) => Flash::ok(format!(
            "Token “{}” {}.",
            t.name,
            if enable { "enabled" } else { "disabled" }
        )),
        Err(e) if e.code() == "expiry_in_past" => Flash::error(
            "This token has expired: open it and set a new expiry date (or none) to enable it.",
        ),
        Err(e) => Flash::error(in_place(e)?.to_string()),
    };
    Ok(user.redirect(&back, flash))
}

/// `POST /tokens/{id}/reveal`: the owner sees the value again (policy `allowed`).
pub async fn reveal(state: Shared, path: web::Path<String>, sf: SignedForm) -> PageResult {
    let id = path_id(&path)?;
    let user = sf.user;
    let env = state.env();
    let caller = user.caller.clone();
    let result = state
        .write(move |tx| {
            let value = svc::reveal(tx, &env, &caller, id)?;
            let name = svc::load_visible(tx, &caller, id)?.name;
            Ok::<_, crate::service::Error>((name, value))
        })
        .await;
    match result {
        Ok((name, value)) => revealed_page(&user, id, &name, &value),
        Err(e) => Ok(user.redirect(
            &format!("/tokens/{id}"),
            Flash::error(in_place(e)?.to_string()),
        )),
    }
}

/// The "Keep the previous value working for" hint (token page and confirmation page).
pub const GRACE_HINT: &str =
    "Time for applications to switch to the new value; with None the current value stops working at once.";

/// `POST /tokens/{id}/regenerate`: a new value; the old one stops working at once, or after
/// the overlap chosen in `grace_seconds` (the service checks its range).
pub async fn regenerate(state: Shared, path: web::Path<String>, sf: SignedForm) -> PageResult {
    let id = path_id(&path)?;
    let SignedForm { user, form } = sf;
    let grace_text = form.opt("grace_seconds");
    let grace = match grace_text.as_deref().map(str::parse::<i64>) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => {
            return Ok(user.redirect(
                &format!("/tokens/{id}"),
                Flash::error("Choose how long the previous value keeps working."),
            ))
        }
    };
    if !form.checked("confirmed") {
        let p = load(&state, &user, id).await?;
        let message = format!(
            "A new value will be issued for “{}”. The current value stops working at once unless \
             you keep it working for a while below: every application using it must be updated.{}",
            p.token.name,
            if p.token.kind == TokenKind::Legacy {
                " The legacy UUID + secret stop working for good."
            } else {
                ""
            }
        );
        let choice = Choice {
            name: "grace_seconds",
            label: "Keep the previous value working for",
            hint: GRACE_HINT,
            options: grace_options(grace_text.as_deref().unwrap_or_default()),
        };
        return confirm_choosing(
            &user,
            &form,
            (
                &format!("/tokens/{id}/regenerate"),
                "Regenerate token value?",
                &message,
            ),
            choice,
            "Regenerate",
            &format!("/tokens/{id}"),
        );
    }
    let env = state.env();
    let caller = user.caller.clone();
    let input = RenewToken {
        grace_seconds: grace,
    };
    match state
        .write(move |tx| svc::renew(tx, &env, &caller, id, input))
        .await
    {
        Ok(renewed) => {
            let back = format!("/tokens/{id}");
            let page = ValuePage::of_token("Token value regenerated", &renewed, &back);
            Ok(remember_value(&state, &user, page).await?)
        }
        Err(e) => Ok(user.redirect(
            &format!("/tokens/{id}"),
            Flash::error(in_place(e)?.to_string()),
        )),
    }
}

/// `POST /tokens/{id}/lock`: "Lock to these addresses" sets `allowed_cidrs` to exactly the
/// token's recent client addresses (read and written in one transaction).
pub async fn lock(state: Shared, path: web::Path<String>, sf: SignedForm) -> PageResult {
    let id = path_id(&path)?;
    let user = sf.user;
    let env = state.env();
    let caller = user.caller.clone();
    let result = state
        .write(move |tx| {
            let t = svc::get(tx, &env, &caller, id)?;
            let ips: Vec<String> = t
                .recent_ips
                .iter()
                .flatten()
                .map(|r| r.ip.clone())
                .collect();
            if ips.is_empty() {
                return Ok(None);
            }
            let input = UpdateToken {
                allowed_cidrs: Some(ips.clone()),
                ..UpdateToken::default()
            };
            let t = svc::update(tx, &env, &caller, id, input)?;
            Ok::<_, crate::service::Error>(Some((t.name, ips)))
        })
        .await;
    let flash = match result {
        Ok(Some((name, ips))) => Flash::ok(format!(
            "Token “{name}” now works only from {}.",
            ips.join(", ")
        )),
        Ok(None) => {
            Flash::error("No address has used this token yet: there is nothing to lock to.")
        }
        Err(e) => Flash::error(in_place(e)?.to_string()),
    };
    Ok(user.redirect(&format!("/tokens/{id}"), flash))
}

/// `POST /tokens/{id}/delete`.
pub async fn delete(state: Shared, path: web::Path<String>, sf: SignedForm) -> PageResult {
    let id = path_id(&path)?;
    let SignedForm { user, form } = sf;
    let p = load(&state, &user, id).await?;
    if !form.checked("confirmed") {
        return confirm(
            &user,
            &form,
            &format!("/tokens/{id}/delete"),
            "Delete API token?",
            &format!(
                "Delete “{}”? Applications using it stop working at once. This cannot be undone.",
                p.token.name
            ),
            "Delete",
            &format!("/tokens/{id}"),
        );
    }
    let env = state.env();
    let caller = user.caller.clone();
    match state
        .write(move |tx| svc::delete(tx, &env, &caller, id))
        .await
    {
        Ok(()) => Ok(user.redirect(
            &form.back("/"),
            Flash::ok(format!("Token “{}” deleted.", p.token.name)),
        )),
        Err(e) => Ok(user.redirect(
            &format!("/tokens/{id}"),
            Flash::error(in_place(e)?.to_string()),
        )),
    }
}
