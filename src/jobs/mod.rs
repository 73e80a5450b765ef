//! The background scheduler. Each job is a plain function of the state and `now`; this
//! module only wires them into clokwerk. `POST /v1/maintenance/run` and
//! `tokend maintenance run` call `run_all`, the same functions.

use std::sync::Arc;
use std::time::Duration;

use clokwerk::{Interval, Scheduler, TimeUnits};
use serde::Serialize;

pub mod sync;
pub mod webhooks;

use crate::service::lifecycle::{self, ReconcileReport};
use crate::service::Result as ApiResult;
use crate::service::{flush, sessions};
use crate::state::AppState;

/// What one run of every job did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct MaintenanceReport {
    /// Tokens marked disabled because they expired.
    pub expire: usize,
    /// Tokens disabled because they were idle for the company's `idle_disable_days`.
    pub idle: usize,
    /// Disabled tokens deleted after the retention period.
    pub purge: usize,
    pub reconcile: ReconcileReport,
    /// Tokens whose buffered last-use data was written.
    pub flush: usize,
    /// Expired console sessions removed.
    pub sessions: usize,
    /// `token.expiring` warnings queued.
    pub warnings: usize,
    /// Webhook deliveries that succeeded.
    pub webhooks_delivered: usize,
    /// Webhook deliveries that failed (retried later with backoff).
    pub webhooks_failed: usize,
}

const PURGE_BATCH: usize = 1000;

fn count(state: &AppState, job: &str, n: usize) {
    state.metrics.job_runs.with_label_values(&[job]).inc();
    state
        .metrics
        .job_changes
        .with_label_values(&[job])
        .inc_by(n as u64);
}

pub fn expire(state: &AppState) -> ApiResult<usize> {
    let now = state.now_ms();
    let n = state.write_blocking(|tx| lifecycle::expire(tx, now))?;
    count(state, "expire", n);
    Ok(n)
}

pub fn idle(state: &AppState) -> ApiResult<usize> {
    let now = state.now_ms();
    let n = state.write_blocking(|tx| lifecycle::disable_idle(tx, now))?;
    count(state, "idle", n);
    Ok(n)
}

/// Purges in batches, one short transaction each, so the hot path never waits long.
pub fn purge(state: &AppState) -> ApiResult<usize> {
    let now = state.now_ms();
    let retention = state.config.disabled_retention.as_millis() as i64;
    let mut total = 0;
    loop {
        let n =
            state.write_blocking(|tx| lifecycle::purge_batch(tx, now, retention, PURGE_BATCH))?;
        total += n;
        if n < PURGE_BATCH {
            break;
        }
    }
    // Hourly usage roll-ups older than 90 days (and those of deleted tokens).
    state.write_blocking(|tx| crate::service::tokens::purge_usage(tx, now))?;
    count(state, "purge", total);
    Ok(total)
}

pub fn reconcile(state: &AppState) -> ApiResult<ReconcileReport> {
    let now = state.now_ms();
    let r = state.write_blocking(|tx| lifecycle::reconcile(tx, now))?;
    count(
        state,
        "reconcile",
        r.owner_disabled + r.owner_sso + r.trimmed + r.grace_ended,
    );
    Ok(r)
}

/// Writes buffered last-use data in one transaction, and the aggregate audit events of failed
/// sign-ins of the minutes that have ended (rule 41; per replica, like the usage buffer).
pub fn flush(state: &AppState) -> ApiResult<usize> {
    crate::auth::session::write_failure_aggregates(state, false)?;
    flush_limits(state)?;
    let pending = state.usage.drain();
    if pending.is_empty() {
        return Ok(0);
    }
    let n = pending.len();
    state.write_blocking(|tx| flush::record_uses(tx, &pending))?;
    count(state, "flush", n);
    Ok(n)
}

