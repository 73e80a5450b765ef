//! The everyday handling people know from other token pages: a value page that shows how to
//! send the value and closes back to where the user was, and the status toggle on the
//! profile's own tokens — with JavaScript on and off.

use serde_json::json;

use crate::app::{spawn_app, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::browser::{Browser, Options};

async fn browser(address: &str, javascript: bool) -> Browser {
    let b = Browser::start(address, Options::js(javascript)).await;
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
    b.select("Role template", "Read only").await;
    b.click("Create").await;
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
    let (_, value) = app.token_named(1, "mine", json!({})).await;
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

/// The expiry field's value as a time (it shows `YYYY-MM-DD hh:mm:ss`, UTC).
async fn proposed_expiry(b: &Browser) -> chrono::NaiveDateTime {
    let shown = b.field_value("Expires at (UTC)").await;
    chrono::NaiveDateTime::parse_from_str(&shown, "%Y-%m-%d %H:%M:%S")
        .unwrap_or_else(|e| panic!("`{shown}` is not YYYY-MM-DD hh:mm:ss: {e}"))
}

async fn expiry_defaults_to_the_company_setting_and_takes_typed_seconds(javascript: bool) {
    let app = spawn_app().await;
    let b = browser(&app.address, javascript).await;
    b.goto("/tokens/new").await;
    assert!(b.is_checked("Set expiration date and time").await);
    let days = |n: i64| (chrono::Utc::now() + chrono::Duration::days(n)).naive_utc();
    let gap = (proposed_expiry(&b).await - days(30)).num_seconds().abs();
    assert!(gap < 120, "now + 30 days is proposed ({gap} s off)");

    // The company's setting, changed on the settings page, moves the proposal.
    b.goto("/settings").await;
    b.fill("Default token lifetime (days)", "7").await;
    b.click("Save settings").await;
    b.goto("/tokens/new").await;
    let gap = (proposed_expiry(&b).await - days(7)).num_seconds().abs();
    assert!(gap < 120, "now + 7 days is proposed ({gap} s off)");

    // Typed with seconds, kept to the second.
    b.fill("Name", "typed-expiry").await;
    b.fill("Expires at (UTC)", "2031-05-06 07:08:09").await;
    b.select("Role template", "Read only").await;
    b.click("Create").await;
    b.sees("API token created").await;
    let list = app
        .client
        .get(app.url("/v1/tokens?name=typed-expiry"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .expect("list")
        .json::<serde_json::Value>()
        .await
        .expect("json");
    assert_eq!(list["items"][0]["expires_at"], "2031-05-06T07:08:09Z");
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_is_proposed_from_the_company_setting_with_javascript() {
    expiry_defaults_to_the_company_setting_and_takes_typed_seconds(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_is_proposed_from_the_company_setting_without_javascript() {
    expiry_defaults_to_the_company_setting_and_takes_typed_seconds(false).await;
}
