//! The command line as a user runs it: the real binary as a process, on temp
//! databases, with a clean environment. One test binary, one module per topic.

mod backup;
mod bootstrap;
mod config;
mod first_hour;
mod legacy;
mod maintenance;
mod migrate;
mod postgres;
mod readme;
mod scan;
mod secrets;
mod support;
mod users_tokens;
