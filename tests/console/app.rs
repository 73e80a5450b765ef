//! A real tokend on port 0 with a temp database, started as production starts
//! (`Application::build`), plus the few API helpers the browser tests need for setup.

use crate::spawn;
use reqwest::Client;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokend::config::Config;

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery";
/// The password of every user the tests create.
pub const PASSWORD: &str = "password-123";

pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub admin_token: String,
    _dir: TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let s = spawn::spawn(ADMIN_EMAIL, ADMIN_PASSWORD, tweak).await;
    TestApp {
        address: s.address,
        client: spawn::client(),
        admin_token: s.admin_token,
        _dir: s.dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// `POST` as the bootstrap admin, asserting `status`; returns the JSON body.
    pub async fn admin_post(&self, path: &str, body: Value, status: u16) -> Value {
        let res = self
            .client
            .post(self.url(path))
            .bearer_auth(&self.admin_token)
            .json(&body)
            .send()
            .await
            .expect("request");
        let got = res.status().as_u16();
        let text = res.text().await.expect("body");
        assert_eq!(got, status, "POST {path}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Creates a user with `role` and the shared test password; returns its id.
    pub async fn create_user(&self, email: &str, role: &str) -> i64 {
        let body = json!({ "email": email, "role": role, "password": PASSWORD });
        self.admin_post("/v1/users", body, 201).await["id"]
            .as_i64()
            .expect("id")
    }

    /// Creates a token for `owner_id` as the admin; returns (id, value).
    pub async fn create_token(&self, owner_id: i64, name: &str, extra: Value) -> (i64, String) {
        let mut body = json!({ "name": name, "owner_id": owner_id });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let v = self.admin_post("/v1/tokens", body, 201).await;
        (
            v["id"].as_i64().expect("id"),
            v["value"].as_str().expect("value").to_string(),
        )
    }

    /// `GET /v1/me` with a token value: the status (200 when the value works).
    pub async fn token_status(&self, value: &str) -> u16 {
        self.client
            .get(self.url("/v1/me"))
            .bearer_auth(value)
            .send()
            .await
            .expect("request")
            .status()
            .as_u16()
    }

    /// `GET /v1/tokens/{id}` as the admin.
    pub async fn token(&self, id: i64) -> Value {
        let res = self
            .client
            .get(self.url(&format!("/v1/tokens/{id}")))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .expect("request");
        res.json().await.expect("json")
    }
}
