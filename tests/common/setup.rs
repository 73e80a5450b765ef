//! Setting up users, companies, tokens and sessions through the API of an in-process app.

use chrono::{DateTime, Utc};
use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::app::TestApp;
use crate::http::{body, session_cookie};

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
