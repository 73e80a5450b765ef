//! Security regressions: each escalation an attacker could once walk, replayed and refused
//! (rules 23–27). The hardening rules 28–35 have theirs in `hardening.rs`.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

/// The bootstrap global administrator's user id.
async fn global_admin_id(app: &TestApp) -> i64 {
    app.get_ok("/v1/me", &app.admin_token).await["user"]["id"]
        .as_i64()
        .unwrap()
}

async fn token_count_of(app: &TestApp, owner: i64) -> usize {
    ids(&app
        .get_ok(
            &format!("/v1/tokens?limit=500&owner_id={owner}"),
            &app.admin_token,
        )
        .await)
    .len()
}

#[tokio::test]
async fn rule_23_a_company_admin_cannot_mint_credentials_owned_by_the_global_administrator() {
    let app = spawn_app().await;
    let global = global_admin_id(&app).await;
    let (_, admin) = app.user_with_token("boss@example.com", "admin").await;
    let before = token_count_of(&app, global).await;

    // A token owned by the global administrator, even one asking for little…
    for body in [
        json!({ "name": "takeover", "owner_id": global }),
        json!({ "name": "takeover", "owner_id": global, "permissions": ["attacks:read"] }),
    ] {
        expect_error(
            app.post("/v1/tokens", &admin, body).await,
            403,
            "owner_exceeds_caller",
        )
        .await;
    }
    // …or the global administrator's legacy credentials.
    expect_error(
        app.post(
            &format!("/v1/users/{global}/legacy-credentials"),
            &admin,
            json!({}),
        )
        .await,
        403,
        "owner_exceeds_caller",
    )
    .await;
    assert_eq!(
        token_count_of(&app, global).await,
        before,
        "nothing was minted"
    );

    // Nor can it take the account over directly.
    expect_error(
        app.patch(
            &format!("/v1/users/{global}"),
            &admin,
            json!({ "password": "pwned-password" }),
        )
        .await,
        403,
        "user_exceeds_caller",
    )
    .await;
    app.login_ok(ADMIN_EMAIL, ADMIN_PASSWORD).await;

    // The same administrator still mints for someone it covers (rule 10).
    let analyst = app.quick_user("an@example.com", "analyst").await;
    let t = app
        .create_token(&admin, json!({ "name": "ci", "owner_id": analyst }))
        .await;
    assert_eq!(t["owner"]["id"], analyst);
    assert_eq!(t["delegated"], true);
}

#[tokio::test]
async fn rule_23_a_narrow_token_cannot_mint_for_its_more_powerful_owner() {
    let app = spawn_app().await;
    let (_, admin) = app.user_with_token("boss@example.com", "admin").await;
    let analyst = app.quick_user("an@example.com", "analyst").await;
    // An administrator's token narrowed to token management only…
    let narrow = app
        .create_token(
            &admin,
            json!({ "name": "narrow", "permissions": ["tokens:read", "tokens:write", "tokens:admin"] }),
        )
        .await;
    let narrow = narrow["value"].as_str().unwrap();
    // …cannot mint a token for an analyst, who holds more than it does,
    expect_error(
        app.post(
            "/v1/tokens",
            narrow,
            json!({ "name": "x", "owner_id": analyst, "permissions": ["tokens:read"] }),
        )
        .await,
        403,
        "owner_exceeds_caller",
    )
    .await;
    // (A deploy-template token of the administrator does create nodes: a node token's power
    // is its own node, not the administrator's — rule 39, tests/api/power.rs.)
}

