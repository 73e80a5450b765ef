//! Console controls for rotation and webhooks: regenerate with an overlap, IP binding
//! ("Allowed IP addresses", "Lock to these addresses"), and the idle policy and webhook
//! settings with the deliveries table. Each result is checked through the API.

use reqwest::Method;
use serde_json::json;

use crate::app::{spawn_app, spawn_app_with, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::browser::{Browser, Options};

/// The bootstrap administrator's user id.
const ADMIN_ID: i64 = 1;

/// Flushes the buffered last-use data (and runs every other job once).
async fn maintenance(app: &TestApp) {
    app.admin_post("/v1/maintenance/run", json!({}), 200).await;
}

/// An RFC 3339 time as the console shows it (`2030-01-31 12:00 UTC`).
fn shown(rfc: &str) -> String {
    format!("{} UTC", rfc.get(..16).unwrap_or(rfc).replace('T', " "))
}

/// The token page's details list (term and value on separate lines).
async fn details(b: &Browser) -> String {
    b.text_of("dl.details").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regenerate_with_an_overlap_keeps_both_values_working() {
    let app = spawn_app().await;
    let (id, old) = app.token_named(ADMIN_ID, "rotating", json!({})).await;
    let b = Browser::start(&app.address, Options::default()).await;
    b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    b.goto(&format!("/tokens/{id}")).await;
    b.does_not_see("Previous value works until").await;
    b.select("Keep the previous value working for", "1 hour")
        .await;
    b.click("Regenerate").await;
    let text = b.answer_dialog(true).await;
    assert!(text.contains("keeps working for 1 hour"), "dialog: {text}");
    assert_eq!(b.heading().await, "Token value regenerated");
    b.sees("The previous value keeps working until").await;
    let new = b.value_of("token-value").await;
    assert_ne!(new, old);
    assert_eq!(
        app.token_status(&old).await,
        200,
        "the old value still works"
    );
    assert_eq!(app.token_status(&new).await, 200, "the new value works");

    let until = app.token(id).await["previous_value_expires_at"]
        .as_str()
        .expect("previous_value_expires_at is set")
        .to_string();
    b.click("rotating").await;
    b.sees(&format!("Previous value works until {}", shown(&until)))
        .await;

    // Regenerating again without an overlap ends the older grace at once.
    b.click("Regenerate").await;
    let text = b.answer_dialog(true).await;
    assert!(text.contains("stops working at once"), "dialog: {text}");
    let newest = b.value_of("token-value").await;
    assert_eq!(app.token_status(&old).await, 401);
    assert_eq!(app.token_status(&new).await, 401);
    assert_eq!(app.token_status(&newest).await, 200);
    b.click("rotating").await;
    b.does_not_see("Previous value works until").await;
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_addresses_refuse_other_clients_and_lock_to_recent_ones() {
    let app = spawn_app().await;
    let (id, value) = app.token_named(ADMIN_ID, "bound", json!({})).await;
    assert_eq!(app.token_status(&value).await, 200, "a use from 127.0.0.1");
    maintenance(&app).await;

    let b = Browser::start(&app.address, Options::default()).await;
    b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    b.goto(&format!("/tokens/{id}")).await;
    assert!(details(&b).await.contains("Allowed from\nAny address"));
    let recent = b.text_of("table.recent-ips").await;
    assert!(recent.contains("127.0.0.1"), "recent addresses: {recent}");

    // A bad entry is refused beside the field, the input kept.
    b.fill("Allowed IP addresses", "10.0.0.0/8\nnot-an-ip")
        .await;
    b.click("Save changes").await;
    b.sees("`not-an-ip` is not an IP address or CIDR").await;
    assert_eq!(
        b.field_value("Allowed IP addresses").await,
        "10.0.0.0/8\nnot-an-ip"
    );
    assert!(app.token(id).await["allowed_cidrs"] == json!([]));

    b.fill("Allowed IP addresses", "10.0.0.0/8").await;
    b.click("Save changes").await;
    b.sees("Changes saved.").await;
    assert!(details(&b).await.contains("Allowed from\n10.0.0.0/8"));
    let (status, body) = app.call(Method::GET, "/v1/me", Some(&value), None).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "ip_not_allowed", "{body}");

    b.click("Lock to these addresses").await;
    b.sees("Token “bound” now works only from 127.0.0.1.").await;
    assert_eq!(
        app.token(id).await["allowed_cidrs"],
        json!(["127.0.0.1/32"])
    );
    assert_eq!(b.field_value("Allowed IP addresses").await, "127.0.0.1/32");
    assert_eq!(app.token_status(&value).await, 200, "accepted again");
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_policy_and_webhook_settings_with_deliveries() {
    let app = spawn_app_with(|c| c.webhook_allow_private = true).await;
    let secret = "0123456789abcdef-webhook";
    let b = Browser::start(&app.address, Options::default()).await;
    b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    b.goto("/settings").await;
    b.sees("No secret is set.").await;
    b.sees("No webhook events yet.").await;

    // Refusals beside their fields, the input kept (the secret is never echoed).
    b.fill("Disable tokens unused for (days)", "ninety").await;
    b.click("Save settings").await;
    b.sees("enter a whole number of days, or leave empty for never")
        .await;
    b.fill("Disable tokens unused for (days)", "90").await;
    b.fill("Webhook URL", "ftp://hooks.example.com").await;
    b.fill("Webhook secret", secret).await;
    b.click("Save settings").await;
    b.sees("must be an http or https URL").await;
    b.sees("The secret you typed was not saved").await;
    assert_eq!(
        b.field_value("Disable tokens unused for (days)").await,
        "90"
    );
    assert_eq!(b.field_value("Webhook secret").await, "");

    // Saved: reflected by the API, the secret only as `webhook_secret_set`.
    let hook = "http://127.0.0.1:9/tokend";
    b.fill("Webhook URL", hook).await;
    b.fill("Webhook secret", secret).await;
    b.click("Save settings").await;
    b.sees("Settings saved.").await;
    b.sees("A secret is set; it is never shown.").await;
    assert_eq!(b.field_value("Webhook secret").await, "");
    assert!(!b.text().await.contains(secret));
    let (status, s) = app
        .call(Method::GET, "/v1/settings", Some(&app.admin_token), None)
        .await;
    assert_eq!(status, 200, "{s}");
    assert!(
        !s.to_string().contains(secret),
        "the secret is never shown: {s}"
    );
    assert_eq!(s["idle_disable_days"], 90);
    assert_eq!(s["webhook_url"], hook);
    assert_eq!(s["webhook_secret_set"], true);

    // A disabled token queues an event; its failed delivery shows in the table.
    let (id, _) = app.token_named(ADMIN_ID, "hooked", json!({})).await;
    app.admin_post(
        "/v1/tokens/bulk",
        json!({ "ids": [id], "action": "disable" }),
        200,
    )
    .await;
    maintenance(&app).await;
    b.goto("/settings").await;
    let table = b.text_of("table.deliveries").await;
    assert!(
        table.contains("token.disabled")
            && table.contains("hooked")
            && table.contains("Next attempt"),
        "deliveries: {table}"
    );

    // Remove the secret; an empty secret field alone keeps it.
    b.click("Save settings").await;
    b.sees("A secret is set").await;
    b.check("Remove secret", true).await;
    b.click("Save settings").await;
    b.sees("No secret is set.").await;
    let (_, s) = app
        .call(Method::GET, "/v1/settings", Some(&app.admin_token), None)
        .await;
    assert_eq!(s["webhook_secret_set"], false);
    assert_eq!(s["webhook_url"], hook, "the URL stays");
    b.finish().await;
}
