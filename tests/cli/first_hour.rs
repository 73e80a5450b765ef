//! What a newcomer meets in the first hour (SPEC §17): each command's help shows its own
//! flags, one-shot commands are quiet, logs carry no colour codes off a terminal (JSON on
//! request) and the server writes an access log, `user create` works on a fresh database and
//! says what it made, errors name the flag and the reason, bare dates are midnight UTC,
//! tokens are listed and toggled from the command line under the API's rules, a value made by
//! `token create` works at its first use, a lost password is recovered, `tokend config`
//! reads back unchanged, and the first administrator appears only once the port is bound.

use std::process::Command;

use serde_json::{json, Value};
use tokend::domain::token_value::TokenValue;

use crate::support::*;
use tokend_test_support::proc::*;

/// `tokend --db DB ARGS…` with nothing asked of the log (no `TOKEND_LOG`).
fn quiet(w: &Workdir, args: &[&str]) -> Command {
    let mut c = w.tokend();
    c.env_remove("TOKEND_LOG").args(args);
    c
}

fn help(args: &[&str]) -> String {
    let mut c = Command::new(bin());
    c.env_clear().args(args).arg("--help");
    run(c).expect_code(0).stdout
}

/// The long flags a help text lists.
fn flags(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let t = l.trim_start();
            t.strip_prefix("--")
                .or_else(|| t.strip_prefix("-h, --"))
                .map(|rest| {
                    rest.split([' ', '=', '[', '<'])
                        .next()
                        .unwrap_or("")
                        .to_string()
                })
        })
        .collect()
}

const SERVER_FLAGS: [&str; 8] = [
    "bind",
    "disabled-retention",
    "purge-interval",
    "secure-cookies",
    "sso-header",
    "oidc-issuer",
    "metrics-allow",
    "webhook-allow-private",
];

#[test]
fn first_hour_each_command_help_shows_its_own_flags_and_server_flags_only_under_serve() {
    let create = help(&["token", "create"]);
    let listed = flags(&create);
    for own in [
        "owner",
        "name",
        "role-template",
        "permissions",
        "expires-at",
    ] {
        assert!(listed.iter().any(|f| f == own), "--{own} in {create}");
    }
    for server in SERVER_FLAGS {
        assert!(
            !listed.iter().any(|f| f == server),
            "--{server} is a server flag, not one of `token create`:\n{create}"
        );
    }
    let short = {
        let mut c = Command::new(bin());
        c.env_clear().args(["token", "create", "-h"]);
        run(c).expect_code(0).stdout
    };
    assert!(
        short.lines().count() <= 25,
        "`token create -h` is short ({} lines):\n{short}",
        short.lines().count()
    );
    let serve = flags(&help(&["serve"]));
    for server in SERVER_FLAGS.iter().chain(&["port"]) {
        assert!(serve.iter().any(|f| f == server), "--{server} under serve");
    }
    // `config` prints the server's configuration, so it takes the server's flags too.
    let config = flags(&help(&["config"]));
    assert!(config.iter().any(|f| f == "bind"), "{config:?}");
    // Every flag of every command is described, and choices are named.
    for cmd in [
        &["serve"][..],
        &["config"],
        &["migrate"],
        &["user", "create"],
        &["user", "set-password"],
        &["token", "create"],
        &["token", "list"],
        &["token", "enable"],
        &["token", "generate"],
        &["backup"],
        &["scan"],
    ] {
        let mut c = Command::new(bin());
        c.env_clear().args(cmd).arg("-h");
        let text = run(c).expect_code(0).stdout;
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !line.trim_start().starts_with("--") {
                continue;
            }
            // The description follows on the line, or (long flags) on the next one.
            let inline = line.trim_start().split_once("  ").map(|(_, d)| d.trim());
            let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or("");
            let described = inline.is_some_and(|d| !d.is_empty())
                || (!next.is_empty() && !next.starts_with('-'));
            assert!(described, "{cmd:?}: an undescribed flag: `{line}`\n{text}");
        }
    }
    let list = help(&["token", "list"]);
    assert!(
        list.contains("enabled") && list.contains("disabled") && list.contains("expired"),
        "--status names its values: {list}"
    );
    let user = help(&["user", "create"]);
    assert!(
        user.contains("global_admin") && user.contains("read_only"),
        "--role names the roles: {user}"
    );
}

