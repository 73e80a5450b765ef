//! The one harness of tokend's test binaries (api, console, ops, cli, scale), a library so it
//! compiles once and each binary uses what it needs:
//! - [`app`]: a real tokend started in-process ([`spawn_app`]) and what tests do with it;
//! - [`http`]: the one HTTP call helper ([`Api::call`]), for in-process apps and processes;
//! - [`hooks`]: a local webhook receiver ([`webhook_receiver`]);
//! - [`proc`]: the `tokend` binary run as a process (commands and servers);
//! - [`pg`]: throwaway PostgreSQL clusters;
//! - [`store`]: looking at what is stored; [`spec`]: expected values written independently of
//!   the code under test.

pub mod app;
pub mod hooks;
pub mod http;
pub mod pg;
pub mod proc;
mod requests;
mod setup;
pub mod spec;
pub mod store;

pub use app::*;
pub use hooks::*;
pub use http::*;
pub use setup::*;
pub use spec::*;
pub use store::*;
