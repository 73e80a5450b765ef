//! SPEC §17, the first hour: the token list tells *Expired* apart from *Disabled*
//! (`status=expired`), filters "expires in less than N days", and the value is regenerated
//! under one word (`/regenerate`, with `/renew` kept as an alias; `token.regenerated` filters
//! the audit log like the stored `token.renewed`).

use std::collections::BTreeSet;

use chrono::Duration;
use serde_json::json;

use crate::helpers::*;
use crate::listing::{names, set};

/// Creates `name` for `owner` as the admin, expiring `expires_in` from the server's now.
async fn make(app: &TestApp, owner: i64, name: &str, expires_in: Option<Duration>) -> i64 {
    let mut b = json!({ "name": name, "owner_id": owner, "role_template": "read_only" });
    if let Some(d) = expires_in {
        b["expires_at"] = json!(rfc3339_after(app.server_now(), d.num_seconds()));
    }
    app.create_token(&app.admin_token, b).await["id"]
        .as_i64()
        .expect("id")
}

/// The `fh-` tokens a query lists.
async fn listed(app: &TestApp, query: &str) -> BTreeSet<String> {
    names(
        &app.get_ok(
            &format!("/v1/tokens?limit=500&name=fh-&{query}"),
            &app.admin_token,
        )
        .await,
    )
}

/// Every state a token can be in: enabled (with and without an expiry), past its expiry but
/// not yet marked by the scheduler, marked expired by it, disabled by hand (before and past
/// its expiry), and disabled with its owner.
async fn seed(app: &TestApp) {
    let a = app.quick_user("fh-a@example.com", "analyst").await;
    let b = app.quick_user("fh-b@example.com", "analyst").await;
    make(app, a, "fh-marked", Some(Duration::hours(1))).await;
    let manual_past = make(app, a, "fh-manual-past", Some(Duration::hours(1))).await;
    let manual = make(app, a, "fh-manual", None).await;
    make(app, b, "fh-owner-off", None).await;
    for id in [manual_past, manual] {
        let res = app.update_token(id, json!({ "enabled": false })).await;
        assert_eq!(res.status(), 200);
    }
    app.update_user(b, json!({ "enabled": false })).await;
    app.advance(Duration::hours(2));
    // The scheduler marks `fh-marked` disabled with reason `expired`.
    app.maintenance().await;
    assert_eq!(
        listed(app, "").await.len(),
        4,
        "the seed tokens exist: {:?}",
        listed(app, "").await
    );
    make(app, a, "fh-flagged", Some(Duration::hours(1))).await;
    app.advance(Duration::hours(2));
    // No scheduler run since: `fh-flagged` is still stored as enabled.
    make(app, a, "fh-live", None).await;
    make(app, a, "fh-soon", Some(Duration::days(3))).await;
    make(app, a, "fh-later", Some(Duration::days(30))).await;
}

#[tokio::test]
async fn first_hour_status_expired_is_apart_from_disabled() {
    let app = spawn_app().await;
    seed(&app).await;
    let flagged = &app
        .get_ok("/v1/tokens?name=fh-flagged", &app.admin_token)
        .await["items"][0];
    assert_eq!(flagged["enabled"], true, "stored as enabled: {flagged}");
    let marked = &app
        .get_ok("/v1/tokens?name=fh-marked", &app.admin_token)
        .await["items"][0];
    assert_eq!(marked["disabled_reason"], "expired", "{marked}");

    let expired = listed(&app, "status=expired").await;
    let enabled = listed(&app, "status=enabled").await;
    let disabled = listed(&app, "status=disabled").await;
    assert_eq!(
        expired,
        set(&["fh-marked", "fh-flagged", "fh-manual-past"]),
        "past its expiry (whatever the flag) or disabled because it expired"
    );
    assert_eq!(
        enabled,
        set(&["fh-live", "fh-soon", "fh-later"]),
        "enabled and not expired"
    );
    assert_eq!(
        disabled,
        set(&["fh-manual", "fh-owner-off"]),
        "disabled for another reason, not expired"
    );
    // The three statuses split the list: each token is in exactly one.
    let all = listed(&app, "").await;
    assert_eq!(all.len(), expired.len() + enabled.len() + disabled.len());
    let union: BTreeSet<String> = expired
        .union(&enabled)
        .chain(disabled.iter())
        .cloned()
        .collect();
    assert_eq!(union, all);

    // A moved clock moves the statuses: two days on, `fh-soon`'s three days are not over.
    app.advance(Duration::days(4));
    assert!(listed(&app, "status=expired").await.contains("fh-soon"));
    assert!(!listed(&app, "status=enabled").await.contains("fh-soon"));
}

