//! SPEC §17, API errors: a field of the wrong type or format answers 422 `validation_failed`
//! naming the field, in our words, never serde's; a bad query value the same; an unknown field
//! or parameter stays 400 and is named; malformed JSON stays 400; `name_taken` names `name`.
//! Nothing refused changes what is stored.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

/// serde's own phrasing, which must never reach a caller.
const SERDE_WORDS: [&str; 6] = [
    "invalid type",
    "expected i64",
    "invalid value",
    "Query deserialize",
    "line 1 column",
    "expected one of",
];

fn no_serde_text(b: &Value, what: &str) {
    let text = b.to_string();
    for w in SERDE_WORDS {
        assert!(!text.contains(w), "{what}: serde's text `{w}` in {text}");
    }
}

/// Asserts 422 `validation_failed` with `fields.<field>` == `message`; returns the body.
async fn assert_field(res: reqwest::Response, field: &str, message: &str, what: &str) -> Value {
    let b = expect_error(res, 422, "validation_failed").await;
    assert_eq!(b["error"]["fields"][field], message, "{what}: {b}");
    assert!(
        b["error"]["message"].as_str().unwrap_or("").contains(field),
        "{what}: the message names the field: {b}"
    );
    no_serde_text(&b, what);
    b
}

fn token_count(app: &TestApp) -> i64 {
    app.store()
        .query_row("SELECT COUNT(*) FROM tokens", tokend::params![], |r| {
            r.get::<i64>(0)
        })
        .unwrap()
}

#[tokio::test]
async fn first_hour_a_wrongly_typed_body_field_is_422_naming_the_field() {
    let app = spawn_app().await;
    let t = &app.admin_token;
    let before = token_count(&app);
    for (body, field, message) in [
        (
            json!({ "name": "a", "owner_id": "2" }),
            "owner_id",
            "must be an integer",
        ),
        (
            json!({ "name": "a", "owner_id": 1.5 }),
            "owner_id",
            "must be an integer",
        ),
        (json!({ "name": 5 }), "name", "must be a string"),
        (
            json!({ "name": "a", "enabled": "yes" }),
            "enabled",
            "must be true or false",
        ),
        (
            json!({ "name": "a", "permissions": "tokens:read" }),
            "permissions",
            "must be a list",
        ),
        (
            json!({ "name": "a", "permissions": [1] }),
            "permissions.0",
            "must be a string",
        ),
        (
            json!({ "name": "a", "allowed_cidrs": {} }),
            "allowed_cidrs",
            "must be a list",
        ),
    ] {
        let res = app.post("/v1/tokens", t, body.clone()).await;
        assert_field(res, field, message, &body.to_string()).await;
    }
    // a time in the wrong format: our own words about times
    let res = app
        .post(
            "/v1/tokens",
            t,
            json!({ "name": "a", "expires_at": "soon" }),
        )
        .await;
    let b = expect_error(res, 422, "validation_failed").await;
    let m = b["error"]["fields"]["expires_at"].as_str().unwrap_or("");
    assert!(m.contains("RFC 3339"), "{b}");
    // nested: the index of the bad element
    let res = app
        .post(
            "/v1/tokens/bulk",
            t,
            json!({ "ids": [1, "two"], "action": "disable" }),
        )
        .await;
    assert_field(res, "ids.1", "must be an integer", "bulk ids").await;
    // missing required fields name themselves
    let res = app.post("/v1/tokens/bulk", t, json!({ "ids": [1] })).await;
    assert_field(res, "action", "is required", "bulk without action").await;
    let res = app
        .post("/v1/users", t, json!({ "email": "x@example.com" }))
        .await;
    assert_field(res, "role", "is required", "user without role").await;
    let res = app
        .post(
            "/v1/users",
            t,
            json!({ "email": "x@example.com", "role": 3 }),
        )
        .await;
    assert_field(res, "role", "must be a string", "role 3").await;
    let res = app
        .patch(
            "/v1/settings",
            t,
            json!({ "max_token_lifetime_days": "abc" }),
        )
        .await;
    assert_field(
        res,
        "max_token_lifetime_days",
        "must be an integer",
        "settings",
    )
    .await;
    // the sign-in form: a wrong shape is 422 too (bounds stay a failed sign-in, rule 28)
    let res = app
        .send(
            Method::POST,
            "/v1/session",
            None,
            Some(json!({ "email": "x" })),
        )
        .await;
    assert_field(res, "password", "is required", "login without password").await;
    let res = app
        .send(
            Method::POST,
            "/v1/session",
            None,
            Some(json!({ "email": "x@example.com", "password": 5 })),
        )
        .await;
    assert_field(res, "password", "must be a string", "login password 5").await;
    assert_eq!(token_count(&app), before, "nothing stored changed");
}

