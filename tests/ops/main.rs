//! Operations and reliability: graceful shutdown, Prometheus metrics, a real nginx
//! in front, kill -9 durability, input fuzzing, schemathesis, and in-place upgrades. One test
//! binary, one module per topic; heavy loops are bounded (see each module).

mod app;
mod caddy;
mod durability;
mod fuzz;
mod metrics;
mod openapi_client;
mod proxy;
mod schemathesis;
mod shutdown;
mod upgrade;
mod upgrade_scopes;
mod upstream;
