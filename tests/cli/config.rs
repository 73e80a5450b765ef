//! Configuration precedence (flags > env `TOKEND_*` > TOML file > defaults), `serve --port 0`,
//! and bad configuration: a clear message on stderr, exit code 2, never a panic, nothing stored.

use std::path::Path;

use tokend_test_support::proc::*;

/// `tokend config` as TOML.
fn effective(cmd: std::process::Command) -> toml::Table {
    let out = run(cmd).expect_code(0);
    out.stdout
        .parse::<toml::Table>()
        .unwrap_or_else(|e| panic!("`tokend config` is not TOML ({e}):\n{}", out.stdout))
}

fn get<'a>(t: &'a toml::Table, key: &str) -> &'a str {
    t.get(key)
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("no string `{key}` in {t:?}"))
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write file");
}

#[tokio::test]
async fn serve_port_0_prints_the_bound_address_and_serves_it() {
    let w = Workdir::new();
    let server = Server::start(&w.db, &ServerOpts::default());
    // The banner announced the bootstrap administrator before the address.
    assert!(
        server
            .banner
            .iter()
            .any(|l| l.contains("created global administrator admin@example.com")),
        "banner: {:?}",
        server.banner
    );
    let res = client()
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.expect("body"), "ok");
    let res = client()
        .get(server.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(res.status(), 200);
}

#[test]
fn defaults_apply_when_nothing_is_given() {
    let w = Workdir::new();
    let mut cmd = std::process::Command::new(bin());
    cmd.env_clear().current_dir(w.dir.path()).arg("config");
    let t = effective(cmd);
    assert_eq!(get(&t, "db"), "./tokend.db");
    assert_eq!(get(&t, "bind"), "127.0.0.1:8080");
    assert_eq!(get(&t, "master_key_file"), "./tokend.db.key");
    assert_eq!(get(&t, "disabled_retention"), "7d");
    assert_eq!(t["secure_cookies"].as_bool(), Some(false));
    assert!(!w.db.exists(), "`tokend config` must not create a database");
}

#[test]
fn flags_beat_env_beat_file_beat_defaults() {
    let w = Workdir::new();
    let file = w.path("tokend.toml");
    write(
        &file,
        r#"
bind = "127.0.0.1:7000"
disabled_retention = "1d"
purge_interval = "2m"
flush_interval = "3s"
secure_cookies = true
"#,
    );
    let mut cmd = w.tokend();
    cmd.env("TOKEND_BIND", "127.0.0.1:7001")
        .env("TOKEND_PURGE_INTERVAL", "5m")
        .env("TOKEND_SECURE_COOKIES", "false")
        .arg("--config-file")
        .arg(&file)
        .args(["config", "--bind", "127.0.0.1:7002"]);
    let t = effective(cmd);
    assert_eq!(get(&t, "bind"), "127.0.0.1:7002", "flag beats env and file");
    assert_eq!(get(&t, "purge_interval"), "5m", "env beats file");
    assert_eq!(t["secure_cookies"].as_bool(), Some(false), "env beats file");
    assert_eq!(get(&t, "disabled_retention"), "1d", "file beats default");
    assert_eq!(get(&t, "flush_interval"), "3s", "file beats default");
    assert_eq!(get(&t, "expiry_interval"), "1m", "default");
    assert_eq!(
        get(&t, "db"),
        w.db.to_str().expect("utf-8 path"),
        "--db flag"
    );
    // The file may also be named by TOKEND_CONFIG.
    let mut cmd = w.tokend();
    cmd.env("TOKEND_CONFIG", &file).arg("config");
    let t = effective(cmd);
    assert_eq!(get(&t, "bind"), "127.0.0.1:7000");
    assert_eq!(get(&t, "purge_interval"), "2m");
    // And TOKEND_DB names the database when --db is absent.
    let mut cmd = std::process::Command::new(bin());
    cmd.env_clear()
        .env("TOKEND_DB", w.path("other.db"))
        .arg("config");
    let t = effective(cmd);
    assert_eq!(get(&t, "db"), w.path("other.db").to_str().expect("utf-8"));
    assert!(get(&t, "master_key_file").ends_with("other.db.key"));
}

/// Runs `serve` and `user create` with a bad setting: exit 2, a message naming the problem,
/// no panic, and no database written.
fn assert_rejected(setup: impl Fn(&mut std::process::Command, &Workdir), needle: &str) {
    let w = Workdir::new();
    for args in [&["serve", "--port", "0"][..], &["migrate"], &["config"]] {
        let mut cmd = w.tokend();
        // Server flags follow the command (`serve --bind …`); `migrate` takes none, so a
        // setup that passes flags is run with `serve` and `config` only.
        let mut probe = std::process::Command::new("true");
        setup(&mut probe, &w);
        let flags: Vec<std::ffi::OsString> = probe.get_args().map(|a| a.to_owned()).collect();
        let global = flags.first().is_some_and(|f| f == "--config-file");
        if !flags.is_empty() && !global && args[0] == "migrate" {
            continue;
        }
        if global || flags.is_empty() {
            setup(&mut cmd, &w);
            cmd.args(args);
        } else {
            cmd.args(args);
            setup(&mut cmd, &w);
        }
        let out = run(cmd).expect_code(2);
        assert!(
            out.stderr.contains(needle),
            "{args:?}: stderr should mention `{needle}`:\n{}",
            out.stderr
        );
        assert!(
            out.stdout.is_empty(),
            "{args:?}: nothing on stdout: {}",
            out.stdout
        );
        assert!(
            !w.db.exists(),
            "{args:?}: a bad configuration must not create the database"
        );
    }
}

