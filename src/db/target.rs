//! The database a `--db` value names, and how it may be shown: never with its password.

use std::path::Path;

/// `true` when `--db` names a PostgreSQL database rather than an SQLite file.
pub fn is_postgres_url(target: &str) -> bool {
    target.starts_with("postgres://") || target.starts_with("postgresql://")
}

/// The database as it may be shown in logs and messages: a URL without its password.
pub fn shown(target: &Path) -> String {
    let text = target.to_string_lossy();
    if is_postgres_url(&text) {
        redact(&text, Some("***"))
    } else {
        text.into_owned()
    }
}

/// A PostgreSQL URL without its password, for commands shown to the operator (who gives the
/// password through `PGPASSWORD` or `~/.pgpass`).
pub fn without_password(url: &str) -> String {
    redact(url, None)
}

/// `url` with the password of its user part and any `password=` parameter replaced by `with`
/// (or dropped). Plain text handling: multi-host URLs (`host1:5432,host2:5432`) are not URLs a
/// general parser accepts, and must not be printed in clear when it refuses them.
fn redact(url: &str, with: Option<&str>) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (main, query) = match rest.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (rest, None),
    };
    let main = match main.rsplit_once('@') {
        Some((user, hosts)) => {
            let user = match (user.split_once(':'), with) {
                (Some((name, _)), Some(w)) => format!("{name}:{w}"),
                (Some((name, _)), None) => name.to_string(),
                (None, _) => user.to_string(),
            };
            format!("{user}@{hosts}")
        }
        None => main.to_string(),
    };
    let query = query.map(|q| {
        q.split('&')
            .filter_map(|kv| match (kv.split_once('='), with) {
                (Some((k, _)), Some(w)) if k == "password" => Some(format!("{k}={w}")),
                (Some(("password", _)), None) => None,
                _ => Some(kv.to_string()),
            })
            .collect::<Vec<_>>()
            .join("&")
    });
    match query {
        Some(q) if !q.is_empty() => format!("{scheme}://{main}?{q}"),
        _ => format!("{scheme}://{main}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show_in_single_or_multi_host_urls() {
        let url = "postgresql://tokend:s3cret@db1:5432,db2:5432/tokend?target_session_attrs=read-write&password=other";
        let text = shown(Path::new(url));
        assert!(
            !text.contains("s3cret") && !text.contains("other"),
            "{text}"
        );
        assert_eq!(
            text,
            "postgresql://tokend:***@db1:5432,db2:5432/tokend?target_session_attrs=read-write&password=***"
        );
        assert_eq!(
            without_password(url),
            "postgresql://tokend@db1:5432,db2:5432/tokend?target_session_attrs=read-write"
        );
        assert_eq!(without_password("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(shown(Path::new("./tokend.db")), "./tokend.db");
    }
}
