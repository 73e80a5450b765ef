//! Pure types that carry the rules of permissions and token values: no I/O here.

pub mod authz;
pub mod caller;
pub mod limits;
pub mod listing;
pub mod names;
pub mod permissions;
pub mod roles;
pub mod secret;
pub mod time;
pub mod token;
pub mod token_value;
pub mod user;
