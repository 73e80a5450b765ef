//! The one test application: a real tokend started in-process exactly as production starts
//! (`Application::build`) on a temp database and port 0, with a bootstrap global administrator
//! of known password and token. It derefs to its [`Api`] (client, address, admin token, the
//! HTTP call helper); the helpers of each kind of test are further `impl TestApp` blocks of
//! this crate.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{json, Value};
use tempfile::TempDir;
use tokend::config::Config;
use tokend::domain::token_value::{TokenValue, ValueKind};
use tokend::startup::{Application, Bootstrap};
use tokend::state::AppState;

use crate::http::{client, Api};

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery";

/// A running server and what tests need to reach it.
pub struct TestApp {
    /// Its address, client and admin token (`app.address`, `app.client`, `app.call(…)`).
    pub api: Api,
    pub port: u16,
    pub db_path: PathBuf,
    pub state: Arc<AppState>,
    pub dir: TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Spawns a server on the current tokio runtime after `tweak` adjusts its configuration.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    // `TOKEND_TEST_LOG=warn cargo test …` shows the servers' logs (e.g. a 500's cause).
    if let Ok(filter) = std::env::var("TOKEND_TEST_LOG") {
        tokend::telemetry::init(&filter);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let db_path = database(dir.path());
    let mut config = Config::for_tests(db_path.clone());
    config.master_key_file = dir.path().join("tokend.key");
    tweak(&mut config);
    let admin_token = TokenValue::generate(ValueKind::Api).expose().to_string();
    let boot = Bootstrap {
        admin_email: Some(ADMIN_EMAIL.into()),
        admin_password: Some(ADMIN_PASSWORD.into()),
        admin_token: Some(admin_token.clone()),
    };
    let app = Application::build(config, &boot).expect("app builds");
    let port = app.port();
    let state = app.state();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        api: Api {
            client: client(),
            address: format!("http://127.0.0.1:{port}"),
            admin_token,
        },
        port,
        db_path,
        state,
        dir,
    }
}

/// The database of a new test app: an SQLite file in `dir`, or — with `TOKEND_TEST_PG` set to
/// the administrator URL of a throwaway PostgreSQL cluster — a fresh PostgreSQL database of
/// its own (`./scripts/test` runs the API suite both ways).
pub fn database(dir: &std::path::Path) -> PathBuf {
    match std::env::var("TOKEND_TEST_PG") {
        Ok(admin) if !admin.is_empty() => PathBuf::from(fresh_pg_database(&admin)),
        _ => dir.join("tokend.db"),
    }
}

fn fresh_pg_database(admin: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("tokend_test_{}_{n}", std::process::id());
    let sql = format!("CREATE DATABASE {name}");
    tokend::startup::off_runtime(|| {
        let mut c = postgres::Client::connect(admin, postgres::NoTls)
            .unwrap_or_else(|e| panic!("TOKEND_TEST_PG {admin}: {e}"));
        c.batch_execute(&sql).expect("create the test database");
    });
    let mut url = url::Url::parse(admin).expect("TOKEND_TEST_PG is a URL");
    url.set_path(&name);
    url.to_string()
}

impl std::ops::Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl TestApp {
    /// Creates a token owned and made by `owner_id` from a create-token JSON `body`, as the
    /// owner does in the console: a session of the owner, through the same service function
    /// as the API. The token is not delegated. Returns (id, value). A body naming neither
    /// `role_template` nor `permissions` asks for every permission of the owner (see
    /// [`owner_permissions_body`]): the API itself has no default.
    pub async fn own_token(&self, owner_id: i64, body: Value) -> (i64, String) {
        let mut input: tokend::service::tokens::CreateToken =
            serde_json::from_value::<tokend::routes::api::wire::tokens::CreateToken>(body)
                .expect("a CreateToken body")
                .into();
        let st = self.state.clone();
        let created = self
            .state
            .write(move |tx| {
                let owner = tokend::db::users::get(tx, owner_id)?
                    .ok_or(tokend::service::Error::NotFound)?;
                if input.role_template.is_none() && input.permissions.is_none() {
                    let all = owner_permissions_body(&owner);
                    input.role_template = all["role_template"].as_str().map(str::to_string);
                    input.permissions = all["permissions"].as_array().map(|a| {
                        a.iter()
                            .filter_map(|p| p.as_str().map(str::to_string))
                            .collect()
                    });
                }
                let caller = tokend::domain::caller::Caller::session(owner, "127.0.0.1".into());
                tokend::service::tokens::create(tx, &st.env(), &caller, input)
            })
            .await
            .expect("own token created");
        (created.token.id, created.value.expose().to_string())
    }

    /// The create-token fields asking for every permission `owner_id` holds (for tests that
    /// want a token as wide as its owner; the API has no default).
    pub async fn all_permissions_of(&self, owner_id: i64) -> Value {
        let owner = self
            .state
            .read(move |c| Ok::<_, tokend::service::Error>(tokend::db::users::get(c, owner_id)?))
            .await
            .expect("read the owner")
            .expect("the owner exists");
        owner_permissions_body(&owner)
    }

    /// `body` with every permission of `owner_id` asked for, unless it names
    /// `role_template` or `permissions` itself.
    pub async fn with_all_permissions(&self, owner_id: i64, mut body: Value) -> Value {
        let asks = body.get("role_template").is_some() || body.get("permissions").is_some();
        if !asks {
            let all = self.all_permissions_of(owner_id).await;
            if let (Some(b), Some(a)) = (body.as_object_mut(), all.as_object()) {
                b.extend(a.clone());
            }
        }
        body
    }

    /// Moves the server's clock forward.
    pub fn advance(&self, by: chrono::Duration) {
        self.state.clock.advance(by);
    }

    /// A direct connection to the database file (to look at what is stored).
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.db_path).expect("open db")
    }
}

/// The create-token fields for every permission `owner` holds: the owner's role as the
/// template when it is one, else the explicit list (a global administrator, a custom role).
pub fn owner_permissions_body(owner: &tokend::domain::user::User) -> Value {
    match tokend::domain::roles::parse_template(owner.role.name()) {
        Some(r) if r != tokend::domain::roles::Role::Custom => json!({ "role_template": r.name() }),
        _ => json!({ "permissions": owner.permissions().request_names() }),
    }
}
