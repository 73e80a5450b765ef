//! SQL for companies and their token policy.

use crate::db::{params, Connection, Result, Row, Tx};

/// A company and its token policy. `Debug` hides the webhook secret (rule 45).
#[derive(Clone, PartialEq)]
pub struct Company {
    pub id: i64,
    pub name: String,
    /// `true` when `token_reveal = allowed`.
    pub reveal_allowed: bool,
    pub max_token_lifetime_days: Option<i64>,
    pub idle_disable_days: Option<i64>,
    /// The expiry the console proposes for a new token, in days from now.
    pub default_token_lifetime_days: i64,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
    pub created_at: i64,
}

impl std::fmt::Debug for Company {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Company")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("reveal_allowed", &self.reveal_allowed)
            .field("max_token_lifetime_days", &self.max_token_lifetime_days)
            .field("idle_disable_days", &self.idle_disable_days)
            .field(
                "default_token_lifetime_days",
                &self.default_token_lifetime_days,
            )
            .field("webhook_url", &self.webhook_url)
            .field(
                "webhook_secret",
                &crate::domain::secret::redacted(&self.webhook_secret),
            )
            .field("created_at", &self.created_at)
            .finish()
    }
}

const COLUMNS: &str = "id, name, token_reveal, max_token_lifetime_days, idle_disable_days, \
                       webhook_url, webhook_secret, created_at, default_token_lifetime_days";

fn from_row(r: &Row) -> Result<Company> {
    Ok(Company {
        id: r.get(0)?,
        name: r.get(1)?,
        reveal_allowed: r.get::<String>(2)? == "allowed",
        max_token_lifetime_days: r.get(3)?,
        idle_disable_days: r.get(4)?,
        webhook_url: r.get(5)?,
        webhook_secret: r.get(6)?,
        created_at: r.get(7)?,
        default_token_lifetime_days: r.get(8)?,
    })
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<Company>> {
    conn.query_opt(
        &format!("SELECT {COLUMNS} FROM companies WHERE id = $1"),
        params![id],
        from_row,
    )
}

pub fn list(
    conn: &Connection,
    only: Option<i64>,
    before: Option<i64>,
    limit: usize,
) -> Result<Vec<Company>> {
    conn.query_map(
        &format!(
            "SELECT {COLUMNS} FROM companies
         WHERE (CAST($1 AS BIGINT) IS NULL OR id = $1) AND (CAST($2 AS BIGINT) IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3"
        ),
        params![only, before, limit as i64],
        from_row,
    )
}

/// A new company, with the seed catalogue of API scopes (SPEC §18).
pub fn insert(tx: &Tx, name: &str, now: i64) -> Result<i64> {
    tx.touch_auth();
    let id = tx.query_row(
        "INSERT INTO companies (name, created_at) VALUES ($1, $2) RETURNING id",
        params![name, now],
        |r| r.get(0),
    )?;
    super::scopes::seed(tx, id, now)?;
    Ok(id)
}

pub fn update_policy(tx: &Tx, c: &Company) -> Result<()> {
    tx.touch_auth();
    tx.execute(
        "UPDATE companies SET token_reveal = $1, max_token_lifetime_days = $2,
                idle_disable_days = $3, webhook_url = $4, webhook_secret = $5,
                default_token_lifetime_days = $6
         WHERE id = $7",
        params![
            if c.reveal_allowed {
                "allowed"
            } else {
                "show_once"
            },
            c.max_token_lifetime_days,
            c.idle_disable_days,
            c.webhook_url,
            c.webhook_secret,
            c.default_token_lifetime_days,
            c.id
        ],
    )?;
    Ok(())
}

pub fn count(conn: &Connection) -> Result<i64> {
    conn.query_row("SELECT COUNT(*) FROM companies", params![], |r| r.get(0))
}

/// The default company: the first one, made at bootstrap.
pub fn first_id(conn: &Connection) -> Result<Option<i64>> {
    conn.query_row("SELECT min(id) FROM companies", params![], |r| r.get(0))
}
