//! SPEC §17 as a newcomer meets the console, over plain HTTP (and one Chromium test): the
//! create form chooses nothing for the user, the *User* field takes a name, the new value is
//! shown once behind a redirect (a reload submits nothing), the list filters take what
//! people type, and unknown addresses get the console's 404 page.

use reqwest::header::CACHE_CONTROL;
use reqwest::Client;
use serde_json::{json, Value};

use crate::app::{spawn_app, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};
use crate::browser::{Browser, Options};
use crate::http::{follow, hidden, post_form, signed_in};

/// The page at `path` (status, HTML).
async fn page(app: &TestApp, c: &Client, path: &str) -> (u16, String) {
    let res = c.get(app.url(path)).send().await.expect("get");
    (res.status().as_u16(), res.text().await.expect("html"))
}

/// The number of tokens stored.
async fn token_count(app: &TestApp) -> usize {
    let res = app
        .client
        .get(app.url("/v1/tokens?limit=500"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .expect("list");
    let v: Value = res.json().await.expect("json");
    v["items"].as_array().map_or(0, Vec::len)
}

/// A user with a display name, made by the admin; returns its id.
async fn named_user(app: &TestApp, email: &str, name: &str, role: &str) -> i64 {
    let v = app
        .admin_post(
            "/v1/users",
            json!({ "email": email, "name": name, "role": role }),
            201,
        )
        .await;
    v["id"].as_i64().expect("id")
}

/// The options of `<select id="{id}">` that are selected, by value.
fn selected_options(html: &str, id: &str) -> Vec<String> {
    let start = html
        .find(&format!("<select id=\"{id}\""))
        .unwrap_or_else(|| panic!("no select #{id}"));
    let end = start + html[start..].find("</select>").expect("end of select");
    html[start..end]
        .split("<option")
        .skip(1)
        .filter(|o| {
            o.split('>')
                .next()
                .unwrap_or_default()
                .contains(" selected")
        })
        .map(|o| o.split('"').nth(1).unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn first_hour_create_form_preselects_no_template() {
    let app = spawn_app().await;
    let c = signed_in(&app).await;
    let (status, html) = page(&app, &c, "/tokens/new").await;
    assert_eq!(status, 200);
    assert!(html.contains("<h1>Create API token</h1>"), "the page title");
    assert!(
        html.contains("<title>Create API token · tokend</title>"),
        "the document title"
    );
    assert_eq!(
        selected_options(&html, "role_template"),
        vec![String::new()],
        "only the empty 'Choose a template…' entry is selected"
    );
    assert!(html.contains("Choose a template…"));
    assert!(
        !html.contains("name=\"permissions\" value=\"attacks:read\" checked")
            && !html.split("name=\"permissions\"").skip(1).any(|b| b
                .split('>')
                .next()
                .unwrap_or_default()
                .contains("checked")),
        "no permission is ticked"
    );
    assert!(
        html.contains(">Create</button>") && !html.contains(">Add</button>"),
        "the button says Create"
    );
    assert!(
        html.contains("a disabled token is purged (deleted for good) after 7 days"),
        "the Enabled box says what happens to a disabled token"
    );

    // Submitting without choosing is refused beside the permissions, and creates nothing.
    let csrf = hidden(&html, "csrf_token");
    let before = token_count(&app).await;
    let res = post_form(
        &c,
        app.url("/tokens"),
        &[
            ("csrf_token", csrf.as_str()),
            ("name", "no-choice"),
            ("role_template", ""),
            ("enabled", "1"),
        ],
    )
    .await
    .expect("post");
    assert_eq!(res.status(), 422);
    let html = res.text().await.expect("html");
    assert!(
        html.contains("choose a role template or at least one permission"),
        "{html}"
    );
    assert_eq!(token_count(&app).await, before, "nothing created");
}

#[tokio::test]
async fn first_hour_owner_field_takes_a_name_and_asks_when_several_match() {
    let app = spawn_app().await;
    let alice = named_user(&app, "alice@example.com", "Alice Liddell", "analyst").await;
    named_user(&app, "bob1@example.com", "Bob", "analyst").await;
    named_user(&app, "bob2@example.com", "Bob", "read_only").await;
    let c = signed_in(&app).await;
    let (_, html) = page(&app, &c, "/tokens/new").await;
    let csrf = hidden(&html, "csrf_token");
    let apply = |owner: &'static str| {
        let (c, csrf, url) = (c.clone(), csrf.clone(), app.url("/tokens/new"));
        async move {
            let res = post_form(
                &c,
                url,
                &[
                    ("csrf_token", csrf.as_str()),
                    ("name", "n"),
                    ("owner", owner),
                ],
            )
            .await
            .expect("apply");
            (res.status().as_u16(), res.text().await.expect("html"))
        }
    };
    // One user of that name (any case): selected, the field now shows the email.
    let (status, html) = apply("alice liddell").await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("data-owner-initial=\"alice@example.com\""),
        "the field now shows the email"
    );
    // Several: how many, and the Select link searching for the name.
    let (status, html) = apply("Bob").await;
    assert_eq!(status, 422);
    assert!(html.contains("2 users match — choose one"), "{html}");
    assert!(
        html.contains("<a href=\"/tokens/new/owner?q=Bob"),
        "a Select link searching for the name"
    );
    assert!(html.contains(">Select</a>"));
    // Nobody.
    let (status, html) = apply("Nobody At All").await;
    assert_eq!(status, 422);
    assert!(html.contains("no such user"), "{html}");

    // Creating with the name makes the token for that user.
    let res = post_form(
        &c,
        app.url("/tokens"),
        &[
            ("csrf_token", csrf.as_str()),
            ("name", "for-alice"),
            ("owner", "Alice Liddell"),
            ("role_template", "read_only"),
            ("enabled", "1"),
        ],
    )
    .await
    .expect("create");
    let res = follow(&app, &c, res).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.expect("html");
    let id: i64 = html
        .split("href=\"/tokens/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .and_then(|s| s.parse().ok())
        .expect("the token's link");
    assert_eq!(app.token(id).await["owner"]["id"], alice);
    // Several names match on create: refused beside the field, nothing made.
    let before = token_count(&app).await;
    let res = post_form(
        &c,
        app.url("/tokens"),
        &[
            ("csrf_token", csrf.as_str()),
            ("name", "for-bob"),
            ("owner", "bob"),
            ("role_template", "read_only"),
        ],
    )
    .await
    .expect("create");
    assert_eq!(res.status(), 422);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("2 users match — choose one"));
    assert_eq!(token_count(&app).await, before);
}

#[tokio::test]
async fn first_hour_the_new_value_is_shown_once_and_a_reload_submits_nothing() {
    let app = spawn_app().await;
    let c = signed_in(&app).await;
    let (_, html) = page(&app, &c, "/tokens/new").await;
    let csrf = hidden(&html, "csrf_token");
    let res = post_form(
        &c,
        app.url("/tokens"),
        &[
            ("csrf_token", csrf.as_str()),
            ("name", "once"),
            ("role_template", "read_only"),
            ("enabled", "1"),
        ],
    )
    .await
    .expect("create");
    assert_eq!(res.status(), 303, "post/redirect/get");
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with("/tokens/value/"), "{location}");
    let count = token_count(&app).await;

    // Another session of the same user cannot take it.
    let other = crate::http::signed_in_as(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (status, html) = page(&app, &other, &location).await;
    assert_eq!(status, 410);
    assert!(!html.contains("tkd_"));

    let res = c.get(app.url(&location)).send().await.expect("get");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    let html = res.text().await.expect("html");
    let start = html.find("tkd_").expect("the value, once");
    let value = html[start..start + 40].to_string();
    assert_eq!(app.token_status(&value).await, 200);

    // Reload: no second display, nothing created again.
    let res = c.get(app.url(&location)).send().await.expect("reload");
    assert_eq!(res.status(), 410);
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    let html = res.text().await.expect("html");
    assert!(html.contains("Value already shown") && !html.contains(&value));
    assert!(
        html.contains("href=\"/users\""),
        "the page keeps the navigation"
    );
    assert_eq!(token_count(&app).await, count);

    // Regenerate follows the same path; a page waits at most five minutes.
    let list: Value = app
        .client
        .get(app.url("/v1/tokens?name=once"))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = list["items"][0]["id"].as_i64().expect("id");
    let res = post_form(
        &c,
        app.url(&format!("/tokens/{id}/regenerate")),
        &[("csrf_token", csrf.as_str()), ("confirmed", "1")],
    )
    .await
    .expect("regenerate");
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    app.advance(chrono::Duration::minutes(6));
    let (status, html) = page(&app, &c, &location).await;
    assert_eq!(status, 410, "expired after five minutes");
    assert!(!html.contains("tkd_"));
}

#[tokio::test]
async fn first_hour_list_filters_take_names_partial_emails_and_bad_dates_without_crashing() {
    let app = spawn_app().await;
    let alice = named_user(&app, "alice@example.com", "Alice", "analyst").await;
    named_user(&app, "bob1@example.com", "Bob", "analyst").await;
    named_user(&app, "bob2@example.com", "Bob", "analyst").await;
    app.token_named(alice, "alice-token", json!({})).await;
    app.token_named(1, "admin-token", json!({})).await;
    let c = signed_in(&app).await;
    for (path, status, shows) in [
        ("/?user=Alice", 200, "alice-token"),
        ("/?user=alice%40", 200, "alice-token"),
        ("/?user=ALICE%40EXAMPLE.COM", 200, "alice-token"),
        ("/?creator=Alice", 200, "No tokens match these filters"),
        ("/?user=nobody%40example.com", 422, "no such user"),
        ("/?creator=nobody", 422, "no such user"),
        ("/?user=Bob", 422, "2 users match — choose one"),
        ("/?expires_after=2030-13-45", 422, "enter a date and time"),
        ("/?expires_before=tomorrow&per_page=0", 422, "enter a date"),
        ("/?user=Alice&per_page=0&page=-1", 200, "alice-token"),
    ] {
        let (got, html) = page(&app, &c, path).await;
        assert_eq!(got, status, "{path}");
        assert!(html.contains(shows), "{path}: {shows}");
        if status == 200 && shows == "alice-token" {
            assert!(!html.contains(">admin-token<"), "{path}: filtered");
        }
    }
    assert_eq!(page(&app, &c, "/healthz").await.0, 200, "still serving");
}

#[tokio::test]
async fn first_hour_unknown_urls_get_the_console_404_with_navigation() {
    let app = spawn_app().await;
    let c = signed_in(&app).await;
    for path in ["/nope", "/tokens/1/nope", "/users/x/y/z", "/static"] {
        let res = c.get(app.url(path)).send().await.expect("get");
        assert_eq!(res.status(), 404, "{path}");
        let ct = res.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with("text/html"), "{path}: {ct}");
        let html = res.text().await.unwrap();
        assert!(html.contains("Page not found"), "{path}");
        assert!(
            html.contains("href=\"/users\"") && html.contains("Log out"),
            "{path}: the navigation of a signed-in user"
        );
    }
    // Not signed in: the same page, offering to sign in.
    let res = app.client.get(app.url("/nope")).send().await.expect("get");
    assert_eq!(res.status(), 404);
    let html = res.text().await.unwrap();
    assert!(html.contains("Page not found") && html.contains("href=\"/login\""));
    assert!(!html.contains("Log out"));
    // The API keeps its JSON envelope.
    let res = app
        .client
        .get(app.url("/v1/nope"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 404);
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["error"]["code"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_hour_reloading_the_value_page_in_chromium_does_not_submit_again() {
    let app = spawn_app().await;
    let b = Browser::start(&app.address, Options::default()).await;
    b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    b.goto("/tokens/new").await;
    b.fill("Name", "reloaded").await;
    b.select("Role template", "Read only").await;
    b.click("Create").await;
    b.sees("API token created").await;
    let value = b.value_of("token-value").await;
    assert!(value.starts_with("tkd_"), "{value}");
    assert!(b.path().await.starts_with("/tokens/value/"), "a GET page");
    let count = token_count(&app).await;
    b.c.refresh().await.expect("reload");
    assert_eq!(b.heading().await, "Value already shown");
    b.does_not_see(&value).await;
    b.does_not_see("already has a token with this name").await;
    assert_eq!(token_count(&app).await, count, "nothing submitted again");
    b.finish().await;
}
