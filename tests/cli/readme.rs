//! The README's tour, run as a reader runs it: its one `sh` block pasted into bash, with this
//! build's `tokend` first on `PATH` and a free `PORT`. Every command must succeed (`set -e`,
//! and the tour's `curl -f`), and the answers its comments announce must come back.

use std::path::Path;
use std::process::Command;

use tokend_test_support::proc::*;

/// The first ```sh block after the "A 60-second tour" heading.
fn tour() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let after = readme
        .split_once("## A 60-second tour")
        .expect("the tour heading")
        .1;
    let block = after.split_once("```sh\n").expect("an sh block").1;
    block
        .split_once("\n```")
        .expect("the block's end")
        .0
        .to_string()
}

#[test]
fn first_hour_readme_tour_runs_pasted_as_one_block() {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("skipped: no curl");
        return;
    }
    let block = tour();
    assert!(
        block.contains("tokend token generate") && !block.contains("zlib"),
        "the admin token comes from `tokend token generate`"
    );
    let bin_dir = Path::new(bin()).parent().expect("the binary's directory");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("address").port()
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    // The server the tour starts in the background is stopped when the script ends.
    let script =
        format!("set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\n{block}\n");
    let mut c = Command::new("bash");
    c.env_clear()
        .env("PATH", path)
        .env("PORT", port.to_string())
        .env("TMPDIR", tmp.path())
        .env("HOME", tmp.path())
        .args(["-c", &script]);
    let out = run(c);
    let shown = format!("--- stdout\n{}\n--- stderr\n{}", out.stdout, out.stderr);
    assert_eq!(out.code(), 0, "the tour failed\n{shown}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        out.stdout.contains("\"email\":\"admin@example.com\""),
        "who am I\n{shown}"
    );
    assert!(
        out.stdout.contains("\"email\":\"ci@example.com\""),
        "the user\n{shown}"
    );
    assert!(
        out.stdout.contains("\"value\":\"tkd_"),
        "the API's value\n{shown}"
    );
    assert!(
        out.stdout.contains("pipeline") && out.stdout.contains("deploy bot"),
        "the token list\n{shown}"
    );
    assert!(
        lines.contains(&"200"),
        "forward-auth with the scope: 200\n{shown}"
    );
    assert!(
        lines.contains(&"403"),
        "forward-auth without it: 403\n{shown}"
    );
    assert!(
        lines.contains(&"session: 200"),
        "the session calls the API\n{shown}"
    );
    assert!(
        lines.contains(&"created: 201"),
        "a change with the CSRF token\n{shown}"
    );
    assert!(out.stdout.contains("route="), "the access log\n{shown}");
}
