//! HTTP tests against a spawned server (one binary).

#[path = "../common/spawn.rs"]
mod spawn;

mod auth;
mod beyond;
mod errors;
mod hardening;
mod helpers;
mod kit;
mod legacy;
mod lifecycle;
mod listing;
mod matrix;
mod matrix_bounds;
mod model;
mod nodes;
mod privacy;
mod security;
mod sessions;
mod smoke;
mod tokens;
mod users;
mod visibility;
