//! Delivery of queued webhook events: POST with `X-Tokend-Signature: sha256=<hex HMAC>` over
//! the exact body, retried with exponential backoff (30 s, 1 min, 2 min … at most 6 h apart)
//! for up to 24 hours after the event. Deliveries run on their own scheduler thread, and
//! every run — scheduled or from `maintenance run` — fits in one 5 s budget (rule 33).

use std::time::{Duration, Instant};

use crate::crypto::hmac_hex;
use crate::error::ApiResult;
use crate::service::{webhook_target, webhooks};
use crate::state::AppState;

const GIVE_UP_AFTER_MS: i64 = 24 * 3600 * 1000;

/// Delay before retry number `attempts` (1 = first retry).
pub fn backoff_ms(attempts: i64) -> i64 {
    let exp = attempts.clamp(1, 20) - 1;
    (30_000i64 << exp).min(6 * 3600 * 1000)
}

/// The time one delivery run may take in total (rule 33): a target that never answers costs
/// one attempt of at most this long, and the rest wait for the next run.
pub const RUN_BUDGET: Duration = Duration::from_secs(5);
/// Below this much budget left, no further attempt starts.
const MIN_ATTEMPT: Duration = Duration::from_millis(100);

/// What a failed delivery records (rule 33): `delivery_failed`, plus the HTTP status when the
/// target answered — never why a connection failed (closed port, refusal, timeout, TLS), so
/// the webhook sender cannot be used to map a network.
const FAILED: &str = "delivery_failed";

fn post(
    url: &str,
    secret: Option<&str>,
    (event, event_id, body): (&str, &str, &str),
    timeout: Duration,
) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
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
    let res = req.send(body).map_err(|_| FAILED.to_string())?;
    if res.status().is_success() {
        Ok(())
    } else {
        Err(format!("{FAILED}: HTTP {}", res.status().as_u16()))
    }
}

/// Rule 33, checked again at delivery (DNS may have changed since the settings were saved):
/// `Err` when the target resolves to an internal address, or not at all within `timeout`.
fn check_target(url: &str, allow_private: bool, timeout: Duration) -> Result<(), String> {
    if allow_private {
        return Ok(());
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let u = url.to_string();
    // Resolution has no timeout of its own: it runs aside, and the run waits only `timeout`.
    std::thread::spawn(move || {
        let _ = tx.send(webhook_target::resolve(&u));
    });
    match rx.recv_timeout(timeout) {
        Ok(Some(addrs)) if !addrs.iter().any(|a| webhook_target::forbidden_ip(a.ip())) => Ok(()),
        Ok(Some(_)) => Err(format!("{FAILED}: webhook_target_forbidden")),
        _ => Err(FAILED.to_string()),
    }
}

/// Attempts due deliveries within `budget` (one run at a time); returns (delivered, failed).
/// A run that cannot start within the budget because another one is going does nothing.
pub fn deliver_due(state: &AppState, budget: Duration) -> ApiResult<(usize, usize)> {
    let deadline = Instant::now() + budget;
    let Some(_running) = state.webhook_run.try_lock_for(budget) else {
        return Ok((0, 0));
    };
    // Across replicas: one delivers, so each event goes out once.
    state
        .once("webhooks", || deliver_locked(state, deadline))
        .map(Option::unwrap_or_default)
}

fn deliver_locked(state: &AppState, deadline: Instant) -> ApiResult<(usize, usize)> {
    let now = state.now_ms();
    let due = state.read_blocking(|c| webhooks::due(c, now, 200))?;
    let (mut ok, mut failed) = (0, 0);
    for d in due {
        let left = deadline.saturating_duration_since(Instant::now());
        if left < MIN_ATTEMPT {
            break;
        }
        let target = state.read_blocking(|c| webhooks::target(c, d.company_id))?;
        let outcome = match &target {
            Some((url, secret)) => check_target(url, state.config.webhook_allow_private, left)
                .and_then(|()| {
                    let left = deadline.saturating_duration_since(Instant::now());
                    let body = (d.event_type.as_str(), d.event_id.as_str(), d.body.as_str());
                    post(url, secret.as_deref(), body, left.min(RUN_BUDGET))
                }),
            None => Err("no webhook URL configured".to_string()),
        };
        let attempts = d.attempts + 1;
        let next = now + backoff_ms(attempts);
        let retry = (next <= d.created_at + GIVE_UP_AFTER_MS).then_some(next);
        state.write_blocking(|tx| webhooks::record_attempt(tx, d.id, &outcome, retry, now))?;
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
