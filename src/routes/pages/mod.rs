//! The web console: server-rendered pages over the same service functions as the
//! JSON API, so a rule is written once. Each handler parses a form, calls the service, and
//! renders an askama template from `templates/`. Pages work without JavaScript; the one
//! script (`static/console.js`) only adds copy buttons, confirm dialogs and form conveniences.
//! Every form posts a CSRF token checked against the session (`auth::SignedForm`).

mod assets;
mod audit;
mod auth;
mod confirm;
mod form;
mod list_view;
mod nodes;
mod oidc;
mod owner_picker;
mod profile;
mod render;
mod scopes;
mod session;
mod settings;
mod token_actions;
mod token_form;
mod token_page;
mod token_value;
mod tokens;
mod user_actions;
mod users;
mod view;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use render::{error_page, Layout, Section};

/// The 500 page for a request whose handler panicked (`middleware::catch_panics`): the site's
/// layout without a session lookup (the failure may lie there).
pub fn internal_error_page() -> HttpResponse {
    error_page(
        Layout::anonymous("Something went wrong"),
        StatusCode::INTERNAL_SERVER_ERROR,
        "An internal error occurred; it has been logged with the request id of this answer.",
    )
}

/// Any URL outside `/v1` that names no page: the console's 404 page, with the navigation for
/// a signed-in user and *Sign in* for anyone else (`/v1/…` keeps the API's JSON 404).
async fn not_found(req: HttpRequest) -> HttpResponse {
    let title = "Page not found";
    let (layout, message) = match auth::PageUser::load(&req).await {
        Ok(user) => (
            user.layout(title, Section::None),
            "There is no page at this address. Check the link, or use the navigation above.",
        ),
        Err(_) => (
            Layout::anonymous(title),
            "There is no page at this address. Check the link, or sign in to use the console.",
        ),
    };
    error_page(layout, StatusCode::NOT_FOUND, message)
}

/// The console's routes, in matching order (`/tokens/new` and `/tokens/bulk` before
/// `/tokens/{id}`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.default_service(web::to(not_found));
    sign_in_routes(cfg);
    token_routes(cfg);
    people_routes(cfg);
    settings_routes(cfg);
}

/// Static files, sign-in and sign-out.
fn sign_in_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/{file}", web::get().to(assets::serve))
        .service(
            web::resource("/login")
                .route(web::get().to(session::login_page))
                .route(web::post().to(session::login)),
        )
        .route("/login/oidc", web::get().to(oidc::start))
        .route("/login/oidc/callback", web::get().to(oidc::callback))
        .route("/logout", web::post().to(session::logout));
}

/// The tokens list, form, owner picker, value page and token actions.
fn token_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(tokens::index))
        .service(
            web::resource("/tokens")
                .route(web::get().to(tokens::index))
                .route(web::post().to(token_form::create)),
        )
        .service(
            web::resource("/tokens/new")
                .route(web::get().to(token_form::new_form))
                .route(web::post().to(token_form::refresh)),
        )
        .service(
            web::resource("/tokens/new/owner")
                .route(web::get().to(owner_picker::select_get))
                .route(web::post().to(owner_picker::select)),
        )
        .route("/console/owners", web::get().to(owner_picker::suggest))
        .route("/tokens/value/{id}", web::get().to(token_value::show))
        .route("/tokens/bulk", web::post().to(token_actions::bulk))
        .service(
            web::resource("/tokens/{id}")
                .route(web::get().to(token_page::show))
                .route(web::post().to(token_page::update)),
        )
        .route("/tokens/{id}/toggle", web::post().to(token_actions::toggle))
        .route("/tokens/{id}/reveal", web::post().to(token_actions::reveal))
        .route(
            "/tokens/{id}/regenerate",
            web::post().to(token_actions::regenerate),
        )
        .route("/tokens/{id}/lock", web::post().to(token_actions::lock))
        .route("/tokens/{id}/delete", web::post().to(token_actions::delete));
}

/// Users, their actions, the audit log and nodes.
fn people_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/users")
            .route(web::get().to(users::list))
            .route(web::post().to(users::create)),
    )
    .route("/users/new", web::get().to(users::new_form))
    .service(
        web::resource("/users/{id}")
            .route(web::get().to(users::show))
            .route(web::post().to(user_actions::update)),
    )
    .route(
        "/users/{id}/legacy",
        web::post().to(user_actions::legacy_credentials),
    )
    .route("/users/{id}/delete", web::post().to(user_actions::delete))
    .route("/audit", web::get().to(audit::audit_log))
    .service(
        web::resource("/nodes")
            .route(web::get().to(nodes::list))
            .route(web::post().to(nodes::create)),
    )
    .route("/nodes/value/{id}", web::get().to(token_value::show))
    .route("/nodes/{id}/delete", web::post().to(nodes::delete));
}

/// Company settings, scopes, roles and one's own profile.
fn settings_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/settings")
            .route(web::get().to(settings::settings))
            .route(web::post().to(settings::save_settings)),
    )
    .service(
        web::resource("/settings/scopes")
            .route(web::get().to(scopes::scopes_page))
            .route(web::post().to(scopes::scopes_create)),
    )
    .route(
        "/settings/scopes/{id}/delete",
        web::post().to(scopes::scopes_delete),
    )
    .service(
        web::resource("/settings/roles")
            .route(web::get().to(scopes::roles_page))
            .route(web::post().to(scopes::roles_create)),
    )
    .service(
        web::resource("/settings/roles/{id}")
            .route(web::get().to(scopes::role_page))
            .route(web::post().to(scopes::role_update)),
    )
    .route(
        "/settings/roles/{id}/delete",
        web::post().to(scopes::role_delete),
    )
    .route("/profile", web::get().to(profile::profile))
    .route(
        "/profile/password",
        web::post().to(profile::change_password),
    );
}
