//! Setting up users, companies, sessions and expected values for the tests; part of the one
//! helper set of the API tests (`helpers`).

use chrono::{DateTime, Utc};
use reqwest::{Method, Response};
use serde_json::{json, Value};

use super::*;

/// A console session: the `Cookie` header to send and the CSRF token.
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

impl TestApp {
    /// The server's current time (tests move it with `advance`).
    pub fn server_now(&self) -> DateTime<Utc> {
        self.state.clock.now()
    }

    /// Creates a user without a password (no argon2 cost); returns its id.
    pub async fn quick_user(&self, email: &str, role: &str) -> i64 {
        self.create_user_with(json!({ "email": email, "role": role }))
            .await
    }

    /// A password-less user with `role` and a token carrying all its permissions.
    pub async fn quick_user_with_token(&self, email: &str, role: &str) -> (i64, String) {
        let id = self.quick_user(email, role).await;
        let (_, value) = self.token_for(id, json!({})).await;
        (id, value)
    }

    /// A `custom` user holding exactly `perms`, with a token carrying them all.
    pub async fn custom_user_with_token(&self, email: &str, perms: &[&str]) -> (i64, String) {
        let id = self
            .create_user_with(json!({ "email": email, "role": "custom", "permissions": perms }))
            .await;
        let (_, value) = self.token_for(id, json!({ "permissions": perms })).await;
        (id, value)
    }

    /// A user in company `company_id` (created by the global admin) with a token.
    pub async fn user_in_company(&self, email: &str, role: &str, company_id: i64) -> (i64, String) {
        let id = self
            .create_user_with(json!({ "email": email, "role": role, "company_id": company_id }))
            .await;
        let (_, value) = self.token_for(id, json!({})).await;
        (id, value)
    }

    /// Creates a company as the global admin; returns its id.
    pub async fn create_company(&self, name: &str) -> i64 {
        let res = self
            .post("/v1/companies", &self.admin_token, json!({ "name": name }))
            .await;
        assert_eq!(res.status(), 201, "create company");
        body(res).await["id"].as_i64().expect("company id")
    }

    /// Creates a token with `token`'s credentials; asserts 201 and returns the answer. A body
    /// naming neither `role_template` nor `permissions` asks for every permission of the
    /// token's owner (`owner_id`, else the caller): the API itself has no default.
    pub async fn create_token(&self, token: &str, body_json: Value) -> Value {
        let owner = match body_json["owner_id"].as_i64() {
            Some(id) => id,
            None => self.get_ok("/v1/me", token).await["user"]["id"]
                .as_i64()
                .expect("the caller's user id"),
        };
        let body_json = self.with_all_permissions(owner, body_json).await;
        let res = self.post("/v1/tokens", token, body_json).await;
        let status = res.status();
        let b = body(res).await;
        assert_eq!(status, 201, "create token: {b}");
        b
    }

    /// GET with a token; asserts 200 and returns the JSON.
    pub async fn get_ok(&self, path: &str, token: &str) -> Value {
        let res = self.get(path, token).await;
        let status = res.status();
        let b = body(res).await;
        assert_eq!(status, 200, "GET {path}: {b}");
        b
    }

    /// Sends a raw body with a content type.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        token: &str,
        content_type: &str,
        raw: Vec<u8>,
    ) -> Response {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(raw)
            .send()
            .await
            .expect("request sent")
    }

    /// `POST /v1/session`.
    pub async fn login_raw(&self, email: &str, password: &str) -> Response {
        self.send(
            Method::POST,
            "/v1/session",
            None,
            Some(json!({ "email": email, "password": password })),
        )
        .await
    }

    /// Logs in (asserting 200) and returns the session cookie and CSRF token.
    pub async fn login_ok(&self, email: &str, password: &str) -> Session {
        let res = self.login_raw(email, password).await;
        assert_eq!(res.status(), 200, "login of {email}");
        let cookie = session_cookie(&res).expect("session cookie set");
        let b = body(res).await;
        Session {
            cookie,
            csrf: b["csrf_token"].as_str().expect("csrf_token").to_string(),
        }
    }

    /// Sum of a Prometheus counter over all its labels, from `GET /metrics`.
    pub async fn metric_sum(&self, name: &str) -> f64 {
        let res = self
            .client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics");
        assert_eq!(res.status(), 200, "metrics readable from loopback");
        let text = res.text().await.expect("metrics text");
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter(|l| l.split(['{', ' ']).next() == Some(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

/// The `name=value` pair of the session cookie set by a response, if any.
pub fn session_cookie(res: &Response) -> Option<String> {
    set_cookie(res).and_then(|c| c.split(';').next().map(|s| s.trim().to_string()))
}

/// The full `Set-Cookie` header of the session cookie, if any.
pub fn set_cookie(res: &Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.contains("tokend_session="))
        .map(str::to_string)
}

/// A header's value as text ("" when absent).
pub fn header(res: &Response, name: &str) -> String {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
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
