//! Who is calling and with what rights: credentials, sessions, passwords, the hot path (its
//! in-memory structures live in `state::index`).

pub mod client_ip;
pub mod extract;
pub mod forward;
pub mod limits;
pub mod node;
pub mod oidc;
pub mod reauth;
pub mod session;
