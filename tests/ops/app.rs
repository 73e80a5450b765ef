//! An in-process tokend (`Application::build`, as production starts it) on a temp database,
//! for tests that need the clock or the metrics registry, with the scheduler out of the way.

use tokend::config::Config;

pub use tokend_test_support::{snapshot, TestApp};

/// Spawns an app after `tweak` adjusts its configuration. The scheduler's intervals are long
/// so that nothing changes behind a test's back.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    tokend_test_support::spawn_app_with(|config| {
        let hour = std::time::Duration::from_secs(3600);
        config.expiry_interval = hour;
        config.purge_interval = hour;
        config.reconcile_interval = hour;
        config.flush_interval = hour;
        tweak(config);
    })
    .await
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}
