//! Token lists: the visibility scope and filters as one `WHERE`, then either newest first
//! below a cursor id (the API) or sorted by a column with an offset and a total (the console).

use crate::db::{args, Arg as Value, Connection, Result};

use super::{from_row, TokenRow, SELECT};
use crate::domain::listing::{Scope, SortKey, TokenFilter, TokenSort, TokenStatus};

/// A `WHERE` clause with numbered placeholders and their values.
struct Where {
    sql: String,
    args: Vec<Value>,
}

impl Where {
    fn new() -> Where {
        Where {
            sql: " WHERE 1 = 1".to_string(),
            args: Vec::new(),
        }
    }

    /// Appends `clause`, whose `?` stands for `v`.
    fn push(&mut self, clause: &str, v: Value) {
        self.args.push(v);
        self.sql
            .push_str(&clause.replace('?', &format!("${}", self.args.len())));
    }

    fn of(scope: Scope, f: &TokenFilter) -> Where {
        let mut w = Where::new();
        match scope {
            Scope::All => {}
            Scope::Company(c) => w.push(" AND t.company_id = ?", c.into()),
            Scope::Own {
                user_id,
                company_id,
            } => {
                w.push(" AND (t.owner_id = ?", user_id.into());
                w.push(
                    " OR (t.company_id = ? AND t.kind = 'shared' AND t.audience = 'company'))",
                    company_id.into(),
                );
            }
        }
        if let Some(name) = &f.name {
            let pattern = crate::db::contains_pattern(name);
            w.push(" AND t.name_key LIKE ? ESCAPE '\\'", pattern.into());
        }
        if let Some(v) = f.owner_id {
            w.push(" AND t.owner_id = ?", v.into());
        }
        if let Some(v) = f.creator_id {
            w.push(" AND t.creator_id = ?", v.into());
        }
        // Expired: past its expiry (whatever the stored flag), or disabled because it expired.
        match f.status {
            None => {}
            Some(TokenStatus::Expired) => {
                w.push(
                    " AND ((t.expires_at IS NOT NULL AND t.expires_at <= ?)",
                    f.now.into(),
                );
                w.sql
                    .push_str(" OR (t.enabled = 0 AND t.disabled_reason = 'expired'))");
            }
            Some(TokenStatus::Enabled) => {
                w.push(
                    " AND t.enabled = 1 AND (t.expires_at IS NULL OR t.expires_at > ?)",
                    f.now.into(),
                );
            }
            Some(TokenStatus::Disabled) => {
                w.push(
                    " AND t.enabled = 0 AND (t.expires_at IS NULL OR t.expires_at > ?)",
                    f.now.into(),
                );
                w.sql
                    .push_str(" AND (t.disabled_reason IS NULL OR t.disabled_reason <> 'expired')");
            }
        }
        if let Some(k) = f.kind {
            w.push(" AND t.kind = ?", k.as_str().to_string().into());
        }
        if let Some(v) = f.expires_before {
            w.push(" AND t.expires_at < ?", v.into());
        }
        if let Some(v) = f.expires_after {
            w.push(" AND t.expires_at > ?", v.into());
        }
        if let Some(days) = f.expires_within_days {
            w.push(" AND t.expires_at > ?", f.now.into());
            let until = f.now.saturating_add(i64::from(days) * 86_400_000);
            w.push(" AND t.expires_at < ?", until.into());
        }
        w
    }

    fn rows(self, conn: &Connection) -> Result<Vec<TokenRow>> {
        let sql = format!("{SELECT}{}", self.sql);
        conn.query_map(&sql, &args(&self.args), from_row)
    }
}

/// One page of tokens, newest first, with ids below `before`.
pub fn list(
    conn: &Connection,
    scope: Scope,
    f: &TokenFilter,
    before: Option<i64>,
    limit: usize,
) -> Result<Vec<TokenRow>> {
    let mut w = Where::of(scope, f);
    if let Some(v) = before {
        w.push(" AND t.id < ?", v.into());
    }
    w.push(" ORDER BY t.id DESC LIMIT ?", (limit as i64).into());
    w.rows(conn)
}

/// One page of tokens in the order `sort`, skipping `offset` rows. Ties fall back to the id,
/// so pages never overlap.
pub fn list_sorted(
    conn: &Connection,
    scope: Scope,
    f: &TokenFilter,
    sort: TokenSort,
    offset: usize,
    limit: usize,
) -> Result<Vec<TokenRow>> {
    let dir = if sort.descending { "DESC" } else { "ASC" };
    // A token that never expires sorts after every date; one never used, before every date.
    let column = match sort.key {
        SortKey::Name => "t.name_key".to_string(),
        SortKey::Owner => "o.email".to_string(),
        SortKey::Creator => "COALESCE(c.email, '')".to_string(),
        SortKey::Kind => "t.kind".to_string(),
        SortKey::Expires => format!("t.expires_at IS NULL {dir}, t.expires_at"),
        SortKey::LastUsed => "COALESCE(t.last_used_at, 0)".to_string(),
        SortKey::Status => "t.enabled".to_string(),
        SortKey::Created => "t.created_at".to_string(),
    };
    let mut w = Where::of(scope, f);
    w.sql
        .push_str(&format!(" ORDER BY {column} {dir}, t.id {dir}"));
    w.push(" LIMIT ?", (limit as i64).into());
    w.push(" OFFSET ?", (offset as i64).into());
    w.rows(conn)
}

/// How many tokens the scope and filters match.
pub fn count(conn: &Connection, scope: Scope, f: &TokenFilter) -> Result<i64> {
    let w = Where::of(scope, f);
    let sql = format!(
        "SELECT COUNT(*) FROM tokens t JOIN users o ON o.id = t.owner_id{}",
        w.sql
    );
    conn.query_row(&sql, &args(&w.args), |r| r.get(0))
}