#[test]
fn first_hour_one_shot_commands_log_nothing_below_warn_unless_asked() {
    let w = Workdir::new();
    let out = run(quiet(
        &w,
        &[
            "user",
            "create",
            "--email",
            "a@example.com",
            "--role",
            "global_admin",
        ],
    ))
    .expect_code(0);
    assert_eq!(out.stderr, "", "nothing on stderr by default");
    for args in [
        &["token", "list"][..],
        &["migrate"],
        &["maintenance", "run"],
    ] {
        let out = run(quiet(&w, args)).expect_code(0);
        assert_eq!(out.stderr, "", "{args:?}: nothing on stderr");
    }
    // Asked for: info lines appear.
    let mut c = quiet(&w, &["token", "list"]);
    c.env("TOKEND_LOG", "info");
    let out = run(c).expect_code(0);
    assert!(out.stderr.contains("INFO"), "{}", out.stderr);
    let out = run(quiet(&w, &["--log", "info", "token", "list"])).expect_code(0);
    assert!(out.stderr.contains("INFO"), "{}", out.stderr);
    // A filter that cannot be read is a configuration error, not silence.
    run(quiet(&w, &["--log", "tokend=loud", "token", "list"])).expect_code(2);
}

#[tokio::test]
async fn first_hour_logs_have_no_colour_codes_off_a_terminal_and_an_access_log() {
    let r = running_with(ServerOpts::default().env("TOKEND_LOG", "info"));
    let value = r.admin.clone();
    let (s, t) = r
        .post(
            "/v1/tokens",
            &value,
            json!({ "name": "logged", "role_template": "read_only" }),
        )
        .await;
    assert_eq!(s, 201, "{t}");
    let id = t["id"].as_i64().expect("id");
    let made = t["value"].as_str().expect("value").to_string();
    let (s, _) = r
        .get(&format!("/v1/tokens/{id}?probe=query-secret"), &made)
        .await;
    assert!(s < 500, "{s}");
    assert_eq!(r.get("/v1/me", "tkd_nope").await.0, 401);
    let log = wait_for_log(&r.server, "/v1/tokens/{id}").await;
    assert!(!log.contains('\u{1b}'), "no ANSI codes in a pipe:\n{log}");
    let line = log
        .lines()
        .find(|l| l.contains("route=/v1/tokens/{id}"))
        .unwrap_or_else(|| panic!("an access line with the route template:\n{log}"));
    for field in ["method=\"GET\"", "status=", "ms=", "request_id="] {
        assert!(line.contains(field), "`{field}` in `{line}`");
    }
    assert!(line.contains("INFO"), "at info: {line}");
    assert!(
        !log.contains(&format!("/v1/tokens/{id}")),
        "the raw path is not logged:\n{log}"
    );
    for secret in [&made, &value, "query-secret", "tkd_nope"] {
        assert!(!log.contains(secret), "`{secret}` is in the log:\n{log}");
    }
}

#[tokio::test]
async fn first_hour_json_logs_are_one_object_per_line() {
    let r = running_with(
        ServerOpts::default()
            .env("TOKEND_LOG", "info")
            .env("TOKEND_LOG_FORMAT", "json"),
    );
    assert_eq!(r.get("/v1/me", &r.admin).await.0, 200);
    let log = wait_for_log(&r.server, "/v1/me").await;
    let mut access = None;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): `{line}`\n{log}"));
        if v["route"] == "/v1/me" {
            access = Some(v);
        }
    }
    let a = access.unwrap_or_else(|| panic!("an access line:\n{log}"));
    assert_eq!(a["method"], "GET");
    assert_eq!(a["status"], 200);
    assert_eq!(a["level"], "INFO");
    assert!(a["ms"].is_number(), "{a}");
    assert_eq!(a["request_id"].as_str().map(str::len), Some(12), "{a}");
    // The command line takes the format as a flag too.
    let w = Workdir::new();
    let out = run(quiet(
        &w,
        &["--log", "info", "--log-format", "json", "migrate"],
    ))
    .expect_code(0);
    for line in out.stderr.lines() {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
}

/// On a terminal, text logs are coloured unless `NO_COLOR` is set (`script` gives the
/// command a pseudo-terminal).
#[test]
fn first_hour_no_color_turns_colours_off_on_a_terminal() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: no `script` to make a terminal");
        return;
    }
    let w = Workdir::new();
    let on_tty = |no_color: Option<&str>| {
        let line = format!(
            "{} --db {} --log info token list",
            bin(),
            w.db.to_str().expect("utf-8")
        );
        let mut c = Command::new("script");
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("TERM", "xterm")
            .args(["-qec", &line, "/dev/null"]);
        if let Some(v) = no_color {
            c.env("NO_COLOR", v);
        }
        run(c).expect_code(0).stdout
    };
    let coloured = on_tty(None);
    assert!(
        coloured.contains("\u{1b}["),
        "colours on a terminal: {coloured:?}"
    );
    let plain = on_tty(Some("1"));
    assert!(plain.contains("INFO"), "{plain:?}");
    assert!(!plain.contains("\u{1b}["), "NO_COLOR: {plain:?}");
}

