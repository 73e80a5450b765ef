//! SQL for the audit log.

use crate::db::{params, Arg as Value, Connection, Result, Tx};

use crate::domain::listing::AuditFilter;

#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub id: i64,
    pub company_id: Option<i64>,
    pub actor_id: Option<i64>,
    pub actor_email: Option<String>,
    pub token_id: Option<i64>,
    pub user_id: Option<i64>,
    pub action: String,
    pub ip: Option<String>,
    pub details: String,
    pub created_at: i64,
    pub via: String,
    pub credential_id: Option<i64>,
    pub on_behalf_of: Option<i64>,
}

pub struct NewEvent<'a> {
    pub company_id: Option<i64>,
    pub actor_id: Option<i64>,
    pub actor_email: Option<&'a str>,
    pub token_id: Option<i64>,
    pub user_id: Option<i64>,
    pub action: &'a str,
    pub ip: Option<&'a str>,
    pub details: &'a str,
    pub now: i64,
    pub via: &'a str,
    pub credential_id: Option<i64>,
    pub on_behalf_of: Option<i64>,
}

pub fn insert(tx: &Tx, e: &NewEvent) -> Result<()> {
    tx.execute(
        "INSERT INTO audit_events (company_id, actor_id, actor_email, token_id, user_id, action,
                                   ip, details, created_at, via, credential_id, on_behalf_of)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        params![
            e.company_id,
            e.actor_id,
            e.actor_email,
            e.token_id,
            e.user_id,
            e.action,
            e.ip,
            e.details,
            e.now,
            e.via,
            e.credential_id,
            e.on_behalf_of,
        ],
    )?;
    Ok(())
}

pub fn list(
    conn: &Connection,
    f: &AuditFilter,
    before: Option<i64>,
    limit: usize,
) -> Result<Vec<AuditEvent>> {
    let mut sql = String::from(
        "SELECT id, company_id, actor_id, actor_email, token_id, user_id, action, ip, details,
                created_at, via, credential_id, on_behalf_of FROM audit_events WHERE 1 = 1",
    );
    let mut args: Vec<Value> = Vec::new();
    let mut push = |clause: &str, v: Value| {
        args.push(v);
        sql.push_str(&clause.replace('?', &format!("${}", args.len())));
    };
    if let Some(v) = f.company_id {
        push(" AND company_id = ?", v.into());
    }
    if let Some(v) = f.actor_id {
        push(" AND actor_id = ?", v.into());
    }
    if let Some(v) = f.token_id {
        push(" AND token_id = ?", v.into());
    }
    if let Some(v) = &f.action {
        push(" AND action = ?", v.clone().into());
    }
    if let Some(v) = f.since {
        push(" AND created_at >= ?", v.into());
    }
    if let Some(v) = f.until {
        push(" AND created_at <= ?", v.into());
    }
    if let Some(v) = before {
        push(" AND id < ?", v.into());
    }
    push(" ORDER BY id DESC LIMIT ?", (limit as i64).into());
    conn.query_map(&sql, &crate::db::args(&args), |r| {
        Ok(AuditEvent {
            id: r.get(0)?,
            company_id: r.get(1)?,
            actor_id: r.get(2)?,
            actor_email: r.get(3)?,
            token_id: r.get(4)?,
            user_id: r.get(5)?,
            action: r.get(6)?,
            ip: r.get(7)?,
            details: r.get(8)?,
            created_at: r.get(9)?,
            via: r.get(10)?,
            credential_id: r.get(11)?,
            on_behalf_of: r.get(12)?,
        })
    })
}
