//! A running server on a fresh database, and API calls the CLI tests use to check results.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use tokend_test_support::http::Api;
use tokend_test_support::proc::*;
pub use tokend_test_support::store::{assert_integrity, count, dump};

/// A bootstrapped server with an admin token, and its work directory. Derefs to its [`Api`]
/// (`call`, `create_user`).
pub struct Running {
    pub w: Workdir,
    pub server: Server,
    pub admin: String,
    pub http: reqwest::Client,
    pub api: Api,
}

impl std::ops::Deref for Running {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

/// A bearer token to send: none for "".
fn bearer(token: &str) -> Option<&str> {
    (!token.is_empty()).then_some(token)
}

pub fn running() -> Running {
    running_with(ServerOpts::default())
}

pub fn running_with(mut opts: ServerOpts) -> Running {
    let w = Workdir::new();
    let admin = new_value();
    opts.admin_token = Some(admin.clone());
    let server = Server::start(&w.db, &opts);
    Running::new(w, server, &admin)
}

impl Running {
    /// Replaces the server by `server` (a restart, or another database): calls go to it.
    pub fn use_server(&mut self, server: Server) {
        self.api = server.api(&self.http, &self.admin);
        self.server = server;
    }

    /// `server` on the database of `w`, administered with the token value `admin`.
    pub fn new(w: Workdir, server: Server, admin: &str) -> Running {
        let http = client();
        let api = server.api(&http, admin);
        Running {
            w,
            server,
            admin: admin.to_string(),
            http,
            api,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(Method::GET, path, bearer(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, bearer(token), Some(body))
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

    /// Rows of a table, as text, for before/after comparisons.
    pub fn dump(&self, table: &str) -> Vec<String> {
        dump(&self.w.db(), table)
    }
}
