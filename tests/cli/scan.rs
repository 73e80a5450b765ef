//! `tokend scan PATH…`: prints `path:line` for every value with a valid checksum;
//! exit 1 when any is found, 0 when none, 2 on error.

use tokend::domain::token_value::{TokenValue, ValueKind};

use tokend_test_support::proc::*;

fn scan(args: &[&std::path::Path]) -> Output {
    let mut cmd = std::process::Command::new(bin());
    cmd.env_clear().arg("scan").args(args);
    run(cmd)
}

#[test]
fn scan_finds_valid_values_by_path_and_line() {
    let w = Workdir::new();
    let api = TokenValue::generate(ValueKind::Api).expose().to_string();
    let node = TokenValue::generate(ValueKind::Node).expose().to_string();
    // A corrupted checksum is not a finding.
    let mut forged = TokenValue::generate(ValueKind::Api).expose().to_string();
    let last = forged.pop().expect("char");
    forged.push(if last == '0' { '1' } else { '0' });
    let root = w.path("repo");
    std::fs::create_dir_all(root.join("deploy/k8s")).expect("dirs");
    let env_file = root.join(".env");
    std::fs::write(
        &env_file,
        format!("# settings\nUSER=ci\nTOKEND_TOKEN={api}\n"),
    )
    .expect("write");
    let yaml = root.join("deploy/k8s/node.yaml");
    std::fs::write(
        &yaml,
        format!("kind: Secret\ndata:\n  a: x\n  b: y\n  token: \"{node}\" # node\n"),
    )
    .expect("write");
    let clean = root.join("deploy/readme.md");
    std::fs::write(
        &clean,
        format!("example: {forged}\nnot a token: tkd_short\n"),
    )
    .expect("write");
    let out = scan(&[&root]).expect_code(1);
    let mut lines: Vec<&str> = out.stdout.lines().collect();
    lines.sort();
    let mut want = vec![
        format!("{}:3", env_file.display()),
        format!("{}:5", yaml.display()),
    ];
    want.sort();
    assert_eq!(lines, want);
    assert!(
        !out.stdout.contains(&api) && !out.stdout.contains(&node),
        "values are not echoed"
    );
    // Files given one by one.
    let out = scan(&[&clean]).expect_code(0);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    let out = scan(&[&clean, &env_file]).expect_code(1);
    assert_eq!(out.stdout.trim(), format!("{}:3", env_file.display()));
}

#[test]
fn scan_of_clean_or_binary_files_finds_nothing() {
    let w = Workdir::new();
    let bin_file = w.path("blob.bin");
    std::fs::write(
        &bin_file,
        [0u8, 159, 146, 150, 255, b't', b'k', b'd', b'_', 0, 1, 2],
    )
    .expect("write");
    let out = scan(&[w.dir.path()]).expect_code(0);
    assert!(out.stdout.is_empty());
}

#[test]
fn scan_of_a_missing_path_is_exit_2() {
    let w = Workdir::new();
    let missing = w.path("nope");
    let out = scan(&[&missing]).expect_code(2);
    assert!(out.stderr.contains("nope"), "{}", out.stderr);
    // No path at all: usage error.
    let mut cmd = std::process::Command::new(bin());
    cmd.env_clear().arg("scan");
    run(cmd).expect_code(2);
}
