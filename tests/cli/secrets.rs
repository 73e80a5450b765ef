//! Rule 45 (database passwords never print, whatever their form) and rule 48 (SSO
//! auto-provisioning cannot name `global_admin`), as an operator meets them at the command line.

use std::process::Command;

use tokend_test_support::proc::*;

/// The secret every URL below carries; none of its characters-with-meaning may leak either.
const PW: &str = "Pw0rd";

/// `--db` values whose password holds a character with a meaning in URLs, raw or
/// percent-encoded, or sits in a parameter, or in a multi-host URL. All point at a closed port
/// on loopback, so a connection attempt fails at once.
fn urls() -> Vec<String> {
    let h = "127.0.0.1:1";
    vec![
        format!("postgres://u:{PW}?x@{h}/db"),
        format!("postgres://u:{PW}%3Fx@{h}/db"),
        format!("postgres://u:{PW}@x@{h}/db"),
        format!("postgres://u:{PW}%40x@{h}/db"),
        format!("postgres://u:{PW}/x@{h}/db"),
        format!("postgres://u:{PW}#x@{h}/db"),
        format!("postgres://u:{PW}%23x@{h}/db"),
        format!("postgres://u@{h}/db?password={PW}"),
        format!("postgres://u@{h}/db?sslmode=disable&password={PW}%26x"),
        format!("postgresql://u:{PW}@{h},127.0.0.1:2,127.0.0.1:3/db"),
        format!("host=127.0.0.1 port=1 user=u password={PW} dbname=db"),
        format!("host=127.0.0.1 user=u password='{PW} x' dbname=db"),
    ]
}

fn clean(cmd: &str, url: &str, out: &Output) {
    for text in [&out.stdout, &out.stderr] {
        assert!(
            !text.contains(PW),
            "`tokend {cmd}` with --db {url} printed the password:\n{text}"
        );
    }
}

#[test]
fn rule_45_tokend_config_never_prints_a_database_password() {
    for url in urls() {
        let mut c = tokend(std::path::Path::new(&url));
        c.arg("config");
        let out = run(c);
        clean("config", &url, &out);
        if url.starts_with("postgres") {
            let out = out.expect_code(0);
            assert!(
                out.stdout.contains("127.0.0.1"),
                "the host stays:\n{}",
                out.stdout
            );
        } else {
            // A libpq key=value string is refused (it would name an SQLite file whose name
            // holds the password), and the refusal does not print the password either.
            let out = out.expect_code(2);
            assert!(out.stderr.contains("key=value"), "{}", out.stderr);
        }
        // Given through the environment, and shown by --help: never in clear either.
        let mut c = Command::new(bin());
        c.env_clear().env("TOKEND_DB", &url).arg("--help");
        let out = run(c).expect_code(0);
        clean("--help", &url, &out);
    }
}

#[test]
fn rule_45_connect_errors_never_print_a_database_password() {
    // Each form that names PostgreSQL: the connection is refused (or the URL is invalid).
    for url in urls().iter().filter(|u| u.starts_with("postgres")) {
        let mut c = tokend(std::path::Path::new(url));
        c.arg("migrate");
        let out = run(c);
        assert_ne!(out.code(), 0, "{url}: {out:?}");
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        clean("migrate", url, &out);
    }
}

/// Rule 48: a sign-in at the identity provider never creates a global administrator.
#[test]
fn rule_48_auto_provisioning_cannot_name_global_admin() {
    for command in [&["serve", "--port", "0"][..], &["config"][..]] {
        let w = Workdir::new();
        let mut c = w.tokend();
        c.env("TOKEND_OIDC_ISSUER", "https://idp.example.com")
            .env("TOKEND_OIDC_CLIENT_ID", "tokend")
            .env("TOKEND_OIDC_CLIENT_SECRET", "s3cret")
            .args(command)
            .args(["--oidc-auto-provision", "global_admin"]);
        let out = run(c).expect_code(2);
        assert!(
            out.stderr.contains("oidc_auto_provision") && out.stderr.contains("global_admin"),
            "{command:?}: {}",
            out.stderr
        );
        assert!(!w.db.exists(), "{command:?}: nothing is created");
    }
    // The same through the environment; any narrower role is accepted.
    let w = Workdir::new();
    let mut c = w.tokend();
    c.env("TOKEND_OIDC_ISSUER", "https://idp.example.com")
        .env("TOKEND_OIDC_CLIENT_ID", "tokend")
        .env("TOKEND_OIDC_CLIENT_SECRET", "s3cret")
        .env("TOKEND_OIDC_AUTO_PROVISION", "global_admin")
        .arg("config");
    run(c).expect_code(2);
    let mut c = w.tokend();
    c.env("TOKEND_OIDC_ISSUER", "https://idp.example.com")
        .env("TOKEND_OIDC_CLIENT_ID", "tokend")
        .env("TOKEND_OIDC_CLIENT_SECRET", "s3cret")
        .env("TOKEND_OIDC_AUTO_PROVISION", "admin")
        .arg("config");
    run(c).expect_code(0);
}
