//! One connection type over both backends. Queries are written once, with numbered
//! parameters (`$1`, `$2`, …): PostgreSQL reads them natively, and on SQLite each `$n` is
//! bound by its name, so their order in the text does not matter. Values cross the boundary
//! through two small types: [`Value`] in (parameters) and [`Col`] out (row columns), each
//! adapted to what the column or parameter really is on the backend at hand.

use std::cell::RefCell;
use std::collections::HashMap;

use postgres::types::{ToSql, Type};
use r2d2_sqlite::SqliteConnectionManager;

use super::error::{Error, Result};
use super::pg::PgManager;
use super::value::{Col, FromCol, Param, PgValue};

/// Which database a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A PostgreSQL client with its prepared statements, kept per connection.
pub struct PgConn {
    pub client: postgres::Client,
    statements: HashMap<String, postgres::Statement>,
}

impl PgConn {
    pub fn new(client: postgres::Client) -> PgConn {
        PgConn {
            client,
            statements: HashMap::new(),
        }
    }

    fn prepare(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }
}

enum SqliteHandle {
    Pooled(r2d2::PooledConnection<SqliteConnectionManager>),
    Own(rusqlite::Connection),
}

enum PgHandle {
    Pooled(r2d2::PooledConnection<PgManager>),
    Own(PgConn),
}

impl PgHandle {
    fn get(&mut self) -> &mut PgConn {
        match self {
            PgHandle::Pooled(c) => c,
            PgHandle::Own(c) => c,
        }
    }
}

// A connection lives briefly on one stack per operation; boxing the larger variant would only
// add an allocation to every checkout.
#[allow(clippy::large_enum_variant)]
enum Inner {
    Sqlite(SqliteHandle),
    Pg(RefCell<PgHandle>),
}

/// A database connection (pooled or owned), on either backend.
pub struct Connection {
    inner: Inner,
}

/// The `$n` names SQLite gives numbered parameters, so binding needs no formatting.
const NAMES: [&str; 24] = [
    "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12", "$13", "$14", "$15",
    "$16", "$17", "$18", "$19", "$20", "$21", "$22", "$23", "$24",
];

/// One result row, on either backend.
pub enum Row<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Pg(&'a postgres::Row),
}

impl Row<'_> {
    /// Column `i` as `T`; a value of another type is an error naming the column.
    pub fn get<T: FromCol>(&self, i: usize) -> Result<T> {
        let c = self.col(i)?;
        let shown = format!("{c:?}");
        T::from_col(c).ok_or_else(|| {
            Error::Corrupt(format!(
                "column {i} holds {shown:.40}, not a {}",
                std::any::type_name::<T>()
            ))
        })
    }

    fn col(&self, i: usize) -> Result<Col> {
        match self {
            Row::Sqlite(r) => {
                use rusqlite::types::ValueRef;
                Ok(match r.get_ref(i)? {
                    ValueRef::Null => Col::Null,
                    ValueRef::Integer(n) => Col::Int(n),
                    ValueRef::Real(f) => Col::Real(f),
                    ValueRef::Text(t) => Col::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Col::Blob(b.to_vec()),
                })
            }
            Row::Pg(r) => pg_col(r, i),
        }
    }
}

fn pg_col(r: &postgres::Row, i: usize) -> Result<Col> {
    let ty = r
        .columns()
        .get(i)
        .ok_or_else(|| Error::Corrupt(format!("no column {i}")))?
        .type_()
        .clone();
    let c = match ty {
        Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map(Col::Int),
        Type::INT4 => r.try_get::<_, Option<i32>>(i)?.map(|n| Col::Int(n.into())),
        Type::INT2 => r.try_get::<_, Option<i16>>(i)?.map(|n| Col::Int(n.into())),
        Type::BOOL => r.try_get::<_, Option<bool>>(i)?.map(|b| Col::Int(b.into())),
        Type::FLOAT8 => r.try_get::<_, Option<f64>>(i)?.map(Col::Real),
        Type::BYTEA => r.try_get::<_, Option<Vec<u8>>>(i)?.map(Col::Blob),
        _ => r.try_get::<_, Option<String>>(i)?.map(Col::Text),
    };
    Ok(c.unwrap_or(Col::Null))
}

