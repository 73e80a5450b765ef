//! HTTP tests against a spawned server (one binary).

/// The test harness (`tests/common`), by the name the API tests import it with.
use tokend_test_support as helpers;

mod auth;
mod bursts;
mod errors;
mod escalation;
mod first_hour;
mod first_hour_errors;
mod first_hour_list;
mod hardening;
mod inputs;
mod legacy;
mod lifecycle;
mod limits;
mod limits_usage;
mod listing;
mod matrix;
mod matrix_bounds;
mod model;
mod nodes;
mod power;
mod privacy;
mod reauth;
mod rotation_webhooks;
mod routes_table;
mod scopes;
mod scopes_guide;
mod security;
mod sessions;
mod smoke;
mod tokens;
mod users;
mod visibility;
