//! Companies (global administrators) and company token policy (`/v1/settings`).

use crate::db::Connection;
use serde::Serialize;
use serde_json::json;

use super::audit::{record, Actor, Event};
use super::{require, Env, Page};
use crate::db::companies::Company;
use crate::db::{self, Tx};
use crate::domain::caller::Caller;
use crate::domain::names::plain_text;
use crate::domain::permissions::Permission;
use crate::domain::time::{fmt_time, from_ms};
use crate::service::error::{Error, Result};

#[derive(Debug, Clone, Serialize)]
pub struct CompanyView {
    pub id: i64,
    pub name: String,
    pub created_at: String,
}

impl From<&Company> for CompanyView {
    fn from(c: &Company) -> Self {
        CompanyView {
            id: c.id,
            name: c.name.clone(),
            created_at: fmt_time(&from_ms(c.created_at)),
        }
    }
}

#[derive(Debug, Clone)]
pub struct CreateCompany {
    pub name: String,
}

/// Company token policy.
#[derive(Debug, Clone, Serialize)]
pub struct SettingsView {
    pub company_id: i64,
    /// `allowed` or `show_once`.
    pub token_reveal: String,
    pub max_token_lifetime_days: Option<i64>,
    pub idle_disable_days: Option<i64>,
    /// The expiry the console proposes for a new token, in days from now (default 30).
    pub default_token_lifetime_days: i64,
    pub webhook_url: Option<String>,
    /// Whether a webhook secret is set (the secret itself is never shown again).
    pub webhook_secret_set: bool,
}

impl From<&Company> for SettingsView {
    fn from(c: &Company) -> Self {
        SettingsView {
            company_id: c.id,
            token_reveal: if c.reveal_allowed {
                "allowed"
            } else {
                "show_once"
            }
            .into(),
            max_token_lifetime_days: c.max_token_lifetime_days,
            idle_disable_days: c.idle_disable_days,
            default_token_lifetime_days: c.default_token_lifetime_days,
            webhook_url: c.webhook_url.clone(),
            webhook_secret_set: c.webhook_secret.is_some(),
        }
    }
}

/// A PATCH of the policy: absent fields stay, `null` clears the optional ones. `Debug` hides
/// the webhook secret (rule 45).
#[derive(Clone, Default)]
pub struct UpdateSettings {
    pub token_reveal: Option<String>,
    pub max_token_lifetime_days: Option<Option<i64>>,
    pub idle_disable_days: Option<Option<i64>>,
    /// 1–36500 days; it cannot be cleared.
    pub default_token_lifetime_days: Option<i64>,
    pub webhook_url: Option<Option<String>>,
    pub webhook_secret: Option<Option<String>>,
}

impl std::fmt::Debug for UpdateSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = self
            .webhook_secret
            .as_ref()
            .map(crate::domain::secret::redacted);
        f.debug_struct("UpdateSettings")
            .field("token_reveal", &self.token_reveal)
            .field("max_token_lifetime_days", &self.max_token_lifetime_days)
            .field("idle_disable_days", &self.idle_disable_days)
            .field(
                "default_token_lifetime_days",
                &self.default_token_lifetime_days,
            )
            .field("webhook_url", &self.webhook_url)
            .field("webhook_secret", &secret)
            .finish()
    }
}

/// The company a settings call names (default: the caller's own), if the caller may read it
/// (rule 24: another company needs `companies:read`, and `companies:write` to change it).
fn company_in_reach(
    conn: &Connection,
    caller: &Caller,
    id: Option<i64>,
    change: bool,
) -> Result<Company> {
    let id = id.unwrap_or(caller.user.company_id);
    if !caller.reaches_company(id) {
        return Err(Error::NotFound);
    }
    if change {
        crate::service::policy::ensure_changes_company(caller, id, "changing another company")?;
    }
    db::companies::get(conn, id)?.ok_or(Error::NotFound)
}

