//! Revocation, the audit log, webhook deliveries and maintenance reports.

use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{into_service, schema_of};
use crate::service::{audit, lifecycle, revoke, webhooks};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// Up to 100 token values found leaked.
    pub values: Vec<String>,
}

into_service!(RevokeRequest => revoke::RevokeRequest { values });

schema_of!(revoke::RevokeAccepted =>
    struct RevokeAccepted {
        /// Well-formed values accepted for processing (whether or not they matched a token).
        accepted: usize,
    }
);

schema_of!(webhooks::DeliveryView =>
    /// A delivery as administrators see it.
    struct DeliveryView {
        id: i64,
        event_id: String,
        event_type: String,
        token_id: Option<i64>,
        attempts: i64,
        delivered_at: Option<String>,
        next_attempt_at: Option<String>,
        last_error: Option<String>,
        created_at: String,
    }
);

schema_of!(audit::AuditView =>
    struct AuditView {
        id: i64,
        action: String,
        company_id: Option<i64>,
        actor_id: Option<i64>,
        actor_email: Option<String>,
        token_id: Option<i64>,
        user_id: Option<i64>,
        ip: Option<String>,
        #[schema(value_type = Object)]
        details: Value,
        created_at: String,
        /// The credential kind behind the event (rule 27).
        via: String,
        credential_id: Option<i64>,
        on_behalf_of: Option<i64>,
    }
);

schema_of!(lifecycle::ReconcileReport =>
    /// What the reconcile job repaired.
    struct ReconcileReport {
        /// Enabled tokens of disabled owners, now disabled.
        owner_disabled: usize,
        /// Enabled tokens of SSO owners, now disabled.
        owner_sso: usize,
        /// Tokens wider than their owner, now trimmed.
        trimmed: usize,
        /// Rotation grace periods that had ended, now cleared.
        grace_ended: usize,
    }
);

schema_of!(crate::jobs::MaintenanceReport =>
    /// What one run of every job did.
    struct MaintenanceReport {
        /// Tokens marked disabled because they expired.
        expire: usize,
        /// Tokens disabled because they were idle for the company's `idle_disable_days`.
        idle: usize,
        /// Disabled tokens deleted after the retention period.
        purge: usize,
        reconcile: lifecycle::ReconcileReport,
        /// Tokens whose buffered last-use data was written.
        flush: usize,
        /// Expired console sessions removed.
        sessions: usize,
        /// `token.expiring` warnings queued.
        warnings: usize,
        /// Webhook deliveries that succeeded.
        webhooks_delivered: usize,
        /// Webhook deliveries that failed (retried later with backoff).
        webhooks_failed: usize,
    }
);
