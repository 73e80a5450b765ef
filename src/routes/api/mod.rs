//! The JSON API under `/v1`. `ROUTES` names every route with the permission it needs; the
//! authorization matrix test checks it against the OpenAPI document and the live server.

pub mod admin;
pub mod common;
pub mod doc;
pub mod nodes;
pub mod scopes;
pub mod session;
pub mod system;
pub mod tokens;
pub mod users;
pub mod wire;

use actix_web::web;
use utoipa::OpenApi;

use doc::{ErrorResponses, Fields, Security};

/// Every API route: (method, path, what it needs). `—` = no credentials.
pub const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/healthz", "—"),
    ("GET", "/readyz", "—"),
    ("POST", "/v1/session", "—"),
    ("DELETE", "/v1/session", "—"),
    ("GET", "/v1/me", "any"),
    ("GET", "/v1/permissions", "any"),
    ("GET", "/v1/roles", "any"),
    ("GET", "/v1/tokens", "tokens:read"),
    ("POST", "/v1/tokens", "tokens:write"),
    ("POST", "/v1/tokens/bulk", "tokens:write"),
    ("GET", "/v1/tokens/{id}", "tokens:read"),
    ("GET", "/v1/tokens/{id}/usage", "tokens:read"),
    ("PATCH", "/v1/tokens/{id}", "tokens:write"),
    ("DELETE", "/v1/tokens/{id}", "tokens:write"),
    ("POST", "/v1/tokens/{id}/regenerate", "tokens:write"),
    ("POST", "/v1/tokens/{id}/renew", "tokens:write"),
    ("POST", "/v1/tokens/{id}/reveal", "tokens:read"),
    ("GET", "/v1/users", "users:read"),
    ("POST", "/v1/users", "users:write"),
    ("GET", "/v1/users/{id}", "users:read"),
    ("PATCH", "/v1/users/{id}", "users:write"),
    ("DELETE", "/v1/users/{id}", "users:write"),
    ("POST", "/v1/users/{id}/legacy-credentials", "users:write"),
    ("GET", "/v1/audit", "audit:read"),
    ("GET", "/v1/settings", "settings:read"),
    ("PATCH", "/v1/settings", "settings:write"),
    ("GET", "/v1/companies", "companies:read"),
    ("POST", "/v1/companies", "companies:write"),
    ("GET", "/v1/auth/verify", "a token"),
    ("GET", "/v1/nodes", "nodes:read"),
    ("POST", "/v1/nodes", "nodes:write"),
    ("DELETE", "/v1/nodes/{id}", "nodes:write"),
    ("GET", "/v1/nodes/self", "node token"),
    ("POST", "/v1/nodes/self/heartbeat", "node token"),
    ("POST", "/v1/maintenance/run", "maintenance:run"),
    ("POST", "/v1/revoke", "—"),
    ("GET", "/v1/webhooks/deliveries", "settings:read"),
    ("GET", "/v1/scopes", "settings:read"),
    ("POST", "/v1/scopes", "settings:write"),
    ("GET", "/v1/scopes/{id}", "settings:read"),
    ("PATCH", "/v1/scopes/{id}", "settings:write"),
    ("GET", "/v1/scopes/{id}/delete-preview", "settings:write"),
    ("DELETE", "/v1/scopes/{id}", "settings:write"),
    ("POST", "/v1/roles", "settings:write"),
    ("GET", "/v1/roles/{id}", "any"),
    ("POST", "/v1/roles/{id}/preview", "settings:write"),
    ("PATCH", "/v1/roles/{id}", "settings:write"),
    ("DELETE", "/v1/roles/{id}", "settings:write"),
];

