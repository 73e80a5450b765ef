//! The database a `--db` value names, and how it may be shown: never with its password
//! (rule 45), whatever form the password takes — in the user part of a URL (holding `?`, `@`,
//! `/` or `#`, percent-encoded or not), as a `password=` parameter, in a multi-host URL, or in
//! a libpq `key=value` string.

use std::ffi::OsString;
use std::fmt;
use std::ops::{Deref, Range};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize, Serializer};

/// `true` when `--db` names a PostgreSQL database rather than an SQLite file.
pub fn is_postgres_url(target: &str) -> bool {
    target.starts_with("postgres://") || target.starts_with("postgresql://")
}

/// Whether a `--db` value that is not a URL reads as a libpq `key=value` connection string
/// (`host=db user=u password=…`). tokend takes PostgreSQL only as a URL; such a value would
/// otherwise name an SQLite file — a file whose name holds the password.
pub fn is_keyword_string(target: &str) -> bool {
    const KEYS: [&str; 7] = [
        "host", "hostaddr", "port", "dbname", "user", "password", "sslmode",
    ];
    !is_postgres_url(target)
        && target.split_whitespace().any(|item| {
            item.split_once('=')
                .is_some_and(|(k, _)| KEYS.contains(&k.trim().to_ascii_lowercase().as_str()))
        })
}

/// The database as it may be shown in logs and messages: a URL without its password.
pub fn shown(target: &Path) -> String {
    redact(&target.to_string_lossy(), Some("***"))
}

/// A PostgreSQL URL without its password, for commands shown to the operator (who gives the
/// password through `PGPASSWORD` or `~/.pgpass`).
pub fn without_password(url: &str) -> String {
    redact(url, None)
}

/// The `--db` value: an SQLite file or a PostgreSQL URL. `Debug` and `Serialize` show it
/// as [`shown`] does, so neither a log line nor `tokend config` prints its password.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct DbTarget(PathBuf);

impl DbTarget {
    pub fn new(p: impl Into<PathBuf>) -> DbTarget {
        DbTarget(p.into())
    }
}

impl Deref for DbTarget {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for DbTarget {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl From<PathBuf> for DbTarget {
    fn from(p: PathBuf) -> DbTarget {
        DbTarget(p)
    }
}

/// For clap (keeps a non-UTF-8 file name as it is).
impl From<OsString> for DbTarget {
    fn from(s: OsString) -> DbTarget {
        DbTarget(s.into())
    }
}

impl fmt::Debug for DbTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&shown(&self.0), f)
    }
}

impl Serialize for DbTarget {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&shown(&self.0))
    }
}

/// `text` with every password replaced by `with` (or dropped). Plain text handling: multi-host
/// URLs (`host1:5432,host2:5432`) are not URLs a general parser accepts, and must not be
/// printed in clear when it refuses them. Where the form is ambiguous, more is hidden rather
/// than less: the PostgreSQL client splits the user part at the *first* `@`, an RFC 3986
/// reader at the last, so everything from the user's `:` to the last `@` is the password.
fn redact(text: &str, with: Option<&str>) -> String {
    let hidden = if is_postgres_url(text) {
        url_secrets(text)
    } else {
        keyword_secrets(text)
    };
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for r in merged(hidden) {
        let mut keep = &text[at..r.start];
        match with {
            Some(w) => {
                out.push_str(keep);
                out.push_str(w);
            }
            None => {
                // Dropped: the `:` before a user-part password, a whole `password=…` item.
                keep = keep.strip_suffix(':').unwrap_or(keep);
                out.push_str(keep);
            }
        }
        at = r.end;
    }
    out.push_str(&text[at..]);
    if with.is_none() {
        tidy_query(&out)
    } else {
        out
    }
}