#[test]
fn bad_bind_address_is_exit_2() {
    assert_rejected(
        |c, _| {
            c.env("TOKEND_BIND", "nonsense");
        },
        "nonsense",
    );
    assert_rejected(
        |c, _| {
            c.args(["--bind", "127.0.0.1:99999"]);
        },
        "bind",
    );
}

#[test]
fn bad_duration_is_exit_2() {
    assert_rejected(
        |c, _| {
            c.env("TOKEND_DISABLED_RETENTION", "soon");
        },
        "disabled_retention",
    );
    assert_rejected(
        |c, _| {
            c.env("TOKEND_PURGE_INTERVAL", "0s");
        },
        "purge_interval",
    );
    assert_rejected(
        |c, _| {
            c.arg("--flush-interval=-5s");
        },
        "flush",
    );
}

#[test]
fn bad_address_lists_and_numbers_are_exit_2() {
    assert_rejected(
        |c, _| {
            c.env("TOKEND_METRICS_ALLOW", "10.0.0.0/8,not-an-ip");
        },
        "not-an-ip",
    );
    assert_rejected(
        |c, _| {
            c.env("TOKEND_TRUSTED_PROXIES", "300.1.1.1");
        },
        "300.1.1.1",
    );
    assert_rejected(
        |c, _| {
            c.env("TOKEND_WORKERS", "0");
        },
        "workers",
    );
    assert_rejected(
        |c, _| {
            c.env("TOKEND_SECURE_COOKIES", "maybe");
        },
        "maybe",
    );
}

#[test]
fn bad_toml_file_is_exit_2() {
    assert_rejected(
        |c, w| {
            let f = w.path("bad.toml");
            write(&f, "bind = \"127.0.0.1:8080\"\nthis is not toml\n");
            c.arg("--config-file").arg(f);
        },
        "bad.toml",
    );
    assert_rejected(
        |c, w| {
            let f = w.path("unknown.toml");
            write(&f, "bnid = \"127.0.0.1:8080\"\n");
            c.arg("--config-file").arg(f);
        },
        "bnid",
    );
    assert_rejected(
        |c, w| {
            let f = w.path("types.toml");
            write(&f, "workers = \"many\"\n");
            c.env("TOKEND_CONFIG", f);
        },
        "workers",
    );
    assert_rejected(
        |c, w| {
            let f = w.path("retention.toml");
            write(&f, "disabled_retention = \"a week\"\n");
            c.env("TOKEND_CONFIG", f);
        },
        "disabled_retention",
    );
    assert_rejected(
        |c, w| {
            c.arg("--config-file").arg(w.path("missing.toml"));
        },
        "missing.toml",
    );
}

#[test]
fn unknown_command_or_flag_is_exit_2() {
    let w = Workdir::new();
    let mut cmd = w.tokend();
    cmd.arg("frobnicate");
    let out = run(cmd).expect_code(2);
    assert!(out.stderr.contains("frobnicate"), "{}", out.stderr);
    let mut cmd = w.tokend();
    cmd.args(["serve", "--port", "eighty"]);
    run(cmd).expect_code(2);
    assert!(!w.db.exists());
}

#[test]
fn half_an_oidc_configuration_is_exit_2() {
    assert_rejected(
        |c, _| {
            c.env("TOKEND_OIDC_ISSUER", "https://idp.example.com");
        },
        "oidc_client_id, oidc_client_secret",
    );
    assert_rejected(
        |c, _| {
            c.args([
                "--oidc-client-id",
                "tokend",
                "--oidc-client-secret",
                "s3cret",
            ]);
        },
        "missing: oidc_issuer",
    );
    assert_rejected(
        |c, w| {
            let toml = "oidc_issuer = \"http://idp.example.com\"\noidc_client_id = \"t\"\n\
                        oidc_client_secret = \"s\"\n";
            write(&w.path("t.toml"), toml);
            c.arg("--config-file").arg(w.path("t.toml"));
        },
        "must be an https URL",
    );
    assert_rejected(
        |c, _| {
            c.env("TOKEND_OIDC_ISSUER", "https://idp.example.com")
                .env("TOKEND_OIDC_CLIENT_ID", "tokend")
                .env("TOKEND_OIDC_CLIENT_SECRET", "s3cret")
                .env("TOKEND_OIDC_AUTO_PROVISION", "custom");
        },
        "oidc_auto_provision",
    );
}

#[test]
fn a_full_oidc_configuration_is_shown_with_the_secret_redacted() {
    let w = Workdir::new();
    let cmd = || {
        let mut c = w.tokend();
        c.env("TOKEND_OIDC_ISSUER", "https://idp.example.com/realms/x")
            .env("TOKEND_OIDC_CLIENT_ID", "tokend")
            .env("TOKEND_OIDC_CLIENT_SECRET", "very-secret-value")
            .args(["config", "--oidc-auto-provision", "read_only"]);
        c
    };
    let out = run(cmd()).expect_code(0);
    assert!(!out.stdout.contains("very-secret-value"), "{}", out.stdout);
    let t = effective(cmd());
    assert_eq!(get(&t, "oidc_issuer"), "https://idp.example.com/realms/x");
    assert!(
        t.get("oidc_client_secret").is_none(),
        "the secret is not written, not even redacted: {t:?}"
    );
    assert_eq!(get(&t, "oidc_auto_provision"), "read_only");
}
