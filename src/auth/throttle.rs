//! Sliding-window counters in memory: login throttling (SPEC §8) and per-IP rate limits of
//! unauthenticated endpoints (`POST /v1/revoke`).
//!
//! Login: after 10 failures for one account within 15 minutes, further attempts are refused
//! with 429 until the window has room again. Keyed by the lower-cased email whether or not the
//! account exists, so the answer does not reveal existence. 10 per 15 minutes also bounds
//! failures to 40 an hour (< 100).

use std::collections::{HashMap, VecDeque};

use parking_lot::Mutex;

/// At most `max` events per key within `window_ms`.
pub struct SlidingWindow {
    max: usize,
    window_ms: i64,
    events: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl SlidingWindow {
    pub fn new(max: usize, window_ms: i64) -> SlidingWindow {
        SlidingWindow {
            max,
            window_ms,
            events: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(seconds to wait)` when `key` is at its limit at `now` (ms).
    pub fn check(&self, key: &str, now: i64) -> Option<u64> {
        let mut map = self.events.lock();
        let q = map.get_mut(key)?;
        while q.front().is_some_and(|t| *t <= now - self.window_ms) {
            q.pop_front();
        }
        if q.len() >= self.max {
            let oldest = *q.front()?;
            Some(((oldest + self.window_ms - now) / 1000).max(1) as u64)
        } else {
            None
        }
    }

    /// Counts one event for `key`.
    pub fn record(&self, key: &str, now: i64) {
        let mut map = self.events.lock();
        if map.len() > 100_000 {
            let window = self.window_ms;
            map.retain(|_, q| q.back().is_some_and(|t| *t > now - window));
        }
        map.entry(key.to_string()).or_default().push_back(now);
    }

    /// Checks and, when allowed, counts one event.
    pub fn hit(&self, key: &str, now: i64) -> Result<(), u64> {
        match self.check(key, now) {
            Some(wait) => Err(wait),
            None => {
                self.record(key, now);
                Ok(())
            }
        }
    }

    pub fn clear(&self, key: &str) {
        self.events.lock().remove(key);
    }
}

pub const LOGIN_MAX_FAILURES: usize = 10;
pub const LOGIN_WINDOW_MS: i64 = 15 * 60 * 1000;

/// Failed logins per account.
pub fn login_throttle() -> SlidingWindow {
    SlidingWindow::new(LOGIN_MAX_FAILURES, LOGIN_WINDOW_MS)
}

/// Calls of `POST /v1/revoke` per client address: 30 a minute.
pub fn revoke_limit() -> SlidingWindow {
    SlidingWindow::new(30, 60 * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_refuses_past_max_and_frees_up_later() {
        let w = SlidingWindow::new(2, 1000);
        assert!(w.hit("a", 0).is_ok());
        assert!(w.hit("a", 10).is_ok());
        assert_eq!(w.hit("a", 20), Err(1));
        assert!(w.hit("b", 20).is_ok());
        assert!(w.hit("a", 1001).is_ok());
    }
}
