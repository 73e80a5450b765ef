//! The web console (SPEC §6): server-rendered pages over the same service functions.

use actix_web::web;

pub fn configure(_cfg: &mut web::ServiceConfig) {}
