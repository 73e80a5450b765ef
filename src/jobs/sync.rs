//! Keeping this process's authentication filter and cache in step with writes made
//! elsewhere: by the command line against the same SQLite file, or by other replicas on the
//! same PostgreSQL database.
//!
//! - SQLite: the write epoch (a counter the CLI bumps) is read every [`SYNC_EVERY`]; a change
//!   reloads the filter. One tiny read; no table read on the request path.
//! - PostgreSQL: a listener hears every replica's announcement (`NOTIFY`) and applies it at
//!   once. On (re)connecting it reloads everything, since announcements made while it was
//!   away are lost. As a backstop the epoch is read every [`BACKSTOP_EVERY`]: an epoch the
//!   listener has not reached within one more period reloads everything.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::log_err;
use crate::service::status;
use crate::service::Result as ApiResult;
use crate::state::AppState;

/// How often an SQLite server looks for writes made by the command line. A value it creates
/// works at once anyway: an unknown value makes the server look first (`AppState::catch_up`).
pub const SYNC_EVERY: Duration = Duration::from_millis(50);

/// How often a PostgreSQL replica checks that it has heard every announcement.
pub const BACKSTOP_EVERY: Duration = Duration::from_secs(1);

/// How long the listener waits for an announcement before looking at its stop flag.
const LISTEN_SLICE: Duration = Duration::from_millis(250);

/// The threads that watch for outside writes, apart from the jobs so a long purge never
/// delays them. Dropping this stops them and waits for them.
pub struct Watch {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Watch {
    pub fn start(state: Arc<AppState>) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let spawn = |name: &str, body: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(body)
                .expect("a sync thread starts")
        };
        if state.hears_announcements() {
            let (st, flag) = (state.clone(), stop.clone());
            threads.push(spawn(
                "tokend-listen",
                Box::new(move || st.listen_for_changes(&flag, LISTEN_SLICE)),
            ));
            let (st, flag) = (state, stop.clone());
            threads.push(spawn(
                "tokend-backstop",
                Box::new(move || {
                    let mut behind = None;
                    while !flag.load(Ordering::Relaxed) {
                        std::thread::sleep(BACKSTOP_EVERY);
                        log_err("backstop", backstop(&st, &mut behind));
                    }
                }),
            ));
        } else {
            let (st, flag) = (state.clone(), stop.clone());
            threads.push(spawn(
                "tokend-sync",
                Box::new(move || {
                    while !flag.load(Ordering::Relaxed) {
                        std::thread::sleep(SYNC_EVERY);
                        log_err("sync", sync_external(&st));
                    }
                }),
            ));
        }
        Watch { stop, threads }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// SQLite: notices writes made by another process (the CLI) and refreshes the index.
pub fn sync_external(state: &AppState) -> ApiResult<bool> {
    state.sync_external()
}

/// PostgreSQL: reloads when an epoch seen at the previous check has still not been heard.
fn backstop(state: &AppState, behind: &mut Option<i64>) -> ApiResult<()> {
    let epoch = state.read_blocking(status::epoch)?;
    let seen = *state.seen_epoch.lock();
    if behind.is_some_and(|missed| seen < missed) {
        tracing::warn!(seen, epoch, "announcements were missed; reloading");
        *behind = None;
        return state.resync();
    }
    *behind = (epoch > seen).then_some(epoch);
    Ok(())
}
