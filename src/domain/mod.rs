//! Pure types that carry the rules of permissions and token values: no I/O here.

pub mod authz;
pub mod limits;
pub mod listing;
pub mod model;
pub mod names;
pub mod permissions;
pub mod roles;
pub mod secret;
pub mod time;
pub mod token_value;