/// Writes the `day`/`month` quota counts of this replica and its hourly usage counts, and
/// takes back the stored quota counts (which include other replicas' uses).
pub fn flush_limits(state: &AppState) -> ApiResult<()> {
    let quotas = state.limiters.drain();
    let usage = state.limiters.drain_usage();
    if quotas.is_empty() && usage.is_empty() {
        return Ok(());
    }
    let stored = state.write_blocking(|tx| flush::record_limits(tx, &quotas, &usage))?;
    for (id, reset_at, window, used) in stored {
        state.limiters.stored(id, reset_at, window, used);
    }
    Ok(())
}

pub fn sessions(state: &AppState) -> ApiResult<usize> {
    let now = state.now_ms();
    state.write_blocking(|tx| sessions::end_expired(tx, now))
}

/// Queues `token.expiring` warnings.
pub fn warnings(state: &AppState) -> ApiResult<usize> {
    let now = state.now_ms();
    let n = state.write_blocking(|tx| crate::service::webhooks::warn_expiring(tx, now))?;
    count(state, "warnings", n);
    Ok(n)
}

/// Attempts due webhook deliveries within one 5 s budget (rule 33).
pub fn deliver(state: &AppState) -> ApiResult<(usize, usize)> {
    let (ok, failed) = webhooks::deliver_due(state, webhooks::RUN_BUDGET)?;
    count(state, "webhooks", ok);
    Ok((ok, failed))
}

pub fn run_all(state: &AppState) -> ApiResult<MaintenanceReport> {
    let mut r = MaintenanceReport {
        flush: flush(state)?,
        expire: expire(state)?,
        idle: idle(state)?,
        reconcile: reconcile(state)?,
        purge: purge(state)?,
        sessions: sessions(state)?,
        warnings: warnings(state)?,
        ..MaintenanceReport::default()
    };
    (r.webhooks_delivered, r.webhooks_failed) = deliver(state)?;
    Ok(r)
}

fn every(d: Duration) -> Interval {
    (d.as_secs().max(1) as u32).seconds()
}

/// Runs scheduled jobs unless another replica is running them right now (it does the work;
/// this one tries again at its next tick). The last-use flush is not among them: each
/// replica writes its own buffer.
fn on_one_replica(state: &AppState, name: &str, jobs: impl FnOnce()) {
    log_err(
        name,
        state.once(name, || {
            jobs();
            Ok(())
        }),
    );
}

pub(crate) fn log_err<T>(job: &str, r: ApiResult<T>) {
    if let Err(e) = r {
        tracing::error!(job, error = %e, "scheduled job failed");
    }
}

/// The running scheduler threads; they stop when this is dropped.
pub struct Running {
    _jobs: clokwerk::ScheduleHandle,
    _webhooks: clokwerk::ScheduleHandle,
    _sync: sync::Watch,
}

/// Starts the scheduler threads: one for the jobs, one for webhook deliveries, so a slow
/// webhook target never delays expiry or purge (rule 33).
pub fn start(state: Arc<AppState>) -> Running {
    let c = state.config.clone();
    let mut hooks = Scheduler::new();
    let st = state.clone();
    hooks
        .every(every(c.expiry_interval))
        .run(move || log_err("webhooks", deliver(&st)));
    let mut s = Scheduler::new();
    let st = state.clone();
    s.every(every(c.expiry_interval)).run(move || {
        on_one_replica(&st, "expiry", || {
            log_err("expire", expire(&st));
            log_err("idle", idle(&st));
            log_err("warnings", warnings(&st));
        })
    });
    let st = state.clone();
    s.every(every(c.purge_interval))
        .run(move || on_one_replica(&st, "purge", || log_err("purge", purge(&st))));
    let st = state.clone();
    s.every(every(c.reconcile_interval)).run(move || {
        on_one_replica(&st, "reconcile", || {
            log_err("reconcile", reconcile(&st));
            log_err("sessions", sessions(&st));
        })
    });
    let st = state.clone();
    s.every(every(c.flush_interval))
        .run(move || log_err("flush", flush(&st)));
    Running {
        _jobs: s.watch_thread(Duration::from_millis(200)),
        _webhooks: hooks.watch_thread(Duration::from_millis(200)),
        _sync: sync::Watch::start(state),
    }
}
