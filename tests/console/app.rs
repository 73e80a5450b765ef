//! The test application (`tests/common/app.rs`) plus the few API helpers the browser tests
//! need for setup.

use serde_json::{json, Value};

pub use crate::common::{
    spawn_app, spawn_app_with, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD,
};

impl TestApp {
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

    /// Creates a token for `owner_id` as the admin; returns (id, value). Without
    /// `role_template` or `permissions` in `extra`, it gets every permission of its owner.
    pub async fn create_token(&self, owner_id: i64, name: &str, extra: Value) -> (i64, String) {
        let mut body = json!({ "name": name, "owner_id": owner_id });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let body = self.with_all_permissions(owner_id, body).await;
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