/// The expiry the console proposes for a new token of `company_id`: its default lifetime
/// from `now`, capped by its maximum lifetime when one is set.
pub fn default_expiry(
    conn: &Connection,
    company_id: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>> {
    let c = db::companies::get(conn, company_id)?.ok_or(Error::NotFound)?;
    let days = c
        .max_token_lifetime_days
        .map_or(c.default_token_lifetime_days, |max| {
            max.min(c.default_token_lifetime_days)
        });
    Ok(now + chrono::Duration::days(days))
}

/// The first company (the default for the command line and sign-in provisioning).
pub fn first_id(conn: &Connection) -> Result<Option<i64>> {
    Ok(db::companies::first_id(conn)?)
}

/// The caller's own company (`/v1/me`).
pub fn own(conn: &Connection, caller: &Caller) -> Result<Company> {
    db::companies::get(conn, caller.user.company_id)?.ok_or(Error::NotFound)
}

pub fn settings(conn: &Connection, caller: &Caller, company: Option<i64>) -> Result<SettingsView> {
    require(caller, Permission::SettingsRead)?;
    Ok(SettingsView::from(&company_in_reach(
        conn, caller, company, false,
    )?))
}

fn days(field: &str, v: Option<i64>) -> Result<Option<i64>> {
    match v {
        Some(d) if !(1..=36_500).contains(&d) => {
            Err(Error::field(field, "must be between 1 and 36500 days"))
        }
        v => Ok(v),
    }
}

/// Settings that passed the checks needing the network (rule 33). Only [`check_settings`]
/// makes one, so no path can save a webhook target that was not resolved and checked.
pub struct CheckedSettings(UpdateSettings);

/// Rule 33, before the write transaction (it resolves DNS: run it on the blocking pool): a
/// new `webhook_url` must not name an internal address unless `allow_private`. Checked only
/// for a caller allowed to change settings, so others get their 403 from [`update_settings`].
pub fn check_settings(
    caller: &Caller,
    input: UpdateSettings,
    allow_private: bool,
) -> Result<CheckedSettings> {
    if let Some(Some(url)) = &input.webhook_url {
        if caller.has(Permission::SettingsWrite) {
            super::webhook_target::check(url, allow_private)?;
        }
    }
    Ok(CheckedSettings(input))
}

pub fn update_settings(
    tx: &mut Tx,
    env: &Env,
    caller: &Caller,
    company: Option<i64>,
    CheckedSettings(input): CheckedSettings,
) -> Result<SettingsView> {
    require(caller, Permission::SettingsWrite)?;
    let mut c = company_in_reach(tx, caller, company, true)?;
    let was_allowed = c.reveal_allowed;
    if let Some(r) = &input.token_reveal {
        c.reveal_allowed = match r.as_str() {
            "allowed" => true,
            "show_once" => false,
            _ => {
                return Err(Error::field(
                    "token_reveal",
                    "must be `allowed` or `show_once`",
                ))
            }
        };
    }
    if let Some(v) = input.max_token_lifetime_days {
        c.max_token_lifetime_days = days("max_token_lifetime_days", v)?;
    }
    if let Some(v) = input.idle_disable_days {
        c.idle_disable_days = days("idle_disable_days", v)?;
    }
    if let Some(v) = input.default_token_lifetime_days {
        c.default_token_lifetime_days = days("default_token_lifetime_days", Some(v))?.unwrap_or(v);
    }
    if let Some(v) = input.webhook_url {
        if let Some(u) = &v {
            // Rule 44: the URL parser would quietly drop tabs and line breaks from the text
            // that is stored; refused instead, like every other control character.
            plain_text(u).map_err(|m| Error::field("webhook_url", m))?;
            let ok = url::Url::parse(u)
                .map(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some())
                .unwrap_or(false);
            if !ok {
                return Err(Error::field("webhook_url", "must be an http or https URL"));
            }
        }
        c.webhook_url = v;
    }
    if let Some(v) = input.webhook_secret {
        if let Some(s) = &v {
            plain_text(s).map_err(|m| Error::field("webhook_secret", m))?;
        }
        if v.as_ref().is_some_and(|s| s.len() < 16 || s.len() > 256) {
            return Err(Error::field(
                "webhook_secret",
                "must be 16 to 256 characters",
            ));
        }
        c.webhook_secret = v;
    }
    db::companies::update_policy(tx, &c)?;
    // Rule 14: switching to show_once erases the stored encrypted values.
    let erased = if was_allowed && !c.reveal_allowed {
        db::tokens::erase_values(tx, c.id)?
    } else {
        0
    };
    let view = SettingsView::from(&c);
    record(
        tx,
        &Actor::of(caller),
        Event {
            action: "settings.updated",
            company_id: Some(c.id),
            token_id: None,
            user_id: None,
            details: json!({ "settings": &view, "values_erased": erased }),
        },
        env.now_ms(),
    )?;
    Ok(view)
}

pub fn list(
    conn: &Connection,
    env: &Env,
    caller: &Caller,
    page: Page,
) -> Result<(Vec<CompanyView>, Option<String>)> {
    require(caller, Permission::CompaniesRead)?;
    let only = caller.company_scope();
    let rows = db::companies::list(conn, only, page.before, page.limit)?;
    let next = page.next_cursor(&env.keys, rows.last().map(|c| c.id), rows.len());
    Ok((rows.iter().map(CompanyView::from).collect(), next))
}

pub fn create(
    tx: &mut Tx,
    env: &Env,
    caller: &Caller,
    input: CreateCompany,
) -> Result<CompanyView> {
    require(caller, Permission::CompaniesWrite)?;
    let name = crate::domain::names::parse_person_name(&input.name)
        .map_err(|m| Error::field("name", m))?;
    let id = db::companies::insert(tx, &name, env.now_ms())?;
    let c = db::companies::get(tx, id)?.ok_or(Error::NotFound)?;
    record(
        tx,
        &Actor::of(caller),
        Event {
            action: "company.created",
            company_id: Some(id),
            token_id: None,
            user_id: None,
            details: json!({ "name": name }),
        },
        env.now_ms(),
    )?;
    Ok(CompanyView::from(&c))
}
