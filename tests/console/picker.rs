//! Choosing a token's owner: type-ahead by email or name over every user (no cap), the
//! *Select* page without JavaScript, and role templates the owner cannot hold shown disabled
//! with the reason — following the owner as it changes.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::json;

use crate::app::{spawn_app, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::browser::{Browser, Options};

const QUINCY: &str = "zq@example.com";

/// A read-only user named Zed Quincy, made first, then `others` more users: Quincy is not
/// among the newest 500 the page lists up front.
async fn seed(app: &TestApp, others: usize) {
    app.admin_post(
        "/v1/users",
        json!({ "email": QUINCY, "name": "Zed Quincy", "role": "read_only" }),
        201,
    )
    .await;
    for n in 0..others {
        let body = json!({ "email": format!("person{n:04}@example.com"), "name": format!("Person {n}"), "role": "analyst" });
        app.admin_post("/v1/users", body, 201).await;
    }
}

/// Waits until `css` matches something (a script is filling the page).
async fn appears(b: &Browser, css: &str) -> bool {
    for _ in 0..50 {
        if b.c.find(Locator::Css(css)).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type_ahead_finds_any_user_by_name_and_the_form_follows_the_owner() {
    let app = spawn_app().await;
    seed(&app, 600).await;
    let b = Browser::start(&app.address, Options::default()).await;
    b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    b.goto("/tokens/new").await;
    let preloaded = format!("#users-list option[value='{QUINCY}']");
    assert!(
        b.c.find(Locator::Css(&preloaded)).await.is_err(),
        "the page itself lists only the newest users"
    );
    b.fill("Name", "for-quincy").await;
    b.fill("User", "Quincy").await;
    assert!(appears(&b, &preloaded).await, "found by name as you type");
    b.fill("User", "zq@exa").await;
    assert!(appears(&b, &preloaded).await, "found by email as you type");

    // Choosing the user re-renders the form for them, keeping what was typed.
    b.fill("User", QUINCY).await;
    b.c.find(Locator::Id("name"))
        .await
        .expect("name")
        .click()
        .await
        .expect("leave the field");
    assert!(appears(&b, "select#role_template option[value='admin'][disabled]").await);
    assert_eq!(b.field_value("User").await, QUINCY);
    assert_eq!(
        b.field_value("Name").await,
        "for-quincy",
        "typed values kept"
    );
    b.sees("is unavailable: zq@example.com does not hold").await;
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_select_page_works_without_javascript_and_templates_follow_the_owner() {
    let app = spawn_app().await;
    seed(&app, 3).await;
    let b = Browser::start(&app.address, Options::js(false)).await;
    b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    b.goto("/tokens/new").await;
    assert!(
        b.c.find(Locator::Css(
            "select#role_template option[value='admin'][disabled]"
        ))
        .await
        .is_err(),
        "the administrator may hold the Administrator template"
    );
    b.fill("Name", "picked").await;
    b.fill("Description", "chosen from the list").await;
    b.click("Select").await;
    assert_eq!(b.heading().await, "Select the owner");
    b.fill("Email or name", "quincy").await;
    b.click("Search").await;
    b.sees("Zed Quincy").await;
    b.does_not_see("Person 1").await;
    b.click("Select").await;

    // Back on the form: the owner filled in, the rest as typed, the templates it cannot hold
    // disabled with the reason.
    assert_eq!(b.heading().await, "Create API token");
    assert_eq!(b.field_value("User").await, QUINCY);
    assert_eq!(b.field_value("Name").await, "picked");
    assert_eq!(b.field_value("Description").await, "chosen from the list");
    b.sees("Administrator is unavailable: zq@example.com does not hold")
        .await;
    assert!(b
        .c
        .find(Locator::Css(
            "select#role_template option[value='admin'][disabled]"
        ))
        .await
        .is_ok());

    // Typing another owner and Apply: the list follows again.
    b.fill("User", ADMIN_EMAIL).await;
    b.click("Apply").await;
    b.does_not_see("Administrator is unavailable").await;
    b.select("Role template", "Read only").await;
    b.click("Create").await;
    b.sees("API token created").await;
    b.finish().await;
}
