//! Bench helper: inserts many tokens straight into a tokend database, fast (one transaction,
//! random digests — nobody knows their values). Used by `scripts/load` to compare the hot path
//! with 1 000 and 1 000 000 stored tokens, and to stage a purge of disabled tokens.
//!
//! cargo run --release --example seed -- DB COUNT [disabled]
//!
//! DB is an SQLite file or a PostgreSQL URL (there one `INSERT … SELECT` over
//! `generate_series`, digests computed by the server).

use std::time::Instant;

use rusqlite::{params, Connection};
use sha2::{Digest, Sha256};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        anyhow::bail!("usage: seed DB COUNT [disabled]");
    }
    let count: u64 = args[2].parse()?;
    let disabled = args.get(3).is_some_and(|a| a == "disabled");
    if args[1].starts_with("postgres://") || args[1].starts_with("postgresql://") {
        return seed_postgres(&args[1], count, disabled);
    }
    let mut conn = Connection::open(&args[1])?;
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")?;
    let (company, owner): (i64, i64) = conn.query_row(
        "SELECT company_id, id FROM users WHERE role = 'global_admin' ORDER BY id LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let start = Instant::now();
    let now = chrono::Utc::now().timestamp_millis();
    let long_ago = now - 30 * 86_400_000;
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare(
            "INSERT INTO tokens (company_id, owner_id, creator_id, kind, name, name_key, permissions,
                 digest, value_hint, enabled, disabled_reason, disabled_at, created_at, updated_at)
             VALUES ($1, $2, $2, 'private', $3, $3, 'tokens:read', $4, 'tkd_seed', $5, $6, $7, $8, $8)",
        )?;
        let tag = format!("{}", std::process::id());
        for i in 0..count {
            let name = format!("seed-{tag}-{i}");
            let digest = Sha256::digest(format!("{name}-{now}").as_bytes()).to_vec();
            stmt.execute(params![
                company,
                owner,
                name,
                digest,
                !disabled,
                disabled.then_some("manual"),
                disabled.then_some(long_ago),
                now
            ])?;
        }
    }
    tx.commit()?;
    println!(
        "seeded {count} {} tokens in {:.1}s",
        if disabled { "disabled" } else { "enabled" },
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn seed_postgres(url: &str, count: u64, disabled: bool) -> anyhow::Result<()> {
    let mut c = postgres::Client::connect(url, postgres::NoTls)?;
    let row = c.query_one(
        "SELECT company_id, id FROM users WHERE role = 'global_admin' ORDER BY id LIMIT 1",
        &[],
    )?;
    let (company, owner): (i64, i64) = (row.get(0), row.get(1));
    let start = Instant::now();
    let now = chrono::Utc::now().timestamp_millis();
    let long_ago = now - 30 * 86_400_000;
    let tag = format!("seed-{}-{now}-", std::process::id());
    c.execute(
        "INSERT INTO tokens (company_id, owner_id, creator_id, kind, name, name_key, permissions,
             digest, value_hint, enabled, disabled_reason, disabled_at, created_at, updated_at)
         SELECT $1, $2, $2, 'private', $3 || g, $3 || g, 'tokens:read',
                sha256(convert_to($3 || g, 'UTF8')), 'tkd_seed', $4, $5, $6, $7, $7
         FROM generate_series(1, CAST($8 AS BIGINT)) g",
        &[
            &company,
            &owner,
            &tag,
            &i64::from(!disabled),
            &disabled.then_some("manual"),
            &disabled.then_some(long_ago),
            &now,
            &(count as i64),
        ],
    )?;
    c.batch_execute("ANALYZE tokens")?;
    println!(
        "seeded {count} {} tokens in {:.1}s",
        if disabled { "disabled" } else { "enabled" },
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
