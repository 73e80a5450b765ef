//! Values crossing the storage boundary: [`Param`] / [`Value`] in (query parameters, each
//! written as the type the backend expects at its place) and [`Col`] / [`FromCol`] out (row
//! columns, read by their actual type).

use postgres::types::{to_sql_checked, IsNull, ToSql, Type};

/// One parameter value.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

/// Anything that can be a query parameter (`Sync`, so a parameter list can be handed to
/// another thread).
pub trait Param: Sync {
    fn value(&self) -> Value<'_>;
}

impl Param for i64 {
    fn value(&self) -> Value<'_> {
        Value::Int(*self)
    }
}
impl Param for i32 {
    fn value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}
impl Param for u32 {
    fn value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}
impl Param for usize {
    fn value(&self) -> Value<'_> {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}
impl Param for bool {
    fn value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}
impl Param for str {
    fn value(&self) -> Value<'_> {
        Value::Text(self)
    }
}
impl Param for String {
    fn value(&self) -> Value<'_> {
        Value::Text(self)
    }
}
impl Param for [u8] {
    fn value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}
impl Param for Vec<u8> {
    fn value(&self) -> Value<'_> {
        Value::Blob(self)
    }
}
impl<T: Param> Param for Option<T> {
    fn value(&self) -> Value<'_> {
        self.as_ref().map_or(Value::Null, Param::value)
    }
}
impl<T: Param + ?Sized> Param for &T {
    fn value(&self) -> Value<'_> {
        (**self).value()
    }
}

/// An owned parameter, for queries whose clauses are assembled at run time.
#[derive(Debug, Clone)]
pub enum Arg {
    Int(i64),
    Text(String),
}

impl From<i64> for Arg {
    fn from(i: i64) -> Arg {
        Arg::Int(i)
    }
}
impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Text(s)
    }
}

impl Param for Arg {
    fn value(&self) -> Value<'_> {
        match self {
            Arg::Int(i) => Value::Int(*i),
            Arg::Text(s) => Value::Text(s),
        }
    }
}

/// `args` as the parameter list of a query.
pub fn args(args: &[Arg]) -> Vec<&dyn Param> {
    args.iter().map(|a| a as &dyn Param).collect()
}

/// Parameters of one query: `params![a, b, c]`.
#[macro_export]
macro_rules! params {
    () => { &[] as &[&dyn $crate::db::Param] };
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::db::Param),+] as &[&dyn $crate::db::Param] };
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match *self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(i),
            Value::Real(f) => ValueRef::Real(f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// A parameter written as the type PostgreSQL inferred for its place in the query.
#[derive(Debug)]
pub(super) struct PgValue<'a>(pub(super) Value<'a>);

impl ToSql for PgValue<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match (self.0, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Int(i), &Type::INT8) => i.to_sql(ty, out),
            (Value::Int(i), &Type::INT4) => i32::try_from(i)?.to_sql(ty, out),
            (Value::Int(i), &Type::INT2) => i16::try_from(i)?.to_sql(ty, out),
            (Value::Int(i), &Type::BOOL) => (i != 0).to_sql(ty, out),
            (Value::Int(i), &Type::TEXT | &Type::VARCHAR) => i.to_string().to_sql(ty, out),
            (Value::Real(f), &Type::FLOAT8) => f.to_sql(ty, out),
            (Value::Text(s), &Type::TEXT | &Type::VARCHAR | &Type::BPCHAR | &Type::NAME) => {
                s.to_sql(ty, out)
            }
            (Value::Blob(b), &Type::BYTEA) => b.to_sql(ty, out),
            (v, ty) => Err(format!("cannot send {v:?} as {ty}").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// One column value read from a row.
#[derive(Debug)]
pub enum Col {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// A type a column can be read as.
pub trait FromCol: Sized {
    fn from_col(c: Col) -> Option<Self>;
}

impl FromCol for i64 {
    fn from_col(c: Col) -> Option<i64> {
        match c {
            Col::Int(i) => Some(i),
            _ => None,
        }
    }
}
impl FromCol for u32 {
    fn from_col(c: Col) -> Option<u32> {
        i64::from_col(c).and_then(|i| u32::try_from(i).ok())
    }
}
impl FromCol for usize {
    fn from_col(c: Col) -> Option<usize> {
        i64::from_col(c).and_then(|i| usize::try_from(i).ok())
    }
}
impl FromCol for bool {
    fn from_col(c: Col) -> Option<bool> {
        i64::from_col(c).map(|i| i != 0)
    }
}
impl FromCol for f64 {
    fn from_col(c: Col) -> Option<f64> {
        match c {
            Col::Real(f) => Some(f),
            Col::Int(i) => Some(i as f64),
            _ => None,
        }
    }
}
impl FromCol for String {
    fn from_col(c: Col) -> Option<String> {
        match c {
            Col::Text(s) => Some(s),
            _ => None,
        }
    }
}
impl FromCol for Vec<u8> {
    fn from_col(c: Col) -> Option<Vec<u8>> {
        match c {
            Col::Blob(b) => Some(b),
            _ => None,
        }
    }
}
impl FromCol for Col {
    fn from_col(c: Col) -> Option<Col> {
        Some(c)
    }
}
impl<T: FromCol> FromCol for Option<T> {
    fn from_col(c: Col) -> Option<Option<T>> {
        match c {
            Col::Null => Some(None),
            c => T::from_col(c).map(Some),
        }
    }
}
