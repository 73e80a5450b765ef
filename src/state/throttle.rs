//! Sliding-window counters in memory: login throttling and per-IP rate limits of
//! unauthenticated endpoints (`POST /v1/revoke`).
//!
//! Login: after 10 failures for one account within 15 minutes, further attempts are refused
//! with 429 until the window has room again. Keyed by the lower-cased email whether or not the
//! account exists, so the answer does not reveal existence. 10 per 15 minutes also bounds
//! failures to 40 an hour (< 100). Per client address (its /64 for IPv6), 30 failed logins a
//! minute, whichever accounts they name (rule 40).
//!
//! [`SignInFailures`] keeps the audit log of failed sign-ins bounded per address (rule 41).

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};

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
        self.wait(q, now)
    }

    /// Drops the events of `q` that left the window; `Some(seconds)` when `q` is full.
    fn wait(&self, q: &mut VecDeque<i64>, now: i64) -> Option<u64> {
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

    fn prune(&self, map: &mut HashMap<String, VecDeque<i64>>, now: i64) {
        if map.len() > 100_000 {
            let window = self.window_ms;
            map.retain(|_, q| q.back().is_some_and(|t| *t > now - window));
        }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    pub fn window_ms(&self) -> i64 {
        self.window_ms
    }

    /// Counts one event for `key`.
    pub fn record(&self, key: &str, now: i64) {
        let mut map = self.events.lock();
        self.prune(&mut map, now);
        map.entry(key.to_string()).or_default().push_back(now);
    }

    /// Checks and, when allowed, counts one event — atomically, so concurrent callers cannot
    /// all pass the check before any of them is counted (rule 29).
    pub fn hit(&self, key: &str, now: i64) -> Result<(), u64> {
        let mut map = self.events.lock();
        if let Some(wait) = map.get_mut(key).and_then(|q| self.wait(q, now)) {
            return Err(wait);
        }
        self.prune(&mut map, now);
        map.entry(key.to_string()).or_default().push_back(now);
        Ok(())
    }

    pub fn clear(&self, key: &str) {
        self.events.lock().remove(key);
    }

    /// Takes back one event of `key` counted at `at` (an attempt that turned out to succeed).
    pub fn release(&self, key: &str, at: i64) {
        let mut map = self.events.lock();
        if let Some(q) = map.get_mut(key) {
            if let Some(i) = q.iter().rposition(|t| *t == at) {
                q.remove(i);
            }
            if q.is_empty() {
                map.remove(key);
            }
        }
    }
}

pub const LOGIN_MAX_FAILURES: usize = 10;
pub const LOGIN_WINDOW_MS: i64 = 15 * 60 * 1000;

/// The limits replicas share (counted in the database on PostgreSQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Failed logins per account ([`login_throttle`]).
    Login,
    /// Calls of the revoke endpoint per client address ([`revoke_limit`]).
    Revoke,
    /// Failed logins per client address ([`login_address_limit`], rule 40).
    LoginAddress,
}

impl Limit {
    /// Its name where it is stored.
    pub fn name(self) -> &'static str {
        match self {
            Limit::Login => "login",
            Limit::Revoke => "revoke",
            Limit::LoginAddress => "login_address",
        }
    }
}

/// Failed logins per account.
pub fn login_throttle() -> SlidingWindow {
    SlidingWindow::new(LOGIN_MAX_FAILURES, LOGIN_WINDOW_MS)
}

pub const LOGIN_ADDRESS_MAX_FAILURES: usize = 30;

/// Failed logins per client address ([`address_key`]): 30 a minute (rule 40). An attempt is
/// counted before its password is checked and taken back when it succeeds.
pub fn login_address_limit() -> SlidingWindow {
    SlidingWindow::new(LOGIN_ADDRESS_MAX_FAILURES, 60 * 1000)
}

/// Calls of `POST /v1/revoke` per client address: 30 a minute.
pub fn revoke_limit() -> SlidingWindow {
    SlidingWindow::new(30, 60 * 1000)
}

/// The key a per-address limit counts under (rule 29): an IPv4 address as is (also when
/// written IPv4-mapped), an IPv6 address by its /64 — one client usually holds a whole /64,
/// so counting single IPv6 addresses would let it rotate around any limit.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

pub const LEGACY_MAX_FAILURES: usize = 20;
pub const LEGACY_WINDOW_MS: i64 = 60 * 1000;

/// Failures per client address (rule 29: failed legacy UUID + secret attempts). Only
/// failures are recorded; the check costs one atomic load while no address has failed
/// recently, so successful requests do not contend on the lock.
pub struct AddressFailures {
    max: usize,
    window_ms: i64,
    /// Addresses with recorded failures (an upper bound; pruned as windows pass).
    active: AtomicUsize,
    events: Mutex<HashMap<IpAddr, VecDeque<i64>>>,
}