#[tokio::test]
async fn first_hour_unknown_fields_stay_400_and_are_named_malformed_json_stays_400() {
    let app = spawn_app().await;
    let t = &app.admin_token;
    let before = token_count(&app);
    let res = app
        .post("/v1/tokens", t, json!({ "name": "a", "surprise": true }))
        .await;
    let b = expect_error(res, 400, "bad_request").await;
    let m = b["error"]["message"].as_str().unwrap_or("");
    assert!(m.contains("`surprise`"), "names the field: {b}");
    assert!(m.contains("name"), "lists the accepted fields: {b}");
    assert!(!m.contains("surprise.surprise"), "{b}");
    no_serde_text(&b, "unknown field");
    for raw in ["{\"name\": ", "{} x", "[1]"] {
        let res = app
            .send_raw(
                Method::POST,
                "/v1/tokens",
                t,
                "application/json",
                raw.into(),
            )
            .await;
        expect_error(res, 400, "bad_request").await;
    }
    assert_eq!(token_count(&app), before, "nothing stored changed");
}

#[tokio::test]
async fn first_hour_a_bad_query_value_is_422_naming_the_parameter() {
    let app = spawn_app().await;
    let t = &app.admin_token;
    for (query, field, message) in [
        ("/v1/tokens?limit=abc", "limit", "must be an integer"),
        ("/v1/tokens?limit=%FF", "limit", "must be an integer"),
        ("/v1/tokens?limit=0", "limit", "must be between 1 and 500"),
        ("/v1/tokens?owner_id=x", "owner_id", "must be an integer"),
        (
            "/v1/tokens?creator_id=1.5",
            "creator_id",
            "must be an integer",
        ),
        (
            "/v1/tokens?owner_id=1&owner_id=2",
            "owner_id",
            "must be given once",
        ),
        (
            "/v1/users?company_id=acme",
            "company_id",
            "must be an integer",
        ),
        ("/v1/audit?actor_id=me", "actor_id", "must be an integer"),
        ("/v1/nodes?limit=many", "limit", "must be an integer"),
        (
            "/v1/settings?company_id=x",
            "company_id",
            "must be an integer",
        ),
    ] {
        let res = app.get(query, t).await;
        assert_field(res, field, message, query).await;
    }
    // values that name nothing: the parameter, and what to enter
    for (query, field) in [
        ("/v1/tokens?status=maybe", "status"),
        ("/v1/tokens?kind=robot", "kind"),
        ("/v1/tokens?expires_before=tomorrow", "expires_before"),
        ("/v1/audit?since=yesterday", "since"),
        ("/v1/tokens?cursor=bogus", "cursor"),
    ] {
        let res = app.get(query, t).await;
        let b = expect_error(res, 422, "validation_failed").await;
        assert!(b["error"]["fields"][field].is_string(), "{query}: {b}");
    }
    // an unknown parameter stays 400, named
    let res = app.get("/v1/tokens?colour=blue", t).await;
    let b = expect_error(res, 400, "bad_request").await;
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("`colour`"),
        "{b}"
    );
}

#[tokio::test]
async fn first_hour_name_taken_carries_fields_name() {
    let app = spawn_app().await;
    let t = &app.admin_token;
    app.create_token(
        t,
        json!({ "name": "deploy-bot", "role_template": "read_only" }),
    )
    .await;
    let res = app
        .post(
            "/v1/tokens",
            t,
            json!({ "name": "deploy-bot", "role_template": "read_only" }),
        )
        .await;
    let b = expect_error(res, 409, "name_taken").await;
    assert!(b["error"]["fields"]["name"].is_string(), "{b}");
    // renaming onto a taken name too
    let other = app
        .create_token(t, json!({ "name": "other", "role_template": "read_only" }))
        .await;
    let res = app
        .patch(
            &format!("/v1/tokens/{}", other["id"]),
            t,
            json!({ "name": "deploy-bot" }),
        )
        .await;
    let b = expect_error(res, 409, "name_taken").await;
    assert!(b["error"]["fields"]["name"].is_string(), "{b}");
    // and a taken email names `email`
    app.quick_user("taken@example.com", "analyst").await;
    let res = app
        .post(
            "/v1/users",
            t,
            json!({ "email": "taken@example.com", "role": "analyst", "password": "password-123" }),
        )
        .await;
    let b = expect_error(res, 409, "email_taken").await;
    assert!(b["error"]["fields"]["email"].is_string(), "{b}");
}
