//! SPEC §17, the first hour, in Chromium: 100-character token names and a 100-character
//! email keep the API tokens list inside 1280 px with no cell's content spilling into
//! another, Profile's token list keeps its Status column whole, and on a 390 px phone the row
//! checkbox never overlaps the name. Screenshots of the long names, the expired state and the
//! audit log (`UPDATE_SCREENSHOTS=1` writes them to `docs/screenshots/`).

use chrono::Duration;
use serde_json::{json, Value};

use crate::app::{spawn_app, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD};
use crate::browser::{Browser, Options, DESKTOP, PHONE};

/// A name of exactly `n` characters that reads like one (words joined by dashes).
fn long_name(prefix: &str, n: usize) -> String {
    let mut s = prefix.to_string();
    let words = [
        "production",
        "deploy",
        "pipeline",
        "eu",
        "west",
        "replica",
        "reporting",
    ];
    let mut i = 0;
    while s.len() < n {
        s.push('-');
        s.push_str(words[i % words.len()]);
        i += 1;
    }
    s.truncate(n);
    s
}

/// What the page measures: the document's width, and every place where one cell's content
/// leaves its cell or two cells of a row overlap.
const MEASURE: &str = r#"
const out = [];
const overlap = (a, b) =>
  Math.min(a.right, b.right) - Math.max(a.left, b.left) > 0.5 &&
  Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 0.5;
for (const tr of document.querySelectorAll(arguments[0])) {
  const cells = [...tr.children].filter(td => td.getBoundingClientRect().width > 0);
  // On a phone the checkbox cell is placed in the name cell's right padding on purpose;
  // its box is compared with the name's own box separately (CHECKBOX_VS_NAME).
  const placed = td => getComputedStyle(td).position === 'absolute';
  for (let i = 0; i < cells.length; i++) {
    const a = cells[i].getBoundingClientRect();
    for (let j = i + 1; j < cells.length; j++) {
      if (placed(cells[i]) || placed(cells[j])) continue;
      if (overlap(a, cells[j].getBoundingClientRect())) {
        out.push(`cells ${cells[i].dataset.label} and ${cells[j].dataset.label} overlap`);
      }
    }
    for (const el of cells[i].querySelectorAll('a, span, button, time, input')) {
      const e = el.getBoundingClientRect();
      if (e.width > 0 && (e.left < a.left - 0.5 || e.right > a.right + 0.5)) {
        out.push(`${cells[i].dataset.label}: “${el.textContent.trim().slice(0, 30)}” leaves its cell`);
      }
    }
  }
}
for (const w of document.querySelectorAll('.table-wrap')) {
  if (w.scrollWidth > w.clientWidth + 1) out.push(`the table scrolls: ${w.scrollWidth} > ${w.clientWidth}`);
}
const heights = [...document.querySelectorAll(arguments[0])].map(tr => tr.getBoundingClientRect().height);
return [document.documentElement.scrollWidth, out, Math.max(0, ...heights)];
"#;

async fn measure(b: &Browser, rows: &str) -> (i64, Vec<String>, f64) {
    let v =
        b.c.execute(MEASURE, vec![json!(rows)])
            .await
            .expect("measure");
    let problems = v[1]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    (
        v[0].as_i64().unwrap_or(i64::MAX),
        problems,
        v[2].as_f64().unwrap_or(0.0),
    )
}

/// On a phone: for each row, the checkbox's box against the name's box.
const CHECKBOX_VS_NAME: &str = r#"
const out = [];
for (const tr of document.querySelectorAll('table.token-list tbody tr')) {
  const box = tr.querySelector('input[name=ids]');
  const name = tr.querySelector('td.col-name a');
  if (!box || !name) continue;
  const a = box.getBoundingClientRect(), n = name.getBoundingClientRect();
  const w = Math.min(a.right, n.right) - Math.max(a.left, n.left);
  const h = Math.min(a.bottom, n.bottom) - Math.max(a.top, n.top);
  if (w > 0 && h > 0) out.push(name.textContent.slice(0, 30));
  if (n.right > window.innerWidth) out.push('off screen: ' + name.textContent.slice(0, 30));
}
return [document.querySelectorAll('table.token-list tbody tr input[name=ids]').length, out];
"#;