impl AddressFailures {
    pub fn new(max: usize, window_ms: i64) -> AddressFailures {
        AddressFailures {
            max,
            window_ms,
            active: AtomicUsize::new(0),
            events: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(seconds to wait)` when the address of `ip` has failed `max` times in the window.
    pub fn check(&self, ip: IpAddr, now: i64) -> Option<u64> {
        if self.active.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let key = address_key(ip);
        let mut map = self.events.lock();
        let q = map.get_mut(&key)?;
        while q.front().is_some_and(|t| *t <= now - self.window_ms) {
            q.pop_front();
        }
        if q.is_empty() {
            map.remove(&key);
            self.active.store(map.len(), Ordering::Relaxed);
            return None;
        }
        (q.len() >= self.max).then(|| {
            let oldest = q.front().copied().unwrap_or(now);
            ((oldest + self.window_ms - now) / 1000).max(1) as u64
        })
    }

    /// Checks and counts one attempt for the address of `ip` in one step (rule 42): with
    /// `max` already counted in the window, `Err(seconds to wait)` and nothing is counted.
    /// An attempt that turns out not to fail is taken back with [`AddressFailures::release`].
    pub fn reserve(&self, ip: IpAddr, now: i64) -> Result<(), u64> {
        let key = address_key(ip);
        let mut map = self.events.lock();
        if map.len() > 100_000 {
            let window = self.window_ms;
            map.retain(|_, q| q.back().is_some_and(|t| *t > now - window));
        }
        let q = map.entry(key).or_default();
        while q.front().is_some_and(|t| *t <= now - self.window_ms) {
            q.pop_front();
        }
        if q.len() >= self.max {
            let oldest = q.front().copied().unwrap_or(now);
            let wait = ((oldest + self.window_ms - now) / 1000).max(1) as u64;
            self.active.store(map.len(), Ordering::Relaxed);
            return Err(wait);
        }
        q.push_back(now);
        self.active.store(map.len(), Ordering::Relaxed);
        Ok(())
    }

    /// Takes back an attempt [`AddressFailures::reserve`] counted at `at`.
    pub fn release(&self, ip: IpAddr, at: i64) {
        let key = address_key(ip);
        let mut map = self.events.lock();
        if let Some(q) = map.get_mut(&key) {
            if let Some(i) = q.iter().rposition(|t| *t == at) {
                q.remove(i);
            }
            if q.is_empty() {
                map.remove(&key);
            }
        }
        self.active.store(map.len(), Ordering::Relaxed);
    }

    /// Counts one failure for the address of `ip`.
    pub fn record(&self, ip: IpAddr, now: i64) {
        let mut map = self.events.lock();
        if map.len() > 100_000 {
            let window = self.window_ms;
            map.retain(|_, q| q.back().is_some_and(|t| *t > now - window));
        }
        let q = map.entry(address_key(ip)).or_default();
        q.push_back(now);
        if q.len() > self.max {
            q.pop_front();
        }
        self.active.store(map.len(), Ordering::Relaxed);
    }
}

/// Failed legacy UUID + secret attempts per client address: 20 a minute (rule 29).
pub fn legacy_failures() -> AddressFailures {
    AddressFailures::new(LEGACY_MAX_FAILURES, LEGACY_WINDOW_MS)
}

/// Failed sign-ins audited one by one per address and UTC minute (rule 41); the rest of the
/// minute's failures from that address are counted into one aggregate event.
pub const SIGN_IN_FAILURES_AUDITED: u64 = 10;

/// The failures of one address in one minute beyond the first [`SIGN_IN_FAILURES_AUDITED`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureAggregate {
    /// The address key ([`address_key`]).
    pub address: IpAddr,
    /// The minute (ms since the epoch / 60 000).
    pub minute: i64,
    /// Failures not audited one by one.
    pub count: u64,
}

#[derive(Default)]
struct FailureBuckets {
    /// This minute's failures per address: (minute, count).
    current: HashMap<IpAddr, (i64, u64)>,
    /// Aggregates of minutes that have ended, waiting to be written.
    closed: Vec<FailureAggregate>,
}

/// Failed sign-ins per client address and minute, for the audit log (rule 41). In memory, per
/// process: on PostgreSQL each replica aggregates its own share.
#[derive(Default)]
pub struct SignInFailures {
    buckets: Mutex<FailureBuckets>,
}

impl SignInFailures {
    /// Counts one failed sign-in of `ip` at `now`; `true` when it is to be audited one by one
    /// (among the first [`SIGN_IN_FAILURES_AUDITED`] of its address this minute).
    pub fn note(&self, ip: IpAddr, now: i64) -> bool {
        let address = address_key(ip);
        let minute = now.div_euclid(60_000);
        let mut b = self.buckets.lock();
        if b.current.len() > 100_000 {
            Self::close_before(&mut b, minute);
        }
        let FailureBuckets { current, closed } = &mut *b;
        let entry = current.entry(address).or_insert((minute, 0));
        if entry.0 != minute {
            if entry.1 > SIGN_IN_FAILURES_AUDITED {
                closed.push(FailureAggregate {
                    address,
                    minute: entry.0,
                    count: entry.1 - SIGN_IN_FAILURES_AUDITED,
                });
            }
            *entry = (minute, 0);
        }
        entry.1 += 1;
        entry.1 <= SIGN_IN_FAILURES_AUDITED
    }

    /// Moves the buckets of minutes before `minute` to the closed list.
    fn close_before(b: &mut FailureBuckets, minute: i64) {
        let FailureBuckets { current, closed } = b;
        current.retain(|address, (m, count)| {
            if *m >= minute {
                return true;
            }
            if *count > SIGN_IN_FAILURES_AUDITED {
                closed.push(FailureAggregate {
                    address: *address,
                    minute: *m,
                    count: *count - SIGN_IN_FAILURES_AUDITED,
                });
            }
            false
        });
    }

    /// The aggregates of every minute before the minute of `now`, once each (`i64::MAX`:
    /// every minute, the current one included).
    pub fn drain(&self, now: i64) -> Vec<FailureAggregate> {
        let mut b = self.buckets.lock();
        Self::close_before(&mut b, now.div_euclid(60_000));
        std::mem::take(&mut b.closed)
    }

    /// Puts back aggregates that could not be written.
    pub fn restore(&self, aggregates: Vec<FailureAggregate>) {
        self.buckets.lock().closed.extend(aggregates);
    }
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

    #[test]
    fn rule_41_failures_past_ten_a_minute_are_aggregated_per_address() {
        let f = SignInFailures::default();
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8::2".parse().unwrap();
        let other: IpAddr = "192.0.2.9".parse().unwrap();
        let t = 120_000; // the start of minute 2
        let audited = (0..25)
            .filter(|i| f.note(if i % 2 == 0 { a } else { same_64 }, t + i))
            .count();
        assert_eq!(audited, 10);
        assert!(f.note(other, t + 30), "another address has its own count");
        assert!(f.drain(t + 59_999).is_empty(), "the minute has not ended");
        let agg = f.drain(t + 60_000);
        assert_eq!(
            agg,
            vec![FailureAggregate {
                address: address_key(a),
                minute: 2,
                count: 15
            }]
        );
        assert!(f.drain(t + 60_000).is_empty(), "each aggregate once");
        assert!(f.note(a, t + 60_001), "a new minute audits again");
    }

    #[test]
    fn rule_42_reserve_counts_before_the_comparison_and_release_takes_back() {
        let f = std::sync::Arc::new(AddressFailures::new(20, 60_000));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let passed: usize = (0..100)
            .map(|_| {
                let f = f.clone();
                std::thread::spawn(move || f.reserve(ip, 5).is_ok())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| usize::from(h.join().unwrap()))
            .sum();
        assert_eq!(passed, 20);
        f.release(ip, 5);
        assert!(f.reserve(ip, 6).is_ok(), "a released slot is free again");
        assert!(f.check(ip, 7).is_some());
    }

    #[test]
    fn rule_29_ipv6_clients_count_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(other));
        assert_eq!(address_key(a).to_string(), "2001:db8:1:2::");
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(address_key(v4), v4);
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), v4);
    }

    #[test]
    fn rule_29_concurrent_hits_never_pass_the_limit() {
        let w = std::sync::Arc::new(SlidingWindow::new(10, 60_000));
        let passed: usize = (0..20)
            .map(|_| {
                let w = w.clone();
                std::thread::spawn(move || w.hit("a@b.io", 5).is_ok())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| usize::from(h.join().unwrap()))
            .sum();
        assert_eq!(passed, 10);
    }

    #[test]
    fn rule_29_address_failures_refuse_after_max_and_only_count_failures() {
        let f = AddressFailures::new(3, 1000);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(f.check(ip, 0), None);
        for t in 0..3 {
            f.record(ip, t);
        }
        assert!(f.check(ip, 10).is_some());
        assert_eq!(f.check("192.0.2.2".parse().unwrap(), 10), None);
        assert_eq!(f.check(ip, 1003), None, "the window passed");
    }
}
