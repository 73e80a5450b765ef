//! The console session cookie, API and console alike.

use actix_web::cookie::{Cookie, SameSite};

use crate::auth::extract::cookie_name;
use crate::auth::session::NewSession;
use crate::config::Config;
use crate::error::ApiResult;
use crate::state::{AppState, Shared};

/// The session cookie (HttpOnly, SameSite=Lax; `__Host-` + Secure behind HTTPS).
pub fn session_cookie(config: &Config, value: &str, max_age_secs: i64) -> Cookie<'static> {
    let mut c = Cookie::build(cookie_name(config.secure_cookies), value.to_string())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(config.secure_cookies)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age_secs))
        .finish();
    if max_age_secs == 0 {
        c.make_removal();
    }
    c
}

/// Runs a blocking login function and sets the cookie on success.
pub async fn start_session<F>(state: &Shared, f: F) -> ApiResult<NewSession>
where
    F: FnOnce(&AppState) -> ApiResult<NewSession> + Send + 'static,
{
    state.blocking(f).await
}
