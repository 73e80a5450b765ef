//! The console over plain HTTP (no browser): every form is a plain POST form carrying a CSRF
//! token, a wrong token is refused, pages carry the security headers, a value page is never
//! cached and closes only to a path on this site, and the static files come from the binary.

use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_FRAME_OPTIONS};
use reqwest::Client;

use crate::app::{spawn_app, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD};

/// The value of `name="{field}" value="…"` in a page.
pub fn hidden(html: &str, field: &str) -> String {
    let key = format!("name=\"{field}\" value=\"");
    let start = html
        .find(&key)
        .unwrap_or_else(|| panic!("no {field} in page"))
        + key.len();
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Posts an urlencoded form, as a browser does.
pub async fn post_form(
    c: &Client,
    url: String,
    pairs: &[(&str, &str)],
) -> Result<reqwest::Response, reqwest::Error> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    c.post(url)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
}

/// Follows the 303 a form answers with (post/redirect/get) and returns the page it names.
pub async fn follow(app: &TestApp, c: &Client, res: reqwest::Response) -> reqwest::Response {
    assert_eq!(res.status(), 303, "a form answers with a redirect");
    let to = res.headers()["location"]
        .to_str()
        .expect("location")
        .to_string();
    c.get(app.url(&to)).send().await.expect("the page")
}