/// Waits (≤ 5 s) until the server's stderr mentions `needle`; returns it.
async fn wait_for_log(server: &Server, needle: &str) -> String {
    eventually(std::time::Duration::from_secs(5), || async {
        let log = server.stderr();
        log.contains(needle).then_some(log)
    })
    .await
    .unwrap_or_else(|| panic!("`{needle}` never logged:\n{}", server.stderr()))
}

/// The labelled lines `key: value` of a command's output.
fn labelled(out: &str) -> std::collections::HashMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn first_hour_user_create_works_on_a_fresh_database_and_prints_a_labelled_result() {
    let w = Workdir::new();
    let c = quiet(
        &w,
        &[
            "user",
            "create",
            "--email",
            "Root@Example.com",
            "--role",
            "global_admin",
            "--password-stdin",
        ],
    );
    let out = run_with_stdin(c, "the first admin's password\n").expect_code(0);
    let fields = labelled(&out.stdout);
    assert_eq!(
        fields.get("id").map(String::as_str),
        Some("1"),
        "{}",
        out.stdout
    );
    assert_eq!(fields["email"], "root@example.com");
    assert_eq!(fields["role"], "global_admin");
    assert_eq!(count(&w.db(), "companies"), 1, "the default company");
    // --json for scripts.
    let out = run(quiet(
        &w,
        &[
            "user",
            "create",
            "--email",
            "ops@example.com",
            "--role",
            "analyst",
            "--json",
        ],
    ))
    .expect_code(0);
    let v: Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(v["id"], 2);
    assert_eq!(v["email"], "ops@example.com");
    assert_eq!(v["role"], "analyst");
    // The server then starts on it, creates no second administrator, and the first one
    // signs in with the password given.
    let opts = ServerOpts {
        admin_password: None,
        ..ServerOpts::default()
    };
    let server = Server::start(&w.db, &opts);
    assert!(
        server.banner.iter().all(|l| !l.contains("created")),
        "{:?}",
        server.banner
    );
    let r = Running::new(w, server, "");
    assert_eq!(
        r.login("root@example.com", "the first admin's password")
            .await,
        200
    );
    assert_eq!(count(&r.w.db(), "users"), 2);
    assert_eq!(count(&r.w.db(), "companies"), 1);
}

#[tokio::test]
async fn first_hour_errors_name_the_flag_and_say_why() {
    let r = running();
    r.create_user("ann@example.com", "analyst").await;
    let create = |extra: &[&str]| {
        let mut c = r.w.tokend();
        c.args([
            "token",
            "create",
            "--owner",
            "ann@example.com",
            "--name",
            "x",
        ])
        .args(extra);
        run(c)
    };
    let out = create(&["--permissions", "users:write"]);
    assert_ne!(out.code(), 0);
    assert!(
        out.stderr
            .contains("--permissions users:write: the owner does not hold users:write"),
        "{}",
        out.stderr
    );
    let out = create(&["--role-template", "admin"]);
    assert_ne!(out.code(), 0);
    assert!(
        out.stderr
            .contains("--role-template admin: the owner does not hold"),
        "{}",
        out.stderr
    );
    let out = create(&["--role-template", "read_only", "--expires-at", "soon"]);
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr.contains("--expires-at: `soon` is not a time"),
        "{}",
        out.stderr
    );
    // Neither a template nor a list: the command says one of them is needed.
    let out = create(&[]);
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr.contains("--role-template") && out.stderr.contains("--permissions"),
        "{}",
        out.stderr
    );
    let mut c = r.w.tokend();
    c.args([
        "token",
        "create",
        "--owner",
        "nobody@example.com",
        "--name",
        "x",
    ])
    .args(["--role-template", "read_only"]);
    let out = run(c);
    assert_ne!(out.code(), 0);
    assert!(
        out.stderr.contains("--owner nobody@example.com: no user"),
        "{}",
        out.stderr
    );
    assert_eq!(count(&r.w.db(), "tokens"), 1, "only the admin token");
}

