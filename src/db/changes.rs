//! What one replica tells the others after a write that can change who may authenticate
//! (PostgreSQL `NOTIFY`): who wrote, the change counter after the write, and which token
//! digests appeared or disappeared — or, when they do not fit in one notification, that
//! everything must be reloaded.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use postgres::fallible_iterator::FallibleIterator;

use super::{Connection, Effects, Error, Pool, Result};
use crate::domain::token_value::TokenDigest;

/// The notification channel.
pub const CHANNEL: &str = "tokend_changes";

/// Digests carried in one notification at most; a bigger change says "reload" instead
/// (PostgreSQL caps a payload at 8000 bytes; one digest takes 44).
const MAX_DIGESTS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub origin: String,
    pub epoch: i64,
    /// `None`: too many to carry, reload everything.
    pub digests: Option<(Vec<TokenDigest>, Vec<TokenDigest>)>,
}

impl Change {
    pub fn of(origin: &str, epoch: i64, e: &Effects) -> Change {
        let fits = e.added.len() + e.removed.len() <= MAX_DIGESTS;
        Change {
            origin: origin.to_owned(),
            epoch,
            digests: fits.then(|| (e.added.clone(), e.removed.clone())),
        }
    }

    /// `origin epoch +d1,d2 -d3`, or `origin epoch reload`.
    pub fn encode(&self) -> String {
        let list = |ds: &[TokenDigest]| {
            ds.iter()
                .map(|d| B64.encode(d.0))
                .collect::<Vec<_>>()
                .join(",")
        };
        match &self.digests {
            Some((added, removed)) => format!(
                "{} {} +{} -{}",
                self.origin,
                self.epoch,
                list(added),
                list(removed)
            ),
            None => format!("{} {} reload", self.origin, self.epoch),
        }
    }

    /// The change a payload describes; `None` for anything malformed (the caller reloads).
    pub fn parse(payload: &str) -> Option<Change> {
        let mut parts = payload.split(' ');
        let origin = parts.next()?.to_owned();
        let epoch = parts.next()?.parse().ok()?;
        let first = parts.next()?;
        let digests = if first == "reload" {
            None
        } else {
            let added = digests(first.strip_prefix('+')?)?;
            let removed = digests(parts.next()?.strip_prefix('-')?)?;
            Some((added, removed))
        };
        Some(Change {
            origin,
            epoch,
            digests,
        })
    }
}

/// A connection of its own that listens on [`CHANNEL`] (PostgreSQL).
pub struct Listener {
    conn: Connection,
}

impl Listener {
    pub fn connect(pool: &Pool) -> Result<Listener> {
        let conn = pool.dedicated()?;
        conn.execute_batch(&format!("LISTEN {CHANNEL}"))?;
        Ok(Listener { conn })
    }

    /// The payloads that arrive within `timeout` (waiting for the first one only, then taking
    /// whatever else is already there). An error means the connection is gone.
    pub fn wait(&self, timeout: Duration) -> Result<Vec<String>> {
        self.conn.with_pg(|c| {
            let mut out = Vec::new();
            {
                let mut notes = c.notifications();
                if let Some(n) = notes.timeout_iter(timeout).next()? {
                    out.push(n.payload().to_owned());
                }
                let mut pending = notes.iter();
                while let Some(n) = pending.next()? {
                    out.push(n.payload().to_owned());
                }
            }
            if c.is_closed() {
                return Err(Error::Unavailable("the listening connection closed".into()));
            }
            Ok(out)
        })
    }
}

fn digests(list: &str) -> Option<Vec<TokenDigest>> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| TokenDigest::from_slice(&B64.decode(s).ok()?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn effects(added: usize, removed: usize) -> Effects {
        Effects {
            added: (0..added)
                .map(|i| TokenDigest::of(&format!("a{i}")))
                .collect(),
            removed: (0..removed)
                .map(|i| TokenDigest::of(&format!("r{i}")))
                .collect(),
            touches_auth: true,
        }
    }

    #[test]
    fn a_change_reads_back_as_written() {
        for (a, r) in [(0, 0), (1, 0), (0, 2), (3, 4)] {
            let c = Change::of("replica-1", 42, &effects(a, r));
            assert_eq!(Change::parse(&c.encode()), Some(c));
        }
    }

    #[test]
    fn a_change_too_big_for_one_notification_asks_for_a_reload() {
        let c = Change::of("x", 7, &effects(80, 21));
        assert_eq!(c.encode(), "x 7 reload");
        assert_eq!(Change::parse("x 7 reload").unwrap().digests, None);
        assert!(Change::of("x", 7, &effects(60, 40)).encode().len() < 8000);
    }

    #[test]
    fn malformed_payloads_are_refused() {
        for p in ["", "x", "x y +", "x 1 +abc -", "x 1 +", "x 1 -a +b"] {
            assert_eq!(Change::parse(p), None, "{p:?}");
        }
    }
}
