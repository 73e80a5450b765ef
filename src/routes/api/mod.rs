//! The JSON API under `/v1`. Each route is declared once, in the table below: method, path,
//! what it needs and the handler whose `#[utoipa::path]` describes the operation. `configure`,
//! the OpenAPI document (`ApiDoc`) and `ROUTES` (the authorization matrix's list) are all
//! generated from it (see `declare`).

pub mod admin;
pub mod common;
mod declare;
pub mod doc;
pub mod nodes;
pub mod scopes;
pub mod session;
pub mod system;
pub mod tokens;
pub mod users;
pub mod wire;

use actix_web::web;
use utoipa::{Modify, OpenApi};

use declare::api_routes;
use doc::{ErrorResponses, Fields, Security};

pub use declare::IN_TABLE;

api_routes! {
    "/healthz" { GET "—" => system::healthz }
    "/readyz" { GET "—" => system::readyz }
    // First in `/v1`: the hot path, matched before any `{id}` pattern is tried. It answers
    // every method; the document names GET.
    "/v1/auth/verify" { GET(any) "a token" => system::verify }
    "/v1/session" {
        POST "—" => session::login,
        DELETE "—" => session::logout,
    }
    /// Who is calling (the console's example `curl`).
    ME = "/v1/me" { GET "any" => session::me }
    "/v1/permissions" { GET "any" => session::permissions }
    "/v1/roles" {
        GET "any" => scopes::roles_list,
        POST "settings:write" => scopes::roles_create,
    }
    "/v1/tokens" {
        GET "tokens:read" => tokens::list,
        POST "tokens:write" => tokens::create,
    }
    // Before `/v1/tokens/{id}`, which would take `bulk` for an id and answer POST with 405.
    "/v1/tokens/bulk" { POST "tokens:write" => tokens::bulk }
    "/v1/tokens/{id}/usage" { GET "tokens:read" => tokens::usage }
    "/v1/tokens/{id}" {
        GET "tokens:read" => tokens::get,
        PATCH "tokens:write" => tokens::update,
        DELETE "tokens:write" => tokens::delete,
    }
    "/v1/tokens/{id}/regenerate" { POST "tokens:write" => tokens::regenerate }
    "/v1/tokens/{id}/renew" { POST "tokens:write" => tokens::renew }
    "/v1/tokens/{id}/reveal" { POST "tokens:read" => tokens::reveal }
    "/v1/users" {
        GET "users:read" => users::list,
        POST "users:write" => users::create,
    }
    "/v1/users/{id}" {
        GET "users:read" => users::get,
        PATCH "users:write" => users::update,
        DELETE "users:write" => users::delete,
    }
    "/v1/users/{id}/legacy-credentials" { POST "users:write" => users::legacy_credentials }
    "/v1/audit" { GET "audit:read" => admin::audit_list }
    "/v1/settings" {
        GET "settings:read" => admin::settings_get,
        PATCH "settings:write" => admin::settings_update,
    }
    "/v1/companies" {
        GET "companies:read" => admin::companies_list,
        POST "companies:write" => admin::companies_create,
    }
    "/v1/nodes" {
        GET "nodes:read" => nodes::list,
        POST "nodes:write" => nodes::create,
    }
    "/v1/nodes/{id}" { DELETE "nodes:write" => nodes::delete }
    /// A node's own record (the console's example `curl` for node tokens).
    NODE_SELF = "/v1/nodes/self" { GET "node token" => nodes::me }
    "/v1/nodes/self/heartbeat" { POST "node token" => nodes::heartbeat }
    "/v1/maintenance/run" { POST "maintenance:run" => admin::maintenance }
    "/v1/revoke" { POST "—" => system::revoke }
    "/v1/webhooks/deliveries" { GET "settings:read" => admin::webhook_deliveries }
    "/v1/scopes" {
        GET "settings:read" => scopes::list,
        POST "settings:write" => scopes::create,
    }
    "/v1/scopes/{id}/delete-preview" { GET "settings:write" => scopes::delete_preview }
    "/v1/scopes/{id}" {
        GET "settings:read" => scopes::get,
        PATCH "settings:write" => scopes::update,
        DELETE "settings:write" => scopes::delete,
    }
    "/v1/roles/{id}/preview" { POST "settings:write" => scopes::roles_preview }
    "/v1/roles/{id}" {
        GET "any" => scopes::roles_get,
        PATCH "settings:write" => scopes::roles_update,
        DELETE "settings:write" => scopes::roles_delete,
    }
}

/// The scope of the JSON API; the table's other paths (probes) sit at the root.
const SCOPE: &str = "/v1";

pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut scope = web::scope(SCOPE)
        .app_data(common::json_config())
        .app_data(common::query_config())
        .app_data(common::path_config())
        .app_data(common::payload_config());
    for d in declared() {
        match d.path.strip_prefix(SCOPE) {
            Some(inner) => scope = declare::registration(inner, &d.routes).on_scope(scope),
            None => declare::registration(d.path, &d.routes).on_config(cfg),
        }
    }
    // Prometheus text, for the operator's scraper: not part of the API or its document.
    cfg.route("/metrics", web::get().to(system::metrics));
    cfg.service(scope.default_service(web::to(|| async {
        Err::<actix_web::HttpResponse, _>(crate::error::ApiError::NotFound)
    })));
}

/// The OpenAPI document: the description and tags here, the operations placed by the table.
pub struct ApiDoc;

impl OpenApi for ApiDoc {
    fn openapi() -> utoipa::openapi::OpenApi {
        let mut doc = Described::openapi();
        declare::document(&mut doc, declared());
        let finishing: [&dyn Modify; 3] = [&Security, &ErrorResponses, &Fields];
        for m in finishing {
            m.modify(&mut doc);
        }
        doc
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "tokend", description = "Self-hosted API token service"),
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
/// The document's description and tags; the operations come from the route table.
struct Described;
