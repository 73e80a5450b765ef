//! The API tokens pages: create, copy the value, filter, toggle the status badge, mass
//! actions, regenerate behind a confirmation, reveal, delete, validation messages.

use crate::app::{spawn_app, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::browser::{Browser, Options};

/// Creates a token through the form with the Read only template (the form preselects none);
/// returns its value from the value page.
pub async fn create_token_in_browser(b: &Browser, name: &str) -> String {
    b.goto("/").await;
    b.click("Create API token").await;
    assert_eq!(b.heading().await, "Create API token");
    b.fill("Name", name).await;
    b.select("Role template", "Read only").await;
    b.click("Create").await;
    b.sees("API token created").await;
    let value = b.value_of("token-value").await;
    assert!(
        value.starts_with("tkd_") && value.len() == 40,
        "value: {value}"
    );
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_copy_filter_toggle_and_mass_actions() {
    let app = spawn_app().await;
    let b = Browser::start(&app.address, Options::default()).await;
    b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    // Create with the defaults (User = me, Enabled checked) and a chosen template: none is
    // preselected.
    b.goto("/tokens/new").await;
    assert_eq!(
        b.field("User")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some(ADMIN_EMAIL)
    );
    assert!(
        b.is_checked("Enabled").await,
        "Enabled is checked by default"
    );
    assert!(
        b.is_checked("Set expiration date and time").await,
        "an expiry is proposed by default"
    );
    b.fill("Name", "ci-deploy").await;
    b.fill("Description", "Deploys from CI").await;
    b.select("Role template", "Administrator").await;
    b.click("Create").await;
    b.sees("API token created").await;
    b.sees("you can reveal it again later").await;
    let value = b.value_of("token-value").await;
    assert!(value.starts_with("tkd_"), "value shown: {value}");
    assert_eq!(app.token_status(&value).await, 200, "the new value works");

    // Copy button: present with JavaScript, and it confirms the copy.
    b.click("Copy").await;
    assert!(
        b.wait_for_button("Copied").await,
        "the button confirms the copy"
    );
    assert_eq!(b.clipboard().await, value, "the value is on the clipboard");

    // A second token, Custom template with one permission, expiring.
    b.goto("/tokens/new").await;
    b.fill("Name", "report-reader").await;
    b.select("Role template", "Custom").await;
    b.uncheck_all_permissions().await;
    b.permission("attacks:read", true).await;
    b.check("Set expiration date and time", true).await;
    b.set_value("Expires at (UTC)", "2031-05-01T10:30").await;
    b.click("Create").await;
    b.sees("API token created").await;
    b.click("Close").await;

    let row = b.row_text("report-reader").await;
    assert!(row.contains("attacks:read"), "permissions summary: {row}");
    assert!(row.contains("2031-05-01 10:30 UTC"), "expiry: {row}");
    let row = b.row_text("ci-deploy").await;
    assert!(
        row.contains("Global administrator") || row.contains("Administrator"),
        "{row}"
    );
    assert!(
        row.contains(ADMIN_EMAIL) && row.contains("Private"),
        "{row}"
    );
    // Created with the proposed expiry: 30 days from now (the company's default lifetime).
    let in_30_days = |t: chrono::DateTime<chrono::Utc>| {
        (t + chrono::Duration::days(30))
            .format("%Y-%m-%d")
            .to_string()
    };
    let now = chrono::Utc::now();
    let expected = [
        in_30_days(now),
        in_30_days(now - chrono::Duration::minutes(5)),
    ];
    assert!(
        expected.iter().any(|d| row.contains(d.as_str())),
        "expires in 30 days ({expected:?}): {row}"
    );

    // Filter by name: kept in the URL.
    b.fill("Name", "deploy").await;
    b.click("Apply").await;
    assert!(
        b.path().await.contains("name=deploy"),
        "filters live in the URL"
    );
    assert_eq!(b.row_names().await, vec!["ci-deploy"]);
    b.click("Reset").await;
    let names = b.row_names().await;
    assert!(
        names.contains(&"ci-deploy".to_string()) && names.contains(&"report-reader".to_string())
    );

    // The status badge toggles.
    b.click_in_row("ci-deploy", "Enabled").await;
    b.sees("Token “ci-deploy” disabled.").await;
    assert!(b.row_text("ci-deploy").await.contains("Disabled"));
    assert_eq!(
        app.token_status(&value).await,
        401,
        "a disabled token stops working"
    );
    b.click_in_row("ci-deploy", "Disabled").await;
    b.sees("Token “ci-deploy” enabled.").await;
    assert_eq!(app.token_status(&value).await, 200);

    // Mass disable, then filter by status.
    b.select_row("ci-deploy").await;
    b.select_row("report-reader").await;
    b.click("Disable").await;
    b.sees("2 tokens disabled.").await;
    b.select("Status", "Enabled").await;
    b.click("Apply").await;
    assert_eq!(
        b.row_names().await,
        vec!["Bootstrap admin token"],
        "only the bootstrap token is enabled"
    );
    b.select("Status", "Disabled").await;
    b.click("Apply").await;
    assert_eq!(b.row_names().await, vec!["report-reader", "ci-deploy"]);
    b.fill("Name", "nothing-matches").await;
    b.click("Apply").await;
    b.sees("No tokens match these filters.").await;
    b.click("Reset").await;

    // Select all + Enable.
    b.c.find(fantoccini::Locator::Id("select-all"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.click("Enable").await;
    b.sees("3 tokens enabled.").await;
    assert_eq!(app.token_status(&value).await, 200);
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regenerate_behind_confirmation_reveal_and_delete() {
    let app = spawn_app().await;
    let b = Browser::start(&app.address, Options::default()).await;
    b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let old = create_token_in_browser(&b, "rotating").await;

    b.goto("/").await;
    b.click("rotating").await;
    assert!(b.heading().await.starts_with("rotating"));
    b.sees("Owner").await;
    assert!(
        b.field("User")
            .await
            .attr("readonly")
            .await
            .unwrap()
            .is_some(),
        "owner is read-only"
    );

    // Disable and enable from the token's page.
    b.click("Disable").await;
    b.sees("Token “rotating” disabled.").await;
    b.sees("It will be deleted automatically on").await;
    b.sees("disabled by hand").await;
    b.click("Enable").await;
    b.sees("Token “rotating” enabled.").await;

    // Reveal shows the same value.
    b.click("Reveal").await;
    assert_eq!(b.heading().await, "Token value");
    assert_eq!(b.value_of("token-value").await, old);
    b.click("Close").await;

    // Regenerate: cancelling the dialog changes nothing.
    b.click("Regenerate").await;
    let text = b.answer_dialog(false).await;
    assert!(text.contains("stops working"), "dialog: {text}");
    assert!(b.heading().await.starts_with("rotating"));
    assert_eq!(app.token_status(&old).await, 200);

    // Accepting issues a new value; the old one stops working at once.
    b.click("Regenerate").await;
    b.answer_dialog(true).await;
    assert_eq!(b.heading().await, "Token value regenerated");
    let new = b.value_of("token-value").await;
    assert_ne!(new, old);
    assert_eq!(app.token_status(&old).await, 401, "old value refused");
    assert_eq!(app.token_status(&new).await, 200, "new value works");

    // Delete, behind a confirmation.
    b.click("rotating").await;
    b.click("Delete").await;
    b.answer_dialog(true).await;
    b.sees("Token “rotating” deleted.").await;
    assert!(!b.row_names().await.contains(&"rotating".to_string()));
    assert_eq!(app.token_status(&new).await, 401);
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_messages_beside_fields_keep_the_input() {
    let app = spawn_app().await;
    let b = Browser::start(&app.address, Options::default()).await;
    b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    b.goto("/tokens/new").await;
    b.fill("Name", "   ").await;
    b.fill("Description", "keep me").await;
    b.select("Role template", "Read only").await;
    b.click("Create").await;
    b.sees("Please correct the highlighted fields.").await;
    b.sees("name is required").await;
    assert_eq!(
        b.field("Description")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("keep me")
    );

    b.fill("Name", "expiring").await;
    b.check("Set expiration date and time", true).await;
    b.set_value("Expires at (UTC)", "2001-01-01T00:00").await;
    b.click("Create").await;
    b.sees("must be in the future").await;
    assert_eq!(
        b.field("Name")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("expiring")
    );
    assert!(b.is_checked("Set expiration date and time").await);

    // A duplicate name is refused beside the Name field.
    create_token_in_browser(&b, "dup").await;
    b.goto("/tokens/new").await;
    b.fill("Name", "dup").await;
    b.select("Role template", "Read only").await;
    b.click("Create").await;
    b.sees("already has a token with this name").await;

    // Permissions the owner lacks are refused (rule 2): a read-only user with an admin template.
    app.create_user("ro@example.com", "read_only").await;
    b.goto("/tokens/new").await;
    b.fill("Name", "too-wide").await;
    b.fill("User", "ro@example.com").await;
    // Leaving the field re-renders the form for that owner (the Apply button, pressed by the
    // script); the Administrator template is then offered disabled, with the reason.
    b.click("Apply").await;
    b.sees("Administrator is unavailable: ro@example.com does not hold")
        .await;
    b.select("Role template", "Custom").await;
    let offered = b.permission_offered("attacks:read").await;
    assert!(offered, "a permission the chosen user holds is offered");
    let offered = b.permission_offered("attacks:write").await;
    assert!(!offered, "one the chosen user lacks is not");
    // Forced through anyway, the server still refuses it (rule 2).
    b.c.execute(
        "const o = document.querySelector('#role_template option[value=admin]'); \
         o.disabled = false; o.selected = true;",
        vec![],
    )
    .await
    .expect("script");
    b.click("Create").await;
    b.sees("the owner does not hold").await;
    b.finish().await;
}
