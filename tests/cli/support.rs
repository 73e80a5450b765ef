//! A running server on a fresh database, and API calls the CLI tests use to check results.
#![allow(dead_code)]

use std::time::Duration;

use serde_json::{json, Value};

use crate::proc::*;

/// A bootstrapped server with an admin token, and its work directory.
pub struct Running {
    pub w: Workdir,
    pub server: Server,
    pub admin: String,
    pub http: reqwest::Client,
}

pub fn running() -> Running {
    running_with(ServerOpts::default())
}

pub fn running_with(mut opts: ServerOpts) -> Running {
    let w = Workdir::new();
    let admin = new_value();
    opts.admin_token = Some(admin.clone());
    let server = Server::start(&w.db, &opts);
    Running {
        w,
        server,
        admin,
        http: client(),
    }
}

impl Running {
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.server
            .call(&self.http, method, path, token, body)
            .await
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    /// Waits (≤ 5 s) until `GET /v1/me` with `value` answers 200, as a running server notices
    /// CLI writes within about 50 ms; returns the body.
    pub async fn me_eventually(&self, value: &str) -> Value {
        eventually(Duration::from_secs(5), || async {
            let (s, b) = self.get("/v1/me", value).await;
            (s == 200).then_some(b)
        })
        .await
        .unwrap_or_else(|| panic!("the value never authenticated against the running server"))
    }

    /// `POST /v1/session` with email + password → status.
    pub async fn login(&self, email: &str, password: &str) -> u16 {
        self.http
            .post(self.server.url("/v1/session"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .expect("login")
            .status()
            .as_u16()
    }

    /// Creates a user through the API (as the admin) and returns its id.
    pub async fn api_user(&self, email: &str, role: &str) -> i64 {
        self.server
            .create_user(&self.http, &self.admin, email, role)
            .await
    }

    /// Rows of a table, as text, for before/after comparisons.
    pub fn dump(&self, table: &str) -> Vec<String> {
        dump(&self.w.db(), table)
    }
}

/// Every row of `table` (all columns but last-use data) as text, ordered by rowid.
pub fn dump(conn: &rusqlite::Connection, table: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare(&format!("SELECT * FROM {table} ORDER BY rowid"))
        .expect("prepare dump");
    let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    let rows = stmt
        .query_map([], |r| {
            let mut parts = Vec::new();
            for (i, n) in names.iter().enumerate() {
                if n.starts_with("last_used") {
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
