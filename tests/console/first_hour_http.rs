//! SPEC §17, the first hour, over plain HTTP: the token list tells *Expired* apart from
//! *Disabled* (with the reason in view), marks tokens expiring soon, filters "expires in less
//! than N days", shows relative times beside UTC ones, says so when it is empty (with a
//! *Create API token* button and no pager); the audit log reads as sentences with names.

use chrono::Duration;
use reqwest::Client;
use serde_json::{json, Value};

use crate::app::{spawn_app, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD};
use crate::http::signed_in_as;

async fn page(c: &Client, app: &TestApp, path: &str) -> String {
    let res = c.get(app.url(path)).send().await.expect("page");
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.expect("html")
}

/// The visible text of some HTML: tags dropped, entities decoded, blanks collapsed.
fn text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for ch in html.chars() {
        match ch {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let out = out
        .replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The HTML of the list row whose name link is `name`.
fn row<'a>(html: &'a str, name: &str) -> &'a str {
    let link = format!(">{name}</a>");
    html.split("<tr>")
        .find(|r| r.contains(&link))
        .unwrap_or_else(|| panic!("no row {name}"))
}

/// The rows' names, in order.
fn names(html: &str) -> Vec<String> {
    html.split("<td data-label=\"Name\" class=\"col-name\">")
        .skip(1)
        .filter_map(|r| r.split("</a>").next())
        .filter_map(|a| a.rsplit('>').next())
        .map(str::to_string)
        .collect()
}

async fn api(app: &TestApp, method: reqwest::Method, path: &str, token: &str, body: Value) {
    let res = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert!(res.status().is_success(), "{path}: {}", res.status());
}

