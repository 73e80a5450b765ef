//! Delivery of queued webhook events: POST with `X-Tokend-Signature: sha256=<hex HMAC>` over
//! the exact body, retried with exponential backoff (30 s, 1 min, 2 min … at most 6 h apart)
//! for up to 24 hours after the event. Deliveries run on their own scheduler thread, and
//! every run — scheduled or from `maintenance run` — fits in one 5 s budget (rule 33).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use crate::crypto::hmac_hex;
use crate::service::Result as ApiResult;
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

/// The name resolver of a delivery (rule 43): it answers with the addresses that were
/// resolved and checked before, whatever name it is asked for, so the connection goes to an
/// address that passed the check — never to a second DNS answer. The URL keeps its host
/// name, so the `Host` header and the TLS server name (SNI, certificate check) stay right.
#[derive(Debug)]
struct Pinned(Vec<SocketAddr>);

impl Resolver for Pinned {
    fn resolve(
        &self,
        _uri: &ureq::http::Uri,
        _config: &ureq::config::Config,
        _timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let mut out = self.empty();
        for a in &self.0 {
            // At most 16 are kept (ureq's limit); the rest were checked but are not needed.
            if out.try_push(*a).is_err() {
                break;
            }
        }
        if out.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(out)
    }
}

/// POSTs one event to `url`, connecting only to `addrs` (the checked addresses of its host).
fn post(
    url: &str,
    addrs: Vec<SocketAddr>,
    secret: Option<&str>,
    (event, event_id, body): (&str, &str, &str),
    timeout: Duration,
) -> Result<(), String> {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        // A proxy would resolve the name itself, after the check: deliveries go direct.
        .proxy(None)
        .build();
    let agent = ureq::Agent::with_parts(config, DefaultConnector::default(), Pinned(addrs));
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

/// Rules 33 and 43, checked again at delivery (DNS may have changed since the settings were
/// saved): the target's host is resolved once, here, and every address it resolves to must be
/// global unicast (unless `allow_private`). `Ok` carries the checked addresses, the only ones
/// the delivery connects to; `Err` when one is forbidden, or nothing resolves within `timeout`.
fn check_target(
    url: &str,
    allow_private: bool,
    timeout: Duration,
) -> Result<Vec<SocketAddr>, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let u = url.to_string();
    // Resolution has no timeout of its own: it runs aside, and the run waits only `timeout`.
    std::thread::spawn(move || {
        let _ = tx.send(webhook_target::resolve(&u));
    });
    match rx.recv_timeout(timeout) {
        Ok(Some(addrs))
            if allow_private || !addrs.iter().any(|a| webhook_target::forbidden_ip(a.ip())) =>
        {
            Ok(addrs)
        }
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
                .and_then(|addrs| {
                    let left = deadline.saturating_duration_since(Instant::now());
                    let body = (d.event_type.as_str(), d.event_id.as_str(), d.body.as_str());
                    post(url, addrs, secret.as_deref(), body, left.min(RUN_BUDGET))
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
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// One HTTP exchange on `listener`: returns the request head, answers 204.
    fn answer_once(listener: TcpListener) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = conn.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                head.extend_from_slice(&buf[..n]);
            }
            conn.write_all(
                b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .unwrap();
            String::from_utf8_lossy(&head).into_owned()
        })
    }

    /// Rule 43: the delivery connects to the address that was checked, never resolving the
    /// name again. The URL names a host under `.invalid`, which no resolver answers for
    /// (RFC 6761): the delivery still arrives at the checked address, with the URL's host in
    /// its `Host` header.
    #[test]
    fn rule_43_delivery_connects_to_the_checked_address() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = answer_once(listener);
        let url = format!("http://webhook.invalid:{}/hook", addr.port());
        let body = ("token.expiring", "evt-1", "{}");
        let sent = post(
            &url,
            vec![addr],
            Some("s3cret-s3cret-s3cret"),
            body,
            RUN_BUDGET,
        );
        assert_eq!(sent, Ok(()));
        let head = server.join().unwrap();
        assert!(head.starts_with("POST /hook HTTP/1.1"), "{head}");
        let host = format!("host: webhook.invalid:{}", addr.port());
        assert!(head.to_ascii_lowercase().contains(&host), "{head}");
        // Without the checked addresses, nothing is contacted (no fallback to DNS).
        assert!(post(&url, Vec::new(), None, body, RUN_BUDGET).is_err());
    }

    #[test]
    fn rule_43_check_target_returns_what_it_checked() {
        let t = Duration::from_secs(5);
        assert_eq!(
            check_target("http://127.0.0.1:9/x", true, t),
            Ok(vec!["127.0.0.1:9".parse().unwrap()])
        );
        for url in [
            "http://127.0.0.1:9/x",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[::ffff:0:7f00:1]/",
            "http://198.18.0.1/",
        ] {
            assert!(check_target(url, false, t).is_err(), "{url}");
        }
        assert_eq!(
            check_target("https://93.184.216.34/hook", false, t),
            Ok(vec!["93.184.216.34:443".parse().unwrap()])
        );
    }

    #[test]
    fn backoff_doubles_and_caps_at_six_hours() {
        assert_eq!(backoff_ms(1), 30_000);
        assert_eq!(backoff_ms(2), 60_000);
        assert_eq!(backoff_ms(3), 120_000);
        assert_eq!(backoff_ms(15), 6 * 3600 * 1000);
    }
}
