//! Privacy between users (rules 12, 13) and SSO users without a tokens section (rule 18).

use crate::app::{spawn_app, spawn_app_with, PASSWORD};
use crate::browser::{Browser, Options};
use crate::tokens::create_token_in_browser;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_admin_never_sees_another_users_tokens() {
    let app = spawn_app().await;
    app.create_user("alice@example.com", "analyst").await;
    app.create_user("bob@example.com", "analyst").await;
    let b = Browser::start(&app.address, Options::default()).await;

    b.login("alice@example.com", PASSWORD).await;
    create_token_in_browser(&b, "alice-secret").await;
    b.goto("/").await;
    let id = b
        .row("alice-secret")
        .await
        .find(fantoccini::Locator::Css("a"))
        .await
        .expect("link")
        .attr("href")
        .await
        .expect("href")
        .expect("href set");
    // A non-administrator has no User field and no Kind choice on the create form.
    b.goto("/tokens/new").await;
    b.does_not_see("Shared with").await;
    let owner_field = b.c.find(fantoccini::Locator::Id("owner")).await;
    assert!(owner_field.is_err(), "no owner picker for non-admins");
    b.logout().await;

    b.login("bob@example.com", PASSWORD).await;
    assert_eq!(b.heading().await, "API tokens");
    b.does_not_see("alice-secret").await;
    b.does_not_see("alice@example.com").await;
    b.goto(&id).await;
    assert_eq!(
        b.heading().await,
        "Not found",
        "another's token is a 404, not a 403"
    );
    b.goto("/?user=alice%40example.com").await;
    b.does_not_see("alice-secret").await;
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sees_all_tokens_but_cannot_reveal_a_private_one() {
    let app = spawn_app().await;
    let alice = app.create_user("alice@example.com", "analyst").await;
    let (id, _) = app
        .token_named(alice, "alice-private", serde_json::json!({}))
        .await;
    let b = Browser::start(&app.address, Options::default()).await;
    b.login(crate::app::ADMIN_EMAIL, crate::app::ADMIN_PASSWORD)
        .await;
    assert!(b
        .row_text("alice-private")
        .await
        .contains("alice@example.com"));
    b.goto(&format!("/tokens/{id}")).await;
    assert!(b.has_button("Delete").await, "administrators manage it");
    assert!(
        !b.has_button("Reveal").await,
        "only the owner reveals a private token"
    );
    assert!(
        !b.has_button("Regenerate").await,
        "only the owner renews a private token"
    );
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sso_user_signs_in_through_the_proxy_and_has_no_tokens_section() {
    let app = spawn_app_with(|c| {
        c.sso_header = Some("X-Forwarded-Email".into());
        c.sso_trusted_proxies = vec!["127.0.0.1/32".parse().expect("net")];
    })
    .await;
    app.admin_post(
        "/v1/users",
        serde_json::json!({ "email": "sso@example.com", "role": "analyst", "sso": true }),
        201,
    )
    .await;
    let b = Browser::start(
        &app.address,
        Options {
            header: Some(("X-Forwarded-Email".into(), "sso@example.com".into())),
            ..Options::default()
        },
    )
    .await;
    b.goto("/login").await;
    assert_eq!(
        b.path().await,
        "/profile",
        "signed in by the proxy, no tokens page"
    );
    b.sees("sso@example.com").await;
    b.sees("Single sign-on users have no API tokens.").await;
    assert!(
        !b.has_button("API tokens").await,
        "no tokens section in the navigation"
    );
    assert!(!b.has_button("Create API token").await);
    b.goto("/").await;
    assert_eq!(b.path().await, "/profile");
    b.goto("/tokens/new").await;
    assert_eq!(b.heading().await, "Not allowed");
    b.sees("SSO users have no API tokens").await;
    b.finish().await;
}

/// The SSO header counts only from a trusted proxy: from anywhere else the login page is the
/// plain form and no session starts.
#[tokio::test]
async fn sso_header_from_an_untrusted_address_is_ignored() {
    let app = spawn_app_with(|c| {
        c.sso_header = Some("X-Forwarded-Email".into());
        c.sso_trusted_proxies = vec!["10.9.9.9/32".parse().expect("net")];
    })
    .await;
    app.admin_post(
        "/v1/users",
        serde_json::json!({ "email": "sso@example.com", "role": "analyst", "sso": true }),
        201,
    )
    .await;
    let res = app
        .client
        .get(app.url("/login"))
        .header("X-Forwarded-Email", "sso@example.com")
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    let session = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|c| c.starts_with("tokend_session="));
    assert!(!session, "no session cookie");
    let body = res.text().await.expect("body");
    assert!(
        body.contains("<label for=\"password\">Password</label>"),
        "the plain login form"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_company_shared_token_is_listed_for_members_but_managed_by_administrators() {
    let app = spawn_app().await;
    app.create_user("alice@example.com", "analyst").await;
    let b = Browser::start(&app.address, Options::default()).await;
    b.login(crate::app::ADMIN_EMAIL, crate::app::ADMIN_PASSWORD)
        .await;
    b.goto("/tokens/new").await;
    b.fill("Name", "team-token").await;
    b.select("Kind", "Shared").await;
    b.select("Shared with", "Everyone in the company").await;
    b.select("Role template", "Read only").await;
    b.click("Create").await;
    b.sees("API token created").await;
    let value = b.value_of("token-value").await;
    b.click("team-token").await;
    let token_page = b.path().await;
    b.logout().await;

    // A member lists it and may use (reveal) its value, but not manage or renew it.
    b.login("alice@example.com", PASSWORD).await;
    let row = b.row_text("team-token").await;
    assert!(row.contains("Shared (company)"), "{row}");
    let toggle = b
        .row("team-token")
        .await
        .find(fantoccini::Locator::Css("button"))
        .await;
    assert!(toggle.is_err(), "no status toggle for a member");
    b.goto(&token_page).await;
    assert!(!b.has_button("Delete").await && !b.has_button("Regenerate").await);
    b.click("Reveal").await;
    assert_eq!(b.value_of("token-value").await, value);
    b.logout().await;

    // Back to administrators only: the member no longer sees it.
    b.login(crate::app::ADMIN_EMAIL, crate::app::ADMIN_PASSWORD)
        .await;
    b.goto(&token_page).await;
    b.select("Shared with", "Administrators only").await;
    b.click("Save changes").await;
    b.sees("Changes saved.").await;
    b.logout().await;
    b.login("alice@example.com", PASSWORD).await;
    b.does_not_see("team-token").await;
    b.finish().await;
}
