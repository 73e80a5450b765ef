//! The finishing pass over the generated OpenAPI document: security schemes, the error
//! responses (one `ErrorBody` envelope, a description and `x-error-codes` listing the codes an
//! operation can answer), `format: date-time` on every time and enums on the fields that take
//! a fixed set of names. Tables here, rather than attributes spread over the services, keep the
//! names in one place and derive them from the domain's own lists where there is one.

use std::collections::BTreeMap;

use serde_json::Value;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{
    KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Required, Response};
use utoipa::Modify;

use crate::domain::roles::{Role, TEMPLATES};
use crate::domain::token::TokenKind;

/// The ways to present a token (SPEC: first match wins), and the legacy UUID + secret pair.
pub struct Security;

/// Headers that carry a token value, besides `Authorization: Bearer`.
const TOKEN_HEADERS: [(&str, &str); 3] = [
    ("api_token", "X-API-Token"),
    ("wallarm_token", "X-WallarmApi-Token"),
    ("wallarm_token_compat", "WallarmApi-Token"),
];

impl Modify for Security {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("`Authorization: Bearer <token value>`"))
                    .build(),
            ),
        );
        for (name, header) in TOKEN_HEADERS {
            components.add_security_scheme(
                name,
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                    header,
                    &format!("The token value in `{header}`"),
                ))),
            );
        }
        components.add_security_scheme(
            "legacy_uuid",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-WallarmApi-UUID",
                "Legacy credentials: the UUID, together with X-WallarmApi-Secret",
            ))),
        );
        components.add_security_scheme(
            "legacy_secret",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-WallarmApi-Secret",
                "Legacy credentials: the secret, together with X-WallarmApi-UUID",
            ))),
        );
        // Every operation that takes a token takes it in any of these forms.
        let mut alternatives = vec![SecurityRequirement::new("bearer", Vec::<String>::new())];
        for (name, _) in TOKEN_HEADERS {
            alternatives.push(SecurityRequirement::new(name, Vec::<String>::new()));
        }
        let legacy = SecurityRequirement::new("legacy_uuid", Vec::<String>::new())
            .add("legacy_secret", Vec::<String>::new());
        for (path, op) in operations(openapi) {
            if op.security.is_some() {
                let mut these = alternatives.clone();
                // Node endpoints take node tokens only, which have no legacy form.
                if !super::declare::node_only(&path) {
                    these.push(legacy.clone());
                }
                op.security = Some(these);
            }
        }
    }
}

/// Every operation of the document with its path.
fn operations(openapi: &mut OpenApi) -> Vec<(String, &mut Operation)> {
    let mut out = Vec::new();
    for (path, item) in openapi.paths.paths.iter_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ]
        .into_iter()
        .flatten()
        {
            out.push((path.clone(), op));
        }
    }
    out
}

/// What an error status means, for its response description.
fn reason(status: u16) -> &'static str {
    match status {
        400 => "Malformed JSON or query string, or an unknown field or parameter (named in `message`)",
        401 => "No valid credentials",
        403 => "The credentials do not allow this",
        404 => "No such object, or not visible to the caller",
        405 => "Method not allowed on this path",
        409 => "Conflicts with what is stored",
        413 => "Request body larger than 64 KiB",
        422 => "Invalid input: `fields` names each field (or query parameter) and what is wrong with it",
        429 => "Too many attempts; `Retry-After` says when to try again",
        503 => "Not ready: the database does not answer",
        _ => "Error",
    }
}

/// Codes every operation with this status can answer (`authenticated`: it takes credentials).
fn common_codes(status: u16, authenticated: bool) -> &'static [&'static str] {
    match (status, authenticated) {
        (400, _) => &["bad_request"],
        (401, true) => &["unauthenticated", "invalid_token"],
        (403, true) => &["insufficient_scope", "ip_not_allowed", "csrf_failed"],
        (404, _) => &["not_found"],
        (405, _) => &["method_not_allowed"],
        (413, _) => &["payload_too_large"],
        (422, _) => &["validation_failed"],
        (429, _) => &["too_many_attempts"],
        (503, _) => &["unavailable", "storage_unavailable"],
        _ => &[],
    }
}

