//! Browser tests of the web console: a real headless Chromium, driven through
//! ChromeDriver by visible labels, against a tokend spawned in-process. One test binary;
//! each test starts its own server and browser.

mod app;
mod browser;

mod admin;
mod first_hour;
mod first_hour_http;
mod first_hour_layout;
mod fuzz;
mod http;
mod limits;
mod list;
mod login;
mod nodes;
mod nojs;
mod oidc;
mod oidc_kit;
mod parity;
mod picker;
mod privacy;
mod reauth;
mod rotation_webhooks;
mod scopes;
mod screenshots;
mod tokens;
