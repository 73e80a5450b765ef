//! A real tokend on port 0 with a temp database, started as production starts
//! (`Application::build`), plus the few API helpers the browser tests need for setup.

use reqwest::Client;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokend::config::Config;
use tokend::domain::token_value::{TokenValue, ValueKind};
use tokend::startup::{Application, Bootstrap};

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
    let dir = tempfile::tempdir().expect("temp dir");
    let db_path = dir.path().join("tokend.db");
    let mut config = Config::for_tests(db_path.clone());
    tweak(&mut config);
    let admin_token = TokenValue::generate(ValueKind::Api).expose().to_string();
    let boot = Bootstrap {
        admin_email: Some(ADMIN_EMAIL.into()),
        admin_password: Some(ADMIN_PASSWORD.into()),
        admin_token: Some(admin_token.clone()),
    };
    let app = Application::build(config, &boot).expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        admin_token,
        _dir: dir,
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
