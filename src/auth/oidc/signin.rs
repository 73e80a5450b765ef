//! Console sessions from OpenID Connect (rule 18, docs/SSO.md): only an existing, enabled
//! user with `sso = true` signs in, or, with auto-provisioning configured, a new SSO user is
//! created in the default company on the first sign-in. Every outcome is audited:
//! `session.login` (`via: sso`, `method: oidc`) or `session.login_failed` with the reason.
//!
//! These functions block (SQLite): call them on the blocking pool.

use serde_json::json;

use crate::auth::session::{audit_failure, open_session, NewSession};
use crate::domain::names::{parse_person_name, Email};
use crate::domain::roles::Role;
use crate::domain::user::User;
use crate::error::{ApiError, ApiResult};
use crate::service::audit::{clip, ANONYMOUS_TEXT_MAX};
use crate::service::users;
use crate::state::AppState;

/// Records a refused OpenID Connect sign-in. `email` is the provider's (when known); `detail`
/// is what the provider or the token check said (never a secret).
pub fn login_failed(
    state: &AppState,
    email: Option<&str>,
    reason: &str,
    detail: Option<&str>,
    ip: Option<String>,
) -> ApiResult<()> {
    let parsed = email.and_then(|e| Email::parse(e).ok());
    let now = state.now_ms();
    let user = match &parsed {
        Some(e) => state.read_blocking(|c| users::by_email(c, e))?,
        None => None,
    };
    // Rule 41/44: an email that does not parse is not stored, only marked; the detail is cut.
    let invalid = email.is_some() && parsed.is_none();
    let email = parsed.map(|e| e.as_str().to_string());
    let detail = detail.map(|d| clip(d, ANONYMOUS_TEXT_MAX));
    let mut details =
        json!({ "method": "oidc", "reason": reason, "detail": detail, "email": email });
    if invalid {
        details["email_invalid"] = json!(true);
    }
    audit_failure(state, "sso", email, user.as_ref(), ip, details, now)
}

/// Why a verified email gets no session: (audit reason, message for the page).
fn refusal(user: &Option<User>) -> Option<(&'static str, &'static str)> {
    match user {
        None => Some((
            "unknown_user",
            "No tokend account has this email. Ask an administrator to add you as a single sign-on user.",
        )),
        Some(u) if !u.sso => Some((
            "not_sso_user",
            "This account signs in with a password, not through single sign-on.",
        )),
        Some(u) if !u.enabled => Some(("user_disabled", "This account is disabled.")),
        Some(_) => None,
    }
}

/// Creates the SSO user `email` with `role` in the default company (auto-provisioning).
fn provision(state: &AppState, email: &Email, name: &str, role: Role) -> ApiResult<User> {
    let env = state.env();
    Ok(state.write_blocking(|tx| users::provision_sso(tx, &env, email, name, role))?)
}

/// A session for the user the provider vouched for (its email verified), or 403
/// `sso_refused` (audited) when that user may not sign in this way.
pub fn login(
    state: &AppState,
    email: &str,
    name: Option<&str>,
    ip: Option<String>,
) -> ApiResult<NewSession> {
    let parsed = Email::parse(email).ok();
    let mut user = match &parsed {
        Some(e) => state.read_blocking(|c| users::by_email(c, e))?,
        None => None,
    };
    if user.is_none() {
        if let (Some(role), Some(email)) = (
            state.config.oidc.as_ref().and_then(|o| o.auto_provision),
            &parsed,
        ) {
            let name = name
                .and_then(|n| parse_person_name(n).ok())
                .unwrap_or_else(|| email.as_str().to_string());
            user = Some(provision(state, email, &name, role)?);
        }
    }
    if let Some((reason, message)) = refusal(&user) {
        login_failed(state, Some(email), reason, None, ip)?;
        return Err(crate::service::policy::refusals::sso_refused(message).into());
    }
    match user {
        Some(u) => open_session(state, u, ip, "oidc"),
        None => Err(ApiError::Internal(anyhow::anyhow!(
            "refusal() let no user through"
        ))),
    }
}
