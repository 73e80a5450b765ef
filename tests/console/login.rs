//! Signing in and out; the header and navigation.

use crate::app::{spawn_app, ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD};
use crate::browser::{Browser, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_shows_header_and_navigation_then_logout() {
    let app = spawn_app().await;
    let b = Browser::start(&app.address, Options::default()).await;

    b.goto("/").await;
    assert_eq!(b.path().await, "/login", "/ redirects to the login page");
    b.fill("Email", ADMIN_EMAIL).await;
    b.fill("Password", "wrong password").await;
    b.click("Log in").await;
    b.sees("Invalid email or password.").await;

    b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(b.heading().await, "API tokens");
    b.sees(ADMIN_EMAIL).await;
    assert!(b.has_button("Log out").await);
    for nav in ["API tokens", "Users", "Audit log", "Settings", "Profile"] {
        assert!(b.has_button(nav).await, "admin sees “{nav}”");
    }

    b.logout().await;
    b.goto("/").await;
    assert_eq!(b.path().await, "/login", "the session ended");
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn navigation_shows_only_what_the_user_may_use() {
    let app = spawn_app().await;
    app.create_user("dev@example.com", "api_developer").await;
    let b = Browser::start(&app.address, Options::default()).await;
    b.login("dev@example.com", PASSWORD).await;
    assert!(b.has_button("API tokens").await);
    assert!(b.has_button("Profile").await);
    for hidden in ["Users", "Audit log", "Settings"] {
        assert!(
            !b.has_button(hidden).await,
            "a developer does not see “{hidden}”"
        );
    }
    b.goto("/users").await;
    assert_eq!(b.heading().await, "Not allowed");
    b.finish().await;
}