/// alice (a 100-character local part), three tokens with 100-character names, one expired,
/// one disabled, one expiring in two days; an audit trail of names.
async fn seed(app: &TestApp) -> String {
    let email = format!("{}@example.com", long_name("alice.wonderland", 100));
    assert_eq!(email.split('@').next().map(str::len), Some(100));
    let alice = app.create_user(&email, "analyst").await;
    let ro = |extra: Value| {
        let mut b = json!({ "role_template": "read_only" });
        if let (Some(b), Some(e)) = (b.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        b
    };
    let at = |d: Duration| {
        (app.state.clock.now() + d).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    app.token_named(
        alice,
        "nightly-export",
        ro(json!({ "expires_at": at(Duration::hours(1)) })),
    )
    .await;
    app.advance(Duration::hours(2));
    app.admin_post("/v1/maintenance/run", json!({}), 200).await;
    for (i, extra) in [
        json!({}),
        json!({ "expires_at": at(Duration::days(2)) }),
        json!({ "enabled": false }),
    ]
    .into_iter()
    .enumerate()
    {
        let name = long_name(&format!("{}-customer-facing", ["api", "ci", "ops"][i]), 100);
        assert_eq!(name.chars().count(), 100);
        app.token_named(alice, &name, ro(extra)).await;
    }
    let (id, value) = app
        .own_token(
            alice,
            json!({ "name": "deploy-bot", "role_template": "read_only" }),
        )
        .await;
    let res = app
        .client
        .post(app.url(&format!("/v1/tokens/{id}/regenerate")))
        .bearer_auth(&value)
        .json(&json!({ "grace_seconds": 3600 }))
        .send()
        .await
        .expect("regenerate");
    assert_eq!(res.status(), 200);
    email
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_hour_long_names_keep_the_list_inside_1280_px_and_nothing_overlaps_on_a_phone() {
    let app = spawn_app().await;
    let email = seed(&app).await;
    let b = Browser::start(&app.address, Options::default()).await;
    b.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    b.resize(DESKTOP).await;
    b.goto("/").await;
    b.sees("Expired").await;
    b.sees("expires soon").await;

    let (width, problems, tallest) = measure(&b, "table.token-list tbody tr").await;
    b.screenshot("tokens-long-names-1280").await;
    assert!(width <= 1280, "the list is {width} px wide at 1280 px");
    assert!(problems.is_empty(), "at 1280 px: {problems:#?}");
    assert!(
        tallest <= 64.0,
        "rows stay compact: the tallest is {tallest} px"
    );
    // The whole name is there on hover (title) and for screen readers (the text itself).
    let name = long_name("api-customer-facing", 100);
    let link =
        b.c.find(fantoccini::Locator::Css(&format!(
            "td.col-name a[title='{name}']"
        )))
        .await
        .expect("the name's link carries the whole name");
    assert_eq!(link.text().await.expect("text"), name);

    b.resize(PHONE).await;
    b.goto("/").await;
    let (width, problems, _) = measure(&b, "table.token-list tbody tr").await;
    assert!(
        width <= PHONE.0 as i64,
        "the list is {width} px wide at 390 px"
    );
    assert!(problems.is_empty(), "at 390 px: {problems:#?}");
    let v =
        b.c.execute(CHECKBOX_VS_NAME, vec![])
            .await
            .expect("measure");
    assert!(v[0].as_i64().unwrap_or(0) >= 4, "rows with checkboxes: {v}");
    assert_eq!(v[1], json!([]), "a checkbox overlaps a name at 390 px");
    b.c.execute(
        "document.querySelector('.table-card').scrollIntoView();",
        vec![],
    )
    .await
    .expect("scroll");
    b.screenshot("tokens-long-names-390").await;

    // The expired state, filtered.
    b.resize(DESKTOP).await;
    b.goto("/?status=expired").await;
    b.sees("Expired").await;
    b.screenshot("tokens-expired-1280").await;

    // The audit log as sentences.
    b.goto("/audit").await;
    b.sees(&format!("{email} regenerated deploy-bot")).await;
    let (width, problems, _) = measure(&b, "table.audit tbody tr").await;
    assert!(
        width <= 1280 && problems.is_empty(),
        "{width}: {problems:#?}"
    );
    b.screenshot("audit-sentences-1280").await;
    b.resize(PHONE).await;
    b.goto("/audit").await;
    let (width, _, _) = measure(&b, "table.audit tbody tr").await;
    assert!(
        width <= PHONE.0 as i64,
        "the audit log is {width} px wide at 390 px"
    );
    b.c.execute(
        "document.querySelector('.table-card').scrollIntoView();",
        vec![],
    )
    .await
    .expect("scroll");
    b.screenshot("audit-sentences-390").await;
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_hour_profile_token_list_keeps_its_status_column_whole() {
    let app = spawn_app().await;
    let email = seed(&app).await;
    let b = Browser::start(&app.address, Options::default()).await;
    b.login(&email, PASSWORD).await;
    b.resize(DESKTOP).await;
    b.goto("/profile").await;
    let (width, problems, _) = measure(&b, "table.token-list tbody tr").await;
    assert!(width <= 1280, "the profile is {width} px wide");
    assert!(problems.is_empty(), "at 1280 px: {problems:#?}");
    // No badge is cut by the table's scroll box.
    let cut = b
        .c
        .execute(
            "const out = [];
             for (const w of document.querySelectorAll('.table-wrap')) {
               if (w.scrollWidth > w.clientWidth + 1) out.push('scrolls: ' + w.scrollWidth + ' > ' + w.clientWidth);
               const r = w.getBoundingClientRect();
               for (const s of w.querySelectorAll('.badge')) {
                 const e = s.getBoundingClientRect();
                 if (e.right > r.right + 0.5) out.push('cut: ' + s.textContent.trim());
               }
             }
             return out;",
            vec![],
        )
        .await
        .expect("measure");
    assert_eq!(cut, json!([]), "Profile's token list is whole");
    b.resize(PHONE).await;
    b.goto("/profile").await;
    let (width, problems, _) = measure(&b, "table.token-list tbody tr").await;
    assert!(
        width <= PHONE.0 as i64 && problems.is_empty(),
        "{width}: {problems:#?}"
    );
    b.finish().await;
}
