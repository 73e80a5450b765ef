//! The everyday handling people know from other token pages: a value page that shows how to
//! send the value and closes back to where the user was, and the status toggle on the
//! profile's own tokens — with JavaScript on and off.

use serde_json::json;

use crate::app::{spawn_app, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::browser::{Browser, Options};

async fn browser(address: &str, javascript: bool) -> Browser {
    let b = Browser::start(
        address,
        Options {
            javascript,
            ..Options::default()
        },
    )
    .await;
    b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    b
}

async fn value_page_shows_how_to_send_the_value_and_closes_back(javascript: bool) {
    let app = spawn_app().await;
    let b = browser(&app.address, javascript).await;
    b.goto("/?status=enabled&per_page=25").await;
    let list = b.path().await;
    b.click("Create API token").await;
    b.fill("Name", "curl-demo").await;
    b.click("Add").await;
    b.sees("API token created").await;
    let value = b.value_of("token-value").await;
    let curl = b.value_of("curl-example").await;
    assert_eq!(
        curl,
        format!(
            "curl -H \"Authorization: Bearer {value}\" {}/v1/me",
            app.address
        ),
        "a ready curl line for this server"
    );
    b.sees("X-WallarmApi-Token").await;
    // Both headers the page names really work.
    let by_wallarm_header = app
        .client
        .get(app.url("/v1/me"))
        .header("X-WallarmApi-Token", &value)
        .send()
        .await
        .expect("request");
    assert_eq!(by_wallarm_header.status().as_u16(), 200);
    assert_eq!(app.token_status(&value).await, 200);
    b.click("Close").await;
    assert_eq!(b.path().await, list, "Close returns to the list as it was");
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_value_page_has_a_curl_line_and_closes_back_with_javascript() {
    value_page_shows_how_to_send_the_value_and_closes_back(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_value_page_has_a_curl_line_and_closes_back_without_javascript() {
    value_page_shows_how_to_send_the_value_and_closes_back(false).await;
}

async fn profile_toggles_own_tokens(javascript: bool) {
    let app = spawn_app().await;
    let (_, value) = app.create_token(1, "mine", json!({})).await;
    let b = browser(&app.address, javascript).await;
    b.goto("/profile").await;
    b.click_in_row("mine", "Enabled").await;
    assert_eq!(
        b.path().await,
        "/profile",
        "the toggle returns to the profile"
    );
    assert!(b.row_text("mine").await.contains("Disabled"));
    assert_eq!(
        app.token_status(&value).await,
        401,
        "the token is really off"
    );
    b.click_in_row("mine", "Disabled").await;
    assert!(b.row_text("mine").await.contains("Enabled"));
    assert_eq!(app.token_status(&value).await, 200);
    // Each row links to its token.
    b.click("mine").await;
    assert!(b.path().await.starts_with("/tokens/"));
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_toggles_own_tokens_with_javascript() {
    profile_toggles_own_tokens(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_toggles_own_tokens_without_javascript() {
    profile_toggles_own_tokens(false).await;
}
