//! The one view of a new secret after a console form (post/redirect/get): the form's answer
//! is a redirect to a page that shows the value once. The page's data waits in the session
//! that made it — sealed with the master key, so the database never holds it in clear — for
//! at most [`LIFETIME_MS`]; showing it clears it, so a reload shows "already shown" instead
//! of the value and never submits the form again. A session holds one such page: a newer
//! one replaces it.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::Env;
use crate::crypto::{random_token, same_secret};
use crate::db::{self, Tx};
use crate::service::error::{Error, Result};

/// How long a value page waits for its one view: 5 minutes.
pub const LIFETIME_MS: i64 = 5 * 60 * 1000;

/// Additional data of the seal (a sealed page cannot pass for another kind of secret).
const AAD: &[u8] = b"tokend console value page";

#[derive(Serialize, Deserialize)]
struct Waiting<T> {
    /// The one-time id in the page's URL.
    id: String,
    expires_at: i64,
    page: T,
}

/// Keeps `page` for one view in the session of `user_id` whose CSRF token is `csrf`;
/// returns the one-time id that names it in the URL.
pub fn remember<T: Serialize>(
    tx: &mut Tx,
    env: &Env,
    (user_id, csrf): (i64, &str),
    page: T,
) -> Result<String> {
    let id = random_token::<16>();
    let waiting = Waiting {
        id: id.clone(),
        expires_at: env.now_ms() + LIFETIME_MS,
        page,
    };
    let json = serde_json::to_string(&waiting)
        .map_err(|e| Error::Internal(anyhow::anyhow!("value page: {e}")))?;
    let sealed = env.keys.seal(&json, AAD);
    if !db::sessions::set_pending(tx, user_id, csrf, &sealed)? {
        return Err(Error::Internal(anyhow::anyhow!(
            "the session that made the value is gone"
        )));
    }
    Ok(id)
}

/// The page named `id` waiting in that session, taken (it is never shown again); `None`
/// when it was shown already, replaced by a newer one, or has expired.
pub fn take<T: DeserializeOwned>(
    tx: &mut Tx,
    env: &Env,
    (user_id, csrf): (i64, &str),
    id: &str,
) -> Result<Option<T>> {
    let Some(sealed) = db::sessions::pending(tx, user_id, csrf)? else {
        return Ok(None);
    };
    let waiting: Option<Waiting<T>> = env
        .keys
        .open(&sealed, AAD)
        .and_then(|json| serde_json::from_str(&json).ok());
    let Some(waiting) = waiting else {
        db::sessions::clear_pending(tx, user_id, csrf)?;
        return Ok(None);
    };
    if waiting.expires_at <= env.now_ms() {
        db::sessions::clear_pending(tx, user_id, csrf)?;
        return Ok(None);
    }
    // Another id (an old tab, a guessed URL) leaves the waiting page alone.
    if !same_secret(&waiting.id, Some(id)) {
        return Ok(None);
    }
    db::sessions::clear_pending(tx, user_id, csrf)?;
    Ok(Some(waiting.page))
}
