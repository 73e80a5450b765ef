//! The test application and its helpers (`tokend_test_support`), as the browser tests name
//! them.

pub use tokend_test_support::{
    spawn_app, spawn_app_with, TestApp, ADMIN_EMAIL, ADMIN_PASSWORD, PASSWORD,
};