/// After dropping `password=` items: no `password=`, `&&`, or dangling `?`/`&` left.
fn tidy_query(url: &str) -> String {
    let Some((main, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let items: Vec<&str> = query
        .split('&')
        .filter(|kv| !kv.is_empty() && !is_password_key(kv.split('=').next().unwrap_or("")))
        .collect();
    if items.is_empty() {
        main.to_string()
    } else {
        format!("{main}?{}", items.join("&"))
    }
}

/// `ranges` sorted, with overlapping ones joined.
fn merged(mut ranges: Vec<Range<usize>>) -> Vec<Range<usize>> {
    ranges.retain(|r| !r.is_empty());
    ranges.sort_by_key(|r| r.start);
    let mut out: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// Whether a query key is `password` (the client percent-decodes keys: `pass%77ord` too).
fn is_password_key(key: &str) -> bool {
    let decoded: String = url::form_urlencoded::parse(key.as_bytes())
        .map(|(k, v)| {
            if v.is_empty() {
                k.into_owned()
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    decoded.trim().eq_ignore_ascii_case("password")
}

/// The byte ranges of a PostgreSQL URL that hold a password, in order.
fn url_secrets(url: &str) -> Vec<Range<usize>> {
    let start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[start..];
    let mut hidden = Vec::new();
    let mut query_from = 0;
    if let Some(last_at) = rest.rfind('@') {
        if let Some(colon) = rest[..last_at].find(':') {
            hidden.push(start + colon + 1..start + last_at);
            query_from = last_at;
        }
    }
    // Wherever the query is taken to start, a `password=` item is a password.
    let lower = url.to_ascii_lowercase();
    for (i, _) in lower.match_indices("password=") {
        if i > start && matches!(url.as_bytes()[i - 1], b'?' | b'&') {
            let from = i + "password=".len();
            let end = url[from..].find('&').map_or(url.len(), |e| from + e);
            hidden.push(from..end);
        }
    }
    if let Some(q) = rest[query_from..].find('?') {
        let q = query_from + q + 1;
        let mut pos = start + q;
        for item in url[start + q..].split('&') {
            match item.split_once('=') {
                Some((k, v)) if is_password_key(k) => {
                    let from = pos + k.len() + 1;
                    hidden.push(from..from + v.len());
                }
                // Not a parameter: perhaps the rest of a password that held `&`.
                None if !item.is_empty() => hidden.push(pos..pos + item.len()),
                _ => {}
            }
            pos += item.len() + 1;
        }
    }
    hidden
}

/// The byte ranges of the values of `password` keywords in a libpq `key=value` string
/// (`host=db password='it''s secret'`), or in any other text given as `--db`.
fn keyword_secrets(text: &str) -> Vec<Range<usize>> {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut hidden = Vec::new();
    let mut from = 0;
    while let Some(i) = lower[from..].find("password") {
        let mut p = from + i + "password".len();
        from = p;
        while p < bytes.len() && bytes[p].is_ascii_whitespace() {
            p += 1;
        }
        if bytes.get(p) != Some(&b'=') {
            continue;
        }
        p += 1;
        while p < bytes.len() && bytes[p].is_ascii_whitespace() {
            p += 1;
        }
        let begin = p;
        if bytes.get(p) == Some(&b'\'') {
            p += 1;
            while p < bytes.len() && bytes[p] != b'\'' {
                p += if bytes[p] == b'\\' { 2 } else { 1 };
            }
            p = (p + 1).min(bytes.len());
        } else {
            while p < bytes.len() && !bytes[p].is_ascii_whitespace() {
                p += 1;
            }
        }
        hidden.push(begin..p);
        from = p;
    }
    hidden
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

    /// URL forms: the URL, what `shown` prints, what `without_password` leaves (empty: only
    /// that no password is left).
    const REDACTION_CASES: &[(&str, &str, &str)] = &[
        (
            "postgres://u:pw?x@h/db",
            "postgres://u:***@h/db",
            "postgres://u@h/db",
        ),
        (
            "postgres://u:pw%3Fx@h/db",
            "postgres://u:***@h/db",
            "postgres://u@h/db",
        ),
        (
            "postgres://u:pw@x@h/db",
            "postgres://u:***@h/db",
            "postgres://u@h/db",
        ),
        (
            "postgres://u:pw%40x@h/db",
            "postgres://u:***@h/db",
            "postgres://u@h/db",
        ),
        (
            "postgres://u:pw/x@h/db",
            "postgres://u:***@h/db",
            "postgres://u@h/db",
        ),
        (
            "postgres://u:pw%2Fx@h/db",
            "postgres://u:***@h/db",
            "postgres://u@h/db",
        ),
        (
            "postgres://u:pw#x@h/db",
            "postgres://u:***@h/db",
            "postgres://u@h/db",
        ),
        (
            "postgres://u:pw%23x@h/db",
            "postgres://u:***@h/db",
            "postgres://u@h/db",
        ),
        (
            "postgres://u:pw?a=b@h/db?sslmode=disable",
            "postgres://u:***@h/db?sslmode=disable",
            "postgres://u@h/db?sslmode=disable",
        ),
        (
            "postgresql://u:pw@a,b:5433,c/db",
            "postgresql://u:***@a,b:5433,c/db",
            "postgresql://u@a,b:5433,c/db",
        ),
        (
            "postgres://u@h/db?password=pw",
            "postgres://u@h/db?password=***",
            "postgres://u@h/db",
        ),
        (
            "postgres://h/db?sslmode=require&password=pw%26x&application_name=t",
            "postgres://h/db?sslmode=require&password=***&application_name=t",
            "postgres://h/db?sslmode=require&application_name=t",
        ),
        (
            "postgres://h/db?password=pw&x",
            "postgres://h/db?password=***&***",
            "postgres://h/db",
        ),
        (
            "postgres://h/db?PASS%57ORD=pw",
            "postgres://h/db?PASS%57ORD=***",
            "postgres://h/db",
        ),
        (
            "postgres://h:5432/db?application_name=a@b&password=pw",
            "postgres://h:***@b&password=***",
            "",
        ),
        (
            "postgres://h/db?application_name=a@b&password=pw",
            "postgres://h/db?application_name=a@b&password=***",
            "postgres://h/db?application_name=a@b",
        ),
    ];

    /// Rule 45: a table of URL forms; the password (`pw` plus the special characters) never
    /// appears in `shown`, `without_password` or `Debug`, and the host stays visible.
    #[test]
    fn rule_45_every_form_of_password_is_redacted() {
        for &(url, want_shown, want_bare) in REDACTION_CASES {
            let s = shown(Path::new(url));
            assert_eq!(s, want_shown, "shown({url})");
            let bare = without_password(url);
            assert!(!bare.contains("pw"), "without_password({url}) = {bare}");
            if !want_bare.is_empty() {
                assert_eq!(bare, want_bare, "without_password({url})");
            }
            let dbg = format!("{:?}", DbTarget::new(url));
            assert!(!dbg.contains("pw"), "Debug of {url}: {dbg}");
        }
    }

    #[test]
    fn rule_45_libpq_keyword_strings_are_redacted() {
        for (text, want) in [
            (
                "host=h user=u password=pw dbname=d",
                "host=h user=u password=*** dbname=d",
            ),
            (
                "host=h password = 'p w\\'x' dbname=d",
                "host=h password = *** dbname=d",
            ),
            ("PASSWORD=pw", "PASSWORD=***"),
        ] {
            assert_eq!(shown(Path::new(text)), want, "{text}");
            assert!(is_keyword_string(text), "{text}");
        }
        for not in [
            "./tokend.db",
            "/var/lib/tokend/a=b.db",
            "postgres://u@h/db?password=x",
        ] {
            assert!(!is_keyword_string(not), "{not}");
        }
    }
}
