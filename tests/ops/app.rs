//! An in-process tokend (`Application::build`, as production starts it) on a temp database,
//! for tests that need the clock or the metrics registry; plus HTTP helpers.
#![allow(dead_code)]

use reqwest::Method;
use serde_json::{json, Value};
use tokend::config::Config;

use crate::proc::new_value;

pub use crate::common::TestApp;

/// Spawns an app after `tweak` adjusts its configuration. The scheduler's intervals are long
/// so that nothing changes behind a test's back.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    crate::common::spawn_app_with(|config| {
        let hour = std::time::Duration::from_secs(3600);
        config.expiry_interval = hour;
        config.purge_interval = hour;
        config.reconcile_interval = hour;
        config.flush_interval = hour;
        tweak(config);
    })
    .await
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

impl TestApp {
    /// Sends a request with a bearer token (if any) and a JSON body (if any) → (status, JSON).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    /// Creates a token owned and made by `owner_id` (not delegated) with `extra` fields
    /// → (id, value).
    pub async fn token_for(&self, owner_id: i64, extra: Value) -> (i64, String) {
        let mut body = json!({ "name": format!("t-{}", &new_value()[4..14]) });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        self.own_token(owner_id, body).await
    }
}

/// Every row of `table` as text (all columns but last-use data), ordered by rowid.
pub fn dump(conn: &rusqlite::Connection, table: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare(&format!("SELECT * FROM {table} ORDER BY rowid"))
        .expect("prepare dump");
    let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    let rows = stmt
        .query_map([], |r| {
            let mut parts = Vec::new();
            for (i, n) in names.iter().enumerate() {
                if n.starts_with("last_used") || n.starts_with("last_seen") {
                    continue;
                }
                let v: rusqlite::types::Value = r.get(i)?;
                parts.push(format!("{n}={v:?}"));
            }
            Ok(parts.join(" "))
        })
        .expect("query dump");
    rows.map(|r| r.expect("row")).collect()
}

/// The stored state a 4xx must leave alone.
pub fn snapshot(conn: &rusqlite::Connection) -> Vec<Vec<String>> {
    [
        "companies",
        "users",
        "tokens",
        "legacy_credentials",
        "nodes",
        "sessions",
        "token_warnings",
    ]
    .iter()
    .map(|t| dump(conn, t))
    .collect()
}