#[tokio::test]
async fn first_hour_expires_within_days_lists_tokens_about_to_expire() {
    let app = spawn_app().await;
    seed(&app).await;
    assert_eq!(
        listed(&app, "expires_within_days=7").await,
        set(&["fh-soon"]),
        "not yet expired, and expiring within 7 days"
    );
    assert_eq!(
        listed(&app, "expires_within_days=31").await,
        set(&["fh-soon", "fh-later"])
    );
    assert_eq!(
        listed(&app, "expires_within_days=2").await,
        set(&[]),
        "less than 2 days: fh-soon has (almost) 3 days left"
    );
    assert_eq!(
        listed(&app, "expires_within_days=31&status=enabled&kind=private").await,
        set(&["fh-soon", "fh-later"]),
        "combines with the other filters"
    );
    assert_eq!(
        listed(&app, "expires_within_days=31&status=expired").await,
        set(&[]),
        "an expired token does not expire within N days"
    );
    for bad in ["0", "-1", "36501", "seven", "1.5", "", "%00"] {
        let res = app
            .get(
                &format!("/v1/tokens?expires_within_days={bad}"),
                &app.admin_token,
            )
            .await;
        let status = res.status().as_u16();
        let b = body(res).await;
        if bad.is_empty() {
            assert_eq!(status, 200, "blank means any: {b}");
            continue;
        }
        assert!(status == 400 || status == 422, "{bad}: {status} {b}");
        assert!(b.to_string().contains("expires_within_days"), "{bad}: {b}");
    }
    for bad in ["Expired", "expire", "on"] {
        let res = app
            .get(&format!("/v1/tokens?status={bad}"), &app.admin_token)
            .await;
        let status = res.status().as_u16();
        let b = body(res).await;
        assert!(status == 400 || status == 422, "{bad}: {status} {b}");
        assert!(
            b.to_string().contains("expired"),
            "the message names `expired`: {b}"
        );
    }
}

#[tokio::test]
async fn first_hour_regenerate_is_the_word_and_renew_its_alias() {
    let app = spawn_app().await;
    let (owner, owner_tok) = app
        .quick_user_with_token("fh-owner@example.com", "analyst")
        .await;
    let (id, old) = app.token_for(owner, json!({ "name": "deploy-bot" })).await;

    let res = app
        .post(
            &format!("/v1/tokens/{id}/regenerate"),
            &owner_tok,
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let new = body(res).await["value"]
        .as_str()
        .expect("value")
        .to_string();
    assert_ne!(new, old);
    assert_eq!(
        app.me_status(&old).await,
        401,
        "the old value stops working"
    );
    assert_eq!(app.me_status(&new).await, 200);

    // The old path stays, with the same answer and rules.
    let res = app
        .post(
            &format!("/v1/tokens/{id}/renew"),
            &owner_tok,
            json!({ "grace_seconds": 60 }),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.me_status(&new).await, 200, "the overlap is honoured");
    let res = app
        .post(
            &format!("/v1/tokens/{id}/regenerate"),
            &owner_tok,
            json!({ "grace_seconds": -1 }),
        )
        .await;
    assert_eq!(res.status().as_u16(), 422, "same validation as /renew");

    // Both are documented; both are one audit action, filtered by either name.
    let doc = body(app.get("/openapi.json", "").await).await;
    for p in ["/v1/tokens/{id}/regenerate", "/v1/tokens/{id}/renew"] {
        assert!(
            doc["paths"][p]["post"].is_object(),
            "{p} is in the OpenAPI document"
        );
    }
    let stored = app
        .audit_events(&format!("action=token.renewed&token_id={id}"))
        .await;
    let alias = app
        .audit_events(&format!("action=token.regenerated&token_id={id}"))
        .await;
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert_eq!(stored, alias);
    assert_eq!(stored[0]["details"]["name"], "deploy-bot");
}
