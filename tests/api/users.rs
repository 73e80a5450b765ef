//! Users, companies, settings and the catalogues of docs/RULES.md.

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn users_can_be_created_read_listed_changed_and_deleted() {
    let app = spawn_app().await;
    let res = app
        .post(
            "/v1/users",
            &app.admin_token,
            json!({ "email": "  Carol@Example.COM ", "name": "Carol", "role": "analyst", "password": "password-123" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let u = body(res).await;
    let id = u["id"].as_i64().unwrap();
    assert_eq!(u["email"], "carol@example.com");
    assert_eq!(u["name"], "Carol");
    assert_eq!(u["role"], "analyst");
    assert_eq!(sorted_strings(&u["permissions"]), spec_role("analyst"));
    assert_eq!(
        (u["enabled"].clone(), u["sso"].clone()),
        (json!(true), json!(false))
    );
    let text = u.to_string();
    assert!(
        !text.contains("password") && !text.contains("argon2"),
        "{text}"
    );

    let path = format!("/v1/users/{id}");
    assert_eq!(app.get_ok(&path, &app.admin_token).await, u);
    let list = app.get_ok("/v1/users?limit=500", &app.admin_token).await;
    assert!(ids(&list).contains(&id));
    assert!(list.get("next_cursor").is_some());

    let res = app
        .patch(
            &path,
            &app.admin_token,
            json!({ "name": "Carol C.", "role": "deploy" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let changed = body(res).await;
    assert_eq!(changed["name"], "Carol C.");
    assert_eq!(sorted_strings(&changed["permissions"]), spec_role("deploy"));
    let res = app
        .patch(
            &path,
            &app.admin_token,
            json!({ "role": "custom", "permissions": ["rules:read", "audit:read"] }),
        )
        .await;
    assert_eq!(
        sorted_strings(&body(res).await["permissions"]),
        sorted(&["audit:read", "rules:read"])
    );

    assert_eq!(app.delete(&path, &app.admin_token).await.status(), 204);
    expect_error(app.get(&path, &app.admin_token).await, 404, "not_found").await;
    expect_error(app.delete(&path, &app.admin_token).await, 404, "not_found").await;
    assert_eq!(
        app.login_raw("carol@example.com", "password-123")
            .await
            .status(),
        401
    );

    // paging
    for i in 0..5 {
        app.quick_user(&format!("p{i}@example.com"), "read_only")
            .await;
    }
    let p1 = app.get_ok("/v1/users?limit=3", &app.admin_token).await;
    let c = p1["next_cursor"].as_str().unwrap();
    let p2 = app
        .get_ok(&format!("/v1/users?limit=3&cursor={c}"), &app.admin_token)
        .await;
    let mut all = [ids(&p1), ids(&p2)].concat();
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!((all.len(), n), (6, 6), "admin + 5, once each");
}

#[tokio::test]
async fn user_email_is_unique_ignoring_case() {
    let app = spawn_app().await;
    let bob = app.quick_user("bob@example.com", "analyst").await;
    for email in ["bob@example.com", "BOB@Example.com", " bob@example.com "] {
        let res = app
            .post(
                "/v1/users",
                &app.admin_token,
                json!({ "email": email, "role": "analyst" }),
            )
            .await;
        expect_error(res, 409, "email_taken").await;
    }
    // across companies too
    let c2 = app.create_company("Other").await;
    let res = app
        .post(
            "/v1/users",
            &app.admin_token,
            json!({ "email": "Bob@example.com", "role": "analyst", "company_id": c2 }),
        )
        .await;
    expect_error(res, 409, "email_taken").await;
    let eve = app.quick_user("eve@example.com", "analyst").await;
    let res = app
        .patch(
            &format!("/v1/users/{eve}"),
            &app.admin_token,
            json!({ "email": "BOB@example.com" }),
        )
        .await;
    expect_error(res, 409, "email_taken").await;
    // renaming onto its own address (other case) is fine
    let res = app
        .patch(
            &format!("/v1/users/{bob}"),
            &app.admin_token,
            json!({ "email": "Bob@Example.com" }),
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn user_input_is_validated() {
    let app = spawn_app().await;
    let post = |b: serde_json::Value| {
        let app = &app;
        async move { app.post("/v1/users", &app.admin_token, b).await }
    };
    for (b, status) in [
        (json!({ "email": "x@example.com", "role": "wizard" }), 422),
        (json!({ "email": "x@example.com", "role": "" }), 422),
        (json!({ "email": "not-an-email", "role": "analyst" }), 422),
        (json!({ "email": "", "role": "analyst" }), 422),
        (
            json!({ "email": "x@example.com", "role": "custom", "permissions": ["foo:bar"] }),
            422,
        ),
        (
            json!({ "email": "x@example.com", "role": "custom", "permissions": ["tokens:read", "TOKENS:WRITE"] }),
            422,
        ),
        (
            json!({ "email": "x@example.com", "role": "analyst", "permissions": ["rules:read"] }),
            422,
        ),
        (
            json!({ "email": "x@example.com", "role": "analyst", "name": "n".repeat(129) }),
            422,
        ),
        (
            json!({ "email": "x@example.com", "role": "analyst", "password": "short" }),
            422,
        ),
        (
            json!({ "email": "x@example.com", "role": "analyst", "is_admin": true }),
            400,
        ),
        (json!({ "email": "x@example.com" }), 422),
        (json!({ "email": "x@example.com", "role": 3 }), 422),
        (
            json!({ "email": "x@example.com", "role": "analyst", "company_id": 424242 }),
            422,
        ),
    ] {
        let res = post(b.clone()).await;
        assert_eq!(res.status(), status, "{b}");
        let e = body(res).await;
        assert!(
            e["error"]["code"].is_string() && e["error"]["message"].is_string(),
            "{e}"
        );
    }
    assert_eq!(
        ids(&app.get_ok("/v1/users?limit=500", &app.admin_token).await).len(),
        1,
        "nothing created"
    );
    // a custom role's permissions are any subset of the catalogue
    let res =
        post(json!({ "email": "c@example.com", "role": "custom", "permissions": CATALOGUE })).await;
    assert_eq!(res.status(), 201);
    assert_eq!(
        sorted_strings(&body(res).await["permissions"]),
        sorted(&CATALOGUE)
    );
    let res = post(json!({ "email": "e@example.com", "role": "custom", "permissions": [] })).await;
    assert_eq!(res.status(), 201);

    // a company administrator cannot grant more than it holds
    let (_, admin) = app.quick_user_with_token("boss@example.com", "admin").await;
    for role in ["global_admin"] {
        let res = app
            .post(
                "/v1/users",
                &admin,
                json!({ "email": "g@example.com", "role": role }),
            )
            .await;
        assert_eq!(res.status(), 403, "{role}");
    }
    let res = app
        .post("/v1/users", &admin, json!({ "email": "g@example.com", "role": "custom", "permissions": ["companies:write"] }))
        .await;
    assert_eq!(res.status(), 403);
    let res = app
        .post(
            "/v1/users",
            &admin,
            json!({ "email": "g@example.com", "role": "admin" }),
        )
        .await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn users_are_scoped_to_the_company_and_global_admins_see_all() {
    let app = spawn_app().await;
    let c2 = app.create_company("Other").await;
    let (_, admin1) = app.quick_user_with_token("boss@example.com", "admin").await;
    let (u2, _) = app.user_in_company("x@other.example", "analyst", c2).await;
    let u1 = app.quick_user("y@example.com", "analyst").await;

    let seen = ids(&app.get_ok("/v1/users?limit=500", &admin1).await);
    assert!(seen.contains(&u1) && !seen.contains(&u2));
    let p = format!("/v1/users/{u2}");
    expect_error(app.get(&p, &admin1).await, 404, "not_found").await;
    expect_error(
        app.patch(&p, &admin1, json!({ "name": "x" })).await,
        404,
        "not_found",
    )
    .await;
    expect_error(app.delete(&p, &admin1).await, 404, "not_found").await;
    let res = app
        .post(
            "/v1/users",
            &admin1,
            json!({ "email": "z@example.com", "role": "analyst", "company_id": c2 }),
        )
        .await;
    assert_eq!(
        res.status(),
        403,
        "only a global admin creates users in another company"
    );
    // a user created without company_id lands in the caller's company
    let res = app
        .post(
            "/v1/users",
            &admin1,
            json!({ "email": "z@example.com", "role": "analyst" }),
        )
        .await;
    let me1 = app.get_ok("/v1/me", &admin1).await;
    assert_eq!(body(res).await["company_id"], me1["company"]["id"]);

    let all = ids(&app.get_ok("/v1/users?limit=500", &app.admin_token).await);
    assert!(all.contains(&u1) && all.contains(&u2));
    let only2 = app
        .get_ok(&format!("/v1/users?company_id={c2}"), &app.admin_token)
        .await;
    assert_eq!(ids(&only2), vec![u2]);
    assert_eq!(app.get_ok(&p, &app.admin_token).await["company_id"], c2);

    // users:read / users:write are needed
    let (_, analyst) = app.quick_user_with_token("an@example.com", "analyst").await;
    expect_error(
        app.get("/v1/users", &analyst).await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(
        app.get(&format!("/v1/users/{u1}"), &analyst).await,
        403,
        "insufficient_scope",
    )
    .await;
    let (_, reader) = app
        .custom_user_with_token("r@example.com", &["users:read"])
        .await;
    assert_eq!(
        app.get(&format!("/v1/users/{u1}"), &reader).await.status(),
        200
    );
    let res = app
        .patch(&format!("/v1/users/{u1}"), &reader, json!({ "name": "no" }))
        .await;
    expect_error(res, 403, "insufficient_scope").await;
}

#[tokio::test]
async fn companies_are_managed_by_global_admins() {
    let app = spawn_app().await;
    let c2 = app.create_company("Second").await;
    let list = app.get_ok("/v1/companies", &app.admin_token).await;
    assert!(ids(&list).contains(&c2));
    assert_eq!(ids(&list).len(), 2);
    let (_, admin) = app.quick_user_with_token("boss@example.com", "admin").await;
    expect_error(
        app.get("/v1/companies", &admin).await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(
        app.post("/v1/companies", &admin, json!({ "name": "Mine" }))
            .await,
        403,
        "insufficient_scope",
    )
    .await;
    assert_eq!(
        app.post("/v1/companies", &app.admin_token, json!({ "name": "  " }))
            .await
            .status(),
        422
    );
    // a global admin creates a user in the new company with `company_id`
    let (_, t) = app.user_in_company("x@second.example", "admin", c2).await;
    assert_eq!(app.get_ok("/v1/me", &t).await["company"]["id"], c2);
    assert_eq!(app.get_ok("/v1/settings", &t).await["company_id"], c2);
}

#[tokio::test]
async fn settings_can_be_read_and_changed_by_administrators() {
    let app = spawn_app().await;
    let (_, admin) = app.quick_user_with_token("boss@example.com", "admin").await;
    let (_, analyst) = app.quick_user_with_token("an@example.com", "analyst").await;
    let s = app.get_ok("/v1/settings", &admin).await;
    assert_eq!(s["token_reveal"], "allowed");
    assert!(s["max_token_lifetime_days"].is_null());
    expect_error(
        app.get("/v1/settings", &analyst).await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(
        app.patch(
            "/v1/settings",
            &analyst,
            json!({ "token_reveal": "show_once" }),
        )
        .await,
        403,
        "insufficient_scope",
    )
    .await;

    let res = app
        .patch(
            "/v1/settings",
            &admin,
            json!({ "max_token_lifetime_days": 30 }),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["max_token_lifetime_days"], 30);
    assert_eq!(
        app.get_ok("/v1/settings", &admin).await["max_token_lifetime_days"],
        30
    );
    let now = app.server_now();
    expect_error(
        app.post(
            "/v1/tokens",
            &analyst,
            json!({ "name": "a", "role_template": "read_only" }),
        )
        .await,
        422,
        "lifetime_exceeds_policy",
    )
    .await;
    let res = app
        .post(
            "/v1/tokens",
            &analyst,
            json!({ "name": "a", "role_template": "read_only", "expires_at": rfc3339_after(now, 40 * 86_400) }),
        )
        .await;
    expect_error(res, 422, "lifetime_exceeds_policy").await;
    app.create_token(
        &analyst,
        json!({ "name": "a", "expires_at": rfc3339_after(now, 10 * 86_400) }),
    )
    .await;
    let res = app
        .patch(
            "/v1/settings",
            &admin,
            json!({ "max_token_lifetime_days": null }),
        )
        .await;
    assert!(body(res).await["max_token_lifetime_days"].is_null());
    app.create_token(&analyst, json!({ "name": "b" })).await;

    for (bad, status) in [
        (json!({ "token_reveal": "sometimes" }), 422),
        (json!({ "max_token_lifetime_days": 0 }), 422),
        (json!({ "max_token_lifetime_days": -5 }), 422),
        (json!({ "max_token_lifetime_days": "abc" }), 422),
        (json!({ "colour": "blue" }), 400),
    ] {
        let res = app.patch("/v1/settings", &admin, bad.clone()).await;
        assert_eq!(res.status(), status, "{bad}");
    }
    assert_eq!(
        app.get_ok("/v1/settings", &admin).await["token_reveal"],
        "allowed",
        "unchanged"
    );
    let ev = app.audit_events("action=settings.updated").await;
    assert_eq!(ev.len(), 2);
}

#[tokio::test]
async fn permissions_catalogue_matches_spec_section_3() {
    let app = spawn_app().await;
    let (_, dev) = app
        .quick_user_with_token("dev@example.com", "api_developer")
        .await;
    let b = app.get_ok("/v1/permissions", &dev).await;
    let items = b["items"].as_array().unwrap();
    assert_eq!(items.len(), 25);
    let names: Vec<&str> = items.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        CATALOGUE.to_vec(),
        "catalogue order of docs/RULES.md"
    );
    for p in items {
        assert!(
            p["description"].as_str().is_some_and(|d| d.len() > 3),
            "{p}"
        );
    }
    assert_eq!(
        app.send(reqwest::Method::GET, "/v1/permissions", None, None)
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn roles_match_spec_section_3() {
    let app = spawn_app().await;
    let (_, dev) = app
        .quick_user_with_token("dev@example.com", "api_developer")
        .await;
    let b = app.get_ok("/v1/roles", &dev).await;
    let items = b["items"].as_array().unwrap();
    let names: Vec<&str> = items.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(
        sorted(&names),
        sorted(&[
            "global_admin",
            "admin",
            "analyst",
            "api_developer",
            "read_only",
            "deploy",
            "custom"
        ])
    );
    for r in items {
        let name = r["name"].as_str().unwrap();
        assert_eq!(
            sorted_strings(&r["permissions"]),
            spec_role(name),
            "role {name}"
        );
    }
    // and users of each role hold exactly that
    for role in ["admin", "analyst", "api_developer", "read_only", "deploy"] {
        let (_, t) = app
            .quick_user_with_token(&format!("{role}-x@example.com"), role)
            .await;
        let me = app.get_ok("/v1/me", &t).await;
        assert_eq!(
            sorted_strings(&me["user"]["permissions"]),
            spec_role(role),
            "{role}"
        );
    }
}