/// A cookie-keeping client signed in as the bootstrap administrator.
pub async fn signed_in(app: &TestApp) -> Client {
    let c = signed_in_as(app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let home = c.get(app.url("/")).send().await.expect("home");
    assert_eq!(home.status(), 200, "the administrator lands on the list");
    c
}

/// A cookie-keeping client signed in through the login form, not following redirects.
pub async fn signed_in_as(app: &TestApp, email: &str, password: &str) -> Client {
    let c = Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = c.get(app.url("/login")).send().await.expect("login page");
    let csrf = hidden(&page.text().await.expect("html"), "csrf_token");
    let res = post_form(
        &c,
        app.url("/login"),
        &[
            ("csrf_token", csrf.as_str()),
            ("email", email),
            ("password", password),
        ],
    )
    .await
    .expect("login");
    assert_eq!(res.status(), 303, "{email} signs in");
    c
}

#[tokio::test]
async fn forms_are_plain_posts_with_csrf_tokens_and_value_pages_are_not_cached() {
    let app = spawn_app().await;
    let c = signed_in(&app).await;
    let page = c.get(app.url("/tokens/new")).send().await.expect("form");
    let h = page.headers().clone();
    assert!(h[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    assert_eq!(h[X_FRAME_OPTIONS], "DENY");
    let html = page.text().await.expect("html");
    assert!(
        html.contains(r#"<form method="post" action="/tokens""#),
        "a plain POST form"
    );
    assert!(!html.contains("<script>") && !html.contains(" style=") && !html.contains("onclick"));
    let csrf = hidden(&html, "csrf_token");

    // A wrong CSRF token is refused and creates nothing.
    let res = post_form(
        &c,
        app.url("/tokens"),
        &[
            ("csrf_token", "forged"),
            ("name", "forged"),
            ("role_template", "read_only"),
            ("enabled", "1"),
        ],
    )
    .await
    .expect("post");
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("Form expired"));

    // The right one creates the token; the value page is never cached.
    let res = post_form(
        &c,
        app.url("/tokens"),
        &[
            ("csrf_token", csrf.as_str()),
            ("name", "plain"),
            ("role_template", "read_only"),
            ("enabled", "1"),
        ],
    )
    .await
    .expect("post");
    let res = follow(&app, &c, res).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    let html = res.text().await.expect("html");
    let start = html.find("tkd_").expect("value on the page");
    let value = &html[start..start + 40];
    assert_eq!(app.token_status(value).await, 200);

    // Logging out needs the token too.
    let res = post_form(&c, app.url("/logout"), &[("csrf_token", "x")])
        .await
        .expect("post");
    assert_eq!(res.status(), 403);
    let res = post_form(&c, app.url("/logout"), &[("csrf_token", csrf.as_str())])
        .await
        .expect("post");
    assert_eq!(res.status(), 303);
    let res = c.get(app.url("/")).send().await.expect("get");
    assert_eq!(res.headers()["location"], "/login", "signed out");
}

#[tokio::test]
async fn login_form_needs_its_csrf_cookie_and_static_files_come_from_the_binary() {
    let app = spawn_app().await;
    let c = app.client.clone();
    let res = post_form(
        &c,
        app.url("/login"),
        &[
            ("csrf_token", "x"),
            ("email", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
        ],
    )
    .await
    .expect("post");
    assert_eq!(res.status(), 403, "no login without the form's own token");
    assert!(res
        .headers()
        .get("set-cookie")
        .is_none_or(|v| !v.to_str().unwrap().starts_with("tokend_session")));

    for (path, mime) in [
        ("/static/console.css", "text/css"),
        ("/static/console.js", "text/javascript"),
        ("/static/favicon.svg", "image/svg+xml"),
    ] {
        let res = c.get(app.url(path)).send().await.expect("get");
        assert_eq!(res.status(), 200, "{path}");
        assert!(
            res.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with(mime),
            "{path}"
        );
    }
    let res = c.get(app.url("/static/nope.js")).send().await.expect("get");
    assert_eq!(res.status(), 404);
    let res = c.get(app.url("/tokens/abc")).send().await.expect("get");
    assert_eq!(res.status(), 303, "not signed in: to the login page first");
}

#[tokio::test]
async fn the_token_list_pages_by_number_with_the_total_keeping_filters_and_sort() {
    let app = spawn_app().await;
    for n in ["page-a", "page-b", "page-c"] {
        app.token_named(1, n, serde_json::json!({})).await;
    }
    app.token_named(1, "other", serde_json::json!({})).await;
    let c = signed_in(&app).await;
    let get = |path: String| {
        let c = c.clone();
        async move {
            c.get(path)
                .send()
                .await
                .expect("get")
                .text()
                .await
                .expect("html")
        }
    };
    let first = get(app.url("/?name=page&sort=name&order=desc&per_page=2")).await;
    assert!(
        first.contains(">page-c<") && first.contains(">page-b<") && !first.contains(">page-a<"),
        "sorted by name, descending"
    );
    assert!(first.contains("3 tokens"), "the total counts every match");
    let pager = &first[first.find("class=\"pager\"").expect("pager")..];
    let rel = pager.find("rel=\"next\"").expect("a next link");
    let start = pager[..rel].rfind("href=\"").expect("its href") + 6;
    let next = pager[start..]
        .split('"')
        .next()
        .expect("href")
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    for kept in [
        "name=page",
        "per_page=2",
        "sort=name",
        "order=desc",
        "page=2",
    ] {
        assert!(next.contains(kept), "{kept} is kept: {next}");
    }
    let second = get(app.url(&next)).await;
    assert!(
        second.contains(">page-a<") && !second.contains(">page-c<"),
        "the second page"
    );
    assert!(
        second.contains("aria-current=\"page\">2<"),
        "page 2 is current"
    );
    assert!(second.contains("« Previous"));
    let past_the_end = get(app.url("/?name=page&per_page=2&page=99")).await;
    assert!(
        past_the_end.contains("aria-current=\"page\">2<"),
        "the last page instead"
    );
    // Absurd page numbers are pages too, never an error.
    for path in [
        "/?page=18446744073709551615&per_page=100",
        "/tokens/new/owner?page=18446744073709551615&q=x",
    ] {
        let res = c.get(app.url(path)).send().await.expect("get");
        assert_eq!(res.status().as_u16(), 200, "{path}");
    }
    // The Select page's last page offers the one before it, carrying the search.
    let select = get(app.url("/tokens/new/owner?page=18446744073709551615&q=x")).await;
    assert!(
        select.contains("name=\"page\" value=\"99999\"") && select.contains("« Previous"),
        "{select}"
    );
}

/// Undoes the HTML escaping of an attribute value.
fn unescape(attr: &str) -> String {
    attr.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
}

/// The target of the value page's *Close* link.
fn close_href(html: &str) -> String {
    let end = html.find(">Close</a>").expect("a Close link");
    let start = html[..end].rfind("href=\"").expect("its href") + 6;
    unescape(html[start..end].trim_end_matches('"'))
}

#[tokio::test]
async fn the_value_page_closes_only_to_a_path_on_this_site() {
    let app = spawn_app().await;
    let c = signed_in(&app).await;
    let list = "/?status=enabled&per_page=25";
    let form = c
        .get(app.url("/tokens/new?back=%2F%3Fstatus%3Denabled%26per_page%3D25"))
        .send()
        .await
        .expect("form")
        .text()
        .await
        .expect("html");
    assert_eq!(
        unescape(&hidden(&form, "back")),
        list,
        "the form keeps back"
    );
    let csrf = hidden(&form, "csrf_token");
    let hostile = c
        .get(app.url("/tokens/new?back=%2F%2Fevil.example"))
        .send()
        .await
        .expect("form")
        .text()
        .await
        .expect("html");
    assert_eq!(hidden(&hostile, "back"), "/", "another site is never kept");

    // A forged post carries any back it likes: only a local path is used.
    for (n, (back, close)) in [
        (list, list),
        ("/profile", "/profile"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("close-{n}");
        let res = post_form(
            &c,
            app.url("/tokens"),
            &[
                ("csrf_token", csrf.as_str()),
                ("name", name.as_str()),
                ("role_template", "read_only"),
                ("enabled", "1"),
                ("back", back),
            ],
        )
        .await
        .expect("post");
        let res = follow(&app, &c, res).await;
        assert_eq!(res.status(), 200, "{back:?}");
        let html = res.text().await.expect("html");
        assert!(html.contains("API token created"), "{back:?}");
        assert!(
            html.contains("X-WallarmApi-Token") && html.contains("/v1/me"),
            "how to send it"
        );
        assert_eq!(close_href(&html), close, "Close for back={back:?}");
    }
}