#[tokio::test]
async fn first_hour_a_bare_date_means_midnight_utc() {
    let r = running();
    r.create_user("ann@example.com", "analyst").await;
    let mut c = r.w.tokend();
    c.args([
        "token",
        "create",
        "--owner",
        "ann@example.com",
        "--name",
        "dated",
    ])
    .args(["--role-template", "read_only", "--expires-at", "2030-01-01"]);
    let value = run(c).expect_code(0).stdout.trim().to_string();
    let (s, me) = r.get("/v1/me", &value).await;
    assert_eq!(s, 200, "{me}");
    let id = me["token_id"].as_i64().expect("token id");
    let (_, t) = r.get(&format!("/v1/tokens/{id}"), &r.admin).await;
    assert_eq!(t["expires_at"], "2030-01-01T00:00:00Z");
}

/// The status of `GET /v1/me` with `value` once it is `want`, or the last one after 2 s.
async fn status_soon(r: &Running, value: &str, want: u16) -> u16 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let s = r.get("/v1/me", value).await.0;
        if s == want || std::time::Instant::now() > deadline {
            return s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// `tokend token …ID` as a process.
fn token_cmd(r: &Running, args: &[&str]) -> Output {
    let mut c = r.w.tokend();
    c.arg("token").args(args);
    run(c)
}

#[tokio::test]
async fn first_hour_token_list_enable_disable_delete_follow_the_api_rules() {
    let r = running();
    r.create_user("ann@example.com", "analyst").await;
    r.create_user("bob@example.com", "deploy").await;
    let mut ids = Vec::new();
    for (owner, name, template) in [
        ("ann@example.com", "ann-reader", "read_only"),
        ("bob@example.com", "bob-deployer", "deploy"),
        ("bob@example.com", "bob-leaky", "deploy"),
    ] {
        let out = token_cmd(
            &r,
            &[
                "create",
                "--owner",
                owner,
                "--name",
                name,
                "--role-template",
                template,
            ],
        )
        .expect_code(0);
        let value = out.stdout.trim().to_string();
        let (_, me) = r.get("/v1/me", &value).await;
        ids.push((me["token_id"].as_i64().expect("id"), value));
    }
    let table = token_cmd(&r, &["list"]).expect_code(0).stdout;
    assert!(table.starts_with("ID"), "a table with a header:\n{table}");
    for name in [
        "ann-reader",
        "bob-deployer",
        "bob-leaky",
        "Bootstrap admin token",
    ] {
        assert!(table.contains(name), "{name} in\n{table}");
    }
    assert!(!table.contains("tkd_"), "no values in the list:\n{table}");
    let json: Value = serde_json::from_str(
        &token_cmd(&r, &["list", "--owner", "bob@example.com", "--json"])
            .expect_code(0)
            .stdout,
    )
    .expect("JSON");
    let names: Vec<&str> = json
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["bob-leaky", "bob-deployer"],
        "newest first, Bob's only"
    );
    // Disable: the value stops working (a change to a known token reaches the running
    // server within its sync interval, 50 ms), audited as the command line.
    let (ann_id, ann_value) = &ids[0];
    let out = token_cmd(&r, &["disable", &ann_id.to_string()]).expect_code(0);
    assert!(out.stdout.contains("disabled"), "{}", out.stdout);
    assert_eq!(status_soon(&r, ann_value, 401).await, 401);
    let (_, audit) = r
        .get(
            &format!("/v1/audit?token_id={ann_id}&action=token.disabled"),
            &r.admin,
        )
        .await;
    assert_eq!(audit["items"][0]["via"], "cli", "{audit}");
    let disabled = token_cmd(&r, &["list", "--status", "disabled"])
        .expect_code(0)
        .stdout;
    assert!(
        disabled.contains("ann-reader") && !disabled.contains("bob-deployer"),
        "{disabled}"
    );
    token_cmd(&r, &["enable", &ann_id.to_string()]).expect_code(0);
    assert_eq!(status_soon(&r, ann_value, 200).await, 200);
    // A leaked value is enabled only by regenerating it: the command says so.
    let (leaky_id, leaky_value) = &ids[2];
    let (s, _) = r
        .post("/v1/revoke", "", json!({ "values": [leaky_value] }))
        .await;
    assert_eq!(s, 202);
    let out = token_cmd(&r, &["enable", &leaky_id.to_string()]);
    assert_eq!(out.code(), 1, "{}", out.stdout);
    assert!(out.stderr.contains("leaked"), "{}", out.stderr);
    assert_eq!(r.get("/v1/me", leaky_value).await.0, 401);
    // Delete.
    let (bob_id, bob_value) = &ids[1];
    token_cmd(&r, &["delete", &bob_id.to_string()]).expect_code(0);
    assert_eq!(status_soon(&r, bob_value, 401).await, 401);
    let (s, _) = r.get(&format!("/v1/tokens/{bob_id}"), &r.admin).await;
    assert_eq!(s, 404);
    let out = token_cmd(&r, &["delete", &bob_id.to_string()]);
    assert_eq!(out.code(), 1);
    assert!(out.stderr.contains("no such token"), "{}", out.stderr);
}

