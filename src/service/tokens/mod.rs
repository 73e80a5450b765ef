//! API tokens: create, read, list, edit, delete, renew, reveal, bulk (rules 1–14).

mod changes;
mod create;
mod list;
mod rules;
mod types;
mod update;
mod usage;
mod values;

pub use changes::{bulk, delete, delete_row, disable_row, record_toggle};
pub use create::{create, create_with_value};
pub use list::{list, list_page, ListPage, MAX_PAGE_SIZE};
pub use rules::{load_visible, parse_cidrs, seal};
pub use types::*;
pub use update::update;
pub use usage::{
    purge_usage, usage, usage_counts, Bucket, UsageItem, UsageView, USAGE_RETENTION_MS,
};
pub use values::{renew, reveal};

use rules::company;

use crate::db::Connection;

use super::{require, Env};
use crate::db;
use crate::domain::caller::Caller;
use crate::domain::permissions::Permission;
use crate::domain::time::{fmt_time, from_ms};
use crate::service::error::Result;

/// `GET /v1/tokens/{id}`: one token with its last client addresses.
pub fn get(conn: &Connection, env: &Env, caller: &Caller, id: i64) -> Result<TokenView> {
    require(caller, Permission::TokensRead)?;
    let t = load_visible(conn, caller, id)?;
    let mut v = view(&t, caller, &company(conn, t.company_id)?, env);
    v.recent_ips = Some(
        db::tokens::recent_ips(conn, t.id)?
            .into_iter()
            .map(|(ip, first, last)| RecentIp {
                ip,
                first_seen_at: fmt_time(&from_ms(first)),
                last_seen_at: fmt_time(&from_ms(last)),
            })
            .collect(),
    );
    Ok(v)
}
