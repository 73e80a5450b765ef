//! The core flows with JavaScript disabled: plain forms and server-side confirmation pages.

use crate::app::{spawn_app, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::browser::{Browser, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_flows_work_without_javascript() {
    let app = spawn_app().await;
    let b = Browser::start(&app.address, Options::js(false)).await;
    b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    // Create: the value page shows the value; the Copy button needs the script, so it stays hidden.
    b.click("Create API token").await;
    b.fill("Name", "no-js").await;
    b.select("Role template", "Custom").await;
    b.uncheck_all_permissions().await;
    b.permission("tokens:read", true).await;
    b.check("Set expiration date and time", true).await;
    b.fill("Expires at (UTC)", "").await;
    b.click("Create").await;
    b.sees("enter a date and time").await;
    b.check("Set expiration date and time", false).await;
    b.click("Create").await;
    b.sees("API token created").await;
    let first = b.value_of("token-value").await;
    assert!(
        !b.has_button("Copy").await,
        "no Copy button without JavaScript"
    );
    assert_eq!(app.token_status(&first).await, 200);
    b.click("Close").await;
    assert!(b.row_text("no-js").await.contains("tokens:read"));

    // Status badge.
    b.click_in_row("no-js", "Enabled").await;
    assert!(b.row_text("no-js").await.contains("Disabled"));
    b.click_in_row("no-js", "Disabled").await;
    assert!(b.row_text("no-js").await.contains("Enabled"));

    // Regenerate: the server asks for confirmation on a page of its own.
    b.click("no-js").await;
    b.click("Regenerate").await;
    assert_eq!(b.heading().await, "Regenerate token value?");
    b.sees("stops working at once").await;
    // The overlap can still be chosen there (None by default); 24 hours keeps the old value.
    let grace = b.field("Keep the previous value working for").await;
    assert_eq!(grace.prop("value").await.unwrap().as_deref(), Some("0"));
    b.select("Keep the previous value working for", "24 hours")
        .await;
    b.click("Regenerate").await;
    assert_eq!(b.heading().await, "Token value regenerated");
    b.sees("The previous value keeps working until").await;
    let second = b.value_of("token-value").await;
    assert_eq!(app.token_status(&first).await, 200, "kept for 24 hours");
    assert_eq!(app.token_status(&second).await, 200);

    // Edit the name.
    b.click("no-js").await;
    b.fill("Name", "no-js-renamed").await;
    b.click("Save changes").await;
    b.sees("Changes saved.").await;

    // Mass delete, confirmed on the server's page.
    b.goto("/").await;
    b.select_row("no-js-renamed").await;
    b.click("Delete").await;
    assert_eq!(b.heading().await, "Delete API tokens?");
    b.click("Delete").await;
    b.sees("1 token deleted.").await;
    assert_eq!(app.token_status(&second).await, 401);
    assert_eq!(
        app.token_status(&first).await,
        401,
        "the kept value ends too"
    );
    b.logout().await;
    b.finish().await;
}
