//! `tokend config`: the effective configuration as a TOML file that `--config-file` reads
//! back to the same configuration. Every key is written in the form the parser takes
//! (durations as `7d` / `36h` / `500ms`, address lists as one comma-separated string); a key
//! that is not set is written as a comment with an example, and the OpenID Connect client
//! secret is never written (give it with `TOKEND_OIDC_CLIENT_SECRET`).

use std::fmt::Write;
use std::time::Duration;

use ipnet::IpNet;

use super::Config;

/// A duration in the shortest form the configuration parser reads back exactly: the largest
/// of `d`, `h`, `m`, `s`, `ms` that divides it (`7d`, `36h`, `90s`, `1500ms`).
pub fn duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !d.subsec_nanos().is_multiple_of(1_000_000) {
        return humantime::format_duration(d).to_string();
    }
    for (unit, n) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms.is_multiple_of(n) {
            return format!("{}{unit}", ms / n);
        }
    }
    format!("{ms}ms")
}

/// A TOML string literal (quoted and escaped).
fn string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn nets(list: &[IpNet]) -> String {
    let parts: Vec<String> = list.iter().map(|n| n.to_string()).collect();
    string(&parts.join(","))
}

/// One key of the file: its help line, name, value (TOML) or, when not set, an example.
struct Key {
    help: &'static str,
    name: &'static str,
    value: Option<String>,
    example: &'static str,
}

/// A key that always has a value.
fn set(help: &'static str, name: &'static str, value: String) -> Key {
    optional(help, name, Some(value), "")
}

/// A key that may be unset (then written as a comment with `example`).
fn optional(
    help: &'static str,
    name: &'static str,
    value: Option<String>,
    example: &'static str,
) -> Key {
    Key {
        help,
        name,
        value,
        example,
    }
}

/// Writes the configuration as TOML, one commented key per setting.
pub fn to_toml(c: &Config) -> String {
    let mut out = String::from(
        "# tokend configuration: `tokend --config-file FILE serve` reads it back.\n\
         # Keys are the long flag names with `_`; flags and TOKEND_* variables override them.\n",
    );
    let keys = [storage_keys(c), server_keys(c), oidc_keys(c)];
    for k in keys.into_iter().flatten() {
        let _ = writeln!(out, "\n# {}", k.help);
        let _ = match k.value {
            Some(v) => writeln!(out, "{} = {v}", k.name),
            None => writeln!(out, "# {} = {}", k.name, k.example),
        };
    }
    out
}

/// Where the data is, and the intervals of the jobs that keep it.
fn storage_keys(c: &Config) -> Vec<Key> {
    let every = |help, name, d| set(help, name, string(&duration(d)));
    vec![
        set(
            "SQLite database file, or a PostgreSQL URL (shown without its password).",
            "db",
            string(&crate::db::shown(&c.db)),
        ),
        set(
            "Address to listen on, IP:PORT.",
            "bind",
            string(&c.bind.to_string()),
        ),
        set(
            "Master key file (32 bytes, mode 0600).",
            "master_key_file",
            string(&c.master_key_file.to_string_lossy()),
        ),
        every(
            "How long a disabled token is kept before it is purged.",
            "disabled_retention",
            c.disabled_retention,
        ),
        every(
            "Interval of the expiry job (expiry, idle tokens, warnings, webhooks).",
            "expiry_interval",
            c.expiry_interval,
        ),
        every(
            "Interval of the purge job.",
            "purge_interval",
            c.purge_interval,
        ),
        every(
            "Interval of the reconcile job.",
            "reconcile_interval",
            c.reconcile_interval,
        ),
        every(
            "Interval of the last-use flush.",
            "flush_interval",
            c.flush_interval,
        ),
    ]
}

/// Sessions, proxies, metrics, workers, webhooks and logging.
fn server_keys(c: &Config) -> Vec<Key> {
    let list = |l: &[IpNet]| (!l.is_empty()).then(|| nets(l));
    vec![
        set(
            "Behind HTTPS: `__Host-` session cookie marked Secure (true or false).",
            "secure_cookies",
            c.secure_cookies.to_string(),
        ),
        set(
            "Console session lifetime.",
            "session_ttl",
            string(&duration(c.session_ttl)),
        ),
        optional(
            "Header carrying the SSO user's email from an authenticating proxy.",
            "sso_header",
            c.sso_header.as_deref().map(string),
            "\"X-Forwarded-Email\"",
        ),
        optional(
            "Addresses allowed to send the SSO header (comma-separated IPs or CIDRs).",
            "sso_trusted_proxies",
            list(&c.sso_trusted_proxies),
            "\"10.0.0.5,192.168.0.0/24\"",
        ),
        optional(
            "Reverse proxies whose X-Forwarded-For names the client (IPs or CIDRs).",
            "trusted_proxies",
            list(&c.trusted_proxies),
            "\"10.0.0.5\"",
        ),
        set(
            "Addresses allowed to read /metrics (IPs or CIDRs).",
            "metrics_allow",
            nets(&c.metrics_allow),
        ),
        set(
            "HTTP worker threads (1 to 256).",
            "workers",
            c.workers.to_string(),
        ),
        set(
            "Allow webhook targets on loopback or private addresses (true or false).",
            "webhook_allow_private",
            c.webhook_allow_private.to_string(),
        ),
        optional(
            "Log filter [default: info for serve, warn for other commands].",
            "log",
            c.log.as_deref().map(string),
            "\"info\"",
        ),
        set(
            "Log line format: text or json.",
            "log_format",
            string(c.log_format.as_str()),
        ),
    ]
}

/// The OpenID Connect client (its secret is never written).
fn oidc_keys(c: &Config) -> Vec<Key> {
    let o = c.oidc.as_ref();
    let secret_note = match o {
        Some(_) => {
            "OpenID Connect client secret: set, not shown (keep it in \
                    TOKEND_OIDC_CLIENT_SECRET)."
        }
        None => "OpenID Connect client secret (better given as TOKEND_OIDC_CLIENT_SECRET).",
    };
    vec![
        optional(
            "OpenID Connect issuer URL (with the client id and secret: Sign in with SSO).",
            "oidc_issuer",
            o.map(|o| string(&o.issuer)),
            "\"https://idp.example.com/realms/main\"",
        ),
        optional(
            "OpenID Connect client id.",
            "oidc_client_id",
            o.map(|o| string(&o.client_id)),
            "\"tokend\"",
        ),
        optional(secret_note, "oidc_client_secret", None, "\"…\""),
        optional(
            "Redirect URL registered at the provider [default: <host>/login/oidc/callback].",
            "oidc_redirect_url",
            o.and_then(|o| o.redirect_url.as_deref()).map(string),
            "\"https://tokend.example.com/login/oidc/callback\"",
        ),
        optional(
            "Role of users created on their first SSO sign-in.",
            "oidc_auto_provision",
            o.and_then(|o| o.auto_provision).map(|r| string(r.name())),
            "\"read_only\"",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::duration;
    use crate::domain::time::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_print_in_the_input_form_and_read_back() {
        for (d, text) in [
            (Duration::from_secs(7 * 86_400), "7d"),
            (Duration::from_secs(36 * 3_600), "36h"),
            (Duration::from_secs(60), "1m"),
            (Duration::from_secs(90), "90s"),
            (Duration::from_millis(1_500), "1500ms"),
        ] {
            assert_eq!(duration(d), text);
            assert_eq!(parse_duration(text).unwrap(), d);
        }
        let odd = Duration::from_nanos(1_000_000_123);
        assert_eq!(parse_duration(&duration(odd)).unwrap(), odd);
    }
}
