//! Login throttling (SPEC §8): after 10 failures for one account within 15 minutes, further
//! attempts are refused with 429 until the window has room again. Keyed by the lower-cased
//! email whether or not the account exists, so the answer does not reveal existence.
//! At most 10 failures per 15 minutes also bounds failures to 40 an hour (< 100).

use std::collections::{HashMap, VecDeque};

use parking_lot::Mutex;

pub const MAX_FAILURES: usize = 10;
pub const WINDOW_MS: i64 = 15 * 60 * 1000;

#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl LoginThrottle {
    /// `Some(seconds to wait)` when the account is locked out at `now` (ms).
    pub fn check(&self, email: &str, now: i64) -> Option<u64> {
        let mut map = self.failures.lock();
        let q = map.get_mut(email)?;
        while q.front().is_some_and(|t| *t <= now - WINDOW_MS) {
            q.pop_front();
        }
        if q.len() >= MAX_FAILURES {
            let oldest = *q.front()?;
            Some(((oldest + WINDOW_MS - now) / 1000).max(1) as u64)
        } else {
            None
        }
    }

    pub fn fail(&self, email: &str, now: i64) {
        let mut map = self.failures.lock();
        if map.len() > 100_000 {
            map.retain(|_, q| q.back().is_some_and(|t| *t > now - WINDOW_MS));
        }
        map.entry(email.to_string()).or_default().push_back(now);
    }

    pub fn succeed(&self, email: &str) {
        self.failures.lock().remove(email);
    }
}
