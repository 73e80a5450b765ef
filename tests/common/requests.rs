//! Requests tests make of an in-process app: the verbs as the admin or a token, tokens made
//! for an owner (own or delegated), legacy credentials, sessions, audit, roles.

use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::app::TestApp;
use crate::http::{body, session_cookie_value};
use crate::spec::{rand_suffix, sorted_strings};

impl TestApp {
    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.send(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Response {
        self.send(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Response {
        self.send(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.send(Method::DELETE, path, Some(token), None).await
    }

    /// Creates a token owned and made by `owner_id`, as the owner does in the console (a
    /// session of the owner, through the same service function as the API), and returns
    /// (id, value). Such a token is not delegated, so it may create further tokens. An owner
    /// without `tokens:write` cannot make tokens: an administrator makes it (delegated).
    pub async fn token_for(&self, owner_id: i64, extra: Value) -> (i64, String) {
        let owner = self
            .state
            .read(move |c| Ok::<_, tokend::service::Error>(tokend::db::users::get(c, owner_id)?))
            .await
            .expect("read")
            .expect("owner");
        if !owner
            .permissions()
            .contains(tokend::domain::permissions::Permission::TokensWrite)
        {
            return self.delegated_token_for(owner_id, extra).await;
        }
        let mut body = json!({ "name": format!("t-{}", rand_suffix()) });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        self.own_token(owner_id, body).await
    }

    /// Issues legacy credentials for `user` as the global administrator (asserts 201) and
    /// returns the answer `{uuid, secret, token_id}`.
    pub async fn issue_legacy_credentials(&self, user: i64) -> Value {
        let res = self
            .post(
                &format!("/v1/users/{user}/legacy-credentials"),
                &self.admin_token,
                json!({}),
            )
            .await;
        assert_eq!(res.status(), 201, "issue legacy credentials");
        res.json().await.expect("json")
    }

    /// Creates a token for `owner_id` as the global administrator (rule 10, a delegated
    /// token: rule 25) and returns (id, value).
    pub async fn delegated_token_for(&self, owner_id: i64, extra: Value) -> (i64, String) {
        let mut body = json!({ "name": format!("t-{}", rand_suffix()), "owner_id": owner_id });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        let body = self.with_all_permissions(owner_id, body).await;
        let res = self.post("/v1/tokens", &self.admin_token, body).await;
        assert_eq!(
            res.status(),
            201,
            "create token: {}",
            res.text().await.unwrap_or_default()
        );
        let v: Value = res.json().await.expect("json");
        (
            v["id"].as_i64().expect("id"),
            v["value"].as_str().expect("value").to_string(),
        )
    }

    /// A new user with `role` and a token carrying all its permissions: (user id, token).
    pub async fn user_with_token(&self, email: &str, role: &str) -> (i64, String) {
        let id = self.create_user(email, role).await;
        let (_, value) = self.token_for(id, json!({})).await;
        (id, value)
    }

    /// Runs the scheduler's jobs now (as the global admin) and returns the report.
    pub async fn maintenance(&self) -> Value {
        let res = self
            .post("/v1/maintenance/run", &self.admin_token, json!({}))
            .await;
        assert_eq!(res.status(), 200);
        res.json().await.expect("json")
    }
}

impl TestApp {
    /// Sends a request carrying exactly `headers` (no bearer token) and an optional JSON body.
    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Response {
        let mut req = self.client.request(method, self.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.expect("request sent")
    }

    /// `GET path` authenticated by legacy UUID + secret headers (rule 20).
    pub async fn legacy_get(&self, path: &str, uuid: &str, secret: &str) -> Response {
        self.send_with(
            Method::GET,
            path,
            &[("X-WallarmApi-UUID", uuid), ("X-WallarmApi-Secret", secret)],
            None,
        )
        .await
    }

    /// `GET path` with a console session cookie.
    pub async fn cookie_get(&self, path: &str, cookie: &str) -> Response {
        let c = format!("tokend_session={cookie}");
        self.send_with(Method::GET, path, &[("Cookie", c.as_str())], None)
            .await
    }

    /// Password login through `POST /v1/session`: (session cookie, CSRF token).
    pub async fn password_session(&self, email: &str, password: &str) -> (String, String) {
        let res = self
            .send(
                Method::POST,
                "/v1/session",
                None,
                Some(json!({ "email": email, "password": password })),
            )
            .await;
        assert_eq!(res.status(), 200, "login of {email}");
        let cookie = session_cookie_value(&res).expect("session cookie");
        let b = body(res).await;
        (cookie, b["csrf_token"].as_str().expect("csrf").to_string())
    }

    /// The status of `GET /v1/me` with a token: 200 while it authenticates.
    pub async fn me_status(&self, token: &str) -> u16 {
        self.get("/v1/me", token).await.status().as_u16()
    }

    /// A token as the admin sees it (asserts 200).
    pub async fn token_view(&self, id: i64) -> Value {
        let res = self
            .get(&format!("/v1/tokens/{id}"), &self.admin_token)
            .await;
        assert_eq!(res.status(), 200, "token {id}");
        body(res).await
    }

    /// `PATCH /v1/users/{id}` as the admin (asserts 200); returns the user.
    pub async fn update_user(&self, id: i64, change: Value) -> Value {
        let res = self
            .patch(
                &format!("/v1/users/{id}"),
                &self.admin_token,
                change.clone(),
            )
            .await;
        let status = res.status();
        let b = body(res).await;
        assert_eq!(status, 200, "update user {id} with {change}: {b}");
        b
    }

    /// `PATCH /v1/tokens/{id}` as the admin; returns the response.
    pub async fn update_token(&self, id: i64, change: Value) -> Response {
        self.patch(&format!("/v1/tokens/{id}"), &self.admin_token, change)
            .await
    }

    /// Audit events matching `query` (e.g. `token_id=3&action=token.purged`), newest first.
    pub async fn audit_events(&self, query: &str) -> Vec<Value> {
        let res = self
            .get(&format!("/v1/audit?limit=500&{query}"), &self.admin_token)
            .await;
        assert_eq!(res.status(), 200, "audit {query}");
        body(res).await["items"].as_array().expect("items").clone()
    }

    /// The permissions of `role` as `GET /v1/roles` lists them, sorted.
    pub async fn role_permissions(&self, role: &str) -> Vec<String> {
        let roles = body(self.get("/v1/roles", &self.admin_token).await).await;
        let r = roles["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|r| r["name"] == role)
            .unwrap_or_else(|| panic!("role {role}"))
            .clone();
        sorted_strings(&r["permissions"])
    }

    /// The server's clock plus `by`, as RFC 3339 (for `expires_at`).
    pub fn server_time_plus(&self, by: chrono::Duration) -> String {
        (self.state.now() + by).to_rfc3339()
    }
}

impl TestApp {
    /// `POST` as the bootstrap admin, asserting `status`; returns the JSON body.
    pub async fn admin_post(&self, path: &str, body: Value, status: u16) -> Value {
        let token = self.admin_token.clone();
        let (got, b) = self
            .call(Method::POST, path, Some(&token), Some(body))
            .await;
        assert_eq!(got, status, "POST {path}: {b}");
        b
    }

    /// Creates a token named `name` for `owner_id` as the admin (delegated); returns
    /// (id, value). Without `role_template` or `permissions` in `extra`, it gets every
    /// permission of its owner.
    pub async fn token_named(&self, owner_id: i64, name: &str, extra: Value) -> (i64, String) {
        let mut fields = json!({ "name": name });
        if let (Some(f), Some(e)) = (fields.as_object_mut(), extra.as_object()) {
            f.extend(e.clone());
        }
        self.delegated_token_for(owner_id, fields).await
    }

    /// `GET /v1/me` with a token value: the status (200 when the value works).
    pub async fn token_status(&self, value: &str) -> u16 {
        self.call(Method::GET, "/v1/me", Some(value), None).await.0
    }

    /// `GET /v1/tokens/{id}` as the admin.
    pub async fn token(&self, id: i64) -> Value {
        let token = self.admin_token.clone();
        let path = format!("/v1/tokens/{id}");
        self.call(Method::GET, &path, Some(&token), None).await.1
    }
}
