//! The machinery behind the route table of `routes::api`: each API route is declared there
//! once — method, path, what it needs and its handler, whose `#[utoipa::path]` describes the
//! operation — and `configure`, the OpenAPI document and `ROUTES` are all generated from it.
//!
//! Registration keeps one rule: a path served by several methods is one resource whose other
//! methods answer 405 `method_not_allowed`; a path served by one method is matched by that
//! method only, so others fall through to the next route (and in the end to 404 `not_found`).

use actix_web::{web, Resource, Route};
use utoipa::openapi::path::{HttpMethod, Operation, PathItem};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::OpenApi;

/// The `path` every handler's `#[utoipa::path]` names. utoipa wants one, but where a route
/// lives is declared once, in the table of `routes::api`, which puts each operation at its
/// path. The attribute's method must be the table's: building the document checks it.
pub const IN_TABLE: &str = "(declared in the route table of routes::api)";

/// What a route open to anyone needs, in the table.
pub const PUBLIC: &str = "—";

/// One route of the table.
pub struct Declared {
    pub method: &'static str,
    pub needs: &'static str,
    /// The actix route: the method's guard (none for `GET(any)`) and the handler.
    pub route: fn() -> Route,
    /// A document holding the handler's operation only, wherever its attribute put it.
    pub operation: fn() -> OpenApi,
}

/// A path and its routes, in declaration order.
pub struct DeclaredPath {
    pub path: &'static str,
    pub routes: Vec<Declared>,
}