/// A resource whose unmatched methods answer 405 in the error envelope.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(|| async {
        Err::<actix_web::HttpResponse, _>(crate::error::ApiError::MethodNotAllowed)
    }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(system::healthz))
        .route("/readyz", web::get().to(system::readyz))
        .route("/metrics", web::get().to(system::metrics))
        .service(
            web::scope("/v1")
                .app_data(common::json_config())
                .app_data(common::query_config())
                .app_data(common::path_config())
                .app_data(common::payload_config())
                // First: the hot path, matched before any `{id}` pattern is tried.
                .route("/auth/verify", web::route().to(system::verify))
                .service(
                    resource("/session")
                        .route(web::post().to(session::login))
                        .route(web::delete().to(session::logout)),
                )
                .route("/me", web::get().to(session::me))
                .route("/permissions", web::get().to(session::permissions))
                .service(
                    resource("/roles")
                        .route(web::get().to(scopes::roles_list))
                        .route(web::post().to(scopes::roles_create)),
                )
                .service(
                    resource("/roles/{id}")
                        .route(web::get().to(scopes::roles_get))
                        .route(web::patch().to(scopes::roles_update))
                        .route(web::delete().to(scopes::roles_delete)),
                )
                .route("/roles/{id}/preview", web::post().to(scopes::roles_preview))
                .service(
                    resource("/scopes")
                        .route(web::get().to(scopes::list))
                        .route(web::post().to(scopes::create)),
                )
                .service(
                    resource("/scopes/{id}")
                        .route(web::get().to(scopes::get))
                        .route(web::patch().to(scopes::update))
                        .route(web::delete().to(scopes::delete)),
                )
                .route(
                    "/scopes/{id}/delete-preview",
                    web::get().to(scopes::delete_preview),
                )
                .service(
                    resource("/tokens")
                        .route(web::get().to(tokens::list))
                        .route(web::post().to(tokens::create)),
                )
                .route("/tokens/bulk", web::post().to(tokens::bulk))
                .service(
                    resource("/tokens/{id}")
                        .route(web::get().to(tokens::get))
                        .route(web::patch().to(tokens::update))
                        .route(web::delete().to(tokens::delete)),
                )
                .route(
                    "/tokens/{id}/regenerate",
                    web::post().to(tokens::regenerate),
                )
                .route("/tokens/{id}/renew", web::post().to(tokens::renew))
                .route("/tokens/{id}/reveal", web::post().to(tokens::reveal))
                .route("/tokens/{id}/usage", web::get().to(tokens::usage))
                .service(
                    resource("/users")
                        .route(web::get().to(users::list))
                        .route(web::post().to(users::create)),
                )
                .service(
                    resource("/users/{id}")
                        .route(web::get().to(users::get))
                        .route(web::patch().to(users::update))
                        .route(web::delete().to(users::delete)),
                )
                .route(
                    "/users/{id}/legacy-credentials",
                    web::post().to(users::legacy_credentials),
                )
                .route("/audit", web::get().to(admin::audit_list))
                .service(
                    resource("/settings")
                        .route(web::get().to(admin::settings_get))
                        .route(web::patch().to(admin::settings_update)),
                )
                .service(
                    resource("/companies")
                        .route(web::get().to(admin::companies_list))
                        .route(web::post().to(admin::companies_create)),
                )
                .service(
                    resource("/nodes")
                        .route(web::get().to(nodes::list))
                        .route(web::post().to(nodes::create)),
                )
                .route("/nodes/self", web::get().to(nodes::me))
                .route("/nodes/self/heartbeat", web::post().to(nodes::heartbeat))
                .route("/nodes/{id}", web::delete().to(nodes::delete))
                .route("/maintenance/run", web::post().to(admin::maintenance))
                .route("/revoke", web::post().to(system::revoke))
                .route(
                    "/webhooks/deliveries",
                    web::get().to(admin::webhook_deliveries),
                )
                .default_service(web::to(|| async {
                    Err::<actix_web::HttpResponse, _>(crate::error::ApiError::NotFound)
                })),
        );
}

#[derive(OpenApi)]
#[openapi(
    info(title = "tokend", description = "Self-hosted API token service"),
    paths(
        system::healthz, system::readyz, session::login, session::logout, session::me,
        session::permissions, scopes::roles_list, scopes::roles_create, scopes::roles_get,
        scopes::roles_preview, scopes::roles_update, scopes::roles_delete, scopes::list,
        scopes::create, scopes::get, scopes::update, scopes::delete_preview, scopes::delete,
        tokens::list, tokens::create, tokens::bulk,
        tokens::get, tokens::update, tokens::delete, tokens::regenerate, tokens::renew, tokens::reveal, tokens::usage,
        users::list, users::create, users::get, users::update, users::delete,
        users::legacy_credentials, admin::audit_list, admin::settings_get,
        admin::settings_update, admin::companies_list, admin::companies_create,
        system::verify, nodes::list, nodes::create, nodes::delete, nodes::me,
        nodes::heartbeat, admin::maintenance, system::revoke, admin::webhook_deliveries,
    ),
    modifiers(&Security, &ErrorResponses, &Fields),
    tags(
        (name = "tokens", description = "API tokens: create, list, edit, renew, reveal, delete"),
        (name = "users", description = "Users of a company and their legacy credentials"),
        (name = "session", description = "Browser sign-in and who is calling"),
        (name = "admin", description = "Audit log, company settings, companies, maintenance, webhooks"),
        (name = "nodes", description = "Filtering nodes and their own endpoints"),
        (name = "auth", description = "Forward authentication for reverse proxies, public revocation"),
        (name = "system", description = "Liveness and readiness"),
    )
)]
pub struct ApiDoc;
