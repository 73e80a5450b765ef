//! HTTP: the JSON API (`api`), the console (`pages`), static files and the middleware.

pub mod api;
pub mod middleware;
pub mod pages;
pub mod passwords;
pub mod session_cookie;

use actix_web::web;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // Rule 34: every body read (console forms included, chunked or not) stops at 64 KiB.
    cfg.app_data(api::common::payload_config());
    cfg.service(SwaggerUi::new("/api-docs/{_:.*}").url("/openapi.json", api::ApiDoc::openapi()));
    api::configure(cfg);
    pages::configure(cfg);
}
