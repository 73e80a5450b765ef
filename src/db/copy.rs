//! Copying an SQLite database into an empty PostgreSQL one (`tokend migrate-to`): every
//! column of every lasting table, parents before the rows that name them, from one read
//! snapshot of the source, in one transaction on the target.

use anyhow::{bail, Context};

use super::{params, Backend, Col, Connection, Error, Param, Result, Tx, Value};

/// A column value sent back as a parameter (the copy writes what it read).
impl Param for Col {
    fn value(&self) -> Value<'_> {
        match self {
            Col::Null => Value::Null,
            Col::Int(i) => Value::Int(*i),
            Col::Real(f) => Value::Real(*f),
            Col::Text(s) => Value::Text(s),
            Col::Blob(b) => Value::Blob(b),
        }
    }
}

/// One copied table.
struct Table {
    name: &'static str,
    /// The key its rows are read (and so inserted) in.
    order_by: &'static str,
    /// Its `id` is an identity column, whose sequence must continue after the copied ids.
    identity: bool,
    /// Appended to the INSERT: `meta` rows exist after the migrations, and are updated.
    on_conflict: &'static str,
}

const fn table(name: &'static str, order_by: &'static str, identity: bool) -> Table {
    Table {
        name,
        order_by,
        identity,
        on_conflict: "",
    }
}

/// The copied tables in foreign-key order.
const TABLES: &[Table] = &[
    table("companies", "id", true),
    table("scopes", "id", true),
    table("roles", "id", true),
    table("users", "id", true),
    table("tokens", "id", true),
    table("token_recent_ips", "token_id, ip", false),
    table("token_usage", "token_id, hour", false),
    table("legacy_credentials", "token_id", false),
    table("token_warnings", "token_id, warning, expires_at", false),
    table("nodes", "id", true),
    table("audit_events", "id", true),
    table("webhook_outbox", "id", true),
    table("retired_legacy_uuids", "uuid", false),
    Table {
        on_conflict: " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        ..table("meta", "key", false)
    },
];

/// Transient tables, not copied, with what that means.
pub const SKIPPED: &[(&str, &str)] = &[
    ("sessions", "console users sign in again"),
    ("limit_events", "login and revoke rate limits start afresh"),
];

/// Rows per INSERT statement, at most.
const BATCH_ROWS: usize = 200;

/// Rows copied per table, in copy order.
pub type Counts = Vec<(&'static str, u64)>;

/// Whether the database holds any company or user: one in use, never a copy's target.
pub fn in_use(conn: &Connection) -> Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM companies) OR EXISTS (SELECT 1 FROM users)",
        params![],
        |r| r.get(0),
    )
}

/// Copies `source` (SQLite) into `target` (PostgreSQL, migrated and empty) in one transaction,
/// then moves the identity sequences past the copied ids. A target with any company or user
/// is refused and nothing is written.
pub fn sqlite_to_postgres(source: &Connection, target: &Connection) -> anyhow::Result<Counts> {
    if source.backend() != Backend::Sqlite || target.backend() != Backend::Postgres {
        bail!("the copy goes from an SQLite database to a PostgreSQL one");
    }
    check_plan(source)?;
    let tx = Tx::begin(target)?;
    if in_use(&tx)? {
        bail!(
            "the target database already has companies or users; \
             migrate-to copies into an empty database only (nothing was written)"
        );
    }
    // A deferred transaction: every table is read from the same snapshot.
    source.execute_batch("BEGIN")?;
    let counts = copy_tables(source, &tx);
    let _ = source.execute_batch("ROLLBACK");
    let counts = counts?;
    reset_sequences(&tx)?;
    tx.commit(None)?;
    Ok(counts)
}

/// The tables of the source that are neither copied nor skipped: a table a later migration
/// adds must be named here, or it would be left behind without a word.
fn unplanned(source: &Connection) -> Result<Vec<String>> {
    let names: Vec<String> = source.query_map(
        "SELECT name FROM sqlite_master \
         WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
        params![],
        |r| r.get(0),
    )?;
    let planned = |n: &str| TABLES.iter().any(|t| t.name == n) || SKIPPED.iter().any(|s| s.0 == n);
    Ok(names.into_iter().filter(|n| !planned(n)).collect())
}

