//! The rules of docs/RULES.md, one function per operation, each inside the caller's transaction.
//! The JSON API and the console call these same functions, so a rule is written once.

pub mod audit;
pub mod bootstrap;
pub mod companies;
pub mod console;
pub mod error;
pub mod flush;
pub mod legacy;
pub mod lifecycle;
pub mod nodes;
pub mod pending;
pub mod policy;
pub mod revoke;
pub mod roles;
pub mod scopes;
pub mod sessions;
pub mod status;
pub mod throttle;
pub mod tokens;
pub mod users;
pub mod webhook_target;
pub mod webhooks;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::crypto::Keys;

/// What every operation needs besides its input: keys, the time, and the retention period.
#[derive(Clone)]
pub struct Env {
    pub keys: Arc<Keys>,
    pub now: DateTime<Utc>,
    pub retention_ms: i64,
    /// The quota counts this process holds that the database may not have yet (`day` and
    /// `month` quotas are written by the flush), so token objects show what is left now.
    pub live_quota: Option<Arc<dyn LiveQuota>>,
}

/// Quota counts kept in memory (SPEC §16).
pub trait LiveQuota: Send + Sync {
    /// What is left of a token's quota by this process's count, when it has one.
    fn remaining(
        &self,
        token_id: i64,
        l: &crate::db::tokens::limits::Limits,
        now_ms: i64,
    ) -> Option<i64>;
}

impl Env {
    pub fn now_ms(&self) -> i64 {
        self.now.timestamp_millis()
    }
}

pub use error::{Error, Result};
pub use policy::require;

/// Paging: `limit` (1–500, default 50) and an opaque `cursor`.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub before: Option<i64>,
    pub limit: usize,
}

pub const MAX_LIMIT: usize = 500;

impl Page {
    /// Validates raw paging input; bad values answer 422 naming `limit` or `cursor`.
    pub fn parse(keys: &Keys, limit: Option<i64>, cursor: Option<&str>) -> Result<Page> {
        let limit = match limit {
            None => 50,
            Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => n as usize,
            Some(_) => {
                return Err(Error::field(
                    "limit",
                    format!("must be between 1 and {MAX_LIMIT}"),
                ))
            }
        };
        let before =
            match cursor.filter(|c| !c.is_empty()) {
                None => None,
                Some(c) => Some(keys.parse_cursor(c).ok_or_else(|| {
                    Error::field("cursor", "is not a cursor this server handed out")
                })?),
            };
        Ok(Page { before, limit })
    }

    /// The cursor for the page after one that returned `ids` (`None` when it was the last).
    pub fn next_cursor(
        &self,
        keys: &Keys,
        last_id: Option<i64>,
        returned: usize,
    ) -> Option<String> {
        (returned == self.limit)
            .then_some(last_id)
            .flatten()
            .map(|id| keys.cursor(id))
    }
}