fn pg_params<'a>(params: &'a [&'a dyn Param]) -> Vec<PgValue<'a>> {
    params.iter().map(|p| PgValue(p.value())).collect()
}

fn pg_refs<'a>(values: &'a [PgValue<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

/// Binds `params` to a prepared SQLite statement: by `$n` name when the statement uses
/// numbered parameters, else by position.
fn bind(stmt: &mut rusqlite::Statement, params: &[&dyn Param]) -> Result<()> {
    let named = stmt.parameter_name(1).is_some_and(|n| n.starts_with('$'));
    for (i, p) in params.iter().enumerate() {
        let index = if named {
            let name = NAMES
                .get(i)
                .ok_or_else(|| Error::Other(format!("more than {} parameters", NAMES.len())))?;
            match stmt.parameter_index(name)? {
                Some(index) => index,
                None => continue,
            }
        } else {
            i + 1
        };
        stmt.raw_bind_parameter(index, p.value())?;
    }
    Ok(())
}

impl Connection {
    pub(super) fn sqlite_pooled(c: r2d2::PooledConnection<SqliteConnectionManager>) -> Self {
        Connection {
            inner: Inner::Sqlite(SqliteHandle::Pooled(c)),
        }
    }

    /// An unpooled SQLite connection (tests, one-off commands).
    pub fn sqlite(c: rusqlite::Connection) -> Self {
        Connection {
            inner: Inner::Sqlite(SqliteHandle::Own(c)),
        }
    }

    pub(super) fn pg_pooled(c: r2d2::PooledConnection<PgManager>) -> Self {
        Connection {
            inner: Inner::Pg(RefCell::new(PgHandle::Pooled(c))),
        }
    }

    /// An unpooled PostgreSQL connection (the change listener, one-off commands).
    pub fn pg(c: PgConn) -> Self {
        Connection {
            inner: Inner::Pg(RefCell::new(PgHandle::Own(c))),
        }
    }

    pub fn backend(&self) -> Backend {
        match self.inner {
            Inner::Sqlite(_) => Backend::Sqlite,
            Inner::Pg(_) => Backend::Postgres,
        }
    }

    /// The SQLite connection, for what only SQLite has (backup, pragmas).
    pub fn as_sqlite(&self) -> Option<&rusqlite::Connection> {
        match &self.inner {
            Inner::Sqlite(SqliteHandle::Pooled(c)) => Some(c),
            Inner::Sqlite(SqliteHandle::Own(c)) => Some(c),
            Inner::Pg(_) => None,
        }
    }

    /// The SQLite connection, mutably (migrations).
    pub fn as_sqlite_mut(&mut self) -> Option<&mut rusqlite::Connection> {
        match &mut self.inner {
            Inner::Sqlite(SqliteHandle::Pooled(c)) => Some(c),
            Inner::Sqlite(SqliteHandle::Own(c)) => Some(c),
            Inner::Pg(_) => None,
        }
    }

    /// Runs `f` on the PostgreSQL client (listen, notifications, raw statements).
    pub fn with_pg<T>(&self, f: impl FnOnce(&mut postgres::Client) -> Result<T>) -> Result<T> {
        match &self.inner {
            Inner::Pg(c) => f(&mut c.borrow_mut().get().client),
            Inner::Sqlite(_) => Err(Error::Other("not a PostgreSQL connection".into())),
        }
    }

    /// Runs several statements without parameters.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        match &self.inner {
            Inner::Sqlite(_) => Ok(self.sqlite_conn().execute_batch(sql)?),
            Inner::Pg(c) => Ok(c.borrow_mut().get().client.batch_execute(sql)?),
        }
    }

    fn sqlite_conn(&self) -> &rusqlite::Connection {
        self.as_sqlite().expect("an SQLite connection")
    }

    /// Runs one statement; the number of rows it changed.
    pub fn execute(&self, sql: &str, params: &[&dyn Param]) -> Result<usize> {
        match &self.inner {
            Inner::Sqlite(_) => {
                let mut stmt = self.sqlite_conn().prepare_cached(sql)?;
                bind(&mut stmt, params)?;
                Ok(stmt.raw_execute()?)
            }
            Inner::Pg(c) => {
                let mut c = c.borrow_mut();
                let c = c.get();
                let stmt = c.prepare(sql)?;
                let values = pg_params(params);
                let n = c.client.execute(&stmt, &pg_refs(&values))?;
                Ok(usize::try_from(n).unwrap_or(usize::MAX))
            }
        }
    }

    /// Calls `f` on every row, in order, without collecting them.
    pub fn query_each(
        &self,
        sql: &str,
        params: &[&dyn Param],
        mut f: impl FnMut(&Row) -> Result<()>,
    ) -> Result<()> {
        self.rows(sql, params, |r| f(r).map(|()| true))
    }

    /// Runs a query and calls `f` on its rows in order while it answers `true` (more wanted).
    fn rows(
        &self,
        sql: &str,
        params: &[&dyn Param],
        mut f: impl FnMut(&Row) -> Result<bool>,
    ) -> Result<()> {
        match &self.inner {
            Inner::Sqlite(_) => {
                let mut stmt = self.sqlite_conn().prepare_cached(sql)?;
                bind(&mut stmt, params)?;
                let mut rows = stmt.raw_query();
                while let Some(r) = rows.next()? {
                    if !f(&Row::Sqlite(r))? {
                        break;
                    }
                }
            }
            Inner::Pg(c) => {
                use postgres::fallible_iterator::FallibleIterator;
                let mut c = c.borrow_mut();
                let c = c.get();
                let stmt = c.prepare(sql)?;
                let values = pg_params(params);
                let mut rows = c.client.query_raw(&stmt, pg_refs(&values))?;
                while let Some(r) = rows.next()? {
                    if !f(&Row::Pg(&r))? {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// Every row, read through `f`.
    pub fn query_map<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        mut f: impl FnMut(&Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        self.query_each(sql, params, |r| {
            out.push(f(r)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// The first row, if any.
    pub fn query_opt<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnOnce(&Row) -> Result<T>,
    ) -> Result<Option<T>> {
        let (mut f, mut first) = (Some(f), None);
        self.rows(sql, params, |r| {
            if let Some(f) = f.take() {
                first = Some(f(r)?);
            }
            Ok(false)
        })?;
        Ok(first)
    }

    /// The first row; none is [`Error::NoRows`].
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        f: impl FnOnce(&Row) -> Result<T>,
    ) -> Result<T> {
        self.query_opt(sql, params, f)?.ok_or(Error::NoRows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params;

    fn memory() -> Connection {
        Connection::sqlite(rusqlite::Connection::open_in_memory().expect("sqlite"))
    }

    #[test]
    fn numbered_parameters_bind_by_number_whatever_their_order_in_the_text() {
        let c = memory();
        let (a, b): (i64, String) = c
            .query_row("SELECT $2, $1", params!["one", 2], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .expect("row");
        assert_eq!((a, b.as_str()), (2, "one"));
        let n: i64 = c
            .query_row("SELECT $1 + $1", params![21], |r| r.get(0))
            .expect("row");
        assert_eq!(n, 42);
    }

    #[test]
    fn values_read_back_as_their_types_and_a_wrong_type_is_an_error() {
        let c = memory();
        let row = |sql: &str| {
            c.query_row(sql, params![], |r| {
                Ok((
                    r.get::<Option<i64>>(0)?,
                    r.get::<bool>(1)?,
                    r.get::<Vec<u8>>(2)?,
                ))
            })
        };
        assert_eq!(
            row("SELECT NULL, 1, x'00ff'").expect("row"),
            (None, true, vec![0, 255])
        );
        assert!(matches!(
            row("SELECT 'text', 1, x'00'"),
            Err(Error::Corrupt(_))
        ));
        assert!(matches!(
            c.query_row("SELECT 1 WHERE 0", params![], |r| r.get::<i64>(0)),
            Err(Error::NoRows)
        ));
    }
}
