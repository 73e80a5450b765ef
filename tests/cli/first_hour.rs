//! SPEC §17, least privilege by default, on the command line: `tokend token create` names the
//! token's permissions (`--role-template` or `--permissions`) or refuses, saying how.

use crate::proc::*;
use crate::support::*;

#[tokio::test]
async fn first_hour_cli_token_create_without_permissions_refuses_and_says_how() {
    let r = running();
    r.api_user("ann@example.com", "analyst").await;
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
