//! The route table's registration: a path served by several methods answers the others with
//! 405 `method_not_allowed`; a path served by one method leaves the others to 404
//! `not_found`; forward-auth answers every method; `/v1/tokens/bulk` is not taken for an id.

use reqwest::Method;
use serde_json::json;
use tokend::routes::api::ROUTES;

use crate::helpers::*;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Whether a table pattern (`{id}` = any one segment) matches a concrete path.
fn matches(pattern: &str, path: &str) -> bool {
    let (p, c): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), path.split('/').collect());
    p.len() == c.len()
        && p.iter()
            .zip(&c)
            .all(|(p, c)| p == c || (p.starts_with('{') && !c.is_empty()))
}

#[tokio::test]
async fn routes_unserved_methods_answer_405_on_shared_paths_and_404_on_single_ones() {
    let app = spawn_app().await;
    let mut paths: Vec<&str> = ROUTES.iter().map(|(_, p, _)| *p).collect();
    paths.dedup();
    let mut checked = 0;
    for pattern in paths {
        // the probes sit outside the API's scope; forward-auth takes every method (below)
        if !pattern.starts_with("/v1/") || pattern == "/v1/auth/verify" {
            continue;
        }
        let path = pattern.replace("{id}", "1");
        let served: Vec<&str> = ROUTES
            .iter()
            .filter(|(_, p, _)| *p == pattern)
            .map(|(m, _, _)| *m)
            .collect();
        for m in METHODS.iter().filter(|m| !served.contains(m)) {
            // another pattern of the table takes this path too (`/v1/nodes/{id}` takes
            // `/v1/nodes/self`, `/v1/tokens/{id}` takes `/v1/tokens/bulk`): its answer counts
            if ROUTES
                .iter()
                .any(|(_, rp, _)| *rp != pattern && matches(rp, &path))
            {
                continue;
            }
            let payload = (*m != "GET" && *m != "DELETE").then(|| json!({}));
            let res = app
                .send(
                    Method::from_bytes(m.as_bytes()).unwrap(),
                    &path,
                    None,
                    payload,
                )
                .await;
            let want = if served.len() > 1 {
                (405, "method_not_allowed")
            } else {
                (404, "not_found")
            };
            let got = res.status().as_u16();
            let b = body(res).await;
            assert_eq!(
                (got, b["error"]["code"].as_str()),
                (want.0, Some(want.1)),
                "{m} {path}: {b}"
            );
            checked += 1;
        }
    }
    assert!(checked > 80, "only {checked} method/path pairs checked");
}

#[tokio::test]
async fn routes_forward_auth_answers_every_method() {
    let app = spawn_app().await;
    for m in METHODS {
        let res = app
            .send(
                Method::from_bytes(m.as_bytes()).unwrap(),
                "/v1/auth/verify",
                Some(&app.admin_token),
                None,
            )
            .await;
        assert_eq!(res.status(), 200, "{m} /v1/auth/verify");
    }
}

#[tokio::test]
async fn routes_bulk_is_matched_before_the_token_id_pattern() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/v1/tokens/bulk",
            &app.admin_token,
            json!({ "ids": [999_999], "action": "disable" }),
        )
        .await;
    assert_eq!(
        res.status(),
        200,
        "POST /v1/tokens/bulk reaches the bulk handler"
    );
    // other methods fall through to `/v1/tokens/{id}`, where `bulk` is not an id
    let res = app.get("/v1/tokens/bulk", &app.admin_token).await;
    assert_eq!(res.status().as_u16() / 100, 4);
    let res = app
        .send(Method::PUT, "/v1/tokens/bulk", Some(&app.admin_token), None)
        .await;
    expect_error(res, 405, "method_not_allowed").await;
}
