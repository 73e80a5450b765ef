//! The token list as people use it: sorting by any column, page numbers with the total, and a
//! view (filters, order, page) that survives the status toggle and the mass actions, with
//! JavaScript on and off.

use serde_json::json;

use crate::app::{spawn_app, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::browser::{Browser, Options};

async fn sorting_paging_and_a_view_that_survives_actions(javascript: bool) {
    let app = spawn_app().await;
    // Created in an order that is neither the expiry order nor its reverse.
    for (name, month) in [
        ("exp-3", 3),
        ("exp-1", 1),
        ("exp-5", 5),
        ("exp-2", 2),
        ("exp-4", 4),
    ] {
        let expires = format!("2031-0{month}-01T00:00:00Z");
        app.token_named(1, name, json!({ "expires_at": expires }))
            .await;
    }
    app.token_named(1, "unrelated", json!({})).await;
    let b = Browser::start(&app.address, Options::js(javascript)).await;
    b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    b.goto("/?name=exp&per_page=2").await;
    b.sees("5 tokens").await;
    assert_eq!(b.row_names().await, ["exp-4", "exp-2"], "newest first");
    b.sees("Created").await;

    b.sort_by("Expires").await;
    assert_eq!(
        b.row_names().await,
        ["exp-1", "exp-2"],
        "soonest expiry first"
    );
    b.sort_by("Expires").await;
    assert_eq!(
        b.row_names().await,
        ["exp-5", "exp-4"],
        "the second click reverses"
    );
    b.click("2").await;
    assert_eq!(b.row_names().await, ["exp-3", "exp-2"]);
    let view = b.path().await;
    for part in [
        "name=exp",
        "per_page=2",
        "sort=expires",
        "order=desc",
        "page=2",
    ] {
        assert!(view.contains(part), "{part} is in the URL: {view}");
    }

    // The status toggle comes back to the same view.
    b.click_in_row("exp-3", "Enabled").await;
    assert_eq!(
        b.path().await,
        view,
        "the toggle keeps filters, order and page"
    );
    assert!(b.row_text("exp-3").await.contains("Disabled"));
    assert_eq!(b.row_names().await, ["exp-3", "exp-2"]);

    // So does a mass action.
    b.select_row("exp-2").await;
    b.click("Disable").await;
    assert_eq!(
        b.path().await,
        view,
        "the mass action keeps filters, order and page"
    );
    assert!(b.row_text("exp-2").await.contains("Disabled"));

    // Sorting by status puts disabled tokens first; the total follows the filter.
    b.goto("/?name=exp&per_page=25&sort=status").await;
    let names = b.row_names().await;
    assert_eq!(names.len(), 5);
    let mut first_two = names[..2].to_vec();
    first_two.sort();
    assert_eq!(first_two, ["exp-2", "exp-3"], "disabled first: {names:?}");
    b.goto("/?name=exp&status=disabled").await;
    b.sees("2 tokens").await;
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_sorts_pages_and_keeps_its_view_with_javascript() {
    sorting_paging_and_a_view_that_survives_actions(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_sorts_pages_and_keeps_its_view_without_javascript() {
    sorting_paging_and_a_view_that_survives_actions(false).await;
}
