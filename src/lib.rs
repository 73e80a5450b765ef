//! tokend: a self-hosted API token service. See docs/RULES.md for the rules it enforces and
//! docs/ARCHITECTURE.md for how the modules fit together.
#![forbid(unsafe_code)]

pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod error;
pub mod jobs;
pub mod routes;
pub mod service;
pub mod startup;
pub mod state;
pub mod telemetry;