#[tokio::test]
async fn first_hour_token_generate_prints_a_value_that_works_as_the_admin_token() {
    let w = Workdir::new();
    let a = run(quiet(&w, &["token", "generate"])).expect_code(0).stdout;
    let b = run(quiet(&w, &["token", "generate"])).expect_code(0).stdout;
    assert_eq!(a.lines().count(), 1, "{a}");
    TokenValue::parse(a.trim()).unwrap_or_else(|e| panic!("`{a}`: {e}"));
    assert_ne!(a, b, "a fresh value each time");
    assert!(!w.db.exists(), "nothing stored");
    let server = Server::start(&w.db, &ServerOpts::with_token(a.trim()));
    let r = Running::new(w, server, a.trim());
    let (s, me) = r.get("/v1/me", &r.admin).await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["user"]["role"], "global_admin");
}

/// SPEC §17: `V=$(tokend token create …) && curl …` succeeds — the running server looks at
/// the change counter before refusing a value it does not know. No sleep, no retry.
#[tokio::test]
async fn first_hour_token_create_value_works_at_first_use() {
    let r = running();
    r.create_user("fast@example.com", "deploy").await;
    for n in 0..20 {
        let name = format!("first-use-{n}");
        let out = token_cmd(
            &r,
            &[
                "create",
                "--owner",
                "fast@example.com",
                "--name",
                &name,
                "--role-template",
                "deploy",
            ],
        )
        .expect_code(0);
        let value = out.stdout.trim().to_string();
        let (s, body) = r.get("/v1/me", &value).await;
        assert_eq!(s, 200, "token {n} refused at its first use: {body}");
    }
}

