//! First start on an empty database: the administrator, its password printed once
//! when none is given, `TOKEND_ADMIN_TOKEN`, and a malformed token as a startup error.

use crate::support::*;
use tokend_test_support::proc::*;

#[tokio::test]
async fn random_admin_password_is_printed_once_and_works() {
    let w = Workdir::new();
    let opts = ServerOpts {
        admin_password: None,
        ..ServerOpts::default()
    };
    let server = Server::start(&w.db, &opts);
    let line = server
        .banner
        .iter()
        .find(|l| l.contains("created global administrator admin@example.com"))
        .unwrap_or_else(|| panic!("no bootstrap line in {:?}", server.banner))
        .clone();
    let password = line
        .split("with password ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no password in `{line}`"))
        .to_string();
    assert!(
        password.len() >= 12,
        "a strong generated password: {password}"
    );
    let r = Running::new(w, server, "");
    assert_eq!(r.login(ADMIN_EMAIL, &password).await, 200);
    assert!(
        !r.server.stderr().contains(&password),
        "the password goes to stdout once, never to the log"
    );
    // A second start on the same database prints no password and keeps the first one.
    let Running { w, mut server, .. } = r;
    server.signal("TERM");
    assert!(server
        .wait_exit(std::time::Duration::from_secs(20))
        .success());
    let again = Server::start(&w.db, &opts);
    assert!(
        again
            .banner
            .iter()
            .all(|l| !l.contains("password") && !l.contains("created")),
        "shown once: {:?}",
        again.banner
    );
    let r = Running::new(w, again, "");
    assert_eq!(r.login(ADMIN_EMAIL, &password).await, 200);
    assert_eq!(count(&r.w.db(), "users"), 1);
}

#[tokio::test]
async fn given_admin_password_and_token_work_at_once() {
    let r = running();
    assert!(
        r.server.banner.iter().all(|l| !l.contains("with password")),
        "a given password is not echoed: {:?}",
        r.server.banner
    );
    assert_eq!(r.login(ADMIN_EMAIL, ADMIN_PASSWORD).await, 200);
    let me = r.me_eventually(&r.admin).await;
    assert_eq!(me["user"]["email"], ADMIN_EMAIL);
    assert_eq!(me["user"]["role"], "global_admin");
}

#[test]
fn malformed_admin_token_is_a_startup_error_and_stores_nothing() {
    let good = new_value();
    // Wrong checksum (last character changed), wrong prefix, too short, not base62.
    let mut bad_checksum = good.clone();
    let last = bad_checksum.pop().expect("non-empty");
    bad_checksum.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [
        bad_checksum,
        good.replacen("tkd_", "tkx_", 1),
        good[..good.len() - 1].to_string(),
        format!("{}!", &good[..good.len() - 1]),
        "hunter2".to_string(),
    ] {
        let w = Workdir::new();
        let res = Server::try_start(&w.db, &ServerOpts::with_token(&bad));
        let (stdout, stderr) = match res {
            Ok(_) => panic!("tokend started with TOKEND_ADMIN_TOKEN={bad}"),
            Err(e) => e,
        };
        assert!(
            stderr.contains("TOKEND_ADMIN_TOKEN"),
            "clear message for {bad}:\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            !stderr.contains(&bad) || bad == "hunter2",
            "the value is not echoed: {stderr}"
        );
        assert!(!stdout.contains("listening"), "{stdout}");
        if w.db.exists() {
            let conn = w.db();
            assert_eq!(count(&conn, "companies"), 0, "nothing stored");
            assert_eq!(count(&conn, "users"), 0, "nothing stored");
            assert_eq!(count(&conn, "tokens"), 0, "nothing stored");
        }
    }
}

#[test]
fn malformed_admin_token_exit_code_is_nonzero() {
    let w = Workdir::new();
    let mut cmd = w.tokend();
    cmd.env("TOKEND_ADMIN_TOKEN", "tkd_notavalidvalue")
        .args(["serve", "--port", "0"]);
    let out = run(cmd);
    assert_ne!(out.code(), 0, "{}", out.stderr);
    assert!(out.stderr.contains("TOKEND_ADMIN_TOKEN"), "{}", out.stderr);
}
