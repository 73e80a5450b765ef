//! The one way the test binaries start a real tokend in-process, exactly as production starts
//! (`Application::build`): a temp database, port 0, a bootstrap admin with a known password
//! and token. Included by the api, console and ops binaries with `#[path]`; not every binary
//! reads every field.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use tempfile::TempDir;
use tokend::config::Config;
use tokend::domain::token_value::{TokenValue, ValueKind};
use tokend::startup::{Application, Bootstrap};
use tokend::state::AppState;

/// A running server and what tests need to reach it.
pub struct Spawned {
    pub address: String,
    pub port: u16,
    /// A token of the bootstrap global administrator (all permissions).
    pub admin_token: String,
    pub db_path: PathBuf,
    pub state: Arc<AppState>,
    pub dir: TempDir,
}

/// Spawns a server on the current tokio runtime after `tweak` adjusts its configuration.
pub async fn spawn(
    admin_email: &str,
    admin_password: &str,
    tweak: impl FnOnce(&mut Config),
) -> Spawned {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_path = dir.path().join("tokend.db");
    let mut config = Config::for_tests(db_path.clone());
    tweak(&mut config);
    let admin_token = TokenValue::generate(ValueKind::Api).expose().to_string();
    let boot = Bootstrap {
        admin_email: Some(admin_email.into()),
        admin_password: Some(admin_password.into()),
        admin_token: Some(admin_token.clone()),
    };
    let app = Application::build(config, &boot).expect("app builds");
    let port = app.port();
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    Spawned {
        address: format!("http://127.0.0.1:{port}"),
        port,
        admin_token,
        db_path,
        state,
        dir,
    }
}

/// An HTTP client that does not follow redirects (tests look at them).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Creates a token owned and made by `owner_id` from a create-token JSON `body`, as the owner
/// does in the console: a session of the owner, through the same service function as the
/// API. The token is not delegated. Returns (id, value).
pub async fn own_token(
    state: &Arc<AppState>,
    owner_id: i64,
    body: serde_json::Value,
) -> (i64, String) {
    let input: tokend::service::tokens::CreateToken =
        serde_json::from_value(body).expect("a CreateToken body");
    let st = state.clone();
    let created = state
        .write(move |tx| {
            let owner =
                tokend::db::users::get(tx, owner_id)?.ok_or(tokend::error::ApiError::NotFound)?;
            let caller = tokend::domain::model::Caller::session(owner, "127.0.0.1".into());
            tokend::service::tokens::create(tx, &st.env(), &caller, input)
        })
        .await
        .expect("own token created");
    (created.token.id, created.value.expose().to_string())
}