/// Codes beyond the common ones, by operation and status.
const CODES: &[(&str, u16, &[&str])] = &[
    ("createSession", 401, &["invalid_credentials"]),
    ("createSession", 403, &["sso_user", "forbidden"]),
    (
        "createToken",
        403,
        &[
            "forbidden",
            "shared_requires_admin",
            "delegated_token",
            "token_exceeds_caller",
            "owner_exceeds_caller",
            "sso_user",
        ],
    ),
    ("createToken", 409, &["name_taken", "owner_inactive"]),
    (
        "createToken",
        422,
        &[
            "permissions_required",
            "permissions_exceed_caller",
            "permissions_exceed_owner",
            "lifetime_exceeds_policy",
            "expiry_in_past",
        ],
    ),
    ("getToken", 403, &["forbidden"]),
    ("getTokenUsage", 403, &["forbidden"]),
    ("verifyToken", 429, &["rate_limited", "quota_exhausted"]),
    (
        "updateToken",
        403,
        &["forbidden", "delegated_token", "token_exceeds_caller"],
    ),
    (
        "updateToken",
        409,
        &["name_taken", "token_leaked", "owner_inactive"],
    ),
    (
        "updateToken",
        422,
        &[
            "owner_immutable",
            "legacy_permissions_fixed",
            "permissions_exceed_caller",
            "permissions_exceed_owner",
            "lifetime_exceeds_policy",
            "expiry_in_past",
        ],
    ),
    ("deleteToken", 403, &["forbidden", "delegated_token"]),
    (
        "renewToken",
        403,
        &["forbidden", "delegated_token", "token_exceeds_caller"],
    ),
    ("renewToken", 422, &["lifetime_exceeds_policy"]),
    (
        "regenerateToken",
        403,
        &["forbidden", "delegated_token", "token_exceeds_caller"],
    ),
    ("regenerateToken", 422, &["lifetime_exceeds_policy"]),
    (
        "revealToken",
        403,
        &["forbidden", "delegated_token", "token_exceeds_caller"],
    ),
    ("revealToken", 409, &["reveal_disabled"]),
    ("bulkTokens", 403, &["forbidden"]),
    ("createUser", 403, &["forbidden"]),
    ("createUser", 409, &["email_taken"]),
    ("getUser", 403, &["forbidden"]),
    (
        "updateUser",
        403,
        &[
            "forbidden",
            "user_exceeds_caller",
            "sso_user",
            "current_password_wrong",
        ],
    ),
    ("updateUser", 409, &["email_taken"]),
    ("updateUser", 422, &["current_password_required"]),
    ("deleteUser", 403, &["forbidden", "user_exceeds_caller"]),
    ("deleteUser", 409, &["owns_shared_tokens"]),
    (
        "issueLegacyCredentials",
        403,
        &[
            "forbidden",
            "owner_exceeds_caller",
            "user_exceeds_caller",
            "sso_user",
        ],
    ),
    (
        "issueLegacyCredentials",
        409,
        &["legacy_exists", "uuid_taken", "uuid_retired", "name_taken"],
    ),
    ("getSettings", 403, &["forbidden"]),
    ("updateSettings", 403, &["forbidden"]),
    ("updateSettings", 422, &["webhook_target_forbidden"]),
    ("createCompany", 403, &["forbidden"]),
    (
        "createNode",
        403,
        &["owner_exceeds_caller", "delegated_token"],
    ),
    ("getOwnNode", 403, &["forbidden"]),
    ("verifyToken", 400, &["unknown_scope"]),
    ("createScope", 409, &["name_taken", "scope_limit"]),
    ("createRole", 409, &["name_taken"]),
    ("updateRole", 409, &["name_taken"]),
    ("createRole", 403, &["forbidden"]),
    ("updateRole", 403, &["forbidden"]),
    ("deleteRole", 409, &["role_in_use"]),
    ("previewRoleUpdate", 403, &["forbidden"]),
    ("previewRoleUpdate", 409, &["name_taken"]),
    ("nodeHeartbeat", 403, &["forbidden"]),
];

/// The codes an operation can answer with `status`, in the order a reader meets them.
pub fn error_codes(operation_id: &str, status: u16, authenticated: bool) -> Vec<&'static str> {
    let mut codes: Vec<&'static str> = common_codes(status, authenticated).to_vec();
    for (id, s, extra) in CODES {
        if *id == operation_id && *s == status {
            for c in extra.iter().copied() {
                if !codes.contains(&c) {
                    codes.push(c);
                }
            }
        }
    }
    codes
}