/// The route table: `NAME = "/path" { METHOD "needs" => handler, … }` per path (`NAME =`
/// optional: a constant for code that names the path elsewhere). `GET(any)` registers the
/// handler for every method and documents it as GET. Generates `ROUTES` (method, path,
/// needs), one `pub const` per named path and `fn declared()`, the table itself.
macro_rules! api_routes {
    ($(
        $($(#[doc = $doc:literal])* $name:ident =)? $path:literal {
            $( $method:ident $(($any:ident))? $needs:literal => $($handler:ident)::+ ),+ $(,)?
        }
    )*) => {
        $($(
            $(#[doc = $doc])*
            pub const $name: &str = $path;
        )?)*

        /// Every API route: (method, path, what it needs), in declaration order. Needs are a
        /// permission of the catalogue, `—` (no credentials), `any` (any valid token),
        /// `a token` (forward-auth: the scopes asked for) or `node token`.
        pub const ROUTES: &[(&str, &str, &str)] = &[
            $($( (stringify!($method), $path, $needs), )+)*
        ];

        /// The route table: each path with its routes.
        fn declared() -> Vec<$crate::routes::api::declare::DeclaredPath> {
            vec![$(
                $crate::routes::api::declare::DeclaredPath {
                    path: $path,
                    routes: vec![$(
                        $crate::routes::api::declare::Declared {
                            method: stringify!($method),
                            needs: $needs,
                            route: || $crate::routes::api::declare::api_route!($method $($any)?)
                                .to($($handler)::+),
                            operation: {
                                #[derive(utoipa::OpenApi)]
                                #[openapi(paths($($handler)::+))]
                                struct Operation;
                                <Operation as utoipa::OpenApi>::openapi
                            },
                        },
                    )+],
                },
            )*]
        }
    };
}

/// The actix route of a table entry: guarded by its method, or by none for `GET(any)`.
macro_rules! api_route {
    ($method:ident) => {
        actix_web::web::method(actix_web::http::Method::$method)
    };
    ($method:ident any) => {
        actix_web::web::route()
    };
}

pub(crate) use {api_route, api_routes};

/// How a path of the table is registered (see the module's rule).
pub enum Registration {
    /// One method: matched by it only (`route` moves the method guard to the resource).
    Route(&'static str, Route),
    /// Several methods: one resource; the others answer 405 in the error envelope.
    Resource(Resource),
}

/// The registration of `routes` at `at` (the path inside its scope).
pub fn registration(at: &'static str, routes: &[Declared]) -> Registration {
    match routes {
        [one] => Registration::Route(at, (one.route)()),
        _ => Registration::Resource(
            routes
                .iter()
                .fold(resource(at), |r, d| r.route((d.route)())),
        ),
    }
}

/// A resource whose unmatched methods answer 405 in the error envelope.
fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(|| async {
        Err::<actix_web::HttpResponse, _>(crate::error::ApiError::MethodNotAllowed)
    }))
}

impl Registration {
    pub fn on_scope(self, scope: actix_web::Scope) -> actix_web::Scope {
        match self {
            Registration::Route(at, route) => scope.route(at, route),
            Registration::Resource(r) => scope.service(r),
        }
    }

    pub fn on_config(self, cfg: &mut web::ServiceConfig) {
        match self {
            Registration::Route(at, route) => {
                cfg.route(at, route);
            }
            Registration::Resource(r) => {
                cfg.service(r);
            }
        }
    }
}

/// Whether the route table says `path` takes node tokens only (they have no legacy form).
pub fn node_only(path: &str) -> bool {
    super::ROUTES
        .iter()
        .any(|(_, p, needs)| *p == path && *needs == "node token")
}

/// Puts each declared operation into `doc` at its path and method, with the security of what
/// it needs, and takes in the schemas it refers to.
pub fn document(doc: &mut OpenApi, table: Vec<DeclaredPath>) {
    for DeclaredPath { path, routes } in table {
        for d in routes {
            let mut one = (d.operation)();
            let item = std::mem::take(&mut one.paths.paths)
                .into_values()
                .next()
                .unwrap_or_default();
            let mut op = take_operation(item, d.method).unwrap_or_else(|| {
                panic!(
                    "{} {path}: the handler's #[utoipa::path] must name the method {}",
                    d.method, d.method
                )
            });
            op.security = (d.needs != PUBLIC)
                .then(|| vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
            doc.paths
                .add_path_operation(path, vec![http_method(d.method)], op);
            doc.merge(one);
        }
    }
}

/// The operation of `item` under `method`, if that is where it is (and nowhere else).
fn take_operation(item: PathItem, method: &str) -> Option<Operation> {
    let PathItem {
        get,
        put,
        post,
        delete,
        options,
        head,
        patch,
        trace,
        ..
    } = item;
    let mut slots = [
        ("GET", get),
        ("PUT", put),
        ("POST", post),
        ("DELETE", delete),
        ("OPTIONS", options),
        ("HEAD", head),
        ("PATCH", patch),
        ("TRACE", trace),
    ];
    if slots.iter().any(|(m, op)| *m != method && op.is_some()) {
        return None;
    }
    slots.iter_mut().find(|(m, _)| *m == method)?.1.take()
}

fn http_method(method: &str) -> HttpMethod {
    match method {
        "GET" => HttpMethod::Get,
        "PUT" => HttpMethod::Put,
        "POST" => HttpMethod::Post,
        "DELETE" => HttpMethod::Delete,
        "OPTIONS" => HttpMethod::Options,
        "HEAD" => HttpMethod::Head,
        "PATCH" => HttpMethod::Patch,
        "TRACE" => HttpMethod::Trace,
        other => panic!("the route table names an unknown method {other}"),
    }
}

#[cfg(test)]
mod tests {
    use utoipa::openapi::path::OperationBuilder;
    use utoipa::OpenApi;

    use super::*;
    use crate::routes::api::{ApiDoc, ROUTES};

    #[test]
    fn routes_document_holds_exactly_the_table() {
        let mut doc = ApiDoc::openapi();
        let mut documented = Vec::new();
        for (path, item) in &doc.paths.paths {
            for (method, op) in [
                ("GET", &item.get),
                ("PUT", &item.put),
                ("POST", &item.post),
                ("DELETE", &item.delete),
                ("OPTIONS", &item.options),
                ("HEAD", &item.head),
                ("PATCH", &item.patch),
                ("TRACE", &item.trace),
            ] {
                if let Some(op) = op {
                    documented.push((method, path.as_str(), op.security.is_some()));
                }
            }
        }
        let mut declared: Vec<_> = ROUTES
            .iter()
            .map(|(m, p, needs)| (*m, *p, *needs != PUBLIC))
            .collect();
        documented.sort();
        declared.sort();
        assert_eq!(documented, declared, "(method, path, takes credentials)");
        assert!(!doc.paths.paths.contains_key(IN_TABLE));
        let ids = crate::routes::api::doc::operation_ids(&mut doc);
        assert_eq!(ids.len(), ROUTES.len(), "one operation id per route");
    }

    #[test]
    fn routes_paths_are_declared_once() {
        let mut seen = std::collections::BTreeSet::new();
        for d in crate::routes::api::declared() {
            assert!(seen.insert(d.path), "{} declared twice", d.path);
            assert!(!d.routes.is_empty());
        }
    }

    #[test]
    fn routes_an_attribute_naming_another_method_is_refused() {
        let item = || PathItem::new(HttpMethod::Post, OperationBuilder::new().build());
        assert!(take_operation(item(), "POST").is_some());
        assert!(take_operation(item(), "GET").is_none());
        let mut both = item();
        both.get = Some(OperationBuilder::new().build());
        assert!(take_operation(both, "POST").is_none());
    }
}
