//! The storage error, the same on both backends. What a caller may act on has its own
//! variant: no row, a unique constraint, and the database being out of reach (503).

use postgres::error::SqlState;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the query returned no row")]
    NoRows,
    #[error("unique constraint violated: {0}")]
    Unique(String),
    /// The database cannot be reached, or is not (yet) the writable primary.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A stored value that cannot be what its column should hold.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Error {
        match &e {
            rusqlite::Error::QueryReturnedNoRows => Error::NoRows,
            rusqlite::Error::SqliteFailure(f, _)
                if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
            {
                Error::Unique(e.to_string())
            }
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::CannotOpen => {
                Error::Unavailable(e.to_string())
            }
            _ => Error::Other(e.to_string()),
        }
    }
}

/// SQLSTATE classes that mean "not reachable as a writable primary right now": connection
/// exceptions (08), operator intervention such as a shutdown (57P0x), a read-only standby
/// (25006) and too many connections (53300).
fn unreachable_state(code: &SqlState) -> bool {
    let c = code.code();
    c.starts_with("08")
        || c.starts_with("57P")
        || c == SqlState::READ_ONLY_SQL_TRANSACTION.code()
        || c == SqlState::TOO_MANY_CONNECTIONS.code()
        || c == SqlState::CANNOT_CONNECT_NOW.code()
}

impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Error {
        let code = e.code().cloned();
        // The error with its causes on one line (anyhow's alternate form).
        let text = format!("{:#}", anyhow::Error::new(e));
        match code.as_ref() {
            Some(c) if *c == SqlState::UNIQUE_VIOLATION => Error::Unique(text),
            Some(c) if unreachable_state(c) => Error::Unavailable(text),
            Some(_) => Error::Other(text),
            // No SQLSTATE and not a conversion: the connection itself failed (closed,
            // refused, timed out).
            None if text.contains("serializing") || text.contains("number of rows") => {
                Error::Other(text)
            }
            None => Error::Unavailable(text),
        }
    }
}

impl From<r2d2::Error> for Error {
    fn from(e: r2d2::Error) -> Error {
        Error::Unavailable(e.to_string())
    }
}