/// Every error response: the `ErrorBody` envelope, a description listing its codes, and the
/// codes again as `x-error-codes`. Success responses without a description get a plain one.
pub struct ErrorResponses;

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut OpenApi) {
        for (_, op) in operations(openapi) {
            optional_body(op);
            let id = op.operation_id.clone().unwrap_or_default();
            let authenticated = op.security.is_some();
            for (status, response) in op.responses.responses.iter_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                let Ok(status) = status.parse::<u16>() else {
                    continue;
                };
                if status < 400 {
                    if response.description.is_empty() {
                        response.description = match status {
                            201 => "Created",
                            202 => "Accepted",
                            204 => "Done; no body",
                            _ => "OK",
                        }
                        .into();
                    }
                    continue;
                }
                let codes = error_codes(&id, status, authenticated);
                finish_error(response, status, &codes);
            }
        }
    }
}

/// An optional body (`Option<T>` in the annotation) may be left out, but when sent it is an
/// object: JSON `null` is refused like any other non-object (400). Document it as such.
fn optional_body(op: &mut Operation) {
    let Some(RefOr::T(body)) = op.request_body.as_mut() else {
        return;
    };
    let mut optional = false;
    for content in body.content.values_mut() {
        let RefOr::T(content) = content else { continue };
        if let Some(RefOr::T(Schema::OneOf(one))) = &content.schema {
            let is_null = |s: &RefOr<Schema>| matches!(s, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null));
            let rest: Vec<RefOr<Schema>> =
                one.items.iter().filter(|s| !is_null(s)).cloned().collect();
            if rest.len() == 1 && one.items.len() == 2 {
                content.schema = rest.into_iter().next();
                optional = true;
            }
        }
    }
    if optional {
        body.required = Some(Required::False);
    }
}

fn finish_error(response: &mut Response, status: u16, codes: &[&str]) {
    let listed = codes
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ");
    response.description = if codes.is_empty() {
        reason(status).to_string()
    } else {
        format!("{}. Codes: {listed}.", reason(status))
    };
    response.content.clear();
    response.content.insert(
        "application/json".into(),
        RefOr::T(Content::new(Some(Ref::from_schema_name("ErrorBody")))),
    );
    let codes: Vec<Value> = codes.iter().map(|c| Value::from(*c)).collect();
    let extensions = ExtensionsBuilder::new()
        .add("x-error-codes", Value::Array(codes))
        .build();
    match response.extensions.as_mut() {
        Some(e) => e.merge(extensions),
        None => response.extensions = Some(extensions),
    }
}

/// `format: date-time` on every time, and enums on the fields that take a fixed set of names.
pub struct Fields;

/// Query parameters and body fields that are times (besides every `…_at`).
const TIME_NAMES: [&str; 4] = ["since", "until", "expires_before", "expires_after"];

/// A field that takes a fixed set of names: (schema, or `*` for any, or `query`; field; the
/// enum's component name; its values). Body and response fields refer to the named component
/// (generated clients get one enum type per set); query parameters carry the enum inline.
struct Names {
    owner: &'static str,
    field: &'static str,
    component: &'static str,
    values: Vec<String>,
}

fn names() -> Vec<Names> {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let templates: Vec<String> = TEMPLATES.iter().map(|r| r.name().to_string()).collect();
    let roles: Vec<String> = Role::ALL.iter().map(|r| r.name().to_string()).collect();
    let kinds: Vec<String> = [TokenKind::Private, TokenKind::Shared, TokenKind::Legacy]
        .iter()
        .map(|k| k.as_str().to_string())
        .collect();
    let reasons = strings(&[
        "manual",
        "expired",
        "owner_disabled",
        "owner_sso",
        "no_permissions",
        "leaked",
        "idle",
    ]);
    let n = |owner, field, component, values| Names {
        owner,
        field,
        component,
        values,
    };
    vec![
        n("*", "role_template", "RoleTemplate", templates),
        n(
            "*",
            "audience",
            "Audience",
            strings(&["administrators", "company"]),
        ),
        n(
            "CreateToken",
            "kind",
            "NewTokenKind",
            strings(&["private", "shared"]),
        ),
        n("query", "kind", "TokenKind", kinds),
        n(
            "query",
            "status",
            "TokenStatus",
            strings(&["enabled", "disabled", "expired"]),
        ),
        n("*", "role", "Role", roles),
        n(
            "BulkRequest",
            "action",
            "BulkAction",
            strings(&["enable", "disable", "delete"]),
        ),
        n(
            "*",
            "token_reveal",
            "TokenReveal",
            strings(&["allowed", "show_once"]),
        ),
        n("*", "disabled_reason", "DisabledReason", reasons.clone()),
        n("*", "token_disabled_reason", "DisabledReason", reasons),
        n(
            "AuditView",
            "via",
            "Via",
            strings(&["token", "legacy", "session", "cli", "sso", "node", "system"]),
        ),
    ]
}

