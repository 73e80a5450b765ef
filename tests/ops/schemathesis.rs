//! schemathesis against `/openapi.json`: every documented operation, with generated valid and
//! invalid inputs, on the real binary. Zero server errors and zero responses that break the
//! documented schema (status codes, content types, headers, bodies). Bounded: a fixed seed
//! and a fixed number of examples per operation.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use tokend_test_support::proc::*;
use tokend_test_support::store::assert_integrity;

/// Examples per operation and phase; with a fixed seed the run is repeatable.
const MAX_EXAMPLES: &str = "60";
const SEED: &str = "20261123";

/// Checks that apply to tokend. Left out: `positive_data_acceptance` (a schema cannot say
/// "owner_id must name an existing user" or "the password is at least 8 characters after
/// trimming", so schema-valid input is rightly refused with 4xx), `unsupported_method` and
/// `allow_header_conformance` (a method a path does not serve answers 404, or 405 listing the
/// methods of a `/v1/tokens/{id}`-style resource the path also matches; the interface fixes
/// neither).
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
response_headers_conformance,response_schema_conformance,negative_data_rejection,\
use_after_free,ensure_resource_availability,ignored_auth,missing_required_header";

fn schemathesis() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/schemathesis");
    assert!(
        venv.exists(),
        "{} is missing: run scripts/install-test-deps (the OpenAPI conformance test needs it)",
        venv.display()
    );
    venv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_errors_and_no_schema_violations() {
    let exe = schemathesis();
    let w = Workdir::new();
    let admin = new_value();
    let server = Server::start(&w.db, &ServerOpts::with_token(&admin));
    let http = client();
    // Some data, so reads by id and lists have something to return.
    let me: serde_json::Value = http
        .get(server.url("/v1/me"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    let (admin_user, admin_token) = (
        me["user"]["id"].as_i64().expect("id"),
        me["token_id"].as_i64().expect("id"),
    );
    let res = http
        .post(server.url("/v1/users"))
        .bearer_auth(&admin)
        .json(&json!({ "email": "ann@example.com", "role": "analyst", "password": "password-123" }))
        .send()
        .await
        .expect("user");
    assert_eq!(res.status(), 201);
    let ann = res.json::<serde_json::Value>().await.expect("json")["id"]
        .as_i64()
        .expect("id");
    for i in 0..3 {
        let res = http
            .post(server.url("/v1/tokens"))
            .bearer_auth(&admin)
            .json(&json!({ "name": format!("seed-{i}"), "owner_id": ann, "role_template": "read_only" }))
            .send()
            .await
            .expect("token");
        assert_eq!(res.status(), 201);
    }
    let hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ops/schemathesis_hooks.py");
    // Two runs: everything with the administrator's token, then the node's own endpoints
    // with the node token (the only credential they accept).
    let mut total = 0;
    for filter in ["--exclude-path-regex", "--include-path-regex"] {
        let token = if filter == "--exclude-path-regex" {
            admin.clone()
        } else {
            // Made after the first run, which may delete any node it finds.
            let res = http
                .post(server.url("/v1/nodes"))
                .bearer_auth(&admin)
                .json(&json!({ "name": "edge-1" }))
                .send()
                .await
                .expect("node");
            assert_eq!(res.status(), 201);
            res.json::<serde_json::Value>().await.expect("json")["token"]["value"]
                .as_str()
                .expect("node token")
                .to_string()
        };
        let mut cmd = Command::new(&exe);
        cmd.current_dir(w.dir.path())
            .env("SCHEMATHESIS_HOOKS", &hooks)
            .env("TOKEND_PROTECT_TOKEN_ID", admin_token.to_string())
            .env("TOKEND_PROTECT_USER_ID", admin_user.to_string())
            .env("NO_COLOR", "1")
            .arg("run")
            .arg(server.url("/openapi.json"))
            .args(["-H", &format!("Authorization: Bearer {token}")])
            .args([filter, "^/v1/nodes/self"])
            .args(["--checks", CHECKS])
            .args(["--seed", SEED, "--max-examples", MAX_EXAMPLES])
            .args([
                "--workers",
                "1",
                "--no-color",
                "--generation-database",
                "none",
            ])
            .args(["--request-timeout", "20", "--suppress-health-check", "all"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let child = cmd.spawn().expect("spawn schemathesis");
        let out =
            tokio::task::spawn_blocking(move || wait_with_limit(child, Duration::from_secs(240)))
                .await
                .expect("join");
        let text = format!("{}\n{}", out.0, out.1);
        let generated = text
            .lines()
            .find_map(|l| {
                l.trim()
                    .split_once(" generated")
                    .and_then(|(n, _)| n.trim().parse::<u64>().ok())
            })
            .unwrap_or(0);
        eprintln!(
            "schemathesis ({filter} ^/v1/nodes/self): {generated} test cases in {:.0} s, exit {:?}",
            started.elapsed().as_secs_f64(),
            out.2
        );
        assert_eq!(out.2, Some(0), "schemathesis found problems:\n{text}");
        assert!(
            generated >= 50,
            "schemathesis ran too few cases ({generated}):\n{text}"
        );
        assert!(
            !text.contains("Authentication failed"),
            "credentials stopped working mid-run:\n{text}"
        );
        total += generated;
    }
    eprintln!("schemathesis: {total} test cases, 0 failures");
    assert!(total >= 1000, "too few cases overall: {total}");
    // The server survived the whole run.
    let res = http
        .get(server.url("/v1/me"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("me");
    assert_eq!(res.status(), 200);
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
    drop(server);
    assert_integrity(&w.db);
}

/// Waits for `child` (≤ `limit`, else kills it) → (stdout, stderr, exit code).
fn wait_with_limit(
    mut child: std::process::Child,
    limit: Duration,
) -> (String, String, Option<i32>) {
    use std::io::Read;
    let mut so = child.stdout.take().expect("stdout");
    let mut se = child.stderr.take().expect("stderr");
    let t1 = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let t2 = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let status = wait_timeout(&mut child, limit);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let (o, e) = (t1.join().unwrap_or_default(), t2.join().unwrap_or_default());
    match status {
        Some(s) => (o, e, s.code()),
        None => (o, format!("{e}\n(killed after {limit:?})"), None),
    }
}
