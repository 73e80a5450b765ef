//! Expected values written independently of the code under test (the role table, the token
//! format's checksum) and small readers of answers (ids, times, sorted names).

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokend::domain::token_value::{TokenValue, ValueKind};

/// A random 8-character suffix for unique names.
pub fn rand_suffix() -> String {
    TokenValue::generate(ValueKind::Api).expose()[4..12].to_string()
}

/// Parses an RFC 3339 time from a JSON field.
pub fn json_time(v: &Value) -> DateTime<Utc> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
        .unwrap_or_else(|e| panic!("not RFC 3339: {v}: {e}"))
        .with_timezone(&Utc)
}

/// A JSON array of strings, sorted.
pub fn sorted_strings(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect();
    out.sort();
    out
}

/// The ids of a list answer's items.
pub fn ids(list: &Value) -> Vec<i64> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["id"].as_i64().expect("id"))
        .collect()
}

/// A sorted owned copy of a list of names.
pub fn sorted(names: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// An RFC 3339 time `secs` seconds after `t`.
pub fn rfc3339_after(t: DateTime<Utc>, secs: i64) -> String {
    (t + chrono::Duration::seconds(secs)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

// ---- The role table, written out independently of the code under test ----

pub const CATALOGUE: [&str; 25] = [
    "attacks:read",
    "attacks:write",
    "vulnerabilities:read",
    "vulnerabilities:write",
    "incidents:read",
    "incidents:write",
    "api_discovery:read",
    "api_discovery:write",
    "rules:read",
    "rules:write",
    "integrations:read",
    "integrations:write",
    "nodes:read",
    "nodes:write",
    "users:read",
    "users:write",
    "audit:read",
    "settings:read",
    "settings:write",
    "tokens:read",
    "tokens:write",
    "tokens:admin",
    "companies:read",
    "companies:write",
    "maintenance:run",
];

/// The permissions of a role as docs/RULES.md lists them.
pub fn spec_role(role: &str) -> Vec<String> {
    let reads = [
        "attacks:read",
        "vulnerabilities:read",
        "incidents:read",
        "api_discovery:read",
        "rules:read",
        "integrations:read",
        "nodes:read",
        "tokens:read",
    ];
    let mut v: Vec<&str> = match role {
        "global_admin" => CATALOGUE.to_vec(),
        "admin" => CATALOGUE
            .iter()
            .copied()
            .filter(|p| !p.starts_with("companies:") && *p != "maintenance:run")
            .collect(),
        "analyst" => reads
            .iter()
            .copied()
            .chain([
                "attacks:write",
                "vulnerabilities:write",
                "incidents:write",
                "rules:write",
                "tokens:write",
            ])
            .collect(),
        "api_developer" => vec!["api_discovery:read", "tokens:read", "tokens:write"],
        "read_only" => reads.iter().copied().chain(["tokens:write"]).collect(),
        "deploy" => vec!["nodes:read", "nodes:write", "tokens:read", "tokens:write"],
        "custom" => vec![],
        other => panic!("no role {other}"),
    };
    v.sort();
    v.dedup();
    v.into_iter().map(str::to_string).collect()
}

// ---- Token values, checked independently of the code under test ----

const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// CRC-32 (IEEE 802.3, reflected, as zlib's `crc32`), bit by bit.
pub fn crc32_ieee(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The 6-character base62 checksum of the token format.
pub fn spec_checksum(random: &str) -> String {
    let mut n = u64::from(crc32_ieee(random.as_bytes()));
    let mut out = vec![b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = B62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out).expect("ascii")
}

/// Whether `v` is a well-formed value of the token format with `prefix`.
pub fn spec_well_formed(v: &str, prefix: &str) -> bool {
    v.len() == 40
        && v.starts_with(prefix)
        && v[4..].bytes().all(|b| B62.contains(&b))
        && spec_checksum(&v[4..34]) == v[34..]
}

/// A well-formed `tkd_` value that was never issued (random part from `seed`).
pub fn forged_value(seed: u64) -> String {
    let mut x = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    let random: String = (0..30)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            B62[(x % 62) as usize] as char
        })
        .collect();
    format!("tkd_{random}{}", spec_checksum(&random))
}
