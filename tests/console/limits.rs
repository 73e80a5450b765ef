//! SPEC §16 in the console: *Rate limit* and *Quota* on the create and edit forms, the
//! remaining quota in the list, and the token page's last-7-days chart (SVG, no JavaScript
//! needed, numbers in a table). `UPDATE_SCREENSHOTS=1` writes `token-usage-*.png` to docs/.

use serde_json::json;

use crate::app::{spawn_app, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::browser::{Browser, Options, DESKTOP, PHONE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_console_create_and_edit_forms_set_rate_limit_and_quota() {
    let app = spawn_app().await;
    let b = Browser::start(&app.address, Options::default()).await;
    b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    b.goto("/tokens/new").await;
    b.fill("Name", "metered").await;
    b.select("Role template", "Read only").await;
    b.fill("Requests", "10").await;
    b.fill("per seconds", "60").await;
    b.fill("Successful uses", "100").await;
    b.select("Period", "per day (UTC)").await;
    b.click("Create").await;
    b.sees("metered").await;

    let list = app
        .client
        .get(app.url("/v1/tokens?name=metered"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .expect("list")
        .json::<serde_json::Value>()
        .await
        .expect("json");
    let id = list["items"][0]["id"].as_i64().expect("created");
    let t = app.token(id).await;
    assert_eq!(
        t["rate_limit"],
        json!({ "requests": 10, "per_seconds": 60 })
    );
    assert_eq!(t["quota"], json!({ "limit": 100, "period": "day" }));

    // The list shows what is left of the quota.
    b.goto("/").await;
    assert!(
        b.row_text("metered")
            .await
            .contains("100 of 100 left today"),
        "{}",
        b.row_text("metered").await
    );

    // The edit form shows the limits, and changes them.
    b.goto(&format!("/tokens/{id}")).await;
    b.sees("10 requests per 60 s").await;
    b.sees("100 per day (100 of 100 left today)").await;
    assert_eq!(b.field_value("Requests").await, "10");
    assert_eq!(b.field_value("Successful uses").await, "100");
    b.fill("Requests", "").await;
    b.fill("per seconds", "").await;
    b.fill("Successful uses", "5").await;
    b.select("Period", "in total").await;
    b.click("Save changes").await;
    b.sees("Changes saved.").await;
    let t = app.token(id).await;
    assert_eq!(t["rate_limit"], json!(null));
    assert_eq!(t["quota"], json!({ "limit": 5, "period": "total" }));
    b.sees("5 in total (5 of 5 left)").await;

    // A bad value is refused beside its field and nothing changes.
    b.fill("Requests", "0").await;
    b.fill("per seconds", "60").await;
    b.click("Save changes").await;
    b.sees("must be a whole number from 1 to 1000000").await;
    assert_eq!(app.token(id).await["rate_limit"], json!(null));
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_console_token_page_charts_the_last_7_days_without_javascript() {
    let app = spawn_app().await;
    let (id, value) = app
        .token_named(1, "charted", json!({ "role_template": "read_only" }))
        .await;
    // Two days ago: 2 allowed; today, under a new rate limit: 3 allowed and 2 refused.
    app.state.clock.advance(chrono::Duration::days(-2));
    for _ in 0..2 {
        app.token_status(&value).await;
    }
    app.admin_post("/v1/maintenance/run", json!({}), 200).await;
    app.state.clock.advance(chrono::Duration::days(2));
    let other = app
        .client
        .patch(app.url(&format!("/v1/tokens/{id}")))
        .bearer_auth(&app.admin_token)
        .json(&json!({ "rate_limit": { "requests": 3, "per_seconds": 3600 } }))
        .send()
        .await
        .expect("patch");
    assert_eq!(other.status().as_u16(), 200);
    let mut statuses = vec![];
    for _ in 0..5 {
        statuses.push(app.token_status(&value).await);
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    app.admin_post("/v1/maintenance/run", json!({}), 200).await;

    let b = Browser::start(&app.address, Options::js(false)).await;
    b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    b.goto(&format!("/tokens/{id}")).await;
    b.sees("Usage, last 7 days").await;
    let bars =
        b.c.execute(
            "return [document.querySelectorAll('svg.usage-chart rect.bar-allowed').length,
                     document.querySelectorAll('svg.usage-chart rect.bar-refused').length,
                     Array.from(document.querySelectorAll('svg.usage-chart rect'))
                       .filter(r => r.getAttribute('height') !== '0').length];",
            vec![],
        )
        .await
        .expect("bars");
    assert_eq!(bars, json!([7, 7, 3]), "7 days, three non-empty bars");
    let rows =
        b.c.execute(
            "return Array.from(document.querySelectorAll('table.usage-table tbody tr'))
                .map(r => Array.from(r.children).map(c => c.textContent.trim()));",
            vec![],
        )
        .await
        .expect("rows");
    let rows = rows.as_array().expect("rows");
    assert_eq!(rows.len(), 7);
    let today = app.state.now().format("%Y-%m-%d").to_string();
    let two_ago = (app.state.now() - chrono::Duration::days(2))
        .format("%Y-%m-%d")
        .to_string();
    assert_eq!(rows[6], json!([today, "3", "2"]));
    assert_eq!(rows[4], json!([two_ago, "2", "0"]));
    assert_eq!(rows[0][1], "0");

    b.resize(DESKTOP).await;
    b.c.execute("document.querySelector('.usage').scrollIntoView();", vec![])
        .await
        .expect("scroll");
    b.screenshot("token-usage-1280").await;
    b.resize(PHONE).await;
    let (scroll, inner) =
        b.c.execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .map(|v| (v[0].as_i64().unwrap_or(0), v[1].as_i64().unwrap_or(0)))
        .expect("widths");
    assert!(
        scroll <= inner,
        "no sideways scroll at {inner} px ({scroll})"
    );
    b.screenshot("token-usage-390").await;
    b.finish().await;
}
