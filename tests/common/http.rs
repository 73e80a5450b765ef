//! The one HTTP call helper of the tests: [`Api`] (a client, a base URL and the bootstrap
//! administrator's token) sends every request that carries an optional bearer token and an
//! optional JSON body, to an in-process app ([`crate::TestApp`] derefs to its `Api`) or to a
//! `tokend serve` process. Plus reading answers: [`body`], [`expect_error`], cookies, headers.

use reqwest::{Client, Method, Response};
use serde_json::{json, Value};

/// The password of every user the tests create.
pub const PASSWORD: &str = "password-123";

/// Where a tokend answers, and as whom the tests administer it.
#[derive(Clone)]
pub struct Api {
    /// Follows no redirects (tests look at them).
    pub client: Client,
    /// `http://127.0.0.1:PORT`.
    pub address: String,
    /// A token of the bootstrap global administrator (all permissions).
    pub admin_token: String,
}

impl Api {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Sends `method path` with a bearer `token` (if any) and a JSON `body` (if any).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send()
            .await
            .unwrap_or_else(|e| panic!("request to {path}: {e}"))
    }

    /// [`Api::send`], read: (status, the JSON body or `Null`).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let res = self.send(method, path, token, body).await;
        let status = res.status().as_u16();
        let text = res.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Creates a user from a create-user JSON `body`, as the admin (asserts 201); its id.
    pub async fn create_user_with(&self, body: Value) -> i64 {
        let token = self.admin_token.clone();
        let (status, b) = self
            .call(Method::POST, "/v1/users", Some(&token), Some(body))
            .await;
        assert_eq!(status, 201, "create user: {b}");
        b["id"].as_i64().expect("id")
    }

    /// Creates a user with `role` and the shared test [`PASSWORD`], as the admin; its id.
    pub async fn create_user(&self, email: &str, role: &str) -> i64 {
        self.create_user_with(json!({ "email": email, "role": role, "password": PASSWORD }))
            .await
    }
}

/// An HTTP client that does not follow redirects (tests look at them).
pub fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Reads a JSON body, panicking with the text when it is not JSON.
pub async fn body(res: Response) -> Value {
    let text = res.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// Asserts status and error code of an error response; returns the body.
pub async fn expect_error(res: Response, status: u16, code: &str) -> Value {
    let got = res.status().as_u16();
    let b = body(res).await;
    assert_eq!(got, status, "unexpected status, body: {b}");
    assert_eq!(b["error"]["code"], code, "unexpected code, body: {b}");
    b
}

/// The `name=value` pair of the session cookie set by a response, if any.
pub fn session_cookie(res: &Response) -> Option<String> {
    set_cookie(res).and_then(|c| c.split(';').next().map(|s| s.trim().to_string()))
}

/// The value of the `tokend_session` cookie a response sets, if it sets a non-empty one.
pub fn session_cookie_value(res: &Response) -> Option<String> {
    session_cookie(res)
        .and_then(|kv| kv.split_once('=').map(|(_, v)| v.to_string()))
        .filter(|v| !v.is_empty())
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
