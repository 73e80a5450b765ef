//! Reading and checking single settings for [`Config::resolve`](super::Config::resolve): the
//! file, durations, address lists, the database target and its default key file, the SSO
//! header and the log filter.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

use super::{ConfigError, RawConfig};
use crate::db::DbTarget;
use crate::domain::time::parse_duration;

pub(super) fn duration(
    name: &str,
    v: Option<String>,
    default: &str,
) -> Result<Duration, ConfigError> {
    let d = parse_duration(v.as_deref().unwrap_or(default))
        .map_err(|e| ConfigError(format!("{name}: {e}")))?;
    if d.is_zero() {
        return Err(ConfigError(format!("{name}: must be longer than zero")));
    }
    Ok(d)
}

/// Parses a comma-separated list of IPs or CIDRs.
pub fn parse_nets(name: &str, v: Option<&str>) -> Result<Vec<IpNet>, ConfigError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| ConfigError(format!("{name}: `{s}` is not an IP address or CIDR")))
        })
        .collect()
}

/// The TOML configuration file at `path`; an error names the line (and so the key) at fault,
/// not only what was wrong.
pub(super) fn read_file(path: &Path) -> Result<RawConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
    toml::from_str::<RawConfig>(&text).map_err(|e| {
        let at = e.span().map_or(String::new(), |s| {
            let n = text.get(..s.start).unwrap_or("").matches('\n').count();
            let line = text.lines().nth(n).unwrap_or("").trim();
            format!(", line {} `{line}`", n + 1)
        });
        ConfigError(format!(
            "config file {}{at}: {}",
            path.display(),
            e.message()
        ))
    })
}

/// The database (default `./tokend.db`); a libpq key=value string is refused.
pub(super) fn db_target(given: Option<DbTarget>) -> Result<DbTarget, ConfigError> {
    let db = given.unwrap_or_else(|| DbTarget::new("./tokend.db"));
    if crate::db::is_keyword_string(&db.to_string_lossy()) {
        return Err(ConfigError(format!(
            "db: `{}` reads as a libpq key=value string; give PostgreSQL as a URL, \
             e.g. postgres://user@host/db (password in PGPASSWORD or ~/.pgpass)",
            crate::db::shown(&db)
        )));
    }
    Ok(db)
}

/// The default master key file: beside an SQLite file; in the working directory for a
/// PostgreSQL URL (every replica needs the same key: set TOKEND_MASTER_KEY_FILE there).
pub(super) fn default_key_file(db: &DbTarget) -> PathBuf {
    if crate::db::is_postgres_url(&db.to_string_lossy()) {
        return PathBuf::from("./tokend.key");
    }
    let mut p = db.to_path_buf().into_os_string();
    p.push(".key");
    PathBuf::from(p)
}

/// The SSO header name, if one is set (blank means none); it must be a valid header name.
pub(super) fn sso_header(given: Option<String>) -> Result<Option<String>, ConfigError> {
    let sso_header = given.filter(|h| !h.trim().is_empty());
    if let Some(h) = &sso_header {
        if actix_web::http::header::HeaderName::from_bytes(h.as_bytes()).is_err() {
            return Err(ConfigError(format!(
                "sso_header: `{h}` is not a header name"
            )));
        }
    }
    Ok(sso_header)
}

/// The log filter, if one is set (blank means none); it must parse as one.
pub(super) fn log_filter(given: Option<String>) -> Result<Option<String>, ConfigError> {
    let log = given.filter(|l| !l.trim().is_empty());
    if let Some(l) = &log {
        tracing_subscriber::EnvFilter::try_new(l)
            .map_err(|e| ConfigError(format!("log: `{l}` is not a log filter: {e}")))?;
    }
    Ok(log)
}