#[tokio::test]
async fn first_hour_set_password_recovers_a_lost_password_and_ends_sessions() {
    let r = running_with(ServerOpts {
        admin_password: None,
        ..ServerOpts::default()
    });
    let printed = r
        .server
        .banner
        .iter()
        .find_map(|l| l.split("with password ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a generated password")
        .to_string();
    let session = r
        .http
        .post(r.server.url("/v1/session"))
        .json(&json!({ "email": ADMIN_EMAIL, "password": printed }))
        .send()
        .await
        .expect("login");
    assert_eq!(session.status(), 200);
    let cookie = session
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a cookie")
        .to_string();
    let me_with_cookie = || async {
        r.http
            .get(r.server.url("/v1/me"))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("me")
            .status()
            .as_u16()
    };
    assert_eq!(me_with_cookie().await, 200);
    let mut c = r.w.tokend();
    c.args(["user", "set-password", ADMIN_EMAIL, "--password-stdin"]);
    let out = run_with_stdin(c, "a brand new password\n").expect_code(0);
    assert!(out.stdout.contains(ADMIN_EMAIL), "{}", out.stdout);
    assert!(
        !out.stdout.contains("brand new"),
        "the password is not echoed"
    );
    assert_eq!(r.login(ADMIN_EMAIL, "a brand new password").await, 200);
    assert_eq!(r.login(ADMIN_EMAIL, &printed).await, 401);
    assert_eq!(me_with_cookie().await, 401, "the old session ended");
    let (_, audit) = r.get("/v1/audit?action=user.updated", &r.admin).await;
    let event = &audit["items"][0];
    assert_eq!(event["via"], "cli", "{audit}");
    assert_eq!(event["details"]["password_changed"], true, "{audit}");
    // Refused: a short password, an unknown email, an SSO user.
    let sso = r.create_user("sso@example.com", "analyst").await;
    let (s, _) = r
        .call(
            reqwest::Method::PATCH,
            &format!("/v1/users/{sso}"),
            Some(&r.admin),
            Some(json!({ "sso": true })),
        )
        .await;
    assert_eq!(s, 200);
    let before = r.dump("users");
    for (email, password, needle) in [
        (ADMIN_EMAIL, "short", "--password-stdin"),
        ("nobody@example.com", "a long enough password", "no user"),
        ("sso@example.com", "a long enough password", "SSO"),
    ] {
        let mut c = r.w.tokend();
        c.args(["user", "set-password", email, "--password-stdin"]);
        let out = run_with_stdin(c, &format!("{password}\n"));
        assert_ne!(out.code(), 0, "{email}");
        assert!(out.stderr.contains(needle), "{email}: {}", out.stderr);
        assert_eq!(r.dump("users"), before, "{email}: nothing changed");
    }
}

#[test]
fn first_hour_config_round_trips() {
    let w = Workdir::new();
    let printed = {
        let mut c = quiet(&w, &["config"]);
        c.args(["--disabled-retention", "36h", "--session-ttl", "90m"])
            .args(["--metrics-allow", "10.0.0.0/8, ::1"])
            .args(["--sso-header", "X-Forwarded-Email"])
            .args(["--sso-trusted-proxies", "10.0.0.5"])
            .args(["--flush-interval", "1500ms", "--secure-cookies"]);
        run(c).expect_code(0).stdout
    };
    let t: toml::Table = printed
        .parse()
        .unwrap_or_else(|e| panic!("not TOML ({e}):\n{printed}"));
    assert_eq!(t["disabled_retention"].as_str(), Some("36h"));
    assert_eq!(t["session_ttl"].as_str(), Some("90m"));
    assert_eq!(t["purge_interval"].as_str(), Some("1m"));
    assert_eq!(t["flush_interval"].as_str(), Some("1500ms"));
    assert_eq!(t["metrics_allow"].as_str(), Some("10.0.0.0/8,::1/128"));
    assert_eq!(t["secure_cookies"].as_bool(), Some(true));
    assert!(t.get("trusted_proxies").is_none(), "unset: a comment");
    assert!(printed.contains("\n# trusted_proxies = "), "{printed}");
    assert!(printed.contains("\n# oidc_issuer = "), "{printed}");
    let file = w.path("tokend.toml");
    std::fs::write(&file, &printed).expect("write");
    let again = {
        let mut c = quiet(&w, &["config"]);
        c.arg("--config-file").arg(&file);
        run(c).expect_code(0).stdout
    };
    assert_eq!(again, printed, "read back unchanged");
    // And the defaults round-trip too, through TOKEND_CONFIG.
    let defaults = run(quiet(&w, &["config"])).expect_code(0).stdout;
    assert!(
        defaults.contains("disabled_retention = \"7d\""),
        "{defaults}"
    );
    std::fs::write(&file, &defaults).expect("write");
    let mut c = quiet(&w, &["config"]);
    c.env("TOKEND_CONFIG", &file);
    assert_eq!(run(c).expect_code(0).stdout, defaults);
    assert!(!w.db.exists(), "`tokend config` creates no database");
}

#[test]
fn first_hour_the_administrator_is_created_only_once_the_port_is_bound() {
    let w = Workdir::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("address").port().to_string();
    let mut c = w.tokend();
    c.env("TOKEND_ADMIN_EMAIL", ADMIN_EMAIL)
        .args(["serve", "--port", &port]);
    let out = run(c).expect_code(1);
    assert!(out.stderr.contains("cannot listen"), "{}", out.stderr);
    if w.db.exists() {
        assert_eq!(
            count(&w.db(), "users"),
            0,
            "no administrator without a listener"
        );
    }
    drop(taken);
    // The next start creates it and prints its password.
    let opts = ServerOpts {
        admin_password: None,
        ..ServerOpts::default()
    };
    let server = Server::start(&w.db, &opts);
    assert!(
        server
            .banner
            .iter()
            .any(|l| l.contains("created global administrator") && l.contains("with password")),
        "{:?}",
        server.banner
    );
}
#[tokio::test]
async fn first_hour_cli_token_create_without_permissions_refuses_and_says_how() {
    let r = running();
    r.create_user("ann@example.com", "analyst").await;
    let before = r.dump("tokens");
    let mut cmd = r.w.tokend();
    cmd.args([
        "token",
        "create",
        "--owner",
        "ann@example.com",
        "--name",
        "no-perms",
    ]);
    let out = run(cmd);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(out.stdout.is_empty(), "no value printed: {}", out.stdout);
    assert!(
        out.stderr.contains("--role-template") && out.stderr.contains("--permissions"),
        "the message names both ways: {}",
        out.stderr
    );
    assert_eq!(r.dump("tokens"), before, "nothing stored");
}
