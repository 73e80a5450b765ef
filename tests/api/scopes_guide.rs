//! docs/GUARDING-YOUR-API.md, run as written: every ```http block of the guide is sent, in
//! order, to a real server; `$NAMES` are the values earlier blocks saved (`id=NAME` saves the
//! answer's `id`, `value=NAME` its `value`), and `expect=STATUS` is the status the guide
//! promises.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::Value;

use crate::helpers::*;

const GUIDE: &str = include_str!("../../docs/GUARDING-YOUR-API.md");

struct Step {
    expect: u16,
    saves: Option<(String, String)>,
    method: Method,
    path: String,
    token: String,
    body: Option<String>,
}

fn steps() -> Vec<Step> {
    let mut out = Vec::new();
    let mut lines = GUIDE.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.strip_prefix("```http") else {
            continue;
        };
        let mut expect = 0;
        let mut saves = None;
        for word in info.split_whitespace() {
            match word.split_once('=') {
                Some(("expect", s)) => expect = s.parse().expect("expect=STATUS"),
                Some((field @ ("id" | "value"), name)) => {
                    saves = Some((field.to_string(), name.to_string()))
                }
                _ => panic!("unknown word in ```http info: {word}"),
            }
        }
        let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        let (method, path) = block[0].split_once(' ').expect("METHOD PATH");
        let token = block[1]
            .strip_prefix("Authorization: Bearer ")
            .expect("an Authorization line")
            .to_string();
        let body = block[2..]
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        out.push(Step {
            expect,
            saves,
            method: method.parse().expect("method"),
            path: path.to_string(),
            token,
            body: (!body.is_empty()).then_some(body),
        });
    }
    out
}

fn fill(s: &str, vars: &HashMap<String, String>) -> String {
    let mut s = s.to_string();
    // longest names first, so `$CI_TOKEN` is not read as `$CI` + `_TOKEN`
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    for n in names {
        s = s.replace(&format!("${n}"), &vars[n]);
    }
    assert!(!s.contains('$'), "an unknown $NAME in {s}");
    s
}

#[tokio::test]
async fn scopes_guide_guarding_your_own_api_end_to_end() {
    let app = spawn_app().await;
    let steps = steps();
    assert!(steps.len() >= 8, "the guide's steps: {}", steps.len());
    let mut vars = HashMap::from([("ADMIN_TOKEN".to_string(), app.admin_token.clone())]);
    for (i, step) in steps.iter().enumerate() {
        let path = fill(&step.path, &vars);
        let token = fill(&step.token, &vars);
        let body: Option<Value> = step
            .body
            .as_ref()
            .map(|b| serde_json::from_str(&fill(b, &vars)).expect("the step's JSON"));
        let res = app
            .send(step.method.clone(), &path, Some(&token), body)
            .await;
        let status = res.status().as_u16();
        let text = res.text().await.unwrap_or_default();
        assert_eq!(
            status, step.expect,
            "step {i}: {} {path}: {text}",
            step.method
        );
        if let Some((field, name)) = &step.saves {
            let v: Value = serde_json::from_str(&text).expect("json");
            let saved = match &v[field] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            vars.insert(name.clone(), saved);
        }
        if status >= 400 {
            let v: Value = serde_json::from_str(&text).expect("an error envelope");
            let code = v["error"]["code"].as_str().unwrap_or_default();
            let promised = match status {
                403 => "insufficient_scope",
                400 => "unknown_scope",
                _ => code,
            };
            assert_eq!(code, promised, "step {i}: {text}");
        }
    }
    // and what the guide says of the CI token holds: delegated, bounded by the role
    let ci = vars["CI_TOKEN"].clone();
    let me = app.get_ok("/v1/me", &ci).await;
    assert_eq!(me["delegated"], true);
    assert_eq!(sorted_strings(&me["permissions"]), vec!["orders:write"]);
}
