//! Delivery of queued webhook events: POST with `X-Tokend-Signature: sha256=<hex HMAC>` over
//! the exact body, retried with exponential backoff (30 s, 1 min, 2 min … at most 6 h apart)
//! for up to 24 hours after the event.

use std::time::Duration;

use crate::crypto::hmac_hex;
use crate::db;
use crate::error::ApiResult;
use crate::state::AppState;

const GIVE_UP_AFTER_MS: i64 = 24 * 3600 * 1000;

/// Delay before retry number `attempts` (1 = first retry).
pub fn backoff_ms(attempts: i64) -> i64 {
    let exp = attempts.clamp(1, 20) - 1;
    (30_000i64 << exp).min(6 * 3600 * 1000)
}

fn post(
    url: &str,
    secret: Option<&str>,
    event: &str,
    event_id: &str,
    body: &str,
) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent
        .post(url)
        .header("Content-Type", "application/json")
        .header("User-Agent", concat!("tokend/", env!("CARGO_PKG_VERSION")))
        .header("X-Tokend-Event", event)
        .header("X-Tokend-Delivery", event_id);
    if let Some(s) = secret {
        req = req.header(
            "X-Tokend-Signature",
            format!("sha256={}", hmac_hex(s.as_bytes(), body.as_bytes())),
        );
    }
    let res = req.send(body).map_err(|e| e.to_string())?;
    if res.status().is_success() {
        Ok(())
    } else {
        Err(format!("HTTP {}", res.status().as_u16()))
    }
}

/// Attempts every due delivery once; returns (delivered, failed).
pub fn deliver_due(state: &AppState) -> ApiResult<(usize, usize)> {
    let now = state.now_ms();
    let due = state.read_blocking(|c| Ok(db::webhooks::due(c, now, 200)?))?;
    let (mut ok, mut failed) = (0, 0);
    for d in due {
        let target = state.read_blocking(|c| Ok(db::webhooks::company_target(c, d.company_id)?))?;
        let outcome = match &target {
            Some((url, secret)) => {
                post(url, secret.as_deref(), &d.event_type, &d.event_id, &d.body)
            }
            None => Err("no webhook URL configured".to_string()),
        };
        let attempts = d.attempts + 1;
        let next = now + backoff_ms(attempts);
        let retry = (next <= d.created_at + GIVE_UP_AFTER_MS).then_some(next);
        state.write_blocking(|tx| {
            tx.effects.touches_auth = false;
            match &outcome {
                Ok(()) => db::webhooks::mark_delivered(tx, d.id, now)?,
                Err(e) => db::webhooks::mark_failed(tx, d.id, e, retry)?,
            }
            Ok(())
        })?;
        match outcome {
            Ok(()) => ok += 1,
            Err(e) => {
                tracing::warn!(event = %d.event_type, id = %d.event_id, error = %e, attempts, "webhook delivery failed");
                failed += 1;
            }
        }
    }
    Ok((ok, failed))
}

#[cfg(test)]
mod tests {
    use super::backoff_ms;

    #[test]
    fn backoff_doubles_and_caps_at_six_hours() {
        assert_eq!(backoff_ms(1), 30_000);
        assert_eq!(backoff_ms(2), 60_000);
        assert_eq!(backoff_ms(3), 120_000);
        assert_eq!(backoff_ms(15), 6 * 3600 * 1000);
    }
}
