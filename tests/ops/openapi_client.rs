//! The OpenAPI document as a newcomer meets it (SPEC §17): it validates with
//! `openapi-spec-validator`, its operationIds are unique and every operation has a summary, and
//! a Python client generated from it by `openapi-python-client` creates, lists, renews and
//! deletes a token against the real binary. Both tools come from `scripts/install-test-deps`
//! (pinned, in `.venv`); the test fails rather than skips when they are missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use tokend_test_support::proc::*;

fn venv_tool(name: &str) -> PathBuf {
    let tool = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".venv/bin")
        .join(name);
    assert!(
        tool.exists(),
        "{} is missing: run scripts/install-test-deps (the OpenAPI tests need it)",
        tool.display()
    );
    tool
}

/// Runs `cmd` (≤ 180 s) and returns its output; panics with both streams when it fails.
fn run_ok(mut cmd: Command, what: &str) -> String {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let status = wait_timeout(&mut child, Duration::from_secs(180));
    if status.is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().expect("output");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "{what} failed ({status:?}):\n{text}"
    );
    text
}

/// (method, path, operation) of every operation in the document.
fn operations(doc: &Value) -> Vec<(String, String, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            out.push((method.clone(), path.clone(), op));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_hour_openapi_validates_and_a_generated_client_manages_a_token() {
    let validator = venv_tool("openapi-spec-validator");
    let generator = venv_tool("openapi-python-client");
    let python = venv_tool("python");
    let w = Workdir::new();
    let admin = new_value();
    let server = Server::start(&w.db, &ServerOpts::with_token(&admin));
    let text = client()
        .get(server.url("/openapi.json"))
        .send()
        .await
        .expect("openapi.json")
        .text()
        .await
        .expect("text");
    let doc: Value = serde_json::from_str(&text).expect("JSON");

    // Rust-side checks: unique, meaningful ids; a summary everywhere; errors in the envelope.
    let mut ids: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (method, path, op) in operations(&doc) {
        let at = format!("{} {path}", method.to_uppercase());
        let id = op["operationId"].as_str().unwrap_or_default().to_string();
        assert!(
            // verb + object, camelCase: `createToken`, `getMe`, never a bare `create`
            id.starts_with(|c: char| c.is_ascii_lowercase())
                && id.contains(|c: char| c.is_ascii_uppercase())
                && id.chars().all(|c| c.is_ascii_alphanumeric()),
            "{at}: operationId `{id}` says nothing"
        );
        ids.entry(id).or_default().push(at.clone());
        let summary = op["summary"].as_str().unwrap_or_default();
        assert!(summary.len() >= 10, "{at}: no summary");
        for (status, res) in op["responses"].as_object().expect("responses") {
            assert!(
                res["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{at} {status}: no description"
            );
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(
                    res["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{at} {status}: not the error envelope"
                );
                let codes = res["x-error-codes"].as_array().expect("x-error-codes");
                assert!(!codes.is_empty(), "{at} {status}: no codes");
                for c in codes {
                    let c = c.as_str().expect("code");
                    assert!(
                        res["description"].as_str().unwrap_or("").contains(c),
                        "{at} {status}: `{c}` not in the description"
                    );
                }
            }
        }
    }
    let dups: Vec<_> = ids.iter().filter(|(_, at)| at.len() > 1).collect();
    assert!(dups.is_empty(), "operationIds used twice: {dups:?}");
    for id in [
        "createToken",
        "listTokens",
        "renewToken",
        "deleteToken",
        "listUsers",
    ] {
        assert!(ids.contains_key(id), "no operation `{id}`");
    }
    // Enums, formats, required fields, security schemes.
    let schemas = &doc["components"]["schemas"];
    let props = |s: &str| schemas[s]["properties"].clone();
    assert_eq!(
        schemas["RoleTemplate"]["enum"],
        serde_json::json!([
            "admin",
            "analyst",
            "api_developer",
            "read_only",
            "deploy",
            "custom"
        ])
    );
    let create = props("CreateToken");
    assert!(create["role_template"].to_string().contains("RoleTemplate"));
    assert!(create["kind"].to_string().contains("NewTokenKind"));
    assert!(create["audience"].to_string().contains("Audience"));
    assert_eq!(create["expires_at"]["format"], "date-time");
    assert!(schemas["CreateToken"]["required"]
        .as_array()
        .expect("required")
        .contains(&Value::from("name")));
    for field in ["created_at", "updated_at", "expires_at", "last_used_at"] {
        assert_eq!(props("TokenView")[field]["format"], "date-time", "{field}");
    }
    let list = &doc["paths"]["/v1/tokens"]["get"]["parameters"];
    let param = |n: &str| {
        list.as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == n)
            .cloned()
            .unwrap_or_else(|| panic!("no parameter {n}"))
    };
    assert_eq!(
        param("status")["schema"]["enum"],
        serde_json::json!(["enabled", "disabled", "expired"])
    );
    assert_eq!(param("expires_before")["schema"]["format"], "date-time");
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["api_token"]["name"], "X-API-Token");
    assert_eq!(schemes["api_token"]["in"], "header");

    // openapi-spec-validator accepts the document.
    let spec = w.dir.path().join("openapi.json");
    std::fs::write(&spec, &text).expect("write");
    let out = run_ok(
        {
            let mut c = Command::new(&validator);
            c.arg(&spec);
            c
        },
        "openapi-spec-validator",
    );
    assert!(out.contains("OK"), "{out}");

    // A client generated from it drives a token through its life.
    let gen = w.dir.path().join("gen");
    std::fs::create_dir_all(&gen).expect("mkdir");
    let config = w.dir.path().join("client.yaml");
    std::fs::write(&config, "post_hooks: []\n").expect("config");
    let out = run_ok(
        {
            let mut c = Command::new(&generator);
            c.current_dir(&gen)
                .args(["generate", "--meta", "none", "--path"])
                .arg(&spec)
                .arg("--config")
                .arg(&config);
            c
        },
        "openapi-python-client generate",
    );
    assert!(
        !out.contains("Warning"),
        "the generator skipped parts of the document:\n{out}"
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ops/openapi_client.py");
    let out = tokio::task::spawn_blocking({
        let base = server.base.clone();
        let admin = admin.clone();
        move || {
            let mut c = Command::new(&python);
            c.env("PYTHONPATH", &gen).arg(&script).arg(base).arg(admin);
            run_ok(c, "the generated client")
        }
    })
    .await
    .expect("join");
    for step in ["created:", "listed: 1", "renewed:", "deleted", "ok"] {
        assert!(out.contains(step), "missing `{step}`:\n{out}");
    }
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}