fn string_enum(values: &[String]) -> Schema {
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(values.iter().map(String::as_str)))
            .build(),
    )
}

/// (is a string, may be null) of a property's schema.
fn string_kind(schema: &Schema) -> (bool, bool) {
    match schema {
        Schema::Object(o) => match &o.schema_type {
            SchemaType::Type(Type::String) => (true, false),
            SchemaType::Array(types) => {
                (types.contains(&Type::String), types.contains(&Type::Null))
            }
            _ => (false, false),
        },
        _ => (false, false),
    }
}

/// Whether a field or query parameter holds a time (`format: date-time`).
pub fn is_time(field: &str) -> bool {
    field.ends_with("_at") || TIME_NAMES.contains(&field)
}

/// The enum of a body or response field, if it takes a fixed set of names.
fn names_for<'a>(table: &'a [Names], schema: &str, field: &str) -> Option<&'a Names> {
    let at = |owner: &str| table.iter().find(|n| n.field == field && n.owner == owner);
    at(schema).or_else(|| at("*"))
}

/// Fields a request must carry that serde fills with a default so that the service can answer
/// a missing one in its own words (a missing token name is 422 like an empty one): in the
/// contract they are required all the same.
const REQUIRED: [(&str, &str); 1] = [("CreateToken", "name")];

impl Modify for Fields {
    fn modify(&self, openapi: &mut OpenApi) {
        let table = names();
        if let Some(components) = openapi.components.as_mut() {
            let mut used = BTreeMap::new();
            for (name, schema) in components.schemas.iter_mut() {
                let RefOr::T(Schema::Object(object)) = schema else {
                    continue;
                };
                for (_, field) in REQUIRED.iter().filter(|(s, _)| s == name) {
                    if !object.required.iter().any(|r| r == field) {
                        object.required.push(field.to_string());
                    }
                }
                for (field, property) in object.properties.iter_mut() {
                    let RefOr::T(p) = property else { continue };
                    let (is_string, nullable) = string_kind(p);
                    if !is_string {
                        continue;
                    }
                    if let Some(names) = names_for(&table, name, field) {
                        let description = match &*p {
                            Schema::Object(o) => o.description.clone(),
                            _ => None,
                        };
                        let reference = Ref::from_schema_name(names.component);
                        *property = if nullable {
                            OneOfBuilder::new()
                                .item(ObjectBuilder::new().schema_type(Type::Null))
                                .item(reference)
                                .description(description)
                                .into()
                        } else {
                            RefOr::Ref(reference)
                        };
                        used.insert(names.component, &names.values);
                    } else if is_time(field) {
                        if let Schema::Object(o) = p {
                            o.format = Some(SchemaFormat::KnownFormat(KnownFormat::DateTime));
                        }
                    }
                }
            }
            for (component, values) in used {
                components
                    .schemas
                    .entry(component.to_string())
                    .or_insert_with(|| RefOr::T(string_enum(values)));
            }
        }
        for (_, op) in operations(openapi) {
            for p in op.parameters.iter_mut().flatten() {
                let RefOr::T(p) = p else { continue };
                let Some(RefOr::T(Schema::Object(o))) = p.schema.as_mut() else {
                    continue;
                };
                if o.schema_type != SchemaType::Type(Type::String) {
                    continue;
                }
                if is_time(&p.name) {
                    o.format = Some(SchemaFormat::KnownFormat(KnownFormat::DateTime));
                }
                if let Some(n) = table
                    .iter()
                    .find(|n| n.owner == "query" && n.field == p.name)
                {
                    o.enum_values =
                        Some(n.values.iter().map(|v| Value::from(v.as_str())).collect());
                }
            }
        }
    }
}

/// The operation ids of a document, to check they are unique (a test does).
pub fn operation_ids(openapi: &mut OpenApi) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for (_, op) in operations(openapi) {
        *seen
            .entry(op.operation_id.clone().unwrap_or_default())
            .or_insert(0) += 1;
    }
    seen
}