/// Tokens in every state, owned by alice (and bob, who gets disabled).
async fn seed(app: &TestApp) {
    let alice = app.create_user("alice@example.com", "analyst").await;
    let bob = app.create_user("bob@example.com", "analyst").await;
    let exp = |d: Duration| {
        (app.state.clock.now() + d).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let ro = json!({ "role_template": "read_only" });
    let mk = |name: &str, extra: Value| {
        let mut b = ro.clone();
        b["name"] = json!(name);
        if let (Some(b), Some(e)) = (b.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        b
    };
    app.token_named(
        alice,
        "fh-marked",
        mk(
            "fh-marked",
            json!({ "expires_at": exp(Duration::hours(1)) }),
        ),
    )
    .await;
    app.token_named(
        alice,
        "fh-manual",
        mk("fh-manual", json!({ "enabled": false })),
    )
    .await;
    app.token_named(bob, "fh-owner-off", mk("fh-owner-off", json!({})))
        .await;
    api(
        app,
        reqwest::Method::PATCH,
        &format!("/v1/users/{bob}"),
        &app.admin_token,
        json!({ "enabled": false }),
    )
    .await;
    app.advance(Duration::hours(2));
    app.admin_post("/v1/maintenance/run", json!({}), 200).await;
    app.token_named(
        alice,
        "fh-flagged",
        mk(
            "fh-flagged",
            json!({ "expires_at": exp(Duration::hours(1)) }),
        ),
    )
    .await;
    app.advance(Duration::hours(2));
    app.token_named(
        alice,
        "fh-soon",
        mk(
            "fh-soon",
            json!({ "expires_at": exp(Duration::days(3) + Duration::hours(1)) }),
        ),
    )
    .await;
    app.token_named(
        alice,
        "fh-later",
        mk(
            "fh-later",
            json!({ "expires_at": exp(Duration::days(30) + Duration::hours(1)) }),
        ),
    )
    .await;
}

#[tokio::test]
async fn first_hour_list_shows_expired_apart_from_disabled_and_times_in_words() {
    let app = spawn_app().await;
    seed(&app).await;
    let c = signed_in_as(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let html = page(&c, &app, "/?name=fh-").await;

    for expired in ["fh-marked", "fh-flagged"] {
        let r = row(&html, expired);
        assert!(
            r.contains("badge-expired") && text(r).contains("Expired"),
            "{expired}: {r}"
        );
        assert!(!text(r).contains("Disabled"), "{expired}: {r}");
    }
    // Disabled, with the reason in view (not only in a tooltip).
    let manual = text(row(&html, "fh-manual"));
    assert!(manual.contains("Disabled · by hand"), "{manual}");
    let owner_off = text(row(&html, "fh-owner-off"));
    assert!(
        owner_off.contains("Disabled · owner disabled"),
        "{owner_off}"
    );
    // Expiring within 7 days is marked; later is not.
    let soon = text(row(&html, "fh-soon"));
    assert!(
        soon.contains("expires soon") && soon.contains("in 3 days"),
        "{soon}"
    );
    let later = text(row(&html, "fh-later"));
    assert!(
        !later.contains("expires soon") && later.contains("in 30 days"),
        "{later}"
    );
    // Relative times beside the UTC ones, from the server's (moved) clock.
    let marked = text(row(&html, "fh-marked"));
    assert!(
        marked.contains("UTC") && marked.contains("4 h ago") && marked.contains("3 h ago"),
        "created 4 h ago, expired 3 h ago: {marked}"
    );
    assert!(soon.contains("just now"), "created just now: {soon}");
    assert!(html.contains("<time datetime=\""), "machine-readable times");

    // The status filter offers Expired, and each status lists its own tokens.
    assert!(html.contains("<option value=\"expired\">Expired</option>"));
    let only = |path: &str| {
        let c = c.clone();
        let app = &app;
        let path = path.to_string();
        async move {
            let mut n = names(&page(&c, app, &path).await);
            n.sort();
            n
        }
    };
    assert_eq!(
        only("/?name=fh-&status=expired").await,
        ["fh-flagged", "fh-marked"]
    );
    assert_eq!(
        only("/?name=fh-&status=disabled").await,
        ["fh-manual", "fh-owner-off"]
    );
    assert_eq!(
        only("/?name=fh-&status=enabled").await,
        ["fh-later", "fh-soon"]
    );
    // "Expires in less than N days": a number field.
    assert!(html.contains("name=\"expires_within_days\" type=\"number\""));
    assert_eq!(only("/?expires_within_days=7").await, ["fh-soon"]);
    assert_eq!(
        only("/?expires_within_days=31&name=fh-").await,
        ["fh-later", "fh-soon"]
    );
    let bad = c
        .get(app.url("/?expires_within_days=soon"))
        .send()
        .await
        .expect("page");
    assert!(bad.status().as_u16() < 500);
    let bad = bad.text().await.expect("html");
    assert!(
        text(&bad).contains("whole number of days"),
        "the field says what to type"
    );

    // The token page shows the status and relative times too.
    let id = row(&html, "fh-soon")
        .split("href=\"/tokens/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("id")
        .to_string();
    let detail = text(&page(&c, &app, &format!("/tokens/{id}")).await);
    assert!(
        detail.contains("(in 3 days)") && detail.contains("(just now)"),
        "{detail}"
    );
}

#[tokio::test]
async fn first_hour_an_empty_list_says_so_with_a_create_button_and_no_pager() {
    let app = spawn_app().await;
    app.create_user("newbie@example.com", "analyst").await;
    let c = signed_in_as(&app, "newbie@example.com", PASSWORD).await;
    let html = page(&c, &app, "/").await;
    let t = text(&html);
    assert!(t.contains("No API tokens yet"), "{t}");
    let body = html.split("</form>").skip(1).collect::<String>();
    assert!(
        body.contains("class=\"btn btn-primary\" href=\"/tokens/new"),
        "a Create API token button in the empty state"
    );
    assert!(text(&body).contains("Create API token"));
    assert!(!html.contains("class=\"pager\""), "no pager");
    assert!(!html.contains("<table"), "no empty table");

    let html = page(&c, &app, "/?name=nothing-like-it").await;
    assert!(text(&html).contains("No tokens match these filters"));
    assert!(!html.contains("class=\"pager\""), "no pager");
}

#[tokio::test]
async fn first_hour_audit_reads_as_sentences_with_names() {
    let app = spawn_app().await;
    let alice = app.create_user("alice@example.com", "analyst").await;
    let (bot, alice_value) = app
        .own_token(
            alice,
            json!({ "name": "deploy-bot", "role_template": "read_only" }),
        )
        .await;
    let (old, _) = app
        .own_token(
            alice,
            json!({ "name": "old-token", "role_template": "read_only" }),
        )
        .await;
    let (gone, _) = app
        .own_token(
            alice,
            json!({ "name": "gone-token", "role_template": "read_only" }),
        )
        .await;
    let _ = bot;
    api(
        &app,
        reqwest::Method::POST,
        &format!("/v1/tokens/{bot}/regenerate"),
        &alice_value,
        json!({ "grace_seconds": 3600 }),
    )
    .await;
    api(
        &app,
        reqwest::Method::POST,
        "/v1/tokens/bulk",
        &app.admin_token,
        json!({ "ids": [old], "action": "disable" }),
    )
    .await;
    api(
        &app,
        reqwest::Method::DELETE,
        &format!("/v1/tokens/{gone}"),
        &app.admin_token,
        json!({}),
    )
    .await;
    // Past the retention, the scheduler purges the disabled token.
    app.advance(Duration::days(400));
    app.admin_post("/v1/maintenance/run", json!({}), 200).await;

    let c = signed_in_as(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let html = page(&c, &app, "/audit").await;
    let t = text(&html);
    for sentence in [
        "alice@example.com created deploy-bot",
        "alice@example.com regenerated deploy-bot",
        "admin@example.com disabled old-token (reason: manual)",
        "admin@example.com deleted gone-token",
        "system purged old-token",
        "admin@example.com created user alice@example.com",
    ] {
        let sentence = sentence.replace("admin@example.com", ADMIN_EMAIL);
        assert!(t.contains(&sentence), "“{sentence}” in:\n{t}");
    }
    for id in [bot, old, gone] {
        assert!(!t.contains(&format!("#{id} ")), "names, not ids: {t}");
    }
    // Details as labelled fields, never raw JSON; times to the second with words.
    assert!(
        html.contains("<dt>Grace seconds</dt><dd>3600</dd>"),
        "labelled details"
    );
    assert!(
        html.contains("<dt>Owner</dt><dd>alice@example.com</dd>"),
        "an owner's id reads as the owner's email"
    );
    assert!(
        !html.contains("{&quot;") && !html.contains("{\"name"),
        "no raw JSON"
    );
    let secs = t
        .split(" UTC")
        .filter(|s| {
            let tail: String = s
                .chars()
                .rev()
                .take(8)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            tail.len() == 8 && tail.as_bytes()[2] == b':' && tail.as_bytes()[5] == b':'
        })
        .count();
    assert!(secs >= 6, "times to the second: {t}");
    assert!(
        t.contains("400 days ago") || t.contains("13 months ago"),
        "relative times: {t}"
    );
    // One word: the console never says "renewed"; the filter offers "regenerated".
    assert!(!t.to_lowercase().contains("renew"), "{t}");
    assert!(html.contains("<option value=\"token.regenerated\">Token regenerated</option>"));
    for action in ["token.regenerated", "token.renewed"] {
        let t = text(&page(&c, &app, &format!("/audit?action={action}")).await);
        assert!(
            t.contains("alice@example.com regenerated deploy-bot"),
            "{action}: {t}"
        );
        assert!(!t.contains("created deploy-bot"), "{action}: {t}");
    }
}