fn check_plan(source: &Connection) -> anyhow::Result<()> {
    let unknown = unplanned(source)?;
    if !unknown.is_empty() {
        bail!(
            "this tokend does not know how to copy table(s) {}",
            unknown.join(", ")
        );
    }
    Ok(())
}

fn copy_tables(source: &Connection, target: &Connection) -> anyhow::Result<Counts> {
    TABLES
        .iter()
        .map(|t| {
            let n = copy_table(source, target, t)
                .with_context(|| format!("cannot copy table {}", t.name))?;
            Ok((t.name, n))
        })
        .collect()
}

/// The column names of `table` on SQLite, double-quoted, in their order.
fn columns(source: &Connection, table: &str) -> Result<Vec<String>> {
    source.query_map(
        "SELECT name FROM pragma_table_info($1) ORDER BY cid",
        params![table],
        |r| Ok(format!("\"{}\"", r.get::<String>(0)?.replace('"', "\"\""))),
    )
}

/// Streams the rows of `t` from `source` to `target`, [`BATCH_ROWS`] per INSERT.
fn copy_table(source: &Connection, target: &Connection, t: &Table) -> Result<u64> {
    let cols = columns(source, t.name)?;
    if cols.is_empty() {
        return Err(Error::Other(format!("no table {} in the source", t.name)));
    }
    let list = cols.join(", ");
    let select = format!("SELECT {list} FROM {} ORDER BY {}", t.name, t.order_by);
    let mut batch: Vec<Vec<Col>> = Vec::with_capacity(BATCH_ROWS);
    let mut copied = 0;
    source.query_each(&select, params![], |r| {
        batch.push((0..cols.len()).map(|i| r.get(i)).collect::<Result<_>>()?);
        if batch.len() == BATCH_ROWS {
            copied += insert(target, t, &list, &mut batch)?;
        }
        Ok(())
    })?;
    copied += insert(target, t, &list, &mut batch)?;
    Ok(copied)
}

/// Inserts the rows of `batch` with one statement, and empties it.
fn insert(target: &Connection, t: &Table, list: &str, batch: &mut Vec<Vec<Col>>) -> Result<u64> {
    let Some(width) = batch.first().map(Vec::len) else {
        return Ok(0);
    };
    let sql = format!(
        "INSERT INTO {} ({list}) VALUES {}{}",
        t.name,
        placeholders(batch.len(), width),
        t.on_conflict
    );
    let values: Vec<&dyn Param> = batch.iter().flatten().map(|c| c as &dyn Param).collect();
    let written = target.execute(&sql, &values)?;
    if written != batch.len() {
        return Err(Error::Other(format!(
            "{written} of {} rows written",
            batch.len()
        )));
    }
    batch.clear();
    Ok(written as u64)
}

/// `($1, $2), ($3, $4)` for two rows of two columns.
fn placeholders(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|row| {
            let cols: Vec<String> = (1..=width)
                .map(|c| format!("${}", row * width + c))
                .collect();
            format!("({})", cols.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each identity sequence continues after the largest copied id (at 1 on an empty table).
fn reset_sequences(target: &Connection) -> Result<()> {
    for t in TABLES.iter().filter(|t| t.identity) {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence($1, 'id'), \
             COALESCE((SELECT MAX(id) FROM {}), 0) + 1, false)",
            t.name
        );
        target.query_row(&sql, params![t.name], |_| Ok(()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_rows_one_after_another() {
        assert_eq!(placeholders(1, 3), "($1, $2, $3)");
        assert_eq!(placeholders(2, 2), "($1, $2), ($3, $4)");
    }

    #[test]
    fn every_table_of_the_schema_is_copied_or_skipped() {
        let mut conn = Connection::sqlite(rusqlite::Connection::open_in_memory().expect("open"));
        super::super::migrate(&mut conn).expect("migrate");
        assert_eq!(unplanned(&conn).expect("tables"), Vec::<String>::new());
        for t in TABLES {
            assert!(
                !columns(&conn, t.name).expect("columns").is_empty(),
                "{}",
                t.name
            );
        }
    }

    #[test]
    fn columns_are_read_from_the_schema_in_order() {
        let mut conn = Connection::sqlite(rusqlite::Connection::open_in_memory().expect("open"));
        super::super::migrate(&mut conn).expect("migrate");
        assert_eq!(
            columns(&conn, "meta").expect("columns"),
            vec!["\"key\"", "\"value\""]
        );
    }
}
