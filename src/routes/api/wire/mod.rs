//! The API's wire types: what a request body may hold (`Deserialize` + `ToSchema`, converted
//! into the service's own input type) and the OpenAPI schema of what the services answer.
//!
//! Answers are serialized from the services' own view types (they keep `Serialize`: the CLI
//! prints them too). Their schema comes from a twin declared here with [`schema_of!`], which
//! (1) derives `ToSchema` for the twin and lends it to the service type, so
//! `body = TokenView` documents the type the handler really returns, and (2) converts the
//! service value into the twin field by field, so a field added, removed, renamed or retyped
//! on either side fails to compile. The serde attributes (`skip_serializing_if`, `flatten`,
//! `rename_all`) are copied; `tests` checks that a sample serializes the same through both.

pub mod companies;
pub mod domain;
pub mod nodes;
pub mod scopes;
pub mod system;
pub mod tokens;
pub mod users;

use chrono::{DateTime, Utc};

use crate::domain::time::parse_time;

/// Declares the schema twin of a service type: `schema_of!(path::Svc => struct Name { … })`
/// or `… => enum Name { … }`, fields and variants exactly as the service declares them.
macro_rules! schema_of {
    ($svc:ty => $(#[$m:meta])* struct $name:ident {
        $( $(#[$fm:meta])* $f:ident : $t:ty ),* $(,)?
    }) => {
        #[derive(serde::Serialize, utoipa::ToSchema)]
        $(#[$m])*
        pub struct $name { $( $(#[$fm])* pub $f: $t ),* }

        impl From<$svc> for $name {
            fn from(v: $svc) -> Self {
                type Svc = $svc;
                let Svc { $($f),* } = v;
                $name { $($f),* }
            }
        }

        $crate::routes::api::wire::lend_schema!($svc => $name);
    };
    ($svc:ty => $(#[$m:meta])* enum $name:ident {
        $( $(#[$vm:meta])* $v:ident ),* $(,)?
    }) => {
        #[derive(serde::Serialize, utoipa::ToSchema)]
        $(#[$m])*
        pub enum $name { $( $(#[$vm])* $v ),* }

        impl From<$svc> for $name {
            fn from(v: $svc) -> Self {
                type Svc = $svc;
                match v { $( Svc::$v => $name::$v ),* }
            }
        }

        $crate::routes::api::wire::lend_schema!($svc => $name);
    };
}

/// `ToSchema` for a service type: the twin's schema, under the same name.
macro_rules! lend_schema {
    ($svc:ty => $name:ident) => {
        impl utoipa::PartialSchema for $svc {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                <$name as utoipa::PartialSchema>::schema()
            }
        }

        impl utoipa::ToSchema for $svc {
            fn name() -> std::borrow::Cow<'static, str> {
                <$name as utoipa::ToSchema>::name()
            }

            fn schemas(
                schemas: &mut Vec<(
                    String,
                    utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
                )>,
            ) {
                <$name as utoipa::ToSchema>::schemas(schemas)
            }
        }
    };
}

/// `From<wire::Name> for service::Name`, field by field: a field missing on either side fails
/// to compile.
macro_rules! into_service {
    ($name:ident => $svc:ty { $($f:ident),* $(,)? }) => {
        impl From<$name> for $svc {
            fn from(w: $name) -> Self {
                type Svc = $svc;
                let $name { $($f),* } = w;
                Svc { $($f),* }
            }
        }
    };
}

pub(crate) use into_service;
pub(crate) use lend_schema;
pub(crate) use schema_of;

/// serde helper: `Some(value)` for a field that is present, `null` included (`Some(None)`).
pub(crate) fn patch<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// serde helper: a field that must be refused whenever it is present, whatever its value.
pub(crate) fn de_present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    <serde::de::IgnoredAny as serde::Deserialize>::deserialize(d).map(|_| true)
}

/// A JSON value that was present in the body (`null` included): `Some(Value::Null)` for an
/// explicit `null`, `None` when the key is absent.
pub(crate) fn de_present_value<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<serde_json::Value>, D::Error> {
    <serde_json::Value as serde::Deserialize>::deserialize(d).map(Some)
}

/// Deserialises an optional time in either accepted format.
pub(crate) fn de_opt_time<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    let s = <Option<String> as serde::Deserialize>::deserialize(d)?;
    s.map(|s| parse_time(&s).map_err(serde::de::Error::custom))
        .transpose()
}

/// For PATCH bodies: absent → `None`, `null` → `Some(None)`, a time → `Some(Some(t))`.
pub(crate) fn de_patch_time<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<DateTime<Utc>>>, D::Error> {
    de_opt_time(d).map(Some)
}

#[cfg(test)]
mod tests;
