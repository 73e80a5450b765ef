//! Rules 8, 9, 12, 13 and 14: who sees, manages and uses which token.

use serde_json::{json, Value};

use crate::helpers::*;

/// Lists every token visible to `token` (one page of up to 500).
async fn visible(app: &TestApp, token: &str) -> Vec<i64> {
    ids(&app.get_ok("/v1/tokens?limit=500", token).await)
}

#[tokio::test]
async fn rule_8_admins_see_and_manage_all_tokens_of_their_company() {
    let app = spawn_app().await;
    let (_, admin) = app.quick_user_with_token("boss@example.com", "admin").await;
    let analyst = app.quick_user("an@example.com", "analyst").await;
    let (tid, value) = app.token_for(analyst, json!({})).await;
    let (tid2, _) = app.token_for(analyst, json!({})).await;

    assert!(visible(&app, &admin).await.contains(&tid));
    let path = format!("/v1/tokens/{tid}");
    assert_eq!(app.get_ok(&path, &admin).await["owner"]["id"], analyst);
    let res = app
        .patch(
            &path,
            &admin,
            json!({ "name": "renamed by admin", "description": "d" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["name"], "renamed by admin");
    let res = app.patch(&path, &admin, json!({ "enabled": false })).await;
    assert_eq!(body(res).await["disabled_reason"], "manual");
    assert_eq!(app.get("/v1/me", &value).await.status(), 401);
    let res = app.patch(&path, &admin, json!({ "enabled": true })).await;
    assert_eq!(body(res).await["enabled"], true);
    assert_eq!(app.get("/v1/me", &value).await.status(), 200);
    let res = app
        .patch(&path, &admin, json!({ "permissions": ["attacks:read"] }))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.delete(&path, &admin).await.status(), 204);
    expect_error(app.get(&path, &admin).await, 404, "not_found").await;
    assert_eq!(app.get("/v1/me", &value).await.status(), 401);
    // bulk too
    let res = app
        .post(
            "/v1/tokens/bulk",
            &admin,
            json!({ "ids": [tid2], "action": "disable" }),
        )
        .await;
    assert_eq!(body(res).await["results"][0]["ok"], true);
    assert_eq!(
        app.get_ok(&format!("/v1/tokens/{tid2}"), &admin).await["enabled"],
        false
    );
}

#[tokio::test]
async fn rule_8_global_admin_manages_tokens_in_every_company_and_admins_only_their_own() {
    let app = spawn_app().await;
    let c2 = app.create_company("Second Co").await;
    let (_, admin1) = app
        .quick_user_with_token("boss1@example.com", "admin")
        .await;
    let (_, admin2) = app
        .user_in_company("boss2@second.example", "admin", c2)
        .await;
    let analyst1 = app.quick_user("an1@example.com", "analyst").await;
    let (analyst2, _) = app
        .user_in_company("an2@second.example", "analyst", c2)
        .await;
    let (t1, _) = app.token_for(analyst1, json!({})).await;
    let (t2, v2) = app.token_for(analyst2, json!({})).await;

    // each company administrator sees only its company
    let seen1 = visible(&app, &admin1).await;
    assert!(seen1.contains(&t1) && !seen1.contains(&t2), "{seen1:?}");
    let seen2 = visible(&app, &admin2).await;
    assert!(seen2.contains(&t2) && !seen2.contains(&t1), "{seen2:?}");
    for (admin, foreign) in [(&admin1, t2), (&admin2, t1)] {
        let path = format!("/v1/tokens/{foreign}");
        expect_error(app.get(&path, admin).await, 404, "not_found").await;
        expect_error(
            app.patch(&path, admin, json!({ "enabled": false })).await,
            404,
            "not_found",
        )
        .await;
        expect_error(app.delete(&path, admin).await, 404, "not_found").await;
    }
    let f = app
        .get_ok(&format!("/v1/tokens?owner_id={analyst2}"), &admin1)
        .await;
    assert!(
        ids(&f).is_empty(),
        "filtering does not reach across companies: {f}"
    );

    // the global administrator sees and manages both
    let all = visible(&app, &app.admin_token).await;
    assert!(all.contains(&t1) && all.contains(&t2));
    let path = format!("/v1/tokens/{t2}");
    assert_eq!(app.get_ok(&path, &app.admin_token).await["company_id"], c2);
    let res = app
        .patch(&path, &app.admin_token, json!({ "enabled": false }))
        .await;
    assert_eq!(body(res).await["enabled"], false);
    assert_eq!(app.get("/v1/me", &v2).await.status(), 401);
    let res = app
        .patch(
            &path,
            &app.admin_token,
            json!({ "enabled": true, "name": "global edit" }),
        )
        .await;
    assert_eq!(body(res).await["name"], "global edit");
    assert_eq!(app.get("/v1/me", &v2).await.status(), 200);
    assert_eq!(app.delete(&path, &app.admin_token).await.status(), 204);
    assert_eq!(app.get("/v1/me", &v2).await.status(), 401);
    // and creates tokens for users of another company
    let t = app
        .create_token(
            &app.admin_token,
            json!({ "name": "x", "owner_id": analyst2, "role_template": "read_only" }),
        )
        .await;
    assert_eq!(t["company_id"], c2);
}

#[tokio::test]
async fn rule_9_only_administrators_create_shared_tokens() {
    let app = spawn_app().await;
    for role in ["analyst", "read_only", "deploy", "api_developer"] {
        let (_, token) = app
            .quick_user_with_token(&format!("{role}-u@example.com"), role)
            .await;
        expect_error(
            app.post(
                "/v1/tokens",
                &token,
                json!({ "name": "team", "kind": "shared" }),
            )
            .await,
            403,
            "shared_requires_admin",
        )
        .await;
        assert_eq!(
            visible(&app, &token).await.len(),
            1,
            "{role}: nothing created"
        );
    }
    let (_, admin) = app.quick_user_with_token("boss@example.com", "admin").await;
    let t = app
        .create_token(&admin, json!({ "name": "team", "kind": "shared" }))
        .await;
    assert_eq!(t["kind"], "shared");
    assert_eq!(t["audience"], "administrators", "the default audience");
    let res = app
        .post(
            "/v1/tokens",
            &admin,
            json!({ "name": "bad", "kind": "legacy" }),
        )
        .await;
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn rule_9_shared_token_is_listed_used_and_managed_by_every_admin_of_its_company() {
    let app = spawn_app().await;
    let (a, admin_a) = app.quick_user_with_token("a@example.com", "admin").await;
    let (_, admin_b) = app.quick_user_with_token("b@example.com", "admin").await;
    let (_, analyst) = app.quick_user_with_token("an@example.com", "analyst").await;
    let c2 = app.create_company("Other").await;
    let (_, foreign_admin) = app.user_in_company("x@other.example", "admin", c2).await;

    let s = app
        .create_token(&admin_a, json!({ "name": "team", "kind": "shared" }))
        .await;
    let sid = s["id"].as_i64().unwrap();
    let value = s["value"].as_str().unwrap().to_string();
    let path = format!("/v1/tokens/{sid}");

    // every administrator of the company: listed, value visible, usable, manageable
    assert!(visible(&app, &admin_b).await.contains(&sid));
    let seen = app.get_ok(&path, &admin_b).await;
    assert_eq!(seen["can_reveal"], true);
    assert_eq!(seen["owner"]["id"], a);
    let res = app
        .post(&format!("{path}/reveal"), &admin_b, json!({}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["value"], value.as_str());
    let me = app.get_ok("/v1/me", &value).await;
    assert_eq!(me["user"]["id"], a, "acts as its owner");
    let res = app
        .patch(&path, &admin_b, json!({ "description": "edited by b" }))
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .patch(&path, &admin_b, json!({ "enabled": false }))
        .await;
    assert_eq!(body(res).await["enabled"], false);
    let res = app.patch(&path, &admin_b, json!({ "enabled": true })).await;
    assert_eq!(body(res).await["enabled"], true);
    let res = app
        .post(&format!("{path}/renew"), &admin_b, json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let value = body(res).await["value"].as_str().unwrap().to_string();
    let res = app
        .post(&format!("{path}/reveal"), &admin_a, json!({}))
        .await;
    assert_eq!(
        body(res).await["value"],
        value.as_str(),
        "the owner sees the renewed value"
    );

    // a non-administrator (audience `administrators`) and another company's admin do not
    for outsider in [&analyst, &foreign_admin] {
        assert!(!visible(&app, outsider).await.contains(&sid));
        expect_error(app.get(&path, outsider).await, 404, "not_found").await;
        expect_error(
            app.post(&format!("{path}/reveal"), outsider, json!({}))
                .await,
            404,
            "not_found",
        )
        .await;
        expect_error(
            app.patch(&path, outsider, json!({ "name": "x" })).await,
            404,
            "not_found",
        )
        .await;
    }
    assert_eq!(app.delete(&path, &admin_b).await.status(), 204);
    assert_eq!(app.get("/v1/me", &value).await.status(), 401);
}

#[tokio::test]
async fn rule_9_company_audience_lets_every_member_list_and_use_it_but_not_manage_it() {
    let app = spawn_app().await;
    let (_, admin) = app.quick_user_with_token("boss@example.com", "admin").await;
    let (_, member) = app
        .quick_user_with_token("m@example.com", "read_only")
        .await;
    let c2 = app.create_company("Other").await;
    let (_, foreigner) = app.user_in_company("f@other.example", "analyst", c2).await;
    let s = app
        .create_token(&admin, json!({ "name": "team", "kind": "shared", "audience": "company", "role_template": "read_only" }))
        .await;
    assert_eq!(s["audience"], "company");
    let sid = s["id"].as_i64().unwrap();
    let value = s["value"].as_str().unwrap().to_string();
    let path = format!("/v1/tokens/{sid}");

    assert!(visible(&app, &member).await.contains(&sid));
    let shared = app.get_ok("/v1/tokens?kind=shared", &member).await;
    assert_eq!(ids(&shared), vec![sid]);
    assert_eq!(app.get_ok(&path, &member).await["can_reveal"], true);
    let res = app
        .post(&format!("{path}/reveal"), &member, json!({}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["value"], value.as_str());
    assert_eq!(app.get("/v1/me", &value).await.status(), 200);

    // only administrators manage it
    let before = app.get_ok(&path, &admin).await;
    expect_error(
        app.patch(&path, &member, json!({ "name": "mine now" }))
            .await,
        403,
        "forbidden",
    )
    .await;
    expect_error(
        app.patch(&path, &member, json!({ "enabled": false })).await,
        403,
        "forbidden",
    )
    .await;
    expect_error(app.delete(&path, &member).await, 403, "forbidden").await;
    let res = app.post(&format!("{path}/renew"), &member, json!({})).await;
    assert_eq!(
        res.status(),
        403,
        "members use the value but do not rotate it"
    );
    let res = app
        .post(
            "/v1/tokens/bulk",
            &member,
            json!({ "ids": [sid], "action": "disable" }),
        )
        .await;
    let r = body(res).await;
    assert_eq!(r["results"][0]["ok"], false, "{r}");
    let after = app.get_ok(&path, &admin).await;
    assert_eq!(
        (&after["name"], &after["enabled"]),
        (&before["name"], &before["enabled"])
    );
    assert_eq!(
        app.get("/v1/me", &value).await.status(),
        200,
        "value unchanged"
    );

    // other companies' users never see it
    assert!(!visible(&app, &foreigner).await.contains(&sid));
    expect_error(app.get(&path, &foreigner).await, 404, "not_found").await;

    // back to `administrators`: the member loses it
    let res = app
        .patch(&path, &admin, json!({ "audience": "administrators" }))
        .await;
    assert_eq!(res.status(), 200);
    assert!(!visible(&app, &member).await.contains(&sid));
    expect_error(
        app.post(&format!("{path}/reveal"), &member, json!({}))
            .await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn rule_9_shared_token_permissions_are_bounded_by_its_owner() {
    let app = spawn_app().await;
    let (_, admin) = app.quick_user_with_token("boss@example.com", "admin").await;
    let analyst = app.quick_user("an@example.com", "analyst").await;
    expect_error(
        app.post(
            "/v1/tokens",
            &admin,
            json!({ "name": "s", "kind": "shared", "owner_id": analyst, "role_template": "admin" }),
        )
        .await,
        422,
        "permissions_exceed_owner",
    )
    .await;
    expect_error(
        app.post(
            "/v1/tokens",
            &admin,
            json!({ "name": "s", "kind": "shared", "owner_id": analyst, "permissions": ["users:read"] }),
        )
        .await,
        422,
        "permissions_exceed_owner",
    )
    .await;
    // an admin-owned shared token may not exceed `admin` either (no companies:*)
    expect_error(
        app.post(
            "/v1/tokens",
            &admin,
            json!({ "name": "s", "kind": "shared", "permissions": ["companies:read"] }),
        )
        .await,
        422,
        "permissions_exceed_owner",
    )
    .await;
    let s = app
        .create_token(&admin, json!({ "name": "s", "kind": "shared", "owner_id": analyst, "role_template": "analyst" }))
        .await;
    let path = format!("/v1/tokens/{}", s["id"]);
    expect_error(
        app.patch(
            &path,
            &admin,
            json!({ "permissions": ["attacks:read", "settings:write"] }),
        )
        .await,
        422,
        "permissions_exceed_owner",
    )
    .await;
    let me = app.get_ok("/v1/me", s["value"].as_str().unwrap()).await;
    assert_eq!(sorted_strings(&me["permissions"]), spec_role("analyst"));
}

#[tokio::test]
async fn rule_12_nobody_but_the_owner_sees_a_private_tokens_value() {
    let app = spawn_app().await;
    let (_, admin) = app.quick_user_with_token("boss@example.com", "admin").await;
    let (owner, owner_token) = app.quick_user_with_token("an@example.com", "analyst").await;
    // the create answer shows the value once, to its creator (here an administrator)
    let res = app
        .post(
            "/v1/tokens",
            &admin,
            json!({ "name": "for ann", "owner_id": owner, "role_template": "read_only" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(header(&res, "cache-control"), "no-store");
    let t = body(res).await;
    let value = t["value"].as_str().unwrap().to_string();
    let tid = t["id"].as_i64().unwrap();
    let path = format!("/v1/tokens/{tid}");

    // administrators, the global one included, cannot reveal or renew it
    for who in [&admin, &app.admin_token] {
        let res = app.get(&path, who).await;
        let text = res.text().await.unwrap();
        assert!(!text.contains(&value[8..]), "value leaked in GET");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(v.get("value").is_none());
        assert_eq!(v["can_reveal"], false);
        assert_eq!(v["value_hint"], &value[..8]);
        let list = app
            .get("/v1/tokens?limit=500", who)
            .await
            .text()
            .await
            .unwrap();
        assert!(!list.contains(&value[8..]), "value leaked in list");
        expect_error(
            app.post(&format!("{path}/reveal"), who, json!({})).await,
            403,
            "forbidden",
        )
        .await;
        expect_error(
            app.post(&format!("{path}/renew"), who, json!({})).await,
            403,
            "forbidden",
        )
        .await;
    }
    // the owner can
    assert_eq!(app.get_ok(&path, &owner_token).await["can_reveal"], true);
    let res = app
        .post(&format!("{path}/reveal"), &owner_token, json!({}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "cache-control"), "no-store");
    assert_eq!(body(res).await["value"], value.as_str());
    // nothing in the audit log carries the value
    let audit = app
        .get("/v1/audit?limit=500", &app.admin_token)
        .await
        .text()
        .await
        .unwrap();
    assert!(!audit.contains(&value[8..]));
}

#[tokio::test]
async fn rule_13_non_admin_gets_404_for_others_tokens() {
    let app = spawn_app().await;
    let (a, a_token) = app.quick_user_with_token("a@example.com", "analyst").await;
    let (_, b_token) = app.quick_user_with_token("b@example.com", "analyst").await;
    let (ta, a_value) = app.token_for(a, json!({ "name": "secret-name" })).await;
    let before = app
        .get_ok(&format!("/v1/tokens/{ta}"), &app.admin_token)
        .await;

    // listing omits them, with or without filters
    let mine = visible(&app, &b_token).await;
    assert_eq!(mine.len(), 1);
    assert!(!mine.contains(&ta));
    for q in [
        format!("owner_id={a}"),
        "name=secret".into(),
        "status=enabled".into(),
    ] {
        let l = app.get_ok(&format!("/v1/tokens?{q}"), &b_token).await;
        assert!(!ids(&l).contains(&ta), "{q}: {l}");
    }
    // addressing by id answers exactly like an id that does not exist
    let missing = 9_999_999;
    for (method, suffix, payload) in [
        (reqwest::Method::GET, "", None),
        (
            reqwest::Method::PATCH,
            "",
            Some(json!({ "name": "stolen" })),
        ),
        (
            reqwest::Method::PATCH,
            "",
            Some(json!({ "enabled": false })),
        ),
        (reqwest::Method::DELETE, "", None),
        (reqwest::Method::POST, "/renew", Some(json!({}))),
        (reqwest::Method::POST, "/reveal", Some(json!({}))),
    ] {
        let res = app
            .send(
                method.clone(),
                &format!("/v1/tokens/{ta}{suffix}"),
                Some(&b_token),
                payload.clone(),
            )
            .await;
        let status = res.status();
        let text = res.text().await.unwrap();
        let res2 = app
            .send(
                method.clone(),
                &format!("/v1/tokens/{missing}{suffix}"),
                Some(&b_token),
                payload,
            )
            .await;
        assert_eq!(status, 404, "{method} {suffix}: {text}");
        assert_eq!(res2.status(), 404);
        assert_eq!(
            text,
            res2.text().await.unwrap(),
            "{method} {suffix}: same body as a missing id"
        );
    }
    let res = app
        .post(
            "/v1/tokens/bulk",
            &b_token,
            json!({ "ids": [ta], "action": "delete" }),
        )
        .await;
    let r = body(res).await;
    assert_eq!(r["results"][0]["ok"], false);
    assert_eq!(r["results"][0]["error"]["code"], "not_found");
    // nothing changed
    let after = app.get_ok(&format!("/v1/tokens/{ta}"), &a_token).await;
    assert_eq!(after["name"], before["name"]);
    assert_eq!(after["enabled"], true);
    assert_eq!(app.get("/v1/me", &a_value).await.status(), 200);
}

#[tokio::test]
async fn rule_14_show_once_refuses_reveal_and_erases_stored_values() {
    let app = spawn_app().await;
    let (a, a_token) = app.quick_user_with_token("a@example.com", "analyst").await;
    let (t1, v1) = app.token_for(a, json!({})).await;
    let c2 = app.create_company("Other").await;
    let (_, foreign) = app.user_in_company("f@other.example", "analyst", c2).await;
    let foreign_tok = app.create_token(&foreign, json!({ "name": "keep" })).await;
    let stored = |company: i64| -> i64 {
        app.store()
            .query_row(
                "SELECT COUNT(*) FROM tokens WHERE company_id = $1 AND value_enc IS NOT NULL",
                tokend::params![company],
                |r| r.get(0),
            )
            .unwrap()
    };
    let c1 = app.get_ok("/v1/me", &a_token).await["company"]["id"]
        .as_i64()
        .unwrap();
    assert!(stored(c1) >= 2, "values are stored while reveal is allowed");
    let reveal = |id: i64| format!("/v1/tokens/{id}/reveal");
    assert_eq!(
        body(app.post(&reveal(t1), &a_token, json!({})).await).await["value"],
        v1.as_str()
    );
    let s = app.get_ok("/v1/settings", &app.admin_token).await;
    assert_eq!(s["token_reveal"], "allowed", "the default");

    let res = app
        .patch(
            "/v1/settings",
            &app.admin_token,
            json!({ "token_reveal": "show_once" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["token_reveal"], "show_once");
    assert_eq!(stored(c1), 0, "switching to show_once erases stored values");
    assert!(stored(c2) >= 1, "other companies keep theirs");
    expect_error(
        app.post(&reveal(t1), &a_token, json!({})).await,
        409,
        "reveal_disabled",
    )
    .await;
    assert_eq!(
        app.get_ok(&format!("/v1/tokens/{t1}"), &a_token).await["can_reveal"],
        false
    );
    assert_eq!(
        app.get("/v1/me", &v1).await.status(),
        200,
        "the token itself still works"
    );

    // under show_once: the value only in the create / renew answers, nothing stored
    let t = app.create_token(&a_token, json!({ "name": "once" })).await;
    assert!(spec_well_formed(t["value"].as_str().unwrap(), "tkd_"));
    assert_eq!(t["can_reveal"], false);
    assert_eq!(stored(c1), 0);
    expect_error(
        app.post(&reveal(t["id"].as_i64().unwrap()), &a_token, json!({}))
            .await,
        409,
        "reveal_disabled",
    )
    .await;
    let res = app
        .post(&format!("/v1/tokens/{t1}/renew"), &a_token, json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let v1b = body(res).await["value"].as_str().unwrap().to_string();
    assert_eq!(stored(c1), 0);
    assert_eq!(app.get("/v1/me", &v1b).await.status(), 200);

    // switching back does not restore erased values; new ones are stored again
    let res = app
        .patch(
            "/v1/settings",
            &app.admin_token,
            json!({ "token_reveal": "allowed" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    expect_error(
        app.post(&reveal(t1), &a_token, json!({})).await,
        409,
        "reveal_disabled",
    )
    .await;
    assert_eq!(
        app.get_ok(&format!("/v1/tokens/{t1}"), &a_token).await["can_reveal"],
        false
    );
    let t3 = app.create_token(&a_token, json!({ "name": "after" })).await;
    let res = app
        .post(&reveal(t3["id"].as_i64().unwrap()), &a_token, json!({}))
        .await;
    assert_eq!(body(res).await["value"], t3["value"]);
    // the other company's value is still revealable
    let res = app
        .post(
            &reveal(foreign_tok["id"].as_i64().unwrap()),
            &foreign,
            json!({}),
        )
        .await;
    assert_eq!(body(res).await["value"], foreign_tok["value"]);
}
