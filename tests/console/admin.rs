//! Administrators' pages: users (create, role change with its preview, disable, legacy
//! credentials), company settings, the audit log.

use serde_json::json;

use crate::app::{spawn_app, ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD};
use crate::browser::{Browser, Options};
use crate::tokens::create_token_in_browser;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_create_role_change_preview_disable_and_legacy_credentials() {
    let app = spawn_app().await;
    let b = Browser::start(&app.address, Options::default()).await;
    b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    // Create a user through the form (validation first).
    b.click("Users").await;
    b.click("Create user").await;
    b.fill("Email", "not-an-email").await;
    b.click("Create user").await;
    b.sees("Please correct the highlighted fields.").await;
    b.fill("Email", "carol@example.com").await;
    b.fill("Name", "Carol").await;
    b.select("Role", "Analyst").await;
    b.fill("Password", PASSWORD).await;
    b.click("Create user").await;
    b.sees("User created.").await;
    let user_path = b.path().await;
    let carol: i64 = user_path
        .trim_start_matches("/users/")
        .parse()
        .expect("user id");

    // Carol gets an analyst token; lowering her role previews what the token loses.
    let (token, value) = app.token_named(carol, "carol-analyst", json!({})).await;
    b.select("Role", "API Developer").await;
    b.click("Save changes").await;
    assert_eq!(b.heading().await, "Confirm change of carol@example.com");
    let row = b.row_text("carol-analyst").await;
    assert!(
        row.contains("attacks:read") && row.contains("rules:write"),
        "preview: {row}"
    );
    assert!(
        !row.contains("tokens:read"),
        "kept permissions are not listed: {row}"
    );
    b.click("Save anyway").await;
    b.sees("User saved.").await;
    let perms = app.token(token).await["permissions"].clone();
    let kept = json!(["api_discovery:read", "tokens:read", "tokens:write"]);
    assert_eq!(perms, kept, "rule 16 applied");

    // Legacy credentials are shown once.
    b.click("Issue legacy credentials").await;
    b.answer_dialog(true).await;
    assert_eq!(b.heading().await, "Legacy credentials issued");
    b.sees("The secret will not be shown again.").await;
    let uuid = b.value_of("legacy-uuid").await;
    let secret = b.value_of("legacy-secret").await;
    let res = app
        .client
        .get(app.url("/v1/me"))
        .header("X-WallarmApi-UUID", &uuid)
        .header("X-WallarmApi-Secret", &secret)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200, "the issued credentials work");
    b.click("Back to the user").await;

    // Disabling the user disables the token (preview first).
    b.check("Enabled", false).await;
    b.click("Save changes").await;
    b.sees("Will be disabled").await;
    b.click("Save anyway").await;
    b.sees("User saved.").await;
    assert_eq!(app.token_status(&value).await, 401);
    b.click("View API tokens").await;
    assert_eq!(b.heading().await, "API tokens");
    assert!(
        b.path().await.contains("user=carol"),
        "the user's tokens: {}",
        b.path().await
    );
    assert!(b.row_text("carol-analyst").await.contains("Disabled"));
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_show_once_and_audit_log() {
    let app = spawn_app().await;
    let b = Browser::start(&app.address, Options::default()).await;
    b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    b.click("Settings").await;
    assert_eq!(b.heading().await, "Company settings");
    b.fill("Maximum token lifetime (days)", "abc").await;
    b.click("Save settings").await;
    b.sees("enter a whole number of days").await;
    b.fill("Maximum token lifetime (days)", "").await;
    b.c.find(fantoccini::Locator::Css("input[value=show_once]"))
        .await
        .expect("radio")
        .click()
        .await
        .expect("click");
    b.click("Save settings").await;
    b.sees("Settings saved.").await;

    // Under show_once the value page warns that the value will not be shown again,
    // and the token page offers no Reveal.
    create_token_in_browser(&b, "once").await;
    b.sees("It will not be shown again.").await;
    b.click("once").await;
    assert!(!b.has_button("Reveal").await);
    assert!(b.has_button("Regenerate").await);

    // The audit log, filtered by action.
    b.click("Audit log").await;
    b.select("Action", "Settings changed").await;
    b.click("Apply").await;
    assert!(b.path().await.contains("action=settings.updated"));
    let mut actions = Vec::new();
    for cell in
        b.c.find_all(fantoccini::Locator::Css("td[data-label=Event]"))
            .await
            .expect("cells")
    {
        actions.push(cell.text().await.expect("text"));
    }
    assert_eq!(
        actions,
        vec![format!("{ADMIN_EMAIL} changed the company settings")],
        "only the filtered action, as a sentence"
    );
    b.fill("Actor", "nobody@example.com").await;
    b.click("Apply").await;
    b.sees("No user with email nobody@example.com.").await;
    b.finish().await;
}