/// A token of the bootstrap global administrator holding exactly `perms`.
async fn global_token(app: &TestApp, perms: &[&str]) -> String {
    app.create_token(
        &app.admin_token,
        json!({ "name": format!("g-{}", rand_suffix()), "permissions": perms }),
    )
    .await["value"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn rule_24_power_comes_from_permissions_never_from_the_role_name() {
    let app = spawn_app().await;
    // The bootstrap token carries every permission of the global administrator role.
    let me = app.get_ok("/v1/me", &app.admin_token).await;
    let perms = sorted_strings(&me["permissions"]);
    assert_eq!(perms, spec_role("global_admin"));
    assert!(perms.contains(&"maintenance:run".to_string()));
    let res = app
        .post("/v1/maintenance/run", &app.admin_token, json!({}))
        .await;
    assert_eq!(res.status(), 200);

    // A global administrator's token without maintenance:run or companies:* acts inside its
    // own company only.
    let c2 = app.create_company("Foreign").await;
    let (u2, _) = app
        .user_in_company("u2@foreign.example", "analyst", c2)
        .await;
    let (t2, _) = app.token_for(u2, json!({})).await;
    let admin_like: Vec<String> = spec_role("admin");
    let admin_like: Vec<&str> = admin_like.iter().map(String::as_str).collect();
    let narrow = global_token(&app, &admin_like).await;
    expect_error(
        app.post("/v1/maintenance/run", &narrow, json!({})).await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(
        app.get("/v1/companies", &narrow).await,
        403,
        "insufficient_scope",
    )
    .await;
    expect_error(
        app.get(&format!("/v1/tokens/{t2}"), &narrow).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        app.get(&format!("/v1/users/{u2}"), &narrow).await,
        404,
        "not_found",
    )
    .await;

    // companies:read reaches the other company to read, not to change.
    let mut reader = admin_like.clone();
    reader.push("companies:read");
    let reader = global_token(&app, &reader).await;
    app.get_ok(&format!("/v1/tokens/{t2}"), &reader).await;
    app.get_ok(&format!("/v1/users/{u2}"), &reader).await;
    expect_error(
        app.patch(
            &format!("/v1/tokens/{t2}"),
            &reader,
            json!({ "enabled": false }),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    expect_error(
        app.patch(&format!("/v1/users/{u2}"), &reader, json!({ "name": "x" }))
            .await,
        403,
        "forbidden",
    )
    .await;
    // …and companies:write changes it.
    let mut writer = admin_like.clone();
    writer.extend(["companies:read", "companies:write"]);
    let writer = global_token(&app, &writer).await;
    let res = app
        .patch(
            &format!("/v1/tokens/{t2}"),
            &writer,
            json!({ "enabled": false }),
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn rule_25_a_token_made_for_someone_cannot_reach_their_private_values() {
    let app = spawn_app().await;
    let (_, admin) = app.user_with_token("boss@example.com", "admin").await;
    // A fellow administrator: the minted token then holds users:write too, so only
    // delegation stands between it and the victim's credentials.
    let victim = app.create_user("vic@example.com", "admin").await;
    let (private_id, private_value) = app.token_for(victim, json!({})).await;

    // The administrator mints a token for the victim: a working token, marked delegated.
    let minted = app
        .create_token(&admin, json!({ "name": "ci", "owner_id": victim }))
        .await;
    assert_eq!(minted["delegated"], true);
    let minted_id = minted["id"].as_i64().unwrap();
    let minted = minted["value"].as_str().unwrap().to_string();
    let viewed = app
        .get_ok(&format!("/v1/tokens/{minted_id}"), &minted)
        .await;
    assert_eq!(viewed["delegated"], true);
    assert_eq!(app.get_ok("/v1/me", &minted).await["delegated"], true);
    let own = app
        .get_ok(&format!("/v1/tokens/{private_id}"), &minted)
        .await;
    assert_eq!(own["delegated"], false);
    assert_eq!(own["can_reveal"], false, "not to this credential");

    // It cannot reveal, renew, or mint a second token "as the victim" to reveal with.
    for (path, body) in [
        (format!("/v1/tokens/{private_id}/reveal"), json!({})),
        (format!("/v1/tokens/{private_id}/renew"), json!({})),
        (format!("/v1/tokens/{minted_id}/renew"), json!({})),
        ("/v1/tokens".to_string(), json!({ "name": "second" })),
        (format!("/v1/users/{victim}/legacy-credentials"), json!({})),
    ] {
        expect_error(app.post(&path, &minted, body).await, 403, "delegated_token").await;
    }
    // Nor change the victim's credentials.
    for change in [
        json!({ "password": "new-password-1" }),
        json!({ "email": "attacker@example.com" }),
        json!({ "sso": true }),
    ] {
        expect_error(
            app.patch(&format!("/v1/users/{victim}"), &minted, change)
                .await,
            403,
            "delegated_token",
        )
        .await;
    }
    // Everything else within its permissions works.
    let res = app
        .patch(
            &format!("/v1/tokens/{minted_id}"),
            &minted,
            json!({ "description": "ok" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    // The victim's value still works and was never handed out.
    assert_eq!(app.me_status(&private_value).await, 200);
    let reveals = app
        .audit_events(&format!("action=token.revealed&token_id={private_id}"))
        .await;
    assert!(reveals.is_empty(), "{reveals:?}");
    // The victim's own token reveals it (control: the refusal is about delegation).
    let res = app
        .post(
            &format!("/v1/tokens/{private_id}/reveal"),
            &private_value,
            json!({}),
        )
        .await;
    assert_eq!(body(res).await["value"], private_value.as_str());
}

#[tokio::test]
async fn rule_25_legacy_credentials_issued_by_an_administrator_are_delegated() {
    let app = spawn_app().await;
    let user = app.create_user("old@example.com", "analyst").await;
    let (private_id, _) = app.token_for(user, json!({})).await;
    let issued = app.issue_legacy_credentials(user).await;
    let (uuid, secret) = (
        issued["uuid"].as_str().unwrap(),
        issued["secret"].as_str().unwrap(),
    );
    let res = app
        .send_with(
            Method::POST,
            &format!("/v1/tokens/{private_id}/reveal"),
            &[("X-WallarmApi-UUID", uuid), ("X-WallarmApi-Secret", secret)],
            Some(json!({})),
        )
        .await;
    expect_error(res, 403, "delegated_token").await;
    let me = body(app.legacy_get("/v1/me", uuid, secret).await).await;
    assert_eq!(me["delegated"], true);
}

#[tokio::test]
async fn rule_26_a_helpdesk_role_cannot_change_someone_above_itself() {
    let app = spawn_app().await;
    let admin = app.create_user("boss@example.com", "admin").await;
    let perms = ["users:read", "users:write", "tokens:read", "tokens:write"];
    let helpdesk = app
        .create_user_with(
            json!({ "email": "help@example.com", "role": "custom", "permissions": perms }),
        )
        .await;
    let (_, help) = app
        .token_for(helpdesk, json!({ "permissions": perms }))
        .await;
    for change in [
        json!({ "password": "new-password-1" }),
        json!({ "email": "mine@example.com" }),
        json!({ "enabled": false }),
        json!({ "sso": true }),
        json!({ "name": "renamed" }),
        json!({ "role": "custom", "permissions": ["users:read"] }),
    ] {
        expect_error(
            app.patch(&format!("/v1/users/{admin}"), &help, change)
                .await,
            403,
            "user_exceeds_caller",
        )
        .await;
    }
    expect_error(
        app.delete(&format!("/v1/users/{admin}"), &help).await,
        403,
        "user_exceeds_caller",
    )
    .await;
    let a = app
        .get_ok(&format!("/v1/users/{admin}"), &app.admin_token)
        .await;
    assert_eq!(
        (
            a["email"].as_str(),
            a["enabled"].as_bool(),
            a["name"].as_str()
        ),
        (Some("boss@example.com"), Some(true), Some("boss"))
    );
    app.login_ok("boss@example.com", "password-123").await;

    // A user it covers is its to help.
    let lesser = app
        .create_user_with(
            json!({ "email": "les@example.com", "role": "custom", "permissions": ["users:read"] }),
        )
        .await;
    let res = app
        .patch(
            &format!("/v1/users/{lesser}"),
            &help,
            json!({ "password": "reset-password-1" }),
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn rule_27_audit_names_the_credential_behind_every_event() {
    let app = spawn_app_with(crate::lifecycle::sso_app_config("127.0.0.1/32")).await;
    let admin = app.create_user("boss@example.com", "admin").await;
    let (admin_tid, admin_tok) = app.token_for(admin, json!({})).await;
    let user = app.create_user("u@example.com", "analyst").await;

    // token: via token, with the token's id
    let t = app
        .create_token(&admin_tok, json!({ "name": "for-u", "owner_id": user }))
        .await;
    let made = app
        .audit_events(&format!("action=token.created&token_id={}", t["id"]))
        .await;
    assert_eq!(made[0]["via"], "token");
    assert_eq!(made[0]["credential_id"], admin_tid);
    assert_eq!(made[0]["actor_id"], admin);
    assert!(made[0]["on_behalf_of"].is_null());

    // delegated token: acts as its owner, on behalf of its creator
    let delegated = t["value"].as_str().unwrap();
    let res = app
        .patch(
            &format!("/v1/tokens/{}", t["id"]),
            delegated,
            json!({ "description": "d" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let upd = app
        .audit_events(&format!("action=token.updated&token_id={}", t["id"]))
        .await;
    assert_eq!(upd[0]["actor_id"], user);
    assert_eq!(upd[0]["via"], "token");
    assert_eq!(upd[0]["credential_id"], t["id"]);
    assert_eq!(upd[0]["on_behalf_of"], admin);

    // session: via session, no credential id
    let s = app.login_ok("boss@example.com", "password-123").await;
    let login = app
        .audit_events(&format!("action=session.login&actor_id={admin}"))
        .await;
    assert_eq!(login[0]["via"], "session");
    let res = app
        .send_with(
            Method::POST,
            "/v1/tokens",
            &[("cookie", &s.cookie), ("x-csrf-token", &s.csrf)],
            Some(json!({ "name": "from-console", "role_template": "read_only" })),
        )
        .await;
    let id = body(res).await["id"].clone();
    let made = app
        .audit_events(&format!("action=token.created&token_id={id}"))
        .await;
    assert_eq!(made[0]["via"], "session");
    assert!(made[0]["credential_id"].is_null());

    // legacy: via legacy, with the legacy token's id
    let issued = app.issue_legacy_credentials(admin).await;
    let res = app
        .send_with(
            Method::PATCH,
            &format!("/v1/tokens/{admin_tid}"),
            &[
                ("X-WallarmApi-UUID", issued["uuid"].as_str().unwrap()),
                ("X-WallarmApi-Secret", issued["secret"].as_str().unwrap()),
            ],
            Some(json!({ "description": "legacy" })),
        )
        .await;
    assert_eq!(res.status(), 200);
    let upd = app
        .audit_events(&format!("action=token.updated&token_id={admin_tid}"))
        .await;
    assert_eq!(upd[0]["via"], "legacy");
    assert_eq!(upd[0]["credential_id"], issued["token_id"]);

    // sso: a proxy-authenticated sign-in
    app.create_user_with(json!({ "email": "sam@example.com", "role": "analyst", "sso": true }))
        .await;
    let res = app
        .send_with(
            Method::GET,
            "/login",
            &[("X-Forwarded-Email", "sam@example.com")],
            None,
        )
        .await;
    assert_eq!(res.status(), 303);
    let login = app.audit_events("action=session.login").await;
    assert_eq!(login[0]["via"], "sso");

    // system: a scheduler job's cascade
    let short = app
        .create_token(
            &admin_tok,
            json!({ "name": "short", "expires_at": app.server_time_plus(chrono::Duration::minutes(1)) }),
        )
        .await;
    app.advance(chrono::Duration::minutes(2));
    app.maintenance().await;
    let off = app
        .audit_events(&format!("action=token.disabled&token_id={}", short["id"]))
        .await;
    assert_eq!(off[0]["via"], "system");
    assert!(off[0]["actor_id"].is_null());
}

#[tokio::test]
async fn secrets_never_print_in_debug_output() {
    let app = spawn_app().await;
    let secret = "Sentinel-Secret-0123456789";
    // Requests that carry a password or secret…
    let create: tokend::service::users::CreateUser =
        serde_json::from_value::<tokend::routes::api::wire::users::CreateUser>(
            json!({ "email": "a@example.com", "role": "analyst", "password": secret }),
        )
        .unwrap()
        .into();
    let update: tokend::service::users::UpdateUser = serde_json::from_value::<
        tokend::routes::api::wire::users::UpdateUser,
    >(json!({ "password": secret }))
    .unwrap()
    .into();
    let import: tokend::service::legacy::ImportCredentials =
        serde_json::from_value::<tokend::routes::api::wire::users::ImportCredentials>(
            json!({ "uuid": "6f1c1d7e-94f4-4b43-9c6f-0b7d2b1f1a11", "secret": secret }),
        )
        .unwrap()
        .into();
    // (The login request has no `Debug` at all.)
    for dump in [
        format!("{create:?}"),
        format!("{update:?}"),
        format!("{import:?}"),
    ] {
        assert!(!dump.contains(secret), "{dump}");
    }
    // …and answers that show a value once.
    let user = app.quick_user("u@example.com", "deploy").await;
    let state = app.state.clone();
    let (token, creds, node) = app
        .state
        .write(move |tx| {
            let owner = tokend::db::users::get(tx, user)?.unwrap();
            let caller = tokend::domain::caller::Caller::session(owner, "127.0.0.1".into());
            let env = state.env();
            let input = serde_json::from_value::<tokend::routes::api::wire::tokens::CreateToken>(
                json!({ "name": "t", "permissions": ["tokens:read"] }),
            )
            .unwrap()
            .into();
            let token = tokend::service::tokens::create(tx, &env, &caller, input)?;
            let node_input =
                serde_json::from_value::<tokend::routes::api::wire::nodes::CreateNode>(
                    json!({ "name": "n" }),
                )
                .unwrap()
                .into();
            let node = tokend::service::nodes::create(tx, &env, &caller, node_input)?;
            Ok::<_, tokend::service::Error>((token, caller, node))
        })
        .await
        .unwrap();
    let admin = app.state.clone();
    let issued = app
        .state
        .write(move |tx| {
            let env = admin.env();
            let me = tokend::service::users::by_email(
                tx,
                &tokend::domain::names::Email::parse(ADMIN_EMAIL).unwrap(),
            )?
            .unwrap();
            let global = tokend::domain::caller::Caller::session(me, "127.0.0.1".into());
            tokend::service::legacy::issue(tx, &env, &global, creds.user.id, Default::default())
        })
        .await
        .unwrap();
    for (dump, value) in [
        (format!("{token:?}"), token.value.expose().to_string()),
        (format!("{node:?}"), node.token.value.expose().to_string()),
        (format!("{issued:?}"), issued.secret.expose().to_string()),
    ] {
        assert!(value.len() >= 32, "a real value");
        assert!(!dump.contains(&value), "{dump}");
    }
}
